/**
 * The kernels the language server knows (setting bpfLens.targets): `local` always, SSH hosts
 * and VM kernels (booted under qemu) reached through the agent (server/src/remote), and
 * offline BTF files (CO-RE checks only).
 * It keeps one agent connection per target, the target's vmlinux BTF (for CO-RE diagnostics)
 * and what the target said about itself.
 */
import { readFileSync, statSync } from 'fs';
import { arch, release } from 'os';
import * as path from 'path';
import { VMLINUX_BTF, hasVmlinuxBtf } from '../kernel/sysfs-btf';
import { locateBtf } from '../btf/input';
import type { TargetBtfSource } from './target-btf-source';
import type { AgentClient } from '../remote';
import type { KernelTarget } from '../targets';
import { TargetError } from '../remote/errors';
import { badUser, badVmSpec, parseSshSpec, TARGET_TIMEOUT_DEFAULT_S, type VmSpec } from '../../../protocol/target-spec';
import type { TargetInfo, TargetSetting, TargetsResult } from '../../../protocol/lsp';

export const LOCAL = 'local';

/** bpfLens.targets entries as given; bad entries are dropped with a reason. */
export function parseTargetSettings(raw: unknown): { targets: TargetSetting[]; problems: string[] } {
  const targets: TargetSetting[] = [];
  const problems: string[] = [];
  if (!Array.isArray(raw)) return { targets, problems };
  for (const [i, e] of raw.entries()) {
    const o = (e ?? {}) as Record<string, unknown>;
    const str = (k: string) => (typeof o[k] === 'string' && o[k] !== '' ? o[k] : undefined);
    const name = str('name') ?? str('host');
    if (!name) {
      problems.push(`bpfLens.targets[${i}]: needs a name and a host (or a btf file)`);
      continue;
    }
    if (name === LOCAL) {
      problems.push(`bpfLens.targets[${i}]: 'local' is built in`);
      continue;
    }
    if (!str('host') && !str('btf') && !str('kernel')) {
      problems.push(`bpfLens.targets[${i}] (${name}): needs host (SSH), kernel (a VM) or btf (a vmlinux BTF file)`);
      continue;
    }
    if (str('kernel') && str('host')) {
      problems.push(`bpfLens.targets[${i}] (${name}): give host (SSH) or kernel (a VM), not both`);
      continue;
    }
    if (targets.some((t) => t.name === name)) {
      problems.push(`bpfLens.targets[${i}]: a second target named ${name}`);
      continue;
    }
    // the host, user and port ssh would get: refused here, with the parser the client uses
    const host = str('host');
    const spec = host !== undefined ? parseSshSpec(host) : undefined;
    if (spec && !spec.ok) {
      problems.push(`bpfLens.targets[${i}] (${name}): ${spec.reason}`);
      continue;
    }
    const badU = str('user') !== undefined ? badUser(str('user')!) : undefined;
    if (badU) {
      problems.push(`bpfLens.targets[${i}] (${name}): ${badU}`);
      continue;
    }
    const vm = str('kernel') ? vmSetting(o) : undefined;
    const badVm = vm ? badVmSpec(vm) : undefined;
    if (badVm) {
      problems.push(`bpfLens.targets[${i}] (${name}): ${badVm}`);
      continue;
    }
    const port = typeof o.port === 'number' && Number.isInteger(o.port) && o.port > 0 && o.port < 65536 ? o.port : undefined;
    if (o.port !== undefined && port === undefined)
      problems.push(`bpfLens.targets[${i}] (${name}): port ${JSON.stringify(o.port)} is not a TCP port; ssh's default is used`);
    targets.push({
      name,
      ...(str('host') ? { host: str('host') } : {}),
      ...(str('user') ? { user: str('user') } : {}),
      ...(port ? { port } : {}),
      ...(str('identityFile') ? { identityFile: str('identityFile') } : {}),
      ...(typeof o.sudo === 'boolean' ? { sudo: o.sudo } : {}),
      ...(str('nodePath') ? { nodePath: str('nodePath') } : {}),
      ...(str('btf') ? { btf: str('btf') } : {}),
      ...(vm ?? {}),
    });
  }
  return { targets, problems };
}

/** A VM entry's fields as given (checked by badVmSpec, the `vm:` parser's own checks). */
function vmSetting(o: Record<string, unknown>): VmSpec {
  return {
    kernel: o.kernel as string,
    ...(o.modules !== undefined ? { modules: o.modules as string } : {}),
    ...(o.memory !== undefined ? { memory: o.memory as number } : {}),
    ...(o.cpus !== undefined ? { cpus: o.cpus as number } : {}),
    ...(o.insmod !== undefined ? { insmod: (Array.isArray(o.insmod) ? o.insmod : [o.insmod]) as string[] } : {}),
  };
}

