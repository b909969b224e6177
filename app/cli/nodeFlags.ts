/**
 * Node flags the agent process runs with (bin/sluice's shebang, the daemonized start, npm start
 * and the benchmarks use these). A 1 MiB young generation keeps the short-lived garbage of the
 * hot path (read chunks, event objects, request bodies) from piling up: peak RSS shipping a
 * backlog falls by about a third at no measured CPU cost. A fixed old-generation growing factor
 * of 2 (V8 lets a small heap grow up to 4× its live size before a full collection): events wait
 * in the upload queue long enough to be promoted, and with the default factor some 25 MiB of
 * them were dead but not yet collected at a peak; about 30 MiB less peak RSS for about
 * 1 CPU-second per GiB (docs/PERFORMANCE.md). Young collections on the main thread alone: with
 * a 1 MiB young generation there are thousands per GiB shipped, each too small to share, and
 * waking V8's helper threads for every one cost more than it saved (two cores: about 0.6 CPU-s/GiB
 * less in the helpers, 3-4 % more throughput, same peak memory; docs/PERFORMANCE.md, pass 6).
 * V8 reads these at startup only; they cannot be set from inside the process.
 */
export const AGENT_NODE_FLAGS = ['--max-semi-space-size=1', '--heap-growing-percent=100', '--no-parallel-scavenge'];

/**
 * Environment the agent process starts with (same places as the flags). glibc's malloc serves
 * blocks of 64 KiB and more (a file read, a compressed request) with their own mmap, so their
 * memory returns to the system when freed instead of staying in the heap behind smaller blocks;
 * without a fixed threshold glibc raises it after the first large free and stops doing so.
 * About 15 MiB less peak RSS shipping a backlog, no measured CPU cost (docs/PERFORMANCE.md).
 * Other C libraries ignore it.
 */
export const AGENT_ENV: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: '65536' };
