/**
 * libbpf's USDT spec map values: `struct __bpf_usdt_spec` (usdt.bpf.h) — twelve
 * `struct __bpf_usdt_arg_spec` (val_off, arg_type, reg_off, arg_signed, arg_bitshift; since
 * libbpf 1.7 also idx_reg_off and scale_bitshift bitfields for SIB operands), usdt_cookie and
 * arg_cnt — laid out as the object's BTF says (the header it was compiled with), else as
 * libbpf 1.0–1.6 lay it out; and the spec ids handed out per loaded object, as libbpf's
 * usdt_manager does (a spec id indexes `__bpf_usdt_specs`; ids come back on detach). Pure.
 */
import type { Btf } from '../btf/btf';
import { sizeOf } from '../btf/layout';
import { skipModsAndTypedefs } from '../btf/skip-mods';
import { USDT_ARG, type UsdtArg } from './usdt-args';

interface Field {
  readonly bitOff: number;
  readonly bits: number;
}

export interface UsdtSpecLayout {
  readonly size: number;
  readonly argsOff: number;
  readonly argStride: number;
  readonly maxArgs: number;
  readonly cookie: Field;
  readonly argCnt: Field;
  readonly arg: {
    readonly valOff: Field;
    readonly argType: Field;
    readonly regOff: Field;
    readonly signed: Field;
    readonly bitshift: Field;
    readonly idxRegOff?: Field;
    readonly scaleBitshift?: Field;
  };
}

const f = (bitOff: number, bits: number): Field => ({ bitOff, bits });

/** usdt.bpf.h of libbpf 1.0 to 1.6 (no SIB): 16-byte arg specs, 208-byte spec. */
export const USDT_SPEC_LAYOUT_V1: UsdtSpecLayout = {
  size: 208,
  argsOff: 0,
  argStride: 16,
  maxArgs: 12,
  cookie: f(192 * 8, 64),
  argCnt: f(200 * 8, 16),
  arg: { valOff: f(0, 64), argType: f(64, 32), regOff: f(96, 16), signed: f(112, 8), bitshift: f(120, 8) },
};

function struct(btf: Btf, name: string) {
  for (const id of btf.byName(name)) {
    const t = btf.get(id);
    if (t?.kind === 'STRUCT') return { id, t };
  }
  return undefined;
}

function fieldsOf(btf: Btf, id: number): Map<string, Field> {
  const t = btf.get(id);
  const out = new Map<string, Field>();
  if (t?.kind !== 'STRUCT') return out;
  for (const m of t.members) out.set(m.name, f(m.bitsOffset, m.bitfieldSize || sizeOf(btf, m.type) * 8));
  return out;
}

/**
 * The layout the object was compiled with (its BTF's `struct __bpf_usdt_spec`), else libbpf
 * 1.0–1.6's. Throws when neither fits a value of `valueSize` bytes (the map is not libbpf's).
 */
export function usdtSpecLayout(btf: Btf | undefined, valueSize: number): UsdtSpecLayout {
  const s = btf && struct(btf, '__bpf_usdt_spec');
  if (!s) {
    if (valueSize !== USDT_SPEC_LAYOUT_V1.size)
      throw new Error(`__bpf_usdt_specs has ${valueSize}-byte values and the object has no BTF for struct __bpf_usdt_spec`);
    return USDT_SPEC_LAYOUT_V1;
  }
  const top = fieldsOf(btf, s.id);
  const argsMember = s.t.members.find((m) => m.name === 'args');
  const [, arr] = argsMember ? skipModsAndTypedefs(btf, argsMember.type) : [];
  const bad = (why: string): never => {
    throw new Error(`struct __bpf_usdt_spec in the object's BTF is not libbpf's: ${why}`);
  };
  if (arr?.kind !== 'ARRAY') return bad('no args array');
  const [elemId] = skipModsAndTypedefs(btf, arr.type);
  const a = fieldsOf(btf, elemId);
  const need = (m: Map<string, Field>, name: string) => m.get(name) ?? bad(`no member ${name}`);
  if (s.t.size !== valueSize) bad(`it is ${s.t.size} bytes, the map's values ${valueSize}`);
  return {
    size: s.t.size,
    argsOff: need(top, 'args').bitOff / 8,
    argStride: sizeOf(btf, elemId),
    maxArgs: arr.nelems,
    cookie: need(top, 'usdt_cookie'),
    argCnt: need(top, 'arg_cnt'),
    arg: {
      valOff: need(a, 'val_off'),
      argType: need(a, 'arg_type'),
      regOff: need(a, 'reg_off'),
      signed: need(a, 'arg_signed'),
      bitshift: need(a, 'arg_bitshift'),
      ...(a.has('idx_reg_off') ? { idxRegOff: a.get('idx_reg_off') } : {}),
      ...(a.has('scale_bitshift') ? { scaleBitshift: a.get('scale_bitshift') } : {}),
    },
  };
}

