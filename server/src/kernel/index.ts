// BPF Lens's kernel layer: the only code that calls bpf(2). Everything the load pipeline,
// the agent and the CLI need from a kernel comes through these exports.
//
//   sys.ts        bpf(cmd, attr) via koffi (loaded lazily), closeFd, dup2/dup3, memfdCreate,
//                 renameNoReplace, pageSize (sysconf);
//                 FdTracker (records every FD made here; closeAll on failure);
//                 setFaultInjector((command, n) => errno | undefined) for tests.
//   koffi-load.ts koffi found beside this file and loaded (its prebuilt native module directly on glibc).
//   errors.ts     KernelError { command, errno, errnoName, context, log, logTruncated, hint }.
//   attr/*.ts     one table per bpf_attr member / bpf_*_info struct (exported, checked
//                 against <linux/bpf.h> and the kernel's BTF) and its encoder/decoder.
//   maps.ts       mapCreate, mapLookupElem/UpdateElem/DeleteElem/GetNextKey, mapLookupBatch, mapKeys, mapFreeze.
//   programs.ts   progLoad (verifier log: level, growth on ENOSPC, fetched after a failure),
//                 progTestRun.
//   btf-load.ts   btfLoad (BTF checker log, same rules).
//   objects.ts    objPin/objGet, getNextId/listIds/getFdById, progInfo/progMapIds/mapInfo/
//                 btfInfo (name, kernel_btf, blob)/linkInfo.
//   links.ts      linkCreate (every link kind: freplace, perf_event, tracing, xdp, tcx, cgroup, netns,
//                 iter, struct_ops, uprobe_multi, kprobe_multi), rawTracepointOpen, progAttach/
//                 progDetach, linkDetach, iterCreate.
//   perf.ts       perfEventOpen (tracepoint, kprobe/uprobe PMU, sampling), perfEventIoctl.
//   attach-points.ts  tracefs (mounted when absent) and tracepoint ids, PMU types, online CPUs,
//                 ifIndex, openPath (cgroup/netns FDs), readAll (iterator output).
//   netlink.ts    rtnetlink requests (NETLINK_ROUTE socket, ACK/extack parsed, dumps).
//   tc.ts         clsact qdisc + direct-action bpf filter (libbpf's bpf_tc_*), where tcx is missing.
//   places.ts     interfaces and cgroup v2 directories (what the editor's place picker offers).
//   kprobe-events.ts  legacy kprobes: tracefs kprobe_events entries added and removed.
//   probes.ts     FEATURE_PROBES, probeFeature (cached), probePrivileges, systemInfo.
//   probe-cache.ts  probe answers kept for the boot (keyed by boot id, release, euid, caps, userns).
//   target-btf.ts KernelBtf: vmlinux + module BTF by id, parsed lazily, FDs on request;
//                 localKernelBtf (kept while the kernel's BTF objects are unchanged).
//   host.ts       kconfigText, kallsymsText, processAlive, pidNamespace.
//   stats.ts      enableStats (BPF_ENABLE_STATS), statsSysctlEnabled: program run statistics.
//   epoll.ts      epollCreate/epollAdd/epollWait (never waits: consumers poll from a timer).
//   trace-pipe.ts tracePipeOpen (non-blocking, tracefs mounted when absent; EBUSY names the holder), readNonBlocking, taskComm.
//   sys.ts also   mmapFd (MAP_SHARED, a Mapping over the kernel's pages), mappingCount.
//   bpffs.ts      makeDirs, unpin, removeDir, removeTree, renamePin, listDir: the file side of pinning.
//   KernelOps     all of the above a load uses, as one object (localKernel: this process).
//   asm.ts        a few hand-encoded instructions (probes and tests).
export { KernelError, errnoName, errnoNumber, isKernelError } from './errors';
export {
  FdTracker,
  O_CLOEXEC,
  bpf,
  bpfCommandName,
  closeFd,
  dup2,
  dup3,
  memfdCreate,
  pageSize,
  renameNoReplace,
  setFaultInjector,
  sysBpfNumber,
  mmapFd,
  mappingCount,
  PROT_READ,
  PROT_WRITE,
} from './sys';
export type { Fd, FaultInjector, Mapping } from './sys';
export { EPOLLIN, epollAdd, epollCreate, epollWait } from './epoll';
export { readNonBlocking, taskComm, tracePipeOpen } from './trace-pipe';
export {
  mapCreate,
  mapDeleteElem,
  mapFreeze,
  mapGetNextKey,
  mapKeys,
  mapLookupBatch,
  mapLookupElem,
  mapUpdateElem,
  possibleCpus,
  userValueSize,
} from './maps';
export type { MapBatch, MapCreateAttr } from './maps';
export { progLoad, progTestRun } from './programs';
export type { ExtInfo, LoadedProg, ProgLoadOptions, TestRunOptions, TestRunResult } from './programs';
export { btfLoad } from './btf-load';
export type { LoadedBtf } from './btf-load';
export { DEFAULT_LOG_SIZE, MAX_LOG_SIZE } from './log';
export type { LogOptions } from './log';
export { btfInfo, getFdById, getNextId, linkInfo, listIds, mapInfo, objGet, objKind, objPin, progInfo, progMapIds } from './objects';
export type { ObjKind } from './objects';
export type { BtfInfo, LinkInfo, MapInfo, ProgInfo } from './attr/info';
export { iterCreate, linkCreate, linkDetach, progAttach, progDetach, rawTracepointOpen } from './links';
export type { LinkCreateAttr, ProgAttachAttr } from './links';
export {
  CLOCK_REALTIME,
  PERF_COUNT_HW,
  PERF_COUNT_SW,
  PERF_EVENT_IOC,
  PERF_SAMPLE_RAW,
  PERF_SAMPLE_TIME,
  PERF_TYPE,
  perfEventIoctl,
  perfEventOpen,
} from './perf';
export type { PerfEventSpec, PerfIoctl } from './perf';
export { ifIndex, onlineCpus, openPath, parseCpuList, pmuInfo, readAll, tracefsRoot, tracepointId } from './attach-points';
export type { PmuInfo } from './attach-points';
export { tcFilterAttach, tcFilterDetach, tcFilterList, tcQdiscCreate, tcQdiscDelete } from './tc';
export type { TcAttachSpec, TcDirection, TcFilter } from './tc';
export { cgroup2Mount, cgroupDirs, netInterfaces } from './places';
export type { NetInterface } from './places';
export { kprobeEventAdd, kprobeEventRemove, kprobeEventsFile, kprobeGroup } from './kprobe-events';
export { FEATURE_PROBES, clearProbeCache, probeFeature, probePrivileges, supportedFeatures, systemInfo, versionCode } from './probes';
export type { FeatureProbe, Privileges, ProbeResult, SystemInfo } from './probes';
export { KernelBtf, localKernelBtf } from './target-btf';
export { kallsymsText, kconfigText, pidNamespace, processAlive } from './host';
export { listDir, makeDirs, pathExists, removeDir, removeTree, renamePin, unpin } from './bpffs';
export { BPF_STATS_RUN_TIME, enableStats, statsSysctlEnabled } from './stats';
export type { KernelBtfObject, NamedBtf } from './target-btf';
export * from '../common/uapi';

