// BPF Lens's kernel layer: the only code that calls bpf(2). Everything the load pipeline,
// the agent and the CLI need from a kernel comes through these exports.
export { KernelError, errnoName, errnoNumber, isKernelError } from './errors';
export { FdTracker, bpf, bpfCommandName, closeFd, dup2, dup3, memfdCreate, setFaultInjector, sysBpfNumber } from './sys';
export type { Fd, FaultInjector } from './sys';
export { mapCreate, mapDeleteElem, mapFreeze, mapGetNextKey, mapKeys, mapLookupElem, mapUpdateElem, possibleCpus, userValueSize } from './maps';
export type { MapCreateAttr } from './maps';
export { progLoad, progTestRun } from './programs';
export type { ExtInfo, LoadedProg, ProgLoadOptions, TestRunOptions, TestRunResult } from './programs';
export { btfLoad } from './btf-load';
export type { LoadedBtf } from './btf-load';
export { DEFAULT_LOG_SIZE, MAX_LOG_SIZE } from './log';
export type { LogOptions } from './log';
export { btfInfo, getFdById, getNextId, linkInfo, listIds, mapInfo, objGet, objPin, progInfo, progMapIds } from './objects';
export type { ObjKind } from './objects';
export type { BtfInfo, LinkInfo, MapInfo, ProgInfo } from './attr/info';
export { linkCreate, rawTracepointOpen } from './links';
export type { LinkCreateAttr } from './links';
export { FEATURE_PROBES, clearProbeCache, probeFeature, probePrivileges, systemInfo, versionCode } from './probes';
export type { FeatureProbe, Privileges, ProbeResult, SystemInfo } from './probes';
export { KernelBtf } from './target-btf';
export type { KernelBtfObject, NamedBtf } from './target-btf';
export * from './uapi';
