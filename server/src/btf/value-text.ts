/**
 * Bytes of a BTF type → a C initializer: `{ .pid = 42, .comm = "bash", .state = RUNNING }`.
 * Integers in decimal by signedness (bitfields sign-extended for signed ints), enums by name,
 * pointers in hex, `char` arrays as strings when printable, anonymous members inline (as C
 * designators reach them). `parseValueText` (value-parse.ts) reads this text back.
 */
import { type Btf } from './btf';
import { ValueFormatError, resolveSize, resolveType } from './value-format';
import { BTF_INT_BOOL, BTF_INT_CHAR, BTF_INT_SIGNED, type BtfComposite, type BtfType, type TypeId } from './types';

const MAX_NESTING = 128;

interface Ctx {
  readonly btf: Btf;
  readonly data: Uint8Array;
  readonly le: boolean;
  chars: number;
  readonly maxChars: number;
}

export interface ValueTextOptions {
  /** Stop with ValueFormatError past this many characters (default 1 MiB). */
  maxChars?: number;
}

export function formatValueC(btf: Btf, typeId: TypeId, data: Uint8Array, opts: ValueTextOptions = {}): string {
  const size = resolveSize(btf, typeId);
  if (size > data.length) throw new ValueFormatError('', data.length, `the type needs ${size} bytes, got ${data.length}`);
  const c: Ctx = { btf, data, le: btf.littleEndian, chars: 0, maxChars: opts.maxChars ?? 1 << 20 };
  return text(c, typeId, 0, 0, 0, '', 0);
}

function bound(c: Ctx, s: string, path: string, at: number): string {
  c.chars += s.length;
  if (c.chars > c.maxChars) throw new ValueFormatError(path, at, `text longer than ${c.maxChars} characters`);
  return s;
}

function readBits(c: Ctx, at: number, bitOff: number, bits: number, path: string): bigint {
  const total = bitOff + bits;
  const nbytes = (total + 7) >> 3;
  if (at + nbytes > c.data.length) throw new ValueFormatError(path, at, `${nbytes} bytes needed, the data ends at ${c.data.length}`);
  let raw = 0n;
  for (let i = 0; i < nbytes; i++) raw = (raw << 8n) | BigInt(c.data[at + (c.le ? nbytes - 1 - i : i)]);
  const shift = c.le ? BigInt(bitOff) : BigInt(nbytes * 8 - total);
  return (raw >> shift) & ((1n << BigInt(bits)) - 1n);
}

function text(c: Ctx, id: TypeId, at: number, bitOff: number, bitfield: number, path: string, depth: number): string {
  if (depth > MAX_NESTING) throw new ValueFormatError(path, at, `types nest deeper than ${MAX_NESTING} levels`);
  const r = resolveType(c.btf, id);
  const t = r < 0 ? undefined : c.btf.get(r);
  if (!t) return bound(c, '(void)', path, at);
  if (bitfield) return intText(c, t, readBits(c, at, bitOff, bitfield, path), bitfield, path, at);
  switch (t.kind) {
    case 'INT': {
      const bits = t.bits;
      return intText(c, t, readBits(c, at, bitOff + t.bitsOffset, bits, path), bits, path, at);
    }
    case 'ENUM':
    case 'ENUM64': {
      const raw = readBits(c, at, 0, t.size * 8, path);
      const hit = t.values.find(
        (e) => BigInt.asUintN(t.size * 8, t.kind === 'ENUM' ? BigInt(Number(e.value) | 0) : BigInt(e.value)) === raw,
      );
      return bound(c, hit ? hit.name : (t.kindFlag ? BigInt.asIntN(t.size * 8, raw) : raw).toString(), path, at);
    }
    case 'PTR': {
      const v = readBits(c, at, 0, 64, path);
      return bound(c, v === 0n ? 'NULL' : '0x' + v.toString(16), path, at);
    }
    case 'FLOAT': {
      if (t.size !== 4 && t.size !== 8) return bound(c, '0x' + readBits(c, at, 0, t.size * 8, path).toString(16), path, at);
      const dv = new DataView(c.data.buffer, c.data.byteOffset + at, t.size);
      return bound(c, String(t.size === 4 ? dv.getFloat32(0, c.le) : dv.getFloat64(0, c.le)), path, at);
    }
    case 'ARRAY':
      return arrayText(c, t.type, t.nelems, at, path, depth);
    case 'STRUCT':
    case 'UNION':
      return '{ ' + recordFields(c, t, at, path, depth).join(', ') + ' }';
    case 'DATASEC':
      return (
        '{ ' + t.vars.map((v) => `.${c.btf.nameOf(v.type)} = ${text(c, v.type, at + v.offset, 0, 0, path, depth + 1)}`).join(', ') + ' }'
      );
    default:
      return bound(c, `(${t.kind.toLowerCase()})`, path, at);
  }
}

