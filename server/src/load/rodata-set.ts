/**
 * `--set NAME=VALUE`: overrides of `.rodata*` (const volatile) variables before the map is
 * filled and frozen, as libbpf-tools' user-space halves write `skel->rodata->name = value`.
 * Integers (decimal, 0x hex, negative), booleans, enumerator names and strings for char
 * arrays. Pure: returns new bytes per internal map.
 */
import type { Btf } from '../btf/btf';
import { sizeOf } from '../btf/layout';
import type { BpfObject } from '../object/model';
import { skipModsAndTypedefs } from '../btf/skip-mods';
import { LoadError } from './types';

/** Map name → its value bytes after the overrides (only maps that changed). */
export function applyRodataSets(obj: BpfObject, sets: Readonly<Record<string, string>>): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  const btf = obj.btf;
  const problems: string[] = [];
  for (const [name, text] of Object.entries(sets)) {
    let done = false;
    for (const map of obj.maps) {
      if (map.kind !== 'rodata' || !btf || map.valueTypeId === undefined) continue;
      const ds = btf.get(map.valueTypeId);
      if (ds?.kind !== 'DATASEC') continue;
      const v = ds.vars.find((x) => btf.nameOf(x.type) === name);
      if (!v) continue;
      const sym = obj.elf.symbols.find((y) => y.shndx === map.sectionIndex && y.name === name);
      const offset = sym ? Number(sym.value) : v.offset;
      const varT = btf.get(v.type);
      const typeId = varT?.kind === 'VAR' ? varT.type : v.type;
      const data = out.get(map.name) ?? Uint8Array.from(map.initialData ?? new Uint8Array(map.valueSize));
      try {
        const bytes = encodeValue(btf, typeId, text, obj.littleEndian);
        if (offset + bytes.length > data.length) throw new Error(`it lies past the end of ${map.name}`);
        data.set(bytes, offset);
      } catch (e) {
        problems.push(`--set ${name}=${text}: ${(e as Error).message}`);
      }
      out.set(map.name, data);
      done = true;
      break;
    }
    if (!done) {
      const rodata = obj.maps
        .filter((m) => m.kind === 'rodata' && m.valueTypeId !== undefined)
        .flatMap((m) => {
          const ds = btf?.get(m.valueTypeId!);
          return ds?.kind === 'DATASEC' ? ds.vars.map((x) => btf!.nameOf(x.type)) : [];
        });
      problems.push(
        `--set ${name}: no .rodata variable of that name${rodata.length ? ` (there are: ${rodata.join(', ')})` : ' (the object has no .rodata variables)'}`,
      );
    }
  }
  if (problems.length) throw new LoadError(problems.join('\n'), 'relocate');
  return out;
}

function encodeValue(btf: Btf, typeId: number, text: string, le: boolean): Uint8Array {
  const [, t] = skipModsAndTypedefs(btf, typeId);
  if (!t) throw new Error('the variable has no type');
  if (t.kind === 'ARRAY') {
    const [, el] = skipModsAndTypedefs(btf, t.type);
    if (el?.kind !== 'INT' || el.size !== 1) throw new Error('only char arrays can be set from text');
    const s = Buffer.from(text.replace(/^"(.*)"$/, '$1'), 'utf8');
    if (s.length >= t.nelems) throw new Error(`the string needs ${s.length + 1} bytes, the array has ${t.nelems}`);
    const out = new Uint8Array(t.nelems);
    out.set(s);
    return out;
  }
  let v: bigint;
  if (t.kind === 'ENUM' || t.kind === 'ENUM64') {
    const e = t.values.find((x) => x.name === text);
    v = e ? BigInt(e.value) : parseInteger(text);
  } else if (t.kind === 'INT' || t.kind === 'PTR') {
    v = text === 'true' ? 1n : text === 'false' ? 0n : parseInteger(text);
  } else {
    throw new Error(`variables of kind ${t.kind} cannot be set from the command line`);
  }
  const size = sizeOf(btf, typeId);
  const signed = t.kind === 'INT' ? (t.encoding & 1) !== 0 : v < 0n;
  const bits = size * 8;
  if ((signed ? BigInt.asIntN(bits, v) : BigInt.asUintN(bits, v)) !== v)
    throw new Error(`${text} does not fit in ${size} byte(s)${signed ? '' : ' unsigned'}`);
  const u = BigInt.asUintN(bits, v);
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[le ? i : size - 1 - i] = Number((u >> BigInt(8 * i)) & 0xffn);
  return out;
}

function parseInteger(text: string): bigint {
  const m = /^(-?)(0x[0-9a-fA-F]+|0b[01]+|0o?[0-7]+|\d+)$/.exec(text.trim());
  if (!m) throw new Error(`'${text}' is not a number`);
  const body = /^0[0-7]+$/.test(m[2]) ? `0o${m[2].slice(1)}` : m[2];
  const v = BigInt(body);
  return m[1] ? -v : v;
}
