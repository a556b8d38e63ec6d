/**
 * The kernel this process runs on, as a KernelTarget: the load pipeline over `localKernel`.
 * The CLI and the language server use it in-process; the agent serves one over JSON-RPC.
 * koffi comes in with '../kernel': import this file only where loading is meant.
 */
import { readFileSync } from 'fs';
import { btfFromBytes } from '../btf/input';
import { msNow } from '../common/clock';
import { FormatError } from '../common/errors';
import * as kernel from '../kernel';
import { hasVmlinuxBtf, VMLINUX_BTF as VMLINUX } from '../kernel/sysfs-btf';
import { loadObjectAsync, LoadError, openReplaceTarget } from '../load';
import { unpinLoad } from '../load/pin';
import type { LoadResult } from '../load/types';
import { openObject } from '../object';
import { testRunProgram } from '../run/test-run';
import { AGENT_PROTOCOL_VERSION } from '../../../protocol/agent-version';
import { noBtf } from '../remote/errors';
import { LoadAttachments } from './attachments';
import type {
  EventBatch,
  ObserveParams,
  ObserveResult,
  ObserveStopResult,
  AttachmentJson,
  AttachRequest,
  AttachResult,
  DetachResult,
  HelloResult,
  KernelTarget,
  LoadedEntry,
  LoadOutcome,
  LoadRequest,
  MapDeleteParams,
  MapDeleteResult,
  MapDumpParams,
  MapDumpResult,
  MapUpdateParams,
  PlacesResult,
  ProgressFn,
  ProgStatsParams,
  ProgStatsResult,
  TestRunParams,
  TestRunResultJson,
  UnloadResult,
} from './target';
import { loadFailure, loadSummary } from './summary';
import { enableRunStats, progStatsNow, type RunStats } from '../observe/prog-stats';
import { deleteMap, dumpMap, updateMap } from '../observe/maps';
import { Observer } from '../observe/observer';
import { printkClaim, printkFormats } from '../observe/printk-match';
import { TracePipeHub } from '../observe/trace-pipe';

export const AGENT_VERSION = '0.1.0';

class NoVmlinuxBtf extends Error {}

/**
 * Stands in for the kernel's BTF when there is none: the pipeline reads kernel BTF only when
 * a step needs it (CO-RE, ksyms, kfuncs, struct_ops, BTF attach targets), so only loads that
 * need it fail, and they fail as no-btf instead of somewhere inside that step.
 */
function missingKernelBtf(): kernel.KernelBtf {
  return new Proxy(
    {},
    {
      get() {
        throw new NoVmlinuxBtf(`${VMLINUX} is missing`);
      },
    },
  ) as kernel.KernelBtf;
}

const NO_BTF_NEEDS: Record<string, string> = {
  relocate: "its CO-RE relocations (give a vmlinux BTF for them with --btf FILE) or ksym/kfunc externs need the kernel's BTF",
  maps: "its struct_ops maps need the kernel's BTF",
  programs: "its programs need the kernel's BTF (BTF attach target, kfuncs or struct_ops)",
};

function readUnprivilegedBpfDisabled(): number | null {
  try {
    const v = Number(readFileSync('/proc/sys/kernel/unprivileged_bpf_disabled', 'latin1').trim());
    return Number.isInteger(v) ? v : null;
  } catch {
    return null;
  }
}

/** How strongly a printed text fits the object's format strings (.rodata strings its programs load). */
function printkClaims(obj: LoadResult['object']): (text: string) => number {
  const formats = printkFormats(obj);
  return (text) => printkClaim(formats, text);
}

export class LocalTarget implements KernelTarget {
  readonly inProcess = true;
  private readonly loaded = new Map<number, { name: string; result: LoadResult; attachments: LoadAttachments }>();
  private readonly pending = new Set<Promise<unknown>>();
  private nextHandle = 1;
  private closing = false;
  private stats: RunStats | undefined;
  private readonly observers = new Map<number, Observer>();
  /** One trace pipe reader for every observed load: a line read is gone for any other reader. */
  private readonly pipe = new TracePipeHub(kernel.localKernel);

  constructor(readonly label = 'local') {}