const kindOf = (name: string, t: TargetSetting): 'local' | 'ssh' | 'btf' | 'vm' =>
  name === LOCAL ? 'local' : t.kernel ? 'vm' : t.host ? 'ssh' : 'btf';
/** A target with a kernel to load into (not a BTF file alone). */
const hasKernel = (name: string, t: TargetSetting) => name === LOCAL || !!t.host || !!t.kernel;

/** A TargetError (code, message, detail) or any error, as the client shows it. */
export function targetFailure(e: unknown): { code: string; message: string; detail?: string } {
  if (e instanceof TargetError) return { code: e.code, message: e.message, ...(e.detail ? { detail: e.detail } : {}) };
  return { code: 'error', message: e instanceof Error ? e.message : String(e) };
}

export class Targets {
  private settings: TargetSetting[] = [];
  private readonly clients = new Map<string, Promise<AgentClient>>();
  private readonly infos = new Map<string, TargetInfo>();
  private readonly btfs = new Map<string, Promise<TargetBtfSource>>();
  private local?: KernelTarget;
  /** The target CO-RE diagnostics are computed against (bpfLens/selectTarget). */
  selected = LOCAL;
  /** Per target, to connect (or boot) and load on all targets (bpfLens.targetTimeout, as the CLI's --timeout). */
  timeoutMs = TARGET_TIMEOUT_DEFAULT_S * 1000;

  configure(targets: readonly TargetSetting[]): void {
    const before = new Map(this.settings.map((t) => [t.name, JSON.stringify(t)]));
    this.settings = [...targets];
    // A changed or removed entry gets a fresh connection and BTF next time.
    for (const [name, json] of before) {
      const now = this.settings.find((t) => t.name === name);
      if (!now || JSON.stringify(now) !== json) void this.forget(name);
    }
    if (this.selected !== LOCAL && !this.settings.some((t) => t.name === this.selected)) this.selected = LOCAL;
  }

  /** Every target with what is known about it (bpfLens/targets). */
  list(): TargetsResult['targets'] {
    return this.names().map((name) => {
      const t = this.setting(name);
      const kind = kindOf(name, t);
      const info = this.infos.get(name);
      const where = t.host ?? t.kernel ?? t.btf;
      return { name, kind, ...(where ? { where } : {}), ...(info ? { info } : {}) };
    });
  }

  names(): string[] {
    return [LOCAL, ...this.settings.map((t) => t.name)];
  }

  /** The targets an object can be loaded into (not BTF files alone). */
  kernelNames(): string[] {
    return this.names().filter((n) => hasKernel(n, this.setting(n)));
  }

  setting(name: string): TargetSetting {
    if (name === LOCAL) return { name: LOCAL };
    const t = this.settings.find((x) => x.name === name);
    if (!t) throw new TargetError('bad-target', `no target named ${name} in bpfLens.targets (known: ${this.names().join(', ')})`);
    return t;
  }

  /** Loads on `local` run in this process when it may use bpf(); otherwise through an agent. */
  inProcess(name: string): boolean {
    return name === LOCAL && process.getuid?.() === 0;
  }

  /**
   * The kernel of a target to load into: this process's (inProcess) or the target's agent.
   * `signal` gives up a connection this call starts (a VM's boot: qemu killed); one already
   * under way for another caller goes on.
   */
  async kernelTarget(name: string, signal?: AbortSignal): Promise<KernelTarget> {
    if (this.inProcess(name)) {
      const { LocalTarget } = await import('../targets/local');
      this.local ??= new LocalTarget();
      return this.local;
    }
    const { AgentTarget } = await import('../targets/agent');
    return new AgentTarget(await this.client(name, signal));
  }

