// BTF through the kernel layer: hand-built BTF loaded and read back by id, the BTF checker's
// log on a refusal, and the kernel BTF index (vmlinux + modules) against /sys/kernel/btf.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'fs';
import { test } from 'node:test';
import { parseBtf } from '../../server/src/btf/btf';
import { BtfBuilder, writeBtf } from '../../server/src/btf/write';
import { BTF_INT_SIGNED, BTF_VAR_GLOBAL_ALLOCATED } from '../../server/src/btf/types';
import { KernelBtf, KernelError, btfInfo, btfLoad, closeFd, getFdById, listIds } from '../../server/src/kernel';
import { openFds } from './kernel-env';

function sampleBtf(): Uint8Array {
  const b = new BtfBuilder();
  const int = b.add({ kind: 'INT', name: 'int', nameOff: 0, kindFlag: false, size: 4, encoding: BTF_INT_SIGNED, bitsOffset: 0, bits: 32 });
  const s = b.add({
    kind: 'STRUCT',
    name: 'lens_pair',
    nameOff: 0,
    kindFlag: false,
    size: 8,
    members: [
      { name: 'a', nameOff: 0, type: int, bitsOffset: 0, bitfieldSize: 0 },
      { name: 'b', nameOff: 0, type: int, bitsOffset: 32, bitfieldSize: 0 },
    ],
  });
  const v = b.add({ kind: 'VAR', name: 'lens_var', nameOff: 0, kindFlag: false, type: s, linkage: BTF_VAR_GLOBAL_ALLOCATED });
  b.add({ kind: 'DATASEC', name: '.data', nameOff: 0, kindFlag: false, size: 8, vars: [{ type: v, offset: 0, size: 8 }] });
  b.add({
    kind: 'ENUM64',
    name: 'lens_big',
    nameOff: 0,
    kindFlag: false,
    size: 8,
    values: [{ name: 'LENS_BIG', nameOff: 0, value: 1n << 40n }],
  });
  return writeBtf(b.build());
}

test('hand-built BTF loads; read back by id it is byte-identical and parses to the same types', () => {
  const bytes = sampleBtf();
  const loaded = btfLoad(bytes, { log: { level: 1 } });
  try {
    const info = btfInfo(loaded.fd, true);
    assert.equal(info.kernelBtf, false);
    assert.equal(info.name, '');
    assert.equal(info.btfSize, bytes.length);
    assert.ok(listIds('btf').includes(info.id));
    const again = getFdById('btf', info.id);
    try {
      const back = btfInfo(again, true).data!;
      assert.deepEqual(back, bytes);
      const btf = parseBtf(back);
      assert.equal(btf.find('STRUCT', 'lens_pair')?.kind, 'STRUCT');
      assert.equal(btf.find('ENUM64', 'lens_big')?.kind, 'ENUM64');
    } finally {
      closeFd(again);
    }
  } finally {
    closeFd(loaded.fd);
  }
});

test('BTF the kernel refuses: KernelError from BPF_BTF_LOAD with the checker log naming the type', () => {
  const b = new BtfBuilder();
  // A struct whose member points at a type id that does not exist.
  b.add({
    kind: 'STRUCT',
    name: 'lens_broken',
    nameOff: 0,
    kindFlag: false,
    size: 4,
    members: [{ name: 'x', nameOff: 0, type: 99, bitsOffset: 0, bitfieldSize: 0 }],
  });
  assert.throws(
    () => btfLoad(writeBtf(b.build())),
    (e: unknown) => {
      assert.ok(e instanceof KernelError);
      assert.equal(e.command, 'BPF_BTF_LOAD');
      assert.equal(e.errnoName, 'EINVAL');
      assert.match(e.log ?? '', /lens_broken/);
      assert.match(e.log ?? '', /Invalid member/);
      return true;
    },
  );
});

test('kernel BTF index: vmlinux first, module names match /sys/kernel/btf, blobs via FD equal the files', () => {
  const before = openFds();
  const k = KernelBtf.open();
  try {
    assert.equal(k.objects[0].name, 'vmlinux');
    const files = readdirSync('/sys/kernel/btf')
      .filter((n) => n !== 'vmlinux')
      .sort();
    assert.deepEqual(k.moduleNames, files);
    assert.equal(k.objects[0].size, readFileSync('/sys/kernel/btf/vmlinux').length);
    assert.ok(k.vmlinux.find('STRUCT', 'task_struct'));
    // Without sysfs files the blobs come from the kernel through BTF FDs: same bytes.
    const viaFd = KernelBtf.open({ sysfsDir: '/nonexistent' });
    assert.equal(viaFd.vmlinux.length, k.vmlinux.length);
    for (const name of files.slice(0, 3)) assert.equal(viaFd.module(name)!.length, k.module(name)!.length);
    const fd = k.fd('vmlinux');
    assert.equal(k.fd('vmlinux'), fd);
    const info = btfInfo(fd);
    assert.deepEqual([info.name, info.kernelBtf, info.id], ['vmlinux', true, k.objects[0].id]);
    assert.equal(k.all().length, 1 + files.length);
    assert.equal(k.module('no_such_module'), undefined);
  } finally {
    k.close();
  }
  assert.equal(openFds(), before, 'FDs left open');
});
