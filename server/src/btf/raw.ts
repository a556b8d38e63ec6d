import { type ByteReader } from '../common/bytes';
import type { Btf } from './btf';
import { BTF_KIND_MAX, type BtfType, KIND_NAMES, type KindName } from './types';

// Kind numbers used on the hot path.
const INT = 1,
  PTR = 2,
  ARRAY = 3,
  STRUCT = 4,
  UNION = 5,
  ENUM = 6,
  FWD = 7,
  FUNC_PROTO = 13,
  VAR = 14,
  DATASEC = 15,
  FLOAT = 16,
  DECL_TAG = 17,
  ENUM64 = 19;

/** Bytes after the 12-byte btf_type header, by kind and vlen. */
function extraBytes(kind: number, vlen: number): number {
  switch (kind) {
    case INT:
    case VAR:
    case DECL_TAG:
      return 4;
    case ARRAY:
      return 12;
    case STRUCT:
    case UNION:
    case DATASEC:
    case ENUM64:
      return 12 * vlen;
    case ENUM:
    case FUNC_PROTO:
      return 8 * vlen;
    default:
      return 0;
  }
}

/**
 * The type section of one blob, validated but not decoded: offsets of each record, and
 * decoders for one type or one name. Keeps heap use near the size of the input.
 */
export interface RawTypes {
  readonly count: number;
  /** The blob's bytes, and where each type record starts in them (for fast dumps). */
  readonly view: DataView;
  readonly offsets: Uint32Array;
  /** Where the type section lies in `view`. */
  readonly typeStart: number;
  readonly typeLen: number;
  decode(i: number): BtfType;
  nameOf(i: number): string;
  /** BTF_KIND_* of record i, read from its info word. */
  kindOf(i: number): number;
  /**
   * For offsets taken from an index file: whether record i starts where record i-1 ends and
   * ends where record i+1 starts (undefined for scanned offsets, which hold by construction).
   */
  readonly recordHolds?: (i: number) => boolean;
  /** For offsets from an index file: the first record that does not hold, or -1 (one pass over them all). */
  readonly firstBadRecord?: () => number;
}

/** An index file's tables disagree with the BTF they index: the index is corrupt or stale. */
export class IndexCorruptError extends Error {
  constructor(what: string) {
    super(`BTF index file does not match its BTF (${what})`);
  }
}

/**
 * One pass over the type section: record boundaries, known kinds, vlen within bounds,
 * name offsets inside the strings, referenced ids in range, and no type containing
 * itself except through a pointer. Errors name the byte offset in the blob.
 */
export function scanTypes(r: ByteReader, typeStart: number, typeLen: number, strings: Uint8Array, base?: Btf): RawTypes {
  const le = r.littleEndian;
  const bytes = r.bytes;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // The section as host-order words: records are whole words, and typed-array reads are
  // what keeps this pass fast before the JIT has warmed up.
  const w = hostWords(dv, typeStart, typeLen, le);
  const at = (o: number) => typeStart + 4 * o; // word index → byte offset in the blob
  const startId = base ? base.length : 1;
  const startStrOff = base ? base.stringsEnd : 0;
  const strEnd = startStrOff + strings.length;

  // Pass 1: record boundaries and kinds.
  let offsets = new Uint32Array(Math.max(16, typeLen >>> 4));
  let n = 0;
  for (let o = 0; 4 * o < typeLen;) {
    if (4 * o + 12 > typeLen) r.fail(at(o), `type [${startId + n}] header runs past the end of the type section`);
    const info = w[o + 1];
    const kind = (info >>> 24) & 0x1f;
    if (kind === 0 || kind > BTF_KIND_MAX) r.fail(at(o), `type [${startId + n}] has unknown kind ${kind}`);
    // extraBytes() written out: this loop runs before the JIT has inlined anything
    const vlen = info & 0xffff;
    const size =
      kind === STRUCT || kind === UNION || kind === DATASEC || kind === ENUM64
        ? 12 + 12 * vlen
        : kind === ENUM || kind === FUNC_PROTO
          ? 12 + 8 * vlen
          : kind === INT || kind === VAR || kind === DECL_TAG
            ? 16
            : kind === ARRAY
              ? 24
              : 12;
    if (4 * o + size > typeLen)
      r.fail(at(o), `type [${startId + n}] ${KIND_NAMES[kind]} with vlen ${info & 0xffff} runs past the end of the type section`);
    if (n === offsets.length) {
      const grown = new Uint32Array(offsets.length * 2);
      grown.set(offsets);
      offsets = grown;
    }
    offsets[n++] = o;
    o += size >>> 2;
  }

  // Pass 2: names inside the strings; the largest type reference, checked just below.
  let maxRef = 0;
  for (let i = 0; i < n; i++) {
    const o = offsets[i];
    const kind = (w[o + 1] >>> 24) & 0x1f;
    // the common records (no members, a name in range) without a call
    if (
      w[o] < strEnd &&
      kind !== STRUCT &&
      kind !== UNION &&
      kind !== ENUM &&
      kind !== ENUM64 &&
      kind !== FUNC_PROTO &&
      kind !== DATASEC &&
      kind !== ARRAY
    ) {
      if (kind !== INT && kind !== FLOAT && kind !== FWD && w[o + 2] > maxRef) maxRef = w[o + 2];
      continue;
    }
    const bad = checkNames(w, o, strEnd);
    if (bad >= 0) {
      const o = offsets[i];
      const what =
        bad === o
          ? 'name'
          : `${componentName((w[o + 1] >>> 24) & 0x1f)} ${Math.floor((bad - o - 3) / (extraBytes((w[o + 1] >>> 24) & 0x1f, 1) >>> 2))}`;
      r.fail(at(bad), `type [${startId + i}] ${what}: name_off ${w[bad]} is past the end of the strings (${strEnd})`);
    }
    const m = maxRefOf(w, offsets[i]);
    if (m > maxRef) maxRef = m;
  }
  const total = startId + n;

  // Only when some reference is out of range: find the first one, to name it.
  if (maxRef >= total) failFirstBadRef(r, w, offsets, n, startId, at);

  // Pass 3: cycles that do not go through a pointer (C needs a pointer to recurse).
  checkCycles(r, w, offsets, n, startId, at);

  // Callers see byte offsets of the records in the blob.
  const recOffsets = new Uint32Array(n);
  for (let i = 0; i < n; i++) recOffsets[i] = typeStart + 4 * offsets[i];
  return rawTypesAt(dv, le, recOffsets, typeStart, typeLen, strings, base);
}

