import { type Origin, formatError } from './errors';

/**
 * Bounds-checked decoding in one byte order. Every reader of hostile bytes goes
 * through this, so a short buffer is a FormatError naming the offset, never a RangeError.
 */
export class ByteReader {
  private readonly view: DataView;

  constructor(
    readonly bytes: Uint8Array,
    readonly littleEndian: boolean,
    readonly origin: Origin,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get length(): number {
    return this.bytes.length;
  }

  /** Throws unless [off, off+len) lies inside the buffer. */
  need(off: number, len: number, what: string): void {
    if (!Number.isInteger(off) || off < 0 || len < 0 || off + len > this.bytes.length) {
      throw formatError(this.origin, off, `${what} (${len} bytes) runs past the end (${this.bytes.length} bytes)`);
    }
  }

  u8(off: number): number {
    this.need(off, 1, 'u8');
    return this.bytes[off];
  }

  u16(off: number): number {
    this.need(off, 2, 'u16');
    return this.view.getUint16(off, this.littleEndian);
  }

  u32(off: number): number {
    this.need(off, 4, 'u32');
    return this.view.getUint32(off, this.littleEndian);
  }

  i32(off: number): number {
    this.need(off, 4, 'i32');
    return this.view.getInt32(off, this.littleEndian);
  }

  u64(off: number): bigint {
    this.need(off, 8, 'u64');
    return this.view.getBigUint64(off, this.littleEndian);
  }

  i64(off: number): bigint {
    this.need(off, 8, 'i64');
    return this.view.getBigInt64(off, this.littleEndian);
  }

  /** A u64 that must fit a JS number (file offsets and sizes). */
  u64n(off: number, what: string): number {
    const v = this.u64(off);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw formatError(this.origin, off, `${what} ${v} is absurdly large`);
    return Number(v);
  }

  slice(off: number, len: number, what: string): Uint8Array {
    this.need(off, len, what);
    return this.bytes.subarray(off, off + len);
  }

  /** A reader over a sub-range that reports offsets relative to the same origin. */
  sub(off: number, len: number, what: string, section?: string): ByteReader {
    const bytes = this.slice(off, len, what);
    const origin =
      section === undefined ? { ...this.origin, base: (this.origin.base ?? 0) + off } : { file: this.origin.file, section, base: 0 };
    return new ByteReader(bytes, this.littleEndian, origin);
  }

  fail(off: number, reason: string): never {
    throw formatError(this.origin, off, reason);
  }
}

/** Little-/big-endian encoder that grows as needed. */
export class ByteWriter {
  private buf: Uint8Array;
  private view: DataView;
  private pos = 0;

  constructor(
    readonly littleEndian: boolean,
    initial = 4096,
  ) {
    this.buf = new Uint8Array(initial);
    this.view = new DataView(this.buf.buffer);
  }

  get length(): number {
    return this.pos;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v & 0xff;
  }

  u16(v: number): void {
    this.ensure(2);
    this.view.setUint16(this.pos, v, this.littleEndian);
    this.pos += 2;
  }

  u32(v: number): void {
    this.ensure(4);
    this.view.setUint32(this.pos, v >>> 0, this.littleEndian);
    this.pos += 4;
  }

  i32(v: number): void {
    this.ensure(4);
    this.view.setInt32(this.pos, v | 0, this.littleEndian);
    this.pos += 4;
  }

  u64(v: bigint | number): void {
    this.ensure(8);
    this.view.setBigUint64(this.pos, BigInt.asUintN(64, BigInt(v)), this.littleEndian);
    this.pos += 8;
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  zeros(n: number): void {
    this.ensure(n);
    this.buf.fill(0, this.pos, this.pos + n);
    this.pos += n;
  }

  /** Pads with zeros up to a multiple of `align`. */
  align(align: number): void {
    const rem = this.pos % align;
    if (align > 1 && rem !== 0) this.zeros(align - rem);
  }

  /** Overwrites a u32 already written at `off`. */
  patchU32(off: number, v: number): void {
    this.view.setUint32(off, v >>> 0, this.littleEndian);
  }

  patchU64(off: number, v: bigint | number): void {
    this.view.setBigUint64(off, BigInt.asUintN(64, BigInt(v)), this.littleEndian);
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

/** NUL-terminated string at `off` in a string table, decoded as latin1 (BTF/ELF names are bytes). */
export function cstring(r: ByteReader, off: number, what: string): string {
  if (off < 0 || off >= r.length) r.fail(off, `${what} string offset ${off} is past the end of the string table (${r.length} bytes)`);
  const end = r.bytes.indexOf(0, off);
  if (end < 0) r.fail(off, `${what} string at ${off} is not NUL-terminated`);
  return Buffer.from(r.bytes.buffer, r.bytes.byteOffset + off, end - off).toString('latin1');
}
