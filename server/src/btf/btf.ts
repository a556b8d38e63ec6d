import { ByteReader } from '../common/bytes';
import { FormatError } from '../common/errors';
import { NameHash, type NameHashTables } from './name-hash';
import { IndexCorruptError, type RawTypes, rawTypesAt, scanTypes } from './raw';
import { BTF_HEADER_SIZE, BTF_MAGIC, type BtfType, KIND_NAMES, type KindName, type TypeId, isModifier, kindNumber } from './types';

export interface BtfHeader {
  readonly version: number;
  readonly flags: number;
  readonly hdrLen: number;
  readonly typeOff: number;
  readonly typeLen: number;
  readonly strOff: number;
  readonly strLen: number;
}

export interface ParseOptions {
  /** Base BTF for split BTF (module BTF on vmlinux, `.BTF` on `.BTF.base`). */
  readonly base?: Btf;
  /** Names the input in errors. */
  readonly file?: string;
  readonly section?: string;
  /**
   * Byte offsets of the type records, from an index file verified to be of these very bytes
   * (btf/index-file.ts): the type scan (bounds, names, references, cycles) is not run again.
   */
  readonly records?: Uint32Array;
  /**
   * Called when a lookup finds `records` or the adopted name hash wrong for these bytes: the
   * blob has then dropped them and answers from its own scan (same answers as without them).
   */
  readonly onIndexCorrupt?: (btf: Btf, why: Error) => void;
}

/**
 * Parsed BTF: the types of one blob, on top of an optional base. Type ids and string
 * offsets of split BTF continue after the base's, as in the kernel.
 *
 * Parsed blobs are validated up front but decoded lazily, one type at a time, so that
 * indexing vmlinux BTF (150k types) stays fast and small.
 */
export class Btf {
  /** Id of this blob's first type: 1, or the base's type count for split BTF. */
  readonly startId: number;
  /** String offset where this blob's strings start: 0, or the base's string size. */
  readonly startStrOff: number;
  /**
   * Own types by index, as decoded. For a parsed blob it starts empty and stays sparse until
   * every type is wanted: an array of vmlinux's ~126k slots up front costs a cold CO-RE load,
   * which decodes a few hundred, ~250 page faults.
   */
  private decoded: (BtfType | undefined)[];
  /** Number of own types. */
  private readonly own: number;
  private raw?: RawTypes;
  /** Set while offsets and name hash come from an index file: how to do without them. */
  private recordsChecked = false;
  private fromIndex?: { rescan: () => RawTypes; onCorrupt?: (btf: Btf, why: Error) => void };
  private nameIndex?: Map<string, TypeId | TypeId[]>;
  private nameHash?: NameHash;
  private allDecoded = false;
  /** BTF_KIND_* of each own type, once idsOfKind wanted them. */
  private kinds?: Uint8Array;

  constructor(
    /** This blob's own types (`types[i]` has id `startId + i`), or their raw encoding. */
    source: readonly BtfType[] | RawTypes,
    /** This blob's own string section (starts with a NUL). */
    readonly strings: Uint8Array,
    readonly littleEndian: boolean,
    readonly base?: Btf,
    readonly header?: BtfHeader,
  ) {
    this.startId = base ? base.length : 1;
    this.startStrOff = base ? base.stringsEnd : 0;
    if (Array.isArray(source)) {
      this.decoded = source.slice();
      this.own = this.decoded.length;
      this.allDecoded = true;
    } else {
      this.raw = source as RawTypes;
      this.own = this.raw.count;
      this.decoded = [];
    }
  }

  /** The undecoded records of a parsed blob (undefined for built BTF). */
  get records(): RawTypes | undefined {
    // whoever takes the offsets reads them all (dumps, whole-BTF indexes): check them all once
    if (this.fromIndex && !this.recordsChecked) this.guarded(() => this.checkAllRecords());
    return this.raw;
  }

  /**
   * The encoded type section (undefined for built BTF), not checked against an index: for a
   * reader that walks every record itself (a dump), for which the walk is the check.
   */
  get typeSection(): Pick<RawTypes, 'view' | 'typeStart' | 'typeLen'> | undefined {
    return this.raw;
  }

