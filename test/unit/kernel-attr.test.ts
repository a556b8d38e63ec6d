// The pure half of the kernel layer: bpf_attr encoding rules and errno naming, no syscalls.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAP_CREATE_LAYOUT, MAP_ELEM_LAYOUT, encodeMapCreate, encodeMapElem } from '../../server/src/kernel/attr/map';
import { LINK_CREATE_LAYOUT, encodeLinkCreate } from '../../server/src/kernel/attr/link';
import { encodeProgLoad } from '../../server/src/kernel/attr/prog';
import { defineLayout } from '../../server/src/kernel/attr/layout';
import { KernelError, errnoName, errnoNumber } from '../../server/src/kernel/errors';
import { sysBpfNumber } from '../../server/src/kernel/sys';

test('MAP_CREATE: fields land at their offsets, the rest stays zero; names keep their NUL', () => {
  const a = encodeMapCreate({
    map_type: 1,
    key_size: 4,
    value_size: 8,
    max_entries: 10,
    map_name: 'abcdefghijklmno',
    map_extra: 1n << 40n,
    value_type_btf_obj_fd: -1,
  });
  assert.equal(a.length, MAP_CREATE_LAYOUT.size);
  assert.equal(a.readUInt32LE(0), 1);
  assert.equal(a.readUInt32LE(12), 10);
  assert.equal(a.toString('latin1', 28, 43), 'abcdefghijklmno');
  assert.equal(a[43], 0);
  assert.equal(a.readBigUInt64LE(MAP_CREATE_LAYOUT.field('map_extra').offset), 1n << 40n);
  assert.equal(a.readInt32LE(MAP_CREATE_LAYOUT.field('value_type_btf_obj_fd').offset), -1);
  assert.equal(a.readUInt32LE(MAP_CREATE_LAYOUT.field('btf_fd').offset), 0);
  assert.throws(
    () => encodeMapCreate({ map_type: 1, key_size: 4, value_size: 4, max_entries: 1, map_name: 'sixteen_chars_xx' }),
    RangeError,
  );
});

test('unions: next_key shares value, attach_btf_obj_fd shares attach_prog_fd, target_ifindex shares target_fd', () => {
  assert.equal(MAP_ELEM_LAYOUT.field('next_key').offset, MAP_ELEM_LAYOUT.field('value').offset);
  assert.equal(encodeMapElem({ map_fd: 3, key: 0x1000n, next_key: 0x2000n }).readBigUInt64LE(16), 0x2000n);
  assert.throws(
    () => encodeProgLoad({ prog_type: 1, insn_cnt: 1, insns: 1n, license: 1n, attach_prog_fd: 3, attach_btf_obj_fd: 4 }),
    /share one field/,
  );
  assert.throws(() => encodeLinkCreate({ prog_fd: 1, target_fd: 2, target_ifindex: 3, attach_type: 0 }), /share one field/);
  assert.equal(encodeLinkCreate({ prog_fd: 1, target_ifindex: 7, attach_type: 37 }).readUInt32LE(4), 7);
  // The per-type tail: tracing.cookie follows tracing.target_btf_id in its own struct.
  assert.equal(LINK_CREATE_LAYOUT.field('tracing.cookie').offset, 24);
});

test('defineLayout: natural alignment, branch cursors, unknown `at` refused', () => {
  const l = defineLayout('t', 'struct t', '', [
    ['a', 'u32'],
    ['b', 'u64'],
    ['c', 'u32', { at: 'b' }],
    ['d', 'u64'],
    ['e', 'char[3]'],
  ] as const);
  assert.deepEqual(
    l.fields.map((f) => f.offset),
    [0, 8, 8, 16, 24],
  );
  assert.equal(l.size, 27);
  assert.throws(() => defineLayout('t', 'struct t', '', [['a', 'u32', { at: 'zz' }]] as never), /unknown zz/);
});

test('errno names and KernelError text', () => {
  assert.equal(errnoName(1), 'EPERM');
  assert.equal(errnoName(28), 'ENOSPC');
  assert.equal(errnoName(524), 'ENOTSUPP');
  assert.equal(errnoName(9999), 'E9999');
  assert.equal(errnoNumber('EACCES'), 13);
  const e = new KernelError('BPF_PROG_LOAD', 13, 'program "x"', 'line1\nR0 !read_ok\n');
  assert.equal(e.errnoName, 'EACCES');
  assert.equal(e.isPermission, false);
  assert.equal(new KernelError('BPF_MAP_CREATE', 1).isPermission, true);
  assert.match(e.message, /^program "x": BPF_PROG_LOAD failed: EACCES \(permission denied\)\nline1\nR0 !read_ok$/);
  assert.equal(sysBpfNumber('x64'), 321);
  assert.equal(sysBpfNumber('arm64'), 280);
  assert.throws(() => sysBpfNumber('ia32'), /not supported/);
});

test('LINK_CREATE tails from values: uprobe_multi arrays, tcx revision, iter info, kprobe_multi names (buffers kept)', async () => {
  const { linkCreateRaw } = await import('../../server/src/kernel/links');
  const keep: Buffer[] = [];
  const L = LINK_CREATE_LAYOUT;
  const up = encodeLinkCreate(
    linkCreateRaw({ prog_fd: 3, attach_type: 48, uprobeMulti: { path: '/bin/x', offsets: [0x10n, 0x20n], flags: 1, pid: 7 } }, keep),
  );
  assert.equal(keep.length, 2, 'path and offsets');
  assert.equal(up.readUInt32LE(L.field('uprobe_multi.cnt').offset), 2);
  assert.equal(up.readUInt32LE(L.field('uprobe_multi.flags').offset), 1);
  assert.equal(up.readUInt32LE(L.field('uprobe_multi.pid').offset), 7);
  assert.equal(keep[1].readBigUInt64LE(8), 0x20n);
  assert.equal(up.readBigUInt64LE(L.field('uprobe_multi.ref_ctr_offsets').offset), 0n);
  const tcx = encodeLinkCreate(linkCreateRaw({ prog_fd: 3, target_ifindex: 9, attach_type: 46, tcx: { expectedRevision: 5n } }, []));
  assert.equal(tcx.readUInt32LE(4), 9);
  assert.equal(tcx.readBigUInt64LE(L.field('tcx.expected_revision').offset), 5n);
  const k2: Buffer[] = [];
  const it = encodeLinkCreate(linkCreateRaw({ prog_fd: 3, attach_type: 28, iterInfo: new Uint8Array([4, 0, 0, 0]) }, k2));
  assert.equal(it.readUInt32LE(L.field('iter_info_len').offset), 4);
  const k3: Buffer[] = [];
  const kp = encodeLinkCreate(linkCreateRaw({ prog_fd: 3, attach_type: 42, kprobeMulti: { syms: ['a', 'bb'] } }, k3));
  assert.equal(kp.readUInt32LE(L.field('kprobe_multi.cnt').offset), 2);
  assert.equal(k3.length, 3, 'two names and the pointer array');
});
