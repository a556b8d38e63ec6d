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
 * forwards, and the refinement runs again (so it ends: every retry drops a name). VAR and
 * DATASEC are never merged (each is its own variable or section).
 */
import { NewType, TypeId, mapTypeIds, referencedIds } from '../btf/types';

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
    case 'INT': return `${k}|${t.name}|${t.size}|${t.encoding}|${t.bitsOffset}|${t.bits}`;
    case 'PTR': case 'CONST': case 'VOLATILE': case 'RESTRICT': return k;
    case 'TYPEDEF': case 'TYPE_TAG': return `${k}|${t.name}`;
    case 'ARRAY': return `${k}|${t.nelems}`;
    case 'STRUCT': case 'UNION':
      return `${k}|${t.name}|${t.size}|${t.kindFlag ? 1 : 0}|${t.members.map((m) => `${m.name}:${m.bitsOffset}:${m.bitfieldSize}`).join(',')}`;
    case 'ENUM': case 'ENUM64':
      return `${k}|${t.name}|${t.size}|${t.kindFlag ? 1 : 0}|${t.values.map((v) => `${v.name}=${v.value}`).join(',')}`;
    case 'FWD': return `${k}|${t.name}|${t.kindFlag ? 1 : 0}`;
    case 'FUNC': return `${k}|${t.name}|${t.linkage}`;
    case 'FUNC_PROTO': return `${k}|${t.params.map((p) => p.name).join(',')}`;
    case 'FLOAT': return `${k}|${t.name}|${t.size}`;
    case 'DECL_TAG': return `${k}|${t.name}|${t.componentIdx}`;
    case 'VAR': case 'DATASEC': return `${k}|#${id}`;
  }
}

/**
 * Coarsest partition of ids 1..n that refines `keys` and is stable under `children`.
 * Returns class numbers (void keeps class 0) and how many rounds it took.
 */
function refine(keys: readonly string[], children: readonly (readonly TypeId[])[]): { cls: Int32Array; rounds: number } {
  const n = keys.length;
  const maxRounds = Math.max(64, Math.floor(WORK_BUDGET / Math.max(1, n)));
  let cls = new Int32Array(n + 1);
  let count = number(keys, cls);
  let rounds = 0;
  for (;;) {
    if (++rounds > maxRounds) throw new OverBudget();
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
  const open = new Set(fwdKeys.filter((k): k is string => k !== undefined && fulls.has(k)));
  const resolved = new Int32Array(n + 1);
  const rounds: number[] = [];
  let final: { cls: Int32Array; rounds: number };
  for (;;) {
    resolved.fill(0);
    fwdKeys.forEach((k, i) => {
      if (k !== undefined && open.has(k)) resolved[i + 1] = fulls.get(k)![0];
    });
    const through = (id: TypeId) => resolved[id] || id;
    final = refine(keys, open.size ? children.map((ch) => ch.map(through)) : children);
    rounds.push(final.rounds);
    const split = [...open].filter((k) => new Set(fulls.get(k)!.map((id) => final.cls[id])).size > 1);
    if (split.length === 0) break;
    for (const k of split) open.delete(k);
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
