import { parseArgs } from 'util';
import { CliIo, Command, UsageError } from './command';

/**
 * `bpf-lens probe [--json]`: what this kernel supports, as BPF Lens's loader sees it: release,
 * architecture, privileges, and each feature probe (loads tiny BTF, maps and programs for real).
 */
export const probeCommand: Command = {
  path: ['probe'],
  usage: 'probe [--json]',
  summary: "Probe this kernel's BPF features (BTF kinds, global data, arg:ctx, ...) and privileges.",
  async run(args: string[], io: CliIo): Promise<number> {
    let json: boolean;
    try {
      json = parseArgs({ args, options: { json: { type: 'boolean', default: false } } }).values.json ?? false;
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
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
