// BTF helpers with the exact semantics CO-RE needs (libbpf's skip_mods_and_typedefs,
// btf__resolve_size, bpf_core_essential_name_len), plus C-ish names for reports.
import { type Btf } from '../btf/btf';
import { skipModsAndTypedefs } from '../btf/skip-mods';
import { BTF_INT_SIGNED, type BtfType, type TypeId, isComposite, isEnum } from '../btf/types';

/** A relocation that cannot be computed; libbpf would fail the whole load with it. */
export class CoreReloError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CoreReloError';
  }
}

/** Deepest typedef/modifier chain or nesting CO-RE follows before giving up (as libbpf). */
export const MAX_DEPTH = 32;
/** BPF_CORE_SPEC_MAX_LEN: longest low-level access spec. */
export const SPEC_MAX_LEN = 64;

/** The type with this id, undefined for void; throws CoreReloError on ids out of range. */
export function typeAt(btf: Btf, id: TypeId): BtfType | undefined {
  if (!btf.has(id)) throw new CoreReloError(`type id ${id} is out of range (${btf.length} types)`);
  return btf.get(id);
}

/** Kind name with 'VOID' for id 0, so that void compares like libbpf's BTF_KIND_UNKN. */
export function kindOf(t: BtfType | undefined): string {
  return t ? t.kind : 'VOID';
}

/** skipModsAndTypedefs for CO-RE: the id reached; a broken chain is a CoreReloError. */
export function skipToType(btf: Btf, id: TypeId): TypeId {
  const [to, , broken] = skipModsAndTypedefs(btf, id);
  if (broken === 'out-of-range') typeAt(btf, to); // throws, naming the id
  if (broken) throw new CoreReloError(`typedef/modifier chain at type ${to} is too long`);
  return to;
}

/** Same kind, or both enums of any width (libbpf's btf_kind_core_compat). */
export function kindsCompat(a: BtfType | undefined, b: BtfType | undefined): boolean {
  if (!a || !b) return !a && !b;
  return a.kind === b.kind || (isEnum(a) && isEnum(b));
}

const ptrSizes = new WeakMap<Btf, number>();
const LONG_NAMES = [
  'long int',
  'int long',
  'unsigned long int',
  'unsigned int long',
  'long unsigned int',
  'long int unsigned',
  'int unsigned long',
  'int long unsigned',
  'long',
  'unsigned long',
];

/** Pointer size of the BTF's architecture, guessed from `long` like libbpf (default 8). */
export function ptrSize(btf: Btf): number {
  const known = ptrSizes.get(btf);
  if (known !== undefined) return known;
  let size = btf.base ? ptrSize(btf.base) : 0;
  for (const name of LONG_NAMES) {
    if (size) break;
    for (const id of btf.byName(name)) {
      const t = btf.get(id);
      if (t?.kind === 'INT' && (t.size === 4 || t.size === 8)) {
        size = t.size;
        break;
      }
    }
  }
  size ||= 8;
  ptrSizes.set(btf, size);
  return size;
}

const U32_MAX = 0xffffffff;

/** Byte size of a type through typedefs, modifiers, vars and arrays (btf__resolve_size). */
export function resolveSize(btf: Btf, id: TypeId): number {
  let nelems = 1;
  for (let depth = 0; depth <= MAX_DEPTH; depth++) {
    const t = typeAt(btf, id);
    let size: number;
    switch (t?.kind) {
      case 'INT':
      case 'ENUM':
      case 'ENUM64':
      case 'STRUCT':
      case 'UNION':
      case 'DATASEC':
      case 'FLOAT':
        size = t.size;
        break;
      case 'PTR':
        size = ptrSize(btf);
        break;
      case 'TYPEDEF':
      case 'VOLATILE':
      case 'CONST':
      case 'RESTRICT':
      case 'VAR':
      case 'TYPE_TAG':
        id = t.type;
        continue;
      case 'ARRAY':
        if (nelems && t.nelems > U32_MAX / nelems) throw new CoreReloError(`size of type ${id} overflows 32 bits`);
        nelems *= t.nelems;
        id = t.type;
        continue;
      default:
        throw new CoreReloError(`type ${id} (${kindOf(t)}) has no size`);
    }
    if (nelems && size > U32_MAX / nelems) throw new CoreReloError(`size of type ${id} overflows 32 bits`);
    return nelems * size;
  }
  throw new CoreReloError(`type ${id} nests too deep to size`);
}

