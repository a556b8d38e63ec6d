/**
 * A kernel reached through an agent (local under sudo, SSH, a VM) as a KernelTarget: the
 * object's bytes travel to the agent, which runs a LocalTarget there.
 */
import { type AgentClient, isAttachError, isLoadError } from '../remote/agent-client';
import {
  type EventBatch,
  type ObserveParams,
  type ObserveResult,
  type ObserveStopResult,
  AttachFailure,
  type AttachmentJson,
  type AttachRequest,
  type AttachResult,
  type DetachResult,
  type HelloResult,
  type KernelTarget,
  type LoadedEntry,
  type LoadOutcome,
  type LoadRequest,
  type MapDeleteParams,
  type MapDeleteResult,
  type PlacesResult,
  type MapDumpParams,
  type MapDumpResult,
  type MapUpdateParams,
  type ProgressFn,
  type ProgStatsParams,
  type ProgStatsResult,
  type TestRunParams,
  type TestRunResultJson,
  type UnloadResult,
} from './target';

const b64 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');

export class AgentTarget implements KernelTarget {
  readonly inProcess = false;

  constructor(readonly client: AgentClient) {}

  get label(): string {
    return this.client.label;
  }

  hello(): Promise<HelloResult> {
    return this.client.hello();
  }

  async load(req: LoadRequest, onProgress?: ProgressFn): Promise<LoadOutcome> {
    if (req.replace !== undefined) throw new Error('--replace works only with --target local for now');
    try {
      const loaded = await this.client.load(
        {
          name: req.name,
          object: b64(req.object),
          logLevel: req.logLevel ?? 0,
          set: req.set ?? {},
          noAutoload: req.noAutoload ?? [],
          ...(req.pinProgramsDir !== undefined ? { pinProgramsDir: req.pinProgramsDir } : {}),
          ...(req.argCtxFallback ? { argCtxFallback: req.argCtxFallback } : {}),
          ...(req.btf ? { btf: b64(req.btf.bytes), btfName: req.btf.name } : {}),
        },
        onProgress,
      );
      return { ok: true, loaded };
    } catch (e) {
      if (!isLoadError(e)) throw e;
      const { kind: _kind, ...d } = e.data!;
      return { ok: false, error: { ...d, message: e.message } };
    }
  }

  unload(handle: number, o: { unpinMaps?: boolean } = {}): Promise<UnloadResult> {
    return this.client.unload(handle, o.unpinMaps);
  }
  list(): Promise<LoadedEntry[]> {
    return this.client.listLoaded();
  }
  testRun(p: TestRunParams): Promise<TestRunResultJson> {
    return this.client.testRun(p);
  }
  progStats(p: ProgStatsParams): Promise<ProgStatsResult> {
    return this.client.progStats(p);
  }
  async attach(handle: number, req: AttachRequest = {}, onAttached?: (a: AttachmentJson) => void): Promise<AttachResult> {
    try {
      return await this.client.attach({ handle, ...req }, onAttached);
    } catch (e) {
      if (isAttachError(e)) throw new AttachFailure(e.message, e.data?.program, { cause: e, needsPlace: e.data?.needsPlace ?? false });
      throw e;
    }
  }
  detach(handle: number, programs?: readonly string[]): Promise<DetachResult> {
    return this.client.detach({ handle, ...(programs ? { programs } : {}) });
  }
  mapDump(p: MapDumpParams): Promise<MapDumpResult> {
    return this.client.mapDump(p);
  }
  async mapUpdate(p: MapUpdateParams): Promise<void> {
    await this.client.mapUpdate(p);
  }
  mapDelete(p: MapDeleteParams): Promise<MapDeleteResult> {
    return this.client.mapDelete(p);
  }
  places(): Promise<PlacesResult> {
    return this.client.places();
  }
  observe(req: ObserveParams, onBatch: (b: EventBatch) => void): Promise<ObserveResult> {
    return this.client.observe(req, onBatch);
  }
  observeStop(handle: number): Promise<ObserveStopResult> {
    return this.client.observeStop(handle);
  }
  close(): Promise<void> {
    return this.client.close();
  }
}