  async hello(): Promise<HelloResult> {
    const sys = kernel.systemInfo();
    const priv = kernel.probePrivileges();
    const features = kernel.supportedFeatures();
    return {
      agentVersion: AGENT_VERSION,
      protocol: AGENT_PROTOCOL_VERSION,
      release: sys.release,
      arch: sys.machine,
      lockdown: sys.lockdown ?? null,
      uid: process.getuid?.() ?? -1,
      pid: process.pid,
      privileges: { canLoad: priv.canLoad, errno: priv.errno ?? null, capBpf: priv.capBpf, capSysAdmin: priv.capSysAdmin },
      features,
      hasVmlinuxBtf: hasVmlinuxBtf(),
      unprivilegedBpfDisabled: readUnprivilegedBpfDisabled(),
    };
  }

  load(req: LoadRequest, onProgress?: ProgressFn): Promise<LoadOutcome> {
    if (this.closing) return Promise.reject(new Error(`${this.label} is closing`));
    const p = this.loadNow(req, onProgress);
    this.pending.add(p);
    return p.finally(() => this.pending.delete(p));
  }

  private async loadNow(req: LoadRequest, onProgress?: ProgressFn): Promise<LoadOutcome> {
    const t0 = msNow();
    let obj;
    try {
      obj = openObject(req.object, req.name);
    } catch (e) {
      // A corrupt object is a refused load like any other (with --json, JSON says so).
      if (e instanceof FormatError) return { ok: false, error: { message: e.message, stage: 'open' } };
      throw e;
    }
    let replaceTargetFd: number | undefined;
    let result: LoadResult;
    try {
      if (req.replace !== undefined) replaceTargetFd = openReplaceTarget(kernel.localKernel, req.replace);
      result = await loadObjectAsync(obj, {
        kernel: kernel.localKernel,
        logLevel: req.logLevel ?? 0,
        noAutoload: req.noAutoload ?? [],
        set: req.set ?? {},
        ...(req.pinProgramsDir !== undefined ? { pinProgramsDir: req.pinProgramsDir } : {}),
        ...(req.argCtxFallback ? { argCtxFallback: req.argCtxFallback } : {}),
        ...(replaceTargetFd !== undefined ? { replaceTargetFd } : {}),
        ...(req.registerStructOps ? { registerStructOps: true } : {}),
        // CO-RE against this vmlinux BTF instead of the kernel's (libbpf's btf_custom_path)
        ...(req.btf ? { coreTargets: [{ name: req.btf.name, btf: btfFromBytes(req.btf.bytes, req.btf.name) }] } : {}),
        ...(hasVmlinuxBtf() ? {} : { targetBtf: missingKernelBtf() }),
        ...(onProgress ? { onProgress } : {}),
      });
    } catch (e) {
      if (!(e instanceof LoadError)) throw e;
      if (e.details.cause instanceof NoVmlinuxBtf)
        throw noBtf(
          this.label,
          `${VMLINUX} is missing and ${req.name} cannot load without it: ${NO_BTF_NEEDS[e.stage] ?? `the ${e.stage} stage needs the kernel's BTF`}`,
          e.stage,
        );
      return { ok: false, error: loadFailure(e) };
    } finally {
      if (replaceTargetFd !== undefined) kernel.closeFd(replaceTargetFd);
    }
    if (this.closing) {
      // Whoever asked is gone: nobody will ever unload this, so nothing of it may stay.
      unpinLoad(kernel, result, { maps: true, programs: true });
      result.close();
      throw new Error(`${this.label} closed while ${req.name} was loading: released`);
    }
    const handle = this.nextHandle++;
    this.loaded.set(handle, { name: req.name, result, attachments: new LoadAttachments(kernel.localKernel, result) });
    return { ok: true, loaded: loadSummary(handle, msNow() - t0, result) };
  }

  async unload(handle: number, o: { unpinMaps?: boolean } = {}): Promise<UnloadResult> {
    const l = this.loaded.get(handle);
    // Detached first, so nothing writes any more; then the buffers read to their end (sent
    // before this answers); only then are the maps closed.
    l?.attachments.detach();
    if (this.observers.has(handle)) await this.observeStop(handle).catch(() => undefined);
    if (!l) return { closed: false, unpinned: [] };
    this.loaded.delete(handle);
    l.result.close();
    return { closed: true, unpinned: o.unpinMaps ? unpinLoad(kernel, l.result, { maps: true, programs: false }) : [] };
  }

  async list(): Promise<LoadedEntry[]> {
    return [...this.loaded].map(([handle, l]) => ({
      handle,
      name: l.name,
      programs: l.result.programs.map((p) => p.name),
      ids: l.result.programs.map((p) => p.id),
      attached: l.attachments.list(),
    }));
  }

  private entry(handle: number) {
    const l = this.loaded.get(handle);
    if (!l) throw new Error(`no load with handle ${handle} on ${this.label}`);
    return l;
  }

