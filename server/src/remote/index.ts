/**
 * Target connection used by the CLI and the language server: `local` (the agent beside this
 * process, under `sudo -n` when not root), SSH (`ssh://...`, a Host alias) or a VM (`vm:IMAGE`,
 * a kernel booted under qemu: vm.ts).
 */
import { spawn } from 'child_process';
import { existsSync } from 'fs';
import { join } from 'path';
import { AgentClient } from './agent-client';
import { AgentBundle } from './bundle';
import { TargetError } from './errors';
import { checkSshTarget, connectSsh, parseSshTarget, type SshConnectTimings, type SshTarget } from './ssh';
import { parseVmSpec, type VmSpec } from '../../../protocol/target-spec';

export { AgentClient, isAttachError, isLoadError, requireLoad } from './agent-client';
export { AgentBundle } from './bundle';
export { TargetError, bpfNotPermitted, classifySshFailure, formatTargetError, noBtf } from './errors';
export type { TargetErrorCode } from './errors';
export { checkSshTarget, connectSsh, parseSshTarget, shQuote, sshArgv } from './ssh';
export type { SshTarget, SshConnectTimings } from './ssh';
export { VmAgentClient, accelText, vmAccel } from './vm';

/** The directory holding dist/agent.js and node_modules (the bundle's root). */
export function productRoot(): string {
  for (let d = __dirname; ; d = join(d, '..')) {
    if (existsSync(join(d, 'dist', 'agent.js')) && existsSync(join(d, 'node_modules', 'koffi'))) return d;
    if (d === join(d, '..')) throw new Error('dist/agent.js not found next to BPF Lens: run npm run build');
  }
}

export interface ConnectOptions extends Partial<Omit<SshTarget, 'host'>> {
  readonly root?: string;
  readonly timings?: Partial<SshConnectTimings>;
  /** A VM target's spec when it comes from the settings rather than `vm:` text. */
  readonly vm?: VmSpec;
  /** How a VM target is named in messages (default: the spec text). */
  readonly label?: string;
  readonly bootTimeoutMs?: number;
  /** Progress a person waits through (a VM booting). */
  readonly onStatus?: (line: string) => void;
  /** Aborted: an SSH connection still being made is given up (its ssh processes killed), a VM still booting too (qemu killed). */
  readonly signal?: AbortSignal;
}

/** Boots a VM target: `vm:` text, or the settings' fields in `o.vm`. */
async function connectVmTarget(spec: string, o: ConnectOptions, root: string): Promise<AgentClient> {
  let vm = o.vm;
  if (!vm) {
    const r = parseVmSpec(spec);
    if (!r.ok) throw new TargetError('bad-target', r.reason);
    vm = r.spec;
  }
  const { connectVm } = await import('./vm');
  return connectVm(vm, {
    root,
    label: o.label ?? spec,
    ...(o.bootTimeoutMs !== undefined ? { bootTimeoutMs: o.bootTimeoutMs } : {}),
    ...(o.onStatus ? { onStatus: o.onStatus } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  });
}

/** `local` runs the agent here (sudo -n unless root or `sudo: false`); `vm:` boots a kernel under qemu (or `o.vm`); anything else is an SSH target. */
export async function connectTarget(spec: string, o: ConnectOptions = {}): Promise<AgentClient> {
  const root = o.root ?? productRoot();
  if (o.vm || spec.startsWith('vm:')) return connectVmTarget(spec, o, root);
  if (spec === 'local') {
    const agent = join(root, 'dist', 'agent.js');
    const root0 = process.getuid?.() === 0;
    const useSudo = !root0 && o.sudo !== false;
    const argv = useSudo ? ['sudo', '-n', '--', process.execPath, agent] : [process.execPath, agent];
    const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    const c = new AgentClient('local', child);
    try {
      await c.hello();
    } catch (e) {
      await c.close();
      if (useSudo && /sudo/.test(c.stderrText))
        throw new TargetError(
          'no-sudo',
          `cannot run the agent with sudo -n here: run as root or allow passwordless sudo for ${process.execPath}`,
          c.stderrText.trim(),
        );
      throw e;
    }
    return c;
  }
  const env = process.env.BPF_LENS_SSH_CONFIG;
  const t: SshTarget = {
    ...parseSshTarget(spec),
    ...(env ? { configFile: env } : {}),
    ...Object.fromEntries(
      Object.entries(o).filter(
        ([k, v]) => v !== undefined && !['root', 'timings', 'vm', 'label', 'bootTimeoutMs', 'onStatus', 'signal'].includes(k),
      ),
    ),
  };
  checkSshTarget(t); // before anything runs, whatever the spec and the settings said
  return connectSsh(t, AgentBundle.locate(root), o.timings, o.signal);
}
