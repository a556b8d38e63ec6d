import { type Btf, parseBtf } from './btf';
import { hostWords, recordStarts } from './raw';
import { KIND_NAMES } from './types';
import { writeBtf } from './write';

/**
 * What the raw and JSON dumps read: each own type's record in the encoded blob, and the
 * string sections of the blob and its bases. Dumping from the encoding (rather than from
 * decoded objects) keeps a vmlinux dump free of per-type objects.
 */
export class DumpView {
  /** The type section as 32-bit words in host order (records are word-aligned in it). */
  readonly w: Uint32Array;
  /** Word index in `w` of each own type's record. */
  readonly recs: Uint32Array;
  readonly startId: number;
  /** The blob and its bases, own blob first. */
  private readonly chain: Btf[];
  /** The blob's own string section, and the string offset it starts at (after its bases'). */
  readonly ownStrings: Uint8Array;
  readonly ownStrOff: number;
  /** The chain's string sections as latin1 text, decoded when nameText first needs each. */
  private readonly chainText: (string | undefined)[] = [];

  constructor(readonly btf: Btf) {
    // Built BTF has no encoding yet: encode it once (writeBtf keeps ids and name offsets).
    const parsed = btf.typeSection ? btf : parseBtf(writeBtf(btf), { base: btf.base, file: '<built BTF>' });
    const sec = parsed.typeSection!;
    this.w = hostWords(sec.view, sec.typeStart, sec.typeLen, parsed.littleEndian);
    // The records' own lengths give where each starts, in the one walk a dump needs, whether
    // the offsets were scanned or came from an index file. The bytes were scanned whole once
    // either way (an index is written only after a scan and bound to them by its digest).
    const recs = recordStarts(this.w, parsed.count);
    if (!recs) throw new Error(`${parsed.count} type records do not fill the type section`);
    this.recs = recs;
    this.startId = parsed.startId;
    this.chain = [];
    for (let b: Btf | undefined = parsed; b; b = b.base) this.chain.push(b);
    this.ownStrings = parsed.strings;
    this.ownStrOff = parsed.startStrOff;
  }

  get count(): number {
    return this.recs.length;
  }

  /**
   * Room for a dump that prints about `perTypeByte` bytes per byte of type records plus its
   * names: output buffers sized so they never grow (a grow copies what is written into fresh pages,
   * ~14 µs a page here, a third of a cold object dump's time); pages never written cost nothing.
   */
  outputBound(perTypeByte: number): number {
    return Math.max(1 << 16, perTypeByte * this.w.byteLength + this.ownStrings.length);
  }

  /** Kind number of any type id (own or base). */
  kindOf(id: number): number {
    if (id >= this.startId) return (this.w[this.recs[id - this.startId] + 1] >>> 24) & 0x1f;
    return KIND_NAMES.indexOf(this.btf.type(id).kind);
  }

  /** Name offset of any type id (own or base). */
  nameOffOf(id: number): number {
    if (id >= this.startId) return this.w[this.recs[id - this.startId]];
    return this.btf.type(id).nameOff;
  }

  /**
   * The name at string offset `off` as bpftool writes it (latin1: one character per byte):
   * `(anon)` for offset 0, the bytes up to the NUL, `(invalid)` past the strings. Each string
   * section is decoded once, then a name is a slice of it. One function: a small helper called
   * per name was the one function a cold dump of a small object had V8 optimise (~2.5 ms of
   * compiler, ~100 page faults of its memory).
   */
  nameText(off: number): string {
    if (off === 0) return '(anon)';
    for (let k = 0; k < this.chain.length; k++) {
      const b = this.chain[k];
      if (off < b.startStrOff) continue;
      const at = off - b.startStrOff;
      if (at >= b.strings.length) return '(invalid)';
      const s = (this.chainText[k] ??= Buffer.from(b.strings.buffer, b.strings.byteOffset, b.strings.length).toString('latin1'));
      const end = s.indexOf('\0', at);
      return s.slice(at, end < 0 ? s.length : end);
    }
    return '(invalid)';
  }
}

export const KIND_STR: readonly string[] = KIND_NAMES;

export function intEncodingStr(enc: number): string {
  switch (enc) {
    case 0:
      return '(none)';
    case 1:
      return 'SIGNED';
    case 2:
      return 'CHAR';
    case 4:
      return 'BOOL';
    default:
      return 'UNKN';
  }
}

export function funcLinkageStr(linkage: number): string {
  switch (linkage) {
    case 0:
      return 'static';
    case 1:
      return 'global';
    case 2:
      return 'extern';
    default:
      return '(unknown)';
  }
}

export function varLinkageStr(linkage: number): string {
  switch (linkage) {
    case 0:
      return 'static';
    case 1:
      return 'global';
    case 2:
      return 'extern';
    default:
      return '(unknown)';
  }
}

/** ENUM64 value from its two halves. */
export function enum64Value(lo: number, hi: number, signed: boolean): bigint {
  const raw = (BigInt(hi) << 32n) | BigInt(lo);
  return signed ? BigInt.asIntN(64, raw) : raw;
}
