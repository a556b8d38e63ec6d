/**
 * Talks to a running agent (server/src/agent) over a child process's stdio: whatever carries it
 * (ssh, sudo, a VM console bridged to a stream). Turns an agent that dies into TargetError.
 */
import type { ChildProcess } from 'child_process';
import { createHash } from 'crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'fs';
import { homedir } from 'os';
import { join } from 'path';
import type { Readable, Writable } from 'stream';
import { createMessageConnection, type MessageConnection, ResponseError, StreamMessageWriter } from 'vscode-jsonrpc/node';
import { BoundedMessageReader, FramingError } from './framing';
import * as P from '../../../protocol/agent';
import { bpfNotPermitted, noBtf, TargetError } from './errors';

const SHA256 = /^[0-9a-f]{64}$/;
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** How the process carrying the agent ends (a VM: hang up its socket, then let the guest power off). */
export interface AgentCarrier {
  readonly hangUp?: () => void;
  /** How long close() waits for the carrier to exit by itself before killing it (default 1 s). */
  readonly exitGraceMs?: number;
  /** Called when the carrier exits, before requests fail. */
  readonly onExit?: () => void;
}

export class AgentClient {
  readonly conn: MessageConnection;
  private stderr = '';
  private exited: Promise<TargetError>;
  /** Set when the carrier exited: requests then fail at once instead of writing to a closed pipe. */
  private gone?: TargetError;
  private closed = false;
  private readonly attachListeners = new Map<number, (a: P.AttachmentJson) => void>();
  private readonly batchListeners = new Map<number, (b: P.EventBatch) => void>();