/** Writes `value`'s low `bits` bits at a BTF bit offset (MSB-first numbering in big-endian objects). */
function putBits(buf: Uint8Array, base: number, field: Field, value: bigint, le: boolean): void {
  const v = BigInt.asUintN(field.bits, value);
  for (let i = 0; i < field.bits; i++) {
    const pos = base * 8 + field.bitOff + i;
    const bit = le ? (v >> BigInt(i)) & 1n : (v >> BigInt(field.bits - 1 - i)) & 1n;
    const byte = pos >> 3;
    const mask = le ? 1 << (pos & 7) : 0x80 >> (pos & 7);
    buf[byte] = bit ? buf[byte] | mask : buf[byte] & ~mask;
  }
}

/** One `struct __bpf_usdt_spec` value. */
export function encodeUsdtSpec(layout: UsdtSpecLayout, args: readonly UsdtArg[], cookie: bigint, littleEndian: boolean): Uint8Array {
  if (args.length > layout.maxArgs) throw new Error(`${args.length} arguments, the object's usdt.bpf.h takes ${layout.maxArgs}`);
  const buf = new Uint8Array(layout.size);
  const L = layout.arg;
  args.forEach((a, i) => {
    const at = layout.argsOff + i * layout.argStride;
    if (a.type === USDT_ARG.SIB) {
      if (!L.idxRegOff || !L.scaleBitshift)
        throw new Error(`argument #${i} is a base+index*scale operand: the object's usdt.bpf.h cannot read it (libbpf 1.7+ can)`);
      putBits(buf, at, L.idxRegOff, BigInt(a.idxRegOff ?? 0), littleEndian);
      putBits(buf, at, L.scaleBitshift, BigInt(a.scaleBitshift ?? 0), littleEndian);
    }
    putBits(buf, at, L.valOff, a.valOff, littleEndian);
    putBits(buf, at, L.argType, BigInt(a.type), littleEndian);
    putBits(buf, at, L.regOff, BigInt(a.regOff), littleEndian);
    putBits(buf, at, L.signed, a.signed ? 1n : 0n, littleEndian);
    putBits(buf, at, L.bitshift, BigInt(a.bitshift), littleEndian);
  });
  putBits(buf, 0, layout.cookie, cookie, littleEndian);
  putBits(buf, 0, layout.argCnt, BigInt(args.length), littleEndian);
  return buf;
}

/** Spec ids of one loaded object's `__bpf_usdt_specs` (libbpf's usdt_manager free list). */
export class UsdtSpecIds {
  private next = 0;
  private readonly free: number[] = [];

  /** A free id below `max` (the map's max_entries); throws when every slot is in use. */
  take(max: number): number {
    const id = this.free.pop();
    if (id !== undefined) return id;
    if (this.next >= max) throw new Error(`all ${max} USDT spec slots of __bpf_usdt_specs are in use (BPF_USDT_MAX_SPEC_CNT)`);
    return this.next++;
  }

  give(ids: readonly number[]): void {
    this.free.push(...ids);
  }
}
