#!/bin/sh
# Paired: the commit before issue 16 (aaada1f, /tmp/base) and HEAD (/work/main), alternated.
for round in 1 2 3; do
  for tree in /tmp/base /work/main; do
    echo "== round $round $tree stages null"; (cd $tree && node dist/bench/stages.js --size 256 --runs 1 --sink null --cpus 0 2>&1 | tail -3)
    echo "== round $round $tree stages embedded"; (cd $tree && node dist/bench/stages.js --size 256 --runs 1 --sink embedded --cpus 0 2>&1 | tail -3)
    echo "== round $round $tree logpath"; (cd $tree && node dist/bench/logpath.js --size 256 --runs 1 --cpus 0 2>&1 | tail -3)
  done
done
