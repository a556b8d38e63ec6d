/**
 * The agent's JSON-RPC protocol (vscode-jsonrpc over stdio): method names and the JSON shapes
 * both ends share. Bytes travel as base64. Kept free of koffi so clients can import it.
 * Methods are `bpfLensAgent/…`, apart from the language server's `bpfLens/…` requests.
 */
import { NotificationType, RequestType, RequestType0 } from 'vscode-jsonrpc';

export { AGENT_PROTOCOL_VERSION } from './agent-version';

export interface HelloResult {
  readonly agentVersion: string;
  readonly protocol: number;
  readonly release: string;
  readonly arch: string;
  readonly lockdown: string | null;
  readonly uid: number;
  readonly pid: number;
  readonly privileges: {
    readonly canLoad: boolean;
    readonly errno: string | null;
    readonly capBpf: boolean;
    readonly capSysAdmin: boolean;
  };
  /** Feature probe answers by name (empty when the agent cannot load BPF). */
  readonly features: Readonly<Record<string, boolean>>;
  /** /sys/kernel/btf/vmlinux exists. */
  readonly hasVmlinuxBtf: boolean;
  /** /proc/sys/kernel/unprivileged_bpf_disabled (0 allowed, 1 and 2 disabled); null when unreadable. Older agents omit it. */
  readonly unprivilegedBpfDisabled?: number | null;
}

export interface TargetBtfParams {
  readonly knownHash?: string;
}
export interface TargetBtfResult {
  /** sha256 of the vmlinux BTF; `data` is omitted when it equals `knownHash`. */
  readonly hash: string;
  readonly size: number;
  readonly data?: string;
}

export interface AgentLoadParams {
  readonly name: string;
  readonly object: string;
  readonly logLevel?: number;
  readonly noAutoload?: readonly string[];
  readonly set?: Readonly<Record<string, string>>;
  readonly pinProgramsDir?: string;
  readonly argCtxFallback?: 'auto' | 'always' | 'never';
  /** A vmlinux BTF to relocate CO-RE against instead of the target's own (libbpf's btf_custom_path), base64. */
  readonly btf?: string;
  /** How errors in `btf` name it (the file it came from). */
  readonly btfName?: string;
}

export interface AgentLoadResult {
  readonly handle: number;
  readonly ms: number;
  readonly programs: readonly {
    name: string;
    section: string;
    type: string;
    id: number;
    verifiedInsns: number;
    pinnedAt?: string;
    log?: string;
  }[];
  readonly maps: readonly {
    name: string;
    kernelName: string;
    id: number;
    type: string;
    keySize: number;
    valueSize: number;
    maxEntries: number;
    flags: number;
    pinnedAt?: string;
    reused?: boolean;
  }[];
  readonly warnings: readonly string[];
}

/** Error data of a failed load (a LoadError on the agent's side). */
export interface AgentLoadErrorData {
  readonly kind: 'load';
  readonly stage: string;
  readonly program?: string;
  readonly insn?: number;
  readonly source?: { file: string; line: number; column: number; text: string };
  readonly log?: string;
  /** The verifier never finished (interrupted on every try): `log` is a walk cut short, not a rejection. */
  readonly interrupted?: boolean;
  /** The rejection explained (server/src/verifier: family, explanation, hint, related locations, origin first). */
  readonly explanation?: RejectionExplanationData;
}

/** A verifier rejection explained, as it travels (the shape of server/src/verifier's RejectionExplanation). */
export interface RejectionExplanationData {
  readonly family: string;
  readonly title: string;
  readonly error: string;
  readonly explanation: string;
  readonly hint: string;
  readonly related: readonly {
    readonly insn: number;
    readonly why: string;
    readonly file?: string;
    readonly line?: number;
    readonly text?: string;
  }[];
  readonly insn?: number;
}

/**
 * Error data when the target has no vmlinux BTF (/sys/kernel/btf/vmlinux) and the request needs
 * it: a targetBtf request, or a load at the stage that first read the kernel's BTF.
 */
export interface AgentNoBtfErrorData {
  readonly kind: 'no-btf';
  readonly stage?: string;
}

