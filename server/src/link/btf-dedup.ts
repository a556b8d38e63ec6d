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
import { type NewType, type TypeId, mapTypeIds, referencedIds } from '../btf/types';

export interface DedupResult {
  /** The surviving types, in order of their first occurrence; references use new ids. */
  readonly types: NewType[];
  /** Old id → new id (index 0 is void → 0). */
  readonly map: Int32Array;
  /** Rounds of refinement each pass took (for tests and the curious). */
  readonly rounds: readonly number[];
  /** False when the refinement ran past its work budget and nothing was merged (hostile input). */
  readonly complete: boolean;
}

/** Rounds × types beyond which the refinement gives up (real BTF needs a handful of rounds). */
const WORK_BUDGET = 50_000_000;

class OverBudget extends Error {}

/** The fields of a type that are not references, as one string. */
function ownKey(t: NewType, id: TypeId): string {
  const k = t.kind;
  switch (t.kind) {
    case 'INT':
      return `${k}|${t.name}|${t.size}|${t.encoding}|${t.bitsOffset}|${t.bits}`;
    case 'PTR':
    case 'CONST':
    case 'VOLATILE':
    case 'RESTRICT':
      return k;
    case 'TYPEDEF':
    case 'TYPE_TAG':
      return `${k}|${t.name}`;
    case 'ARRAY':
      return `${k}|${t.nelems}`;
    case 'STRUCT':
    case 'UNION':
      return `${k}|${t.name}|${t.size}|${t.kindFlag ? 1 : 0}|${t.members.map((m) => `${m.name}:${m.bitsOffset}:${m.bitfieldSize}`).join(',')}`;
    case 'ENUM':
    case 'ENUM64':
      return `${k}|${t.name}|${t.size}|${t.kindFlag ? 1 : 0}|${t.values.map((v) => `${v.name}=${v.value}`).join(',')}`;
    case 'FWD':
      return `${k}|${t.name}|${t.kindFlag ? 1 : 0}`;
    case 'FUNC':
      return `${k}|${t.name}|${t.linkage}`;
    case 'FUNC_PROTO':
      return `${k}|${t.params.map((p) => p.name).join(',')}`;
    case 'FLOAT':
      return `${k}|${t.name}|${t.size}`;
    case 'DECL_TAG':
      return `${k}|${t.name}|${t.componentIdx}`;
    case 'VAR':
    case 'DATASEC':
      return `${k}|#${id}`;
  }
}

/**
 * Coarsest partition of ids 1..n that refines `keys` and is stable under `children`.
 * Returns class numbers (void keeps class 0) and how many rounds it took.
 */
function refine(
  keys: readonly string[],
  children: readonly (readonly TypeId[])[],
  budget: { left: number },
): { cls: Int32Array; rounds: number } {
  const n = keys.length;
  // shared by every refinement of one dedup (forwards resolved later refine again)
  const maxRounds = Math.max(64, Math.floor(budget.left / Math.max(1, n)));
  let cls = new Int32Array(n + 1);
  let count = number(keys, cls);
  let rounds = 0;
  for (;;) {
    if (++rounds > maxRounds) throw new OverBudget();
    budget.left -= n;
    const next = new Int32Array(n + 1);
    const c = split(cls, children, next);
    cls = next;
    // each round only splits classes: the same count means nothing changed
    if (c === count) return { cls, rounds };
    count = c;
  }
}

/**
 * One refinement round: types stay together when they were in the same class and their
 * references are in the same classes, pairwise. Signatures are hashed to numbers and
 * compared on collision, so no strings are built per round.
 */
