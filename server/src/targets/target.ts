/**
 * One way to reach a kernel: what every front end (CLI, language server, agent) calls to load
 * into this machine's kernel in-process (local.ts) or into any kernel an agent runs beside
 * (agent.ts: local under sudo, SSH, a VM). The shapes are the agent protocol's, so a result
 * crosses the wire unchanged. Attach, detach and test runs take a load's `handle`.
 */
import type {
  EventBatch,
  ObserveParams,
  ObserveResult,
  ObserveStopResult,
  AgentLoadErrorData,
  AttachmentJson,
  AttachParams,
  AttachResult,
  DetachResult,
  AgentLoadResult,
  HelloResult,
  LoadedEntry,
  MapDeleteParams,
  MapDeleteResult,
  MapDumpParams,
  MapDumpResult,
  MapUpdateParams,
  PlacesResult,
  ProgStatsParams,
  ProgStatsResult,
  TestRunParams,
  TestRunResultJson,
  UnloadResult,
} from '../../../protocol/agent';

export type {
  AgentLoadResult as LoadSummary,
  AttachmentJson,
  AttachResult,
  DetachResult,
  EventBatch,
  ObserveParams,
  ObserveResult,
  ObserveStopResult,
  HelloResult,
  LoadedEntry,
  MapDeleteParams,
  MapDeleteResult,
  MapDumpParams,
  MapDumpResult,
  MapUpdateParams,
  PlacesResult,
  ProgStatsParams,
  ProgStatsResult,
  TestRunParams,
  TestRunResultJson,
  UnloadResult,
};

/** What to attach of a load: programs by name (default all libbpf would), places, skips, a pin directory. */
export type AttachRequest = Omit<AttachParams, 'handle'>;

/** Attaching failed (which program, why); nothing the request attached is left attached. */
export class AttachFailure extends Error {
  /** The program asked for by name needs a place (an interface, a cgroup, a binary ...) that was not given. */
  readonly needsPlace: boolean;
  constructor(
    message: string,
    readonly program?: string,
    options?: { cause?: unknown; needsPlace?: boolean },
  ) {
    super(message, options);
    this.name = 'AttachFailure';
    this.needsPlace = options?.needsPlace ?? false;
  }
}

export interface LoadRequest {
  /** How errors and the summary name the object (its path, or its base name on a target). */
  readonly name: string;
  readonly object: Uint8Array;
  readonly logLevel?: number;
  readonly noAutoload?: readonly string[];
  readonly set?: Readonly<Record<string, string>>;
  readonly pinProgramsDir?: string;
  readonly argCtxFallback?: 'auto' | 'always' | 'never';
  /** A vmlinux BTF to relocate CO-RE against instead of the target's own (libbpf's btf_custom_path). */
  readonly btf?: { readonly name: string; readonly bytes: Uint8Array };
  /** freplace target: a program id or a pinned program path on the target (in-process only for now). */
  readonly replace?: string;
  /** `load --register`: register struct_ops maps at load (by default only attaching does, as libbpf). */
  readonly registerStructOps?: boolean;
}

/** A load the pipeline refused: where, why, and the source line and verifier log when known. */
export interface LoadFailure extends Omit<AgentLoadErrorData, 'kind'> {
  readonly message: string;
  /** stage `target`: why the target could not be used (a TargetError code). */
  readonly code?: string;
}

export type LoadOutcome = { readonly ok: true; readonly loaded: AgentLoadResult } | { readonly ok: false; readonly error: LoadFailure };

export type ProgressFn = (stage: string, detail: string) => void;

/**
 * A kernel to load into. Failures of the target itself (unreachable, no-btf, the agent died,
 * bpf() not permitted) are thrown as TargetError; a refused load is an outcome.
 */
export interface KernelTarget {
  /** `local`, or how the transport names the host (`root@10.0.0.2:22`). */
  readonly label: string;
  /** True when the kernel is this process's own (no agent in between). */
  readonly inProcess: boolean;
  hello(): Promise<HelloResult>;
  load(req: LoadRequest, onProgress?: ProgressFn): Promise<LoadOutcome>;
  unload(handle: number, o?: { readonly unpinMaps?: boolean }): Promise<UnloadResult>;
  list(): Promise<LoadedEntry[]>;
  testRun(p: TestRunParams): Promise<TestRunResultJson>;
  /** Every program's run count and time on the kernel; `enable` keeps statistics on until close. */
  progStats(p: ProgStatsParams): Promise<ProgStatsResult>;
  /**
   * Attaches a load's programs as libbpf would (or those named), all or nothing: AttachFailure
   * names the program that failed. `onAttached` hears of each attachment as it is made.
   */
  attach(handle: number, req?: AttachRequest, onAttached?: (a: AttachmentJson) => void): Promise<AttachResult>;
  /** Detaches the named programs (all when none are named); unload and close detach everything too. */
  detach(handle: number, programs?: readonly string[]): Promise<DetachResult>;
  /** A map (by id or pin path) as `bpftool [-j] map dump` prints it. */
  mapDump(p: MapDumpParams): Promise<MapDumpResult>;
  /** One element written from text (C-like or JSON through the map's BTF, else bytes). */
  mapUpdate(p: MapUpdateParams): Promise<void>;
  mapDelete(p: MapDeleteParams): Promise<MapDeleteResult>;
  /** The target's interfaces and cgroup v2 directories: what a place picker offers. */
  places(): Promise<PlacesResult>;
  /**
   * Starts reading a load's ring/perf buffers (and the trace pipe with `printk`): `onBatch`
   * hears each batch until observeStop; a flood is dropped and counted on the target's side.
   */
  observe(req: ObserveParams, onBatch: (b: EventBatch) => Promise<void> | void): Promise<ObserveResult>;
  /** Reads what is left (a last batch reaches onBatch first) and stops reading. */
  observeStop(handle: number): Promise<ObserveStopResult>;
  /** Releases every load not pinned and ends the connection. */
  close(): Promise<void>;
}
