/**
 * The BPF Lens agent: serves this machine's kernel (a LocalTarget: the load pipeline here) as
 * JSON-RPC on stdin/stdout (protocol/agent.ts). Started by server/src/remote over
 * SSH, under `sudo -n`, or inside a test VM. stdout is the protocol: everything else goes to
 * stderr. Every parameter is checked (params.ts); broken framing is answered and ends the agent.
 */
import { createHash } from 'crypto';
import { readFileSync } from 'fs';
import { createMessageConnection, ErrorCodes, ResponseError, type ResponseMessage, StreamMessageWriter } from 'vscode-jsonrpc/node';
import { BoundedMessageReader, FramingError } from '../remote/framing';
import { VMLINUX_BTF as VMLINUX } from '../kernel/sysfs-btf';
import { TargetError } from '../remote/errors';
import * as P from '../../../protocol/agent';
import { LocalTarget } from '../targets/local';
import { AttachFailure } from '../targets/target';
import {
  attachParams,
  detachParams,
  loadParams,
  mapDeleteParams,
  mapDumpParams,
  mapUpdateParams,
  observeParams,
  observeStopParams,
  progStatsParams,
  targetBtfParams,
  testRunParams,
  unloadParams,
} from './params';

// Anything printed by accident must not corrupt the protocol stream.
console.log = console.error;
console.info = console.error;

const target = new LocalTarget();
const writer = new StreamMessageWriter(process.stdout);
const conn = createMessageConnection(new BoundedMessageReader(process.stdin), writer);

conn.onRequest(P.hello, () => target.hello());

let btfCache: { hash: string; data: Buffer } | undefined;
conn.onRequest(P.targetBtf, (raw): P.TargetBtfResult => {
  const p = targetBtfParams(raw);
  if (!btfCache) {
    let data: Buffer;
    try {
      data = readFileSync(VMLINUX);
    } catch {
      const noBtf: P.AgentNoBtfErrorData = { kind: 'no-btf' };
      throw new ResponseError(2, `no BTF on target: ${VMLINUX} is missing (a kernel built with CONFIG_DEBUG_INFO_BTF=y is needed)`, noBtf);
    }
    btfCache = { hash: createHash('sha256').update(data).digest('hex'), data };
  }
  const { hash, data } = btfCache;
  return p.knownHash === hash ? { hash, size: data.length } : { hash, size: data.length, data: data.toString('base64') };
});

conn.onRequest(P.load, async (raw): Promise<P.AgentLoadResult> => {
  const p = loadParams(raw);
  let r;
  try {
    r = await target.load(
      {
        name: p.name,
        object: Buffer.from(p.object, 'base64'),
        logLevel: p.logLevel,
        noAutoload: p.noAutoload,
        set: p.set,
        ...(p.pinProgramsDir !== undefined ? { pinProgramsDir: p.pinProgramsDir } : {}),
        ...(p.argCtxFallback ? { argCtxFallback: p.argCtxFallback } : {}),
        ...(p.btf !== undefined ? { btf: { name: p.btfName ?? `${p.name}: --btf`, bytes: Buffer.from(p.btf, 'base64') } } : {}),
      },
      (stage, detail) => void conn.sendNotification(P.progress, { stage, detail }),
    );
  } catch (e) {
    if (e instanceof TargetError && e.code === 'no-btf') {
      const noBtf: P.AgentNoBtfErrorData = { kind: 'no-btf', ...(e.stage ? { stage: e.stage } : {}) };
      throw new ResponseError(1, e.what ?? e.message, noBtf);
    }
    throw e;
  }
  if (!r.ok) {
    const data: P.AgentLoadErrorData = { kind: 'load', ...r.error };
    throw new ResponseError(1, r.error.message, data);
  }
  for (const prog of r.loaded.programs) if (prog.log) void conn.sendNotification(P.verifierLog, { program: prog.name, log: prog.log });
  return r.loaded;
});

