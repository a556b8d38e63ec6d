// Relocating split BTF from its distilled base onto a real base (libbpf's btf__relocate,
// which the kernel also runs when it loads a module that carries `.BTF.base`): each
// distilled type is matched with a type of the target base by kind and name, split
// type ids move past the target's, and references to the distilled base are rewritten.
import { type Btf } from './btf';
import { BtfBuilder } from './write';
import { type BtfType, KIND_NAMES, type KindName, type TypeId, isComposite, mapTypeIds } from './types';

/**
 * How one distilled base type fares against the target:
 * - match: one target type fits (sizes equal, or compared and equal);
 * - size-not-checked: one target type fits by name, its size differs, but relocation
 *   does not compare sizes here (the split BTF only points at it);
 * - size-mismatch: the target has it, but not of the size relocation requires;
 * - encoding-mismatch: an INT of that name and size exists with another encoding;
 * - kind-mismatch: the target has the name only as another kind;
 * - missing: the target has no type of that name;
 * - ambiguous: several target types fit equally well;
 * - invalid: the distilled base holds a type no distilled base may hold.
 * Only match and size-not-checked relocate.
 */
export type BaseMatchStatus =
  'match' | 'size-not-checked' | 'size-mismatch' | 'encoding-mismatch' | 'kind-mismatch' | 'missing' | 'ambiguous' | 'invalid';

export const RELOCATABLE: ReadonlySet<BaseMatchStatus> = new Set(['match', 'size-not-checked']);

export interface BaseMatch {
  /** Id in the distilled base. */
  readonly id: TypeId;
  readonly kind: KindName;
  readonly name: string;
  /** Distilled size (0 for FWD). */
  readonly size: number;
  /** Split struct/union that embeds it by value (its size must then match), if any. */
  readonly embeddedIn?: TypeId;
  /** Whether relocation compares sizes for this type. */
  readonly sizeChecked: boolean;
  readonly status: BaseMatchStatus;
  /** The target type it maps to (status match or size-not-checked). */
  readonly targetId?: TypeId;
  readonly targetKind?: KindName;
  readonly targetSize?: number;
  /** Target types that fit (ambiguous), or that carry the name but do not fit (the others). */
  readonly candidates: readonly TypeId[];
  /** Why it does not match, in words. */
  readonly reason?: string;
}

export interface BaseMapping {
  /** One entry per distilled base type, in id order. */
  readonly matches: readonly BaseMatch[];
  /** Every distilled type maps to exactly one target type. */
  readonly ok: boolean;
  /** Distilled base id → target id (0 where unmapped); index 0 is void. */
  readonly idMap: Uint32Array;
}

/** Relocation failed: the mapping says which distilled types did not map, and why. */
export class RelocateError extends Error {
  /** `file`: the module whose `.BTF.base` this was, named first in the message. */
  constructor(
    readonly mapping: BaseMapping,
    file?: string,
  ) {
    const bad = mapping.matches.filter((m) => !RELOCATABLE.has(m.status));
    const first = bad.slice(0, 3).map((m) => `${m.kind} '${m.name}' [${m.id}]: ${m.status}${m.reason ? ` (${m.reason})` : ''}`);
    super(
      `${file ? `${file}: section .BTF.base: ` : ''}${bad.length} distilled base type${bad.length === 1 ? '' : 's'} did not map onto the target: ${first.join('; ')}${bad.length > 3 ? '; …' : ''}`,
    );
    this.name = 'RelocateError';
  }
}

// Kind numbers of the kinds a distilled type can map to.
const INT = 1,
  STRUCT = 4,
  UNION = 5,
  ENUM = 6,
  FWD = 7,
  FLOAT = 16,
  ENUM64 = 19;
const MATCHABLE = new Set([INT, STRUCT, UNION, ENUM, FWD, FLOAT, ENUM64]);

/**
 * The target base indexed for relocation: named types of the kinds a distilled type can
 * map to, by name. Build it once per target and share it across modules.
 */
export class TargetIndex {
  private readonly kinds: Uint8Array;
  private readonly byName = new Map<string, TypeId[]>();

  constructor(readonly btf: Btf) {
    const n = btf.length;
    this.kinds = new Uint8Array(n);
    const raw = btf.base ? undefined : btf.records;
    for (let id = 1; id < n; id++) {
      const kind = raw
        ? (raw.view.getUint32(raw.offsets[id - 1] + 4, btf.littleEndian) >>> 24) & 0x1f
        : KIND_NAMES.indexOf(btf.type(id).kind);
      this.kinds[id] = kind;
      if (!MATCHABLE.has(kind)) continue;
      const name = btf.nameOf(id);
      if (!name) continue;
      const list = this.byName.get(name);
      if (list) list.push(id);
      else this.byName.set(name, [id]);
    }
  }

  /** Named INT, FLOAT, ENUM, ENUM64, FWD, STRUCT and UNION types called `name`, by id. */
  candidates(name: string): readonly TypeId[] {
    return this.byName.get(name) ?? [];
  }

