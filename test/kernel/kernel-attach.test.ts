// The kernel layer's attach primitives on this machine's kernel, each proven by an effect: a
// hand-assembled counter moves when its tracepoint fires (perf link and the ioctl way), a
// sampling event per CPU counts, an iterator link reads back, a detached link stops counting,
// and nothing stays open after.
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import { test } from 'node:test';
import {
  BPF_ATTACH_TYPE,
  BPF_MAP_TYPE,
  BPF_PROG_TYPE,
  type Fd,
  FdTracker,
  KernelError,
  PERF_COUNT_SW,
  PERF_TYPE,
  closeFd,
  iterCreate,
  linkCreate,
  linkDetach,
  linkInfo,
  mapCreate,
  mapLookupElem,
  onlineCpus,
  parseCpuList,
  perfEventIoctl,
  perfEventOpen,
  pmuInfo,
  progLoad,
  readAll,
  setFaultInjector,
  tracepointId,
} from '../../server/src/kernel';
import {
  BPF_FUNC,
  R0,
  R1,
  R10,
  R2,
  addImm,
  assemble,
  callHelper,
  exit,
  jeqImm,
  ldMapFd,
  ldxMemW,
  movImm,
  movReg,
  stMemW,
  stxMemW,
} from '../../server/src/kernel/asm';
import { openFds, readU32, u32 } from './kernel-env';

/** Adds 1 to the u32 at key 0 of an array map (not atomic: the tests count "moved", not exact). */
const counter = (mapFd: number) =>
  assemble([
    stMemW(R10, -4, 0),
    movReg(R2, R10),
    addImm(R2, -4),
    ldMapFd(R1, mapFd),
    callHelper(BPF_FUNC.map_lookup_elem),
    jeqImm(R0, 0, 3),
    ldxMemW(R1, R0, 0),
    addImm(R1, 1),
    stxMemW(R0, R1, 0),
    movImm(R0, 0),
    exit(),
  ]);

function withCounter(progType: number, f: (prog: Fd, count: () => number) => void): void {
  const map = mapCreate({ map_type: BPF_MAP_TYPE.BPF_MAP_TYPE_ARRAY, key_size: 4, value_size: 4, max_entries: 1, map_name: 'lens_count' });
  const p = progLoad({ progType, insns: counter(map), license: 'GPL', name: 'lens_count' });
  try {
    f(p.fd, () => readU32(mapLookupElem(map, u32(0), 4)!));
  } finally {
    closeFd(p.fd);
    closeFd(map);
  }
}

const execSome = (n: number) => {
  for (let i = 0; i < n; i++) spawnSync('true');
};

test('tracepoint sched:sched_process_exec through a perf link: the counter moves; after close it stops', () => {
  const before = openFds();
  withCounter(BPF_PROG_TYPE.BPF_PROG_TYPE_TRACEPOINT, (prog, count) => {
    const id = tracepointId('sched', 'sched_process_exec');
    assert.ok(id > 0);
    const pfd = perfEventOpen({ type: PERF_TYPE.TRACEPOINT, config: BigInt(id) }, -1, 0, 'tracepoint sched:sched_process_exec');
    const link = linkCreate({ prog_fd: prog, target_fd: pfd, attach_type: BPF_ATTACH_TYPE.BPF_PERF_EVENT });
    perfEventIoctl(pfd, 'ENABLE');
    assert.equal(linkInfo(link).type, 7 /* BPF_LINK_TYPE_PERF_EVENT */);
    execSome(3);
    const moved = count();
    assert.ok(moved >= 3, `counted ${moved} execs`);
    closeFd(link);
    closeFd(pfd);
    execSome(3);
    assert.equal(count(), moved, 'no count after the link and the event were closed');
  });
  assert.equal(openFds(), before);
});

test('tracepoint the ioctl way (SET_BPF + ENABLE, as libbpf without perf links); closing the event stops it', () => {
  withCounter(BPF_PROG_TYPE.BPF_PROG_TYPE_TRACEPOINT, (prog, count) => {
    const pfd = perfEventOpen({ type: PERF_TYPE.TRACEPOINT, config: BigInt(tracepointId('sched', 'sched_process_exec')) });
    let open = true;
    try {
      perfEventIoctl(pfd, 'SET_BPF', prog);
      perfEventIoctl(pfd, 'ENABLE');
      perfEventIoctl(pfd, 'DISABLE');
      execSome(2);
      const moved = count();
      // A tracepoint's programs hang on the tracepoint, not on the event's enable state.
      assert.ok(moved >= 2);
      closeFd(pfd);
      open = false;
      execSome(2);
      assert.equal(count(), moved);
    } finally {
      if (open) closeFd(pfd);
    }
  });
});

