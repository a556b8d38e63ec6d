/**
 * BTF deduplication for the static linker: types that are structurally identical collapse
 * into one, the way libbpf's btf__dedup does for the objects it links.
 *
 * Equality is bisimulation: two types are the same when their own fields (kind, name,
 * size, member names and offsets, enum values...) agree and the types they reference are,
 * recursively, the same — which also decides self-referencing and mutually recursive
 * structs (`struct list { struct list *next; }`) without unrolling them. It is computed by
 * partition refinement: start from classes of equal own fields, split a class whenever its
 * members reference different classes, stop when nothing splits.
 *
 * Forward declarations (`struct foo;`, an enum without values) count as the full type of
 * their name, as in libbpf's FWD/STRUCT equivalence: each is first taken to be that type;
 * a name whose full types still fall into several classes is ambiguous, its forwards stay
 * forwards, and the refinement runs again (so it ends: every retry drops a name). A
 * forward of an ambiguous name then takes the full type it stands opposite in two
 * structs that are otherwise equal (matchForwards), as libbpf's struct dedup resolves it,
 * and everything is refined again. The result is the type set of libbpf's btf__dedup
 * (1.1.0 and later: bpftool 7.1's built-in copy lacks the unique-name step and keeps
 * forwards it never met opposite their struct). VAR and DATASEC are never merged (each
 * is its own variable or section).
 */
import { BTF_KIND_STRUCT, BTF_KIND_UNION, type NewType, mapTypeIds } from '../btf/types';
import { type TypeGraph, TypeGraphBuilder, tableSize } from './btf-graph';

export interface DedupResult {
  /** Old id → new id (index 0 is void → 0). */
  readonly map: Int32Array;
  /** The old ids that survive, in order: new id k + 1 is kept[k]. */
  readonly kept: Int32Array;
  /** Rounds of refinement each pass took (for tests and the curious). */
  readonly rounds: readonly number[];
  /** False when the refinement ran past its work budget and nothing was merged (hostile input). */
  readonly complete: boolean;
}

/** Rounds × types beyond which the refinement gives up (real BTF needs a handful of rounds). */
const WORK_BUDGET = 50_000_000;

class OverBudget extends Error {}

/** The graph's references with forwards passed through to the types they were resolved to. */
interface Refs {
  readonly start: Int32Array;
  readonly ids: Int32Array;
}

/**
 * Coarsest partition of ids 1..n that refines the own-field classes and is stable under the
 * references. Returns class numbers (void keeps class 0) and how many rounds it took.
 */
function refine(g: TypeGraph, refs: Refs, budget: { left: number }): { cls: Int32Array; rounds: number } {
  const n = g.n;
  // shared by every refinement of one dedup (forwards resolved later refine again)
  const maxRounds = Math.max(64, Math.floor(budget.left / Math.max(1, n)));
  let cls = Int32Array.from(g.own);
  let count = g.ownClasses;
  let rounds = 0;
  for (;;) {
    if (++rounds > maxRounds) throw new OverBudget();
    budget.left -= n;
    const next = new Int32Array(n + 1);
    const c = split(cls, count, refs, next);
    cls = next;
    // each round only splits classes: the same count means nothing changed
    if (c === count) return { cls, rounds };
    count = c;
  }
}

/**
 * One refinement round: types stay together when they were in the same class and their
 * references are in the same classes, pairwise. Signatures are hashed into an open table of
 * typed arrays (a Map of 15k entries a round kept the garbage collector busy) and compared
 * in full when the hashes agree.
 */
function split(cls: Int32Array, classes: number, refs: Refs, next: Int32Array): number {
  const n = next.length - 1;
  const { start, ids } = refs;
  // a type alone in its class stays alone: no signature to compute
  const size = new Int32Array(classes + 1);
  for (let id = 1; id <= n; id++) size[cls[id]]++;
  const slots = new Int32Array(tableSize(n)); // the first type of a class with this slot, or 0
  const mask = slots.length - 1;
  const chain = new Int32Array(n + 1); // the next first type in the same slot
  const hashOf = new Int32Array(n + 1);
  let count = 0;
  const same = (a: number, b: number): boolean => {
    if (cls[a] !== cls[b]) return false;
    const len = start[a + 1] - start[a];
    if (len !== start[b + 1] - start[b]) return false;
    for (let j = 0, x = start[a], y = start[b]; j < len; j++) if (cls[ids[x + j]] !== cls[ids[y + j]]) return false;
    return true;
  };
  for (let id = 1; id <= n; id++) {
    if (size[cls[id]] === 1) {
      next[id] = ++count;
      continue;
    }
    let h = Math.imul(cls[id], 0x9e3779b1);
    for (let q = start[id], j = 0; q < start[id + 1]; q++, j++) h = Math.imul(h ^ cls[ids[q]], 0x85ebca6b) + j;
    h = (h ^ (h >>> 16)) | 0;
    const slot = h & mask;
    let r = slots[slot];
    while (r !== 0 && !(hashOf[r] === h && same(r, id))) r = chain[r];
    if (r !== 0) {
      next[id] = next[r];
      continue;
    }
    hashOf[id] = h;
    chain[id] = slots[slot];
    slots[slot] = id;
    next[id] = ++count;
  }
  return count;
}

