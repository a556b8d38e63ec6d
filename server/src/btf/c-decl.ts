// C declarator spelling of BTF types: `int (*name)(void *, long)`, `char *const p`,
// `int a[3][4]`. Shared by hovers (layout.ts) and the C dump (dump-c.ts), which differ only
// in how a leaf type (struct, enum, typedef, int, ...) is spelled.
import { Btf } from './btf';
import { BtfType, TypeId } from './types';

/** Spells a leaf type: void, INT, FLOAT, STRUCT/UNION/ENUM/ENUM64, FWD, TYPEDEF. */
export type LeafSpeller = (id: TypeId, t: BtfType | undefined) => string;

// A legal chain is short; a longer one is a reference loop in unvalidated BTF.
const MAX_DEPTH = 512;

export function typeTagAttr(value: string): string {
  return `__attribute__((btf_type_tag("${value}")))`;
}

/**
 * The C declaration of `name` (may be '') with type `id`. `leaf` spells named and
 * anonymous base types. Qualifiers on pointers go after the `*`; type tags go where
 * bpftool puts them (after the type they tag).
 */
export function declaration(btf: Btf, id: TypeId, name: string, leaf: LeafSpeller): string {
  return build(btf, id, name, false, leaf, 0);
}

function join(base: string, inner: string): string {
  if (!inner) return base;
  return base.endsWith('*') ? base + inner : `${base} ${inner}`;
}

/** `inner` is the declarator built so far; `isPtr` says it starts with a pointer. */
function build(btf: Btf, id: TypeId, inner: string, isPtr: boolean, leaf: LeafSpeller, depth: number): string {
  if (depth > MAX_DEPTH) throw new RangeError(`BTF type [${id}]: reference chain deeper than ${MAX_DEPTH}`);
  const t = btf.get(id);
  if (!t) return join(leaf(id, t), inner);
  const next = (to: TypeId, decl: string, ptr: boolean): string => build(btf, to, decl, ptr, leaf, depth + 1);
  switch (t.kind) {
    case 'PTR':
      return next(t.type, inner ? `*${inner}` : '*', true);
    case 'CONST': case 'VOLATILE': case 'RESTRICT': {
      const q = t.kind.toLowerCase();
      const target = btf.get(btf.skipModifiers(t.type));
      if (target?.kind === 'FUNC_PROTO') return next(t.type, inner, isPtr); // qualifiers on functions mean nothing in C
      if (target?.kind === 'PTR') return next(t.type, inner ? `${q} ${inner}` : q, true);
      // a qualified array is an array of qualified elements: say it once
      if (target?.kind === 'ARRAY' && elementHas(btf, target.type, t.kind)) return next(t.type, inner, isPtr);
      // `const` before the base: `const int`, `const volatile struct s`
      return `${q} ${next(t.type, inner, isPtr)}`;
    }
    case 'TYPE_TAG':
      return next(t.type, inner ? `${typeTagAttr(t.name)} ${inner}` : typeTagAttr(t.name), isPtr);
    case 'ARRAY':
      return next(t.type, `${isPtr ? `(${inner})` : inner}[${t.nelems}]`, false);
    case 'FUNC_PROTO': {
      const params = t.params.map((p, i) =>
        p.type === 0 && i === t.params.length - 1 ? '...' : build(btf, p.type, '', false, leaf, depth + 1));
      return next(t.type, `${isPtr ? `(${inner})` : inner}(${params.length ? params.join(', ') : 'void'})`, false);
    }
    case 'FUNC':
      return next(t.type, inner || t.name, false);
    case 'VAR':
      return next(t.type, inner || t.name, false);
    default:
      return join(leaf(id, t), inner);
  }
}

function elementHas(btf: Btf, id: TypeId, kind: string): boolean {
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    const t = btf.get(id);
    if (!t) return false;
    if (t.kind === kind) return true;
    if (t.kind === 'ARRAY' || t.kind === 'CONST' || t.kind === 'VOLATILE' || t.kind === 'RESTRICT' || t.kind === 'TYPE_TAG') id = t.type;
    else return false;
  }
  return false;
}

/** Spelling of a leaf for hovers: raw names, `struct {...}` for anonymous records. */
export const plainLeaf: LeafSpeller = (_id, t) => {
  if (!t) return 'void';
  switch (t.kind) {
    case 'STRUCT': return t.name ? `struct ${t.name}` : 'struct {...}';
    case 'UNION': return t.name ? `union ${t.name}` : 'union {...}';
    case 'ENUM': case 'ENUM64': return t.name ? `enum ${t.name}` : 'enum {...}';
    case 'FWD': return `${t.kindFlag ? 'union' : 'struct'} ${t.name}`;
    case 'DATASEC': return `SEC("${t.name}")`;
    case 'DECL_TAG': return `__attribute__((btf_decl_tag("${t.name}")))`;
    default: return t.name || `<anon ${t.kind}>`;
  }
};
