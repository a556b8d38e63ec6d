import { ByteReader } from '../common/bytes';
import type { Btf } from './btf';
import { BTF_KIND_MAX, BtfType, KIND_NAMES, KindName } from './types';

// Kind numbers used on the hot path.
const INT = 1, PTR = 2, ARRAY = 3, STRUCT = 4, UNION = 5, ENUM = 6, FUNC_PROTO = 13, VAR = 14,
  DATASEC = 15, DECL_TAG = 17, ENUM64 = 19;

/** Bytes after the 12-byte btf_type header, by kind and vlen. */
function extraBytes(kind: number, vlen: number): number {
  switch (kind) {
    case INT: case VAR: case DECL_TAG: return 4;
    case ARRAY: return 12;
    case STRUCT: case UNION: case DATASEC: case ENUM64: return 12 * vlen;
    case ENUM: case FUNC_PROTO: return 8 * vlen;
    default: return 0;
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
  decode(i: number): BtfType;
  nameOf(i: number): string;
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
  const end = typeStart + typeLen;
  const startId = base ? base.length : 1;
  const startStrOff = base ? base.stringsEnd : 0;
  const strEnd = startStrOff + strings.length;

  // Pass 1: boundaries.
  let offsets = new Uint32Array(Math.max(16, typeLen >>> 4));
  let n = 0;
  for (let o = typeStart; o < end;) {
    const id = startId + n;
    if (o + 12 > end) r.fail(o, `type [${id}] header runs past the end of the type section`);
    const info = dv.getUint32(o + 4, le);
    const kind = (info >>> 24) & 0x1f;
    if (kind === 0 || kind > BTF_KIND_MAX) r.fail(o, `type [${id}] has unknown kind ${kind}`);
    const size = 12 + extraBytes(kind, info & 0xffff);
    if (o + size > end) r.fail(o, `type [${id}] ${KIND_NAMES[kind]} with vlen ${info & 0xffff} runs past the end of the type section`);
    if (n === offsets.length) {
      const grown = new Uint32Array(offsets.length * 2);
      grown.set(offsets);
      offsets = grown;
    }
    offsets[n++] = o;
    o += size;
  }
  offsets = offsets.slice(0, n);
  const total = startId + n;

  // Pass 2: names and references.
  const checkName = (off: number, at: number, id: number, what: string) => {
    if (off >= strEnd) r.fail(at, `type [${id}] ${what}: name_off ${off} is past the end of the strings (${strEnd})`);
  };
  const checkRef = (ref: number, at: number, id: number, kind: number) => {
    if (ref >= total) r.fail(at, `type [${id}] ${KIND_NAMES[kind]} refers to type ${ref}, but the last id is ${total - 1}`);
  };
  for (let i = 0; i < n; i++) {
    const o = offsets[i];
    const id = startId + i;
    const info = dv.getUint32(o + 4, le);
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    checkName(dv.getUint32(o, le), o, id, 'name');
    switch (kind) {
      case INT: case 16 /* FLOAT */: case 7 /* FWD */: break;
      case ARRAY:
        checkRef(dv.getUint32(o + 12, le), o, id, kind);
        checkRef(dv.getUint32(o + 16, le), o, id, kind);
        break;
      case STRUCT: case UNION:
        for (let k = 0, p = o + 12; k < vlen; k++, p += 12) {
          checkName(dv.getUint32(p, le), p, id, `member ${k}`);
          checkRef(dv.getUint32(p + 4, le), p, id, kind);
        }
        break;
      case ENUM:
        for (let k = 0, p = o + 12; k < vlen; k++, p += 8) checkName(dv.getUint32(p, le), p, id, `value ${k}`);
        break;
      case ENUM64:
        for (let k = 0, p = o + 12; k < vlen; k++, p += 12) checkName(dv.getUint32(p, le), p, id, `value ${k}`);
        break;
      case FUNC_PROTO:
        checkRef(dv.getUint32(o + 8, le), o, id, kind);
        for (let k = 0, p = o + 12; k < vlen; k++, p += 8) {
          checkName(dv.getUint32(p, le), p, id, `param ${k}`);
          checkRef(dv.getUint32(p + 4, le), p, id, kind);
        }
        break;
      case DATASEC:
        for (let k = 0, p = o + 12; k < vlen; k++, p += 12) checkRef(dv.getUint32(p, le), p, id, kind);
        break;
      default: // PTR, TYPEDEF, modifiers, FUNC, VAR, DECL_TAG, TYPE_TAG: one reference
        checkRef(dv.getUint32(o + 8, le), o, id, kind);
    }
  }

  // Pass 3: cycles that do not go through a pointer (C needs a pointer to recurse).
  const edgeCount = (i: number): number => {
    const info = dv.getUint32(offsets[i] + 4, le);
    const kind = (info >>> 24) & 0x1f;
    switch (kind) {
      case PTR: case INT: case 16: case 7: case ENUM: case ENUM64: return 0;
      case ARRAY: return 2;
      case STRUCT: case UNION: case DATASEC: return info & 0xffff;
      case FUNC_PROTO: return 1 + (info & 0xffff);
      default: return 1;
    }
  };
  const edge = (i: number, k: number): number => {
    const o = offsets[i];
    const kind = (dv.getUint32(o + 4, le) >>> 24) & 0x1f;
    switch (kind) {
      case ARRAY: return dv.getUint32(o + 12 + 4 * k, le);
      case STRUCT: case UNION: return dv.getUint32(o + 12 + 12 * k + 4, le);
      case DATASEC: return dv.getUint32(o + 12 + 12 * k, le);
      case FUNC_PROTO: return k === 0 ? dv.getUint32(o + 8, le) : dv.getUint32(o + 12 + 8 * (k - 1) + 4, le);
      default: return dv.getUint32(o + 8, le);
    }
  };
  const state = new Uint8Array(n); // 0 new, 1 on the stack, 2 done
  const stackIdx = new Int32Array(n);
  const stackPos = new Int32Array(n);
  for (let root = 0; root < n; root++) {
    if (state[root]) continue;
    let sp = 0;
    stackIdx[0] = root;
    stackPos[0] = 0;
    state[root] = 1;
    while (sp >= 0) {
      const i = stackIdx[sp];
      const k = stackPos[sp];
      if (k >= edgeCount(i)) {
        state[i] = 2;
        sp--;
        continue;
      }
      stackPos[sp] = k + 1;
      const next = edge(i, k) - startId;
      if (next < 0) continue; // void or a base type: the base was checked when it was parsed
      if (state[next] === 1) {
        r.fail(offsets[next], `type [${startId + next}] ${KIND_NAMES[(dv.getUint32(offsets[next] + 4, le) >>> 24) & 0x1f]} contains itself (reference cycle without a pointer)`);
      }
      if (state[next] === 0) {
        state[next] = 1;
        sp++;
        stackIdx[sp] = next;
        stackPos[sp] = 0;
      }
    }
  }

  const strText = Buffer.from(strings.buffer, strings.byteOffset, strings.length).toString('latin1');
  const str = (off: number): string => {
    if (off === 0) return '';
    if (off < startStrOff) return base!.str(off);
    const rel = off - startStrOff;
    return strText.slice(rel, strText.indexOf('\0', rel));
  };

  return {
    count: n,
    view: dv,
    offsets,
    nameOf: (i) => str(dv.getUint32(offsets[i], le)),
    decode: (i) => decodeType(dv, le, offsets[i], startId + i, str),
  };
}

function decodeType(dv: DataView, le: boolean, o: number, id: number, str: (off: number) => string): BtfType {
  const nameOff = dv.getUint32(o, le);
  const info = dv.getUint32(o + 4, le);
  const sizeOrType = dv.getUint32(o + 8, le);
  const kind = KIND_NAMES[(info >>> 24) & 0x1f] as KindName;
  const vlen = info & 0xffff;
  const kindFlag = (info >>> 31) === 1;
  const name = str(nameOff);
  const p = o + 12;
  switch (kind) {
    case 'INT': {
      const v = dv.getUint32(p, le);
      return { kind, id, name, nameOff, kindFlag, size: sizeOrType, encoding: (v >>> 24) & 0x0f, bitsOffset: (v >>> 16) & 0xff, bits: v & 0xff };
    }
    case 'PTR': case 'TYPEDEF': case 'VOLATILE': case 'CONST': case 'RESTRICT': case 'TYPE_TAG':
      return { kind, id, name, nameOff, kindFlag, type: sizeOrType };
    case 'FWD':
      return { kind, id, name, nameOff, kindFlag };
    case 'FUNC':
      return { kind, id, name, nameOff, kindFlag, type: sizeOrType, linkage: vlen };
    case 'FLOAT':
      return { kind, id, name, nameOff, kindFlag, size: sizeOrType };
    case 'ARRAY':
      return { kind, id, name, nameOff, kindFlag, type: dv.getUint32(p, le), indexType: dv.getUint32(p + 4, le), nelems: dv.getUint32(p + 8, le) };
    case 'STRUCT': case 'UNION': {
      const members = new Array(vlen);
      for (let k = 0, q = p; k < vlen; k++, q += 12) {
        const mOff = dv.getUint32(q, le);
        const off = dv.getUint32(q + 8, le);
        members[k] = {
          name: str(mOff), nameOff: mOff, type: dv.getUint32(q + 4, le),
          bitsOffset: kindFlag ? off & 0xffffff : off, bitfieldSize: kindFlag ? off >>> 24 : 0,
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