import * as maps from './maps';
import * as programs from './programs';
import * as btfl from './btf-load';
import * as objects from './objects';
import * as links from './links';
import * as sys from './sys';
import * as perf from './perf';
import * as points from './attach-points';
import * as tc from './tc';
import * as kpe from './kprobe-events';
import * as probes from './probes';
import * as tbtf from './target-btf';
import * as host from './host';
import * as bpffs from './bpffs';
import * as epoll from './epoll';
import * as tpipe from './trace-pipe';

/** What the event consumers need (part of KernelOps): shared memory, epoll, the trace pipe. */
export interface ObserveOps {
  readonly mmapFd: typeof sys.mmapFd;
  readonly pageSize: typeof sys.pageSize;
  readonly epollCreate: typeof epoll.epollCreate;
  readonly epollAdd: typeof epoll.epollAdd;
  readonly epollWait: typeof epoll.epollWait;
  readonly tracePipeOpen: typeof tpipe.tracePipeOpen;
  readonly readNonBlocking: typeof tpipe.readNonBlocking;
  readonly taskComm: typeof tpipe.taskComm;
  readonly mapInfo: typeof objects.mapInfo;
  readonly mapUpdateElem: typeof maps.mapUpdateElem;
  readonly closeFd: typeof sys.closeFd;
  readonly perfEventOpen: typeof perf.perfEventOpen;
  readonly perfEventIoctl: typeof perf.perfEventIoctl;
  readonly onlineCpus: typeof points.onlineCpus;
}