/** Fails on the first type reference at or past `startId + n` (called only when one exists). */
function failFirstBadRef(
  r: ByteReader,
  w: Uint32Array,
  offsets: Uint32Array,
  n: number,
  startId: number,
  at: (o: number) => number,
): never {
  const total = startId + n;
  const checkRef = (q: number, i: number) => {
    if (w[q] >= total) {
      const kind = (w[offsets[i] + 1] >>> 24) & 0x1f;
      r.fail(at(q), `type [${startId + i}] ${KIND_NAMES[kind]} refers to type ${w[q]}, but the last id is ${total - 1}`);
    }
  };
  for (let i = 0; i < n; i++) {
    const o = offsets[i];
    const info = w[o + 1];
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    switch (kind) {
      case INT:
      case FLOAT:
      case FWD:
      case ENUM:
      case ENUM64:
        break;
      case ARRAY:
        checkRef(o + 3, i);
        checkRef(o + 4, i);
        break;
      case STRUCT:
      case UNION:
        for (let k = 0; k < vlen; k++) checkRef(o + 3 + 3 * k + 1, i);
        break;
      case FUNC_PROTO:
        checkRef(o + 2, i);
        for (let k = 0; k < vlen; k++) checkRef(o + 3 + 2 * k + 1, i);
        break;
      case DATASEC:
        for (let k = 0; k < vlen; k++) checkRef(o + 3 + 3 * k, i);
        break;
      default:
        checkRef(o + 2, i);
    }
  }
  throw new Error('unreachable: a reference past the last id was seen but not found');
}

/** Names decoded one at a time before the whole string section is decoded at once. */
const SINGLE_NAMES = 2048;

/**
 * The records at `offsets` (byte offsets in the blob), without checking them: for scanTypes,
 * and for an index file that was verified to be of these very bytes (btf/index-file.ts).
 */
