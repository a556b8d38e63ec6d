// Map commands: create, element lookup/update/delete, key iteration, freeze.
import { readFileSync } from 'fs';
import { type MapCreateAttr, MAP_BATCH_LAYOUT, encodeMapBatch, encodeMapCreate, encodeMapElem } from './attr/map';
import { readU32 } from './attr/layout';
import { KernelError, isKernelError } from './errors';
import { type Fd, addressOf, bpf } from './sys';
import { BPF_ANY, BPF_CMD, BPF_MAP_TYPE } from '../common/uapi';

export type { MapCreateAttr } from './attr/map';

/** BPF_MAP_CREATE: a new map's FD. `context` names the map in errors. */
export function mapCreate(attr: MapCreateAttr, context = attr.map_name ? `map "${attr.map_name}"` : ''): Fd {
  return bpf(BPF_CMD.BPF_MAP_CREATE, encodeMapCreate(attr), context);
}

/** BPF_MAP_LOOKUP_ELEM: the value bytes, or undefined when the key is absent (ENOENT). */
export function mapLookupElem(fd: Fd, key: Uint8Array, valueSize: number, flags = 0): Uint8Array | undefined {
  const k = Buffer.from(key);
  const v = Buffer.alloc(valueSize);
  try {
    bpf(BPF_CMD.BPF_MAP_LOOKUP_ELEM, encodeMapElem({ map_fd: fd, key: addressOf(k), value: addressOf(v), flags }));
  } catch (e) {
    if (isKernelError(e, 'ENOENT')) return undefined;
    throw e;
  }
  return new Uint8Array(v);
}

/** BPF_MAP_UPDATE_ELEM with BPF_ANY / BPF_NOEXIST / BPF_EXIST (| BPF_F_LOCK). */
export function mapUpdateElem(fd: Fd, key: Uint8Array, value: Uint8Array, flags = BPF_ANY): void {
  const k = Buffer.from(key);
  const v = Buffer.from(value);
  bpf(BPF_CMD.BPF_MAP_UPDATE_ELEM, encodeMapElem({ map_fd: fd, key: addressOf(k), value: addressOf(v), flags }));
}

/** BPF_MAP_DELETE_ELEM: false when the key was absent. */
export function mapDeleteElem(fd: Fd, key: Uint8Array): boolean {
  const k = Buffer.from(key);
  try {
    bpf(BPF_CMD.BPF_MAP_DELETE_ELEM, encodeMapElem({ map_fd: fd, key: addressOf(k) }));
    return true;
  } catch (e) {
    if (isKernelError(e, 'ENOENT')) return false;
    throw e;
  }
}

/** BPF_MAP_GET_NEXT_KEY: the key after `key` (the first key when undefined), or undefined at the end. */
export function mapGetNextKey(fd: Fd, key: Uint8Array | undefined, keySize: number): Uint8Array | undefined {
  const k = key ? Buffer.from(key) : undefined;
  const next = Buffer.alloc(keySize);
  try {
    bpf(BPF_CMD.BPF_MAP_GET_NEXT_KEY, encodeMapElem({ map_fd: fd, key: addressOf(k), next_key: addressOf(next) }));
  } catch (e) {
    if (isKernelError(e, 'ENOENT')) return undefined;
    throw e;
  }
  return new Uint8Array(next);
}

/** Every key of a map, in the kernel's order. A key deleted meanwhile may restart a hash walk, as with bpftool. */
export function* mapKeys(fd: Fd, keySize: number): Generator<Uint8Array> {
  let key: Uint8Array | undefined;
  for (;;) {
    key = mapGetNextKey(fd, key, keySize);
    if (!key) return;
    yield key;
  }
}

/** One BPF_MAP_LOOKUP_BATCH call's result: `count` keys and values, and the cursor for the next call. */
export interface MapBatch {
  readonly keys: Uint8Array;
  readonly values: Uint8Array;
  readonly count: number;
  /** Pass to the next call; undefined when the map has no more elements (the kernel said ENOENT). */
  readonly next?: Uint8Array;
}

/**
 * BPF_MAP_LOOKUP_BATCH: up to `count` elements after the cursor `inBatch` (from the start when
 * undefined). `valueSize` is the user-space size (per-CPU: userValueSize). The cursor is opaque:
 * a bucket or index the kernel writes, up to a key's size. Throws the kernel's error (EINVAL or
 * ENOTSUPP where the map type has no batch ops, ENOSPC when a hash bucket holds more than `count`).
 */
export function mapLookupBatch(fd: Fd, keySize: number, valueSize: number, count: number, inBatch?: Uint8Array): MapBatch {
  const cursor = Math.max(keySize, 8);
  const inBuf = inBatch ? Buffer.from(inBatch) : undefined;
  const out = Buffer.alloc(cursor);
  const keys = Buffer.alloc(keySize * count);
  const values = Buffer.alloc(valueSize * count);
  const attr = encodeMapBatch({
    in_batch: addressOf(inBuf),
    out_batch: addressOf(out),
    keys: addressOf(keys),
    values: addressOf(values),
    count,
    map_fd: fd,
  });
  let done = false;
  try {
    bpf(BPF_CMD.BPF_MAP_LOOKUP_BATCH, attr);
  } catch (e) {
    if (!isKernelError(e, 'ENOENT')) throw e;
    done = true;
  }
  const n = readU32(attr, MAP_BATCH_LAYOUT.field('count'));
  return {
    keys: new Uint8Array(keys.subarray(0, n * keySize)),
    values: new Uint8Array(values.subarray(0, n * valueSize)),
    count: n,
    ...(done ? {} : { next: new Uint8Array(out) }),
  };
}

/** BPF_MAP_FREEZE: no more writes from user space (`.rodata` after it is filled). */
export function mapFreeze(fd: Fd, context = ''): void {
  bpf(BPF_CMD.BPF_MAP_FREEZE, encodeMapElem({ map_fd: fd }), context);
}

let possible: number | undefined;

/** Number of possible CPUs (`/sys/devices/system/cpu/possible`, e.g. "0-3"). */
export function possibleCpus(): number {
  if (possible !== undefined) return possible;
  const text = readFileSync('/sys/devices/system/cpu/possible', 'latin1').trim();
  let n = 0;
  for (const part of text.split(',')) {
    const [a, b] = part.split('-').map(Number);
    n += (b ?? a) - a + 1;
  }
  if (!(n > 0)) throw new KernelError('possible CPUs', 22, `cannot parse "${text}"`);
  return (possible = n);
}

const PERCPU = new Set<number>([
  BPF_MAP_TYPE.BPF_MAP_TYPE_PERCPU_HASH,
  BPF_MAP_TYPE.BPF_MAP_TYPE_PERCPU_ARRAY,
  BPF_MAP_TYPE.BPF_MAP_TYPE_LRU_PERCPU_HASH,
  BPF_MAP_TYPE.BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE,
]);

/** Size of the user-space value buffer: per-CPU maps hold one 8-byte-aligned slot per possible CPU. */
export function userValueSize(mapType: number, valueSize: number): number {
  return PERCPU.has(mapType) ? Math.ceil(valueSize / 8) * 8 * possibleCpus() : valueSize;
}
