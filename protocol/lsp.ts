/**
 * The custom requests between the BPF Lens client and language server, declared once and
 * imported by both (the rust-analyzer / clangd pattern). Plain data only: this file must
 * not import `vscode` nor anything of server/src or client/src (test/unit/architecture).
 *
 * The server advertises the methods it registers as `capabilities.experimental.bpfLens`
 * (built from its handler table: server/src/lsp/server.ts).
 */
// SSH target strings: the one parser the client's "Add SSH Target…" and the server share.
export { parseSshSpec, SSH_SPEC_FORMS, badVmSpec, parseVmSpec, VM_SPEC_FORM } from './target-spec';
export type { SshSpec, SshSpecResult, VmSpec } from './target-spec';
// From the protocol package (not vscode-jsonrpc directly): the one copy both LSP libraries use.
import { NotificationType, RequestType, RequestType0 } from 'vscode-languageserver-protocol';

/** URI scheme of the virtual documents (C dump, raw dump, disassembly, summary). */
export const SCHEME = 'bpf-lens';

/** What the server puts under `capabilities.experimental.bpfLens`. */
export interface ExperimentalCapabilities {
  readonly version: 1;
  readonly requests: readonly string[];
}

export interface ProgramItem {
  readonly name: string;
  readonly section: string;
  /** `BPF_PROG_TYPE_KPROBE` style, without the prefix, lower-case ('kprobe'); '' if unknown. */
  readonly progType: string;
  readonly attachType: string;
  readonly insnCount: number;
  /** Source position of the function, when line_info names one (0-based line). */
  readonly source?: SourcePos;
}

export interface MapItem {
  readonly name: string;
  /** 'hash', 'array', 'ringbuf', ... ('' if unknown). */
  readonly mapType: string;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly source?: SourcePos;
}

export interface ExternItem {
  readonly name: string;
  /** 'kconfig' | 'ksym' | 'kfunc' | ... as the object model calls it. */
  readonly kind: string;
  readonly weak: boolean;
  /** Link externs ('function', 'variable', 'map'): the workspace object that defines it, if any. */
  readonly resolvedIn?: string;
}

export interface SourcePos {
  /** Absolute file system path of the C source. */
  readonly file: string;
  /** 0-based. */
  readonly line: number;
}

export interface BtfKindCount {
  readonly kind: string;
  readonly count: number;
}

export interface ObjectSummary {
  /** Absolute path: the key of every other request about this object. */
  readonly path: string;
  readonly name: string;
  readonly size: number;
  readonly mtimeMs: number;
  /** Set when the object could not be read; the lists are then empty. */
  readonly error?: string;
  readonly programs: readonly ProgramItem[];
  readonly maps: readonly MapItem[];
  readonly externs: readonly ExternItem[];
  readonly btfKinds: readonly BtfKindCount[];
  /** C sources named by line_info, resolved to absolute paths where found. */
  readonly sources: readonly string[];
  /** Findings about the object (bad map definitions, ...), as text. */
  readonly problems: readonly string[];
  /** Set for a kernel module (an ELF with .BTF but no BPF programs): whether it carries `.BTF.base`. */
  readonly module?: { readonly distilledBase: boolean };
  /** CO-RE relocation records in `.BTF.ext` (absent: none). */
  readonly coreRelocations?: number;
  /** Global symbols the object defines (what other objects' externs can link to). */
  readonly defines?: readonly { readonly name: string; readonly weak: boolean }[];
}

/**
 * One line of the workspace's objects (bpfLens/objectList): what the tree's root and the
 * pickers show. A thousand of these are a few hundred KB; the whole summaries (bpfLens/objects,
 * externs resolved across the workspace) are asked for one object at a time, when it opens.
 */
export interface ObjectEntry {
  readonly path: string;
  readonly name: string;
  readonly size: number;
  readonly mtimeMs: number;
  readonly error?: string;
  readonly module?: { readonly distilledBase: boolean };
  readonly programCount: number;
  readonly mapCount: number;
}
export interface ObjectListResult {
  readonly objects: readonly ObjectEntry[];
}
export const ObjectListRequest = new RequestType0<ObjectListResult, void>('bpfLens/objectList');

export interface ObjectsParams {
  /** Only this object (absolute path); all indexed objects when omitted. */
  readonly path?: string;
}
export interface ObjectsResult {
  readonly objects: readonly ObjectSummary[];
}
export const ObjectsRequest = new RequestType<ObjectsParams, ObjectsResult, void>('bpfLens/objects');