export interface TestRunParams {
  readonly handle: number;
  readonly program: string;
  readonly data?: string;
  /** The context (ctx_in), base64: raw_tp arguments, an __sk_buff, xdp_md ... */
  readonly ctx?: string;
  readonly repeat?: number;
}
export interface TestRunResultJson {
  readonly retval: number;
  readonly duration: number;
  readonly dataOut?: string;
  /** The context as the program left it (ctx_out), when one went in; base64. */
  readonly ctxOut?: string;
}

/** One attachment as it travels (what `run --json` prints as an `attached` event). */
export interface AttachmentJson {
  readonly program: string;
  /** The plan's kind: tracepoint, raw_tp, tracing, kprobe, uprobe, iter, perf_event, xdp, tcx, cgroup, netns, sockmap, struct_ops. */
  readonly kind: string;
  /** Where, as the user reads it: `syscalls:sys_enter_getppid`, `veth0 ingress`, a cgroup path. */
  readonly target: string;
  /** link, perf_event link, perf_event ioctl, raw_tracepoint_open, prog_attach, map update, tc filter. */
  readonly mechanism: string;
  /** Kernel link ids (one per CPU for perf_event programs; none for ioctl/prog_attach/map update). */
  readonly linkIds: readonly number[];
  /** Where its links were pinned (attach with `pinDir`): they outlive the load. */
  readonly pinned?: readonly string[];
}

export interface AttachParams {
  readonly handle: number;
  /** PROG → WHERE (`--attach PROG=WHERE`): a place for what libbpf cannot auto-attach, or another one. */
  readonly places?: Readonly<Record<string, string>>;
  /** Only these programs (or struct_ops maps), each of which must attach; default: all libbpf would attach. */
  readonly programs?: readonly string[];
  /** Not these (`--no-attach PROG`). */
  readonly skip?: readonly string[];
  /** Pin every link under this bpffs directory (DIR/<program>): they stay attached after the load is released. */
  readonly pinDir?: string;
}
export interface AttachResult {
  readonly attached: readonly AttachmentJson[];
  readonly skipped: readonly { readonly program: string; readonly reason: string }[];
  /** What each attached iterator printed when read once. */
  readonly iterOutput: readonly { readonly program: string; readonly output: string }[];
}
/** Error data of a failed attach: everything this request attached was detached again. */
export interface AttachErrorData {
  readonly kind: 'attach';
  readonly program?: string;
  /** The program, asked for by name, needs a place (`places`) that was not given. */
  readonly needsPlace?: boolean;
}
export interface DetachParams {
  readonly handle: number;
  /** Only these programs' attachments; default: every attachment of the load. */
  readonly programs?: readonly string[];
}
export interface DetachResult {
  /** Newest first, as they were undone. */
  readonly detached: readonly AttachmentJson[];
  /** What could not be undone (normally nothing). */
  readonly errors: readonly string[];
}

/** How run statistics are on: our BPF_ENABLE_STATS FD, the kernel.bpf_stats_enabled sysctl, or not at all. */
export type StatsState = 'fd' | 'sysctl' | 'off';
export interface ProgStat {
  readonly id: number;
  /** The program type as bpftool names it (`tracepoint`, `xdp`). */
  readonly type: string;
  readonly name: string;
  readonly tag: string;
  readonly runCnt: number;
  readonly runTimeNs: number;
}
export interface ProgStatsParams {
  /** Turn statistics on (kept on until `disable` or the connection ends) before reading. */
  readonly enable?: boolean;
  /** Turn off what `enable` turned on (the sysctl, if someone set it, stays). */
  readonly disable?: boolean;
}
export interface ProgStatsResult {
  readonly stats: StatsState;
  readonly reason?: string;
  /** The target's monotonic clock when read: rates divide by its differences, not by the wire's. */
  readonly timeNs: number;
  readonly programs: readonly ProgStat[];
}

