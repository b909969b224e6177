#!/bin/sh
# Runs every benchmark behind docs/PERFORMANCE.md, one after another (never two at once), after a
# build. Output: one log per benchmark under $SLUICE_BENCH_DIR/logs (default
# /tmp/sluice-bench/logs) and one JSON line per benchmark in $SLUICE_BENCH_DIR/results.jsonl.
# Needs taskset (util-linux); the side-by-side part needs syslog-ng-core + syslog-ng-mod-http.
# Takes about 35 minutes on 2 cores. SIZE (MiB) and RUNS override the defaults.
set -u
cd "$(dirname "$0")/.."
SIZE=${SIZE:-1024}
RUNS=${RUNS:-3}
OUT=${SLUICE_BENCH_DIR:-/tmp/sluice-bench}/logs
mkdir -p "$OUT"
npm run build --silent || exit 1
run() {
  name=$1; shift
  echo "== $name: $*" | tee -a "$OUT/all.log"
  node "$@" 2>&1 | tee "$OUT/$name.log" | tail -4 | tee -a "$OUT/all.log"
}
run stages-embedded dist/bench/stages.js --size 256 --runs "$RUNS" --sink embedded --cpus 0
run stages-null     dist/bench/stages.js --size 256 --runs "$RUNS" --sink null --cpus 0
run logpath-1core   dist/bench/logpath.js --size "$SIZE" --runs "$RUNS" --cpus 0
run logpath-2core   dist/bench/logpath.js --size "$SIZE" --runs "$RUNS" --cpus 0,1
run logpath-plain   dist/bench/logpath.js --size "$SIZE" --runs "$RUNS" --cpus 0 --plain
run backlog-rss     dist/bench/memory.js backlog --size "$SIZE" --runs 1
run sidebyside      dist/bench/sidebyside.js --size "$SIZE" --runs "$RUNS" --cpus 0
run outage          dist/bench/memory.js outage --outage 60 --rate 2 --runs "$RUNS"
run idle            dist/bench/idle.js --files 1000 --secs 60 --runs "$RUNS"
for i in $(seq 1 "$RUNS"); do run "reload-$i" dist/bench/reload.js --edits 10; done
rm -rf "$OUT/prof-1core" "$OUT/prof-2core"
run profile-1core   dist/bench/logpath.js --size "$SIZE" --runs 1 --cpus 0 --cpu-prof "$OUT/prof-1core"
run profile-2core   dist/bench/logpath.js --size "$SIZE" --runs 1 --cpus 0,1 --cpu-prof "$OUT/prof-2core"
node dist/bench/profile.js "$OUT/prof-1core" --top 30 > "$OUT/profile-1core-top.txt"
node dist/bench/profile.js "$OUT/prof-2core" --top 30 > "$OUT/profile-2core-top.txt"
echo "done; see $OUT"
