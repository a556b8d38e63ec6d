/**
 * The type graph the linker's BTF dedup runs on, read from the raw records: each type's own
 * fields as one class number (names interned, so equal fields are equal numbers), its
 * references, and the keys that pair forward declarations with full types.
 *
 * Building it decodes no type object: records are read as words and each distinct name of a
 * blob once. Decoding every type of every input (32 objects on vmlinux.h: 15k types, most of
 * them dropped by the dedup) made a cold `bpf-lens link` spend a third of its time in the
 * garbage collector.
 */
import type { Btf } from '../btf/btf';
import { hostWords } from '../btf/raw';
import {
  BTF_KIND_ARRAY as ARRAY,
  BTF_KIND_CONST as CONST,
  BTF_KIND_DATASEC as DATASEC,
  BTF_KIND_DECL_TAG as DECL_TAG,
  BTF_KIND_ENUM as ENUM,
  BTF_KIND_ENUM64 as ENUM64,
  BTF_KIND_FLOAT as FLOAT,
  BTF_KIND_FUNC as FUNC,
  BTF_KIND_FUNC_PROTO as FUNC_PROTO,
  BTF_KIND_FWD as FWD,
  BTF_KIND_INT as INT,
  BTF_KIND_PTR as PTR,
  BTF_KIND_RESTRICT as RESTRICT,
  BTF_KIND_STRUCT as STRUCT,
  BTF_KIND_TYPEDEF as TYPEDEF,
  BTF_KIND_TYPE_TAG as TYPE_TAG,
  BTF_KIND_UNION as UNION,
  BTF_KIND_VAR as VAR,
  BTF_KIND_VOLATILE as VOLATILE,
  type NewType,
  type TypeId,
} from '../btf/types';
import { writeType } from '../btf/write';
import { ByteWriter } from '../common/bytes';

export interface TypeGraph {
  /** Types 1..n (index 0, void, is unused in every array). */
  readonly n: number;
  /** BTF_KIND_* of each type. */
  readonly kind: Uint8Array;
  /**
   * Class of each type's own fields, 1..ownClasses: equal when the kind, names, sizes, member
   * names and offsets, values... are (references aside). Each VAR and DATASEC has its own.
   */
  readonly own: Int32Array;
  readonly ownClasses: number;
  /** The references of type `id`, in record order: refs[refStart[id] .. refStart[id + 1]). */
  readonly refStart: Int32Array;
  readonly refs: Int32Array;
  /**
   * A forward (FWD, or an ENUM without values) stands for the full types (named STRUCT, UNION,
   * ENUM or ENUM64 with values) that have its key; 0 where a type is not one of them.
   */
  readonly fwdKey: Int32Array;
  readonly fullKey: Int32Array;
}

/** One blob's records as host-order words, and how to read the names in them. */
export interface RecordSource {
  readonly words: Uint32Array;
  /** Word offset of each record (local index i). */
  readonly at: Uint32Array;
  /** The interned number of the name a name word points at (0 for ''). */
  sid(nameWord: number): number;
}

export class TypeGraphBuilder {
  private n = 0;
  private kind: Uint8Array;
  private own: Int32Array;
  private fwdKey: Int32Array;
  private fullKey: Int32Array;
  private refStart: Int32Array;
  private refs = new Int32Array(1024);
  private refCount = 0;
  private readonly names = new Map<string, number>([['', 0]]);
  private readonly keys = new Map<string | number, number>();
  private readonly owns = new WordInterner();
  private scratch = new Uint32Array(64);

  /** `capacity`: how many types will be added (a hint; the arrays grow). */
  constructor(capacity: number) {
    const c = Math.max(16, capacity + 1);
    this.kind = new Uint8Array(c);
    this.own = new Int32Array(c);
    this.fwdKey = new Int32Array(c);
    this.fullKey = new Int32Array(c);
    this.refStart = new Int32Array(c + 1);
  }