  kind(id: TypeId): number {
    return this.kinds[id];
  }

  /** How many structs and unions carry `name` (several: sizes decide). */
  compositeCount(name: string): number {
    let n = 0;
    for (const id of this.candidates(name)) if (this.kinds[id] === STRUCT || this.kinds[id] === UNION) n++;
    return n;
  }
}

/**
 * Split struct/union members that hold a distilled struct/union by value (through
 * typedefs, modifiers and arrays, not pointers): such a type's size must match.
 * Returns distilled id → the first split type that embeds it.
 */
function embeddedTypes(split: Btf): Map<TypeId, TypeId> {
  const out = new Map<TypeId, TypeId>();
  const distEnd = split.startId;
  for (let id = split.startId; id < split.length; id++) {
    const t = split.type(id);
    if (!isComposite(t)) continue;
    for (const m of t.members) {
      let next = m.type;
      // Chains end: the parser rejects cycles that do not pass through a pointer.
      while (next !== 0) {
        const u = split.type(next);
        if (u.kind === 'CONST' || u.kind === 'VOLATILE' || u.kind === 'RESTRICT' || u.kind === 'TYPEDEF' || u.kind === 'TYPE_TAG')
          next = u.type;
        else if (u.kind === 'ARRAY') next = u.type;
        else {
          if (isComposite(u) && next < distEnd && !out.has(next)) out.set(next, id);
          next = 0;
        }
      }
    }
  }
  return out;
}

function sizeOf(t: BtfType): number {
  return 'size' in t ? t.size : 0;
}

function describe(btf: Btf, ids: readonly TypeId[]): string {
  return (
    ids
      .slice(0, 4)
      .map((id) => {
        const t = btf.type(id);
        return `${t.kind} [${id}]${'size' in t ? ` size ${t.size}` : ''}${t.kind === 'INT' ? ` ${intEncoding(t.encoding)}` : ''}`;
      })
      .join(', ') + (ids.length > 4 ? `, … (${ids.length} in all)` : '')
  );
}

export function intEncoding(enc: number): string {
  const names = [enc & 1 ? 'SIGNED' : '', enc & 2 ? 'CHAR' : '', enc & 4 ? 'BOOL' : ''].filter(Boolean);
  return names.length ? names.join('|') : '(none)';
}

/**
 * Whether target type `tid` (kind `tk`) may stand for distilled type `d`, size and INT
 * encoding aside. These are libbpf's rules, which the kernel shares, quirks included: a
 * distilled STRUCT/UNION accepts a target type of any matchable kind (a FWD when the
 * target only declares it), and a FWD accepts a STRUCT without kind_flag or a UNION with
 * it (kind_flag there means "has bitfields", not the FWD's flavour).
 */
function kindFits(d: BtfType, tk: number, target: Btf, tid: TypeId): boolean {
  switch (d.kind) {
    case 'FWD':
      if (tk === FWD) return target.type(tid).kindFlag === d.kindFlag;
      if (tk === STRUCT) return !target.type(tid).kindFlag;
      if (tk === UNION) return target.type(tid).kindFlag;
      return false;
    case 'INT':
      return tk === INT;
    case 'FLOAT':
      return tk === FLOAT;
    case 'ENUM':
      return tk === ENUM || tk === ENUM64;
    case 'STRUCT':
    case 'UNION':
      return true;
    default:
      return false;
  }
}

function kindNote(d: BtfType, t: BtfType): string | undefined {
  if (t.kind === d.kind || (d.kind === 'ENUM' && t.kind === 'ENUM64')) return undefined;
  return `the target has it as ${t.kind} [${t.id}]; relocation accepts that`;
}