/** A map on the target: by id, or by the bpffs path it is pinned at. */
export interface MapRefParams {
  readonly id?: number;
  readonly pinned?: string;
}
export interface MapDumpParams extends MapRefParams {
  /** `bpftool -j map dump` text; else the plain `bpftool map dump` text. */
  readonly json?: boolean;
  /** With json: pretty (`bpftool -jp`). */
  readonly pretty?: boolean;
  /** Stop after this many elements. */
  readonly maxElements?: number;
  /** Also the first N elements as C-like text (`preview`), for hovers and views. */
  readonly preview?: number;
  /**
   * With preview: only elements whose key text contains this (case-insensitive), looked for among
   * every element read (up to maxElements), where the map is: a remote map is not sent to be searched.
   */
  readonly keyFilter?: string;
  /** No bpftool text (`text` is empty): for views that show `preview` and the counts only. */
  readonly noText?: boolean;
}
/** One element as C-like text (btf/value-text.ts; hex bytes without BTF; per CPU `{ [0] = …, [1] = … }`). */
export interface MapElementText {
  readonly key: string;
  readonly value: string;
  /** Per-CPU maps: each CPU's value (older agents omit it). */
  readonly cpus?: readonly string[];
  /** Per-CPU maps whose value is made of integer counters: their sum over the CPUs (observe/map-sum.ts). */
  readonly sum?: string;
}
export interface MapDumpResult {
  /** What bpftool prints on stdout for the dump, trailing newline included (empty with `noText`). */
  readonly text: string;
  /** Elements printed (lookups that failed not counted). */
  readonly elements: number;
  /** Stopped at maxElements. */
  readonly truncated: boolean;
  /** The walk failed (a queue or stack: EINVAL; ring buffers, local storage: ENOTSUPP): bpftool exits with it. */
  readonly error?: { readonly errno: number; readonly errnoName: string; readonly message: string };
  /** With `preview`: the first elements as text. */
  readonly preview?: readonly MapElementText[];
  /** With `keyFilter`: how many elements read had a matching key (`preview` holds the first of them). */
  readonly matched?: number;
  /** Elements read, failed lookups included (with keyFilter: how many the filter looked at). */
  readonly read?: number;
}
export interface MapUpdateParams extends MapRefParams {
  /** C-like or JSON text when the map has BTF for it, else bytes (`1 0 0 0`, `hex 01 00 00 00`); none for queues and stacks. */
  readonly key?: string;
  /** As key; for a prog array or map of maps the id of the program or map. */
  readonly value: string;
  readonly flag?: 'any' | 'noexist' | 'exist';
}
export interface MapDeleteParams extends MapRefParams {
  readonly key: string;
}
export interface MapDeleteResult {
  /** False when the key was not in the map. */
  readonly deleted: boolean;
}

export const hello = new RequestType0<HelloResult, void>('bpfLensAgent/hello');
export const targetBtf = new RequestType<TargetBtfParams, TargetBtfResult, AgentNoBtfErrorData>('bpfLensAgent/targetBtf');
export const load = new RequestType<AgentLoadParams, AgentLoadResult, AgentLoadErrorData | AgentNoBtfErrorData>('bpfLensAgent/load');
export interface UnloadParams {
  readonly handle: number;
  /** Also remove the map pins this load made (never the pinned maps it reused). */
  readonly unpinMaps?: boolean;
}
export interface UnloadResult {
  readonly closed: boolean;
  readonly unpinned: readonly string[];
}
export interface LoadedEntry {
  readonly handle: number;
  readonly name: string;
  readonly programs: readonly string[];
  readonly ids: readonly number[];
  /** What is attached now (older agents omit it). */
  readonly attached?: readonly AttachmentJson[];
}

export const unload = new RequestType<UnloadParams, UnloadResult, void>('bpfLensAgent/unload');
export const listLoaded = new RequestType0<readonly LoadedEntry[], void>('bpfLensAgent/listLoaded');
export const testRun = new RequestType<TestRunParams, TestRunResultJson, void>('bpfLensAgent/testRun');
export const progStats = new RequestType<ProgStatsParams, ProgStatsResult, void>('bpfLensAgent/progStats');
/** Fails with AttachErrorData when a program cannot be attached (nothing of the request is left attached). */
export const attach = new RequestType<AttachParams, AttachResult, AttachErrorData>('bpfLensAgent/attach');
export const detach = new RequestType<DetachParams, DetachResult, void>('bpfLensAgent/detach');
/** Streams each attachment of an attach request as it is made. */
export const attached = new NotificationType<{ handle: number; attachment: AttachmentJson }>('bpfLensAgent/attached');
export const mapDump = new RequestType<MapDumpParams, MapDumpResult, void>('bpfLensAgent/mapDump');
export const mapUpdate = new RequestType<MapUpdateParams, null, void>('bpfLensAgent/mapUpdate');
export const mapDelete = new RequestType<MapDeleteParams, MapDeleteResult, void>('bpfLensAgent/mapDelete');
export const shutdown = new RequestType0<void, void>('bpfLensAgent/shutdown');

