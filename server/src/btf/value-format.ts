/**
 * Bytes of a BTF type → the JSON text bpftool's btf_dumper writes for them (the `formatted`
 * key/value of `bpftool -j map dump`, and with `plain` the pretty text of `bpftool map dump`).
 * The rules follow the dumper of bpftool v7.1: integers by size and signedness (64-bit values
 * exact: the text is built from BigInt, never a JS number), bitfields and odd-width ints as hex
 * strings, `char` arrays as strings when every byte before a NUL is printable, enums by name
 * (else the signed number), pointers as unsigned numbers (plain: `%p`), structs and unions as
 * objects (anonymous members under the name ""), DATASEC as {section: [{var: value}]}.
 * Kinds bpftool cannot dump (FLOAT, FUNC, …) print "(unsupported-kind)" and stop, as bpftool
 * does; `floats` prints FLOAT values as numbers instead.
 */
import { type Btf } from './btf';
import { JsonWriter, type JsonWriterOptions } from './json-writer';
import { BTF_INT_BOOL, BTF_INT_CHAR, BTF_INT_SIGNED, type BtfComposite, type BtfInt, type BtfType, type TypeId } from './types';

/** The bytes are shorter than the type, or the BTF cannot describe them. */
export class ValueFormatError extends Error {
  constructor(
    readonly path: string,
    readonly offset: number,
    reason: string,
  ) {
    super(`${path || 'value'}: byte ${offset}: ${reason}`);
    this.name = 'ValueFormatError';
  }
}

export interface ValueFormatOptions {
  /** bpftool's is_plain_text: pointers as %p, bitfields and chars unquoted. */
  plain?: boolean;
  /** Print FLOAT values as numbers (bpftool prints "(unsupported-kind)"). */
  floats?: boolean;
}

/** libbpf's MAX_RESOLVE_DEPTH, and a bound on nesting for hostile BTF (a struct that holds itself). */
const MAX_RESOLVE_DEPTH = 32;
const MAX_NESTING = 128;

interface Ctx {
  readonly btf: Btf;
  readonly w: JsonWriter;
  readonly data: Uint8Array;
  readonly le: boolean;
  readonly opts: ValueFormatOptions;
}

/**
 * Writes the value of `typeId` held at `data[0..]` to `w`. Returns false where bpftool's dumper
 * returns an error (the text written so far stays, as bpftool leaves it); throws
 * ValueFormatError when `data` is too short for the type.
 */
export function writeValue(btf: Btf, typeId: TypeId, data: Uint8Array, w: JsonWriter, opts: ValueFormatOptions = {}): boolean {
  const size = resolveSize(btf, typeId);
  if (size > data.length) throw new ValueFormatError('', data.length, `the type needs ${size} bytes, got ${data.length}`);
  return doType({ btf, w, data, le: btf.littleEndian, opts }, typeId, 0, 0, '', 0);
}

/** The compact JSON text of a value (bpftool's `formatted` text for it). */
export function formatValueJson(btf: Btf, typeId: TypeId, data: Uint8Array, opts: ValueFormatOptions & JsonWriterOptions = {}): string {
  const w = new JsonWriter(opts);
  writeValue(btf, typeId, data, w, opts);
  return w.text();
}

function doType(c: Ctx, id: TypeId, bitOff: number, at: number, path: string, depth: number): boolean {
  if (depth > MAX_NESTING) throw new ValueFormatError(path, at, `types nest deeper than ${MAX_NESTING} levels`);
  if (!c.btf.has(id)) throw new ValueFormatError(path, at, `BTF type id ${id} is out of range`);
  const t = c.btf.get(id);
  if (!t) {
    c.w.raw('(unknown)');
    return true;
  }
  switch (t.kind) {
    case 'INT':
      return dumpInt(c, t, bitOff, at, path);
    case 'STRUCT':
    case 'UNION':
      return dumpRecord(c, t, at, path, depth);
    case 'ARRAY':
      return dumpArray(c, t.type, t.nelems, at, path, depth);
    case 'ENUM':
      return dumpEnum(c, t, at, path);
    case 'ENUM64':
      return dumpEnum64(c, t, at, path);
    case 'PTR':
      dumpPtr(c, at, path);
      return true;
    case 'FWD':
      c.w.raw('(fwd-kind-invalid)');
      return false;
    case 'TYPEDEF':
    case 'VOLATILE':
    case 'CONST':
    case 'RESTRICT': {
      const r = resolveType(c.btf, id);
      return r < 0 ? false : doType(c, r, bitOff, at, path, depth + 1);
    }
    case 'VAR':
      c.w.startObject();
      c.w.name(t.name);
      try {
        return doType(c, t.type, bitOff, at, join(path, t.name), depth + 1);
      } finally {
        c.w.endObject();
      }
    case 'DATASEC':
      return dumpDatasec(c, t.name, t.vars, at, path, depth);
    case 'FLOAT':
      if (c.opts.floats && (t.size === 4 || t.size === 8)) {
        const dv = view(c, at, t.size, path);
        c.w.raw(jsonNumber(t.size === 4 ? dv.getFloat32(0, c.le) : dv.getFloat64(0, c.le)));
        return true;
      }
      c.w.raw('(unsupported-kind)');
      return false;
    default:
      c.w.raw('(unsupported-kind)');
      return false;
  }
}

