// Milliseconds for measuring durations. performance.now() would do, but the first touch of the
// `performance` global loads perf_hooks (ten of node's internal modules), a few ms of a cold
// `bpf-lens load` that only wanted a clock.
const origin = process.hrtime.bigint();

/** Milliseconds since this module was loaded (differences of two calls are durations). */
export const msNow = (): number => Number(process.hrtime.bigint() - origin) / 1e6;