/**
 * Length of a name without its flavor: `foo___v2` → 3. A flavor separator is `X___Y` with X
 * and Y not underscores; the last one counts.
 */
export function essentialNameLength(name: string): number {
  for (let i = name.length - 5; i >= 0; i--) {
    if (name[i] !== '_' && name[i + 1] === '_' && name[i + 2] === '_' && name[i + 3] === '_' && name[i + 4] !== '_') return i + 1;
  }
  return name.length;
}

export function essentialName(name: string): string {
  return name.slice(0, essentialNameLength(name));
}

export function isSignedInt(t: BtfType | undefined): boolean {
  return t?.kind === 'INT' && (t.encoding & BTF_INT_SIGNED) !== 0;
}

/** A C-ish spelling of a type for messages: `struct foo`, `u32 *`, `int[4]`, `enum e`. */
export function typeName(btf: Btf, id: TypeId, depth = 0): string {
  if (!btf.has(id)) return `<bad type ${id}>`;
  const t = btf.get(id);
  if (!t) return 'void';
  if (depth > 8) return '...';
  const anon = (what: string) => `${what} ${t.name || '<anon>'}`;
  switch (t.kind) {
    case 'STRUCT':
      return anon('struct');
    case 'UNION':
      return anon('union');
    case 'ENUM':
    case 'ENUM64':
      return anon('enum');
    case 'FWD':
      return anon(t.kindFlag ? 'union' : 'struct');
    case 'PTR':
      return `${typeName(btf, t.type, depth + 1)} *`;
    case 'CONST':
      return `const ${typeName(btf, t.type, depth + 1)}`;
    case 'VOLATILE':
      return `volatile ${typeName(btf, t.type, depth + 1)}`;
    case 'RESTRICT':
      return `${typeName(btf, t.type, depth + 1)} restrict`;
    case 'TYPE_TAG':
      return typeName(btf, t.type, depth + 1);
    case 'ARRAY':
      return `${typeName(btf, t.type, depth + 1)}[${t.nelems}]`;
    case 'FUNC_PROTO':
      return `${typeName(btf, t.type, depth + 1)} (*)(${t.params.map((p) => typeName(btf, p.type, depth + 1)).join(', ')})`;
    default:
      return t.name || `<anon ${t.kind}>`;
  }
}

/** The names of a composite's members, anonymous members shown as their inner names. */
export function memberNames(btf: Btf, t: BtfType, depth = 0): string[] {
  if (!isComposite(t) || depth > 8) return [];
  const out: string[] = [];
  for (const m of t.members) {
    if (m.name) {
      out.push(m.name);
      continue;
    }
    const inner = btf.has(m.type) ? btf.get(skipToType(btf, m.type)) : undefined;
    if (inner) out.push(...memberNames(btf, inner, depth + 1));
  }
  return out;
}

/** `a, b, c` for messages, at most `max` names, then how many more. */
export function listNames(names: readonly string[], max = 12): string {
  if (names.length === 0) return 'none';
  return names.length <= max ? names.join(', ') : `${names.slice(0, max).join(', ')}, … (${names.length - max} more)`;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 3) return 99;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

/** Names close to `want` (renames such as state → __state), best first. */
export function similarNames(want: string, names: readonly string[]): string[] {
  const score = (n: string) => {
    const bare = (x: string) => x.replace(/^_+/, '').toLowerCase();
    if (bare(n) === bare(want)) return 0;
    if (Math.min(n.length, want.length) >= 3 && (n.includes(want) || want.includes(n))) return 1;
    const d = editDistance(want, n);
    return d <= Math.max(1, Math.floor(want.length / 4)) ? 1 + d : 99;
  };
  return names
    .map((n) => ({ n, s: score(n) }))
    .filter((x) => x.s < 99 && x.n !== want)
    .sort((x, y) => x.s - y.s)
    .slice(0, 3)
    .map((x) => x.n);
}