export interface BtfTypesParams {
  readonly path: string;
  /** BTF kind name as in bpftool ('STRUCT', 'FUNC', ...); every kind when omitted. */
  readonly kind?: string;
  /** Case-insensitive substring of the type name; `#123` or `123` also matches id 123. */
  readonly search?: string;
  readonly offset?: number;
  /** Page size (default 500, at most 10000). */
  readonly limit?: number;
}
export interface BtfTypeItem {
  readonly id: number;
  readonly kind: string;
  readonly name: string;
  /** A one-line description: `struct task_struct (9792 bytes, 260 members)`. */
  readonly detail: string;
}
export interface BtfTypesResult {
  /** Matching types in all pages. */
  readonly total: number;
  readonly offset: number;
  readonly items: readonly BtfTypeItem[];
}
export const BtfTypesRequest = new RequestType<BtfTypesParams, BtfTypesResult, void>('bpfLens/btfTypes');

/**
 * `verifier`: the last Explain Verification of the object (one program's, or all). `matrix`:
 * the object loaded on every target with a kernel (Load on All Targets), programs × targets.
 */
export type DocumentKind = 'summary' | 'c' | 'raw' | 'disasm' | 'type' | 'baseDiff' | 'verifier' | 'matrix';

export interface DocumentParams {
  readonly path: string;
  readonly kind: DocumentKind;
  /** disasm: only this program (by ELF section or function name); all when omitted. */
  readonly program?: string;
  /** type: the BTF type id to show (its layout and C declaration). */
  readonly typeId?: number;
  /**
   * baseDiff: the target vmlinux BTF (default /sys/kernel/btf/vmlinux) and, for a module without .BTF.base, its original base.
   * verifier: the target whose last explanation to show (default: the object's last explanation anywhere).
   */
  readonly target?: string;
  readonly origBase?: string;
}
export interface DocumentResult {
  readonly text: string;
  /** VS Code language id for the text ('c', 'bpf-disasm', 'markdown', 'plaintext'). */
  readonly languageId: string;
}
export const DocumentRequest = new RequestType<DocumentParams, DocumentResult, void>('bpfLens/document');

/** Sent by the server when the set of objects or their contents changed. */
export interface ObjectsChangedParams {
  readonly paths: readonly string[];
}
export const ObjectsChangedNotification = new NotificationType<ObjectsChangedParams>('bpfLens/objectsChanged');

/** Statically links objects into one (`bpf-lens link`); problems instead of an output when it cannot. */
export interface LinkObjectsParams {
  readonly inputs: readonly string[];
  readonly output: string;
}
export interface LinkObjectsResult {
  readonly ok: boolean;
  /** What links where (one line per global), or every problem found. */
  readonly lines: readonly string[];
  readonly output?: string;
}
export const LinkObjectsRequest = new RequestType<LinkObjectsParams, LinkObjectsResult, void>('bpfLens/linkObjects');

/** Asks the server to re-scan the workspace for objects. */
export const ReindexRequest = new RequestType0<ObjectsResult, void>('bpfLens/reindex');

/** The virtual document URI for a request (`bpf-lens:/path/x.o/btf.h?kind=c`). */
export function documentPath(p: DocumentParams): { path: string; query: string } {
  const q = new URLSearchParams({ object: p.path, kind: p.kind });
  if (p.program !== undefined) q.set('program', p.program);
  if (p.typeId !== undefined) q.set('type', String(p.typeId));
  if (p.target !== undefined) q.set('target', p.target);
  if (p.origBase !== undefined) q.set('origBase', p.origBase);
  const leaf =
    p.kind === 'c'
      ? 'btf.h'
      : p.kind === 'raw'
        ? 'btf.txt'
        : p.kind === 'summary'
          ? 'summary.md'
          : p.kind === 'type'
            ? `type-${p.typeId}.md`
            : p.kind === 'baseDiff'
              ? 'base-diff.txt'
              : p.kind === 'verifier'
                ? `${(p.program ?? 'all').replace(/[/\\]/g, '_')}.verifier.txt`
                : p.kind === 'matrix'
                  ? 'all-targets.txt'
                  : `${(p.program ?? 'all').replace(/[/\\]/g, '_')}.bpf-disasm`;
  return { path: `${p.path}/${leaf}`, query: q.toString() };
}

/** Reverse of documentPath's query. */
export function parseDocumentQuery(query: string): DocumentParams | undefined {
  const q = new URLSearchParams(query);
  const path = q.get('object');
  const kind = q.get('kind') as DocumentKind | null;
  if (!path || !kind || !['summary', 'c', 'raw', 'disasm', 'type', 'baseDiff', 'verifier', 'matrix'].includes(kind)) return undefined;
  const program = q.get('program') ?? undefined;
  const type = q.get('type');
  const target = q.get('target') ?? undefined;
  const origBase = q.get('origBase') ?? undefined;
  return {
    path,
    kind,
    program,
    typeId: type === null ? undefined : Number(type),
    ...(target ? { target } : {}),
    ...(origBase ? { origBase } : {}),
  };
}

