// Programs through BPF Lens's own bpf(2) layer: hand-assembled socket filter and XDP programs
// loaded, run with BPF_PROG_TEST_RUN, inspected; verifier rejections, log growth, placeholder
// FDs, attach links, the fault injector and the FD tracker.
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import { existsSync, readFileSync } from 'fs';
import { test } from 'node:test';
import { parseBtf } from '../../server/src/btf/btf';
import { BtfBuilder, writeBtf } from '../../server/src/btf/write';
import { BTF_FUNC_GLOBAL, BTF_INT_SIGNED } from '../../server/src/btf/types';
import {
  BPF_ATTACH_TYPE,
  BPF_LINK_TYPE,
  BPF_MAP_TYPE,
  BPF_PROG_TYPE,
  FdTracker,
  KernelBtf,
  KernelError,
  btfLoad,
  closeFd,
  dup2,
  linkCreate,
  linkInfo,
  mapCreate,
  mapInfo,
  mapUpdateElem,
  memfdCreate,
  progInfo,
  progLoad,
  progMapIds,
  progTestRun,
  rawTracepointOpen,
  setFaultInjector,
} from '../../server/src/kernel';
import {
  BPF_FUNC,
  R0,
  R1,
  R10,
  R2,
  assemble,
  callHelper,
  exit,
  jeqImm,
  ldMapFd,
  ldxMemW,
  movImm,
  movReg,
  addImm,
  stMemW,
} from '../../server/src/kernel/asm';
import { u32 } from './kernel-env';

const PKT = new Uint8Array(64).fill(0xab);
const returnConst = (n: number) => assemble([movImm(R0, n), exit()]);

/** XDP: return the u32 at key 0 of `mapFd`, or 0 when the lookup fails. */
const xdpReturnsMapValue = (mapFd: number) =>
  assemble([
    stMemW(R10, -4, 0),
    movReg(R2, R10),
    addImm(R2, -4),
    ldMapFd(R1, mapFd),
    callHelper(BPF_FUNC.map_lookup_elem),
    jeqImm(R0, 0, 2),
    ldxMemW(R0, R0, 0),
    exit(),
    movImm(R0, 0),
    exit(),
  ]);

const fdIsOpen = (fd: number) => existsSync(`/proc/self/fd/${fd}`);

test('socket filter returning a constant: test run retval, info (name, lengths, verified insns, tag as bpftool shows it)', () => {
  const p = progLoad({ progType: BPF_PROG_TYPE.BPF_PROG_TYPE_SOCKET_FILTER, insns: returnConst(42), license: 'GPL', name: 'lens_const' });
  try {
    assert.equal(p.attempts, 1);
    const r = progTestRun(p.fd, { data: PKT, repeat: 10 });
    assert.equal(r.retval, 42);
    const info = progInfo(p.fd);
    assert.equal(info.type, BPF_PROG_TYPE.BPF_PROG_TYPE_SOCKET_FILTER);
    assert.equal(info.name, 'lens_const');
    assert.equal(info.xlatedProgLen, 16);
    assert.ok(info.jitedProgLen > 0);
    assert.equal(info.verifiedInsns, 2);
    assert.equal(info.gplCompatible, true);
    const show = JSON.parse(spawnSync('bpftool', ['-j', 'prog', 'show', 'id', String(info.id)], { encoding: 'utf8' }).stdout);
    assert.equal(show.tag, info.tag);
    assert.equal(show.name, 'lens_const');
  } finally {
    closeFd(p.fd);
  }
});

test('XDP program reading a map: retval follows the map value; map_ids name the map', () => {
  const map = mapCreate({
    map_type: BPF_MAP_TYPE.BPF_MAP_TYPE_ARRAY,
    key_size: 4,
    value_size: 4,
    max_entries: 1,
    map_name: 'lens_verdict',
  });
  const p = progLoad({ progType: BPF_PROG_TYPE.BPF_PROG_TYPE_XDP, insns: xdpReturnsMapValue(map), license: 'GPL', name: 'lens_xdp' });
  try {
    for (const verdict of [2, 1, 3]) {
      mapUpdateElem(map, u32(0), u32(verdict));
      const r = progTestRun(p.fd, { data: PKT });
      assert.equal(r.retval, verdict);
      assert.deepEqual(r.dataOut, PKT);
    }
    assert.deepEqual(progMapIds(p.fd), [mapInfo(map).id]);
  } finally {
    closeFd(p.fd);
    closeFd(map);
  }
});

