/**
 * The end of a guest script (run inside a qemu guest by test/qemu-host-root.ts): its result as
 * one `@@JSON {...}` line on the console, bigints as strings; an exception becomes `{ error }`.
 */
export function writeGuestResult(run: () => unknown, opts: { onError?: (e: unknown) => object; finally?: () => void } = {}): void {
  let out: unknown;
  try {
    out = run();
  } catch (e) {
    out = { error: String((e as Error).stack ?? e), ...opts.onError?.(e) };
  } finally {
    opts.finally?.();
  }
  process.stdout.write(`@@JSON ${JSON.stringify(out, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}\n`);
}