/** Loads an object into the kernel (the server's load pipeline); `token` names its progress notifications. */
export interface LoadObjectParams {
  readonly path: string;
  /** A target name: `local` (default) or one of bpfLens.targets (loaded through its agent). */
  readonly target?: string;
  /** Verifier log level for every program (0: only on rejection). */
  readonly logLevel?: number;
  readonly token?: string;
}
export interface LoadedKernelObject {
  /** Key for bpfLens/unloadObject. */
  readonly handle: number;
  readonly path: string;
  readonly target: string;
  readonly programs: readonly { readonly name: string; readonly id: number; readonly type: string; readonly verifiedInsns: number }[];
  readonly maps: readonly {
    readonly name: string;
    readonly kernelName: string;
    readonly id: number;
    readonly type: string;
    readonly pinnedAt?: string;
  }[];
  readonly warnings: readonly string[];
  /** What is attached now (bpfLens/attach), oldest first. */
  readonly attached: readonly KernelAttachment[];
}
/** A program attached in the kernel: where (as `bpf-lens run` says it), how, and its kernel link ids. */
export interface KernelAttachment {
  readonly program: string;
  /** tracepoint, raw_tp, tracing, kprobe, uprobe, iter, perf_event, xdp, tcx, cgroup, netns, sockmap, struct_ops. */
  readonly kind: string;
  readonly target: string;
  readonly mechanism: string;
  readonly linkIds: readonly number[];
}
export interface LoadObjectError {
  readonly message: string;
  /** A pipeline stage, or `target` when the target could not be used (see code). */
  readonly stage: string;
  /** For stage `target`: a TargetError code (unreachable, auth-failed, no-sudo, bpf-not-permitted, ...). */
  readonly code?: string;
  readonly program?: string;
  readonly insn?: number;
  /** The rejected source line (0-based line and column). */
  readonly source?: { readonly file: string; readonly line: number; readonly column: number; readonly text: string };
  readonly log?: string;
}
export interface LoadObjectResult {
  readonly ok: boolean;
  readonly loaded?: LoadedKernelObject;
  readonly error?: LoadObjectError;
  /** Verifier logs of loaded programs (when logLevel > 0). */
  readonly logs: readonly { readonly program: string; readonly log: string }[];
  /** A done load's programs, maps and warnings as `bpf-lens load` lists them (one formatter for both). */
  readonly lines?: readonly string[];
  readonly ms: number;
}
export const LoadObjectRequest = new RequestType<LoadObjectParams, LoadObjectResult, void>('bpfLens/loadObject');

/** Explain Verification: a throwaway load at log level 2; afterwards a hover on a source line shows the verifier's state there. */
export interface ExplainVerificationParams {
  readonly path: string;
  readonly target?: string;
}
export interface ExplainVerificationResult {
  readonly ok: boolean;
  /** Per program: how many source lines have states, and whether it was the rejected one. */
  readonly programs: readonly { readonly name: string; readonly lines: number; readonly rejected: boolean }[];
  readonly message?: string;
}
export const ExplainVerificationRequest = new RequestType<ExplainVerificationParams, ExplainVerificationResult, void>(
  'bpfLens/explainVerification',
);

export interface LoadProgressParams {
  readonly token?: string;
  readonly stage: string;
  readonly detail: string;
}
export const LoadProgressNotification = new NotificationType<LoadProgressParams>('bpfLens/loadProgress');

export interface UnloadObjectParams {
  readonly handle: number;
}
export interface UnloadObjectResult {
  readonly closed: boolean;
  /** Pins this load made and unload removed. */
  readonly unpinned: readonly string[];
}
export const UnloadObjectRequest = new RequestType<UnloadObjectParams, UnloadObjectResult, void>('bpfLens/unloadObject');

/** Attaches a loaded object's programs as libbpf would (or the named ones, each of which must attach), on its target. */
export interface AttachObjectParams {
  readonly handle: number;
  readonly programs?: readonly string[];
  /** PROG → WHERE, as `bpf-lens run --attach PROG=WHERE`: an interface, a cgroup, `binary:function` ... */
  readonly places?: Readonly<Record<string, string>>;
}
export interface AttachObjectResult {
  readonly ok: boolean;
  readonly attached: readonly KernelAttachment[];
  readonly skipped: readonly { readonly program: string; readonly reason: string }[];
  /** What attached iterators printed, read once. */
  readonly iterOutput: readonly { readonly program: string; readonly output: string }[];
  /** Nothing of the request is left attached; `needsPlace`: ask the user where (the message says what). */
  readonly error?: { readonly message: string; readonly program?: string; readonly needsPlace?: boolean };
}
export const AttachObjectRequest = new RequestType<AttachObjectParams, AttachObjectResult, void>('bpfLens/attach');

