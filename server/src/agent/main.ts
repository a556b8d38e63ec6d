/**
 * The BPF Lens agent: runs the load pipeline on the machine whose kernel it talks to and
 * answers JSON-RPC on stdin/stdout (protocol/agent.ts). Started by server/src/remote over SSH,
 * under `sudo -n`, or inside a test VM. stdout is the protocol: everything else goes to stderr.
 */
import { createHash } from 'crypto';
import { existsSync, readFileSync } from 'fs';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter, ResponseError } from 'vscode-jsonrpc/node';
import * as kernel from '../kernel';
import { VMLINUX_BTF as VMLINUX } from '../kernel/sysfs-btf';
import { loadObject, LoadError } from '../load';
import type { LoadResult } from '../load/types';
import { btfFromBytes } from '../btf/input';
import { openObject } from '../object';
import * as P from '../../../protocol/agent';

// Anything printed by accident must not corrupt the protocol stream.
console.log = console.error;
console.info = console.error;

const AGENT_VERSION = '0.1.0';
const loaded = new Map<number, { name: string; result: LoadResult }>();
let nextHandle = 1;

const conn = createMessageConnection(new StreamMessageReader(process.stdin), new StreamMessageWriter(process.stdout));

function readUnprivilegedBpfDisabled(): number | null {
  try {
    const v = Number(readFileSync('/proc/sys/kernel/unprivileged_bpf_disabled', 'latin1').trim());
    return Number.isInteger(v) ? v : null;
  } catch {
    return null;
  }
}

// As libbpf does, the agent takes the kernel's BTF to exist when sysfs publishes it: a kernel
// built without CONFIG_DEBUG_INFO_BTF has no such file (and no vmlinux BTF object either).

class NoVmlinuxBtf extends Error {}

/**
 * Stands in for the kernel's BTF when the target has none: the pipeline reads kernel BTF only
 * when a step needs it (CO-RE, ksyms, kfuncs, struct_ops, BTF attach targets), so only loads
 * that need it fail, and they fail as no-btf instead of somewhere inside that step.
 */
function missingKernelBtf(): kernel.KernelBtf {
  return new Proxy({}, {
    get() {
      throw new NoVmlinuxBtf(`${VMLINUX} is missing`);
    },
  }) as kernel.KernelBtf;
}

const NO_BTF_NEEDS: Record<string, string> = {
  relocate: 'its CO-RE relocations (give a vmlinux BTF for them with --btf FILE) or ksym/kfunc externs need the kernel\'s BTF',
  maps: 'its struct_ops maps need the kernel\'s BTF',
  programs: 'its programs need the kernel\'s BTF (BTF attach target, kfuncs or struct_ops)',
};

conn.onRequest(P.hello, (): P.HelloResult => {
  const sys = kernel.systemInfo();
  const priv = kernel.probePrivileges();
  const features = kernel.supportedFeatures();
  return {
    agentVersion: AGENT_VERSION, protocol: P.AGENT_PROTOCOL_VERSION, release: sys.release, arch: sys.machine,
    lockdown: sys.lockdown ?? null, uid: process.getuid?.() ?? -1, pid: process.pid,
    privileges: { canLoad: priv.canLoad, errno: priv.errno ?? null, capBpf: priv.capBpf, capSysAdmin: priv.capSysAdmin },
    features, hasVmlinuxBtf: existsSync(VMLINUX), unprivilegedBpfDisabled: readUnprivilegedBpfDisabled(),
  };
});

let btfCache: { hash: string; data: Buffer } | undefined;
conn.onRequest(P.targetBtf, (p): P.TargetBtfResult => {
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

conn.onRequest(P.load, (p): P.AgentLoadResult => {
  const t0 = performance.now();
  const obj = openObject(Buffer.from(p.object, 'base64'), p.name);
  let result: LoadResult;
  try {
    result = loadObject(obj, {
      kernel: kernel.localKernel, logLevel: p.logLevel, noAutoload: p.noAutoload ?? [], set: p.set ?? {},
      ...(p.pinProgramsDir !== undefined ? { pinProgramsDir: p.pinProgramsDir } : {}),
      ...(p.argCtxFallback ? { argCtxFallback: p.argCtxFallback } : {}),
      ...(p.btf !== undefined ? { coreTargets: [{ name: 'vmlinux (--btf)', btf: btfFromBytes(Buffer.from(p.btf, 'base64'), `${p.name}: --btf`) }] } : {}),
      ...(existsSync(VMLINUX) ? {} : { targetBtf: missingKernelBtf() }),
      onProgress: (stage, detail) => void conn.sendNotification(P.progress, { stage, detail }),
    });
  } catch (e) {
    if (!(e instanceof LoadError)) throw e;
    const d = e.details;
    if (d.cause instanceof NoVmlinuxBtf) {
      const noBtf: P.AgentNoBtfErrorData = { kind: 'no-btf', stage: e.stage };
      throw new ResponseError(1, `${VMLINUX} is missing and ${p.name} cannot load without it: ${NO_BTF_NEEDS[e.stage] ?? `the ${e.stage} stage needs the kernel's BTF`}`, noBtf);
    }
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