function intText(c: Ctx, t: BtfType, raw: bigint, bits: number, path: string, at: number): string {
  if (t.kind === 'ENUM' || t.kind === 'ENUM64') {
    const hit = t.values.find((e) => BigInt.asUintN(bits, t.kind === 'ENUM' ? BigInt(Number(e.value) | 0) : BigInt(e.value)) === raw);
    return bound(c, hit ? hit.name : raw.toString(), path, at);
  }
  if (t.kind !== 'INT') return bound(c, raw.toString(), path, at);
  if (t.encoding & BTF_INT_BOOL) return bound(c, raw ? 'true' : 'false', path, at);
  if (t.encoding & BTF_INT_CHAR || (t.name === 'char' && bits === 8)) {
    if (raw >= 0x20n && raw <= 0x7en) return bound(c, charLiteral(Number(raw)), path, at);
  }
  const signed = (t.encoding & BTF_INT_SIGNED) !== 0;
  return bound(c, (signed ? BigInt.asIntN(bits, raw) : raw).toString(), path, at);
}

function charLiteral(code: number): string {
  const ch = String.fromCharCode(code);
  return ch === "'" || ch === '\\' ? `'\\${ch}'` : `'${ch}'`;
}

function arrayText(c: Ctx, elem: TypeId, nelems: number, at: number, path: string, depth: number): string {
  const s = charString(c, elem, nelems, at);
  if (s !== undefined) return bound(c, s, path, at);
  const size = resolveSize(c.btf, elem);
  if (size < 0) return bound(c, '{}', path, at);
  const parts: string[] = [];
  for (let i = 0; i < nelems; i++) parts.push(text(c, elem, at + i * size, 0, 0, `${path}[${i}]`, depth + 1));
  return parts.length ? '{ ' + parts.join(', ') + ' }' : '{}';
}

/** A C string literal for a char array printable up to its first NUL (or its end). */
function charString(c: Ctx, elem: TypeId, nelems: number, at: number): string | undefined {
  const r = resolveType(c.btf, elem);
  const t = r < 0 ? undefined : c.btf.get(r);
  if (!t || t.kind !== 'INT' || t.size !== 1 || !(t.encoding & BTF_INT_CHAR || t.name === 'char') || !nelems) return undefined;
  let s = '"';
  let i = 0;
  for (; i < nelems && at + i < c.data.length; i++) {
    const b = c.data[at + i];
    if (b === 0) break;
    if (b < 0x20 || b > 0x7e) return undefined;
    s += b === 0x22 || b === 0x5c ? '\\' + String.fromCharCode(b) : String.fromCharCode(b);
  }
  for (let j = i; j < nelems && at + j < c.data.length; j++) if (c.data[at + j] !== 0) return undefined;
  return s + '"';
}

/** `.name = value` for each member; an anonymous member's fields inline. */
function recordFields(c: Ctx, t: BtfComposite, at: number, path: string, depth: number): string[] {
  const out: string[] = [];
  for (const m of t.members) {
    const off = at + (m.bitsOffset >> 3);
    const bitfield = t.kindFlag ? m.bitfieldSize : 0;
    const r = resolveType(c.btf, m.type);
    const mt = r < 0 ? undefined : c.btf.get(r);
    if (!m.name && mt && (mt.kind === 'STRUCT' || mt.kind === 'UNION')) {
      out.push(...recordFields(c, mt, off, path, depth + 1));
      continue;
    }
    const p = path ? `${path}.${m.name}` : m.name;
    out.push(`.${m.name} = ${text(c, m.type, off, m.bitsOffset & 7, bitfield, p, depth + 1)}`);
  }
  return out;
}