/** What a program needs before it can be attached, and what its target offers for it (the editor's place picker). */
export interface AttachPlaceParams {
  readonly handle: number;
  readonly program: string;
}
/** An interface (XDP: then a mode; tc: then a direction unless fixed), a cgroup, `binary:function`, or other text. */
export type PlaceNeed =
  | { readonly kind: 'interface'; readonly prog: 'xdp' }
  /** `direction`: fixed by the SEC() name (tcx/ingress), else the user picks it. */
  | { readonly kind: 'interface'; readonly prog: 'tc'; readonly direction?: 'ingress' | 'egress' }
  | { readonly kind: 'cgroup' }
  | { readonly kind: 'binary'; readonly example: string }
  | { readonly kind: 'text'; readonly what: string; readonly example: string };
export interface AttachPlaceResult {
  /** Absent: the program needs no place (it attaches by its SEC() name, or is never attached). */
  readonly need?: PlaceNeed;
  /** The target's interfaces (when an interface is needed). */
  readonly interfaces: readonly { readonly name: string; readonly ifindex: number; readonly state: string }[];
  /** The target's cgroup v2 mount and directories under it (when a cgroup is needed). */
  readonly cgroupRoot?: string;
  readonly cgroups: readonly string[];
  /** Why nothing could be listed (e.g. an agent too old to list places): the editor asks for text instead. */
  readonly error?: string;
}
export const AttachPlaceRequest = new RequestType<AttachPlaceParams, AttachPlaceResult, void>('bpfLens/attachPlace');

export interface DetachObjectParams {
  readonly handle: number;
  /** Only these programs (default: everything the load has attached). */
  readonly programs?: readonly string[];
}
export interface DetachObjectResult {
  readonly detached: readonly KernelAttachment[];
  readonly errors: readonly string[];
}
export const DetachObjectRequest = new RequestType<DetachObjectParams, DetachObjectResult, void>('bpfLens/detach');

/** BPF_PROG_TEST_RUN of a loaded program on its target: a packet from a spec (`eth/ipv4/udp(dport=53)`) or a file, an optional ctx file. */
export interface TestRunProgramParams {
  readonly handle: number;
  readonly program: string;
  readonly packet?: string;
  readonly dataFile?: string;
  readonly ctxFile?: string;
  readonly repeat?: number;
}
export interface TestRunProgramResult {
  readonly ok: boolean;
  readonly retval?: number;
  /** XDP_DROP, TC_ACT_SHOT ... for the program's type. */
  readonly retvalName?: string | null;
  readonly durationNs?: number;
  /** Lowercase hex. */
  readonly dataOut?: string;
  readonly ctxOut?: string;
  /** The result as `bpf-lens test-run` prints it: verdict, time, the output's byte diff against the input. */
  readonly lines: readonly string[];
  readonly error?: string;
}
export const TestRunProgramRequest = new RequestType<TestRunProgramParams, TestRunProgramResult, void>('bpfLens/testRun');

// ---- Events (issue 16): a load's ring/perf buffer records and bpf_printk lines, streamed to the editor ----

/** Starts streaming a load's ring/perf buffer records (and bpf_printk lines) as bpfLens/events notifications. */
export interface ObserveEventsParams {
  readonly handle: number;
  /** Map → record type (a struct or union of the object's BTF) to decode that map's records with. */
  readonly decode?: Readonly<Record<string, string>>;
  /** Read the trace pipe too (default: when one of the object's programs calls bpf_printk). */
  readonly printk?: boolean;
}
/** A ring/perf buffer map of an observed load and how its records are decoded. */
export interface EventMapInfo {
  readonly name: string;
  readonly kind: 'ringbuf' | 'perf';
  /** The record type (`exec_event`); none: records are shown as hex. */
  readonly type?: string;
  /** How the type was found: given by the user, named on the output call's source line, or the only struct of the record's size. */
  readonly how?: 'user' | 'source line' | 'size';
  /** The record type's top-level field names (the Events panel's columns). */
  readonly fields: readonly string[];
}
export interface ObserveEventsResult {
  readonly ok: boolean;
  readonly error?: string;
  readonly maps: readonly EventMapInfo[];
  readonly printk: boolean;
  /** Why the trace pipe could not be read. */
  readonly printkError?: string;
  /** Struct and union names of the object's BTF ("Decode Records As…"). */
  readonly types: readonly string[];
}
export const ObserveEventsRequest = new RequestType<ObserveEventsParams, ObserveEventsResult, void>('bpfLens/observeEvents');

