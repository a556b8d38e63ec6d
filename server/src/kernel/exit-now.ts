/**
 * Ending a command's process without node's teardown. After its last write a cold `bpf-lens
 * load` spends ~8 ms in node's exit: the platform's threads joined, the heap's pages unmapped
 * one by one — memory the kernel takes back at once when the process ends. Once libc is
 * loaded (the command made a bpf(2) call), `_exit` ends the process there; before that, loading
 * koffi would cost more than it saves, and node's own exit runs.
 */

let quickExit: ((status: number) => void) | undefined;

/** sys.ts offers libc's `_exit` when it loads libc. */
export function offerQuickExit(exit: (status: number) => void): void {
  quickExit = exit;
}

/** Profiles and coverage node writes in its teardown (--cpu-prof, --heap-prof, NODE_V8_COVERAGE): asked for, they keep it. */
function teardownWanted(): boolean {
  const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  return !!process.env.NODE_V8_COVERAGE || flags.some((f) => /^--(cpu|heap)-prof/.test(f));
}

/**
 * process.exit(code), whose 'exit' listeners all run (the code cache is written there), then
 * `_exit` when libc is loaded. Only once the output is written: nothing buffered survives.
 */
export function exitAfterListeners(code: number): void {
  const exit = teardownWanted() ? undefined : quickExit;
  // registered last, it runs after every listener registered before it
  if (exit) process.once('exit', () => exit(code));
  process.exit(code);
}
