import { writeFileSync } from 'fs';

/** The guest's second serial port (qemu-host-root.ts connects it to a file). */
const RESULT_PORT = '/dev/ttyS1';

/**
 * The end of a guest script (run inside a qemu guest by test/qemu-host-root.ts): its result as
 * one `@@JSON {...}` line on the second serial port and the console, bigints as strings; an
 * exception becomes `{ error }`.
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
  const line = `@@JSON ${JSON.stringify(out, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}\n`;
  // The guest's second serial port is a file only this line goes to (the console's line can be
  // cut by the kernel's own messages on a busy host); the console keeps a copy.
  try {
    writeFileSync(RESULT_PORT, line);
  } catch {
    // no second port: the console's copy is the result
  }
  process.stdout.write(line);
}