/** Decodes a map's records with another type from now on. */
export interface EventsDecodeParams {
  readonly handle: number;
  readonly map: string;
  readonly type: string;
}
export interface EventsDecodeResult {
  readonly ok: boolean;
  readonly error?: string;
  readonly map?: EventMapInfo;
}
export const EventsDecodeRequest = new RequestType<EventsDecodeParams, EventsDecodeResult, void>('bpfLens/eventsDecode');

/** Counters of one observation, totals since it began. */
export interface EventCounters {
  /** Records the target read from the buffers. */
  readonly records: number;
  /** bpf_printk lines the target read. */
  readonly printk: number;
  /** Records sent to the editor. */
  readonly shown: number;
  /** Records and lines dropped in transit: the target's queue was full, or more came than the editor is sent (per batch, per second). */
  readonly dropped: number;
  /** Perf buffer samples the kernel lost (PERF_RECORD_LOST), and ring buffer records unread when observing ended, all maps. */
  readonly lost: number;
  readonly lostByMap: Readonly<Record<string, number>>;
  /** Records per second read on the target, over the last second. */
  readonly rate: number;
}
/** One record as the program wrote it, decoded. */
export interface EventRow {
  readonly map: string;
  readonly kind: 'ringbuf' | 'perf';
  readonly cpu?: number;
  /** When the target's consumer read it (ms since the epoch, the target's clock): the panel's "read at". */
  readonly time: number;
  /** When the kernel wrote it, for perf samples (PERF_SAMPLE_TIME; ring buffer records have no such time). */
  readonly kernelTime?: number;
  /** The decoded value, as `bpftool -j map dump`'s `formatted` encodes values. */
  readonly data?: unknown;
  /** The bytes as hex when the record has no type (or does not fit it). */
  readonly hex?: string;
}
/** A bpf_printk line, tied to the observed object (and program, source line) whose format string it fits. */
export interface PrintkRow {
  /** When the target read the line from its trace pipe (ms since the epoch, the target's clock). */
  readonly time: number;
  readonly text: string;
  readonly task: string;
  readonly pid: number;
  readonly cpu: number;
  /** The observed object whose format string it fits (its path). */
  readonly object?: string;
  readonly programs?: readonly string[];
  /** Where the format string is loaded, when one instruction loads it: an absolute path when the source was found, 1-based line. */
  readonly source?: { readonly file: string; readonly line: number };
}
export interface EventsNotificationParams {
  readonly handle: number;
  readonly rows: readonly EventRow[];
  readonly printk: readonly PrintkRow[];
  readonly counters: EventCounters;
  /** The last notification of this observation (stopped or unloaded). */
  readonly done?: boolean;
}
/** At most a few per second per observation, each with a bounded number of rows. */
export const EventsNotification = new NotificationType<EventsNotificationParams>('bpfLens/events');

export interface StopEventsParams {
  readonly handle: number;
}
export interface StopEventsResult {
  readonly stopped: boolean;
  readonly counters?: EventCounters;
}
/** Reads what is left (a last notification with `done`), stops reading. */
export const StopEventsRequest = new RequestType<StopEventsParams, StopEventsResult, void>('bpfLens/stopEvents');

// ---- end of Events ----

// ---- Load on All Targets (issue 18): one object on every target with a kernel, programs × targets ----

/** One program on one target. */
export type LoadMatrixCell =
  | { readonly program: string; readonly status: 'loaded'; readonly verifiedInsns: number }
  | {
      readonly program: string;
      readonly status: 'rejected';
      /** The error's first line. */
      readonly error: string;
      /** The C line the rejection points at (0-based), and its text. */
      readonly source?: SourcePos & { readonly column: number; readonly text: string };
    }
  | { readonly program: string; readonly status: 'not-attempted'; readonly why: string };

/** A CO-RE relocation that does not resolve on a target (the CO-RE diagnostics, for that kernel). */
export interface LoadMatrixCoreNote {
  readonly program: string;
  /** `task_struct->dl_server`. */
  readonly access: string;
  readonly kind: string;
  readonly status: 'missing' | 'poisoned' | 'ambiguous' | 'invalid';
  /** `field dl_server is absent there (its check answers 0)`. */
  readonly message: string;
  readonly source?: SourcePos;
}

export interface LoadMatrixTarget {
  readonly name: string;
  readonly kind: 'local' | 'ssh' | 'vm';
  /**
   * The target answered (connected or booted, and said hello): its cells are filled. Not the
   * CLI's per-target `"ok"`, which is `loadedAll`.
   */
  readonly answered: boolean;
  /** Every program of the row loaded there (false when the target did not answer, or one was rejected or not attempted). */
  readonly loadedAll: boolean;
  /** `uname -r`. */
  readonly release?: string;
  /** Why the target could not be used: a TargetError's code, message and the console's or ssh's last lines. */
  readonly error?: { readonly code: string; readonly message: string; readonly detail?: string };
  /** One per program of the object, in the object's order (empty when !answered). */
  readonly cells: readonly LoadMatrixCell[];
  /** How this kernel takes the object's `__arg_ctx` arguments (absent: the object has none). */
  readonly argCtx?: 'native' | 'emulated';
  /** CO-RE relocations against this kernel's BTF: how many, and those that do not resolve. */
  readonly core?: { readonly relocations: number; readonly problems: readonly LoadMatrixCoreNote[] };
  /** What the loader warned about on this kernel, and why CO-RE could not be checked. */
  readonly notes: readonly string[];
  /** Connect (or boot) and load. */
  readonly ms: number;
}

