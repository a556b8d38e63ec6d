import { IndexCorruptError, type RawTypes } from './raw';

/** Where the bytes of string offsets live: this blob's strings, then its bases' (split BTF). */
export interface StringBlobs {
  /** [startStrOff, strings] of this blob and each base, outermost first. */
  readonly blobs: readonly { readonly start: number; readonly bytes: Uint8Array }[];
}

/** A NameHash's own arrays: bucket heads (a power of two of them), chain links, flavor indexes. */
export interface NameHashTables {
  readonly heads: Int32Array;
  readonly next: Int32Array;
  readonly triple: readonly number[];
}

const HOST_LE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * The type names of one parsed blob, indexed by a hash of their bytes in the string
 * section: built without decoding a single name to a JS string (vmlinux's 126k types in
 * ~5 ms where a Map of decoded names takes ~20 ms), which is what a CO-RE load needs when
 * it looks up a dozen names once. Chains are per bucket; a lookup compares bytes.
 */
export class NameHash {
  private readonly heads: Int32Array;
  private readonly next: Int32Array;
  private readonly mask: number;
  private triple?: readonly number[];
  /** Tables from an index file: every entry a lookup reads is checked against the BTF. */
  private untrusted = false;
  private tripleChecked = false;

  /** The tables of a NameHash built earlier for the same blob (btf/index-file.ts), not rebuilt. */
  static fromTables(raw: RawTypes, strs: StringBlobs, le: boolean, t: NameHashTables): NameHash {
    const h = Object.create(NameHash.prototype) as NameHash;
    Object.assign(h, { raw, strs, le, heads: t.heads, next: t.next, mask: t.heads.length - 1, triple: t.triple, untrusted: true });
    return h;
  }

  /** What fromTables() takes; the flavor list is computed now if it was not yet. */
  get tables(): NameHashTables {
    return { heads: this.heads, next: this.next, triple: this.tripleUnderscore };
  }

  constructor(
    private readonly raw: RawTypes,
    private readonly strs: StringBlobs,
    private readonly le: boolean,
  ) {
    // Every hashing loop below stops at a NUL: parseBtf guarantees each string section ends
    // with one; refuse anything else rather than read past the end.
    for (const b of strs.blobs)
      if (b.bytes.length > 0 && b.bytes[b.bytes.length - 1] !== 0) throw new Error('BTF strings are not NUL-terminated');
    const n = raw.count;
    let size = 16;
    while (size < n) size *= 2;
    const mask = (this.mask = size - 1);
    const heads = (this.heads = new Int32Array(size).fill(-1));
    const next = (this.next = new Int32Array(n));
    const offsets = raw.offsets;
    const dv = raw.view;
    // Records are word-aligned in the blob: read name offsets as host words when we can.
    const aligned = le === HOST_LE && dv.byteOffset % 4 === 0 && raw.typeStart % 4 === 0;
    const words = aligned ? new Uint32Array(dv.buffer, dv.byteOffset, dv.byteLength >>> 2) : undefined;
    const own = strs.blobs[0];
    // Insert in reverse so that each chain lists indexes in ascending order. This loop runs
    // once per blob before the JIT has warmed up: no allocation, no calls on the common path.
    for (let i = n - 1; i >= 0; i--) {
      const off = words ? words[offsets[i] >>> 2] : dv.getUint32(offsets[i], le);
      if (off === 0) continue;
      let s = own.bytes;
      let p = off - own.start;
      if (p < 0) [s, p] = this.locate(off);
      let h = 0;
      for (let c = s[p]; c !== 0; c = s[++p]) h = (Math.imul(h, 31) + c) | 0;
      const b = (h ^ (h >>> 15)) & mask;
      next[i] = heads[b];
      heads[b] = i;
    }
  }

  /** Own indexes (ascending) of the types whose names contain "___" (CO-RE flavors). */
  get tripleUnderscore(): readonly number[] {
    if (this.triple && this.untrusted && !this.tripleChecked) {
      this.checkTriple(this.triple);
      this.tripleChecked = true;
    }
    return (this.triple ??= this.flavorIndexes());
  }

