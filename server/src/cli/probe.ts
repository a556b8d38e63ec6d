import { parseArgs } from 'util';
import { CliIo, Command, UsageError } from './command';

/**
 * `bpf-lens probe [--json]`: what this kernel supports, as BPF Lens's loader sees it: release,
 * architecture, privileges, and each feature probe (loads tiny BTF, maps and programs for real).
 */
export const probeCommand: Command = {
  path: ['probe'],
  usage: 'probe [--json] [--target local|ssh://[user@]host[:port]|HOST]',
  summary: "Probe this kernel's BPF features (BTF kinds, global data, arg:ctx, ...) and privileges.",
  async run(args: string[], io: CliIo): Promise<number> {
    let json: boolean;
    let target: string | undefined;
    try {
      const v = parseArgs({ args, options: { json: { type: 'boolean', default: false }, target: { type: 'string' } } }).values;
      json = v.json ?? false;
      target = v.target;
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    if (target !== undefined) return probeTarget(target, json, io);
    // Loaded here so other commands never load koffi.
    const k = await import('../kernel/probes');
    const sys = k.systemInfo();
    const priv = k.probePrivileges();
    const features = priv.canLoad
      ? k.FEATURE_PROBES.map((p) => ({ name: p.name, description: p.description, ...k.probeFeature(p.name) }))
      : [];
    if (json) {
      const out = {
        kernel_release: sys.release,
        arch: sys.machine,
        version_code: sys.versionCode,
        lockdown: sys.lockdown ?? null,
        privileges: {
          can_load: priv.canLoad, errno: priv.errno ?? null,
          cap_bpf: priv.capBpf, cap_sys_admin: priv.capSysAdmin, cap_perfmon: priv.capPerfmon, cap_net_admin: priv.capNetAdmin,
        },
        features: Object.fromEntries(features.map((f) => [f.name, { supported: f.supported, errno: f.errno ?? null, description: f.description }])),
      };
      io.out(`${JSON.stringify(out, null, 2)}\n`);
    } else {
      const yes = (b: boolean) => (b ? 'yes' : 'no');
      const lines = [
        `kernel release: ${sys.release}`,
        `architecture:   ${sys.machine}`,
        ...(sys.lockdown ? [`lockdown:       ${sys.lockdown}`] : []),
        `can load BPF:   ${yes(priv.canLoad)}${priv.errno ? ` (${priv.errno})` : ''}`,
        `capabilities:   CAP_BPF ${yes(priv.capBpf)}, CAP_SYS_ADMIN ${yes(priv.capSysAdmin)}, CAP_PERFMON ${yes(priv.capPerfmon)}, CAP_NET_ADMIN ${yes(priv.capNetAdmin)}`,
        '',
      ];
      const w = Math.max(0, ...features.map((f) => f.name.length));
      for (const f of features) lines.push(`${f.name.padEnd(w)}  ${f.supported ? 'yes' : `no (${f.errno})`}  ${f.description}`);
      if (!priv.canLoad) lines.push('Features were not probed: this process cannot create BPF objects (run as root or with CAP_BPF).');
      io.out(`${lines.join('\n')}\n`);
    }
    return priv.canLoad ? 0 : 1;
  },
};

/** `probe --target`: the same answers from the agent on that target (hello). */
async function probeTarget(spec: string, json: boolean, io: CliIo): Promise<number> {
  const { connectTarget, TargetError } = await import('../target');
  let client;
  const t0 = performance.now();
  try {
    client = await connectTarget(spec);
  } catch (e) {
    if (!(e instanceof TargetError)) throw e;
    io.err(`error (${e.code}): ${e.message}\n${e.detail ? `  ${e.detail.split('\n').join('\n  ')}\n` : ''}`);
    return 2;
  }
  try {
    const connectMs = performance.now() - t0;
    const t1 = performance.now();
    const h = await client.hello();
    const helloMs = performance.now() - t1;
    if (json) {
      io.out(`${JSON.stringify({ target: spec, ...h, connect_ms: Math.round(connectMs), hello_ms: Math.round(helloMs * 10) / 10 }, null, 2)}\n`);
    } else {
      const yes = (b: boolean) => (b ? 'yes' : 'no');
      const lines = [
        `target:         ${spec} (agent ${h.agentVersion}, uid ${h.uid})`,
        `kernel release: ${h.release}`,
        `architecture:   ${h.arch}`,
        ...(h.lockdown ? [`lockdown:       ${h.lockdown}`] : []),
        `vmlinux BTF:    ${yes(h.hasVmlinuxBtf)}`,
        `can load BPF:   ${yes(h.privileges.canLoad)}${h.privileges.errno ? ` (${h.privileges.errno})` : ''}`,
        ...Object.entries(h.features).map(([k, v]) => `${k}  ${yes(v)}`),
        `connect ${connectMs.toFixed(0)} ms, hello round trip ${helloMs.toFixed(1)} ms`,
      ];
      if (!h.privileges.canLoad) lines.push(`bpf() not permitted on ${spec} (${h.privileges.errno}): the agent needs root or CAP_BPF there (set sudo for this target).`);
      io.out(`${lines.join('\n')}\n`);
    }
    return h.privileges.canLoad ? 0 : 1;
  } finally {
    await client.close();
  }
}
