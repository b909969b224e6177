#!/bin/sh
for round in 1 2 3 4; do
  for tree in /tmp/base /work/main; do
    echo "== round $round $tree logpath"; (cd $tree && node dist/bench/logpath.js --size 256 --runs 1 --cpus 0 2>&1 | grep "run 1")
  done
done
