/**
 * Reading a map through KernelOps: open it by id or pin path, its info and BTF, and its
 * elements — BPF_MAP_LOOKUP_BATCH where the map type has batch ops, else BPF_MAP_GET_NEXT_KEY
 * and a lookup per key (as bpftool walks them). Per-CPU values come as one 8-byte-aligned slot
 * per possible CPU. Queues, stacks, ring buffers and local storage have no keys to walk: the
 * walk's error is returned, as bpftool reports it (`peekMap` reads a queue's head without
 * taking it).
 */
import { type Btf, parseBtf } from '../btf/btf';
import { type Fd, type KernelOps, type MapInfo, BPF_MAP_TYPE, isKernelError, KernelError } from '../kernel';

export type MapKernel = Pick<
  KernelOps,
  | 'getFdById'
  | 'objGet'
  | 'mapInfo'
  | 'btfInfo'
  | 'closeFd'
  | 'mapGetNextKey'
  | 'mapLookupElem'
  | 'mapLookupBatch'
  | 'mapUpdateElem'
  | 'mapDeleteElem'
  | 'possibleCpus'
  | 'kernelBtf'
>;

/** A map by id or by the path it is pinned at. */
export type MapRef = { readonly id: number; readonly pinned?: undefined } | { readonly pinned: string; readonly id?: undefined };

export interface OpenedMap {
  readonly fd: Fd;
  readonly info: MapInfo;
}

/** An FD and the info of a map (the FD is closed again when the info cannot be read). */
export function openMap(k: MapKernel, ref: MapRef): OpenedMap {
  const fd = ref.pinned !== undefined ? k.objGet(ref.pinned) : k.getFdById('map', ref.id);
  try {
    return { fd, info: k.mapInfo(fd) };
  } catch (e) {
    k.closeFd(fd);
    throw e;
  }
}

/** Runs `f` on an opened map and closes it after. */
export function withMap<T>(k: MapKernel, ref: MapRef, f: (m: OpenedMap) => T): T {
  const m = openMap(k, ref);
  try {
    return f(m);
  } finally {
    k.closeFd(m.fd);
  }
}

/** The map's BTF (its btf_id's blob, read through BTF_GET_FD_BY_ID), or undefined without one. */
export function mapBtf(k: MapKernel, info: MapInfo): Btf | undefined {
  if (!info.btfId) return undefined;
  const fd = k.getFdById('btf', info.btfId);
  let data: Uint8Array | undefined;
  try {
    data = k.btfInfo(fd, true).data;
  } finally {
    k.closeFd(fd);
  }
  if (!data) return undefined;
  try {
    return parseBtf(data);
  } catch (e) {
    // a module's split BTF starts past vmlinux's ids
    const base = k.kernelBtf().vmlinux;
    try {
      return parseBtf(data, { base });
    } catch {
      throw e;
    }
  }
}

const PERCPU = new Set<number>([
  BPF_MAP_TYPE.BPF_MAP_TYPE_PERCPU_HASH,
  BPF_MAP_TYPE.BPF_MAP_TYPE_PERCPU_ARRAY,
  BPF_MAP_TYPE.BPF_MAP_TYPE_LRU_PERCPU_HASH,
  BPF_MAP_TYPE.BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE,
]);

/** Map types whose values are per CPU (bpftool's map_is_per_cpu). */
export function isPerCpu(type: number): boolean {
  return PERCPU.has(type);
}

/** Prog arrays and maps of maps: lookups give ids, an empty slot is ENOENT. */
export function holdsIds(type: number): boolean {
  return (
    type === BPF_MAP_TYPE.BPF_MAP_TYPE_PROG_ARRAY ||
    type === BPF_MAP_TYPE.BPF_MAP_TYPE_ARRAY_OF_MAPS ||
    type === BPF_MAP_TYPE.BPF_MAP_TYPE_HASH_OF_MAPS
  );
}

/** Types with BPF_MAP_LOOKUP_BATCH (hash and array families); others walk keys. */
const BATCH = new Set<number>([
  BPF_MAP_TYPE.BPF_MAP_TYPE_HASH,
  BPF_MAP_TYPE.BPF_MAP_TYPE_PERCPU_HASH,
  BPF_MAP_TYPE.BPF_MAP_TYPE_LRU_HASH,
  BPF_MAP_TYPE.BPF_MAP_TYPE_LRU_PERCPU_HASH,
  BPF_MAP_TYPE.BPF_MAP_TYPE_ARRAY,
  BPF_MAP_TYPE.BPF_MAP_TYPE_PERCPU_ARRAY,
]);

