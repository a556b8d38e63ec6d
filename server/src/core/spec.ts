// Access specs: an access string ("0:1:0:5") resolved against a BTF (libbpf's
// bpf_core_spec). The low-level spec keeps every index, anonymous members included; the
// high-level one keeps only the steps that mean something in C: named fields and array
// indexes. Matching walks the local high-level spec through a candidate target type.
import { type Btf } from '../btf/btf';
import { type BtfArray, type BtfComposite, type BtfType, type TypeId, isComposite, isEnum } from '../btf/types';
import {
  CoreReloError,
  SPEC_MAX_LEN,
  essentialName,
  listNames,
  memberNames,
  similarNames,
  resolveSize,
  skipToType,
  typeAt,
  typeName,
} from './btf-util';
import { fieldsAreCompat, typesAreCompat, typesMatch } from './compat';
import { BPF_CORE_TYPE_MATCHES, isEnumvalBased, isFieldBased, isTypeBased } from './kinds';

export interface CoreAccessor {
  /** Named field: the composite holding it; array index or root: the element type. */
  readonly typeId: TypeId;
  readonly idx: number;
  /** Field or enumerator name; undefined for array indexes. */
  readonly name?: string;
}

export interface CoreSpec {
  readonly btf: Btf;
  /** The relocation's type (local) or the candidate's (target), modifiers not skipped. */
  readonly rootId: TypeId;
  readonly kind: number;
  readonly access: CoreAccessor[];
  readonly raw: number[];
  bitOffset: number;
}

/** The relocation record fields a spec needs. */
export interface CoreReloRecord {
  readonly typeId: TypeId;
  readonly accessStr: string;
  readonly kind: number;
}

function composite(btf: Btf, id: TypeId): BtfComposite {
  return btf.type(id) as BtfComposite;
}

/** A flexible array: unsized and the last member of the struct named by `acc`. */
function isFlexArray(btf: Btf, acc: CoreAccessor | undefined, arr: BtfArray): boolean {
  if (!acc?.name || arr.nelems > 0) return false;
  return acc.idx === composite(btf, acc.typeId).members.length - 1;
}

/** Parses and resolves a relocation's access string against the local BTF. */
export function parseSpec(btf: Btf, relo: CoreReloRecord): CoreSpec {
  const str = relo.accessStr;
  typeAt(btf, relo.typeId);
  const spec: CoreSpec = { btf, rootId: relo.typeId, kind: relo.kind, access: [], raw: [], bitOffset: 0 };
  if (str === '' || str.startsWith(':')) throw new CoreReloError(`access string '${str}' is malformed`);
  if (isTypeBased(relo.kind)) {
    if (str !== '0') throw new CoreReloError(`type relocation has access string '${str}', expected '0'`);
    return spec;
  }
  for (const part of str.split(':')) {
    if (!/^\d{1,10}$/.test(part) || Number(part) > 0x7fffffff) throw new CoreReloError(`access string '${str}' is malformed`);
    if (spec.raw.length === SPEC_MAX_LEN) throw new CoreReloError(`access string '${str}' is longer than ${SPEC_MAX_LEN} steps`);
    spec.raw.push(Number(part));
  }
  let id = skipToType(btf, relo.typeId);
  const root = btf.get(id);
  spec.access.push({ typeId: id, idx: spec.raw[0] });

  if (isEnumvalBased(relo.kind)) {
    if (!root || !isEnum(root) || spec.raw.length > 1 || spec.raw[0] >= root.values.length) {
      throw new CoreReloError(`enum value relocation on ${typeName(btf, relo.typeId)} with access string '${str}' is invalid`);
    }
    spec.access[0] = { typeId: id, idx: spec.raw[0], name: root.values[spec.raw[0]].name };
    return spec;
  }
  if (!isFieldBased(relo.kind)) throw new CoreReloError(`unknown CO-RE relocation kind ${relo.kind}`);

  spec.bitOffset = spec.raw[0] * resolveSize(btf, id) * 8;
  for (let i = 1; i < spec.raw.length; i++) {
    id = skipToType(btf, id);
    const t = btf.get(id);
    const idx = spec.raw[i];
    if (t && isComposite(t)) {
      if (idx >= t.members.length)
        throw new CoreReloError(`access string '${str}' names member #${idx} of ${typeName(btf, id)}, which has ${t.members.length}`);
      const m = t.members[idx];
      spec.bitOffset += m.bitsOffset;
      if (m.name) spec.access.push({ typeId: id, idx, name: m.name });
      id = m.type;
    } else if (t?.kind === 'ARRAY') {
      const elem = skipToType(btf, t.type);
      if (!isFlexArray(btf, spec.access[spec.access.length - 1], t) && idx >= t.nelems) {
        throw new CoreReloError(`access string '${str}' indexes [${idx}] past the end of ${typeName(btf, id)}`);
      }
      spec.access.push({ typeId: elem, idx });
      spec.bitOffset += idx * resolveSize(btf, elem) * 8;
      id = elem;
    } else {
      throw new CoreReloError(`access string '${str}' step ${i} reaches ${typeName(btf, id)}, which has no fields`);
    }
  }
  return spec;
}