/** Matches one distilled type against the target, as btf_relocate_map_distilled_base does. */
function matchOne(d: BtfType, embeddedIn: TypeId | undefined, index: TargetIndex): BaseMatch {
  const target = index.btf;
  const size = sizeOf(d);
  const row = { id: d.id, kind: d.kind, name: d.name, size, embeddedIn };
  if (!d.name || !['INT', 'FLOAT', 'ENUM', 'STRUCT', 'UNION', 'FWD'].includes(d.kind)) {
    return {
      ...row,
      sizeChecked: false,
      status: 'invalid',
      candidates: [],
      reason: d.name
        ? `a distilled base holds only INT, FLOAT, ENUM, STRUCT, UNION and FWD, not ${d.kind}`
        : 'a distilled base holds only named types',
    };
  }
  const named = index.candidates(d.name);
  const composites = isComposite(d) || d.kind === 'FWD' ? index.compositeCount(d.name) : 0;
  // Whether the target type's size must equal the distilled one (libbpf: needs_size).
  const sizeMatters = (tk: number) =>
    tk === INT ||
    tk === FLOAT ||
    tk === ENUM ||
    tk === ENUM64 ||
    ((tk === STRUCT || tk === UNION) && (composites > 1 || embeddedIn !== undefined));
  const sameKind = named.filter((id) => kindFits(d, index.kind(id), target, id));
  const fits = sameKind.filter((id) => {
    const t = target.type(id);
    if (sizeMatters(index.kind(id)) && sizeOf(t) !== size) return false;
    // embedded by value: whatever the target's kind (a FWD has size 0), sizes must agree
    if (embeddedIn !== undefined && isComposite(d) && sizeOf(t) !== size) return false;
    return !(d.kind === 'INT' && t.kind === 'INT' && t.encoding !== d.encoding);
  });
  if (fits.length === 1) {
    const t = target.type(fits[0]);
    const sizeChecked = sizeMatters(index.kind(fits[0])) || (embeddedIn !== undefined && isComposite(d));
    const status = sizeChecked || d.kind === 'FWD' || t.kind === 'FWD' || sizeOf(t) === size ? 'match' : 'size-not-checked';
    const reason =
      status === 'size-not-checked' ? `target size ${sizeOf(t)}; only pointed to, so relocation does not compare sizes` : kindNote(d, t);
    return {
      ...row,
      sizeChecked,
      status,
      targetId: t.id,
      targetKind: t.kind,
      targetSize: sizeOf(t),
      candidates: fits,
      ...(reason ? { reason } : {}),
    };
  }
  const sizeChecked = sameKind.some((id) => sizeMatters(index.kind(id)));
  if (fits.length > 1) {
    return {
      ...row,
      sizeChecked,
      status: 'ambiguous',
      candidates: fits,
      reason: `${fits.length} target types fit: ${describe(target, fits)}`,
    };
  }
  if (sameKind.length === 0) {
    if (named.length === 0)
      return { ...row, sizeChecked, status: 'missing', candidates: [], reason: `the target has no ${d.kind} '${d.name}'` };
    const quirk =
      d.kind === 'FWD' && named.some((id) => index.kind(id) === (d.kindFlag ? UNION : STRUCT))
        ? " (relocation tests the struct/union's kind_flag, its bitfield flag, against the FWD's flavour)"
        : '';
    return {
      ...row,
      sizeChecked,
      status: 'kind-mismatch',
      candidates: named,
      reason: `the target has '${d.name}' only as ${describe(target, named)}${quirk}`,
    };
  }
  if (d.kind === 'INT') {
    const sized = sameKind.filter((id) => sizeOf(target.type(id)) === size);
    if (sized.length) {
      return {
        ...row,
        sizeChecked,
        status: 'encoding-mismatch',
        candidates: sized,
        reason: `distilled encoding ${intEncoding(d.encoding)}, target ${describe(target, sized)}`,
      };
    }
  }
  const why =
    embeddedIn !== undefined
      ? `embedded by value in split type [${embeddedIn}]`
      : composites > 1
        ? `the target has ${composites} structs/unions of that name`
        : 'sizes must match for this kind';
  return { ...row, sizeChecked, status: 'size-mismatch', candidates: sameKind, reason: `${why}; target has ${describe(target, sameKind)}` };
}

/**
 * Maps each type of split BTF's distilled base onto the target base. `split.base` must be
 * the distilled base (a module's `.BTF.base`, or distillBase's result).
 */
export function mapDistilledBase(split: Btf, target: Btf | TargetIndex): BaseMapping {
  const dist = split.base;
  if (!dist) throw new Error('split BTF has no (distilled) base to relocate from');
  const index = target instanceof TargetIndex ? target : new TargetIndex(target);
  const embedded = embeddedTypes(split);
  const idMap = new Uint32Array(dist.length);
  const matches: BaseMatch[] = [];
  let ok = true;
  for (let id = 1; id < dist.length; id++) {
    const m = matchOne(dist.type(id), embedded.get(id), index);
    matches.push(m);
    if (RELOCATABLE.has(m.status)) idMap[id] = m.targetId!;
    else ok = false;
  }
  return { matches, ok, idMap };
}

export interface Relocated {
  /** The split BTF on the target base. */
  readonly btf: Btf;
  readonly mapping: BaseMapping;
  /** Id on the distilled base (distilled or split) → id on the target (the kernel's base_id_map). */
  mapId(id: TypeId): TypeId;
}

/**
 * Re-expresses split BTF (on a distilled base) on `target`: throws RelocateError, naming
 * the types that did not map, when any distilled type has no single match.
 */
export function relocateSplit(split: Btf, target: Btf | TargetIndex, mapping?: BaseMapping): Relocated {
  const index = target instanceof TargetIndex ? target : new TargetIndex(target);
  const m = mapping ?? mapDistilledBase(split, index);
  if (!m.ok) throw new RelocateError(m);
  const distEnd = split.startId;
  const shift = index.btf.length - distEnd;
  const remap = (id: TypeId) => (id === 0 ? 0 : id < distEnd ? m.idMap[id] : id + shift);
  const b = new BtfBuilder(index.btf);
  for (let id = split.startId; id < split.length; id++) {
    const { id: _id, ...t } = split.type(id);
    b.add(mapTypeIds(t, remap));
  }
  return { btf: b.build(), mapping: m, mapId: (id) => (id < split.length ? remap(id) : 0) };
}