const localObserve = {
  mmapFd: sys.mmapFd,
  pageSize: sys.pageSize,
  epollCreate: epoll.epollCreate,
  epollAdd: epoll.epollAdd,
  epollWait: epoll.epollWait,
  tracePipeOpen: tpipe.tracePipeOpen,
  readNonBlocking: tpipe.readNonBlocking,
  taskComm: tpipe.taskComm,
};
import * as stats from './stats';

/** What attaching needs beyond a load (part of KernelOps): links, perf events, legacy attach, attach points. */
export interface AttachOps {
  readonly linkDetach: typeof links.linkDetach;
  readonly linkInfo: typeof objects.linkInfo;
  readonly rawTracepointOpen: typeof links.rawTracepointOpen;
  readonly progAttach: typeof links.progAttach;
  readonly progDetach: typeof links.progDetach;
  readonly iterCreate: typeof links.iterCreate;
  readonly readAll: typeof points.readAll;
  readonly perfEventOpen: typeof perf.perfEventOpen;
  readonly perfEventIoctl: typeof perf.perfEventIoctl;
  readonly tracepointId: typeof points.tracepointId;
  readonly pmuInfo: typeof points.pmuInfo;
  readonly onlineCpus: typeof points.onlineCpus;
  readonly ifIndex: typeof points.ifIndex;
  readonly openPath: typeof points.openPath;
  readonly tcQdiscCreate: typeof tc.tcQdiscCreate;
  readonly tcQdiscDelete: typeof tc.tcQdiscDelete;
  readonly tcFilterAttach: typeof tc.tcFilterAttach;
  readonly tcFilterDetach: typeof tc.tcFilterDetach;
  readonly tcFilterList: typeof tc.tcFilterList;
  readonly kprobeEventAdd: typeof kpe.kprobeEventAdd;
  readonly kprobeEventRemove: typeof kpe.kprobeEventRemove;
}

const localAttach: AttachOps = {
  linkDetach: links.linkDetach,
  linkInfo: objects.linkInfo,
  rawTracepointOpen: links.rawTracepointOpen,
  progAttach: links.progAttach,
  progDetach: links.progDetach,
  iterCreate: links.iterCreate,
  readAll: points.readAll,
  perfEventOpen: perf.perfEventOpen,
  perfEventIoctl: perf.perfEventIoctl,
  tracepointId: points.tracepointId,
  pmuInfo: points.pmuInfo,
  onlineCpus: points.onlineCpus,
  ifIndex: points.ifIndex,
  openPath: points.openPath,
  tcQdiscCreate: tc.tcQdiscCreate,
  tcQdiscDelete: tc.tcQdiscDelete,
  tcFilterAttach: tc.tcFilterAttach,
  tcFilterDetach: tc.tcFilterDetach,
  tcFilterList: tc.tcFilterList,
  kprobeEventAdd: kpe.kprobeEventAdd,
  kprobeEventRemove: kpe.kprobeEventRemove,
};

/** The FDs a load made, so a failed load can close them all (an FdTracker here). */
export interface FdScope {
  /** Stops recording (while the caller has the event loop: FDs others open are not the load's). */
  stop(): void;
  resume(): void;
  /** Closes every FD recorded and still open; returns how many. */
  closeAll(): number;
}

/**
 * Everything a load (and later attach and observe) needs from a kernel, as one object: what
 * `server/src/load` takes instead of importing this layer, so the same plan runs against this
 * process's kernel (`localKernel`) or anything that forwards the calls.
 */
