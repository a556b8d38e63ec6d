/**
 * Creating an object's maps, as libbpf's bpf_object__create_maps: the create attributes (BTF
 * key/value ids except for types created without them, libbpf's ring buffer and perf array
 * sizes, the inner map of a map-in-map, struct_ops value types from vmlinux or a module),
 * a retry without BTF when the kernel refuses the BTF, reuse of a compatible pinned map, the
 * real FD dup3-ed onto the placeholder the instructions already hold, data maps filled and
 * `.rodata`/`.kconfig` frozen.
 */
import { isKernelError, PROT_READ, PROT_WRITE, type Fd, type KernelOps, type MapCreateAttr } from '../kernel';
import { BPF_F_MMAPABLE, BPF_F_RDONLY_PROG, BPF_F_VTYPE_BTF_OBJ_FD, BPF_MAP_TYPE } from '../common/uapi';
import { CREATED_WITHOUT_BTF, createMaxEntries, pinPath } from '../object';
import type { BpfMap } from '../object/model';
import { type PinJournal, pinMismatch } from './pin';
import type { StructOpsPlan } from './struct-ops';
import { LoadError } from './types';

export interface MapEnv {
  readonly kernel: KernelOps;
  readonly btfFd?: Fd;
  readonly nrCpus: number;
  readonly pageSize: number;
  /** Map names are given to the kernel (feature prog_name). */
  readonly names: boolean;
  /** BPF_F_MMAPABLE arrays are supported (feature array_mmap). */
  readonly mmap: boolean;
  readonly pinRoot: string;
  readonly journal: PinJournal;
  /** struct_ops plans by map name. */
  readonly structOps: ReadonlyMap<string, StructOpsPlan>;
  /** FD of a kernel BTF object by name (module struct_ops types). */
  readonly kernelBtfFd: (name: string) => Fd;
}

export interface CreatedMap {
  readonly map: BpfMap;
  /** The placeholder FD, now the map. */
  readonly fd: Fd;
  readonly attr: MapCreateAttr;
  readonly reused: boolean;
  readonly pinnedAt?: string;
}

/**
 * Puts the real map on the placeholder's FD number, keeping close-on-exec (dup2 would clear it
 * and child processes would inherit, and keep alive, every map): dup3 with O_CLOEXEC, as libbpf.
 */
function reuseFd(k: KernelOps, real: Fd, placeholder: Fd, context: string): void {
  k.dup3(real, placeholder, undefined, context);
}

/** BPF_MAP_CREATE attributes for a map (without BTF when `withBtf` is false). */
export function mapCreateAttr(map: BpfMap, env: MapEnv, withBtf = true): MapCreateAttr {
  let flags = map.flags;
  if (!env.mmap) flags &= ~BPF_F_MMAPABLE;
  const btf = withBtf && env.btfFd !== undefined && !CREATED_WITHOUT_BTF.has(map.typeId) && map.kind !== 'struct_ops';
  const base: MapCreateAttr = {
    map_type: map.typeId,
    key_size: map.keySize,
    value_size: map.valueSize,
    max_entries: createMaxEntries(map, env),
    map_flags: flags,
    numa_node: map.numaNode,
    map_extra: map.mapExtra,
    ...(env.names ? { map_name: map.kernelName.slice(0, 15) } : {}),
    ...(btf ? { btf_fd: env.btfFd, btf_key_type_id: map.keyTypeId ?? 0, btf_value_type_id: map.valueTypeId ?? 0 } : {}),
  };
  if (map.kind !== 'struct_ops') return base;
  const plan = env.structOps.get(map.name);
  if (!plan) throw new LoadError(`struct_ops map '${map.name}': no kernel type found for it`, 'maps');
  const k = plan.kernel;
  const module = k.btfName !== 'vmlinux';
  return {
    ...base,
    value_size: k.valueSize,
    btf_vmlinux_value_type_id: k.valueTypeId,
    ...(env.btfFd !== undefined ? { btf_fd: env.btfFd } : {}),
    ...(module ? { value_type_btf_obj_fd: env.kernelBtfFd(k.btfName), map_flags: flags | BPF_F_VTYPE_BTF_OBJ_FD } : {}),
  };
}

