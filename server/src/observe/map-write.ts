/**
 * Map updates and deletes from text: keys and values in the C-like or JSON form of
 * btf/value-parse.ts when the map has BTF for them, else bytes as bpftool takes them
 * (`1 0 0 0`, `hex 01 00 00 00`, `["0x01","0x00"]`). A per-CPU value is written to every CPU
 * (as bpftool does); a prog array or map-of-maps value names a program or map by id.
 */
import { type Btf } from '../btf/btf';
import { ValueParseError, parseValueText } from '../btf/value-parse';
import { type Fd, BPF_ANY, BPF_EXIST, BPF_NOEXIST, BPF_MAP_TYPE } from '../kernel';
import { type MapKernel, type MapRef, type OpenedMap, isPerCpu, mapBtf, userValueSize, valueStride, withMap } from './map-read';

export type UpdateFlag = 'any' | 'noexist' | 'exist';
const FLAGS: Readonly<Record<UpdateFlag, number>> = { any: BPF_ANY, noexist: BPF_NOEXIST, exist: BPF_EXIST };

/** Bytes from a list of numbers: decimal or 0x-hex, or all hex after a leading `hex`; separators: spaces, commas, brackets, quotes. */
export function parseBytes(text: string, size: number, what: string): Uint8Array {
  let tokens = text.split(/[\s,[\]"']+/).filter((t) => t !== '');
  let base = 0;
  if (tokens[0] === 'hex') {
    base = 16;
    tokens = tokens.slice(1);
  }
  if (tokens.length === 1 && size > 1 && size <= 8 && base === 0) return integerBytes(tokens[0], size, what);
  if (tokens.length !== size) throw new ValueParseError(what, `expected ${size} bytes, got ${tokens.length}`);
  return Uint8Array.from(tokens, (t, i) => {
    const v = base === 16 ? (/^(0x)?[0-9a-f]{1,2}$/i.test(t) ? parseInt(t.replace(/^0x/i, ''), 16) : NaN) : parseNumber(t);
    if (!(v >= 0 && v <= 255)) throw new ValueParseError(`${what}[${i}]`, `'${t}' is not a byte`);
    return v;
  });
}

/** One integer for a 2- to 8-byte key or value without BTF: its bytes in host order (little endian here). */
function integerBytes(t: string, size: number, what: string): Uint8Array {
  const m = /^(-)?(0x[0-9a-f]+|\d+)$/i.exec(t);
  const bits = BigInt(size * 8);
  const v = m ? (m[1] ? -BigInt(m[2]) : BigInt(m[2])) : undefined;
  if (v === undefined || v < -(1n << (bits - 1n)) || v >= 1n << bits) {
    throw new ValueParseError(what, `expected ${size} bytes or one integer that fits in them, got '${t}'`);
  }
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  if (size === 8) dv.setBigUint64(0, BigInt.asUintN(64, v), true);
  else for (let i = 0; i < size; i++) out[i] = Number((BigInt.asUintN(size * 8, v) >> BigInt(8 * i)) & 0xffn);
  return out;
}

function parseNumber(t: string): number {
  if (/^0x[0-9a-f]+$/i.test(t)) return parseInt(t.slice(2), 16);
  if (/^\d+$/.test(t)) return Number(t);
  return NaN;
}

/** Key or value bytes from text: through BTF when the map has a type for them. */
function bytesOf(btf: Btf | undefined, typeId: number, size: number, text: string, what: string): Uint8Array {
  if (btf && typeId) {
    try {
      return parseValueText(btf, typeId, text);
    } catch (e) {
      if (e instanceof ValueParseError) throw new ValueParseError(e.field ? `${what}.${e.field}` : what, e.reason);
      throw e;
    }
  }
  return parseBytes(text, size, what);
}

function keyOf(m: OpenedMap, btf: Btf | undefined, text: string | undefined): Uint8Array {
  if (m.info.keySize === 0) {
    if (text !== undefined && text.trim() !== '') throw new ValueParseError('key', 'this map has no keys');
    return new Uint8Array(0);
  }
  if (text === undefined) throw new ValueParseError('key', 'a key is needed');
  return bytesOf(btf, m.info.btfKeyTypeId, m.info.keySize, text, 'key');
}

export interface UpdateRequest {
  readonly key?: string;
  readonly value: string;
  readonly flag?: UpdateFlag;
}

/** BPF_MAP_UPDATE_ELEM from text. */
export function updateMapElement(k: MapKernel, ref: MapRef, req: UpdateRequest): void {
  withMap(k, ref, (m) => {
    const btf = mapBtf(k, m.info);
    const key = keyOf(m, btf, req.key);
    const flags = FLAGS[req.flag ?? 'any'];
    const t = m.info.type;
    if (
      t === BPF_MAP_TYPE.BPF_MAP_TYPE_PROG_ARRAY ||
      t === BPF_MAP_TYPE.BPF_MAP_TYPE_ARRAY_OF_MAPS ||
      t === BPF_MAP_TYPE.BPF_MAP_TYPE_HASH_OF_MAPS
    ) {
      const kind = t === BPF_MAP_TYPE.BPF_MAP_TYPE_PROG_ARRAY ? 'prog' : 'map';
      const id = /^\s*(?:id\s+)?(\d+)\s*$/.exec(req.value);
      if (!id) throw new ValueParseError('value', `expected a ${kind} id ("id 42")`);
      const fd: Fd = k.getFdById(kind, Number(id[1]));
      try {
        const v = new Uint8Array(new Uint32Array([fd]).buffer); // host order, as the kernel reads it
        k.mapUpdateElem(m.fd, key, v, flags);
      } finally {
        k.closeFd(fd);
      }
      return;
    }
    const one = bytesOf(btf, m.info.btfValueTypeId, m.info.valueSize, req.value, 'value');
    let value = one;
    if (isPerCpu(t)) {
      value = new Uint8Array(userValueSize(k, m.info));
      const step = valueStride(m.info);
      for (let off = 0; off < value.length; off += step) value.set(one, off);
    }
    k.mapUpdateElem(m.fd, key, value, flags);
  });
}

/** BPF_MAP_DELETE_ELEM from text: false when the key was absent. */
export function deleteMapElement(k: MapKernel, ref: MapRef, keyText: string): boolean {
  return withMap(k, ref, (m) => k.mapDeleteElem(m.fd, keyOf(m, mapBtf(k, m.info), keyText)));
}