/**
 * Filled in by matchSpec when a candidate does not match: how to say why, for the report.
 * Worded only when read: a load tries many candidates that do not match (flavors, the
 * similar-name search over a large struct's members), and the CLI never shows most of them.
 */
export interface MismatchReason {
  explain?: () => string;
}

/**
 * The wordings, each made by a function of its own: a closure written inside matchMember's
 * loop over a struct's members would make V8 allocate a scope for every member it passes.
 */
const because = {
  fieldIncompatible: (lb: Btf, holder: TypeId, localType: TypeId, name: string, tb: Btf, targetType: TypeId, at: TypeId) => () =>
    `field '${name}' is ${typeName(lb, localType)} in ${typeName(lb, holder)} but ${typeName(tb, targetType)} in ${typeName(tb, at)} of the target`,
  typeMismatch: (local: CoreSpec, tb: Btf, tid: TypeId) => () =>
    `${typeName(local.btf, local.rootId)} is not ${local.kind === BPF_CORE_TYPE_MATCHES ? 'a match for' : 'compatible with'} ${typeName(tb, tid)} [${tid}] of the target`,
  notEnum: (tb: Btf, id: TypeId) => () => `${typeName(tb, id)} of the target is not an enum`,
  noEnumerator: (lb: Btf, acc: CoreAccessor, tb: Btf, id: TypeId, tt: { readonly values: readonly { readonly name: string }[] }) => () => {
    const names = tt.values.map((v) => v.name);
    const near = similarNames(acc.name ?? '', names);
    return (
      `enumerator '${acc.name}' of ${typeName(lb, acc.typeId)} not found in ${typeName(tb, id)} of the target` +
      (near.length ? ` (similar: ${near.join(', ')})` : ` (values: ${listNames(names)})`)
    );
  },
  noField: (lb: Btf, holder: TypeId, name: string, tb: Btf, at: TypeId, tt: BtfType | undefined) => () =>
    tt && isComposite(tt)
      ? missingField(name, typeName(lb, holder), typeName(tb, at), memberNames(tb, tt))
      : `field '${name}' of ${typeName(lb, holder)}: the target has ${typeName(tb, at)} there, which has no fields`,
  notArray: (idx: number, tb: Btf, at: TypeId) => () => `index [${idx}]: the target has ${typeName(tb, at)} there, not an array`,
  pastEnd: (idx: number, tb: Btf, at: TypeId) => () => `index [${idx}] is past the end of ${typeName(tb, at)} in the target`,
};

type MemberMatch = 1 | 0;

/**
 * Finds the local named field `acc` in the target composite `tid`, searching anonymous
 * members recursively; extends the target spec on success (libbpf's bpf_core_match_member,
 * including its behaviour of leaving speculative steps behind on incompatible matches).
 */
function matchMember(
  local: CoreSpec,
  acc: CoreAccessor,
  tb: Btf,
  tid: TypeId,
  spec: CoreSpec,
  next: { id: TypeId },
  why: MismatchReason,
): MemberMatch {
  tid = skipToType(tb, tid);
  const tt = tb.get(tid);
  if (!tt || !isComposite(tt)) return 0;
  const localMember = composite(local.btf, acc.typeId).members[acc.idx];
  for (let i = 0; i < tt.members.length; i++) {
    const m = tt.members[i];
    if (spec.raw.length === SPEC_MAX_LEN) throw new CoreReloError('target type nests deeper than the access spec allows');
    spec.bitOffset += m.bitsOffset;
    spec.raw.push(i);
    if (!m.name) {
      if (matchMember(local, acc, tb, m.type, spec, next, why)) return 1;
    } else if (m.name === localMember.name) {
      spec.access.push({ typeId: tid, idx: i, name: m.name });
      next.id = m.type;
      if (fieldsAreCompat(local.btf, localMember.type, tb, m.type)) return 1;
      spec.access.pop();
      why.explain ??= because.fieldIncompatible(local.btf, acc.typeId, localMember.type, m.name, tb, m.type, tid);
      return 0;
    }
    spec.bitOffset -= m.bitsOffset;
    spec.raw.pop();
  }
  return 0;
}

/**
 * Matches a local spec against candidate `tid` of `tb`: the target spec, or undefined when
 * the candidate does not fit (`why.explain` then says why).
 */