  private checkAllRecords(): void {
    const bad = this.raw?.firstBadRecord?.() ?? -1;
    if (bad >= 0) throw new IndexCorruptError(`record offset of type [${this.startId + bad}]`);
    this.recordsChecked = true;
  }

  /** Number of own types (void and base types excluded). */
  get count(): number {
    return this.own;
  }

  /** Number of type ids, void (0) included: valid ids are 0 .. length-1. */
  get length(): number {
    return this.startId + this.own;
  }

  /** Offset just past the last string of this blob and its bases. */
  get stringsEnd(): number {
    return this.startStrOff + this.strings.length;
  }

  /** This blob's own types, in id order (decodes all of them). */
  get types(): readonly BtfType[] {
    if (!this.allDecoded) {
      // a dense array of them all (the sparse one keeps the types already handed out)
      const all = new Array<BtfType>(this.own);
      for (let i = 0; i < this.own; i++) all[i] = this.decoded[i] ?? this.decodeOwn(i);
      this.decoded = all;
      this.allDecoded = true;
    }
    return this.decoded as BtfType[];
  }

  /** The type with this id; undefined for void (0). Throws on ids out of range. */
  get(id: TypeId): BtfType | undefined {
    if (id === 0) return undefined;
    if (id < this.startId) return this.base!.get(id);
    const i = id - this.startId;
    if (!(i < this.own)) throw new RangeError(`BTF type id ${id} is out of range (${this.length} types)`);
    return this.decoded[i] ?? (this.decoded[i] = this.decodeOwn(i));
  }

  /** Like get(), for ids known to be non-void. */
  type(id: TypeId): BtfType {
    const t = this.get(id);
    if (!t) throw new RangeError('BTF type id 0 (void) has no type');
    return t;
  }

  has(id: TypeId): boolean {
    return Number.isInteger(id) && id >= 0 && id < this.length;
  }

  /** Name of a type without decoding the rest of it. */
  nameOf(id: TypeId): string {
    if (id === 0) return '';
    if (id < this.startId) return this.base!.nameOf(id);
    const i = id - this.startId;
    const t = this.decoded[i];
    if (t) return t.name;
    if (!this.raw || i >= this.own) throw new RangeError(`BTF type id ${id} is out of range (${this.length} types)`);
    return this.fromIndex ? this.guarded(() => this.raw!.nameOf(i)) : this.raw.nameOf(i);
  }

  /** Kind of a type without decoding it. */
  kindOf(id: TypeId): KindName {
    if (id < this.startId) return this.base!.kindOf(id);
    const i = id - this.startId;
    const t = this.decoded[i];
    if (t) return t.kind;
    if (!this.raw || !(i >= 0 && i < this.own)) throw new RangeError(`BTF type id ${id} is out of range (${this.length} types)`);
    return KIND_NAMES[this.fromIndex ? this.guarded(() => this.raw!.kindOf(i)) : this.raw.kindOf(i)] as KindName;
  }

  /** This blob's own ids of one kind, ascending, without decoding the other types. */
  idsOfKind(kind: KindName): TypeId[] {
    this.kinds ??= Uint8Array.from({ length: this.own }, (_, i) => kindNumber(this.kindOf(this.startId + i)));
    const k = kindNumber(kind);
    const ids: TypeId[] = [];
    for (let i = 0; i < this.own; i++) if (this.kinds[i] === k) ids.push(this.startId + i);
    return ids;
  }

  private decodeOwn(i: number): BtfType {
    return this.fromIndex ? this.guarded(() => this.raw!.decode(i)) : this.raw!.decode(i);
  }

  /** Records and name hash from an index file (parseBtf with `records`), until one is found wrong. */
  useIndexFallback(rescan: () => RawTypes, onCorrupt?: (btf: Btf, why: Error) => void): void {
    this.fromIndex = { rescan, onCorrupt };
  }

  /**
   * Runs a lookup; when it finds the index file's tables wrong, drops them for this blob's own
   * scan (the types already decoded were checked where they were read) and runs it again.
   */
  private guarded<T>(f: () => T): T {
    try {
      return f();
    } catch (e) {
      const from = this.fromIndex;
      if (!(e instanceof IndexCorruptError) || !from) throw e;
      this.fromIndex = undefined;
      this.raw = from.rescan();
      this.nameHash = undefined;
      from.onCorrupt?.(this, e);
      return f();
    }
  }