export function rawTypesAt(
  dv: DataView,
  le: boolean,
  offsets: Uint32Array,
  typeStart: number,
  typeLen: number,
  strings: Uint8Array,
  base?: Btf,
  untrusted = false,
): RawTypes {
  const startId = base ? base.length : 1;
  const startStrOff = base ? base.stringsEnd : 0;
  // The whole section is decoded once names are wanted by the thousand (a dump); the few a
  // CO-RE load looks at are decoded one by one (vmlinux's 2.5 MB of names cost ~10 ms cold).
  let strText: string | undefined;
  let single = 0;
  const str = (off: number): string => {
    if (off === 0) return '';
    if (off < startStrOff) return base!.str(off);
    const rel = off - startStrOff;
    if (strText === undefined && ++single <= SINGLE_NAMES && rel >= 0 && rel < strings.length) {
      const end = strings.indexOf(0, rel);
      return Buffer.from(strings.buffer, strings.byteOffset + rel, (end < 0 ? strings.length : end) - rel).toString('latin1');
    }
    strText ??= Buffer.from(strings.buffer, strings.byteOffset, strings.length).toString('latin1');
    return strText.slice(rel, strText.indexOf('\0', rel));
  };

  if (!untrusted)
    return {
      count: offsets.length,
      view: dv,
      offsets,
      typeStart,
      typeLen,
      nameOf: (i) => str(dv.getUint32(offsets[i], le)),
      kindOf: (i) => (dv.getUint32(offsets[i] + 4, le) >>> 24) & 0x1f,
      decode: (i) => decodeType(dv, le, offsets[i], startId + i, str),
    };
  const recordHolds = recordCheck(dv, le, offsets, typeStart, typeLen);
  const checked = (i: number) => {
    if (!recordHolds(i)) throw new IndexCorruptError(`record offset of type [${startId + i}]`);
    return offsets[i];
  };
  return {
    count: offsets.length,
    view: dv,
    offsets,
    typeStart,
    typeLen,
    recordHolds,
    firstBadRecord: () => firstBadRecord(dv, le, offsets, typeStart, typeLen),
    nameOf: (i) => str(dv.getUint32(checked(i), le)),
    kindOf: (i) => (dv.getUint32(checked(i) + 4, le) >>> 24) & 0x1f,
    decode: (i) => decodeType(dv, le, checked(i), startId + i, str),
  };
}

/**
 * Per-lookup check of offsets from an index file: record i must start where record i-1 ends
 * (the first at the section's start) and end where record i+1 starts (the last at its end).
 * A wrong word among offsets i-1..i+1 breaks one of these, so a type is never decoded from a
 * wrong place, at the cost of two record headers per decoded type instead of a whole-file hash.
 */
function recordCheck(dv: DataView, le: boolean, offsets: Uint32Array, typeStart: number, typeLen: number): (i: number) => boolean {
  const typeEnd = typeStart + typeLen;
  const count = offsets.length;
  const endOf = (o: number) => {
    if (o < typeStart || o + 12 > typeEnd || (o - typeStart) % 4 !== 0) return -1;
    const info = dv.getUint32(o + 4, le);
    const end = o + 12 + extraBytes((info >>> 24) & 0x1f, info & 0xffff);
    return end <= typeEnd ? end : -1;
  };
  return (i) => {
    if (!(i >= 0 && i < count)) return false;
    const o = offsets[i];
    const end = endOf(o);
    if (end < 0 || end !== (i + 1 < count ? offsets[i + 1] : typeEnd)) return false;
    return i === 0 ? o === typeStart : endOf(offsets[i - 1]) === o;
  };
}

/**
 * Word index of each record in `w` (a type section as host-order words), found by walking the
 * records: undefined unless exactly `count` of them fill it.
 */
export function recordStarts(w: Uint32Array, count: number): Uint32Array | undefined {
  const recs = new Uint32Array(count);
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (at + 3 > w.length) return undefined;
    recs[i] = at;
    const info = w[at + 1];
    at += 3 + (extraBytes((info >>> 24) & 0x1f, info & 0xffff) >>> 2);
  }
  return at === w.length ? recs : undefined;
}

/** recordCheck() of every record in one walk: each record ends where the next one starts. */
function firstBadRecord(dv: DataView, le: boolean, offsets: Uint32Array, typeStart: number, typeLen: number): number {
  const typeEnd = typeStart + typeLen;
  let at = typeStart;
  for (let i = 0; i < offsets.length; i++) {
    if (offsets[i] !== at || at + 12 > typeEnd) return i;
    const info = dv.getUint32(at + 4, le);
    at += 12 + extraBytes((info >>> 24) & 0x1f, info & 0xffff);
  }
  return at === typeEnd ? -1 : Math.max(0, offsets.length - 1);
}

