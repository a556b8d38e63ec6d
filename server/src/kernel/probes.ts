// Feature probes like libbpf's: each loads a tiny BTF blob, map or program for real and reports
// whether the kernel took it. Results are cached for the life of the process and, verified, for
// the rest of the boot (probe-cache.ts); FDs are closed.
import { readFileSync } from 'fs';
import * as os from 'os';
import { BtfBuilder, writeBtf } from '../btf/write';
import { BTF_FUNC_GLOBAL, BTF_FUNC_STATIC, BTF_INT_SIGNED, BTF_VAR_GLOBAL_ALLOCATED, type NewType } from '../btf/types';
import { BPF_FUNC, R0, R1, R10, R2, R3, addImm, assemble, callHelper, callRel, exit, ldMapValue, movImm, movReg, stMemDW } from './asm';
import { btfLoad } from './btf-load';
import { type KernelError, isKernelError } from './errors';
import { mapCreate } from './maps';
import { ProbeCache } from './probe-cache';
import { btfInfo } from './objects';
import { progLoad } from './programs';
import { type Fd, closeFd, pageSize } from './sys';
import { BPF_ATTACH_TYPE, BPF_F_MMAPABLE, BPF_MAP_TYPE, BPF_PROG_TYPE } from '../common/uapi';

/** What a probe found: supported or not, and why not (the kernel's errno) when it is not. */
export interface ProbeResult {
  readonly supported: boolean;
  /** errno name of the refusal (EINVAL...), when not supported. */
  readonly errno?: string;
}

export interface FeatureProbe {
  /** Stable key (used in `bpf-lens probe --json`). */
  readonly name: string;
  /** What it means for a load, in one line. */
  readonly description: string;
  readonly run: () => void;
}

const INT: NewType = { kind: 'INT', name: 'int', nameOff: 0, kindFlag: false, size: 4, encoding: BTF_INT_SIGNED, bitsOffset: 0, bits: 32 };

/** Loads BTF made of `types` and closes it; throws KernelError when the kernel refuses it. */
function loadTypes(types: readonly NewType[]): void {
  const fd = loadTypesFd(types);
  closeFd(fd);
}

function loadTypesFd(types: readonly NewType[]): Fd {
  const b = new BtfBuilder();
  for (const t of types) b.add(t);
  return btfLoad(writeBtf(b.build())).fd;
}

const n = (name: string) => ({ name, nameOff: 0, kindFlag: false });

function withFd<T>(fd: Fd, f: (fd: Fd) => T): T {
  try {
    return f(fd);
  } finally {
    closeFd(fd);
  }
}

function smallArray(flags = 0, valueSize = 32): Fd {
  return mapCreate({ map_type: BPF_MAP_TYPE.BPF_MAP_TYPE_ARRAY, key_size: 4, value_size: valueSize, max_entries: 1, map_flags: flags });
}

function loadProg(progType: number, insns: Uint8Array, extra: Partial<Parameters<typeof progLoad>[0]> = {}): void {
  // No log on probes (level 0 and no retry): a refusal is an answer, not an error to explain.
  closeFd(progLoad({ progType, insns, license: 'GPL', log: { level: 0, logOnFailure: false }, ...extra, context: 'probe' }).fd);
}

const RETURN_0 = () => assemble([movImm(R0, 0), exit()]);

const func = (name: string, type: number, linkage: number): NewType => ({ kind: 'FUNC', ...n(name), type, linkage });
const proto = (params: { name: string; type: number }[]): NewType => ({
  kind: 'FUNC_PROTO',
  ...n(''),
  type: 1,
  params: params.map((p) => ({ ...p, nameOff: 0 })),
});