  /** The interned number of a name ('' is 0). */
  name(s: string): number {
    let id = this.names.get(s);
    if (id === undefined) this.names.set(s, (id = this.names.size));
    return id;
  }

  /** The records of a parsed blob (not split: the linker's inputs). */
  source(btf: Btf): RecordSource {
    const raw = btf.records;
    if (!raw) return this.sourceOf(btf.types.map(({ id: _id, ...t }) => t));
    const at = new Uint32Array(raw.count);
    for (let i = 0; i < raw.count; i++) at[i] = (raw.offsets[i] - raw.typeStart) >>> 2;
    const strings = btf.strings;
    let text: string | undefined;
    const cache = new Int32Array(strings.length); // sid + 1 by string offset
    const sid = (off: number): number => {
      if (off === 0) return 0;
      const c = cache[off];
      if (c) return c - 1;
      text ??= Buffer.from(strings.buffer, strings.byteOffset, strings.length).toString('latin1');
      const end = text.indexOf('\0', off);
      const id = this.name(text.slice(off, end < 0 ? text.length : end));
      cache[off] = id + 1;
      return id;
    };
    return { words: hostWords(raw.view, raw.typeStart, raw.typeLen, btf.littleEndian), at, sid };
  }

  /** Types built in memory, encoded as records whose name words are interned numbers. */
  sourceOf(types: readonly NewType[]): RecordSource {
    const w = new ByteWriter(true);
    const at = new Uint32Array(types.length);
    const named = <T extends { name: string }>(x: T) => ({ ...x, nameOff: this.name(x.name) });
    types.forEach((t, i) => {
      at[i] = w.length >>> 2;
      const parts =
        'members' in t
          ? { members: t.members.map(named) }
          : 'values' in t
            ? { values: t.values.map(named) }
            : 'params' in t
              ? { params: t.params.map(named) }
              : {};
      writeType(w, { ...t, ...parts, id: 0, nameOff: this.name(t.name) } as Parameters<typeof writeType>[1]);
    });
    const bytes = w.finish();
    return { words: hostWords(new DataView(bytes.buffer, bytes.byteOffset, bytes.length), 0, bytes.length, true), at, sid: (x) => x };
  }

  /** Adds record `i` of `src` as the next type; `refOf` maps its references to ids in the graph. */
  add(src: RecordSource, i: number, refOf: (ref: TypeId) => TypeId): TypeId {
    const w = src.words;
    const o = src.at[i];
    const info = w[o + 1];
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    const id = ++this.n;
    this.ensure(id + 1);
    this.kind[id] = kind;
    this.addRefs(w, o, kind, vlen, refOf);
    this.refStart[id + 1] = this.refCount;
    if (kind === VAR || kind === DATASEC) {
      this.own[id] = this.owns.unique();
      return id;
    }
    const name = kind === PTR || kind === CONST || kind === VOLATILE || kind === RESTRICT || kind === ARRAY ? 0 : src.sid(w[o]);
    const n = this.ownWords(src, o, kind, vlen, info >>> 31, name); // may grow the scratch
    this.own[id] = this.owns.intern(this.scratch, n);
    if (name !== 0) this.addKeys(id, kind, vlen, info >>> 31, name, w[o + 2]);
    return id;
  }

  finish(): TypeGraph {
    const n = this.n;
    return {
      n,
      kind: this.kind.subarray(0, n + 1),
      own: this.own.subarray(0, n + 1),
      ownClasses: this.owns.count,
      refStart: this.refStart.subarray(0, n + 2),
      refs: this.refs.subarray(0, this.refCount),
      fwdKey: this.fwdKey.subarray(0, n + 1),
      fullKey: this.fullKey.subarray(0, n + 1),
    };
  }