test('BPF_LINK_DETACH on a perf link: refused (no detach op), the link keeps counting until closed', () => {
  withCounter(BPF_PROG_TYPE.BPF_PROG_TYPE_TRACEPOINT, (prog, count) => {
    const pfd = perfEventOpen({ type: PERF_TYPE.TRACEPOINT, config: BigInt(tracepointId('sched', 'sched_process_exec')) });
    const link = linkCreate({ prog_fd: prog, target_fd: pfd, attach_type: BPF_ATTACH_TYPE.BPF_PERF_EVENT });
    try {
      assert.throws(
        () => linkDetach(link, 'perf link'),
        (e: unknown) => e instanceof KernelError && e.command === 'BPF_LINK_DETACH' && ['ENOTSUP', 'EOPNOTSUPP'].includes(e.errnoName),
      );
      execSome(1);
      assert.ok(count() >= 1);
    } finally {
      closeFd(link);
      closeFd(pfd);
    }
  });
});

test('a software cpu-clock sampling event on every online CPU runs a perf_event program', async () => {
  const cpus = onlineCpus();
  assert.ok(cpus.length >= 1);
  assert.deepEqual(parseCpuList('0-2,5\n'), [0, 1, 2, 5]);
  const tracker = new FdTracker();
  try {
    const map = mapCreate({
      map_type: BPF_MAP_TYPE.BPF_MAP_TYPE_ARRAY,
      key_size: 4,
      value_size: 4,
      max_entries: 1,
      map_name: 'lens_count',
    });
    const p = progLoad({ progType: BPF_PROG_TYPE.BPF_PROG_TYPE_PERF_EVENT, insns: counter(map), license: 'GPL', name: 'lens_sample' });
    for (const cpu of cpus) {
      const pfd = perfEventOpen({ type: PERF_TYPE.SOFTWARE, config: BigInt(PERF_COUNT_SW.CPU_CLOCK), sampleFreq: 1000n }, -1, cpu);
      linkCreate({ prog_fd: p.fd, target_fd: pfd, attach_type: BPF_ATTACH_TYPE.BPF_PERF_EVENT });
      perfEventIoctl(pfd, 'ENABLE');
    }
    const until = Date.now() + 200;
    while (Date.now() < until) execSome(1);
    const n = readU32(mapLookupElem(map, u32(0), 4)!);
    assert.ok(n > 10, `only ${n} samples in 200 ms`);
  } finally {
    tracker.closeAll();
    tracker.stop();
  }
});

test('iter link + BPF_ITER_CREATE: an empty task iterator reads back as nothing, then EOF', () => {
  const vmlinux = spawnSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux'], { encoding: 'utf8', maxBuffer: 1 << 28 }).stdout;
  const m = /^\[(\d+)\] FUNC 'bpf_iter_task'/m.exec(vmlinux);
  assert.ok(m, 'bpf_iter_task in vmlinux BTF');
  const tracker = new FdTracker();
  try {
    const p = progLoad({
      progType: BPF_PROG_TYPE.BPF_PROG_TYPE_TRACING,
      expectedAttachType: BPF_ATTACH_TYPE.BPF_TRACE_ITER,
      attachBtfId: Number(m[1]),
      insns: assemble([movImm(R0, 0), exit()]),
      license: 'GPL',
      name: 'lens_iter',
    });
    const link = linkCreate({ prog_fd: p.fd, attach_type: BPF_ATTACH_TYPE.BPF_TRACE_ITER });
    assert.equal(linkInfo(link).type, 4 /* BPF_LINK_TYPE_ITER */);
    const it = iterCreate(link);
    assert.equal(readAll(it).length, 0);
  } finally {
    tracker.closeAll();
    tracker.stop();
  }
});

test('attach points that do not exist: the kernel layer names them; the PMUs as sysfs says', () => {
  assert.throws(
    () => tracepointId('syscalls', 'sys_enter_no_such_call'),
    (e: unknown) => e instanceof KernelError && e.errnoName === 'ENOENT' && /no such tracepoint/.test(e.message),
  );
  assert.throws(() => tracepointId('..', 'x'), /not a tracepoint name/);
  const up = pmuInfo('uprobe');
  assert.ok(up && up.type > 5 && up.retprobeBit === 0, JSON.stringify(up));
  // This host has no kprobes: no kprobe PMU.
  const kp = pmuInfo('kprobe');
  if (kp) assert.ok(kp.type > 5);
});

test('the fault injector reaches perf_event_open and the perf ioctls', () => {
  setFaultInjector((cmd) => (cmd === 'perf_event_open' ? 'EMFILE' : undefined));
  try {
    assert.throws(
      () => perfEventOpen({ type: PERF_TYPE.TRACEPOINT, config: 1n }),
      (e: unknown) => e instanceof KernelError && e.command === 'perf_event_open' && e.errnoName === 'EMFILE',
    );
  } finally {
    setFaultInjector(undefined);
  }
  const pfd = perfEventOpen({ type: PERF_TYPE.TRACEPOINT, config: BigInt(tracepointId('sched', 'sched_process_exec')) });
  try {
    setFaultInjector((cmd) => (cmd === 'ioctl(PERF_EVENT_IOC_SET_BPF)' ? 'EINVAL' : undefined));
    assert.throws(() => perfEventIoctl(pfd, 'SET_BPF', 99), /ioctl\(PERF_EVENT_IOC_SET_BPF\) failed: EINVAL/);
  } finally {
    setFaultInjector(undefined);
    closeFd(pfd);
  }
});
