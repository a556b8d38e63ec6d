/**
 * What a load needs to know about the target, each fact fetched once and only when a step
 * needs it: feature probes, the kernel's BTF (vmlinux + modules, parsed lazily), its config,
 * libbpf's LINUX_* values, /proc/kallsyms, CPU count. Runs where the kernel is (here, or
 * inside the agent on a remote host).
 */
import type { Btf } from '../btf/btf';
import type { TargetBtf } from '../core';
import type { Fd, KernelBtf, KernelOps, SystemInfo } from '../kernel';
import { parseKallsyms } from './externs';
import { parseKconfig } from './kconfig';
import type { BtfFeatures } from './sanitize-btf';
import type { LoadOptions } from './types';

export class LoadTarget {
  private kbtf?: KernelBtf;
  private ownKbtf = false;
  private features = new Map<string, boolean>();
  private kconfigValues?: Map<string, string>;
  private kallsymsMap?: Map<string, bigint>;
  private linux?: Map<string, string | undefined>;
  private sys?: SystemInfo;
  private readonly k: KernelOps;

  constructor(private readonly opts: LoadOptions) {
    this.k = opts.kernel;
  }

  /** uname, page size, byte order: asked once. */
  system(): SystemInfo {
    return (this.sys ??= this.k.systemInfo());
  }

  /** A feature probe's answer (probes that cannot run count as unsupported). */
  has(name: string): boolean {
    let v = this.features.get(name);
    if (v === undefined) {
      try {
        v = this.opts.features ? this.opts.features(name) : this.k.probeFeature(name).supported;
      } catch {
        v = false;
      }
      this.features.set(name, v);
    }
    return v;
  }

  btfFeatures(): BtfFeatures {
    const f = (n: string) => this.has(n);
    return {
      btf_func: f('btf_func'),
      btf_func_global: f('btf_func_global'),
      btf_datasec: f('btf_datasec'),
      btf_qmark_datasec: f('btf_qmark_datasec'),
      btf_float: f('btf_float'),
      btf_decl_tag: f('btf_decl_tag'),
      btf_type_tag: f('btf_type_tag'),
      btf_enum64: f('btf_enum64'),
    };
  }

  kernelBtf(): KernelBtf {
    if (!this.kbtf) {
      this.kbtf = this.opts.targetBtf ?? this.k.kernelBtf();
      this.ownKbtf = !this.opts.targetBtf;
    }
    return this.kbtf;
  }

  /** [vmlinux, ...modules]: each module's BTF parsed on first touch. */
  kernelBtfs(): { readonly name: string; readonly btf: Btf }[] {
    const k = this.kernelBtf();
    return k.objects.map((o) => ({
      name: o.name,
      get btf() {
        return k.module(o.name)!;
      },
    }));
  }

  /** CO-RE targets: `coreTargets` when given, else the kernel's BTFs. */
  coreTargets(): readonly TargetBtf[] {
    return this.opts.coreTargets ?? this.kernelBtfs();
  }

  btfFd(name: string): Fd {
    return this.kernelBtf().fd(name);
  }

  kconfig(): ReadonlyMap<string, string> {
    if (!this.kconfigValues) {
      const text = this.opts.kconfig ?? this.k.kconfigText();
      this.kconfigValues = text !== undefined ? parseKconfig(text) : new Map();
    }
    return this.kconfigValues;
  }

  /** libbpf's LINUX_* values, each computed when first asked for. */
  linuxValue(name: string): string | undefined {
    this.linux ??= new Map();
    if (this.linux.has(name)) return this.linux.get(name);
    let v: string | undefined;
    switch (name) {
      case 'LINUX_KERNEL_VERSION':
        v = String(this.system().versionCode);
        break;
      case 'LINUX_HAS_BPF_COOKIE':
        v = this.has('bpf_cookie') ? 'y' : 'n';
        break;
      case 'LINUX_HAS_SYSCALL_WRAPPER': {
        const m = this.system().machine;
        const sym = m === 'x86_64' ? '__x64_sys_bpf' : m === 'aarch64' ? '__arm64_sys_bpf' : `__${m}_sys_bpf`;
        let found: boolean;
        try {
          found = this.kallsyms(sym) !== undefined;
        } catch {
          found = false;
        }
        v = found ? 'y' : 'n';
        break;
      }
      default:
        v = undefined;
    }
    this.linux.set(name, v);
    return v;
  }

  kallsyms(name: string): bigint | undefined {
    this.kallsymsMap ??= parseKallsyms(this.k.kallsymsText());
    return this.kallsymsMap.get(name);
  }

  endianness(): 'LE' | 'BE' {
    return this.system().endianness;
  }

  machine(): string {
    return this.system().machine;
  }

  kernelVersion(): number {
    return this.system().versionCode;
  }

  pageSize(): number {
    return this.system().pageSize;
  }

  nrCpus(): number {
    return this.k.possibleCpus();
  }

  /** Closes the kernel BTF FDs this load opened (a caller's KernelBtf stays open). */
  close(): void {
    if (this.ownKbtf) this.kbtf?.close();
  }
}
