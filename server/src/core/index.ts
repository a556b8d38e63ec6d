// CO-RE relocation engine: BTF in, patched instructions and per-relocation reports out.
export { relocateCore, reloReason } from './relocate';
export type {
  CoreCandidateReport,
  CoreReloInput,
  CoreSourceLine,
  CoreReloReport,
  CoreReloStatus,
  RelocateCoreInput,
  RelocateCoreOutput,
} from './relocate';
export { CandidateCache, findCandidates } from './candidates';
export type { Candidate, TargetBtf } from './candidates';
export { BAD_RELO_CALL_IMM, POISON_CALL_KFUNC_BASE, POISON_LDIMM64_MAP_BASE } from './patch';
export type { PatchOutcome } from './patch';
export { CoreReloError, essentialName, typeName } from './btf-util';
export * from './kinds';
export { formatAccess, formatSpecLibbpf, matchSpec, parseSpec } from './spec';
export type { CoreSpec } from './spec';
export { calcRelo } from './calc';
export type { CoreReloResult } from './calc';