export interface LoadMatrixParams {
  readonly path: string;
  /** Names the progress notifications (bpfLens/loadMatrixProgress). */
  readonly token?: string;
}
export interface LoadMatrixResult {
  readonly path: string;
  /** The object's programs (rows), with the source of each function. */
  readonly programs: readonly { readonly name: string; readonly section: string; readonly source?: SourcePos }[];
  /** `local` and every bpfLens.targets entry with a kernel (columns). */
  readonly targets: readonly LoadMatrixTarget[];
  readonly ms: number;
  /** Beyond six targets (a fleet), per program: the targets grouped by what happened there (the view folds to this). */
  readonly fold?: readonly LoadMatrixFold[];
}

/** One program on a fleet: how many targets loaded it, and the targets grouped by outcome and message. */
export interface LoadMatrixFold {
  readonly program: string;
  readonly loaded: number;
  readonly targets: number;
  /** `loaded on 48/50; rejected on host-a, host-b: <error>`. */
  readonly summary: string;
  /** Loaded first, then the others, largest first; each group's targets in the targets' order. */
  readonly groups: readonly LoadMatrixFoldGroup[];
}
export interface LoadMatrixFoldGroup {
  /** `failed`: the target itself could not be used. */
  readonly outcome: 'loaded' | 'rejected' | 'not-attempted' | 'failed';
  /** The rejection's first line, why not attempted, why the target failed ('' when loaded). */
  readonly text: string;
  readonly targets: readonly string[];
}
/** Loads the object on every target with a kernel at once (each unloaded at once): what each kernel thinks of it. */
export const LoadMatrixRequest = new RequestType<LoadMatrixParams, LoadMatrixResult, void>('bpfLens/loadMatrix');

export interface LoadMatrixProgressParams {
  readonly token: string;
  readonly target: string;
  /** `connecting` (a VM boots), `loading`, then `done` or `failed`. */
  readonly stage: 'connecting' | 'loading' | 'done' | 'failed';
}
export const LoadMatrixProgressNotification = new NotificationType<LoadMatrixProgressParams>('bpfLens/loadMatrixProgress');

// ---- end of Load on All Targets ----

export interface LoadedObjectsResult {
  readonly loaded: readonly LoadedKernelObject[];
}
export const LoadedObjectsRequest = new RequestType0<LoadedObjectsResult, void>('bpfLens/loadedObjects');

/** A loaded map's elements (the map view): read live on the load's target. */
export interface MapElementsParams {
  /** The load (bpfLens/loadedObjects). */
  readonly handle: number;
  /** The map's name in the object (or its kernel name). */
  readonly map: string;
  /** Elements to return, at most 1000 (default 200). */
  readonly limit?: number;
  /** Keep only elements whose key text contains this (case-insensitive). */
  readonly filter?: string;
}
/** One element as C-like text; a per-CPU map's also per CPU, and summed when its value is counters. */
export interface MapViewElement {
  readonly key: string;
  /** Per-CPU maps: `{ [0] = …, [1] = … }`. */
  readonly value: string;
  readonly cpus?: readonly string[];
  readonly sum?: string;
}
export interface MapElementsResult {
  /** Elements the map holds (counted up to 100,000: `truncated` past that). */
  readonly count: number;
  readonly truncated: boolean;
  /** Keys and values as C-like text; per-CPU values as `{ [0] = …, [1] = … }`. */
  readonly elements: readonly MapViewElement[];
  /** With a filter: how many elements matched (the first `limit` of them are in `elements`). */
  readonly matched?: number;
  /** With a filter: the elements it looked through (fewer than `count` on an agent target: its first 1000). */
  readonly scanned?: number;
  /** Why the elements could not be read (no such load or map; a queue or ring buffer). */
  readonly error?: string;
  /** The load is gone (unloaded, or the server restarted): a view stops reading. */
  readonly unloaded?: boolean;
  /** What user space may do to this map (a frozen .rodata, a ring buffer, a prog array: nothing). */
  readonly access?: MapAccess;
  /** Per-CPU maps: the CPUs each value has. */
  readonly cpus?: number;
}
export interface MapAccess {
  /** Change a value (bpfLens/mapUpdate on an existing key). */
  readonly update: boolean;
  /** Remove a key (bpfLens/mapDelete): hash-like maps, not arrays. */
  readonly delete: boolean;
  /** Add a key: hash-like maps. */
  readonly insert: boolean;
}
export const MapElementsRequest = new RequestType<MapElementsParams, MapElementsResult, void>('bpfLens/mapElements');

