/**
 * The BPF Lens agent: runs the load pipeline on the machine whose kernel it talks to and
 * answers JSON-RPC on stdin/stdout (protocol.ts). Started by server/src/target over SSH,
 * under `sudo -n`, or inside a test VM. stdout is the protocol: everything else goes to stderr.
 */
import { createHash } from 'crypto';
import { existsSync, readFileSync } from 'fs';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter, ResponseError } from 'vscode-jsonrpc/node';
import * as kernel from '../kernel';
import { loadObject, LoadError } from '../load';
import type { LoadResult } from '../load/types';
import { openObject } from '../object';
import * as P from './protocol';

// Anything printed by accident must not corrupt the protocol stream.
console.log = console.error;
console.info = console.error;

const AGENT_VERSION = '0.1.0';
const loaded = new Map<number, { name: string; result: LoadResult }>();
let nextHandle = 1;

const conn = createMessageConnection(new StreamMessageReader(process.stdin), new StreamMessageWriter(process.stdout));

conn.onRequest(P.hello, (): P.HelloResult => {
  const sys = kernel.systemInfo();
  const priv = kernel.probePrivileges();
  const features: Record<string, boolean> = {};
  if (priv.canLoad) for (const p of kernel.FEATURE_PROBES) features[p.name] = kernel.probeFeature(p.name).supported;
  return {
    agentVersion: AGENT_VERSION, protocol: P.AGENT_PROTOCOL_VERSION, release: sys.release, arch: sys.machine,
    lockdown: sys.lockdown ?? null, uid: process.getuid?.() ?? -1, pid: process.pid,
    privileges: { canLoad: priv.canLoad, errno: priv.errno ?? null, capBpf: priv.capBpf, capSysAdmin: priv.capSysAdmin },
    features, hasVmlinuxBtf: existsSync('/sys/kernel/btf/vmlinux'),
  };
});

let btfCache: { hash: string; data: Buffer } | undefined;
conn.onRequest(P.targetBtf, (p): P.TargetBtfResult => {
  if (!btfCache) {
    let data: Buffer;
    try {
      data = readFileSync('/sys/kernel/btf/vmlinux');
    } catch {
      throw new ResponseError(2, 'no BTF on target: /sys/kernel/btf/vmlinux is missing (a kernel built with CONFIG_DEBUG_INFO_BTF=y is needed)');
    }
    btfCache = { hash: createHash('sha256').update(data).digest('hex'), data };
  }
  const { hash, data } = btfCache;
  return p.knownHash === hash ? { hash, size: data.length } : { hash, size: data.length, data: data.toString('base64') };
});

conn.onRequest(P.load, (p): P.AgentLoadResult => {
  const t0 = performance.now();
  const obj = openObject(Buffer.from(p.object, 'base64'), p.name);
  let result: LoadResult;
  try {
    result = loadObject(obj, {
      kernel: kernel.localKernel, logLevel: p.logLevel, noAutoload: p.noAutoload ?? [], set: p.set ?? {},
      ...(p.pinProgramsDir !== undefined ? { pinProgramsDir: p.pinProgramsDir } : {}),
      ...(p.argCtxFallback ? { argCtxFallback: p.argCtxFallback } : {}),
      onProgress: (stage, detail) => void conn.sendNotification(P.progress, { stage, detail }),
    });
  } catch (e) {
    if (!(e instanceof LoadError)) throw e;
    const d = e.details;
    const data: P.AgentLoadErrorData = {
      kind: 'load', stage: e.stage, program: d.program, insn: d.insn, log: d.log,
      source: d.source ? { file: d.source.file, line: d.source.line, column: d.source.column, text: d.source.text } : undefined,
    };
    throw new ResponseError(1, e.message, data);
  }
  for (const prog of result.programs) if (prog.log) void conn.sendNotification(P.verifierLog, { program: prog.name, log: prog.log });
  const handle = nextHandle++;
  loaded.set(handle, { name: p.name, result });
  return {
    handle, ms: performance.now() - t0, warnings: [...result.warnings],
    programs: result.programs.map((x) => ({ name: x.name, section: x.section, type: x.type, id: x.id, verifiedInsns: x.verifiedInsns, pinnedAt: x.pinnedAt, log: x.log })),
    maps: result.maps.map((m) => ({ name: m.name, kernelName: m.kernelName, id: m.id, type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries, flags: m.flags, pinnedAt: m.pinnedAt })),
  };
});

conn.onRequest(P.unload, ({ handle }) => {
  const l = loaded.get(handle);
  if (!l) return false;
  loaded.delete(handle);
  l.result.close();
  return true;
});

conn.onRequest(P.listLoaded, () =>
  [...loaded].map(([handle, l]) => ({ handle, name: l.name, programs: l.result.programs.map((p) => p.name), ids: l.result.programs.map((p) => p.id) })));

conn.onRequest(P.testRun, (p): P.TestRunResultJson => {
  const prog = loaded.get(p.handle)?.result.programs.find((x) => x.name === p.program);
  if (!prog) throw new ResponseError(3, `no loaded program ${p.program} under handle ${p.handle}`);
  const r = kernel.progTestRun(prog.fd, { data: p.data ? Buffer.from(p.data, 'base64') : undefined, repeat: p.repeat });
  return { retval: r.retval, duration: r.duration, dataOut: r.dataOut ? Buffer.from(r.dataOut).toString('base64') : undefined };
});

function closeAll(): void {
  for (const l of loaded.values()) l.result.close();
  loaded.clear();
}

conn.onRequest(P.shutdown, () => {
  closeAll();
  // Let the reply reach the client first.
  setTimeout(() => process.exit(0), 50);
});
// The client went away: everything not pinned goes with us.
conn.onClose(() => {
  closeAll();
  process.exit(0);
});
conn.listen();
