/**
 * The agent protocol's framing (`Content-Length: N\r\n\r\n` + N bytes of JSON), read with
 * limits. vscode-jsonrpc's StreamMessageReader rescans every buffered byte for the header
 * end on each chunk (minutes of CPU for a 128 MB stream with no header end), has no size
 * limit, and after a header without a usable Content-Length reports an error and keeps
 * listening with nothing to answer (the peer waits forever). Here: a header is at most
 * 8 KiB, a message at most `maxMessage` bytes, Content-Length must be decimal digits, and a
 * broken frame is a FramingError (fatal: the stream cannot be resynchronised) that the
 * owner answers and closes on.
 */
import type { Readable } from 'stream';
import { AbstractMessageReader, type DataCallback, Disposable, type Message } from 'vscode-jsonrpc';

export const MAX_HEADER = 8 << 10;
/** Objects travel as base64 in one message: room for a 256 MiB object and its BTF. */
export const MAX_MESSAGE = 384 << 20;

export class FramingError extends Error {
  constructor(
    message: string,
    readonly fatal: boolean,
  ) {
    super(message);
    this.name = 'FramingError';
  }
}

const HEADER_END = Buffer.from('\r\n\r\n');

export class BoundedMessageReader extends AbstractMessageReader {
  private chunks: Buffer[] = [];
  private size = 0;
  /** Body length of the message being read; -1 while reading a header. */
  private want = -1;
  private failed = false;

  constructor(
    private readonly input: Readable,
    private readonly maxMessage = MAX_MESSAGE,
  ) {
    super();
  }

  listen(callback: DataCallback): Disposable {
    const onData = (d: Buffer) => this.onData(d, callback);
    const onError = (e: Error) => this.fireError(e);
    const onClose = () => this.fireClose();
    this.input.on('data', onData);
    this.input.on('error', onError);
    this.input.on('end', onClose);
    this.input.on('close', onClose);
    return Disposable.create(() => {
      this.input.off('data', onData);
      this.input.off('error', onError);
      this.input.off('end', onClose);
      this.input.off('close', onClose);
    });
  }

  private fail(message: string): void {
    this.failed = true;
    this.chunks = [];
    this.size = 0;
    this.fireError(new FramingError(message, true));
  }

  private onData(d: Buffer, callback: DataCallback): void {
    if (this.failed) return;
    this.chunks.push(d);
    this.size += d.length;
    for (;;) {
      if (this.want < 0 && !this.readHeader()) return;
      if (this.failed || this.size < this.want) return;
      const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.size);
      const body = all.subarray(0, this.want);
      const rest = all.subarray(this.want);
      this.chunks = rest.length ? [rest] : [];
      this.size = rest.length;
      this.want = -1;
      let msg: Message;
      try {
        msg = JSON.parse(body.toString('utf8')) as Message;
      } catch (e) {
        // The frame was whole, so the next one starts right after: answer and go on.
        this.fireError(new FramingError(`a message is not JSON: ${(e as Error).message}`, false));
        continue;
      }
      if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) {
        this.fireError(new FramingError('a message is not a JSON-RPC object', false));
        continue;
      }
      callback(msg);
    }
  }

  /** Parses a complete header if one is buffered; false while more bytes are needed. */
  private readHeader(): boolean {
    const head = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.size);
    this.chunks = [head];
    // Only the first MAX_HEADER bytes can hold a valid header end.
    const end = head.subarray(0, MAX_HEADER + HEADER_END.length).indexOf(HEADER_END);
    if (end < 0) {
      if (head.length > MAX_HEADER) this.fail(`a message header is longer than ${MAX_HEADER} bytes`);
      return false;
    }
    let length: number | undefined;
    for (const line of head.subarray(0, end).toString('latin1').split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon < 0) return (this.fail(`a header line without a colon: ${JSON.stringify(line.slice(0, 80))}`), false);
      if (line.slice(0, colon).trim().toLowerCase() !== 'content-length') continue;
      const v = line.slice(colon + 1).trim();
      if (!/^\d{1,10}$/.test(v))
        return (this.fail(`Content-Length must be a decimal byte count, not ${JSON.stringify(v.slice(0, 40))}`), false);
      length = Number(v);
    }
    if (length === undefined) return (this.fail('a message header without Content-Length'), false);
    if (length > this.maxMessage) return (this.fail(`a message of ${length} bytes is over the limit of ${this.maxMessage}`), false);
    this.chunks = [head.subarray(end + HEADER_END.length)];
    this.size = this.chunks[0].length;
    this.want = length;
    return true;
  }
}