/** Writes one element of a loaded map, key and value in the C-like text the map view shows. */
export interface MapUpdateParams {
  readonly handle: number;
  readonly map: string;
  readonly key: string;
  /** One value; a per-CPU map gets it on every CPU (as bpftool writes it). */
  readonly value: string;
  /** `noexist`: add only (the view's Add entry); `exist`: change only; default any. */
  readonly flag?: 'any' | 'noexist' | 'exist';
}
export interface MapWriteResult {
  readonly ok: boolean;
  /** Why not: the parse error names the field (`value.pt.x: …`), else the kernel's error. */
  readonly error?: string;
  /** The field that did not parse, as a C path from the key or value (`value.pt.x`, `key`). */
  readonly field?: string;
  /** bpfLens/mapDelete: false when the key was not there. */
  readonly deleted?: boolean;
}
export const MapUpdateRequest = new RequestType<MapUpdateParams, MapWriteResult, void>('bpfLens/mapUpdate');
export interface MapDeleteParams {
  readonly handle: number;
  readonly map: string;
  readonly key: string;
}
export const MapDeleteRequest = new RequestType<MapDeleteParams, MapWriteResult, void>('bpfLens/mapDelete');

/** Run statistics of a target's programs (the BPF view while "Show Run Statistics" is on). */
export interface ProgramStatsParams {
  readonly target: string;
  /** Turn statistics off on that target again. */
  readonly stop?: boolean;
}
export interface ProgramStatsResult {
  /** How statistics are on: our BPF_ENABLE_STATS FD, the sysctl, or not at all. */
  readonly stats: 'fd' | 'sysctl' | 'off';
  readonly reason?: string;
  /** Rates since the previous request for this target (none on the first). */
  readonly programs: readonly {
    readonly id: number;
    readonly runCnt: number;
    readonly runsPerSec: number;
    readonly periodNsPerRun: number;
    readonly cpuPercent: number;
  }[];
}
export const ProgramStatsRequest = new RequestType<ProgramStatsParams, ProgramStatsResult, void>('bpfLens/programStats');

/** A kernel module's distilled base against a target vmlinux BTF (server/src/btf/base-diff.ts). */
export interface BaseDiffParams {
  /** The module (`.ko`). */
  readonly path: string;
  /** The target's vmlinux BTF (default /sys/kernel/btf/vmlinux). */
  readonly target?: string;
  /** For a module without `.BTF.base`: the vmlinux BTF it was built for, to distill first. */
  readonly origBase?: string;
}
/** As server/src/btf/relocate.ts's BaseMatchStatus. */
export type BaseDiffStatus =
  'match' | 'size-not-checked' | 'size-mismatch' | 'encoding-mismatch' | 'kind-mismatch' | 'missing' | 'ambiguous' | 'invalid';
export interface BaseDiffItem {
  readonly id: number;
  readonly kind: string;
  readonly name: string;
  readonly size: number;
  readonly status: BaseDiffStatus;
  readonly targetId?: number;
  readonly targetSize?: number;
  readonly reason?: string;
  /** Named split types that use it (the first few), as `struct foo`. */
  readonly usedBy: readonly string[];
  readonly usedByCount: number;
}
export interface BaseDiffResult {
  readonly path: string;
  readonly target: string;
  /** No `.BTF.base` and no origBase given: nothing to diff (`message` says so). */
  readonly noBase?: boolean;
  readonly message?: string;
  readonly distilledFrom?: string;
  readonly relocates?: boolean;
  readonly counts?: Readonly<Record<string, number>>;
  readonly rows: readonly BaseDiffItem[];
  readonly ms: number;
}
export const BaseDiffRequest = new RequestType<BaseDiffParams, BaseDiffResult, void>('bpfLens/baseDiff');