/** What a place picker offers on the target (places): its network interfaces and cgroup v2 directories. */
export interface PlacesResult {
  readonly interfaces: readonly { readonly name: string; readonly ifindex: number; readonly state: string }[];
  /** Where cgroup v2 is mounted, when it is. */
  readonly cgroupRoot?: string;
  /** The root and directories under it (a few levels, bounded). */
  readonly cgroups: readonly string[];
}
export const places = new RequestType0<PlacesResult, void>('bpfLensAgent/places');

/** Start reading a load's ring/perf buffers (and, with printk, the trace pipe) while it runs. */
export interface ObserveParams {
  readonly handle: number;
  /** Ring buffer and perf event array maps to read (default: all of the load's). */
  readonly maps?: readonly string[];
  /** Also stream bpf_trace_printk lines of the trace pipe. */
  readonly printk?: boolean;
  /** Records the target may hold while the client is behind (default 65536); more are dropped and counted. */
  readonly maxQueued?: number;
  /** Data pages per CPU of each perf buffer (a power of 2, default 8). */
  readonly perfPages?: number;
}
export interface ObserveResult {
  readonly maps: readonly { readonly name: string; readonly kind: 'ringbuf' | 'perf' }[];
  /** Whether the trace pipe is read (false with the reason when it could not be opened). */
  readonly printk: boolean;
  readonly printkError?: string;
}
/** One record as the program wrote it. */
export interface EventRecordJson {
  readonly kind: 'ringbuf' | 'perf';
  readonly map: string;
  readonly cpu?: number;
  /** The record's bytes, base64. */
  readonly data: string;
  /**
   * When the target's consumer read it (ms since the epoch, the target's clock; never less than
   * the stream's previous stamp). Ring buffer records carry no time (neither does libbpf's
   * ring_buffer or bpftool add one): this is the closest to their writing a reader can tell.
   */
  readonly readAt: number;
  /** When the kernel wrote a perf sample (PERF_SAMPLE_TIME on CLOCK_REALTIME, ms since the epoch). */
  readonly kernelTime?: number;
}
/** What the target read since the last batch; counters are totals since observe began. */
export interface EventBatch {
  readonly handle: number;
  readonly records: readonly EventRecordJson[];
  /** Trace pipe lines of bpf_trace_printk, as the kernel wrote them. */
  readonly printk: readonly string[];
  /** When the target read each printk line (ms since the epoch, the target's clock), in the same order. */
  readonly printkReadAt?: readonly number[];
  /** Records (and printk lines) the target dropped because its queue was full. */
  readonly dropped: number;
  /**
   * Perf buffer samples the kernel lost, per map (PERF_RECORD_LOST), and, once observing ended,
   * ring buffer records still unread when the ring was closed.
   */
  readonly lost: Readonly<Record<string, number>>;
}
export interface ObserveStopResult {
  readonly records: number;
  readonly printk: number;
  readonly dropped: number;
  readonly lost: Readonly<Record<string, number>>;
}
export const observe = new RequestType<ObserveParams, ObserveResult, void>('bpfLensAgent/observe');
/** Reads what is left, sends it as a last `events` batch, then answers: nothing of the load's is read after. */
export const observeStop = new RequestType<{ handle: number }, ObserveStopResult, void>('bpfLensAgent/observeStop');
/** Batches of records, one in flight at a time: the agent sends the next when this one is written. */
export const events = new NotificationType<EventBatch>('bpfLensAgent/events');
/** Streams: load stages and, when asked, verifier logs. */
export const progress = new NotificationType<{ stage: string; detail: string }>('bpfLensAgent/progress');
export const verifierLog = new NotificationType<{ program: string; log: string }>('bpfLensAgent/verifierLog');
