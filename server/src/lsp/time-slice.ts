/**
 * Long work on the server thread (a scan, a walk) runs in short slices: between them the event
 * loop answers what came in, so a request waits for one slice, not for the whole work.
 */

/** How long work runs before it lets requests in. */
export const SLICE_MS = 4;

/** Lets the event loop run what is pending (setImmediate: after I/O, so a request is read). */
export const yieldNow = (): Promise<void> => new Promise<void>((r) => setImmediate(r));

/** Counts one slice of work: `next()` yields once SLICE_MS passed since the last yield. */
export class TimeSlice {
  private start = performance.now();

  async next(): Promise<void> {
    if (performance.now() - this.start < SLICE_MS) return;
    await yieldNow();
    this.start = performance.now();
  }
}