test('placeholder FD: instructions load a memfd number, dup2 makes it the real map', () => {
  const placeholder = memfdCreate('lens-placeholder');
  const real = mapCreate({ map_type: BPF_MAP_TYPE.BPF_MAP_TYPE_ARRAY, key_size: 4, value_size: 4, max_entries: 1 });
  try {
    mapUpdateElem(real, u32(0), u32(2));
    assert.equal(dup2(real, placeholder), placeholder);
    closeFd(real);
    assert.equal(mapInfo(placeholder).type, BPF_MAP_TYPE.BPF_MAP_TYPE_ARRAY);
    const p = progLoad({ progType: BPF_PROG_TYPE.BPF_PROG_TYPE_XDP, insns: xdpReturnsMapValue(placeholder), license: 'GPL' });
    assert.equal(progTestRun(p.fd, { data: PKT }).retval, 2);
    closeFd(p.fd);
  } finally {
    closeFd(placeholder);
  }
});

test('verifier rejection: KernelError with errno, command and the verifier log (fetched at level 1 after a level-0 failure)', () => {
  // r0 is never written before exit.
  const insns = assemble([movImm(R1, 1), exit()]);
  assert.throws(
    () => progLoad({ progType: BPF_PROG_TYPE.BPF_PROG_TYPE_SOCKET_FILTER, insns, license: 'GPL', name: 'lens_bad' }),
    (e: unknown) => {
      assert.ok(e instanceof KernelError);
      assert.equal(e.command, 'BPF_PROG_LOAD');
      assert.equal(e.errnoName, 'EACCES');
      assert.match(e.log ?? '', /R0 !read_ok/);
      assert.match(e.message, /program "lens_bad": BPF_PROG_LOAD failed: EACCES/);
      assert.equal(e.logTruncated, false);
      return true;
    },
  );
});

test('log buffer too small: grows and retries (ENOSPC), or reports the log as truncated at maxSize', () => {
  const insns = assemble([...Array.from({ length: 200 }, (_, i) => movImm(R1, i)), movImm(R0, 0), exit()]);
  const p = progLoad({ progType: BPF_PROG_TYPE.BPF_PROG_TYPE_SOCKET_FILTER, insns, license: 'GPL', log: { level: 2, initialSize: 256 } });
  closeFd(p.fd);
  assert.ok(p.attempts >= 2, `attempts ${p.attempts}`);
  assert.ok(p.log.length > 256, `log of ${p.log.length} bytes`);
  assert.match(p.log, /processed 202 insns/);
  // A failing program with a capped buffer: the error says the log is cut, and keeps its tail.
  const bad = assemble([...Array.from({ length: 200 }, (_, i) => movImm(R1, i)), exit()]);
  assert.throws(
    () =>
      progLoad({
        progType: BPF_PROG_TYPE.BPF_PROG_TYPE_SOCKET_FILTER,
        insns: bad,
        license: 'GPL',
        log: { level: 2, initialSize: 256, maxSize: 1024 },
      }),
    (e: KernelError) => e.logTruncated && (e.log ?? '').length > 0 && (e.log ?? '').length < 1024,
  );
});

test('BTF func_info: program loaded with its BTF reports btf_id and one func_info record', () => {
  const b = new BtfBuilder();
  b.add({ kind: 'INT', name: 'int', nameOff: 0, kindFlag: false, size: 4, encoding: BTF_INT_SIGNED, bitsOffset: 0, bits: 32 });
  b.add({ kind: 'PTR', name: '', nameOff: 0, kindFlag: false, type: 0 });
  b.add({ kind: 'FUNC_PROTO', name: '', nameOff: 0, kindFlag: false, type: 1, params: [{ name: 'ctx', nameOff: 0, type: 2 }] });
  b.add({ kind: 'FUNC', name: 'lens_with_btf', nameOff: 0, kindFlag: false, type: 3, linkage: BTF_FUNC_GLOBAL });
  const btf = btfLoad(writeBtf(b.build()));
  const rec = Buffer.alloc(8);
  rec.writeUInt32LE(0, 0);
  rec.writeUInt32LE(4, 4);
  const p = progLoad({
    progType: BPF_PROG_TYPE.BPF_PROG_TYPE_SOCKET_FILTER,
    insns: returnConst(0),
    license: 'GPL',
    name: 'lens_with_btf',
    progBtfFd: btf.fd,
    funcInfo: { recSize: 8, count: 1, bytes: rec },
  });
  try {
    const info = progInfo(p.fd);
    assert.ok(info.btfId > 0);
    assert.equal(info.nrFuncInfo, 1);
  } finally {
    closeFd(p.fd);
    closeFd(btf.fd);
  }
});

