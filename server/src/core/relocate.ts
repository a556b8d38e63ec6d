// The CO-RE engine's entry point: relocate the instructions of one program section (or one
// program inside it) against target BTFs, and say for each relocation what happened.
import { type Btf } from '../btf/btf';
import { type LineInfo } from '../btf/ext';
import { type TypeId } from '../btf/types';
import { CoreReloError, essentialName, skipToType, typeAt, typeName } from './btf-util';
import { type CoreReloResult, calcRelo } from './calc';
import { type Candidate, CandidateCache, type TargetBtf } from './candidates';
import { BPF_CORE_TYPE_ID_LOCAL, type CoreKindName, coreKindName, isFieldBased, isEnumvalBased } from './kinds';
import { BPF_INSN_SIZE, type PatchOutcome, RawInsns, patchInsn, poisonInsn } from './patch';
import { type CoreReloRecord, type CoreSpec, type MismatchReason, formatAccess, matchSpec, parseSpec } from './spec';

/** A `.BTF.ext` CO-RE record (as parseBtfExt gives them): byte offset into the section. */
export interface CoreReloInput extends CoreReloRecord {
  readonly insnOff: number;
}

export interface RelocateCoreInput {
  /** The object's own BTF (the types the access strings refer to). */
  readonly localBtf: Btf;
  /** The section's CO-RE records, in `.BTF.ext` order (their index is libbpf's `relo #`). */
  readonly relos: readonly CoreReloInput[];
  /** Instructions to patch in place: the section, or one program of it (see firstInsn). */
  readonly insns: Uint8Array;
  /**
   * Section instruction index of insns[0] when `insns` is one program of the section: records
   * outside it belong to other programs and are skipped. Absent: `insns` is the whole section,
   * and a record past its end is reported invalid.
   */
  readonly firstInsn?: number;
  /** [vmlinux, ...module BTFs]; modules are searched only when vmlinux has no candidate. */
  readonly targets: readonly TargetBtf[];
  /** Share across the programs of one object (libbpf prunes candidates per load). */
  readonly cache?: CandidateCache;
  /** The section's `.BTF.ext` line_info records: each report then names its source line. */
  readonly lineInfo?: readonly LineInfo[];
}

/** Where a relocated instruction came from (BTF line_info). */
export interface CoreSourceLine {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly text: string;
}

export type CoreReloStatus =
  /** Patched with the target's value. */
  | 'ok'
  /** Not in the target: an existence check (or type size/id) answered 0. */
  | 'missing'
  /** Not resolvable: the instruction became `call 0xbad2310` (fails only if reachable). */
  | 'poisoned'
  /** Candidates disagree: libbpf refuses to load. */
  | 'ambiguous'
  /** Bad record or instruction: libbpf refuses to load. */
  | 'invalid';

export interface CoreCandidateReport {
  readonly btf: string;
  readonly id: TypeId;
  readonly type: string;
  readonly matched: boolean;
  /** Why it did not match, or the value it gave. */
  readonly note?: string;
}

export interface CoreReloReport {
  /** Index of the record in the section (libbpf's `relo #N`). */
  readonly index: number;
  /** Instruction index in the `insns` given (libbpf's `insn #N` for per-program calls). */
  readonly insnIndex: number;
  readonly sectionInsnIndex: number;
  readonly kind: number;
  readonly kindName: CoreKindName | `UNKNOWN(${number})`;
  readonly localTypeId: TypeId;
  /** C-ish local type: `struct task_struct___old`. */
  readonly localType: string;
  readonly accessStr: string;
  /** The access as C: `task_struct->se.vruntime`, `enum e::TWO`, `struct s`. */
  readonly access: string;
  /** What the compiler assumed and what the target needs (absent when not computed). */
  readonly localValue?: bigint;
  readonly targetValue?: bigint;
  /** Matching target types (all agree when status is ok). */
  readonly targetTypes: readonly { readonly btf: string; readonly id: TypeId; readonly access?: string }[];
  readonly candidates: readonly CoreCandidateReport[];
  readonly status: CoreReloStatus;
  /** libbpf would refuse to load the program. */
  readonly fatal: boolean;
  /** What went wrong (or, for 'missing', what is absent), in words. */
  readonly message?: string;
  readonly patch?: PatchOutcome;
  /** Source line of the instruction, when line_info was given. */
  readonly source?: CoreSourceLine;
}