  /**
   * An index file's flavor list: ascending, in range, each a name with "___". A wrong entry
   * names a type without "___" (every type with one is listed) or breaks the order.
   */
  private checkTriple(triple: readonly number[]): void {
    const count = this.raw.count;
    for (let k = 0; k < triple.length; k++) {
      const i = triple[k];
      if (!(i >= 0 && i < count) || (k > 0 && i <= triple[k - 1]) || !this.raw.nameOf(i).includes('___'))
        throw new IndexCorruptError(`flavor list entry ${k}`);
    }
  }

  /**
   * Indexes of the types whose names contain "___", found by searching the strings, not the
   * types. A name offset may point into the middle of a string (a shared tail), so what is
   * marked is every offset from which a "___" is reached before the NUL, not whole strings.
   */
  private flavorIndexes(): number[] {
    const marks = this.strs.blobs.map(({ bytes }) => {
      const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
      let mark: Uint8Array | undefined;
      let done = 0; // offsets below this are already marked
      for (let at = text.indexOf('___'); at >= 0; at = text.indexOf('___', at + 1)) {
        mark ??= new Uint8Array(bytes.length);
        mark.fill(1, Math.max(done, text.lastIndexOf(0, at) + 1), at + 1);
        done = at + 1;
      }
      return mark;
    });
    if (marks.every((m) => !m)) return [];
    const out: number[] = [];
    for (let i = 0; i < this.raw.count; i++) {
      const off = this.raw.view.getUint32(this.raw.offsets[i], this.le);
      if (off === 0) continue;
      const b = this.strs.blobs.findIndex((x) => off >= x.start); // the outermost base starts at 0
      if (marks[b]?.[off - this.strs.blobs[b].start] === 1) out.push(i);
    }
    return out;
  }

  /** The string bytes holding offset `off`, and where it starts in them. */
  private locate(off: number): [Uint8Array, number] {
    for (const b of this.strs.blobs) if (off >= b.start) return [b.bytes, off - b.start];
    return [this.strs.blobs[this.strs.blobs.length - 1].bytes, 0];
  }

  /** Own indexes (ascending) of the types named `name`. */
  indexesOf(name: string): number[] {
    const want = Buffer.from(name, 'latin1');
    if (want.length === 0 || want.includes(0)) return [];
    let h = 0;
    for (const c of want) h = (Math.imul(h, 31) + c) | 0;
    const b = (h ^ (h >>> 15)) & this.mask;
    const out: number[] = [];
    // Chains ascend: a link that does not go up (-1 at a chain's end, 0 on a type without a
    // name, anything forged in an index file) ends the walk, so every walk ends.
    const count = this.raw.count;
    const check = this.untrusted;
    if (check && !(this.heads[b] === -1 || (this.heads[b] >= 0 && this.heads[b] < count)))
      throw new IndexCorruptError(`name hash bucket ${b}`);
    for (let i = this.heads[b]; i >= 0 && i < count;) {
      if (check) this.checkMember(i, b);
      const [s, p] = this.locate(this.raw.view.getUint32(this.raw.offsets[i], this.le));
      let k = 0;
      while (k < want.length && p + k < s.length && s[p + k] === want[k]) k++;
      if (k === want.length && s[p + k] === 0) out.push(i);
      const n = this.next[i];
      if (check && n !== -1 && !(n > i && n < count)) throw new IndexCorruptError(`name hash link of type index ${i}`);
      i = n > i ? n : -1;
    }
    return out;
  }

  /**
   * An index file's chain member: its record where the BTF has it, and its name (non-empty)
   * hashing to this bucket. A wrong head or link lands on a type of another bucket.
   */
  private checkMember(i: number, b: number): void {
    if (!this.raw.recordHolds || !this.raw.recordHolds(i)) throw new IndexCorruptError(`record offset of type index ${i}`);
    const off = this.raw.view.getUint32(this.raw.offsets[i], this.le);
    if (off === 0) throw new IndexCorruptError(`name hash member ${i} has no name`);
    const [s, start] = this.locate(off);
    let p = start;
    let h = 0;
    for (let c = s[p]; c !== 0 && p < s.length; c = s[++p]) h = (Math.imul(h, 31) + c) | 0;
    if (((h ^ (h >>> 15)) & this.mask) !== b) throw new IndexCorruptError(`name hash member ${i} is not of bucket ${b}`);
  }
}