  private addRefs(w: Uint32Array, o: number, kind: number, vlen: number, refOf: (ref: TypeId) => TypeId): void {
    switch (kind) {
      case INT:
      case ENUM:
      case ENUM64:
      case FWD:
      case FLOAT:
        return;
      case ARRAY:
        this.ref(refOf(w[o + 3]));
        this.ref(refOf(w[o + 4]));
        return;
      case STRUCT:
      case UNION:
        for (let k = 0; k < vlen; k++) this.ref(refOf(w[o + 4 + 3 * k]));
        return;
      case FUNC_PROTO:
        this.ref(refOf(w[o + 2]));
        for (let k = 0; k < vlen; k++) this.ref(refOf(w[o + 4 + 2 * k]));
        return;
      case DATASEC:
        for (let k = 0; k < vlen; k++) this.ref(refOf(w[o + 3 + 3 * k]));
        return;
      default:
        this.ref(refOf(w[o + 2]));
    }
  }

  private ref(id: TypeId): void {
    if (this.refCount === this.refs.length) {
      this.refs = grown(this.refs, this.refs.length * 2);
    }
    this.refs[this.refCount++] = id;
  }

  /**
   * The own fields of record `o` into scratch, names as interned numbers; returns how many
   * words. The first word is the kind (and the kind flag where it changes what a type is).
   */
  private ownWords(src: RecordSource, o: number, kind: number, vlen: number, kflag: number, name: number): number {
    const w = src.words;
    const s = this.scratchFor(3 + 3 * vlen);
    s[0] = kind;
    s[1] = name;
    switch (kind) {
      case INT:
        s[2] = w[o + 2];
        s[3] = w[o + 3] & 0x0fff00ff; // encoding, offset and bits: what the kernel reads
        return 4;
      case PTR:
      case CONST:
      case VOLATILE:
      case RESTRICT:
        return 1;
      case TYPEDEF:
      case TYPE_TAG:
        return 2;
      case ARRAY:
        s[1] = w[o + 5];
        return 2;
      case FWD:
        s[0] = kind | (kflag << 5);
        return 2;
      case FUNC:
        s[2] = vlen; // linkage
        return 3;
      case FLOAT:
        s[2] = w[o + 2];
        return 3;
      case DECL_TAG:
        s[2] = w[o + 3];
        return 3;
      case FUNC_PROTO:
        for (let k = 0; k < vlen; k++) s[1 + k] = src.sid(w[o + 3 + 2 * k]);
        return 1 + vlen;
      default:
        return this.memberWords(src, o, kind, vlen, kflag, s);
    }
  }

  /** STRUCT, UNION (member names and offsets), ENUM, ENUM64 (value names and values). */
  private memberWords(src: RecordSource, o: number, kind: number, vlen: number, kflag: number, s: Uint32Array): number {
    const w = src.words;
    s[0] = kind | (kflag << 5);
    s[2] = w[o + 2];
    let n = 3;
    const step = kind === ENUM ? 2 : 3;
    for (let k = 0, q = o + 3; k < vlen; k++, q += step) {
      s[n++] = src.sid(w[q]);
      if (kind === STRUCT || kind === UNION) s[n++] = w[q + 2];
      else {
        s[n++] = w[q + 1];
        if (kind === ENUM64) s[n++] = w[q + 2];
      }
    }
    return n;
  }

  private addKeys(id: TypeId, kind: number, vlen: number, kflag: number, name: number, size: number): void {
    switch (kind) {
      case STRUCT:
      case UNION:
        this.fullKey[id] = this.key(2 * name + (kind === UNION ? 1 : 0));
        return;
      case FWD:
        this.fwdKey[id] = this.key(2 * name + kflag);
        return;
      case ENUM:
      case ENUM64:
        // an enum's forward names its size too (`enum e : u8;`); ENUM64 has no forward form
        if (vlen > 0) this.fullKey[id] = this.key(`${name}|${size}`);
        else if (kind === ENUM) this.fwdKey[id] = this.key(`${name}|${size}`);
    }
  }

  private key(k: string | number): number {
    let v = this.keys.get(k);
    if (v === undefined) this.keys.set(k, (v = this.keys.size + 1));
    return v;
  }