  async attach(handle: number, req: AttachRequest = {}, onAttached?: (a: AttachmentJson) => void): Promise<AttachResult> {
    return this.entry(handle).attachments.attach(req, onAttached);
  }

  async detach(handle: number, programs?: readonly string[]): Promise<DetachResult> {
    return this.entry(handle).attachments.detach(programs);
  }

  async testRun(p: TestRunParams): Promise<TestRunResultJson> {
    const l = this.loaded.get(p.handle);
    const prog = l?.result.programs.find((x) => x.name === p.program);
    if (!prog) throw new Error(`no loaded program ${p.program} under handle ${p.handle}`);
    const r = testRunProgram(kernel.localKernel, prog.fd, {
      ...(p.data ? { data: Buffer.from(p.data, 'base64') } : {}),
      ...(p.ctx ? { ctx: Buffer.from(p.ctx, 'base64') } : {}),
      ...(p.repeat ? { repeat: p.repeat } : {}),
    });
    const b64 = (hex: string) => Buffer.from(hex, 'hex').toString('base64');
    return {
      retval: r.retval,
      duration: r.duration_ns,
      ...(p.data ? { dataOut: b64(r.data_out) } : {}),
      ...(r.ctx_out ? { ctxOut: b64(r.ctx_out) } : {}),
    };
  }

  async progStats(p: ProgStatsParams): Promise<ProgStatsResult> {
    if (p.disable) {
      this.stats?.close();
      this.stats = undefined;
    }
    if (p.enable && (!this.stats || this.stats.state === 'off')) this.stats = enableRunStats(kernel.localKernel);
    const state = this.stats ?? { state: kernel.statsSysctlEnabled() ? ('sysctl' as const) : ('off' as const) };
    return progStatsNow(kernel.localKernel, state);
  }

  async mapDump(p: MapDumpParams): Promise<MapDumpResult> {
    return dumpMap(kernel.localKernel, p);
  }
  async mapUpdate(p: MapUpdateParams): Promise<void> {
    updateMap(kernel.localKernel, p);
  }
  async mapDelete(p: MapDeleteParams): Promise<MapDeleteResult> {
    return deleteMap(kernel.localKernel, p);
  }
  async places(): Promise<PlacesResult> {
    const cgroupRoot = kernel.cgroup2Mount();
    return {
      interfaces: kernel.netInterfaces(),
      ...(cgroupRoot ? { cgroupRoot } : {}),
      cgroups: cgroupRoot ? kernel.cgroupDirs(cgroupRoot) : [],
    };
  }

  /** Closes every load (pins stay) and ends statistics it turned on; loads still running are undone entirely when they end. */
  async observe(req: ObserveParams, onBatch: (b: EventBatch) => Promise<void> | void): Promise<ObserveResult> {
    const l = this.entry(req.handle);
    if (this.observers.has(req.handle)) throw new Error(`load ${req.handle} is observed already`);
    const buffers = l.result.maps.filter((m) => m.type === 'ringbuf' || m.type === 'perf_event_array');
    for (const name of req.maps ?? [])
      if (!buffers.some((m) => m.name === name))
        throw new Error(`no ring buffer or perf event array map '${name}' (there are: ${buffers.map((m) => m.name).join(', ') || 'none'})`);
    const maps = buffers
      .filter((m) => !req.maps || req.maps.includes(m.name))
      .map((m) => ({ name: m.name, fd: m.fd, kind: m.type === 'ringbuf' ? ('ringbuf' as const) : ('perf' as const) }));
    const o = new Observer(
      kernel.localKernel,
      req.handle,
      maps,
      { printk: req.printk, pipe: this.pipe, claim: printkClaims(l.result.object), maxQueued: req.maxQueued, perfPages: req.perfPages },
      onBatch,
    );
    this.observers.set(req.handle, o);
    return o.result;
  }

  async observeStop(handle: number): Promise<ObserveStopResult> {
    const o = this.observers.get(handle);
    if (!o) throw new Error(`load ${handle} is not observed`);
    this.observers.delete(handle);
    return o.stop();
  }

  async close(): Promise<void> {
    for (const h of [...this.observers.keys()]) await this.observeStop(h).catch(() => undefined);
    this.stats?.close();
    this.stats = undefined;
    this.closing = true;
    await Promise.allSettled([...this.pending]);
    for (const l of this.loaded.values()) {
      l.attachments.detach();
      l.result.close();
    }
    this.loaded.clear();
  }
}