export interface RelocateCoreOutput {
  /** The same array as the input, patched. */
  readonly insns: Uint8Array;
  readonly reports: CoreReloReport[];
  /** True when no relocation is fatal (a poisoned one is not). */
  readonly ok: boolean;
}

interface Resolution {
  res: CoreReloResult;
  status: CoreReloStatus;
  matches: { cand: Candidate; spec: CoreSpec; res: CoreReloResult }[];
  candidates: CoreCandidateReport[];
  /** Worded when read (see MismatchReason). */
  message?: () => string;
}

/**
 * Defines `key` of `o` (already present, so its place among the keys stays) as an enumerable
 * getter worded on first read: reports carry their explanations, but a load that shows none
 * of them (the CLI's, when everything resolved) never pays for the wording. JSON, spreads and
 * structured clones read it like a plain field.
 */
function lazyField<T extends object>(o: T, key: keyof T & string, word: (() => string) | undefined): T {
  if (!word) return o;
  let text: string | undefined;
  return Object.defineProperty(o, key, { enumerable: true, configurable: true, get: () => (text ??= word()) });
}

function kindWord(btf: Btf, id: TypeId): string {
  const t = btf.get(id);
  switch (t?.kind) {
    case 'STRUCT':
      return 'struct';
    case 'UNION':
      return 'union';
    case 'ENUM':
    case 'ENUM64':
      return 'enum';
    case 'TYPEDEF':
      return 'typedef';
    case 'FWD':
      return t.kindFlag ? 'union (forward)' : 'struct (forward)';
    default:
      return t ? t.kind.toLowerCase() : 'type';
  }
}

/** Runs the candidate search and matching for one record (libbpf's bpf_core_calc_relo_insn). */
function resolve(relo: CoreReloRecord, local: CoreSpec, cache: CandidateCache): Resolution {
  const lb = local.btf;
  const cands = cache.get(relo.typeId);
  const matches: Resolution['matches'] = [];
  const candidates: CoreCandidateReport[] = [];
  for (const cand of cands) {
    const why: MismatchReason = {};
    const spec = matchSpec(local, cand.target.btf, cand.id, why);
    const type = typeName(cand.target.btf, cand.id);
    if (!spec) {
      candidates.push(lazyField({ btf: cand.target.name, id: cand.id, type, matched: false, note: undefined }, 'note', why.explain));
      continue;
    }
    const res = calcRelo(relo.kind, local, spec);
    candidates.push({ btf: cand.target.name, id: cand.id, type, matched: true, note: res.poison ? 'poison' : `${res.newVal}` });
    matches.push({ cand, spec, res });
  }
  if (matches.length > 0) {
    const first = matches[0];
    const disagree = matches.find(
      (m) => m.spec.bitOffset !== first.spec.bitOffset || m.res.poison !== first.res.poison || m.res.newVal !== first.res.newVal,
    );
    if (disagree) {
      const list = matches
        .map(
          (m) =>
            `${typeName(m.cand.target.btf, m.cand.id)} [${m.cand.id}] in ${m.cand.target.name} → ${m.res.poison ? 'poison' : m.res.newVal}` +
            (isFieldBased(relo.kind) ? ` (bit offset ${m.spec.bitOffset})` : ''),
        )
        .join('; ');
      return {
        res: first.res,
        status: 'ambiguous',
        matches,
        candidates,
        message: () => `the target has ${matches.length} matching types that disagree: ${list}`,
      };
    }
    cache.prune(
      relo.typeId,
      matches.map((m) => m.cand),
    );
    const status = first.res.poison ? 'poisoned' : 'ok';
    return { res: first.res, status, matches, candidates };
  }
  const res = calcRelo(relo.kind, local, undefined);
  return { res, status: res.poison ? 'poisoned' : 'missing', matches, candidates, message: () => noMatch(relo, lb, cache, candidates) };
}