  private scratchFor(n: number): Uint32Array {
    if (this.scratch.length < n) this.scratch = new Uint32Array(n);
    return this.scratch;
  }

  private ensure(size: number): void {
    if (size + 1 <= this.refStart.length) return;
    const grow = <T extends TypedArray>(a: T): T => grown(a, Math.max(size + 1, a.length * 2));
    this.kind = grow(this.kind);
    this.own = grow(this.own);
    this.fwdKey = grow(this.fwdKey);
    this.fullKey = grow(this.fullKey);
    this.refStart = grow(this.refStart);
  }
}

type TypedArray = Uint8Array | Int32Array | Uint32Array;

/** A copy of `a` with room for `size` elements (the new ones zero). */
function grown<T extends TypedArray>(a: T, size: number): T {
  const b = new (a.constructor as new (n: number) => T)(size);
  b.set(a);
  return b;
}

/** A power of two at least twice `n`: open hash tables stay at most half full. */
export function tableSize(n: number): number {
  let size = 16;
  while (size < 2 * n) size *= 2;
  return size;
}

/**
 * Numbers word sequences: equal sequences get the same class, 1, 2, ... in order of first
 * appearance. Typed arrays throughout (an open hash table chained through the classes), so
 * 15k sequences leave nothing for the garbage collector.
 */
class WordInterner {
  private pool = new Uint32Array(4096);
  private used = 0;
  private classes = 0;
  // by class (index 0 unused): where its words are, how many, their hash, the next class in its slot
  private start = new Int32Array(1024);
  private len = new Int32Array(1024);
  private hashOf = new Int32Array(1024);
  private chain = new Int32Array(1024);
  private slots = new Int32Array(tableSize(1024));

  get count(): number {
    return this.classes;
  }

  intern(w: Uint32Array, n: number): number {
    let h = n;
    for (let k = 0; k < n; k++) h = Math.imul(h ^ w[k], 0x9e3779b1) ^ (h >>> 15);
    h |= 0;
    for (let c = this.slots[h & (this.slots.length - 1)]; c !== 0; c = this.chain[c])
      if (this.hashOf[c] === h && this.equal(c, w, n)) return c;
    const c = this.newClass();
    this.hashOf[c] = h;
    this.store(c, w, n);
    this.link(c);
    return c;
  }

  /** A class no other type shares. */
  unique(): number {
    return this.newClass();
  }

  private equal(c: number, w: Uint32Array, n: number): boolean {
    if (this.len[c] !== n) return false;
    const p = this.pool;
    for (let k = 0, q = this.start[c]; k < n; k++, q++) if (p[q] !== w[k]) return false;
    return true;
  }

  private newClass(): number {
    const c = ++this.classes;
    if (c === this.start.length) {
      const grow = <T extends TypedArray>(a: T): T => grown(a, a.length * 2);
      this.start = grow(this.start);
      this.len = grow(this.len);
      this.hashOf = grow(this.hashOf);
      this.chain = grow(this.chain);
      this.rehash();
    }
    return c;
  }

  private store(c: number, w: Uint32Array, n: number): void {
    if (this.used + n > this.pool.length) {
      this.pool = grown(this.pool, Math.max(this.pool.length * 2, this.used + n));
    }
    this.pool.set(w.subarray(0, n), this.used);
    this.start[c] = this.used;
    this.len[c] = n;
    this.used += n;
  }

  private link(c: number): void {
    const slot = this.hashOf[c] & (this.slots.length - 1);
    this.chain[c] = this.slots[slot];
    this.slots[slot] = c;
  }

  /** A table twice as big for the classes so far (unique ones, never looked up, stay out). */
  private rehash(): void {
    const interned = Array.from({ length: this.classes }, (_, i) => i + 1).filter((c) => this.len[c] > 0);
    this.slots = new Int32Array(tableSize(this.start.length));
    for (const c of interned) this.link(c);
  }
}
