import { parseArgs } from './args';
import { type CliIo, type CommandRun, UsageError } from './command';
import { checkTargetSpecs } from './target-args';
import { onTarget } from './on-target';

/**
 * `bpf-lens probe [--json]`: what this kernel supports, as BPF Lens's loader sees it: release,
 * architecture, privileges, and each feature probe (loads tiny BTF, maps and programs for real).
 */
export const probeCommand: CommandRun = {
  async run(args: string[], io: CliIo): Promise<number> {
    let json: boolean;
    let target: string | undefined;
    let sudo: boolean;
    try {
      const v = parseArgs({
        args,
        options: { json: { type: 'boolean', default: false }, target: { type: 'string' }, 'no-sudo': { type: 'boolean', default: false } },
      }).values;
      json = v.json ?? false;
      target = v.target;
      sudo = !v['no-sudo'];
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    if (target !== undefined) checkTargetSpecs([target]);
    if (target !== undefined) return probeTarget(target, json, sudo, io);
    if (!sudo) throw new UsageError('--no-sudo goes with --target');
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
          can_load: priv.canLoad,
          errno: priv.errno ?? null,
          cap_bpf: priv.capBpf,
          cap_sys_admin: priv.capSysAdmin,
          cap_perfmon: priv.capPerfmon,
          cap_net_admin: priv.capNetAdmin,
        },
        features: Object.fromEntries(
          features.map((f) => [f.name, { supported: f.supported, errno: f.errno ?? null, description: f.description }]),
        ),
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

/**
 * `probe --target`: the same answers from the agent on that target (hello). Exit 2 with
 * `error (<code>): ...` on stderr when the target cannot be used, as every target error; when
 * the agent runs but bpf() is refused, what it found is still printed first.
 */
async function probeTarget(spec: string, json: boolean, sudo: boolean, io: CliIo): Promise<number> {
  const { bpfNotPermitted, formatTargetError, VmAgentClient, accelText } = await import('../remote');
  const { AgentTarget } = await import('../targets/agent');
  const t0 = performance.now();
  // through the agent even for `local`: what probe checks is that the agent runs there
  return onTarget({ target: spec, sudo, inProcess: false }, io, async (client) => {
    const connectMs = performance.now() - t0;
    const t1 = performance.now();
    const h = await client.hello();
    const helloMs = performance.now() - t1;
    const vm = client instanceof AgentTarget && client.client instanceof VmAgentClient ? client.client.vm : undefined;
    if (json) {
      const vmJson = vm ? { vm: { accel: vm.accel, boot_ms: Math.round(vm.bootMs), modules: vm.modules } } : {};
      io.out(
        `${JSON.stringify({ target: spec, ...h, ...vmJson, connect_ms: Math.round(connectMs), hello_ms: Math.round(helloMs * 10) / 10 }, null, 2)}\n`,
      );
    } else {
      const yes = (b: boolean) => (b ? 'yes' : 'no');
      const lines = [
        `target:         ${spec} (agent ${h.agentVersion}, uid ${h.uid})`,
        `kernel release: ${h.release}`,
        `architecture:   ${h.arch}`,
        ...(vm ? [`vm:             qemu, ${accelText(vm.accel)}, booted in ${(vm.bootMs / 1000).toFixed(1)} s`] : []),
        ...(h.lockdown ? [`lockdown:       ${h.lockdown}`] : []),
        `vmlinux BTF:    ${h.hasVmlinuxBtf ? 'yes' : 'no (objects with CO-RE relocations, ksyms, kfuncs, struct_ops or BTF attach targets cannot load there)'}`,
        `can load BPF:   ${yes(h.privileges.canLoad)}${h.privileges.errno ? ` (${h.privileges.errno})` : ''}`,
        ...Object.entries(h.features).map(([k, v]) => `${k}  ${yes(v)}`),
        `connect ${connectMs.toFixed(0)} ms, hello round trip ${helloMs.toFixed(1)} ms`,
      ];
      io.out(`${lines.join('\n')}\n`);
    }
    if (!h.privileges.canLoad) {
      io.err(formatTargetError(bpfNotPermitted(client.label, h)));
      return 2;
    }
    return 0;
  });
}