/** Why no candidate matched: none by that name, or each one's reason. */
function noMatch(relo: CoreReloRecord, lb: Btf, cache: CandidateCache, candidates: readonly CoreCandidateReport[]): string {
  const lname = lb.nameOf(relo.typeId);
  let message: string;
  if (candidates.length === 0) {
    const where =
      cache.targets.length > 1
        ? `${cache.targets[0].name} or its ${cache.targets.length - 1} module BTFs`
        : (cache.targets[0]?.name ?? 'the target (no BTF given)');
    message = `no ${kindWord(lb, relo.typeId)} named '${essentialName(lname)}'${essentialName(lname) !== lname ? ` (for ${lname})` : ''} in ${where}`;
    const t = lb.get(relo.typeId);
    if (t?.kind === 'TYPEDEF') {
      message += `; CO-RE looks typedefs up by their own name: access through ${typeName(lb, skipToType(lb, relo.typeId))} instead`;
    }
  } else {
    const reasons = [...new Set(candidates.map((c) => c.note ?? `${c.type} [${c.id}] does not match`))];
    message = reasons.join('; ');
  }
  return message;
}

/**
 * Relocates every CO-RE record that falls inside `insns` against `targets`, patching the
 * instructions in place as libbpf would, and reports each one. Never throws for bad records
 * or instructions: those are reports with status 'invalid' (fatal).
 */
export function relocateCore(input: RelocateCoreInput): RelocateCoreOutput {
  const { localBtf, relos, targets } = input;
  const first = input.firstInsn ?? 0;
  const insns = new RawInsns(input.insns, localBtf.littleEndian);
  const cache = input.cache ?? new CandidateCache(localBtf, targets);
  if (cache.localBtf !== localBtf) throw new Error('relocateCore: the candidate cache belongs to another local BTF');
  const reports: CoreReloReport[] = [];
  const sourceAt = input.lineInfo && sourceLines(input.lineInfo);
  relos.forEach((relo, index) => {
    const sectionInsn = Math.floor(relo.insnOff / BPF_INSN_SIZE);
    const insnIndex = sectionInsn - first;
    if (insnIndex < 0 || insnIndex >= insns.count) {
      // another program's, unless no program could hold it
      if (input.firstInsn === undefined) reports.push(outOfRange(relo, index, insnIndex, localBtf, insns.count));
      return;
    }
    const report = relocateOne(relo, index, insnIndex, sectionInsn, localBtf, insns, cache);
    const source = sourceAt?.(sectionInsn, report.access);
    // assigned, not spread: a spread would word the report's lazy message (lazyField)
    reports.push(source ? Object.assign(report, { source }) : report);
  });
  return { insns: input.insns, reports, ok: reports.every((r) => !r.fatal) };
}

function relocateOne(
  relo: CoreReloInput,
  index: number,
  insnIndex: number,
  sectionInsnIndex: number,
  lb: Btf,
  insns: RawInsns,
  cache: CandidateCache,
): CoreReloReport {
  const base = {
    index,
    insnIndex,
    sectionInsnIndex,
    kind: relo.kind,
    kindName: coreKindName(relo.kind),
    localTypeId: relo.typeId,
    localType: lb.has(relo.typeId) ? typeName(lb, relo.typeId) : `<bad type ${relo.typeId}>`,
    accessStr: relo.accessStr,
  };
  let access = relo.accessStr;
  let resolution: Resolution | undefined;
  try {
    if (relo.insnOff % BPF_INSN_SIZE !== 0) throw new CoreReloError(`instruction offset ${relo.insnOff} is not a multiple of 8`);
    const local = parseSpec(lb, relo);
    access = formatAccess(local);
    if (relo.kind === BPF_CORE_TYPE_ID_LOCAL) {
      const id = BigInt(relo.typeId);
      const res = calcLocalId(id);
      const patch = patchInsn(insns, insnIndex, res);
      return { ...base, access, localValue: id, targetValue: id, targetTypes: [], candidates: [], status: 'ok', fatal: false, patch };
    }
    if (!typeAt(lb, relo.typeId)?.name) throw new CoreReloError(`${base.localType}: CO-RE cannot relocate anonymous types`);
    resolution = resolve(relo, local, cache);
    const { res, status, matches, candidates } = resolution;
    const targetTypes = matches.map((m) => ({
      btf: m.cand.target.name,
      id: m.cand.id,
      access: isFieldBased(relo.kind) || isEnumvalBased(relo.kind) ? formatAccess(m.spec) : undefined,
    }));
    const values = { localValue: res.origVal, targetValue: res.poison || status === 'ambiguous' ? undefined : res.newVal };
    if (status === 'ambiguous') {
      poisonInsn(insns, insnIndex);
      const why = resolution.message;
      const report: CoreReloReport = { ...base, access, ...values, targetTypes, candidates, status, fatal: true, message: undefined };
      return lazyField(report, 'message', why && (() => `${access}: ${why()}`));
    }
    const patch = patchInsn(insns, insnIndex, res);
    if (patch.memszPoison) {
      const m = matches[0];
      const message =
        `${access} is ${res.origSz} bytes locally (${typeName(lb, res.origTypeId)}) but ${res.newSz} bytes in ${typeName(m.cand.target.btf, m.cand.id)} ` +
        `of the target (${typeName(m.cand.target.btf, res.newTypeId)}); a load/store may change size only for pointers and unsigned integers`;
      return { ...base, access, ...values, targetTypes, candidates, status: 'poisoned', fatal: false, message, patch };
    }
    const why = status === 'ok' ? undefined : resolution.message;
    const report: CoreReloReport = { ...base, access, ...values, targetTypes, candidates, status, fatal: false, message: undefined, patch };
    return lazyField(report, 'message', why && (() => `${access}: ${why()}`));
  } catch (e) {
    if (!(e instanceof CoreReloError)) throw e;
    const res = resolution?.res;
    return {
      ...base,
      access,
      localValue: res?.origVal,
      targetValue: res && !res.poison ? res.newVal : undefined,
      targetTypes: resolution?.matches.map((m) => ({ btf: m.cand.target.name, id: m.cand.id })) ?? [],
      candidates: resolution?.candidates ?? [],
      status: 'invalid',
      fatal: true,
      message: `${access}: ${e.message}`,
    };
  }
}