function split(cls: Int32Array, children: readonly (readonly TypeId[])[], next: Int32Array): number {
  const n = children.length;
  const buckets = new Map<number, number | number[]>();
  let count = 0;
  const same = (a: number, b: number): boolean => {
    if (cls[a] !== cls[b]) return false;
    const x = children[a - 1];
    const y = children[b - 1];
    if (x.length !== y.length) return false;
    for (let j = 0; j < x.length; j++) if (cls[x[j]] !== cls[y[j]]) return false;
    return true;
  };
  for (let id = 1; id <= n; id++) {
    const ch = children[id - 1];
    let h = Math.imul(cls[id], 0x9e3779b1);
    for (let j = 0; j < ch.length; j++) h = Math.imul(h ^ cls[ch[j]], 0x85ebca6b) + j;
    h |= 0;
    const b = buckets.get(h);
    if (b === undefined) {
      buckets.set(h, id);
      next[id] = ++count;
    } else if (typeof b === 'number') {
      if (same(b, id)) next[id] = next[b];
      else {
        buckets.set(h, [b, id]);
        next[id] = ++count;
      }
    } else {
      const hit = b.find((r) => same(r, id));
      if (hit !== undefined) next[id] = next[hit];
      else {
        b.push(id);
        next[id] = ++count;
      }
    }
  }
  return count;
}

/** Numbers distinct strings 1, 2, ... in order of first appearance into out[1..]. */
function number(keys: readonly string[], out: Int32Array): number {
  const ids = new Map<string, number>();
  for (let i = 0; i < keys.length; i++) {
    let c = ids.get(keys[i]);
    if (c === undefined) ids.set(keys[i], (c = ids.size + 1));
    out[i + 1] = c;
  }
  return ids.size;
}

interface Forwards {
  readonly fwdKeys: readonly (string | undefined)[];
  readonly fullKey: (t: NewType) => string | undefined;
  /** Grows: forward key → full type id. */
  readonly matched: Map<string, TypeId>;
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
 * The first equal pair decides what its forwards stand for. Returns whether any did.
 */
function matchForwards(
  types: readonly NewType[],
  keys: readonly string[],
  children: readonly (readonly TypeId[])[],
  cls: Int32Array,
  resolved: Int32Array,
  fw: Forwards,
  budget: { left: number },
): boolean {
  const through = (id: TypeId) => resolved[id] || id;
  const hypot = new Map<TypeId, TypeId>(); // canonical side → candidate side
  const tentative = new Map<string, TypeId>();
  // iterative, so a deep chain cannot overflow the stack
  const equal = (cand: TypeId, canon: TypeId): boolean => {
    hypot.clear();
    tentative.clear();
    const work: TypeId[] = [cand, canon];
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
      const fa = fw.fwdKeys[a - 1];
      const fb = fw.fwdKeys[b - 1];
      if (fa !== undefined || fb !== undefined) {
        // an unresolved forward (resolved ones were passed through) against a full type
        if (fa !== undefined && fb !== undefined) return false;
        const key = (fa ?? fb)!;
        const full = fa !== undefined ? b : a;
        if (fw.fullKey(types[full - 1]) !== key) return false;
        const prev = tentative.get(key) ?? fw.matched.get(key);
        if (prev !== undefined && cls[prev] !== cls[full]) return false;
        tentative.set(key, full);
        continue;
      }
      if (keys[a - 1] !== keys[b - 1]) return false;
      const x = children[a - 1];
      const y = children[b - 1];
      for (let j = x.length - 1; j >= 0; j--) work.push(x[j], y[j]);
    }
    return true;
  };
  const seen = new Set<number>();
  const canonical = new Map<string, TypeId[]>(); // own key → one type per class, in id order
  let added = false;
  for (let id = 1; id <= types.length && budget.left > 0; id++) {
    const t = types[id - 1];
    if ((t.kind !== 'STRUCT' && t.kind !== 'UNION') || seen.has(cls[id])) continue;
    seen.add(cls[id]);
    const list = canonical.get(keys[id - 1]);
    if (!list) {
      canonical.set(keys[id - 1], [id]);
      continue;
    }
    const hit = list.find((canon) => equal(id, canon));
    if (hit === undefined) {
      list.push(id);
      continue;
    }
    for (const [k, to] of tentative) {
      if (!fw.matched.has(k)) {
        fw.matched.set(k, to);
        added = true;
      }
    }
  }
  return added;
}

/** `types[i]` has id i + 1; references must be in 0..types.length. */
export function dedupBtf(types: readonly NewType[]): DedupResult {
  try {
    return dedup(types);
  } catch (e) {
    if (!(e instanceof OverBudget)) throw e;
    // a chain or ring long enough to need that many rounds: keep every type as it is
    const map = new Int32Array(types.length + 1).map((_, i) => i);
    return { types: types.slice(), map, rounds: [], complete: false };
  }
}

