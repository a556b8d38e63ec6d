// The distilled base of a module against a target kernel: one row per distilled type,
// with the target type it maps to (or why it does not) and the split types that use
// it. The CLI prints it; the editor shows the rows as diagnostics, a tree and a document.
import { type ElfFile } from '../elf/reader';
import { type Btf } from './btf';
import { distilledModuleBtf } from './module-btf';
import { type BaseMapping, type BaseMatch, type BaseMatchStatus, type TargetIndex, mapDistilledBase } from './relocate';
import { type KindName, type TypeId, referencedIds } from './types';

/** A split type, named so a user can find it. */
export interface SplitTypeRef {
  readonly id: TypeId;
  readonly kind: KindName;
  /** '' for an anonymous type that nothing named refers to. */
  readonly name: string;
}

export interface BaseDiffRow extends BaseMatch {
  /**
   * The split types that use this distilled type: the nearest named ones (a struct whose
   * member points at it, a function taking it), reached through anonymous split types
   * (pointers, modifiers, arrays, prototypes, anonymous structs). Ordered by id.
   */
  readonly dependents: readonly SplitTypeRef[];
}

export interface BaseDiff {
  /** One row per distilled base type, in distilled id order. */
  readonly rows: readonly BaseDiffRow[];
  /** The split BTF relocates onto the target (every row is match or size-not-checked). */
  readonly relocates: boolean;
  /** How many rows have each status (statuses that occur only). */
  readonly counts: Readonly<Partial<Record<BaseMatchStatus, number>>>;
  readonly mapping: BaseMapping;
}

/** Split ids that refer to each id (distilled base and split), as compressed rows. */
function referrers(split: Btf): { start: Int32Array; from: Int32Array } {
  const n = split.length;
  const count = new Int32Array(n + 1);
  const refs: (readonly TypeId[])[] = [];
  for (let id = split.startId; id < n; id++) {
    const r = referencedIds(split.type(id));
    refs.push(r);
    for (const to of r) if (to > 0 && to < n) count[to + 1]++;
  }
  for (let i = 0; i < n; i++) count[i + 1] += count[i];
  const from = new Int32Array(count[n]);
  const fill = count.slice(0, n);
  refs.forEach((r, i) => {
    for (const to of r) if (to > 0 && to < n) from[fill[to]++] = split.startId + i;
  });
  return { start: count, from };
}

/** Nearest named split types above each distilled type (see BaseDiffRow.dependents). */
function dependentsOf(split: Btf, rows: readonly BaseMatch[]): SplitTypeRef[][] {
  const { start, from } = referrers(split);
  const seen = new Uint32Array(split.length);
  const out: SplitTypeRef[][] = [];
  let gen = 0;
  for (const row of rows) {
    gen++;
    const found: TypeId[] = [];
    const queue: TypeId[] = [row.id];
    seen[row.id] = gen;
    while (queue.length) {
      const id = queue.pop()!;
      const first = start[id],
        end = start[id + 1];
      if (first === end && id >= split.startId) found.push(id); // anonymous, used by nothing
      for (let k = first; k < end; k++) {
        const user = from[k];
        if (seen[user] === gen) continue;
        seen[user] = gen;
        if (split.nameOf(user)) found.push(user);
        else queue.push(user);
      }
    }
    found.sort((a, b) => a - b);
    out.push(
      found.map((id) => {
        const t = split.type(id);
        return { id, kind: t.kind, name: t.name };
      }),
    );
  }
  return out;
}

/**
 * Diffs split BTF's distilled base (`split.base`: a module's `.BTF.base` or distillBase's
 * result) against a target base. Pass a TargetIndex to share one index across modules.
 */
export function baseDiff(split: Btf, target: Btf | TargetIndex): BaseDiff {
  const mapping = mapDistilledBase(split, target);
  const deps = dependentsOf(split, mapping.matches);
  const rows = mapping.matches.map((m, i) => ({ ...m, dependents: deps[i] }));
  const counts: Partial<Record<BaseMatchStatus, number>> = {};
  for (const r of rows) counts[r.status] = (counts[r.status] ?? 0) + 1;
  return { rows, relocates: mapping.ok, counts, mapping };
}

export interface ModuleBaseDiff extends BaseDiff {
  /** The module's own `.BTF.base`, or one distilled now from its `.BTF` on the original base. */
  readonly distilledFrom: '.BTF.base' | 'original base';
  /** The split BTF on the distilled base that was diffed. */
  readonly split: Btf;
}

/**
 * The base diff of a module: its `.BTF.base` against `target`, or, for a module without
 * one, the distilled base of its `.BTF` on `origBase` (the vmlinux it was built for).
 * Throws FormatError for bad input or a module without `.BTF.base` and no `origBase`.
 */
export function moduleBaseDiff(elf: ElfFile, target: Btf | TargetIndex, origBase?: Btf): ModuleBaseDiff {
  const { split, fromSection } = distilledModuleBtf(elf, origBase);
  return { ...baseDiff(split, target), distilledFrom: fromSection ? '.BTF.base' : 'original base', split };
}
