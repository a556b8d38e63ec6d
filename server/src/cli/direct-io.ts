// Output of a one-command process (cli/bundles/) written with write(2) straight to fd 1 and 2:
// such a process then never builds node's stdout and stderr streams (the streams stack they
// load costs a cold start 4–9 ms). Each write returns once the kernel took every byte, so
// exiting at once cuts nothing. A descriptor that answers EAGAIN (a non-blocking pipe, set so
// by whoever made it) hands that write and every later one to node's stream, which queues
// them; flush() then waits for them to drain before the process exits.
import { writeSync } from 'fs';
import { type CliIo } from './command';

interface Direct {
  write(data: string | Uint8Array): void;
  /** Calls `done` once everything written so far reached the descriptor. */
  flush(done: () => void): void;
}

function direct(fd: 1 | 2, stream: () => NodeJS.WriteStream): Direct {
  let queued: NodeJS.WriteStream | undefined;
  // a stream keeps what it queues, and callers write over their buffers (CliIo.outBytes): a copy
  const toStream = (bytes: Uint8Array): void => {
    queued ??= stream();
    queued.write(Buffer.from(bytes));
  };
  return {
    write(data) {
      const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
      if (queued) return toStream(bytes);
      for (let at = 0; at < bytes.length;) {
        try {
          at += writeSync(fd, bytes, at, bytes.length - at);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          // a reader that went away (`| head`): what it did not want is not an error
          if (code === 'EPIPE') return fd === 1 ? process.exit(0) : undefined;
          // EAGAIN, or anything else node's stream knows how to report
          return toStream(bytes.subarray(at));
        }
      }
    },
    flush(done) {
      if (queued) queued.write('', () => done());
      else done();
    },
  };
}

/** The stdout stream as startProcess sets it up: a closed pipe ends the process quietly. */
function stdout(): NodeJS.WriteStream {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
  });
  return process.stdout;
}

/** A CliIo on fds 1 and 2, and `flush` for the process's exit. */
export function directIo(): CliIo & { flush(done: () => void): void } {
  const out = direct(1, stdout);
  const err = direct(2, () => process.stderr);
  return {
    out: (text) => out.write(text),
    outBytes: (bytes) => out.write(bytes),
    err: (text) => err.write(text),
    flush: (done) => out.flush(() => err.flush(done)),
  };
}