/** The probes, in the order `bpf-lens probe` prints them. */
export const FEATURE_PROBES: readonly FeatureProbe[] = [
  { name: 'btf', description: 'BTF can be loaded (BPF_BTF_LOAD)', run: () => loadTypes([INT]) },
  {
    name: 'btf_func',
    description: 'BTF FUNC and FUNC_PROTO kinds',
    run: () => loadTypes([INT, proto([{ name: 'x', type: 1 }]), func('f', 2, BTF_FUNC_STATIC)]),
  },
  {
    name: 'btf_func_global',
    description: 'BTF FUNC with global linkage',
    run: () => loadTypes([INT, proto([{ name: 'x', type: 1 }]), func('f', 2, BTF_FUNC_GLOBAL)]),
  },
  {
    name: 'btf_datasec',
    description: 'BTF VAR and DATASEC kinds (global data sections)',
    run: () =>
      loadTypes([
        INT,
        { kind: 'VAR', ...n('x'), type: 1, linkage: BTF_VAR_GLOBAL_ALLOCATED },
        { kind: 'DATASEC', ...n('.data'), size: 4, vars: [{ type: 2, offset: 0, size: 4 }] },
      ]),
  },
  {
    name: 'btf_qmark_datasec',
    description: "DATASEC names with '?' (e.g. '?.struct_ops')",
    run: () =>
      loadTypes([
        INT,
        { kind: 'VAR', ...n('x'), type: 1, linkage: BTF_VAR_GLOBAL_ALLOCATED },
        { kind: 'DATASEC', ...n('?.data'), size: 4, vars: [{ type: 2, offset: 0, size: 4 }] },
      ]),
  },
  { name: 'btf_float', description: 'BTF FLOAT kind', run: () => loadTypes([{ kind: 'FLOAT', ...n('float'), size: 4 }]) },
  {
    name: 'btf_decl_tag',
    description: 'BTF DECL_TAG kind',
    run: () =>
      loadTypes([
        INT,
        { kind: 'VAR', ...n('x'), type: 1, linkage: BTF_VAR_GLOBAL_ALLOCATED },
        { kind: 'DECL_TAG', ...n('tag'), type: 2, componentIdx: -1 },
      ]),
  },
  {
    name: 'btf_type_tag',
    description: 'BTF TYPE_TAG kind',
    run: () => loadTypes([INT, { kind: 'TYPE_TAG', ...n('tag'), type: 1 }, { kind: 'PTR', ...n(''), type: 2 }]),
  },
  {
    name: 'btf_enum64',
    description: 'BTF ENUM64 kind',
    run: () => loadTypes([{ kind: 'ENUM64', ...n('e'), size: 8, values: [{ name: 'v', nameOff: 0, value: 1n << 40n }] }]),
  },
  {
    name: 'btf_in_map',
    description: 'maps created with BTF key/value types',
    run: () =>
      withFd(loadTypesFd([INT]), (btf) =>
        closeFd(
          mapCreate({
            map_type: BPF_MAP_TYPE.BPF_MAP_TYPE_HASH,
            key_size: 4,
            value_size: 4,
            max_entries: 1,
            btf_fd: btf,
            btf_key_type_id: 1,
            btf_value_type_id: 1,
          }),
        ),
      ),
  },
  {
    name: 'module_btf',
    description: 'BTF objects report a name (module BTF is usable)',
    run: () =>
      withFd(loadTypesFd([INT]), (btf) => {
        btfInfo(btf);
      }),
  },
  {
    name: 'prog_name',
    description: 'programs and maps take a name',
    run: () => loadProg(BPF_PROG_TYPE.BPF_PROG_TYPE_SOCKET_FILTER, RETURN_0(), { name: 'probe' }),
  },
  {
    name: 'global_data',
    description: 'instructions can address a map value directly (.data/.rodata/.bss)',
    run: () =>
      withFd(smallArray(), (map) =>
        loadProg(BPF_PROG_TYPE.BPF_PROG_TYPE_SOCKET_FILTER, assemble([ldMapValue(R1, map, 16), stMemDW(R1, 0, 42), movImm(R0, 0), exit()])),
      ),
  },
  { name: 'array_mmap', description: 'ARRAY maps can be mmap-ed (BPF_F_MMAPABLE)', run: () => closeFd(smallArray(BPF_F_MMAPABLE)) },
  {
    name: 'exp_attach_type',
    description: 'PROG_LOAD takes expected_attach_type',
    run: () =>
      loadProg(BPF_PROG_TYPE.BPF_PROG_TYPE_CGROUP_SOCK, RETURN_0(), { expectedAttachType: BPF_ATTACH_TYPE.BPF_CGROUP_INET_SOCK_CREATE }),
  },
  {
    name: 'probe_read_kernel',
    description: 'bpf_probe_read_kernel() helper',
    run: () =>
      loadProg(
        BPF_PROG_TYPE.BPF_PROG_TYPE_KPROBE,
        assemble([movReg(R1, R10), addImm(R1, -8), movImm(R2, 8), movImm(R3, 0), callHelper(BPF_FUNC.probe_read_kernel), exit()]),
      ),
  },
  {
    name: 'bpf_cookie',
    description: 'bpf_get_attach_cookie() helper (BPF cookies)',
    run: () => loadProg(BPF_PROG_TYPE.BPF_PROG_TYPE_TRACEPOINT, assemble([callHelper(BPF_FUNC.get_attach_cookie), exit()])),
  },
  {
    // bpf_ktime_get_coarse_ns() came in the same release (5.11) as memcg-based accounting.
    name: 'memcg_account',
    description: 'BPF memory is charged to the memory cgroup (no RLIMIT_MEMLOCK needed)',
    run: () =>
      loadProg(BPF_PROG_TYPE.BPF_PROG_TYPE_SOCKET_FILTER, assemble([callHelper(BPF_FUNC.ktime_get_coarse_ns), movImm(R0, 0), exit()])),
  },
  {
    // A kernel whose PROG_LOAD lacks fd_array refuses the non-zero tail with E2BIG.
    name: 'fd_array',
    description: 'PROG_LOAD takes fd_array (module kfuncs and BTF FDs by index)',
    run: () => withFd(smallArray(), (map) => loadProg(BPF_PROG_TYPE.BPF_PROG_TYPE_SOCKET_FILTER, RETURN_0(), { fdArray: [map] })),
  },
  {
    name: 'arg_ctx_tag',
    description: "native __arg_ctx (DECL_TAG 'arg:ctx' on a global subprogram's argument)",
    run: () => loadArgCtxProbe(true),
  },
];

