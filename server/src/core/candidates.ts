// Candidate search: the target types a local type may relocate against. Same kind (ENUM and
// ENUM64 mix) and same essential name, searched in vmlinux first and in module BTFs only if
// vmlinux has none, in id order — as libbpf's bpf_core_find_cands().
import { type Btf } from '../btf/btf';
import { type TypeId } from '../btf/types';
import { CoreReloError, essentialName, kindsCompat, typeAt } from './btf-util';

/** A BTF to relocate against: vmlinux first, then module BTFs (split on vmlinux). */
export interface TargetBtf {
  /** 'vmlinux', a module name, or a file name: shown in reports. */
  readonly name: string;
  readonly btf: Btf;
}

export interface Candidate {
  readonly target: TargetBtf;
  readonly id: TypeId;
}

// Flavored names (`foo___v2`) of one BTF's own types, by essential name. Plain names are
// found through the BTF's own name index, which other features share.
const flavoredIndexes = new WeakMap<Btf, Map<string, TypeId[]>>();

function flavoredIndex(btf: Btf): Map<string, TypeId[]> {
  let idx = flavoredIndexes.get(btf);
  if (idx) return idx;
  idx = new Map();
  for (const id of btf.tripleUnderscoreIds()) {
    const name = btf.nameOf(id);
    if (!name.includes('___')) continue;
    const key = essentialName(name);
    if (key === name) continue;
    const list = idx.get(key);
    if (list) list.push(id);
    else idx.set(key, [id]);
  }
  flavoredIndexes.set(btf, idx);
  return idx;
}

/** Ids whose essential name is `name`, ascending; with `withBases` the bases' too. */
function idsByEssentialName(btf: Btf, name: string, withBases: boolean): TypeId[] {
  const from = withBases ? 0 : btf.startId;
  const exact = essentialName(name) === name ? btf.byName(name).filter((id) => id >= from) : [];
  const flavored: TypeId[] = [];
  for (let b: Btf | undefined = btf; b; b = withBases ? b.base : undefined) flavored.push(...(flavoredIndex(b).get(name) ?? []));
  return flavored.length ? [...exact, ...flavored].sort((a, b) => a - b) : exact;
}

/**
 * Candidate lists per local type id, for one local BTF against one list of targets.
 * Share one cache across all programs of an object, as libbpf does within one load: a
 * list is pruned to the candidates that matched each relocation resolved through it.
 */
export class CandidateCache {
  private readonly lists = new Map<TypeId, Candidate[]>();

  constructor(
    readonly localBtf: Btf,
    readonly targets: readonly TargetBtf[],
  ) {}

  /** The (mutable, prunable) candidate list for a named local type. */
  get(localId: TypeId): Candidate[] {
    let list = this.lists.get(localId);
    if (!list) {
      list = findCandidates(this.localBtf, localId, this.targets);
      this.lists.set(localId, list);
    }
    return list;
  }

  /** Keeps only `keep` (a sub-list, in order) for later relocations of this type. */
  prune(localId: TypeId, keep: readonly Candidate[]): void {
    const list = this.lists.get(localId);
    if (list && keep.length > 0) list.splice(0, list.length, ...keep);
  }
}

/** Fresh (uncached) candidates for a local type; throws for anonymous types. */
export function findCandidates(localBtf: Btf, localId: TypeId, targets: readonly TargetBtf[]): Candidate[] {
  const local = typeAt(localBtf, localId);
  if (!local || !local.name) throw new CoreReloError(`local type ${localId} is anonymous: CO-RE cannot search candidates for it`);
  const name = essentialName(local.name);
  const out: Candidate[] = [];
  for (let i = 0; i < targets.length; i++) {
    if (i === 1 && out.length > 0) break; // vmlinux had candidates: modules are not searched
    const target = targets[i];
    for (const id of idsByEssentialName(target.btf, name, i === 0)) {
      if (kindsCompat(local, target.btf.get(id))) out.push({ target, id });
    }
  }
  return out;
}