  /** The agent connection of a target (made once; made again after the agent ended); `signal` as for kernelTarget. */
  async client(name: string, signal?: AbortSignal): Promise<AgentClient> {
    const t = this.setting(name);
    if (!hasKernel(name, t))
      throw new TargetError(
        'bad-target',
        `${name} is a BTF file target: it has no kernel to load into (give it a host or a kernel to load there)`,
      );
    const have = this.clients.get(name);
    if (have) {
      const c = await have.catch(() => undefined);
      if (c && c.child.exitCode === null && c.child.signalCode === null) return c;
      this.clients.delete(name);
    }
    const { connectTarget } = await import('../remote');
    // A VM boots once and stays until the settings change or the editor closes (dispose).
    const vm = t.kernel ? { vm: vmSetting(t as unknown as Record<string, unknown>), label: name } : {};
    // `signal` gives up the opening only: once connected the connection is everyone's (kept open)
    const opening = new AbortController();
    const giveUp = () => opening.abort();
    signal?.addEventListener('abort', giveUp, { once: true });
    if (signal?.aborted) giveUp();
    const p = connectTarget(name === LOCAL ? LOCAL : t.kernel ? `vm:${t.kernel}` : t.host!, {
      ...vm,
      ...(t.user ? { user: t.user } : {}),
      ...(t.port ? { port: t.port } : {}),
      ...(t.identityFile ? { identityFile: t.identityFile } : {}),
      ...(t.sudo !== undefined ? { sudo: t.sudo } : {}),
      ...(t.nodePath ? { nodePath: t.nodePath } : {}),
      signal: opening.signal,
    });
    this.clients.set(name, p);
    p.catch(() => this.clients.delete(name)).finally(() => signal?.removeEventListener('abort', giveUp));
    return p;
  }

  /** Connects (or reads the BTF file) and says what the target is. */
  async info(name: string): Promise<TargetInfo> {
    const t0 = performance.now();
    const t = this.setting(name);
    let info: TargetInfo;
    if (t.btf && !hasKernel(name, t)) {
      const b = await this.btfSource(name);
      info = { name, kind: 'btf', release: path.basename(t.btf), canLoad: false, hasBtf: true, btfKey: b.key, features: {}, ms: 0 };
    } else {
      // the same hello in-process and from an agent
      const h = await (await this.kernelTarget(name)).hello();
      info = {
        name,
        kind: kindOf(name, t),
        release: h.release,
        arch: h.arch,
        canLoad: h.privileges.canLoad,
        ...(h.privileges.errno ? { errno: h.privileges.errno } : {}),
        ...(h.lockdown ? { lockdown: h.lockdown } : {}),
        hasBtf: h.hasVmlinuxBtf,
        features: h.features,
        ...(this.inProcess(name) ? {} : { agentVersion: h.agentVersion }),
        ms: 0,
      };
    }
    info = { ...info, ms: performance.now() - t0 };
    this.infos.set(name, info);
    return info;
  }

  known(name: string): TargetInfo | undefined {
    return this.infos.get(name);
  }

  /** Where a target's vmlinux (and, on the local kernel, module) BTF is, for CO-RE; read, not parsed. */
  btfSource(name: string): Promise<TargetBtfSource> {
    let p = this.btfs.get(name);
    if (!p) {
      p = this.readBtfSource(name);
      this.btfs.set(name, p);
      p.catch(() => this.btfs.delete(name));
    }
    return p;
  }

  private async readBtfSource(name: string): Promise<TargetBtfSource> {
    const t = this.setting(name);
    if (t.btf && !hasKernel(name, t)) {
      const st = statSync(t.btf);
      locateBtf(readFileSync(t.btf), t.btf); // refused now if it holds no BTF; the worker parses it
      return { key: `btf:${t.btf}:${st.size}:${st.mtimeMs}`, file: t.btf, name: path.basename(t.btf), label: t.btf };
    }
    if (name === LOCAL) {
      if (!hasVmlinuxBtf())
        throw new TargetError(
          'no-btf',
          `no BTF on ${name}: ${VMLINUX_BTF} is missing (CO-RE needs a kernel built with CONFIG_DEBUG_INFO_BTF=y)`,
        );
      return { key: `local:${release()}:${arch()}:${statSync(VMLINUX_BTF).size}`, sysfs: true };
    }
    // the agent's copy, named by its sha256: the file is what the target sent
    const b = await (await this.client(name)).targetBtf();
    return { key: `${name}:${b.hash}`, file: b.file, name: `vmlinux (${name})`, label: `${name}:${VMLINUX_BTF}` };
  }

  /** A file holding the target's vmlinux BTF (for module base diffs), and how to name it. */
  async btfFile(name: string): Promise<{ file: string; label: string }> {
    const t = this.setting(name);
    if (t.btf && !hasKernel(name, t)) return { file: t.btf, label: `${name} (${t.btf})` };
    if (name === LOCAL) return { file: VMLINUX_BTF, label: `local (${release()})` };
    const b = await (await this.client(name)).targetBtf();
    const r = this.infos.get(name)?.release;
    return { file: b.file, label: `${name}${r ? ` (${r})` : ''}` };
  }

  private async forget(name: string): Promise<void> {
    const c = this.clients.get(name);
    this.clients.delete(name);
    this.btfs.delete(name);
    this.infos.delete(name);
    await (await c?.catch(() => undefined))?.close();
  }

  async dispose(): Promise<void> {
    await Promise.all([...this.clients.keys()].map((n) => this.forget(n)));
  }
}
