/**
 * Node flags the agent process runs with (bin/sluice's shebang, the daemonized start, npm start
 * and the benchmarks use these). A 1 MiB young generation keeps the short-lived garbage of the
 * hot path (read chunks, event objects, request bodies) from piling up: peak RSS shipping a
 * backlog falls by about a third at no measured CPU cost (docs/PERFORMANCE.md). V8 reads these
 * at startup only; they cannot be set from inside the process.
 */
export const AGENT_NODE_FLAGS = ['--max-semi-space-size=1'];
