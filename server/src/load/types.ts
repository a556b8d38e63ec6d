/**
 * The load pipeline's contract: what the CLI, the language server, the agent and the
 * __arg_ctx / freplace work call, and what they get back. The pipeline itself lives beside
 * this file; it reaches the kernel only through `KernelOps`, so the same code runs here and
 * inside the agent on a remote host.
 */
import type { Fd, KernelBtf, KernelOps, NamedBtf } from '../kernel';
import type { CoreReloReport } from '../core';
import type { BpfObject } from '../object/model';
import type { RejectionExplanation } from '../verifier';

/** Stages reported to `onProgress`, in order. */
export type LoadStage = 'probe' | 'relocate' | 'btf' | 'maps' | 'programs' | 'pin' | 'done';

export interface LoadOptions {
  /** Where the syscalls go (`localKernel`, or an agent's forwarding implementation). */
  readonly kernel: KernelOps;
  /** Target BTF (vmlinux + modules) for CO-RE, ksyms, kfuncs and struct_ops; default: the local kernel's. */
  readonly targetBtf?: KernelBtf;
  /**
   * BTF to relocate CO-RE against instead of the kernel's ([vmlinux-like, ...modules]): a
   * plain BTF such as another object's (cilium's relocs_read_tgt). ksyms, kfuncs, struct_ops
   * and attach targets still come from `targetBtf` / the kernel.
   */
  readonly coreTargets?: readonly NamedBtf[];
  /** Feature probe answers by name (server/src/kernel/probes.ts); default: probe the local kernel. */
  readonly features?: (name: string) => boolean;
  /** Root for maps with `pinning = LIBBPF_PIN_BY_NAME` (default /sys/fs/bpf). */
  readonly pinRoot?: string;
  /** `--pin DIR`: pin each program as DIR/<program name>, as `bpftool prog loadall` does. */
  readonly pinProgramsDir?: string;
  /** Verifier log level for every program (0: only on rejection, then raised to 1). */
  readonly logLevel?: number;
  /** Programs not to load (libbpf's bpf_program__set_autoload(prog, false)). */
  readonly noAutoload?: readonly string[];
  /** `.rodata` (const volatile) variable overrides by C name, before load: `{ debug: '1' }`. */
  readonly set?: Readonly<Record<string, string>>;
  /** The target's kernel config text; default /proc/config.gz, else /boot/config-<release>. */
  readonly kconfig?: string;
  /** __arg_ctx emulation: auto (when the kernel lacks native support), always, never. */
  readonly argCtxFallback?: 'auto' | 'always' | 'never';
  /** freplace: the program (FD) whose subprograms `SEC("freplace/<func>")` programs replace. */
  readonly replaceTargetFd?: Fd;
  /**
   * Register struct_ops maps at load (the old `load` behaviour, `load --register`). By default a
   * load registers nothing, as libbpf's bpf_object__load: attaching registers (server/src/attach).
   */
  readonly registerStructOps?: boolean;
  readonly onProgress?: (stage: LoadStage, detail: string) => void;
}

export interface LoadedProgram {
  readonly name: string;
  readonly section: string;
  /** bpftool name of the program type. */
  readonly type: string;
  readonly fd: Fd;
  readonly id: number;
  readonly verifiedInsns: number;
  /** Where it was pinned (`--pin DIR`). */
  readonly pinnedAt?: string;
  /** The verifier log, when a log level was asked for. */
  readonly log?: string;
  /** freplace: the link attaching it to the target (BPF_LINK_CREATE), and where it was pinned. */
  readonly linkFd?: Fd;
  readonly linkPinnedAt?: string;
}

export interface LoadedMap {
  /** C name (`events`, `.rodata`). */
  readonly name: string;
  /** Name in the kernel (`xdp_coun.rodata`). */
  readonly kernelName: string;
  readonly fd: Fd;
  readonly id: number;
  /** bpftool name of the map type. */
  readonly type: string;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  readonly pinnedAt?: string;
  /** A compatible map already pinned there was reused instead of creating one. */
  readonly reused?: boolean;
  /** `.struct_ops.link` maps: the BPF_STRUCT_OPS link that registered it (`registerStructOps`). */
  readonly linkFd?: Fd;
  /**
   * struct_ops maps: the value to register, program FDs filled in (libbpf's kern_vdata), and
   * whether it registers through a link (`.struct_ops.link`). Attaching uses it.
   */
  readonly structOps?: {
    readonly value: Uint8Array;
    readonly link: boolean;
    /** Members whose program this load left out (`member -> program`): registering fails, as in libbpf. */
    readonly notLoaded?: readonly string[];
  };
}

export interface LoadResult {
  readonly object: BpfObject;
  readonly programs: readonly LoadedProgram[];
  readonly maps: readonly LoadedMap[];
  /** FD of the object's BTF in the kernel, when it was loaded. */
  readonly btfFd?: Fd;
  /** What CO-RE did for the loaded programs (every relocation, ok or not). */
  readonly coreReports: readonly CoreReloReport[];
  /** Things worth telling the user that did not stop the load (BTF dropped, programs skipped). */
  readonly warnings: readonly string[];
  /** Closes every FD this load holds; pins stay (that is what pinning is for). */
  close(): void;
}

/** Where a rejected program's failing instruction comes from. */
export interface LoadErrorSource {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** The source line's text (line_info carries it). */
  readonly text: string;
}

/**
 * A load that failed. By the time it is thrown every FD the load opened is closed and
 * everything it pinned is unpinned.
 */
export class LoadError extends Error {
  constructor(
    message: string,
    readonly stage: LoadStage,
    readonly details: {
      readonly program?: string;
      /** Index of the rejected instruction in the loaded (linked) program. */
      readonly insn?: number;
      readonly source?: LoadErrorSource;
      /** The full verifier (or BTF checker) log. */
      readonly log?: string;
      /** The verifier never finished (a signal interrupted every try): the log is a walk cut short, not a rejection. */
      readonly interrupted?: boolean;
      /** A verifier rejection explained: family, explanation, fix hint, related locations (origin first). */
      readonly explanation?: RejectionExplanation;
      readonly cause?: unknown;
    } = {},
  ) {
    super(message);
    this.name = 'LoadError';
  }
}
