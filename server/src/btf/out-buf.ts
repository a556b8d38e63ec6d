/**
 * A growing byte buffer for large text outputs (dumps of vmlinux BTF run to ~12 MB).
 * Names are copied as bytes straight from BTF string sections and numbers are formatted
 * in place, so a dump allocates no per-line strings and is written out in one piece.
 * Text is latin1: one byte per character, as bpftool prints names byte for byte.
 */
export class OutBuf {
  private buf: Uint8Array;
  pos = 0;

  constructor(initial = 1 << 16) {
    this.buf = new Uint8Array(initial);
  }

  private grow(n: number): void {
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
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

  byte(c: number): void {
    if (this.pos + 1 > this.buf.length) this.grow(1);
    this.buf[this.pos++] = c;
  }

  /** An unsigned 32-bit number in decimal (`%u`). */
  u32(v: number): void {
    if (this.pos + 10 > this.buf.length) this.grow(10);
    const b = this.buf;
    if (v < 10) {
      b[this.pos++] = 48 + v;
      return;
    }
    let digits = 1;
    for (let t = v; t >= 10; t = Math.floor(t / 10)) digits++;
    let p = this.pos + digits;
    this.pos = p;
    while (v >= 10) {
      const q = Math.floor(v / 10);
      b[--p] = 48 + (v - q * 10);
      v = q;
    }
    b[--p] = 48 + v;
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

  /** Bytes `src[start, end)` inside a JSON string, escaped as bpftool's json_writer does. */
  copyJson(src: Uint8Array, start: number, end: number): void {
    for (let i = start; i < end; i++) {
      const c = src[i];
      switch (c) {
        case 9: this.lit('\\t'); break;
        case 10: this.lit('\\n'); break;
        case 13: this.lit('\\r'); break;
        case 12: this.lit('\\f'); break;
        case 8: this.lit('\\b'); break;
        case 92: this.lit('\\\\'); break;
        case 34: this.lit('\\"'); break;
        default: this.byte(c);
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
