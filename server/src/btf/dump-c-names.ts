// Names for the C dump. C has one namespace for struct/union/enum tags and one for
// ordinary identifiers (typedefs, enumerators); BTF may hold several different types of
// one name (non-deduplicated objects, kernel types that differ between units). The first
// to be written keeps the name, later ones get `___2`, `___3` as bpftool does, and a
// CO-RE user can still match them (libbpf ignores `___suffix`).
import { type Btf } from './btf';
import { sizeOf } from './layout';
import { type BtfType, type TypeId } from './types';

const VA_LIST = '__builtin_va_list';
const BPF_VA_LIST_SIZE = 8;

export class CNames {
  private readonly byId = new Map<TypeId, string>();
  private readonly tags = new Map<string, number>();
  private readonly idents = new Map<string, number>();

  constructor(private readonly btf: Btf) {}

  /** The name type `id` is written with ('' for anonymous types). */
  of(id: TypeId, t: BtfType | undefined = this.btf.get(id)): string {
    if (!t || !t.name) return '';
    const have = this.byId.get(id);
    if (have !== undefined) return have;
    let name: string;
    switch (t.kind) {
      case 'STRUCT':
      case 'UNION':
      case 'ENUM':
      case 'ENUM64':
      case 'FWD':
        name = unique(this.tags, t.name);
        break;
      case 'TYPEDEF':
        // clang knows __builtin_va_list and forbids redefining it; when the BTF's target
        // has another size (x86-64's is 24 bytes, BPF's 8) a renamed typedef keeps layouts
        name =
          t.name === VA_LIST && sizeOf(this.btf, id) !== BPF_VA_LIST_SIZE
            ? unique(this.idents, `${VA_LIST}___btf`)
            : unique(this.idents, t.name);
        break;
      default:
        name = t.name;
    }
    this.byId.set(id, name);
    return name;
  }

  /** A typedef of a compiler builtin that the dump must not write. */
  isBuiltin(id: TypeId, t: BtfType): boolean {
    return t.kind === 'TYPEDEF' && this.of(id, t) === VA_LIST;
  }

  /** An enumerator's name; each call is a new definition of it. */
  enumerator(name: string): string {
    return unique(this.idents, name);
  }

  all(): ReadonlyMap<TypeId, string> {
    return this.byId;
  }

  member(name: string): string {
    return name;
  }
}

function unique(seen: Map<string, number>, name: string): string {
  const n = (seen.get(name) ?? 0) + 1;
  seen.set(name, n);
  return n === 1 ? name : `${name}___${n}`;
}