/**
 * Compares structs/unions that have the same own fields but fell into different classes
 * only because one side has a forward declaration where the other has the full type
 * (`struct task_struct;` in one object, the definition in another, while a third object
 * defines a different `struct task_struct`, so the name alone decides nothing). Each
 * class is compared with the earlier classes of its shape, in id order, as libbpf's
 * btf_dedup_struct_types does; a pair is equal when walking both graphs side by side
 * meets only same-class types, same-shaped types, or a forward opposite a full type of its
 * name — assuming a pair already being compared is equal (cycles), and as long as each
 * canonical-side type meets one candidate-side type and each forward name one full type.
 * The first equal pair decides what its forwards stand for (`matched`, forward key → full
 * type id, grows). Returns whether any did.
 */
function matchForwards(
  g: TypeGraph,
  cls: Int32Array,
  resolved: Int32Array,
  matched: Map<number, number>,
  budget: { left: number },
): boolean {
  const through = (id: number) => resolved[id] || id;
  const { refStart, refs } = g;
  const hypot = new Map<number, number>(); // canonical side → candidate side
  const tentative = new Map<number, number>();
  // iterative, so a deep chain cannot overflow the stack
  const equal = (cand: number, canon: number): boolean => {
    hypot.clear();
    tentative.clear();
    const work: number[] = [cand, canon];
    while (work.length) {
      const b = through(work.pop()!);
      const a = through(work.pop()!);
      if (cls[a] === cls[b]) continue;
      if (--budget.left < 0) return false;
      const seen = hypot.get(b);
      if (seen !== undefined) {
        if (cls[seen] !== cls[a]) return false;
        continue;
      }
      hypot.set(b, a);
      const fa = g.fwdKey[a];
      const fb = g.fwdKey[b];
      if (fa !== 0 || fb !== 0) {
        // an unresolved forward (resolved ones were passed through) against a full type
        if (fa !== 0 && fb !== 0) return false;
        const key = fa || fb;
        const full = fa !== 0 ? b : a;
        if (g.fullKey[full] !== key) return false;
        const prev = tentative.get(key) ?? matched.get(key);
        if (prev !== undefined && cls[prev] !== cls[full]) return false;
        tentative.set(key, full);
        continue;
      }
      if (g.own[a] !== g.own[b]) return false;
      for (let x = refStart[a + 1] - 1, y = refStart[b + 1] - 1; x >= refStart[a]; x--, y--) work.push(refs[x], refs[y]);
    }
    return true;
  };
  const seen = new Set<number>();
  const canonical = new Map<number, number[]>(); // own class → one type per class, in id order
  let added = false;
  for (let id = 1; id <= g.n && budget.left > 0; id++) {
    if ((g.kind[id] !== BTF_KIND_STRUCT && g.kind[id] !== BTF_KIND_UNION) || seen.has(cls[id])) continue;
    seen.add(cls[id]);
    const list = canonical.get(g.own[id]);
    if (!list) {
      canonical.set(g.own[id], [id]);
      continue;
    }
    const hit = list.find((canon) => equal(id, canon));
    if (hit === undefined) {
      list.push(id);
      continue;
    }
    for (const [k, to] of tentative) {
      if (!matched.has(k)) {
        matched.set(k, to);
        added = true;
      }
    }
  }
  return added;
}

/** Dedups types built in memory (`types[i]` has id i + 1; references must be in 0..types.length). */
export function dedupBtf(types: readonly NewType[]): DedupResult & { readonly types: NewType[] } {
  const b = new TypeGraphBuilder(types.length);
  const src = b.sourceOf(types);
  for (let i = 0; i < types.length; i++) b.add(src, i, (id) => id);
  const d = dedupGraph(b.finish());
  return { ...d, types: Array.from(d.kept, (id) => mapTypeIds(types[id - 1], (r) => d.map[r])) };
}

