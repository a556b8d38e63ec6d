/**
 * How libbpf adjusts a map's spec before BPF_MAP_CREATE (nothing here creates a map; that is
 * load/maps.ts through the kernel layer), beyond the definition: ring buffer sizes rounded
 * up to a power-of-two multiple of the page size, PERF_EVENT_ARRAY max_entries 0 meaning one
 * slot per possible CPU, and the map types it creates without BTF key/value type ids.
 * Pure: the caller gives the target's CPU count and page size.
 */
import { BPF_MAP_TYPE as T } from '../common/uapi';
import type { BpfMap } from './model';

/** Facts about the target that map creation depends on. */
export interface MapCreateEnv {
  /** Possible CPUs (/sys/devices/system/cpu/possible), not online ones. */
  readonly nrCpus: number;
  readonly pageSize: number;
}

/** libbpf's adjust_ringbuf_sz: 0 stays 0 (so the kernel reports the mistake). */
export function ringbufSize(size: number, pageSize: number): number {
  if (size === 0) return 0;
  for (let mul = 1; mul * pageSize <= 0xffffffff; mul *= 2) {
    if (mul * pageSize >= size) return mul * pageSize;
  }
  return size;
}

/** max_entries as libbpf passes it to BPF_MAP_CREATE. */
export function createMaxEntries(map: Pick<BpfMap, 'typeId' | 'maxEntries'>, env: MapCreateEnv): number {
  if (map.typeId === T.BPF_MAP_TYPE_RINGBUF || map.typeId === T.BPF_MAP_TYPE_USER_RINGBUF) return ringbufSize(map.maxEntries, env.pageSize);
  if (map.typeId === T.BPF_MAP_TYPE_PERF_EVENT_ARRAY && map.maxEntries === 0) return env.nrCpus;
  return map.maxEntries;
}

/** Map types libbpf creates without btf_key_type_id/btf_value_type_id (by BPF_MAP_TYPE_* value). */
export const CREATED_WITHOUT_BTF: ReadonlySet<number> = new Set<number>([
  T.BPF_MAP_TYPE_PERF_EVENT_ARRAY,
  T.BPF_MAP_TYPE_CGROUP_ARRAY,
  T.BPF_MAP_TYPE_STACK_TRACE,
  T.BPF_MAP_TYPE_ARRAY_OF_MAPS,
  T.BPF_MAP_TYPE_HASH_OF_MAPS,
  T.BPF_MAP_TYPE_DEVMAP,
  T.BPF_MAP_TYPE_DEVMAP_HASH,
  T.BPF_MAP_TYPE_CPUMAP,
  T.BPF_MAP_TYPE_XSKMAP,
  T.BPF_MAP_TYPE_SOCKMAP,
  T.BPF_MAP_TYPE_SOCKHASH,
  T.BPF_MAP_TYPE_QUEUE,
  T.BPF_MAP_TYPE_STACK,
  T.BPF_MAP_TYPE_ARENA,
]);

/** Possible-CPU count from the text of /sys/devices/system/cpu/possible (`0-3`, `0,2-5`). */
export function parseCpuList(text: string): number {
  let n = 0;
  for (const part of text.trim().split(',')) {
    if (!part) continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new Error(`bad CPU list '${text.trim()}'`);
    n += m[2] !== undefined ? Number(m[2]) - Number(m[1]) + 1 : 1;
  }
  return n;
}

/** iproute2's `struct bpf_elf_map` pinning value for maps shared by every object (tc's globals). */
export const PIN_GLOBAL_NS = 2;

/**
 * Where a map pinned by name goes: `<root>/<map name>` as libbpf's LIBBPF_PIN_BY_NAME, or
 * `<root>/tc/globals/<map name>` for an iproute2 map with PIN_GLOBAL_NS, as tc pins it
 * (root /sys/fs/bpf by default).
 */
export function pinPath(map: Pick<BpfMap, 'name' | 'pinning' | 'iproute2'>, root = '/sys/fs/bpf'): string | undefined {
  if (map.pinning !== 'by_name') return undefined;
  const dir = root.replace(/\/+$/, '');
  return map.iproute2?.pinning === PIN_GLOBAL_NS ? `${dir}/tc/globals/${map.name}` : `${dir}/${map.name}`;
}