  constructor(
    readonly label: string,
    readonly child: ChildProcess,
    input: Readable = child.stdout!,
    output: Writable = child.stdin!,
    private readonly carrier: AgentCarrier = {},
  ) {
    child.stderr?.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-8192);
    });
    // Read with limits: a hostile or broken agent cannot make this side buffer without end.
    this.conn = createMessageConnection(new BoundedMessageReader(input), new StreamMessageWriter(output));
    this.conn.onError(([e]) => {
      if (!(e instanceof FramingError) || !e.fatal) return;
      this.stderr += `\nbpf-lens: the agent's output broke the protocol: ${e.message}`;
      child.kill();
    });
    this.exited = new Promise((resolve) =>
      child.on('exit', (code, signal) => {
        carrier.onExit?.();
        this.gone = new TargetError(
          'agent-crashed',
          `the agent on ${this.label} ended (${signal ?? `exit ${code}`}) — run the command again; if it repeats, the agent's stderr says why`,
          this.stderr.trim(),
        );
        resolve(this.gone);
      }),
    );
    this.conn.onNotification(P.attached, (n) => this.attachListeners.get(n.handle)?.(n.attachment));
    this.conn.onNotification(P.events, (b) => this.batchListeners.get(b.handle)?.(b));
    this.conn.listen();
  }

  /** Last lines the carrier (ssh, sudo, the agent) wrote to stderr. */
  get stderrText(): string {
    return this.stderr;
  }

  /** A request that fails with TargetError('agent-crashed') if the agent dies first. */
  private async call<R>(f: () => Promise<R>): Promise<R> {
    if (this.closed) throw new TargetError('agent-crashed', `the agent on ${this.label} is closed`);
    // vscode-jsonrpc reports a failed write as an unhandled rejection besides rejecting the request.
    if (this.gone) throw this.gone;
    const r = await Promise.race([f().then((v) => ({ v })), this.exited.then((e) => ({ e }))]);
    if ('e' in r) throw r.e;
    return r.v;
  }

  hello(): Promise<P.HelloResult> {
    return this.call(() => this.conn.sendRequest(P.hello));
  }

  /** A no-btf answer of the agent as TargetError('no-btf'); anything else unchanged. */
  private noBtfAsTargetError<R>(f: () => Promise<R>, what: (e: ResponseError<unknown>) => string): Promise<R> {
    return this.call(f).catch((e: unknown) => {
      if (e instanceof ResponseError && (e.data as P.AgentNoBtfErrorData | undefined)?.kind === 'no-btf') throw noBtf(this.label, what(e));
      throw e;
    });
  }

  /**
   * vmlinux BTF of the target, cached on this machine by content hash. Nothing the agent says
   * becomes a path: the file is named by the sha256 of the bytes computed here, and an answer
   * whose hash is not theirs is refused.
   */
  async targetBtf(
    cacheDir = join(homedir(), '.cache', 'bpf-lens', 'btf'),
  ): Promise<{ hash: string; data: Buffer; cached: boolean; file: string }> {
    const keyFile = join(cacheDir, `${this.label.replace(/[^A-Za-z0-9_.@-]/g, '_')}.hash`);
    let known: string | undefined;
    try {
      known = readFileSync(keyFile, 'latin1').trim();
    } catch {
      known = undefined;
    }
    if (known !== undefined && !SHA256.test(known)) known = undefined;
    const what = () => '/sys/kernel/btf/vmlinux is missing, so there are no kernel types to check CO-RE relocations against';
    const r = await this.noBtfAsTargetError(() => this.conn.sendRequest(P.targetBtf, known ? { knownHash: known } : {}), what);
    if (r.data === undefined && known !== undefined && r.hash === known) {
      try {
        const file = join(cacheDir, `${known}.btf`);
        const data = readFileSync(file);
        if (sha256(data) === known) return { hash: known, data, cached: true, file };
      } catch {
        /* fetch again below */
      }
    }
    const again = r.data === undefined ? await this.noBtfAsTargetError(() => this.conn.sendRequest(P.targetBtf, {}), what) : r;
    return this.storeBtf(cacheDir, keyFile, again);
  }

  private storeBtf(cacheDir: string, keyFile: string, r: P.TargetBtfResult): { hash: string; data: Buffer; cached: boolean; file: string } {
    if (typeof r.data !== 'string') throw new TargetError('agent-crashed', `the agent on ${this.label} sent no BTF`);
    const data = Buffer.from(r.data, 'base64');
    const hash = sha256(data);
    if (r.hash !== hash)
      throw new TargetError(
        'agent-crashed',
        `the agent on ${this.label} sent BTF whose sha256 is not the hash it named (${JSON.stringify(String(r.hash).slice(0, 80))}): refused`,
      );
    const file = join(cacheDir, `${hash}.btf`);
    mkdirSync(cacheDir, { recursive: true });
    writeFileSync(file, data);
    writeFileSync(keyFile, hash);
    return { hash, data, cached: false, file };
  }

  /** Fails with a ResponseError (isLoadError) when the pipeline refuses, TargetError('no-btf') when the target's BTF was needed and missing. */
  load(params: P.AgentLoadParams, onProgress?: (stage: string, detail: string) => void): Promise<P.AgentLoadResult> {
    const sub = onProgress ? this.conn.onNotification(P.progress, (n) => onProgress(n.stage, n.detail)) : undefined;
    return this.noBtfAsTargetError(
      () => this.conn.sendRequest(P.load, params),
      (e) => e.message,
    ).finally(() => sub?.dispose());
  }
  /** An observed load's last batches come before the answer; its listener goes with it. */
  async unload(handle: number, unpinMaps = false): Promise<P.UnloadResult> {
    try {
      return await this.call(() => this.conn.sendRequest(P.unload, { handle, ...(unpinMaps ? { unpinMaps } : {}) }));
    } finally {
      this.batchListeners.delete(handle);
    }
  }
  listLoaded(): Promise<P.LoadedEntry[]> {
    return this.call(async () => [...(await this.conn.sendRequest(P.listLoaded))]);
  }
  testRun(p: P.TestRunParams): Promise<P.TestRunResultJson> {
    return this.call(() => this.conn.sendRequest(P.testRun, p));
  }
  progStats(p: P.ProgStatsParams): Promise<P.ProgStatsResult> {
    return this.call(() => this.conn.sendRequest(P.progStats, p));
  }
  /** Batches reach `onBatch` until observeStop answers (its last batch comes before the answer). */
  async observe(p: P.ObserveParams, onBatch: (b: P.EventBatch) => void): Promise<P.ObserveResult> {
    this.batchListeners.set(p.handle, onBatch);
    try {
      return await this.call(() => this.conn.sendRequest(P.observe, p));
    } catch (e) {
      this.batchListeners.delete(p.handle);
      throw e;
    }
  }
  async observeStop(handle: number): Promise<P.ObserveStopResult> {
    try {
      return await this.call(() => this.conn.sendRequest(P.observeStop, { handle }));
    } finally {
      this.batchListeners.delete(handle);
    }
  }
  /** Fails with a ResponseError (isAttachError) naming the program when attaching fails. */
  attach(p: P.AttachParams, onAttached?: (a: P.AttachmentJson) => void): Promise<P.AttachResult> {
    // One handler per notification method: attach requests of different loads each hear their own.
    if (onAttached) this.attachListeners.set(p.handle, onAttached);
    return this.call(() => this.conn.sendRequest(P.attach, p)).finally(() => {
      if (this.attachListeners.get(p.handle) === onAttached) this.attachListeners.delete(p.handle);
    });
  }
  detach(p: P.DetachParams): Promise<P.DetachResult> {
    return this.call(() => this.conn.sendRequest(P.detach, p));
  }
  mapDump(p: P.MapDumpParams): Promise<P.MapDumpResult> {
    return this.call(() => this.conn.sendRequest(P.mapDump, p));
  }
  mapUpdate(p: P.MapUpdateParams): Promise<null> {
    return this.call(() => this.conn.sendRequest(P.mapUpdate, p));
  }
  mapDelete(p: P.MapDeleteParams): Promise<P.MapDeleteResult> {
    return this.call(() => this.conn.sendRequest(P.mapDelete, p));
  }
  places(): Promise<P.PlacesResult> {
    return this.call(() => this.conn.sendRequest(P.places));
  }

  /** Asks the agent to close everything and exit; kills it if it does not within 3 s. */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await Promise.race([this.call(() => this.conn.sendRequest(P.shutdown)), new Promise((r) => setTimeout(r, 3000).unref())]);
    } catch {
      /* already gone */
    }
    this.closed = true;
    this.conn.dispose();
    this.child.stdin?.end();
    this.carrier.hangUp?.();
    // It exits by itself right after answering (or on end of input): give it a moment first.
    const gone = () => this.child.exitCode !== null || this.child.signalCode !== null;
    if (!gone()) await Promise.race([this.exited, new Promise((r) => setTimeout(r, this.carrier.exitGraceMs ?? 1000).unref())]);
    if (!gone()) this.child.kill();
    await Promise.race([this.exited, new Promise((r) => setTimeout(r, 3000).unref())]);
  }
}

/**
 * The agent's hello when it can call bpf(); TargetError('bpf-not-permitted') saying why and what
 * to do when it cannot. Every surface that loads (CLI, language server) asks through this.
 */
export async function requireLoad(client: { readonly label: string; hello(): Promise<P.HelloResult> }): Promise<P.HelloResult> {
  const h = await client.hello();
  if (!h.privileges.canLoad) throw bpfNotPermitted(client.label, h);
  return h;
}

export function isLoadError(e: unknown): e is ResponseError<P.AgentLoadErrorData> {
  return e instanceof ResponseError && (e.data as P.AgentLoadErrorData | undefined)?.kind === 'load';
}

export function isAttachError(e: unknown): e is ResponseError<P.AttachErrorData> {
  return e instanceof ResponseError && (e.data as P.AttachErrorData | undefined)?.kind === 'attach';
}