function decodeType(dv: DataView, le: boolean, o: number, id: number, str: (off: number) => string): BtfType {
  const nameOff = dv.getUint32(o, le);
  const info = dv.getUint32(o + 4, le);
  const sizeOrType = dv.getUint32(o + 8, le);
  const kind = KIND_NAMES[(info >>> 24) & 0x1f] as KindName;
  const vlen = info & 0xffff;
  const kindFlag = info >>> 31 === 1;
  const name = str(nameOff);
  const p = o + 12;
  switch (kind) {
    case 'INT': {
      const v = dv.getUint32(p, le);
      return {
        kind,
        id,
        name,
        nameOff,
        kindFlag,
        size: sizeOrType,
        encoding: (v >>> 24) & 0x0f,
        bitsOffset: (v >>> 16) & 0xff,
        bits: v & 0xff,
      };
    }
    case 'PTR':
    case 'TYPEDEF':
    case 'VOLATILE':
    case 'CONST':
    case 'RESTRICT':
    case 'TYPE_TAG':
      return { kind, id, name, nameOff, kindFlag, type: sizeOrType };
    case 'FWD':
      return { kind, id, name, nameOff, kindFlag };
    case 'FUNC':
      return { kind, id, name, nameOff, kindFlag, type: sizeOrType, linkage: vlen };
    case 'FLOAT':
      return { kind, id, name, nameOff, kindFlag, size: sizeOrType };
    case 'ARRAY':
      return {
        kind,
        id,
        name,
        nameOff,
        kindFlag,
        type: dv.getUint32(p, le),
        indexType: dv.getUint32(p + 4, le),
        nelems: dv.getUint32(p + 8, le),
      };
    case 'STRUCT':
    case 'UNION': {
      const members = new Array(vlen);
      for (let k = 0, q = p; k < vlen; k++, q += 12) {
        const mOff = dv.getUint32(q, le);
        const off = dv.getUint32(q + 8, le);
        members[k] = {
          name: str(mOff),
          nameOff: mOff,
          type: dv.getUint32(q + 4, le),
          bitsOffset: kindFlag ? off & 0xffffff : off,
          bitfieldSize: kindFlag ? off >>> 24 : 0,
        };
      }
      return { kind, id, name, nameOff, kindFlag, size: sizeOrType, members };
    }
    case 'ENUM': {
      const values = new Array(vlen);
      for (let k = 0, q = p; k < vlen; k++, q += 8) {
        const vOff = dv.getUint32(q, le);
        values[k] = { name: str(vOff), nameOff: vOff, value: kindFlag ? dv.getInt32(q + 4, le) : dv.getUint32(q + 4, le) };
      }
      return { kind, id, name, nameOff, kindFlag, size: sizeOrType, values };
    }
    case 'ENUM64': {
      const values = new Array(vlen);
      for (let k = 0, q = p; k < vlen; k++, q += 12) {
        const vOff = dv.getUint32(q, le);
        const raw = (BigInt(dv.getUint32(q + 8, le)) << 32n) | BigInt(dv.getUint32(q + 4, le));
        values[k] = { name: str(vOff), nameOff: vOff, value: kindFlag ? BigInt.asIntN(64, raw) : raw };
      }
      return { kind, id, name, nameOff, kindFlag, size: sizeOrType, values };
    }
    case 'FUNC_PROTO': {
      const params = new Array(vlen);
      for (let k = 0, q = p; k < vlen; k++, q += 8) {
        const pOff = dv.getUint32(q, le);
        params[k] = { name: str(pOff), nameOff: pOff, type: dv.getUint32(q + 4, le) };
      }
      return { kind, id, name, nameOff, kindFlag, type: sizeOrType, params };
    }
    case 'VAR':
      return { kind, id, name, nameOff, kindFlag, type: sizeOrType, linkage: dv.getUint32(p, le) };
    case 'DATASEC': {
      const vars = new Array(vlen);
      for (let k = 0, q = p; k < vlen; k++, q += 12) {
        vars[k] = { type: dv.getUint32(q, le), offset: dv.getUint32(q + 4, le), size: dv.getUint32(q + 8, le) };
      }
      return { kind, id, name, nameOff, kindFlag, size: sizeOrType, vars };
    }
    case 'DECL_TAG':
      return { kind, id, name, nameOff, kindFlag, type: sizeOrType, componentIdx: dv.getInt32(p, le) };
  }
}

/** The words of `[start, start+len)` in host order: a view when aligned and in host order, else a copy. */
export function hostWords(view: DataView, start: number, len: number, le: boolean): Uint32Array {
  const n = len >>> 2;
  const abs = view.byteOffset + start;
  if (le === HOST_LE && abs % 4 === 0) return new Uint32Array(view.buffer, abs, n);
  const w = new Uint32Array(n);
  for (let i = 0; i < n; i++) w[i] = view.getUint32(start + 4 * i, le);
  return w;
}

const HOST_LE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Non-pointer references of the record at word `o`: how many, and the k-th. */
function edgeCount(w: Uint32Array, o: number): number {
  const info = w[o + 1];
  switch ((info >>> 24) & 0x1f) {
    case PTR:
    case INT:
    case FLOAT:
    case FWD:
    case ENUM:
    case ENUM64:
      return 0;
    case ARRAY:
      return 2;
    case STRUCT:
    case UNION:
    case DATASEC:
      return info & 0xffff;
    case FUNC_PROTO:
      return 1 + (info & 0xffff);
    default:
      return 1;
  }
}

