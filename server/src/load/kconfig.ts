/**
 * `.kconfig` externs: the target's kernel config (`CONFIG_FOO=y`, `=m`, numbers, "strings"),
 * libbpf's own `LINUX_*` values, and how each value is written into the `.kconfig` map for
 * the extern's C type (bool, tristate, char, integers, char arrays), as libbpf's
 * set_kcfg_value_* do. Pure: the text comes from KernelOps.kconfigText.
 */
import type { Btf } from '../btf/btf';
import { BTF_INT_BOOL, BTF_INT_SIGNED } from '../btf/types';

/** `CONFIG_FOO` → its value text (`y`, `m`, `0x10`, `"str"`); `# ... is not set` lines are absent. */
export function parseKconfig(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) out.set(m[1], m[2]);
  }
  return out;
}

/** The C shape of a kconfig extern, as libbpf classifies it. */
export type KcfgType =
  | { readonly kind: 'bool' }
  | { readonly kind: 'char' }
  | { readonly kind: 'tristate' }
  | { readonly kind: 'int'; readonly size: number; readonly signed: boolean }
  | { readonly kind: 'char_arr'; readonly len: number };

/** Classifies a kconfig VAR's type; undefined for types libbpf refuses. */
export function kcfgType(btf: Btf, typeId: number): KcfgType | undefined {
  let id = typeId;
  for (let guard = 0; guard < 64; guard++) {
    const t = btf.get(id);
    if (!t) return undefined;
    switch (t.kind) {
      case 'TYPEDEF':
      case 'CONST':
      case 'VOLATILE':
      case 'RESTRICT':
      case 'TYPE_TAG':
        id = t.type;
        continue;
      case 'INT':
        if (t.encoding & BTF_INT_BOOL) return t.size === 1 ? { kind: 'bool' } : undefined;
        if (t.size === 1 && t.name === 'char') return { kind: 'char' };
        if (![1, 2, 4, 8].includes(t.size) || t.bitsOffset !== 0) return undefined;
        return { kind: 'int', size: t.size, signed: (t.encoding & BTF_INT_SIGNED) !== 0 };
      case 'ENUM':
        return t.name === 'libbpf_tristate' && t.size === 4 ? { kind: 'tristate' } : { kind: 'int', size: t.size, signed: false };
      case 'ARRAY': {
        const el = btf.get(t.type);
        return el?.kind === 'INT' && el.size === 1 ? { kind: 'char_arr', len: t.nelems } : undefined;
      }
      default:
        return undefined;
    }
  }
  return undefined;
}

/**
 * Encodes `value` (config text) for `type`; throws an Error with the reason when the value
 * does not fit the type (libbpf refuses the same values).
 */
export function encodeKcfgValue(name: string, type: KcfgType, value: string, littleEndian: boolean): Uint8Array {
  const tri = value === 'y' || value === 'n' || value === 'm';
  switch (type.kind) {
    case 'bool':
      if (value === 'm') throw new Error(`extern (kcfg) '${name}': value 'm' but the variable is bool`);
      if (value !== 'y' && value !== 'n') break;
      return Uint8Array.of(value === 'y' ? 1 : 0);
    case 'tristate':
      if (!tri) break;
      return le32(value === 'y' ? 1 : value === 'm' ? 2 : 0, littleEndian);
    case 'char':
      if (!tri) break;
      return Uint8Array.of(value.charCodeAt(0));
    case 'char_arr': {
      const m = /^"(.*)"$/.exec(value);
      if (!m) break;
      const out = new Uint8Array(type.len);
      const s = Buffer.from(m[1].replace(/\\(.)/g, '$1'), 'latin1');
      out.set(s.subarray(0, Math.max(0, type.len - 1)));
      return out;
    }
    case 'int': {
      let v: bigint;
      if (value === 'y' || value === 'n') v = value === 'y' ? 1n : 0n;
      else {
        try {
          v = BigInt(value.trim());
        } catch {
          break;
        }
      }
      const bits = BigInt(type.size * 8);
      const fits = type.signed ? BigInt.asIntN(Number(bits), v) === v : BigInt.asUintN(Number(bits), v) === v;
      if (!fits) throw new Error(`extern (kcfg) '${name}': value ${value} does not fit in ${type.size} byte(s)`);
      const out = new Uint8Array(type.size);
      const u = BigInt.asUintN(Number(bits), v);
      for (let i = 0; i < type.size; i++) {
        const byte = Number((u >> BigInt(8 * i)) & 0xffn);
        out[littleEndian ? i : type.size - 1 - i] = byte;
      }
      return out;
    }
  }
  const what = { bool: 'a bool', char: 'a char', tristate: 'an enum libbpf_tristate', int: 'an integer', char_arr: 'a char array' }[
    type.kind
  ];
  throw new Error(`extern (kcfg) '${name}': value '${value}' does not suit ${what} variable`);
}

function le32(v: number, littleEndian: boolean): Uint8Array {
  const b = Buffer.alloc(4);
  if (littleEndian) b.writeUInt32LE(v);
  else b.writeUInt32BE(v);
  return b;
}
