/**
 * Does an extern's BTF agree with its definition's? libbpf's linker rules: types compare
 * through typedefs and modifiers; structs compare field by field where they are used by
 * value (`exact`), only by name behind a pointer (where a forward declaration also fits);
 * integer and enum sizes must agree (not their encodings or values); array lengths and
 * parameter names do not count. Answers with the reason when they differ.
 */
import type { Btf } from '../btf/btf';
import type { BtfType, TypeId } from '../btf/types';
import { BTF_FUNC_STATIC, BTF_VAR_STATIC } from '../btf/types';
import { skipModsAndTypedefs } from '../btf/skip-mods';
import { type MapDefFields, MapDefParser } from '../object/map-def';

const MAX_DEPTH = 64;

function kindOf(t: BtfType | undefined): string {
  return t ? t.kind : 'void';
}

/** undefined when compatible, else why not. */
export function btfMismatch(a: Btf, ida: TypeId, b: Btf, idb: TypeId, exact = true, depth = 0): string | undefined {
  if (depth > MAX_DEPTH) return 'types nest too deeply to compare';
  const [, t1] = skipModsAndTypedefs(a, ida);
  const [, t2] = skipModsAndTypedefs(b, idb);
  if (!t1 || !t2) return t1 === t2 ? undefined : `${kindOf(t1)} vs ${kindOf(t2)}`;
  if (!exact && (t1.kind === 'FWD') !== (t2.kind === 'FWD')) {
    if (t1.name !== t2.name) return `forward declaration '${t1.name}' vs '${t2.name}'`;
    const [fwd, full] = t1.kind === 'FWD' ? [t1, t2] : [t2, t1];
    const want = fwd.kindFlag ? 'UNION' : 'STRUCT';
    return full.kind === want ? undefined : `${want.toLowerCase()} forward declaration vs ${full.kind}`;
  }
  if (t1.kind !== t2.kind) return `${t1.kind} vs ${t2.kind}`;
  const named = ['STRUCT', 'UNION', 'ENUM', 'ENUM64', 'FWD', 'FUNC', 'VAR'];
  if (named.includes(t1.kind) && t1.name !== t2.name) return `${t1.kind} '${t1.name}' vs '${t2.name}'`;
  const deeper = (x: TypeId, y: TypeId, ex: boolean) => btfMismatch(a, x, b, y, ex, depth + 1);
  switch (t1.kind) {
    case 'FWD':
      return undefined;
    case 'INT':
    case 'FLOAT':
    case 'ENUM':
    case 'ENUM64': {
      const s2 = (t2 as { size: number }).size;
      return t1.size === s2 ? undefined : `${t1.kind} '${t1.name}' of size ${t1.size} vs ${s2}`;
    }
    case 'PTR':
      return deeper(t1.type, (t2 as typeof t1).type, false);
    case 'ARRAY':
      return deeper(t1.type, (t2 as typeof t1).type, exact);
    case 'FUNC':
    case 'VAR': {
      const u = t2 as typeof t1;
      const static1 = t1.kind === 'FUNC' ? t1.linkage === BTF_FUNC_STATIC : t1.linkage === BTF_VAR_STATIC;
      const static2 = t1.kind === 'FUNC' ? u.linkage === BTF_FUNC_STATIC : u.linkage === BTF_VAR_STATIC;
      if (static1 !== static2) return `${t1.kind.toLowerCase()} '${t1.name}' is static on one side only`;
      return deeper(t1.type, u.type, exact);
    }
    case 'STRUCT':
    case 'UNION': {
      if (!exact) return undefined;
      const u = t2 as typeof t1;
      if (t1.members.length !== u.members.length)
        return `${t1.kind.toLowerCase()} '${t1.name}' has ${t1.members.length} fields vs ${u.members.length}`;
      for (let i = 0; i < t1.members.length; i++) {
        const m1 = t1.members[i];
        const m2 = u.members[i];
        if (m1.name !== m2.name) return `field #${i} of '${t1.name}' is '${m1.name}' vs '${m2.name}'`;
        if (m1.bitsOffset !== m2.bitsOffset || m1.bitfieldSize !== m2.bitfieldSize)
          return `field '${m1.name}' of '${t1.name}' is at a different offset`;
        const why = deeper(m1.type, m2.type, exact);
        if (why) return `field '${m1.name}' of '${t1.name}': ${why}`;
      }
      return undefined;
    }
    case 'FUNC_PROTO': {
      const u = t2 as typeof t1;
      if (t1.params.length !== u.params.length) return `${t1.params.length} parameters vs ${u.params.length}`;
      for (let i = 0; i < t1.params.length; i++) {
        const why = deeper(t1.params[i].type, u.params[i].type, exact);
        if (why) return `parameter #${i + 1}: ${why}`;
      }
      const why = deeper(t1.type, u.type, exact);
      return why ? `return type: ${why}` : undefined;
    }
    default:
      return `${t1.kind} cannot be compared`;
  }
}

/** The fields of a `.maps` variable's definition (BTF VAR id), or the problems reading it. */
export function mapDefinition(btf: Btf, varId: TypeId, name: string): { def?: MapDefFields; problems: string[] } {
  const v = btf.get(varId);
  if (v?.kind !== 'VAR') return { problems: [`map '${name}': its BTF type is ${kindOf(v)}, not a VAR`] };
  const [, t] = skipModsAndTypedefs(btf, v.type);
  if (t?.kind !== 'STRUCT') return { problems: [`map '${name}': definition is ${kindOf(t)}, not a struct`] };
  const diags: { message: string }[] = [];
  const def = new MapDefParser(btf, diags as never).parse(name, t);
  return { def, problems: diags.map((d) => d.message) };
}

/** Every field where an extern map definition differs from the real one (libbpf requires them all equal). */
export function mapDefMismatches(da: MapDefFields, a: Btf, db: MapDefFields, b: Btf): string[] {
  const out: string[] = [];
  const show = (v: unknown) =>
    v === undefined || v === null
      ? '(none)'
      : typeof v === 'number' || typeof v === 'bigint' || typeof v === 'string' || typeof v === 'boolean'
        ? String(v)
        : JSON.stringify(v);
  const cmp = (field: string, x: unknown, y: unknown) => {
    if (x !== y) out.push(`${field} ${show(x)} vs ${show(y)}`);
  };
  cmp('type', da.type, db.type);
  cmp('key_size', da.keySize, db.keySize);
  cmp('value_size', da.valueSize, db.valueSize);
  cmp('max_entries', da.maxEntries ?? 0, db.maxEntries ?? 0);
  cmp('map_flags', da.flags ?? 0, db.flags ?? 0);
  cmp('numa_node', da.numaNode ?? 0, db.numaNode ?? 0);
  cmp('pinning', da.pinning ?? 0, db.pinning ?? 0);
  cmp('map_extra', da.mapExtra ?? 0n, db.mapExtra ?? 0n);
  for (const [field, x, y] of [
    ['key', da.keyTypeId, db.keyTypeId],
    ['value', da.valueTypeId, db.valueTypeId],
  ] as const) {
    if (!!x !== !!y) out.push(`${field} type given on one side only`);
    else if (x && y) {
      const why = btfMismatch(a, x, b, y, true);
      if (why) out.push(`${field} type: ${why}`);
    }
  }
  if (!!da.inner !== !!db.inner) out.push('inner map definition on one side only');
  else if (da.inner && db.inner) out.push(...mapDefMismatches(da.inner, a, db.inner, b).map((m) => `inner map ${m}`));
  return out;
}