function edge(w: Uint32Array, o: number, k: number): number {
  switch ((w[o + 1] >>> 24) & 0x1f) {
    case ARRAY:
      return w[o + 3 + k];
    case STRUCT:
    case UNION:
      return w[o + 3 + 3 * k + 1];
    case DATASEC:
      return w[o + 3 + 3 * k];
    case FUNC_PROTO:
      return k === 0 ? w[o + 2] : w[o + 3 + 2 * (k - 1) + 1];
    default:
      return w[o + 2];
  }
}

/**
 * Depth-first search over the non-pointer references of a blob's own types (an explicit
 * stack: vmlinux chains are deep); a reference back onto the stack is a cycle.
 */
function checkCycles(r: ByteReader, w: Uint32Array, offsets: Uint32Array, n: number, startId: number, at: (o: number) => number): void {
  const state = new Uint8Array(n); // 0 new, 1 on the stack, 2 done
  const stackIdx = new Int32Array(n);
  const stackPos = new Int32Array(n);
  const stackEnd = new Int32Array(n);
  for (let root = 0; root < n; root++) {
    if (state[root]) continue;
    const edges = edgeCount(w, offsets[root]);
    if (edges === 0) {
      state[root] = 2;
      continue;
    }
    let sp = 0;
    stackIdx[0] = root;
    stackPos[0] = 0;
    stackEnd[0] = edges;
    state[root] = 1;
    while (sp >= 0) {
      const i = stackIdx[sp];
      const k = stackPos[sp];
      if (k >= stackEnd[sp]) {
        state[i] = 2;
        sp--;
        continue;
      }
      stackPos[sp] = k + 1;
      const next = edge(w, offsets[i], k) - startId;
      if (next < 0 || state[next] === 2) continue; // void, a base type (checked with the base), or done
      if (state[next] === 1) {
        r.fail(
          at(offsets[next]),
          `type [${startId + next}] ${KIND_NAMES[(w[offsets[next] + 1] >>> 24) & 0x1f]} contains itself (reference cycle without a pointer)`,
        );
      }
      const nextEdges = edgeCount(w, offsets[next]);
      if (nextEdges === 0) {
        state[next] = 2;
        continue;
      }
      state[next] = 1;
      sp++;
      stackIdx[sp] = next;
      stackPos[sp] = 0;
      stackEnd[sp] = nextEdges;
    }
  }
}

/** What the vlen entries of a kind are called in errors. */
function componentName(kind: number): string {
  return kind === FUNC_PROTO ? 'param' : kind === STRUCT || kind === UNION ? 'member' : 'value';
}

/** Word index of the first name offset of the record at `o` past the strings, or -1. */
function checkNames(w: Uint32Array, o: number, strEnd: number): number {
  if (w[o] >= strEnd) return o;
  const info = w[o + 1];
  const vlen = info & 0xffff;
  switch ((info >>> 24) & 0x1f) {
    case STRUCT:
    case UNION:
    case ENUM64:
      for (let k = 0, q = o + 3; k < vlen; k++, q += 3) if (w[q] >= strEnd) return q;
      return -1;
    case ENUM:
    case FUNC_PROTO:
      for (let k = 0, q = o + 3; k < vlen; k++, q += 2) if (w[q] >= strEnd) return q;
      return -1;
    default:
      return -1;
  }
}

/** The largest type id the record at `o` refers to (0 if none). */
function maxRefOf(w: Uint32Array, o: number): number {
  const info = w[o + 1];
  const vlen = info & 0xffff;
  let m = 0;
  switch ((info >>> 24) & 0x1f) {
    case INT:
    case FLOAT:
    case FWD:
    case ENUM:
    case ENUM64:
      return 0;
    case ARRAY:
      return Math.max(w[o + 3], w[o + 4]);
    case STRUCT:
    case UNION:
      for (let k = 0, q = o + 4; k < vlen; k++, q += 3) if (w[q] > m) m = w[q];
      return m;
    case FUNC_PROTO:
      m = w[o + 2];
      for (let k = 0, q = o + 4; k < vlen; k++, q += 2) if (w[q] > m) m = w[q];
      return m;
    case DATASEC:
      for (let k = 0, q = o + 3; k < vlen; k++, q += 3) if (w[q] > m) m = w[q];
      return m;
    default: // PTR, TYPEDEF, modifiers, FUNC, VAR, DECL_TAG, TYPE_TAG: one reference
      return w[o + 2];
  }
}