/** Bytes of one value as user space sees it: per-CPU maps hold round_up(value_size, 8) per possible CPU. */
export function valueStride(info: MapInfo): number {
  return Math.ceil(info.valueSize / 8) * 8;
}
export function userValueSize(k: Pick<KernelOps, 'possibleCpus'>, info: MapInfo): number {
  return isPerCpu(info.type) ? valueStride(info) * k.possibleCpus() : info.valueSize;
}

export interface MapElement {
  readonly key: Uint8Array;
  /** Absent when the lookup failed (`errno`). */
  readonly value?: Uint8Array;
  readonly errno?: number;
}

export interface MapRead {
  readonly elements: MapElement[];
  /** The walk stopped on this error (queue/stack: EINVAL; ring buffer, storage maps: ENOTSUPP). */
  readonly error?: KernelError;
  /** More elements than `maxElements`. */
  readonly truncated: boolean;
  /** Read with BPF_MAP_LOOKUP_BATCH. */
  readonly batched: boolean;
}

export interface ReadOptions {
  /** Stop after this many elements (default: all). */
  readonly maxElements?: number;
  /** Use batch ops where the map type has them (default true). */
  readonly batch?: boolean;
}

/** Every element of an opened map. */
export function readMap(k: MapKernel, m: OpenedMap, opts: ReadOptions = {}): MapRead {
  const max = opts.maxElements ?? Infinity;
  if ((opts.batch ?? true) && BATCH.has(m.info.type)) {
    const r = readBatched(k, m, max);
    if (r) return r;
  }
  return readByKeys(k, m, max);
}

function readBatched(k: MapKernel, m: OpenedMap, max: number): MapRead | undefined {
  const vsize = userValueSize(k, m.info);
  const ks = m.info.keySize;
  const elements: MapElement[] = [];
  let count = Math.max(1, Math.min(m.info.maxEntries || 1, 1024));
  let cursor: Uint8Array | undefined;
  for (;;) {
    let b;
    try {
      b = k.mapLookupBatch(m.fd, ks, vsize, count, cursor);
    } catch (e) {
      if (isKernelError(e, 'ENOSPC') && count < 1 << 20) {
        count *= 2; // a hash bucket holds more than `count`
        continue;
      }
      // no batch ops for this map on this kernel: walk the keys instead
      if (cursor === undefined && (isKernelError(e, 'EINVAL') || isKernelError(e, 'ENOTSUPP') || isKernelError(e, 'EOPNOTSUPP')))
        return undefined;
      throw e;
    }
    for (let i = 0; i < b.count; i++) {
      if (elements.length >= max) return { elements, truncated: true, batched: true };
      // views into this call's buffers (each call has its own): no copy per element
      elements.push({ key: b.keys.subarray(i * ks, (i + 1) * ks), value: b.values.subarray(i * vsize, (i + 1) * vsize) });
    }
    if (!b.next) return { elements, truncated: false, batched: true };
    cursor = b.next;
  }
}

function readByKeys(k: MapKernel, m: OpenedMap, max: number): MapRead {
  const vsize = userValueSize(k, m.info);
  const elements: MapElement[] = [];
  let key: Uint8Array | undefined;
  for (;;) {
    let next: Uint8Array | undefined;
    try {
      next = k.mapGetNextKey(m.fd, key, m.info.keySize);
    } catch (e) {
      if (e instanceof KernelError) return { elements, error: e, truncated: false, batched: false };
      throw e;
    }
    if (!next) return { elements, truncated: false, batched: false };
    if (elements.length >= max) return { elements, truncated: true, batched: false };
    key = next;
    try {
      const value = k.mapLookupElem(m.fd, next, vsize);
      elements.push(value ? { key: next, value } : { key: next, errno: 2 });
    } catch (e) {
      if (!(e instanceof KernelError)) throw e;
      elements.push({ key: next, errno: e.errno });
    }
  }
}

/** A queue's or stack's next value without taking it (BPF_MAP_LOOKUP_ELEM with no key), or undefined when empty. */
export function peekMap(k: MapKernel, m: OpenedMap): Uint8Array | undefined {
  return k.mapLookupElem(m.fd, new Uint8Array(0), m.info.valueSize);
}
