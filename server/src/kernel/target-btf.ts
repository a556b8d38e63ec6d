// The running kernel's BTF: vmlinux plus every module's split BTF, indexed once by walking
// BTF ids (BTF_GET_NEXT_ID → BTF_GET_FD_BY_ID → OBJ_GET_INFO_BY_FD for name and kernel_btf).
// Blobs come from /sys/kernel/btf/<name> when present, else from the kernel through the FD.
// Module BTF FDs (for value_type_btf_obj_fd, attach_btf_obj_fd, kfunc fd_array) are opened on
// request and all closed by close().
import { existsSync, readFileSync } from 'fs';
import * as path from 'path';
import { type Btf, parseBtf } from '../btf/btf';
import { parseKernelBtf, readKernelBtfFile } from './btf-index-cache';
import { isKernelError } from './errors';
import { btfInfo, getFdById, getNextId } from './objects';
import { type Fd, closeFd } from './sys';
import { SYSFS_BTF } from './sysfs-btf';

/** One kernel BTF object: vmlinux or a module's. */
export interface KernelBtfObject {
  /** 'vmlinux' or the module name. */
  readonly name: string;
  /** The kernel's BTF object id. */
  readonly id: number;
  readonly size: number;
}

/** A named BTF as the CO-RE engine takes it (core's TargetBtf). */
export interface NamedBtf {
  readonly name: string;
  readonly btf: Btf;
}

export interface KernelBtfOptions {
  /** Where the kernel publishes BTF files (default /sys/kernel/btf). */
  readonly sysfsDir?: string;
}

/**
 * The target kernel's BTF, for CO-RE, struct_ops, ksyms and attach targets. Parsing is lazy
 * (vmlinux on first use, each module on first use); FDs are opened only when asked for.
 */
export class KernelBtf {
  private vmlinuxBtf?: Btf;
  private readonly parsed = new Map<string, Btf>();
  private readonly fds = new Map<string, Fd>();
  private readonly byName: Map<string, KernelBtfObject>;

  private constructor(
    readonly objects: readonly KernelBtfObject[],
    private readonly sysfsDir: string,
  ) {
    this.byName = new Map(objects.map((o) => [o.name, o]));
  }

  /** Walks the kernel's BTF ids and keeps the kernel's own (vmlinux first, then modules by name). */
  static open(opts: KernelBtfOptions = {}): KernelBtf {
    const objects: KernelBtfObject[] = [];
    for (let id = getNextId('btf', 0); id !== undefined; id = getNextId('btf', id)) {
      let fd: Fd;
      try {
        fd = getFdById('btf', id);
      } catch (e) {
        if (isKernelError(e, 'ENOENT')) continue; // freed between the two calls
        throw e;
      }
      try {
        const info = btfInfo(fd);
        if (info.kernelBtf) objects.push({ name: info.name, id: info.id, size: info.btfSize });
      } finally {
        closeFd(fd);
      }
    }
    objects.sort((a, b) => (a.name === 'vmlinux' ? -1 : b.name === 'vmlinux' ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    if (objects[0]?.name !== 'vmlinux') throw new Error('the kernel exposes no vmlinux BTF (CONFIG_DEBUG_INFO_BTF is off?)');
    return new KernelBtf(objects, opts.sysfsDir ?? SYSFS_BTF);
  }

  /** Module names with BTF, sorted. */
  get moduleNames(): string[] {
    return this.objects.filter((o) => o.name !== 'vmlinux').map((o) => o.name);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  get vmlinux(): Btf {
    if (!this.vmlinuxBtf) {
      const file = path.join(this.sysfsDir, 'vmlinux');
      const { bytes, digest } = existsSync(file) ? readKernelBtfFile(file) : { bytes: this.blob('vmlinux'), digest: undefined };
      this.vmlinuxBtf = parseKernelBtf(bytes, { file: 'vmlinux', section: 'BTF' }, undefined, digest);
    }
    return this.vmlinuxBtf;
  }

  /** A module's split BTF on vmlinux (parsed on first use), or undefined if it has none. */
  module(name: string): Btf | undefined {
    if (name === 'vmlinux') return this.vmlinux;
    if (!this.byName.has(name)) return undefined;
    let btf = this.parsed.get(name);
    if (!btf) {
      btf = parseBtf(this.blob(name), { file: name, section: 'BTF', base: this.vmlinux });
      this.parsed.set(name, btf);
    }
    return btf;
  }

  /** vmlinux then every module, in libbpf's search order (parses all modules). */
  all(): NamedBtf[] {
    return this.objects.map((o) => ({ name: o.name, btf: this.module(o.name)! }));
  }

  /** An FD for a kernel BTF object, opened once and kept until close(). */
  fd(name: string): Fd {
    const have = this.fds.get(name);
    if (have !== undefined) return have;
    const o = this.byName.get(name);
    if (!o) throw new Error(`no kernel BTF named ${name}`);
    const fd = getFdById('btf', o.id);
    this.fds.set(name, fd);
    return fd;
  }

  /** Closes every FD fd() opened. */
  close(): void {
    for (const fd of this.fds.values()) closeFd(fd);
    this.fds.clear();
  }

  private blob(name: string): Uint8Array {
    const file = path.join(this.sysfsDir, name);
    if (existsSync(file)) return readFileSync(file);
    const o = this.byName.get(name);
    if (!o) throw new Error(`no kernel BTF named ${name}`);
    const fd = getFdById('btf', o.id);
    try {
      return btfInfo(fd, true).data!;
    } finally {
      closeFd(fd);
    }
  }
}

// The local kernel's BTF, parsed once per process (vmlinux alone is ~25 ms to parse and ~30 ms
// to index by name): kept while the set of kernel BTF objects (module loads) is unchanged.
let cached: { key: string; kbtf: KernelBtf } | undefined;

/** This kernel's BTF; the same (already parsed) KernelBtf while no module came or went. */
export function localKernelBtf(): KernelBtf {
  const fresh = KernelBtf.open();
  const key = fresh.objects.map((o) => `${o.id}:${o.name}`).join(',');
  if (cached?.key === key) return cached.kbtf;
  cached = { key, kbtf: fresh };
  return fresh;
}
