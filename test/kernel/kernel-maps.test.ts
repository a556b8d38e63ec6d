// Maps through BPF Lens's own bpf(2) layer on the real kernel, cross-checked with bpftool.
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import { existsSync } from 'fs';
import { test } from 'node:test';
import * as path from 'path';
import {
  BPF_EXIST,
  BPF_F_RDONLY,
  BPF_MAP_TYPE,
  BPF_NOEXIST,
  KernelBtf,
  type KernelError,
  btfLoad,
  closeFd,
  getFdById,
  listIds,
  mapCreate,
  mapDeleteElem,
  mapFreeze,
  mapGetNextKey,
  mapInfo,
  mapKeys,
  mapLookupElem,
  mapUpdateElem,
  objGet,
  objPin,
  possibleCpus,
  userValueSize,
} from '../../server/src/kernel';
import { BtfBuilder, writeBtf } from '../../server/src/btf/write';
import { BTF_INT_SIGNED } from '../../server/src/btf/types';
import { bpffsDir, readU32, readU64, u32, u64 } from './kernel-env';

const T = BPF_MAP_TYPE;

test('hash map: update, lookup, NOEXIST/EXIST flags, delete, iterate all keys, info', () => {
  const fd = mapCreate({ map_type: T.BPF_MAP_TYPE_HASH, key_size: 4, value_size: 8, max_entries: 64, map_name: 'lens_hash' });
  try {
    for (let k = 0; k < 40; k++) mapUpdateElem(fd, u32(k * 7), u64(BigInt(k) * 1000n));
    assert.equal(readU64(mapLookupElem(fd, u32(21), 8)!), 3000n);
    assert.equal(mapLookupElem(fd, u32(22), 8), undefined);
    assert.throws(
      () => mapUpdateElem(fd, u32(21), u64(1n), BPF_NOEXIST),
      (e: KernelError) => e.errnoName === 'EEXIST' && e.command === 'BPF_MAP_UPDATE_ELEM',
    );
    assert.throws(
      () => mapUpdateElem(fd, u32(5), u64(1n), BPF_EXIST),
      (e: KernelError) => e.errnoName === 'ENOENT',
    );
    const keys = [...mapKeys(fd, 4)].map((k) => readU32(k)).sort((a, b) => a - b);
    assert.deepEqual(
      keys,
      Array.from({ length: 40 }, (_, k) => k * 7),
    );
    assert.equal(mapDeleteElem(fd, u32(21)), true);
    assert.equal(mapDeleteElem(fd, u32(21)), false);
    assert.equal([...mapKeys(fd, 4)].length, 39);
    const info = mapInfo(fd);
    assert.deepEqual([info.type, info.keySize, info.valueSize, info.maxEntries, info.name], [T.BPF_MAP_TYPE_HASH, 4, 8, 64, 'lens_hash']);
    assert.ok(listIds('map').includes(info.id));
    // bpftool sees the same map and the same values.
    const show = JSON.parse(spawnSync('bpftool', ['-j', 'map', 'show', 'id', String(info.id)], { encoding: 'utf8' }).stdout);
    assert.deepEqual([show.name, show.bytes_key, show.bytes_value, show.max_entries], ['lens_hash', 4, 8, 64]);
    const dump = JSON.parse(spawnSync('bpftool', ['-j', 'map', 'dump', 'id', String(info.id)], { encoding: 'utf8' }).stdout);
    assert.equal(dump.length, 39);
  } finally {
    closeFd(fd);
  }
});

test('array map: every index exists, get_next_key walks 0..n-1, delete is refused', () => {
  const fd = mapCreate({ map_type: T.BPF_MAP_TYPE_ARRAY, key_size: 4, value_size: 4, max_entries: 5 });
  try {
    mapUpdateElem(fd, u32(3), u32(0xdeadbeef));
    assert.equal(readU32(mapLookupElem(fd, u32(3), 4)!), 0xdeadbeef);
    assert.equal(readU32(mapLookupElem(fd, u32(0), 4)!), 0);
    assert.equal(mapLookupElem(fd, u32(5), 4), undefined);
    assert.deepEqual(
      [...mapKeys(fd, 4)].map((k) => readU32(k)),
      [0, 1, 2, 3, 4],
    );
    assert.equal(mapGetNextKey(fd, u32(4), 4), undefined);
    assert.throws(
      () => mapDeleteElem(fd, u32(1)),
      (e: KernelError) => e.errnoName === 'EINVAL',
    );
  } finally {
    closeFd(fd);
  }
});

test('per-CPU array: one 8-byte-aligned slot per possible CPU', () => {
  const fd = mapCreate({ map_type: T.BPF_MAP_TYPE_PERCPU_ARRAY, key_size: 4, value_size: 4, max_entries: 2 });
  try {
    const cpus = possibleCpus();
    const size = userValueSize(T.BPF_MAP_TYPE_PERCPU_ARRAY, 4);
    assert.equal(size, 8 * cpus);
    const value = Buffer.alloc(size);
    for (let c = 0; c < cpus; c++) value.writeUInt32LE(100 + c, 8 * c);
    mapUpdateElem(fd, u32(1), value);
    const back = Buffer.from(mapLookupElem(fd, u32(1), size)!);
    for (let c = 0; c < cpus; c++) assert.equal(back.readUInt32LE(8 * c), 100 + c);
  } finally {
    closeFd(fd);
  }
});