function jsonNumber(v: number): string {
  return Number.isFinite(v) ? String(v) : `"${String(v)}"`;
}

function join(path: string, name: string): string {
  return path ? `${path}.${name}` : name;
}

function view(c: Ctx, at: number, size: number, path: string): DataView {
  if (at + size > c.data.length) throw new ValueFormatError(path, at, `${size} bytes needed, the data ends at ${c.data.length}`);
  return new DataView(c.data.buffer, c.data.byteOffset + at, size);
}

/** Unsigned integer of `size` bytes at `at`, in the BTF's byte order. */
function readUnsigned(c: Ctx, at: number, size: number, path: string): bigint {
  view(c, at, size, path);
  let v = 0n;
  for (let i = 0; i < size; i++) {
    const b = c.data[at + (c.le ? size - 1 - i : i)];
    v = (v << 8n) | BigInt(b);
  }
  return v;
}

/** bpftool's btf_dumper_bitfield: `bits` bits from bit `bitOff` of the bytes at `at`, as hex. */
function dumpBitfield(c: Ctx, bits: number, bitOff: number, at: number, path: string): void {
  const total = bitOff + bits;
  const nbytes = Math.min(16, (total + 7) >> 3);
  const raw = readUnsigned(c, at, nbytes, path);
  const mask = (1n << BigInt(Math.min(bits, 128))) - 1n;
  // little endian: bit 0 is the lowest of the first byte; big endian: the highest
  const shift = c.le ? BigInt(bitOff) : BigInt(Math.max(0, nbytes * 8 - total));
  printHex128(c, (raw >> shift) & mask);
}

function printHex128(c: Ctx, v: bigint): void {
  const text = '0x' + v.toString(16);
  c.w.raw(c.opts.plain ? text : `"${text}"`);
}

function dumpInt(c: Ctx, t: BtfInt, bitOff: number, at: number, path: string): boolean {
  const bits = t.bits;
  if (bitOff || t.bitsOffset || bits & 7) {
    const total = bitOff + t.bitsOffset;
    dumpBitfield(c, bits, total & 7, at + (total >> 3), path);
    return true;
  }
  if (bits === 128) {
    printHex128(c, readUnsigned(c, at, 16, path));
    return true;
  }
  const enc = t.encoding;
  if (enc === 0 || enc === BTF_INT_SIGNED) {
    if (bits !== 8 && bits !== 16 && bits !== 32 && bits !== 64) {
      dumpBitfield(c, bits, 0, at, path);
      return true;
    }
    const u = readUnsigned(c, at, bits / 8, path);
    c.w.raw((enc === BTF_INT_SIGNED ? BigInt.asIntN(bits, u) : u).toString());
    return true;
  }
  if (enc === BTF_INT_CHAR) {
    const b = c.data[at];
    view(c, at, 1, path);
    if (b >= 0x20 && b <= 0x7e) c.w.raw(`"${String.fromCharCode(b)}"`);
    else c.w.raw(c.opts.plain ? '0x' + b.toString(16) : `"\\u00${b.toString(16).padStart(2, '0')}"`);
    return true;
  }
  if (enc === BTF_INT_BOOL) {
    view(c, at, 1, path);
    c.w.bool(c.data[at] !== 0);
    return true;
  }
  return false;
}

function dumpRecord(c: Ctx, t: BtfComposite, at: number, path: string, depth: number): boolean {
  c.w.startObject();
  let ok = true;
  for (const m of t.members) {
    const bitOffset = m.bitsOffset;
    const bitfieldSize = t.kindFlag ? m.bitfieldSize : 0;
    c.w.name(m.name);
    const off = at + (bitOffset >> 3);
    const p = join(path, m.name);
    if (bitfieldSize) dumpBitfield(c, bitfieldSize, bitOffset & 7, off, p);
    else if (!doType(c, m.type, bitOffset & 7, off, p, depth + 1)) {
      ok = false;
      break;
    }
  }
  c.w.endObject();
  return ok;
}

function dumpArray(c: Ctx, elem: TypeId, nelems: number, at: number, path: string, depth: number): boolean {
  const str = strArray(c, elem, nelems, at);
  if (str !== undefined) {
    c.w.string(str);
    return true;
  }
  const size = resolveSize(c.btf, elem);
  if (size < 0) return false;
  if (at + size * nelems > c.data.length) {
    throw new ValueFormatError(path, at, `${nelems} elements of ${size} bytes run past the data's ${c.data.length} bytes`);
  }
  c.w.startArray();
  let ok = true;
  for (let i = 0; i < nelems; i++) {
    if (!doType(c, elem, 0, at + i * size, `${path}[${i}]`, depth + 1)) {
      ok = false;
      break;
    }
  }
  c.w.endArray();
  return ok;
}