export interface KernelOps extends AttachOps, ObserveOps {
  // bpf(2)
  readonly mapCreate: typeof maps.mapCreate;
  readonly mapUpdateElem: typeof maps.mapUpdateElem;
  readonly mapLookupElem: typeof maps.mapLookupElem;
  readonly mapDeleteElem: typeof maps.mapDeleteElem;
  readonly mapGetNextKey: typeof maps.mapGetNextKey;
  readonly mapLookupBatch: typeof maps.mapLookupBatch;
  readonly mapFreeze: typeof maps.mapFreeze;
  readonly progLoad: typeof programs.progLoad;
  readonly progTestRun: typeof programs.progTestRun;
  readonly progBindMap: typeof programs.progBindMap;
  readonly btfLoad: typeof btfl.btfLoad;
  readonly objPin: typeof objects.objPin;
  readonly objGet: typeof objects.objGet;
  readonly getFdById: typeof objects.getFdById;
  readonly listIds: typeof objects.listIds;
  readonly progInfo: typeof objects.progInfo;
  readonly mapInfo: typeof objects.mapInfo;
  readonly btfInfo: typeof objects.btfInfo;
  /** Which kind of object an FD is (BPF_OBJ_GET_INFO_BY_FD on each kind), or undefined. */
  readonly objKind: typeof objects.objKind;
  readonly linkCreate: typeof links.linkCreate;
  // FDs
  readonly memfdCreate: typeof sys.memfdCreate;
  /** dup3 (O_CLOEXEC by default): the real map onto its placeholder's number. */
  readonly dup3: typeof sys.dup3;
  readonly closeFd: typeof sys.closeFd;
  readonly trackFds: () => FdScope;
  // what the kernel is and can do
  readonly probeFeature: typeof probes.probeFeature;
  readonly supportedFeatures: typeof probes.supportedFeatures;
  readonly systemInfo: typeof probes.systemInfo;
  readonly possibleCpus: typeof maps.possibleCpus;
  /** vmlinux + module BTF of this kernel (module BTF FDs on request). */
  readonly kernelBtf: typeof tbtf.localKernelBtf;
  readonly kconfigText: typeof host.kconfigText;
  readonly kallsymsText: typeof host.kallsymsText;
  readonly processAlive: typeof host.processAlive;
  readonly pidNamespace: typeof host.pidNamespace;
  // bpffs
  readonly makeDirs: typeof bpffs.makeDirs;
  readonly unpin: typeof bpffs.unpin;
  readonly removeDir: typeof bpffs.removeDir;
  readonly renamePin: typeof bpffs.renamePin;
  readonly listDir: typeof bpffs.listDir;
  readonly pathExists: typeof bpffs.pathExists;
  readonly removeTree: typeof bpffs.removeTree;
  // program run statistics
  readonly enableStats: typeof stats.enableStats;
  readonly statsSysctlEnabled: typeof stats.statsSysctlEnabled;
}

/** This process's kernel, called directly through bpf(2). */
export const localKernel: KernelOps = {
  mapCreate: maps.mapCreate,
  mapUpdateElem: maps.mapUpdateElem,
  mapLookupElem: maps.mapLookupElem,
  mapDeleteElem: maps.mapDeleteElem,
  mapGetNextKey: maps.mapGetNextKey,
  mapLookupBatch: maps.mapLookupBatch,
  mapFreeze: maps.mapFreeze,
  progLoad: programs.progLoad,
  progTestRun: programs.progTestRun,
  progBindMap: programs.progBindMap,
  btfLoad: btfl.btfLoad,
  objPin: objects.objPin,
  objGet: objects.objGet,
  getFdById: objects.getFdById,
  listIds: objects.listIds,
  progInfo: objects.progInfo,
  mapInfo: objects.mapInfo,
  btfInfo: objects.btfInfo,
  objKind: objects.objKind,
  linkCreate: links.linkCreate,
  memfdCreate: sys.memfdCreate,
  dup3: sys.dup3,
  closeFd: sys.closeFd,
  trackFds: () => new sys.FdTracker(),
  probeFeature: probes.probeFeature,
  supportedFeatures: probes.supportedFeatures,
  systemInfo: probes.systemInfo,
  possibleCpus: maps.possibleCpus,
  kernelBtf: tbtf.localKernelBtf,
  kconfigText: host.kconfigText,
  kallsymsText: host.kallsymsText,
  makeDirs: bpffs.makeDirs,
  unpin: bpffs.unpin,
  removeDir: bpffs.removeDir,
  renamePin: bpffs.renamePin,
  listDir: bpffs.listDir,
  pathExists: bpffs.pathExists,
  removeTree: bpffs.removeTree,
  processAlive: host.processAlive,
  pidNamespace: host.pidNamespace,
  enableStats: stats.enableStats,
  statsSysctlEnabled: stats.statsSysctlEnabled,
  ...localAttach,
  ...localObserve,
};