test('ringbuf: created with a page-multiple size; a bad size is EINVAL', () => {
  const fd = mapCreate({ map_type: T.BPF_MAP_TYPE_RINGBUF, key_size: 0, value_size: 0, max_entries: 4096 * 4 });
  try {
    assert.equal(mapInfo(fd).maxEntries, 16384);
  } finally {
    closeFd(fd);
  }
  assert.throws(
    () => mapCreate({ map_type: T.BPF_MAP_TYPE_RINGBUF, key_size: 0, value_size: 0, max_entries: 5000, map_name: 'bad_rb' }),
    (e: KernelError) => e.errnoName === 'EINVAL' && e.command === 'BPF_MAP_CREATE' && e.message.includes('map "bad_rb"'),
  );
});

test('freeze: user-space writes fail with EPERM afterwards, reads still work', () => {
  const fd = mapCreate({ map_type: T.BPF_MAP_TYPE_ARRAY, key_size: 4, value_size: 4, max_entries: 1 });
  try {
    mapUpdateElem(fd, u32(0), u32(7));
    mapFreeze(fd);
    assert.throws(
      () => mapUpdateElem(fd, u32(0), u32(8)),
      (e: KernelError) => e.errnoName === 'EPERM' && e.isPermission,
    );
    assert.equal(readU32(mapLookupElem(fd, u32(0), 4)!), 7);
  } finally {
    closeFd(fd);
  }
});

test('pin and get: the pinned map is the same map (by id), read-only get refuses updates', () => {
  const { dir, done } = bpffsDir('maps');
  const fd = mapCreate({ map_type: T.BPF_MAP_TYPE_HASH, key_size: 4, value_size: 4, max_entries: 4, map_name: 'lens_pin' });
  try {
    const pin = path.join(dir, 'lens_pin');
    objPin(fd, pin);
    assert.ok(existsSync(pin));
    assert.throws(
      () => objPin(fd, pin),
      (e: KernelError) => e.errnoName === 'EEXIST',
    );
    const again = objGet(pin);
    const ro = objGet(pin, BPF_F_RDONLY);
    try {
      assert.equal(mapInfo(again).id, mapInfo(fd).id);
      mapUpdateElem(again, u32(1), u32(11));
      assert.equal(readU32(mapLookupElem(fd, u32(1), 4)!), 11);
      assert.throws(
        () => mapUpdateElem(ro, u32(1), u32(12)),
        (e: KernelError) => e.isPermission,
      );
      // And by id.
      const byId = getFdById('map', mapInfo(fd).id);
      assert.equal(readU32(mapLookupElem(byId, u32(1), 4)!), 11);
      closeFd(byId);
    } finally {
      closeFd(again);
      closeFd(ro);
    }
    assert.throws(
      () => objGet(path.join(dir, 'nothing')),
      (e: KernelError) => e.errnoName === 'ENOENT' && e.command === 'BPF_OBJ_GET',
    );
  } finally {
    closeFd(fd);
    done();
  }
  assert.equal(existsSync(dir), false);
});

test('struct_ops map: created from the kernel type id (btf_vmlinux_value_type_id), info reports it', () => {
  const k = KernelBtf.open();
  // The kernel wants the object's own BTF beside the vmlinux type id (any valid BTF FD).
  const b = new BtfBuilder();
  b.add({ kind: 'INT', name: 'int', nameOff: 0, kindFlag: false, size: 4, encoding: BTF_INT_SIGNED, bitsOffset: 0, bits: 32 });
  const btf = btfLoad(writeBtf(b.build())).fd;
  try {
    const value = k.vmlinux.find('STRUCT', 'bpf_struct_ops_tcp_congestion_ops');
    assert.ok(value && value.kind === 'STRUCT');
    const fd = mapCreate({
      map_type: T.BPF_MAP_TYPE_STRUCT_OPS,
      key_size: 4,
      value_size: value.size,
      max_entries: 1,
      btf_fd: btf,
      btf_vmlinux_value_type_id: value.id,
      map_name: 'lens_cc',
    });
    try {
      const info = mapInfo(fd);
      assert.deepEqual([info.type, info.btfVmlinuxValueTypeId, info.valueSize], [T.BPF_MAP_TYPE_STRUCT_OPS, value.id, value.size]);
    } finally {
      closeFd(fd);
    }
    // A wrong value size is refused by the kernel, not by us.
    assert.throws(
      () =>
        mapCreate({
          map_type: T.BPF_MAP_TYPE_STRUCT_OPS,
          key_size: 4,
          value_size: value.size + 8,
          max_entries: 1,
          btf_fd: btf,
          btf_vmlinux_value_type_id: value.id,
        }),
      (e: KernelError) => e.errnoName === 'EINVAL',
    );
  } finally {
    closeFd(btf);
    k.close();
  }
});
