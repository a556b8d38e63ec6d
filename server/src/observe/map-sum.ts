/**
 * The Sum column of a per-CPU map: the CPUs' values added up, as one value of the map's type.
 * Only a value whose every leaf is an integer counter sums: an integer, or arrays and structs
 * made of them (`struct { __u64 packets, bytes; }`). A value with a char array, an enum, a
 * pointer, a bool, a float, a union or a bitfield has parts whose sum means nothing (a name, a
 * state, an address), so it gets no Sum: the view shows the per-CPU columns only, rather than a
 * half-summed struct that reads like a real value. Each field wraps at its own width, as one
 * counter of that type would.
 */
import { type Btf } from '../btf/btf';
import { resolveType } from '../btf/value-format';
import { BTF_INT_BOOL, BTF_INT_CHAR, type TypeId } from '../btf/types';

/** An integer field of the value: byte offset and size. */
interface Leaf {
  readonly at: number;
  readonly size: number;
}

const MAX_LEAVES = 4096;

/** The integer leaves of a type at byte offset `at`, or undefined when some part does not sum. */
function leaves(btf: Btf, id: TypeId, at: number, out: Leaf[], depth = 0): boolean {
  if (depth > 32 || out.length > MAX_LEAVES) return false;
  const r = resolveType(btf, id);
  const t = r < 0 ? undefined : btf.get(r);
  if (!t) return false;
  switch (t.kind) {
    case 'INT':
      // `char` (clang gives it no CHAR encoding: the name tells) holds text, not a count
      if (t.encoding & (BTF_INT_CHAR | BTF_INT_BOOL) || t.name === 'char' || t.bitsOffset || t.bits !== t.size * 8 || t.size > 16)
        return false;
      out.push({ at, size: t.size });
      return true;
    case 'ARRAY': {
      const size = elementSize(btf, t.type);
      if (size === undefined) return false;
      for (let i = 0; i < t.nelems; i++) if (!leaves(btf, t.type, at + i * size, out, depth + 1)) return false;
      return true;
    }
    case 'STRUCT':
      return t.members.every(
        (m) => !m.bitfieldSize && m.bitsOffset % 8 === 0 && leaves(btf, m.type, at + m.bitsOffset / 8, out, depth + 1),
      );
    default:
      return false;
  }
}

function elementSize(btf: Btf, id: TypeId): number | undefined {
  const r = resolveType(btf, id);
  const t = r < 0 ? undefined : btf.get(r);
  if (!t) return undefined;
  if (t.kind === 'INT' || t.kind === 'STRUCT') return t.size;
  if (t.kind === 'ARRAY') {
    const e = elementSize(btf, t.type);
    return e === undefined ? undefined : e * t.nelems;
  }
  return undefined;
}

function readUint(b: Uint8Array, at: number, size: number, le: boolean): bigint {
  let v = 0n;
  for (let i = 0; i < size; i++) v = (v << 8n) | BigInt(b[at + (le ? size - 1 - i : i)]);
  return v;
}

function writeUint(b: Uint8Array, at: number, size: number, le: boolean, v: bigint): void {
  for (let i = 0; i < size; i++) b[at + (le ? i : size - 1 - i)] = Number((v >> BigInt(8 * i)) & 0xffn);
}

/**
 * The per-CPU `values` (each `size` bytes of type `typeId`) added field by field; undefined when
 * the type has a part that does not sum (see the file comment).
 */
export function sumPerCpu(btf: Btf, typeId: TypeId, size: number, values: readonly Uint8Array[]): Uint8Array | undefined {
  const list: Leaf[] = [];
  if (!typeId || !leaves(btf, typeId, 0, list) || !list.length) return undefined;
  if (list.some((l) => l.at + l.size > size)) return undefined;
  const out = new Uint8Array(size);
  const le = btf.littleEndian;
  for (const l of list) {
    let s = 0n;
    for (const v of values) s += readUint(v, l.at, l.size, le);
    // two's complement: signed fields add up the same way, and wrap like one counter would
    writeUint(out, l.at, l.size, le, BigInt.asUintN(l.size * 8, s));
  }
  return out;
}