  /** Every type id that carries `name`, base first. */
  byName(name: string): readonly TypeId[] {
    let mine: readonly TypeId[];
    const hash = this.ownHash();
    if (hash) {
      mine = (this.fromIndex ? this.guarded(() => this.ownHash()!.indexesOf(name)) : hash.indexesOf(name)).map((i) => this.startId + i);
    } else {
      const own = this.ownIndex().get(name);
      mine = own === undefined ? [] : typeof own === 'number' ? [own] : own;
    }
    return this.base ? [...this.base.byName(name), ...mine] : mine;
  }

  /** Own ids (ascending) whose names contain "___": where CO-RE flavors (`foo___v2`) are. */
  tripleUnderscoreIds(): readonly TypeId[] {
    const hash = this.ownHash();
    if (hash)
      return (this.fromIndex ? this.guarded(() => this.ownHash()!.tripleUnderscore) : hash.tripleUnderscore).map((i) => this.startId + i);
    const out: TypeId[] = [];
    for (let id = this.startId; id < this.length; id++) if (this.nameOf(id).includes('___')) out.push(id);
    return out;
  }

  /** Builds the name index now (it is otherwise built on first use). */
  index(): this {
    if (!this.ownHash()) this.ownIndex();
    this.base?.index();
    return this;
  }

  /** The name hash of a parsed blob (built now if it was not), for index files. */
  get nameHashTables(): NameHashTables | undefined {
    return this.ownHash()?.tables;
  }

  /** Adopts the tables of a name hash built earlier for these same bytes (btf/index-file.ts). */
  adoptNameHash(t: NameHashTables): void {
    if (this.raw) this.nameHash = NameHash.fromTables(this.raw, this.stringBlobs(), this.littleEndian, t);
  }

  private stringBlobs(): { blobs: { start: number; bytes: Uint8Array }[] } {
    const blobs: { start: number; bytes: Uint8Array }[] = [{ start: this.startStrOff, bytes: this.strings }];
    for (let b = this.base; b; b = b.base) blobs.push({ start: b.startStrOff, bytes: b.strings });
    return { blobs };
  }

  /** Parsed blobs are indexed by the bytes of their names, without decoding them. */
  private ownHash(): NameHash | undefined {
    if (this.nameHash || !this.raw) return this.nameHash;
    return (this.nameHash = new NameHash(this.raw, this.stringBlobs(), this.littleEndian));
  }

  private ownIndex(): Map<string, TypeId | TypeId[]> {
    if (this.nameIndex) return this.nameIndex;
    const idx = new Map<string, TypeId | TypeId[]>();
    for (let i = 0; i < this.own; i++) {
      const name = this.decoded[i]?.name ?? this.raw!.nameOf(i);
      if (!name) continue;
      const id = this.startId + i;
      const have = idx.get(name);
      if (have === undefined) idx.set(name, id);
      else if (typeof have === 'number') idx.set(name, [have, id]);
      else have.push(id);
    }
    return (this.nameIndex = idx);
  }

  /** The first type of this kind and name, or undefined. */
  find(kind: KindName, name: string): BtfType | undefined {
    for (const id of this.byName(name)) {
      const t = this.type(id);
      if (t.kind === kind) return t;
    }
    return undefined;
  }

  /** Skips typedefs and modifiers (const, volatile, restrict, type tags). */
  skipTypedefs(id: TypeId): TypeId {
    for (;;) {
      const t = this.get(id);
      if (!t || !(t.kind === 'TYPEDEF' || isModifier(t))) return id;
      id = t.type;
    }
  }

  /** Skips modifiers only (keeps typedefs). */
  skipModifiers(id: TypeId): TypeId {
    for (;;) {
      const t = this.get(id);
      if (!t || !isModifier(t)) return id;
      id = t.type;
    }
  }