function dedup(types: readonly NewType[]): DedupResult {
  const n = types.length;
  const keys = types.map((t, i) => ownKey(t, i + 1));
  const children = types.map((t) => {
    const ids = referencedIds(t as Parameters<typeof referencedIds>[0]);
    for (const id of ids) if (!(id >= 0 && id <= n)) throw new RangeError(`dedupBtf: type reference ${id} out of range (${n} types)`);
    return ids;
  });
  // Forward declarations are taken, optimistically, to be the full type of their name; a
  // name whose full types still end up in different classes cannot be resolved, and its
  // forwards stay what they are in the next round (libbpf's FWD/STRUCT equivalence).
  const fullKey = (t: NewType): string | undefined => {
    if (!t.name) return undefined;
    if (t.kind === 'STRUCT' || t.kind === 'UNION') return `${t.kind === 'UNION' ? 'U' : 'S'}|${t.name}`;
    if ((t.kind === 'ENUM' || t.kind === 'ENUM64') && t.values.length > 0) return `E|${t.name}|${t.size}`;
    return undefined;
  };
  const fwdKey = (t: NewType): string | undefined => {
    if (!t.name) return undefined;
    if (t.kind === 'FWD') return `${t.kindFlag ? 'U' : 'S'}|${t.name}`;
    if (t.kind === 'ENUM' && t.values.length === 0) return `E|${t.name}|${t.size}`;
    return undefined;
  };
  const fulls = new Map<string, TypeId[]>();
  types.forEach((t, i) => {
    const k = fullKey(t);
    if (k === undefined) return;
    const l = fulls.get(k);
    if (l) l.push(i + 1);
    else fulls.set(k, [i + 1]);
  });
  const fwdKeys = types.map(fwdKey);
  // forward key → the full type it was matched against inside two structs found equal
  const matched = new Map<string, TypeId>();
  const resolved = new Int32Array(n + 1);
  const rounds: number[] = [];
  const refineBudget = { left: WORK_BUDGET };
  // comparing struct pairs for forwards stops early past this (fewer forwards resolved, no failure)
  const matchBudget = { left: WORK_BUDGET / 10 };
  let final: { cls: Int32Array; rounds: number };
  for (;;) {
    const open = new Set(fwdKeys.filter((k): k is string => k !== undefined && fulls.has(k) && !matched.has(k)));
    for (;;) {
      resolved.fill(0);
      fwdKeys.forEach((k, i) => {
        if (k === undefined) return;
        const to = matched.get(k) ?? (open.has(k) ? fulls.get(k)![0] : 0);
        if (to) resolved[i + 1] = to;
      });
      const through = (id: TypeId) => resolved[id] || id;
      final = refine(keys, open.size || matched.size ? children.map((ch) => ch.map(through)) : children, refineBudget);
      rounds.push(final.rounds);
      const split = [...open].filter((k) => new Set(fulls.get(k)!.map((id) => final.cls[id])).size > 1);
      if (split.length === 0) break;
      for (const k of split) open.delete(k);
    }
    // Names with several full types: a forward takes the one it stands for in some struct
    // that is otherwise equal to another (libbpf's FWD resolution during struct dedup);
    // then everything is refined again with it resolved.
    if (refineBudget.left <= 0 || !matchForwards(types, keys, children, final.cls, resolved, { fwdKeys, fullKey, matched }, matchBudget))
      break;
  }

  // The first type of each class represents it; resolved forwards take their target's place.
  const rep = new Map<number, TypeId>();
  for (let id = 1; id <= n; id++) if (!resolved[id] && !rep.has(final.cls[id])) rep.set(final.cls[id], id);
  const newId = new Int32Array(n + 1);
  const kept: TypeId[] = [];
  for (let id = 1; id <= n; id++) {
    if (!resolved[id] && rep.get(final.cls[id]) === id) {
      kept.push(id);
      newId[id] = kept.length;
    }
  }
  const map = new Int32Array(n + 1);
  for (let id = 1; id <= n; id++) {
    const target = resolved[id] || id;
    map[id] = newId[rep.get(final.cls[target])!];
  }
  const out = kept.map((id) => mapTypeIds(types[id - 1], (r) => map[r]));
  return { types: out, map, rounds, complete: true };
}