export function matchSpec(local: CoreSpec, tb: Btf, tid: TypeId, why: MismatchReason = {}): CoreSpec | undefined {
  const spec: CoreSpec = { btf: tb, rootId: tid, kind: local.kind, access: [], raw: [], bitOffset: 0 };
  if (isTypeBased(local.kind)) {
    const ok =
      local.kind === BPF_CORE_TYPE_MATCHES
        ? typesMatch(local.btf, local.rootId, tb, tid)
        : typesAreCompat(local.btf, local.rootId, tb, tid);
    if (!ok) why.explain = because.typeMismatch(local, tb, tid);
    return ok ? spec : undefined;
  }
  const lacc = local.access;
  if (isEnumvalBased(local.kind)) {
    const eid = skipToType(tb, tid);
    const tt = tb.get(eid);
    if (!tt || !isEnum(tt)) {
      why.explain = because.notEnum(tb, eid);
      return undefined;
    }
    const want = essentialName(lacc[0].name ?? '');
    const i = tt.values.findIndex((v) => essentialName(v.name) === want);
    if (i < 0) {
      why.explain = because.noEnumerator(local.btf, lacc[0], tb, eid, tt);
      return undefined;
    }
    spec.access.push({ typeId: eid, idx: i, name: tt.values[i].name });
    spec.raw.push(i);
    return spec;
  }
  if (!isFieldBased(local.kind)) throw new CoreReloError(`unknown CO-RE relocation kind ${local.kind}`);

  for (let i = 0; i < lacc.length; i++) {
    tid = skipToType(tb, tid);
    const tt = tb.get(tid);
    const acc = lacc[i];
    if (acc.name) {
      const next = { id: tid };
      if (!matchMember(local, acc, tb, tid, spec, next, why)) {
        why.explain ??= because.noField(local.btf, acc.typeId, acc.name, tb, tid, tt);
        return undefined;
      }
      tid = next.id;
      continue;
    }
    if (i > 0) {
      if (tt?.kind !== 'ARRAY') {
        why.explain = because.notArray(acc.idx, tb, tid);
        return undefined;
      }
      if (!isFlexArray(tb, spec.access[spec.access.length - 1], tt) && acc.idx >= tt.nelems) {
        why.explain = because.pastEnd(acc.idx, tb, tid);
        return undefined;
      }
      tid = skipToType(tb, tt.type);
    }
    if (spec.raw.length === SPEC_MAX_LEN) throw new CoreReloError('target type nests deeper than the access spec allows');
    spec.access.push({ typeId: tid, idx: acc.idx });
    spec.raw.push(acc.idx);
    spec.bitOffset += acc.idx * resolveSize(tb, tid) * 8;
  }
  return spec;
}

/**
 * A field access as C would spell it: `task_struct->se.vruntime`, `t[1].u._2`,
 * `s->arr[3]`; enumerators as `enum e::TWO`; types as their C name.
 */
export function formatAccess(spec: CoreSpec): string {
  const btf = spec.btf;
  if (isTypeBased(spec.kind)) return typeName(btf, spec.rootId);
  const root = btf.get(skipToType(btf, spec.rootId));
  const rootName = btf.nameOf(spec.rootId) || root?.name || '<anon>';
  if (isEnumvalBased(spec.kind)) return `${typeName(btf, spec.rootId)}::${spec.access[0]?.name ?? '?'}`;
  let out = rootName;
  spec.access.forEach((a, i) => {
    if (i === 0) {
      out += a.idx === 0 && spec.access.length > 1 ? '->' : a.idx === 0 ? '' : `[${a.idx}]`;
      if (a.idx !== 0 && spec.access.length > 1) out += '.';
      return;
    }
    if (a.name) out += (out.endsWith('>') || out.endsWith('.') ? '' : '.') + a.name;
    else out += `[${a.idx}]`;
  });
  return out;
}

/** libbpf's own rendering (`[5] struct s.a[3] (0:1:3 @ offset 12)`), for logs and tests. */
export function formatSpecLibbpf(spec: CoreSpec): string {
  const t = spec.btf.get(spec.rootId);
  let s = `[${spec.rootId}] ${t ? t.kind : 'UNKNOWN'} ${t?.name || '<anon>'}`;
  if (isTypeBased(spec.kind)) return s;
  if (isEnumvalBased(spec.kind)) return `${s}::${spec.access[0]?.name ?? '?'}`;
  spec.access.forEach((a, i) => {
    if (a.name) s += `.${a.name}`;
    else if (i > 0 || a.idx > 0) s += `[${a.idx}]`;
  });
  const off = spec.bitOffset % 8 ? `${Math.floor(spec.bitOffset / 8)}.${spec.bitOffset % 8}` : `${spec.bitOffset / 8}`;
  return `${s} (${spec.raw.join(':')} @ offset ${off})`;
}

function missingField(name: string, localType: string, targetType: string, members: readonly string[]): string {
  const near = similarNames(name, members);
  return (
    `field '${name}' of ${localType} not found in ${targetType} of the target` +
    ` (${near.length ? `similar: ${near.join(', ')}; ` : ''}${members.length > 12 ? `${members.length} members` : `members: ${listNames(members)}`})`
  );
}
