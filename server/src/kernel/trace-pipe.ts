// The trace pipe (bpf_printk's output): tracefs's trace_pipe opened non-blocking (tracefs is
// mounted first when it is not), read without ever waiting.
import { constants, openSync, readSync } from 'fs';
import { tracefsRoot } from './attach-points';
import { KernelError, errnoNumber } from './errors';
import { type Fd, recordFd } from './sys';

function errnoOf(e: unknown): number {
  const code = (e as NodeJS.ErrnoException)?.code;
  try {
    return code ? errnoNumber(code) : errnoNumber('EIO');
  } catch {
    return errnoNumber('EIO');
  }
}

/** Opens <tracefs>/trace_pipe O_RDONLY|O_NONBLOCK (libuv adds O_CLOEXEC), mounting tracefs when absent. */
export function tracePipeOpen(): Fd {
  const path = `${tracefsRoot()}/trace_pipe`;
  try {
    return recordFd(openSync(path, constants.O_RDONLY | constants.O_NONBLOCK), 'open(trace_pipe)');
  } catch (e) {
    throw new KernelError('open', errnoOf(e), path);
  }
}

/** Reads what the FD has now into `buf`; 0 when nothing is ready (EAGAIN). */
export function readNonBlocking(fd: Fd, buf: Uint8Array, context = ''): number {
  for (;;) {
    try {
      return readSync(fd, buf, 0, buf.length, null);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') return 0;
      if (code === 'EINTR') continue;
      throw new KernelError('read', errnoOf(e), context);
    }
  }
}
