/**
 * Reading files that a hostile object or request names (line_info source paths, objects
 * under the workspace globs, document requests): only regular files, within a size limit,
 * never blocking. `stat` before `open` is not enough: a device or FIFO reports size 0, and
 * opening a FIFO without O_NONBLOCK waits for a writer forever; so the file is opened
 * non-blocking and checked with fstat on the descriptor that is then read.
 */
import { closeSync, constants, fstatSync, openSync, promises as fsp, readSync, type Stats } from 'fs';

/** Source files larger than this are not read (the largest kernel C file is ~1 MB). */
export const MAX_SOURCE_BYTES = 16 << 20;

export const READ_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;

function what(st: Stats): string {
  return st.isDirectory()
    ? 'a directory'
    : st.isFIFO()
      ? 'a FIFO'
      : st.isCharacterDevice()
        ? 'a character device'
        : st.isBlockDevice()
          ? 'a block device'
          : st.isSocket()
            ? 'a socket'
            : 'not a regular file';
}

export function checkRegularFile(file: string, st: Stats, maxBytes: number): void {
  if (!st.isFile()) throw Object.assign(new Error(`${file}: ${what(st)}, not a regular file`), { code: 'ENOTREG' });
  if (st.size > maxBytes) throw Object.assign(new Error(`${file}: ${st.size} bytes, more than the ${maxBytes} allowed`), { code: 'EFBIG' });
}

/** The bytes of a regular file of at most `maxBytes`; throws for anything else. */
export function readRegularFile(file: string, maxBytes: number): Buffer {
  const fd = openSync(file, READ_FLAGS);
  try {
    const st = fstatSync(fd);
    checkRegularFile(file, st, maxBytes);
    const buf = Buffer.allocUnsafe(st.size);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, got);
      if (n === 0) break; // shrank while we read
      got += n;
    }
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/** The first `size` bytes of the file open on `fd` (fewer if it shrank while we read). */
export function readAll(fd: number, size: number): Buffer {
  const buf = Buffer.allocUnsafe(size);
  let got = 0;
  while (got < buf.length) {
    const n = readSync(fd, buf, got, buf.length - got, got);
    if (n === 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}

/** readRegularFile, without blocking the thread. */
export async function readRegularFileAsync(file: string, maxBytes: number): Promise<Buffer> {
  const fh = await fsp.open(file, READ_FLAGS);
  try {
    const st = await fh.stat();
    checkRegularFile(file, st, maxBytes);
    const buf = Buffer.allocUnsafe(st.size);
    let got = 0;
    while (got < buf.length) {
      const { bytesRead } = await fh.read(buf, got, buf.length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return buf.subarray(0, got);
  } finally {
    await fh.close();
  }
}
