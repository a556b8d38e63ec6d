// C declarator spelling of BTF types: `int (*name)(void *, long)`, `char *const p`,
// `int a[3][4]`. Shared by hovers (layout.ts) and the C dump (dump-c.ts), which differ only
// in how a leaf type (struct, enum, typedef, int, ...) is spelled.
import { type Btf } from './btf';
import { type BtfType, type TypeId } from './types';

/** Spells a leaf type: void, INT, FLOAT, STRUCT/UNION/ENUM/ENUM64, FWD, TYPEDEF. */
export type LeafSpeller = (id: TypeId, t: BtfType | undefined) => string;

// Function prototypes nested in parameters recurse; nothing real nests them this deep.
const MAX_PROTO_NESTING = 256;

export function typeTagAttr(value: string): string {
  return `__attribute__((btf_type_tag("${value}")))`;
}

/**
 * The C declaration of `name` (may be '') with type `id`. `leaf` spells named and
 * anonymous base types. Qualifiers on pointers go after the `*`; type tags go where
 * bpftool puts them (after the type they tag). Chains of pointers, arrays and modifiers
 * are walked in a loop (200k pointers or 2,900 array dimensions are valid BTF); a chain
 * longer than the number of types is a loop, which C cannot spell.
 */
export function declaration(btf: Btf, id: TypeId, name: string, leaf: LeafSpeller): string {
  return build(btf, id, name, false, leaf, 0);
}

function join(base: string, inner: string): string {
  if (!inner) return base;
  return base.endsWith('*') ? base + inner : `${base} ${inner}`;
}

/** `inner` is the declarator built so far; `isPtr` says it starts with a pointer. */
function build(btf: Btf, id: TypeId, inner: string, isPtr: boolean, leaf: LeafSpeller, nesting: number): string {
  if (nesting > MAX_PROTO_NESTING) throw new RangeError(`BTF type [${id}]: function prototypes nest deeper than ${MAX_PROTO_NESTING}`);
  let prefix = ''; // qualifiers written before the base type: `const volatile `
  // `inner` is a function declarator in parentheses, `(*f)(int)`: a pointer before it is
  // spaced off as libbpf writes it, `struct s * (*f)(int)` (not so for `int *(*p)[4]`)
  let afterProto = false;
  for (let steps = 0; ; steps++) {
    if (steps > btf.length) throw new RangeError(`BTF type [${id}]: reference loop (a chain longer than the ${btf.length} types)`);
    const t = btf.get(id);
    if (!t) return prefix + join(leaf(id, t), inner);
    switch (t.kind) {
      case 'PTR':
        inner = inner ? (afterProto ? `* ${inner}` : `*${inner}`) : '*';
        isPtr = true;
        afterProto = false;
        id = t.type;
        continue;
      case 'CONST':
      case 'VOLATILE':
      case 'RESTRICT': {
        const q = t.kind.toLowerCase();
        const target = btf.get(btf.skipModifiers(t.type));
        id = t.type;
        if (target?.kind === 'FUNC_PROTO') continue; // qualifiers on functions mean nothing in C
        if (target?.kind === 'PTR') {
          inner = inner ? `${q} ${inner}` : q;
          isPtr = true;
          continue;
        }
        // a qualified array is an array of qualified elements: say it once
        if (target?.kind === 'ARRAY' && elementHas(btf, target.type, t.kind)) continue;
        // `const` before the base: `const int`, `const volatile struct s`
        prefix += `${q} `;
        continue;
      }
      case 'TYPE_TAG':
        inner = inner ? `${typeTagAttr(t.name)} ${inner}` : typeTagAttr(t.name);
        id = t.type;
        continue;
      case 'ARRAY':
        inner = `${isPtr ? `(${inner})` : inner}[${t.nelems}]`;
        isPtr = false;
        id = t.type;
        continue;
      case 'FUNC_PROTO': {
        const params = t.params.map((p, i) =>
          p.type === 0 && i === t.params.length - 1 ? '...' : build(btf, p.type, '', false, leaf, nesting + 1),
        );
        inner = `${isPtr ? `(${inner})` : inner}(${params.length ? params.join(', ') : 'void'})`;
        afterProto = isPtr;
        isPtr = false;
        id = t.type;
        continue;
      }
      case 'FUNC':
      case 'VAR':
        inner = inner || t.name;
        isPtr = false;
        id = t.type;
        continue;
      default:
        return prefix + join(leaf(id, t), inner);
    }
  }
}

function elementHas(btf: Btf, id: TypeId, kind: string): boolean {
  for (let steps = 0; steps <= btf.length; steps++) {
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
    case 'STRUCT':
      return t.name ? `struct ${t.name}` : 'struct {...}';
    case 'UNION':
      return t.name ? `union ${t.name}` : 'union {...}';
    case 'ENUM':
    case 'ENUM64':
      return t.name ? `enum ${t.name}` : 'enum {...}';
    case 'FWD':
      return `${t.kindFlag ? 'union' : 'struct'} ${t.name}`;
    case 'DATASEC':
      return `SEC("${t.name}")`;
    case 'DECL_TAG':
      return `__attribute__((btf_decl_tag("${t.name}")))`;
    default:
      return t.name || `<anon ${t.kind}>`;
  }
};