/** The dedup of a type graph: which types survive, and where every type went. */
export function dedupGraph(g: TypeGraph): DedupResult {
  // indexed, not for...of: the interpreter allocates an iterator result per element
  for (let q = 0; q < g.refs.length; q++) {
    const id = g.refs[q];
    if (!(id >= 0 && id <= g.n)) throw new RangeError(`dedupBtf: type reference ${id} out of range (${g.n} types)`);
  }
  try {
    return dedup(g);
  } catch (e) {
    if (!(e instanceof OverBudget)) throw e;
    // a chain or ring long enough to need that many rounds: keep every type as it is
    const map = new Int32Array(g.n + 1).map((_, i) => i);
    return { map, kept: map.subarray(1), rounds: [], complete: false };
  }
}

function dedup(g: TypeGraph): DedupResult {
  const n = g.n;
  // full types by key, in id order
  const fulls = new Map<number, number[]>();
  for (let id = 1; id <= n; id++) {
    const k = g.fullKey[id];
    if (k === 0) continue;
    const l = fulls.get(k);
    if (l) l.push(id);
    else fulls.set(k, [id]);
  }
  // forward key → the full type it was matched against inside two structs found equal
  const matched = new Map<number, number>();
  const resolved = new Int32Array(n + 1);
  const rounds: number[] = [];
  const refineBudget = { left: WORK_BUDGET };
  // comparing struct pairs for forwards stops early past this (fewer forwards resolved, no failure)
  const matchBudget = { left: WORK_BUDGET / 10 };
  let final: { cls: Int32Array; rounds: number };
  for (;;) {
    // Forward declarations are taken, optimistically, to be the full type of their name; a
    // name whose full types still end up in different classes cannot be resolved, and its
    // forwards stay what they are in the next round (libbpf's FWD/STRUCT equivalence).
    const open = new Set<number>();
    for (let id = 1; id <= n; id++) {
      const k = g.fwdKey[id];
      if (k !== 0 && fulls.has(k) && !matched.has(k)) open.add(k);
    }
    for (;;) {
      resolve(g, fulls, open, matched, resolved);
      final = refine(g, open.size || matched.size ? passThrough(g, resolved) : { start: g.refStart, ids: g.refs }, refineBudget);
      rounds.push(final.rounds);
      const split = [...open].filter((k) => new Set(fulls.get(k)!.map((id) => final.cls[id])).size > 1);
      if (split.length === 0) break;
      for (const k of split) open.delete(k);
    }
    // Names with several full types: a forward takes the one it stands for in some struct
    // that is otherwise equal to another (libbpf's FWD resolution during struct dedup);
    // then everything is refined again with it resolved.
    if (refineBudget.left <= 0 || !matchForwards(g, final.cls, resolved, matched, matchBudget)) break;
  }
  return { ...survivors(final.cls, resolved), rounds, complete: true };
}

/** What each forward stands for now: its matched full type, else its key's first while open. */
function resolve(g: TypeGraph, fulls: Map<number, number[]>, open: Set<number>, matched: Map<number, number>, resolved: Int32Array): void {
  resolved.fill(0);
  for (let id = 1; id <= g.n; id++) {
    const k = g.fwdKey[id];
    if (k === 0) continue;
    const to = matched.get(k) ?? (open.has(k) ? fulls.get(k)![0] : 0);
    if (to) resolved[id] = to;
  }
}

function passThrough(g: TypeGraph, resolved: Int32Array): Refs {
  const ids = new Int32Array(g.refs.length);
  for (let q = 0; q < ids.length; q++) ids[q] = resolved[g.refs[q]] || g.refs[q];
  return { start: g.refStart, ids };
}

/** The first type of each class represents it; resolved forwards take their target's place. */
function survivors(cls: Int32Array, resolved: Int32Array): { map: Int32Array; kept: Int32Array } {
  const n = cls.length - 1;
  const rep = new Map<number, number>();
  for (let id = 1; id <= n; id++) if (!resolved[id] && !rep.has(cls[id])) rep.set(cls[id], id);
  const newId = new Int32Array(n + 1);
  const kept: number[] = [];
  for (let id = 1; id <= n; id++) {
    if (!resolved[id] && rep.get(cls[id]) === id) {
      kept.push(id);
      newId[id] = kept.length;
    }
  }
  const map = new Int32Array(n + 1);
  for (let id = 1; id <= n; id++) map[id] = newId[rep.get(cls[resolved[id] || id])!];
  return { map, kept: Int32Array.from(kept) };
}