function mapError(map: BpfMap, what: string, e: unknown): LoadError {
  const why = isKernelError(e) ? `${e.command} failed: ${e.errnoName}${e.hint ? ` — ${e.hint}` : ''}` : (e as Error).message;
  return new LoadError(`map '${map.name}': ${what}: ${why}`, 'maps', { cause: e });
}

/** Creates (or reuses) one map onto `placeholder`. `data`: initial value for internal maps. */
export function createMap(map: BpfMap, placeholder: Fd, env: MapEnv, data?: Uint8Array): CreatedMap {
  const k = env.kernel;
  const attr = mapCreateAttr(map, env);
  const path = pinPath(map, env.pinRoot);
  if (path) {
    let fd: Fd | undefined;
    try {
      fd = k.objGet(path);
    } catch (e) {
      if (!isKernelError(e, 'ENOENT')) throw mapError(map, `cannot open the pinned map at ${path}`, e);
    }
    if (fd !== undefined) {
      try {
        const diff = pinMismatch(k.mapInfo(fd), attr);
        if (diff) throw new LoadError(`map '${map.name}': the map pinned at ${path} is not compatible: ${diff}`, 'maps');
        reuseFd(k, fd, placeholder, `map "${map.name}"`);
      } finally {
        k.closeFd(fd);
      }
      return { map, fd: placeholder, attr, reused: true, pinnedAt: path };
    }
  }
  let inner: Fd | undefined;
  let real: Fd;
  try {
    if (map.typeId === BPF_MAP_TYPE.BPF_MAP_TYPE_ARRAY_OF_MAPS || map.typeId === BPF_MAP_TYPE.BPF_MAP_TYPE_HASH_OF_MAPS) {
      if (!map.innerMap)
        throw new LoadError(`map '${map.name}': a map-in-map needs its inner map's definition (__array(values, struct {...}))`, 'maps');
      try {
        inner = k.mapCreate(mapCreateAttr(map.innerMap, env), `inner map of "${map.name}"`);
      } catch (e) {
        throw mapError(map, 'creating its inner map template', e);
      }
    }
    const full = inner !== undefined ? { ...attr, inner_map_fd: inner } : attr;
    try {
      real = k.mapCreate(full, `map "${map.name}"`);
    } catch (e) {
      // libbpf: a kernel that refuses the BTF may still take the map without it
      if (!full.btf_key_type_id && !full.btf_value_type_id) throw mapError(map, 'cannot create it', e);
      const bare = mapCreateAttr(map, env, false);
      try {
        real = k.mapCreate(inner !== undefined ? { ...bare, inner_map_fd: inner } : bare, `map "${map.name}"`);
      } catch {
        throw mapError(map, 'cannot create it', e);
      }
    }
  } finally {
    if (inner !== undefined) k.closeFd(inner);
  }
  try {
    reuseFd(k, real, placeholder, `map "${map.name}"`);
  } finally {
    k.closeFd(real);
  }
  if (map.typeId === BPF_MAP_TYPE.BPF_MAP_TYPE_ARENA) mapArena(map, placeholder, env);
  if (data && map.kind !== 'struct_ops') {
    try {
      k.mapUpdateElem(placeholder, new Uint8Array(4), data);
      if (map.flags & BPF_F_RDONLY_PROG) k.mapFreeze(placeholder, `map "${map.name}"`);
    } catch (e) {
      throw mapError(map, 'filling its initial value', e);
    }
  }
  return { map, fd: placeholder, attr, reused: false, ...(path ? { pinnedAt: path } : {}) };
}

/**
 * libbpf maps every ARENA map it creates, at map_extra when given (the arena's user address is
 * then set: the verifier refuses programs using an arena without one) and copies the `__arena`
 * globals to its start. The pages stay in the arena after the mapping goes.
 */
function mapArena(map: BpfMap, fd: Fd, env: MapEnv): void {
  const k = env.kernel;
  let m;
  try {
    m = k.mmapFd(fd, env.pageSize * map.maxEntries, PROT_READ | PROT_WRITE, 0, `arena "${map.name}"`, map.mapExtra || undefined);
  } catch (e) {
    throw mapError(map, 'mapping the arena', e);
  }
  try {
    if (map.initialData) new Uint8Array(m.bytes).set(map.initialData);
  } finally {
    m.unmap();
  }
}
