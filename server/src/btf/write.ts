import { ByteWriter } from '../common/bytes';
import { Btf, extraSize } from './btf';
import { BTF_HEADER_SIZE, BTF_MAGIC, type BtfType, type NewType, type TypeId, kindNumber } from './types';

/**
 * Encodes a blob's own types and strings (a split blob stays split: its ids and string
 * offsets keep continuing after its base's). Uses the types' nameOff fields as they are,
 * so BTF parsed from bytes writes back byte for byte.
 */
export function writeBtf(btf: Btf, littleEndian = btf.littleEndian): Uint8Array {
  let typeLen = 0;
  for (const t of btf.types) typeLen += 12 + extraSize(t);
  const w = new ByteWriter(littleEndian, BTF_HEADER_SIZE + typeLen + btf.strings.length);
  w.u16(BTF_MAGIC);
  w.u8(1);
  w.u8(btf.header?.flags ?? 0);
  w.u32(BTF_HEADER_SIZE);
  w.u32(0);
  w.u32(typeLen);
  w.u32(typeLen);
  w.u32(btf.strings.length);
  for (const t of btf.types) writeType(w, t);
  w.bytes(btf.strings);
  return w.finish();
}

function info(t: BtfType, vlen: number): number {
  return (((t.kindFlag ? 1 : 0) << 31) | (kindNumber(t.kind) << 24) | (vlen & 0xffff)) >>> 0;
}

export function writeType(w: ByteWriter, t: BtfType): void {
  w.u32(t.nameOff);
  switch (t.kind) {
    case 'INT':
      w.u32(info(t, 0));
      w.u32(t.size);
      w.u32((t.encoding << 24) | (t.bitsOffset << 16) | t.bits);
      return;
    case 'PTR':
    case 'TYPEDEF':
    case 'VOLATILE':
    case 'CONST':
    case 'RESTRICT':
    case 'TYPE_TAG':
      w.u32(info(t, 0));
      w.u32(t.type);
      return;
    case 'FWD':
      w.u32(info(t, 0));
      w.u32(0);
      return;
    case 'FUNC':
      w.u32(info(t, t.linkage));
      w.u32(t.type);
      return;
    case 'FLOAT':
      w.u32(info(t, 0));
      w.u32(t.size);
      return;
    case 'ARRAY':
      w.u32(info(t, 0));
      w.u32(0);
      w.u32(t.type);
      w.u32(t.indexType);
      w.u32(t.nelems);
      return;
    case 'STRUCT':
    case 'UNION':
      w.u32(info(t, t.members.length));
      w.u32(t.size);
      for (const m of t.members) {
        w.u32(m.nameOff);
        w.u32(m.type);
        w.u32(t.kindFlag ? ((m.bitfieldSize << 24) | m.bitsOffset) >>> 0 : m.bitsOffset);
      }
      return;
    case 'ENUM':
      w.u32(info(t, t.values.length));
      w.u32(t.size);
      for (const v of t.values) {
        w.u32(v.nameOff);
        w.u32(v.value >>> 0);
      }
      return;
    case 'ENUM64':
      w.u32(info(t, t.values.length));
      w.u32(t.size);
      for (const v of t.values) {
        const u = BigInt.asUintN(64, v.value);
        w.u32(v.nameOff);
        w.u32(Number(u & 0xffffffffn));
        w.u32(Number(u >> 32n));
      }
      return;
    case 'FUNC_PROTO':
      w.u32(info(t, t.params.length));
      w.u32(t.type);
      for (const p of t.params) {
        w.u32(p.nameOff);
        w.u32(p.type);
      }
      return;
    case 'VAR':
      w.u32(info(t, 0));
      w.u32(t.type);
      w.u32(t.linkage);
      return;
    case 'DATASEC':
      w.u32(info(t, t.vars.length));
      w.u32(t.size);
      for (const v of t.vars) {
        w.u32(v.type);
        w.u32(v.offset);
        w.u32(v.size);
      }
      return;
    case 'DECL_TAG':
      w.u32(info(t, 0));
      w.u32(t.type);
      w.i32(t.componentIdx);
      return;
  }
}

/**
 * Builds new BTF (optionally split on a base): types are added with their names, and
 * the builder interns the strings and assigns nameOffs and ids. Used wherever BPF Lens
 * makes BTF rather than reads it: distill, relocate, sanitise, __arg_ctx clones, link.
 */
export class BtfBuilder {
  private readonly types: BtfType[] = [];
  private readonly strOffsets = new Map<string, number>();
  private readonly strChunks: Buffer[] = [Buffer.from([0])];
  private strLen = 1;

  constructor(
    readonly base?: Btf,
    readonly littleEndian = base?.littleEndian ?? true,
  ) {
    this.strOffsets.set('', 0);
  }

  get startId(): number {
    return this.base ? this.base.length : 1;
  }

  /** Id the next added type will get. */
  get nextId(): TypeId {
    return this.startId + this.types.length;
  }

  /** Interns a string; returns its offset in the final BTF (after the base's strings). */
  addString(s: string): number {
    if (s === '') return 0;
    const have = this.strOffsets.get(s);
    if (have !== undefined) return have;
    const off = (this.base ? this.base.stringsEnd : 0) + this.strLen;
    const buf = Buffer.from(s + '\0', 'latin1');
    this.strChunks.push(buf);
    this.strLen += buf.length;
    this.strOffsets.set(s, off);
    return off;
  }

  /** Adds a type; names (of the type and its members/values/params) are interned here. */
  add(t: NewType): TypeId {
    const id = this.nextId;
    const named = <T extends { name: string }>(x: T) => ({ ...x, nameOff: this.addString(x.name) });
    let out: BtfType;
    switch (t.kind) {
      case 'STRUCT':
      case 'UNION':
        out = { ...t, id, nameOff: this.addString(t.name), members: t.members.map(named) };
        break;
      case 'ENUM':
        out = { ...t, id, nameOff: this.addString(t.name), values: t.values.map(named) };
        break;
      case 'ENUM64':
        out = { ...t, id, nameOff: this.addString(t.name), values: t.values.map(named) };
        break;
      case 'FUNC_PROTO':
        out = { ...t, id, nameOff: this.addString(t.name), params: t.params.map(named) };
        break;
      default:
        out = { ...t, id, nameOff: this.addString(t.name) };
    }
    this.types.push(out);
    return id;
  }

  /** Replaces an already added type (e.g. to close a reference loop after adding its targets). */
  replace(id: TypeId, t: NewType): void {
    const idx = id - this.startId;
    if (idx < 0 || idx >= this.types.length) throw new RangeError(`BtfBuilder: no own type ${id}`);
    const saved = this.types.length;
    this.add(t);
    const made = this.types.pop()!;
    this.types[idx] = { ...made, id };
    if (this.types.length !== saved) throw new Error('BtfBuilder.replace: internal error');
  }

  build(): Btf {
    return new Btf(this.types.slice(), Buffer.concat(this.strChunks), this.littleEndian, this.base);
  }
}
