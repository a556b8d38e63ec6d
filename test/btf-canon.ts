// A canonical text for BTF types with ids resolved: named types are referred to by kind
// and name, anonymous ones are spelled out in full. Two BTF blobs that describe the same
// types with different ids (distilled, relocated, re-split) give the same strings.
import { type Btf } from '../server/src/btf/btf';
import { type BtfType, type TypeId } from '../server/src/btf/types';

const MAX_DEPTH = 64;

/** How a reference to a named type reads ("struct foo"); ENUM and ENUM64 read the same. */
function refName(t: BtfType): string | undefined {
  if (!t.name) return undefined;
  switch (t.kind) {
    case 'STRUCT':
      return `struct ${t.name}`;
    case 'UNION':
      return `union ${t.name}`;
    case 'ENUM':
    case 'ENUM64':
      return `enum ${t.name}`;
    case 'FWD':
      return `${t.kindFlag ? 'union' : 'struct'}? ${t.name}`;
    case 'TYPEDEF':
      return `typedef ${t.name}`;
    case 'INT':
      return `int ${t.name}`;
    case 'FLOAT':
      return `float ${t.name}`;
    case 'FUNC':
      return `func ${t.name}`;
    case 'VAR':
      return `var ${t.name}`;
    case 'DATASEC':
      return `datasec ${t.name}`;
    default:
      return undefined;
  }
}

function ref(btf: Btf, id: TypeId, depth: number): string {
  if (id === 0) return 'void';
  const t = btf.type(id);
  return refName(t) ?? (depth > MAX_DEPTH ? '…' : body(btf, t, depth + 1));
}

function body(btf: Btf, t: BtfType, depth: number): string {
  const r = (id: TypeId) => ref(btf, id, depth);
  switch (t.kind) {
    case 'INT':
      return `int ${t.name} size=${t.size} enc=${t.encoding} off=${t.bitsOffset} bits=${t.bits}`;
    case 'FLOAT':
      return `float ${t.name} size=${t.size}`;
    case 'PTR':
    case 'CONST':
    case 'VOLATILE':
    case 'RESTRICT':
      return `${t.kind.toLowerCase()}(${r(t.type)})`;
    case 'TYPE_TAG':
      return `type_tag ${t.name}(${r(t.type)})`;
    case 'TYPEDEF':
      return `typedef ${t.name} = ${r(t.type)}`;
    case 'ARRAY':
      return `array(${r(t.type)}; ${r(t.indexType)}; ${t.nelems})`;
    case 'STRUCT':
    case 'UNION':
      return `${t.kind.toLowerCase()} ${t.name} size=${t.size} kf=${+t.kindFlag} {${t.members.map((m) => `${m.name}: ${r(m.type)} @${m.bitsOffset}:${m.bitfieldSize}`).join('; ')}}`;
    case 'ENUM':
    case 'ENUM64':
      return `${t.kind.toLowerCase()} ${t.name} size=${t.size} kf=${+t.kindFlag} {${t.values.map((v) => `${v.name}=${v.value}`).join(', ')}}`;
    case 'FWD':
      return `fwd ${t.kindFlag ? 'union' : 'struct'} ${t.name}`;
    case 'FUNC':
      return `func ${t.name} linkage=${t.linkage}: ${r(t.type)}`;
    case 'FUNC_PROTO':
      return `proto(${t.params.map((p) => `${p.name}: ${r(p.type)}`).join(', ')}) -> ${r(t.type)}`;
    case 'VAR':
      return `var ${t.name} linkage=${t.linkage}: ${r(t.type)}`;
    case 'DATASEC':
      return `datasec ${t.name} size=${t.size} {${t.vars.map((v) => `${r(v.type)} @${v.offset}+${v.size}`).join('; ')}}`;
    case 'DECL_TAG':
      return `decl_tag ${t.name} on ${r(t.type)} #${t.componentIdx}`;
  }
}

/** The canonical text of type `id` itself (named or not). */
export function canonType(btf: Btf, id: TypeId): string {
  return body(btf, btf.type(id), 0);
}

/** Canonical texts of a blob's own types (split BTF: the split types only), in id order. */
export function canonOwn(btf: Btf): string[] {
  const out: string[] = [];
  for (let id = btf.startId; id < btf.length; id++) out.push(canonType(btf, id));
  return out;
}

/** Texts in `want` that `have` lacks, counting repeats (multiset difference). */
export function missingFrom(have: readonly string[], want: readonly string[]): string[] {
  const count = new Map<string, number>();
  for (const s of have) count.set(s, (count.get(s) ?? 0) + 1);
  const out: string[] = [];
  for (const s of want) {
    const n = count.get(s) ?? 0;
    if (n === 0) out.push(s);
    else count.set(s, n - 1);
  }
  return out;
}