/** bpftool's is_str_array: char elements (modifiers skipped, not typedefs), printable up to a NUL. */
function strArray(c: Ctx, elem: TypeId, nelems: number, at: number): string | undefined {
  if (!nelems) return undefined;
  let t: BtfType | undefined = c.btf.has(elem) ? c.btf.get(elem) : undefined;
  for (let i = 0; t && isMod(t) && i < MAX_RESOLVE_DEPTH; i++) t = c.btf.has(t.type) ? c.btf.get(t.type) : undefined;
  if (!t || t.kind !== 'INT' || t.size !== 1) return undefined;
  if (t.encoding !== BTF_INT_CHAR && t.name !== 'char') return undefined;
  let s = '';
  for (let i = 0; i < nelems && at + i < c.data.length; i++) {
    const b = c.data[at + i];
    if (b === 0) return s;
    if (b <= 0x1f || b >= 0x7f) return undefined;
    s += String.fromCharCode(b);
  }
  return undefined;
}

function isMod(t: BtfType): t is Extract<BtfType, { kind: 'VOLATILE' | 'CONST' | 'RESTRICT' | 'TYPE_TAG' }> {
  return t.kind === 'VOLATILE' || t.kind === 'CONST' || t.kind === 'RESTRICT' || t.kind === 'TYPE_TAG';
}

function dumpEnum(c: Ctx, t: Extract<BtfType, { kind: 'ENUM' }>, at: number, path: string): boolean {
  if (t.size !== 1 && t.size !== 2 && t.size !== 4 && t.size !== 8) return false;
  const v = BigInt.asIntN(t.size * 8, readUnsigned(c, at, t.size, path));
  const hit = t.values.find((e) => BigInt(e.value | 0) === v);
  if (hit) c.w.string(hit.name);
  else c.w.raw(v.toString());
  return true;
}

function dumpEnum64(c: Ctx, t: Extract<BtfType, { kind: 'ENUM64' }>, at: number, path: string): boolean {
  const v = readUnsigned(c, at, 8, path);
  const hit = t.values.find((e) => BigInt.asUintN(64, e.value) === v);
  if (hit) c.w.string(hit.name);
  else c.w.raw(BigInt.asIntN(64, v).toString());
  return true;
}

/** bpftool reads an `unsigned long`: 8 bytes on the 64-bit hosts BPF runs on. */
function dumpPtr(c: Ctx, at: number, path: string): void {
  const v = readUnsigned(c, at, 8, path);
  if (!c.opts.plain) c.w.raw(v.toString());
  else c.w.raw(v === 0n ? '(nil)' : '0x' + v.toString(16));
}

function dumpDatasec(
  c: Ctx,
  name: string,
  vars: readonly { type: TypeId; offset: number }[],
  at: number,
  path: string,
  depth: number,
): boolean {
  c.w.startObject();
  c.w.name(name);
  c.w.startArray();
  let ok = true;
  for (const v of vars) {
    if (!doType(c, v.type, 0, at + v.offset, path, depth + 1)) {
      ok = false;
      break;
    }
  }
  c.w.endArray();
  c.w.endObject();
  return ok;
}

/** libbpf's btf__resolve_type: typedefs, modifiers and VARs skipped; -1 on void or a long chain. */
export function resolveType(btf: Btf, id: TypeId): TypeId {
  let t = btf.has(id) ? btf.get(id) : undefined;
  let depth = 0;
  while (depth < MAX_RESOLVE_DEPTH && t && (isMod(t) || t.kind === 'TYPEDEF' || t.kind === 'VAR')) {
    id = t.type;
    t = btf.has(id) ? btf.get(id) : undefined;
    depth++;
  }
  return depth === MAX_RESOLVE_DEPTH || !t ? -1 : id;
}

/** libbpf's btf__resolve_size: -1 for types without a size (void, functions, forward declarations). */
export function resolveSize(btf: Btf, id: TypeId): number {
  let nelems = 1;
  for (let depth = 0; depth < MAX_RESOLVE_DEPTH; depth++) {
    const t = btf.has(id) ? btf.get(id) : undefined;
    if (!t) return -1;
    switch (t.kind) {
      case 'INT':
      case 'STRUCT':
      case 'UNION':
      case 'ENUM':
      case 'ENUM64':
      case 'DATASEC':
      case 'FLOAT':
        return checkedSize(nelems, t.size);
      case 'PTR':
        return checkedSize(nelems, 8);
      case 'TYPEDEF':
      case 'VOLATILE':
      case 'CONST':
      case 'RESTRICT':
      case 'TYPE_TAG':
      case 'VAR':
        id = t.type;
        break;
      case 'ARRAY':
        if (nelems && t.nelems > 0xffffffff / nelems) return -1;
        nelems *= t.nelems;
        id = t.type;
        break;
      default:
        return -1;
    }
  }
  return -1;
}

function checkedSize(nelems: number, size: number): number {
  if (nelems && size > 0xffffffff / nelems) return -1;
  return nelems * size;
}