test('links: XDP on lo through LINK_CREATE, raw tracepoint through RAW_TRACEPOINT_OPEN; closing the FD detaches', () => {
  const x = progLoad({
    progType: BPF_PROG_TYPE.BPF_PROG_TYPE_XDP,
    insns: returnConst(2),
    license: 'GPL',
    expectedAttachType: BPF_ATTACH_TYPE.BPF_XDP,
  });
  const link = linkCreate({ prog_fd: x.fd, target_ifindex: 1, attach_type: BPF_ATTACH_TYPE.BPF_XDP });
  try {
    const li = linkInfo(link);
    assert.equal(li.type, BPF_LINK_TYPE.BPF_LINK_TYPE_XDP);
    assert.equal(li.progId, progInfo(x.fd).id);
    assert.match(spawnSync('ip', ['link', 'show', 'lo'], { encoding: 'utf8' }).stdout, /xdp/);
  } finally {
    closeFd(link);
    closeFd(x.fd);
  }
  const rt = progLoad({ progType: BPF_PROG_TYPE.BPF_PROG_TYPE_RAW_TRACEPOINT, insns: returnConst(0), license: 'GPL' });
  try {
    const l = rawTracepointOpen(rt.fd, 'sys_enter');
    assert.equal(linkInfo(l).type, BPF_LINK_TYPE.BPF_LINK_TYPE_RAW_TRACEPOINT);
    closeFd(l);
  } finally {
    closeFd(rt.fd);
  }
});

test('fentry under this kernel: loads, or is refused with a clear EPERM from BPF_PROG_LOAD (lockdown)', () => {
  const kbtf = KernelBtf.open();
  const target = kbtf.vmlinux.find('FUNC', 'bpf_fentry_test1');
  assert.ok(target, 'bpf_fentry_test1 in vmlinux BTF');
  try {
    const p = progLoad({
      progType: BPF_PROG_TYPE.BPF_PROG_TYPE_TRACING,
      expectedAttachType: BPF_ATTACH_TYPE.BPF_TRACE_FENTRY,
      attachBtfId: target.id,
      insns: returnConst(0),
      license: 'GPL',
      name: 'lens_fentry',
    });
    closeFd(p.fd);
  } catch (e) {
    assert.ok(e instanceof KernelError);
    assert.equal(e.command, 'BPF_PROG_LOAD');
    assert.equal(e.errnoName, 'EPERM', e.message);
    assert.ok(e.isPermission);
    assert.match(e.message, /trampoline/);
  } finally {
    kbtf.close();
  }
});

test('fault injector: calls from the k-th on fail as told; FdTracker closes everything opened before', () => {
  for (const k of [1, 2, 3, 4]) {
    const tracker = new FdTracker();
    const made: number[] = [];
    // From the k-th call on (a PROG_LOAD failure is retried once to fetch the log).
    setFaultInjector((_cmd, n) => (n >= k ? 'EIO' : undefined));
    try {
      made.push(memfdCreate());
      made.push(mapCreate({ map_type: BPF_MAP_TYPE.BPF_MAP_TYPE_ARRAY, key_size: 4, value_size: 4, max_entries: 1 }));
      made.push(progLoad({ progType: BPF_PROG_TYPE.BPF_PROG_TYPE_SOCKET_FILTER, insns: returnConst(1), license: 'GPL' }).fd);
      made.push(mapCreate({ map_type: BPF_MAP_TYPE.BPF_MAP_TYPE_HASH, key_size: 4, value_size: 4, max_entries: 1 }));
      assert.fail(`call ${k} should have failed`);
    } catch (e) {
      assert.ok(e instanceof KernelError, String(e));
      assert.equal(e.errnoName, 'EIO');
      assert.equal(e.command, ['memfd_create', 'BPF_MAP_CREATE', 'BPF_PROG_LOAD', 'BPF_MAP_CREATE'][k - 1]);
      assert.equal(made.length, k - 1);
      assert.deepEqual([...tracker.open.keys()].sort(), [...made].sort());
      for (const fd of made) assert.ok(fdIsOpen(fd));
      assert.equal(tracker.closeAll(), k - 1);
      for (const fd of made) assert.equal(fdIsOpen(fd), false, `fd ${fd} still open`);
    } finally {
      setFaultInjector(undefined);
      tracker.stop();
    }
  }
  // Without an injector everything works again, and a stopped tracker records nothing.
  const t = new FdTracker();
  t.stop();
  const fd = mapCreate({ map_type: BPF_MAP_TYPE.BPF_MAP_TYPE_ARRAY, key_size: 4, value_size: 4, max_entries: 1 });
  assert.equal(t.open.size, 0);
  closeFd(fd);
});

test('vmlinux BTF from the kernel parses like the sysfs file', () => {
  const btf = parseBtf(readFileSync('/sys/kernel/btf/vmlinux'));
  assert.ok(btf.find('STRUCT', 'xdp_md'));
});