/** One entry of the setting bpfLens.targets: an SSH host, or a BTF file (CO-RE checks only). */
export interface TargetSetting {
  readonly name: string;
  /** `ssh://[user@]host[:port]`, `user@host`, a host or an ~/.ssh/config Host alias. */
  readonly host?: string;
  readonly user?: string;
  readonly port?: number;
  readonly identityFile?: string;
  /** Run the agent under `sudo -n` when the user is not root (default true). */
  readonly sudo?: boolean;
  readonly nodePath?: string;
  /** A vmlinux BTF file: CO-RE diagnostics against it without a host. */
  readonly btf?: string;
  /** A VM target: this kernel image booted under qemu with the agent inside (kept while the window is open). */
  readonly kernel?: string;
  /** The VM kernel's modules directory (lib/modules/RELEASE): the virtio and 9p drivers it does not build in. */
  readonly modules?: string;
  /** VM memory in MB (default 1024). */
  readonly memory?: number;
  /** VM virtual CPUs (default 1). */
  readonly cpus?: number;
  /** Modules inserted in the VM before the agent starts: names under `modules`, or .ko files. */
  readonly insmod?: readonly string[];
}

/** What a target said about itself when selected. */
export interface TargetInfo {
  readonly name: string;
  readonly kind: 'local' | 'ssh' | 'btf' | 'vm';
  /** `uname -r` (a BTF file target: the file's name). */
  readonly release: string;
  readonly arch?: string;
  readonly canLoad: boolean;
  readonly errno?: string;
  readonly lockdown?: string;
  readonly hasBtf: boolean;
  /** Identifies the BTF CO-RE diagnostics were computed against. */
  readonly btfKey?: string;
  readonly features: Readonly<Record<string, boolean>>;
  readonly agentVersion?: string;
  /** Connect and hello (or reading the BTF file). */
  readonly ms: number;
}

export interface SelectTargetParams {
  readonly name: string;
}
export interface SelectTargetResult {
  readonly ok: boolean;
  readonly info?: TargetInfo;
  /** Why the target could not be used (a TargetError's code, message and detail). */
  readonly error?: { readonly code: string; readonly message: string; readonly detail?: string };
  /** CO-RE relocations checked against the target's BTF, and how many do not resolve there. */
  readonly core?: { readonly objects: number; readonly relocations: number; readonly problems: number; readonly ms: number };
}
/** Makes `name` the target of CO-RE diagnostics (and the default of loads): connects, fetches its BTF. */
export const SelectTargetRequest = new RequestType<SelectTargetParams, SelectTargetResult, void>('bpfLens/selectTarget');

export interface TargetsResult {
  /** The target of CO-RE diagnostics and, in the client, of loads. */
  readonly selected: string;
  readonly targets: readonly {
    readonly name: string;
    readonly kind: 'local' | 'ssh' | 'btf' | 'vm';
    /** The host (ssh), file (btf) or kernel image (vm). */
    readonly where?: string;
    /** What it said when last connected. */
    readonly info?: TargetInfo;
  }[];
}
/** `local` and bpfLens.targets, with what is known about each. */
export const TargetsRequest = new RequestType0<TargetsResult, void>('bpfLens/targets');

export interface TargetBtfParams {
  readonly name: string;
}
export interface TargetBtfResult {
  /** A file holding the target's vmlinux BTF: ask bpfLens/objects and bpfLens/btfTypes about it. */
  readonly path: string;
  readonly label: string;
}
/** Where the target's vmlinux BTF can be read (connects to an SSH target and fetches it once). */
export const TargetBtfRequest = new RequestType<TargetBtfParams, TargetBtfResult, void>('bpfLens/targetBtf');

/** One CO-RE relocation of an object, computed against the selected target's BTF. */
export interface CoreRelocationItem {
  readonly section: string;
  /** libbpf's `relo #N` within the section. */
  readonly index: number;
  readonly kind: string;
  /** `task_struct->se.vruntime`. */
  readonly access: string;
  readonly status: 'ok' | 'missing' | 'poisoned' | 'ambiguous' | 'invalid';
  /** What the compiler assumed and what the target needs (as decimal strings). */
  readonly compiled?: string;
  readonly onTarget?: string;
  readonly message?: string;
  /** The C line naming the accessed field (0-based). */
  readonly source?: SourcePos;
}
export interface CoreRelocationsResult {
  /** `name (release)` of the selected target. */
  readonly target: string;
  readonly items: readonly CoreRelocationItem[];
}
/** Every CO-RE relocation of an object against the selected target (the tree's "CO-RE relocations"). */
export const CoreRelocationsRequest = new RequestType<{ readonly path: string }, CoreRelocationsResult, void>('bpfLens/coreRelocations');

export interface DistillParams {
  /** The module (`.ko` with `.BTF`, without `.BTF.base`). */
  readonly path: string;
  /** The vmlinux BTF it was built for. */
  readonly base: string;
  readonly output: string;
}
export interface DistillResult {
  readonly ok: boolean;
  /** What was written (first line), warnings; or why not. */
  readonly lines: readonly string[];
  readonly output?: string;
}
/** Writes a copy of a module with a distilled base (`.BTF.base`), as `bpf-lens distill`. */
export const DistillRequest = new RequestType<DistillParams, DistillResult, void>('bpfLens/distill');