  /** The string at offset `off` of this blob or its bases. */
  str(off: number): string {
    if (off < this.startStrOff) return this.base!.str(off);
    const rel = off - this.startStrOff;
    if (!(rel >= 0 && rel < this.strings.length)) throw new RangeError(`BTF string offset ${off} is out of range`);
    const end = this.strings.indexOf(0, rel);
    return Buffer.from(this.strings.buffer, this.strings.byteOffset + rel, (end < 0 ? this.strings.length : end) - rel).toString('latin1');
  }

  /** Types of this blob and its bases, void excluded, in id order. */
  *all(): IterableIterator<BtfType> {
    if (this.base) yield* this.base.all();
    for (let id = this.startId; id < this.length; id++) yield this.type(id);
  }
}

const DEFAULT_FILE = '<btf>';

/** True if `bytes` starts with the BTF magic in either byte order. */
export function isBtf(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && ((bytes[0] === 0x9f && bytes[1] === 0xeb) || (bytes[0] === 0xeb && bytes[1] === 0x9f));
}

/** Parses a BTF blob (raw file contents or a `.BTF` section); hostile bytes give a FormatError. */
export function parseBtf(bytes: Uint8Array, opts: ParseOptions = {}): Btf {
  const origin = { file: opts.file ?? DEFAULT_FILE, section: opts.section ?? '.BTF' };
  const probe = new ByteReader(bytes, true, origin);
  probe.need(0, BTF_HEADER_SIZE, 'BTF header');
  const magic = probe.u16(0);
  if (magic !== BTF_MAGIC && magic !== 0x9feb) probe.fail(0, `bad BTF magic 0x${magic.toString(16)}`);
  const le = magic === BTF_MAGIC;
  const r = new ByteReader(bytes, le, origin);
  const header: BtfHeader = {
    version: r.u8(2),
    flags: r.u8(3),
    hdrLen: r.u32(4),
    typeOff: r.u32(8),
    typeLen: r.u32(12),
    strOff: r.u32(16),
    strLen: r.u32(20),
  };
  if (header.version !== 1) r.fail(2, `unsupported BTF version ${header.version}`);
  if (header.hdrLen < BTF_HEADER_SIZE) r.fail(4, `hdr_len ${header.hdrLen} is smaller than ${BTF_HEADER_SIZE}`);
  const base = opts.base;
  if (base && base.littleEndian !== le) r.fail(0, 'split BTF and its base differ in byte order');
  const typeStart = header.hdrLen + header.typeOff;
  const strStart = header.hdrLen + header.strOff;
  r.need(0, header.hdrLen, 'BTF header');
  r.need(typeStart, header.typeLen, 'type section');
  r.need(strStart, header.strLen, 'string section');
  if (header.typeOff % 4 !== 0) r.fail(8, `type_off ${header.typeOff} is not 4-byte aligned`);
  const strings = bytes.subarray(strStart, strStart + header.strLen);
  if (!base && header.strLen > 0 && strings[0] !== 0) r.fail(strStart, 'string section does not start with an empty string');
  if (header.strLen > 0 && strings[header.strLen - 1] !== 0) r.fail(strStart + header.strLen - 1, 'string section is not NUL-terminated');
  if (!opts.records) return new Btf(scanTypes(r, typeStart, header.typeLen, strings, base), strings, le, base, header);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const btf = new Btf(rawTypesAt(dv, le, opts.records, typeStart, header.typeLen, strings, base, true), strings, le, base, header);
  btf.useIndexFallback(() => scanTypes(r, typeStart, header.typeLen, strings, base), opts.onIndexCorrupt);
  return btf;
}

export function isFormatError(e: unknown): e is FormatError {
  return e instanceof FormatError;
}

/** Bytes that follow the 12-byte `struct btf_type` for this type. */
export function extraSize(t: BtfType): number {
  switch (t.kind) {
    case 'INT':
    case 'VAR':
    case 'DECL_TAG':
      return 4;
    case 'ARRAY':
      return 12;
    case 'STRUCT':
    case 'UNION':
      return 12 * t.members.length;
    case 'ENUM':
      return 8 * t.values.length;
    case 'ENUM64':
      return 12 * t.values.length;
    case 'FUNC_PROTO':
      return 8 * t.params.length;
    case 'DATASEC':
      return 12 * t.vars.length;
    default:
      return 0;
  }
}