function calcLocalId(id: bigint): CoreReloResult {
  // the local type id may have changed during static linking: not validated (libbpf)
  return {
    origVal: id,
    newVal: id,
    poison: false,
    validate: false,
    failMemszAdjust: false,
    origSz: 0,
    newSz: 0,
    origTypeId: 0,
    newTypeId: 0,
  };
}

function outOfRange(relo: CoreReloInput, index: number, insnIndex: number, lb: Btf, count: number): CoreReloReport {
  return {
    index,
    insnIndex,
    sectionInsnIndex: insnIndex,
    kind: relo.kind,
    kindName: coreKindName(relo.kind),
    localTypeId: relo.typeId,
    localType: lb.has(relo.typeId) ? typeName(lb, relo.typeId) : `<bad type ${relo.typeId}>`,
    accessStr: relo.accessStr,
    access: relo.accessStr,
    targetTypes: [],
    candidates: [],
    status: 'invalid',
    fatal: true,
    message: `instruction offset ${relo.insnOff} is past the end of the section (${count} instructions)`,
  };
}

/**
 * The line_info record covering a section instruction: the last one at or before it. Records
 * with line 0 (code the compiler made up, no source line) are skipped; with nothing before,
 * the first real one after. The compiler often schedules a relocated instruction a line or
 * two before the C expression it serves: when that line does not name the accessed field or
 * type and one of the next few lines does, that line is the one. The records are sorted once
 * per section (stable: among records of one instruction, the last one counts).
 */
function sourceLines(lines: readonly LineInfo[]): (sectionInsn: number, access: string) => CoreSourceLine | undefined {
  const sorted = lines.filter((l) => l.line !== 0).sort((a, b) => a.insnOff - b.insnOff);
  /** Index of the first record past byte offset `at`. */
  const past = (at: number) => {
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sorted[mid].insnOff <= at) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  return (sectionInsn, access) => {
    const i = past(sectionInsn * BPF_INSN_SIZE);
    let r = i > 0 ? sorted[i - 1] : sorted[0];
    const name = /([A-Za-z_][A-Za-z0-9_]*)(?:\[\d+\])*\s*$/.exec(access)?.[1];
    if (r && name && !new RegExp(`\\b${name}\\b`).test(r.text)) {
      const from = past(r.insnOff);
      const after = sorted.slice(from, from + 6);
      r = after.find((l) => l.file === r.file && new RegExp(`\\b${name}\\b`).test(l.text)) ?? r;
    }
    return r && { file: r.file, line: r.line, column: r.column, text: r.text };
  };
}

/** A report's message without the access it starts with (for places that show the access beside it). */
export function reloReason(r: CoreReloReport): string | undefined {
  return r.message?.startsWith(`${r.access}: `) ? r.message.slice(r.access.length + 2) : r.message;
}