conn.onRequest(P.unload, (raw) => {
  const p = unloadParams(raw);
  return target.unload(p.handle, { unpinMaps: p.unpinMaps ?? false });
});

conn.onRequest(P.listLoaded, () => target.list());

conn.onRequest(P.testRun, async (raw): Promise<P.TestRunResultJson> => {
  const p = testRunParams(raw);
  if (!(await target.list()).some((l) => l.handle === p.handle && l.programs.includes(p.program)))
    throw new ResponseError(3, `no loaded program ${p.program} under handle ${p.handle}`);
  return target.testRun(p);
});

conn.onRequest(P.progStats, (raw) => target.progStats(progStatsParams(raw)));
/** A request for a handle this agent does not hold. */
async function needHandle(handle: number): Promise<void> {
  if (!(await target.list()).some((l) => l.handle === handle)) throw new ResponseError(3, `no load with handle ${handle}`);
}

conn.onRequest(P.attach, async (raw): Promise<P.AttachResult> => {
  const p = attachParams(raw);
  await needHandle(p.handle);
  const { handle, ...req } = p;
  try {
    return await target.attach(handle, req, (attachment) => void conn.sendNotification(P.attached, { handle, attachment }));
  } catch (e) {
    if (!(e instanceof AttachFailure)) throw e;
    const data: P.AttachErrorData = {
      kind: 'attach',
      ...(e.program !== undefined ? { program: e.program } : {}),
      ...(e.needsPlace ? { needsPlace: true } : {}),
    };
    throw new ResponseError(1, e.message, data);
  }
});

conn.onRequest(P.detach, async (raw): Promise<P.DetachResult> => {
  const p = detachParams(raw);
  await needHandle(p.handle);
  return target.detach(p.handle, p.programs);
});

// Map reads and writes: a bad key or value, or a map that is not there, is an error naming it.
conn.onRequest(P.mapDump, (raw) => target.mapDump(mapDumpParams(raw)));
conn.onRequest(P.mapUpdate, async (raw) => {
  await target.mapUpdate(mapUpdateParams(raw));
  return null;
});
conn.onRequest(P.mapDelete, (raw) => target.mapDelete(mapDeleteParams(raw)));
conn.onRequest(P.places, () => target.places());
conn.onRequest(P.observe, async (raw): Promise<P.ObserveResult> => {
  const p = observeParams(raw);
  if (!(await target.list()).some((l) => l.handle === p.handle)) throw new ResponseError(3, `no load with handle ${p.handle}`);
  // One batch on the wire at a time: the observer queues (bounded) while this write is pending.
  return target.observe(p, (b) => conn.sendNotification(P.events, b));
});

conn.onRequest(P.observeStop, (raw) => target.observeStop(observeStopParams(raw).handle));

let ending: Promise<void> | undefined;
/**
 * Releases every load (a load still running is undone when it ends; pins only where asked),
 * then exits. The first reason wins: input that ends right after a broken frame still exits 1
 * once the frame's error answer is written.
 */
function end(code: number, after: Promise<unknown> = Promise.resolve()): void {
  ending ??= after
    .catch(() => undefined)
    .then(() => target.close())
    .catch(() => undefined)
    .then(() => process.exit(code));
}

conn.onRequest(P.shutdown, async () => {
  await target.close();
  // Let the reply reach the client first.
  setTimeout(() => process.exit(0), 50);
});

conn.onError(([e]) => {
  if (!(e instanceof FramingError)) return;
  // No request id is known: JSON-RPC's answer to what cannot be read is an error with id null.
  const answered = writer.write({
    jsonrpc: '2.0',
    id: null,
    error: { code: ErrorCodes.ParseError, message: `bpf-lens agent: ${e.message}` },
  } as ResponseMessage);
  if (!e.fatal) return;
  process.stderr.write(`bpf-lens agent: ${e.message}; closing\n`);
  end(1, answered);
});
// The client went away: everything not pinned goes with us.
conn.onClose(() => end(0));
conn.listen();
