/**
 * Takes a finished chunk of output. The chunk's bytes are only valid during the call (the
 * buffer is written over next): a sink that keeps them copies them.
 */
export type ChunkSink = (chunk: Uint8Array) => void;

/**
 * Bytes a sink gets at a time. One buffer of this size is written over and over: a vmlinux
 * dump's 12–18 MB written into fresh memory cost ~4,000 page faults (~50 ms here).
 */
export const CHUNK_BYTES = 256 << 10;

/** Characters of text OutBuf joins before it copies them in (see OutBuf). */
const PENDING_CHARS = 16 << 10;

/**
 * A growing byte buffer for large text outputs (dumps of vmlinux BTF run to ~12 MB), written
 * out in one piece. Text is latin1: one byte per character, as bpftool prints names byte for
 * byte; the raw dump hands it a type's whole text at a time (the JSON dump has its own writer).
 * Texts are joined (a string concatenation) and copied in by one native call per
 * PENDING_CHARS: a call per type cost a cold dump of a small object ~0.5 ms of its ~4.5.
 *
 * With a sink, the buffer is handed over whenever it is full and then written over, so
 * memory stays bounded (hostile BTF whose dump is huge, one long name behind 65535 members,
 * streams) and a big dump touches only the buffer's pages.
 */
export class OutBuf {
  // A Buffer from allocUnsafe: a 12 MB output need not be zeroed first.
  private buf: Buffer;
  pos = 0;
  /** Text handed to latin1() and not yet copied into `buf`. */
  private pending = '';

  constructor(
    initial = 1 << 16,
    private readonly sink?: ChunkSink,
  ) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  /** Hands what is written so far to the sink (if any) and starts over in the same buffer. */
  flush(): void {
    this.copyPending();
    if (!this.sink || this.pos === 0) return;
    this.sink(this.buf.subarray(0, this.pos));
    this.pos = 0;
  }

  private grow(n: number): void {
    if (this.sink && this.pos > 0) {
      this.flush();
      if (n <= this.buf.length) return;
    }
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  /** A string of one byte per character (latin1). */
  latin1(s: string): void {
    this.pending += s;
    if (this.pending.length >= PENDING_CHARS) this.copyPending();
  }

  private copyPending(): void {
    const s = this.pending;
    if (s.length === 0) return;
    this.pending = '';
    if (this.pos + s.length > this.buf.length) this.grow(s.length);
    this.pos += this.buf.write(s, this.pos, 'latin1');
  }

  /** The bytes written so far (a view; valid until the next write). */
  bytes(): Uint8Array {
    this.copyPending();
    return this.buf.subarray(0, this.pos);
  }
}