/**
 * The kernel's rule (6.8+): a global subprogram's `void *` argument tagged `arg:ctx` is the
 * program's context. Without support the subprogram's argument is an unknown pointer and
 * calling bpf_get_func_ip() with it is refused. `tag` false leaves the DECL_TAG out (the
 * tests' negative control); `withLog` makes a refusal carry the verifier log.
 */
export function loadArgCtxProbe(tag: boolean, withLog = false): void {
  const b = new BtfBuilder();
  b.add(INT); // [1]
  b.add({ kind: 'PTR', ...n(''), type: 0 }); // [2] void *
  b.add(proto([{ name: 'a', type: 2 }])); // [3] int (void *a)
  b.add(func('a', 3, BTF_FUNC_GLOBAL)); // [4] main program
  b.add(proto([{ name: 'b', type: 2 }])); // [5] int (void *b)
  b.add(func('b', 5, BTF_FUNC_GLOBAL)); // [6] subprogram
  if (tag) b.add({ kind: 'DECL_TAG', ...n('arg:ctx'), type: 6, componentIdx: 0 }); // [7]
  const btf = btfLoad(writeBtf(b.build())).fd;
  const funcInfo = Buffer.alloc(16);
  funcInfo.writeUInt32LE(0, 0);
  funcInfo.writeUInt32LE(4, 4); // insn 0 → FUNC a
  funcInfo.writeUInt32LE(2, 8);
  funcInfo.writeUInt32LE(6, 12); // insn 2 → FUNC b
  withFd(btf, () =>
    loadProg(BPF_PROG_TYPE.BPF_PROG_TYPE_KPROBE, assemble([callRel(1), exit(), callHelper(BPF_FUNC.get_func_ip), exit()]), {
      progBtfFd: btf,
      funcInfo: { recSize: 8, count: 2, bytes: funcInfo },
      ...(withLog ? { log: { level: 1 } } : {}),
    }),
  );
}

const cache = new Map<string, ProbeResult>();
/** Answers of earlier processes of this boot with these credentials (read on first use). */
let boot: ProbeCache | undefined;

/**
 * One probe's answer: this process's, else this boot's (probe-cache.ts), else the probe runs
 * (once per process, and its answer is kept for the boot). Errors other than a kernel refusal
 * propagate.
 */
export function probeFeature(name: string): ProbeResult {
  const have = cache.get(name);
  if (have) return have;
  const p = FEATURE_PROBES.find((x) => x.name === name);
  if (!p) throw new Error(`unknown feature probe ${name}`);
  boot ??= ProbeCache.forProcess();
  const saved = boot.get(name);
  if (saved) {
    cache.set(name, saved);
    return saved;
  }
  let r: ProbeResult;
  try {
    p.run();
    r = { supported: true };
  } catch (e) {
    if (!isKernelError(e)) throw e;
    r = { supported: false, errno: e.errnoName };
  }
  cache.set(name, r);
  if (r.supported || LASTING_REFUSALS.has(r.errno ?? '')) boot.record(name, r);
  return r;
}

