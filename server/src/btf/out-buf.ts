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

/**
 * A growing byte buffer for large text outputs (dumps of vmlinux BTF run to ~12 MB), written
 * out in one piece. Text is latin1: one byte per character, as bpftool prints names byte for
 * byte. Writers either hand it whole strings (latin1(): the raw dump, a type at a time) or
 * bytes: names copied straight from BTF string sections and numbers formatted in place (the
 * JSON dump, with no per-line strings).
 *
 * With a sink, the buffer is handed over whenever it is full and then written over, so
 * memory stays bounded (hostile BTF whose dump is huge, one long name behind 65535 members,
 * streams) and a big dump touches only the buffer's pages.
 */
export class OutBuf {
  // A Buffer from allocUnsafe: a 12 MB output need not be zeroed first.
  private buf: Buffer;
  pos = 0;

  constructor(
    initial = 1 << 16,
    private readonly sink?: ChunkSink,
  ) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  /** Hands what is written so far to the sink (if any) and starts over in the same buffer. */
  flush(): void {
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

  /** An ASCII literal. */
  lit(s: string): void {
    const n = s.length;
    if (this.pos + n > this.buf.length) this.grow(n);
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) b[p++] = s.charCodeAt(i);
    this.pos = p;
  }

  /** Short pre-encoded bytes. */
  raw(src: Uint8Array): void {
    const n = src.length;
    if (this.pos + n > this.buf.length) this.grow(n);
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) b[p++] = src[i];
    this.pos = p;
  }

  /** A string of one byte per character (latin1), written by one native call. */
  latin1(s: string): void {
    if (this.pos + s.length > this.buf.length) this.grow(s.length);
    this.pos += this.buf.write(s, this.pos, 'latin1');
  }

  byte(c: number): void {
    if (this.pos + 1 > this.buf.length) this.grow(1);
    this.buf[this.pos++] = c;
  }

  /** An unsigned 32-bit number in decimal (`%u`). */
  u32(v: number): void {
    if (this.pos + 10 > this.buf.length) this.grow(10);
    const b = this.buf;
    const digits =
      v < 10
        ? 1
        : v < 100
          ? 2
          : v < 1000
            ? 3
            : v < 10000
              ? 4
              : v < 100000
                ? 5
                : v < 1000000
                  ? 6
                  : v < 10000000
                    ? 7
                    : v < 100000000
                      ? 8
                      : v < 1000000000
                        ? 9
                        : 10;
    let p = this.pos + digits;
    this.pos = p;
    do {
      const q = (v / 10) >>> 0;
      b[--p] = 48 + v - q * 10;
      v = q;
    } while (v > 0);
  }

  /** A signed 32-bit number in decimal (`%d`). */
  i32(v: number): void {
    if (v < 0) {
      this.byte(45);
      this.u32(-v);
    } else {
      this.u32(v);
    }
  }

  /** Any decimal number or bigint (rare paths: 64-bit enum values). */
  num(v: number | bigint): void {
    this.lit(v.toString());
  }

  /** Bytes `src[start, end)` as they are. */
  copy(src: Uint8Array, start: number, end: number): void {
    const n = end - start;
    if (this.pos + n > this.buf.length) this.grow(n);
    const b = this.buf;
    let p = this.pos;
    if (n > 32) {
      b.set(src.subarray(start, end), p);
      p += n;
    } else {
      for (let i = start; i < end; i++) b[p++] = src[i];
    }
    this.pos = p;
  }

  /** The NUL-terminated bytes at `src[start]` (up to the end of `src` without a NUL). */
  cstr(src: Uint8Array, start: number): void {
    const n = src.length;
    // Most names are short: copy as we scan, with room reserved for 64 bytes at a time.
    for (let i = start; ;) {
      if (this.pos + 64 > this.buf.length) this.grow(64);
      const b = this.buf;
      let p = this.pos;
      const stop = Math.min(n, i + 64);
      while (i < stop) {
        const c = src[i];
        if (c === 0) {
          this.pos = p;
          return;
        }
        b[p++] = c;
        i++;
      }
      this.pos = p;
      if (i >= n) return;
    }
  }

  /** Like cstr(), escaped for a JSON string as copyJson() does. */
  cstrJson(src: Uint8Array, start: number): void {
    const n = src.length;
    for (let i = start; ;) {
      if (this.pos + 64 > this.buf.length) this.grow(64);
      let b = this.buf;
      let p = this.pos;
      const stop = Math.min(n, i + 32);
      while (i < stop) {
        const c = src[i];
        if (c === 0) {
          this.pos = p;
          return;
        }
        if (c < 14 || c === 34 || c === 92) {
          this.pos = p;
          this.copyJson(src, i, i + 1);
          b = this.buf;
          p = this.pos;
        } else {
          b[p++] = c;
        }
        i++;
      }
      this.pos = p;
      if (i >= n) return;
    }
  }

  /** Bytes `src[start, end)` inside a JSON string, escaped as bpftool's json_writer does. */
  copyJson(src: Uint8Array, start: number, end: number): void {
    for (let i = start; i < end; i++) {
      const c = src[i];
      switch (c) {
        case 9:
          this.lit('\\t');
          break;
        case 10:
          this.lit('\\n');
          break;
        case 13:
          this.lit('\\r');
          break;
        case 12:
          this.lit('\\f');
          break;
        case 8:
          this.lit('\\b');
          break;
        case 92:
          this.lit('\\\\');
          break;
        case 34:
          this.lit('\\"');
          break;
        default:
          this.byte(c);
      }
    }
  }

  /** The bytes written so far (a view; valid until the next write). */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }

  /** The text written so far, one character per byte. */
  text(): string {
    return Buffer.from(this.buf.buffer, this.buf.byteOffset, this.pos).toString('latin1');
  }
}
