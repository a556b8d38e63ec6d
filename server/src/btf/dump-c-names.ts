// Names for the C dump. C has one namespace for struct/union/enum tags and one for
// ordinary identifiers (typedefs, enumerators); BTF may hold several different types of
// one name (non-deduplicated objects, kernel types that differ between units). The first
// to be written keeps the name, later ones get `___2`, `___3` as bpftool does, and a
// CO-RE user can still match them (libbpf ignores `___suffix`).
import { Btf } from './btf';
import { BtfType, TypeId } from './types';

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
      case 'STRUCT': case 'UNION': case 'ENUM': case 'ENUM64': case 'FWD':
        name = unique(this.tags, t.name);
        break;
      case 'TYPEDEF':
        name = unique(this.idents, t.name);
        break;
      default:
        name = t.name;
    }
    this.byId.set(id, name);
    return name;
  }

  /** An enumerator's name; each call is a new definition of it. */
  enumerator(name: string): string {
    return unique(this.idents, name);
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