/**
 * Refusals that mean the kernel does not know the feature, kept for the boot. Others (EPERM,
 * ENOMEM under a low RLIMIT_MEMLOCK, EAGAIN...) may not last: asked again by the next process.
 */
const LASTING_REFUSALS = new Set(['EINVAL', 'E2BIG', 'ENOTSUPP', 'EOPNOTSUPP']);

/** Every feature probe's answer by name; empty when this process cannot create BPF objects at all. */
export function supportedFeatures(): Record<string, boolean> {
  const out: Record<string, boolean> = {};
  if (probePrivileges().canLoad) for (const p of FEATURE_PROBES) out[p.name] = probeFeature(p.name).supported;
  return out;
}

/**
 * Forgets cached answers, this process's and (for the probes run next) this boot's: the next
 * probes run for real and their answers replace the boot's (tests; or after the process gained
 * privileges).
 */
export function clearProbeCache(): void {
  cache.clear();
  privileges = undefined;
  boot = ProbeCache.forProcess(true);
}

export interface Privileges {
  /** This process can create maps and load programs (tried for real). */
  readonly canLoad: boolean;
  /** errno of the refusal when it cannot. */
  readonly errno?: string;
  /** Effective capabilities that matter to BPF (from /proc/self/status). */
  readonly capBpf: boolean;
  readonly capSysAdmin: boolean;
  readonly capPerfmon: boolean;
  readonly capNetAdmin: boolean;
}

let privileges: Privileges | undefined;

function capabilities(): bigint {
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'latin1'));
    return m ? BigInt(`0x${m[1]}`) : 0n;
  } catch {
    return 0n;
  }
}

/** Whether BPF objects can be created here: tries a map and a socket filter; caches the answer. */
export function probePrivileges(): Privileges {
  if (privileges) return privileges;
  const caps = capabilities();
  const cap = (bit: number) => (caps & (1n << BigInt(bit))) !== 0n;
  let err: KernelError | undefined;
  try {
    closeFd(smallArray());
    loadProg(BPF_PROG_TYPE.BPF_PROG_TYPE_SOCKET_FILTER, RETURN_0());
  } catch (e) {
    if (!isKernelError(e)) throw e;
    err = e;
  }
  privileges = { canLoad: !err, errno: err?.errnoName, capBpf: cap(39), capSysAdmin: cap(21), capPerfmon: cap(38), capNetAdmin: cap(12) };
  return privileges;
}

export interface SystemInfo {
  /** `uname -r` */
  readonly release: string;
  /** `uname -m` (x86_64, aarch64) */
  readonly machine: string;
  /** The kernel's LINUX_VERSION_CODE computed from the release (for kern_version). */
  readonly versionCode: number;
  /** Kernel lockdown mode ('none', 'integrity', 'confidentiality'), if the kernel reports it. */
  readonly lockdown?: string;
  /** Bytes per page (sysconf(_SC_PAGESIZE)): 4096 on x86_64, 4K/16K/64K on arm64. */
  readonly pageSize: number;
  /** Byte order of this machine (and so of its kernel). */
  readonly endianness: 'LE' | 'BE';
}

/** LINUX_VERSION_CODE of a release string ("6.18.44-fc" → 6<<16 | 18<<8 | 44, patch capped at 255). */
export function versionCode(release: string): number {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(release);
  if (!m) return 0;
  return (Number(m[1]) << 16) + (Number(m[2]) << 8) + Math.min(255, Number(m[3] ?? 0));
}

export function systemInfo(): SystemInfo {
  let lockdown: string | undefined;
  try {
    lockdown = /\[(\w+)\]/.exec(readFileSync('/sys/kernel/security/lockdown', 'latin1'))?.[1];
  } catch {
    lockdown = undefined;
  }
  return {
    release: os.release(),
    machine: os.machine(),
    versionCode: versionCode(os.release()),
    lockdown,
    pageSize: pageSize(),
    endianness: os.endianness(),
  };
}
