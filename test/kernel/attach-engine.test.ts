// The attach engine on this machine's kernel: attach_counters.o loaded by BPF Lens, its
// programs attached by SEC() and by places the test makes (a veth pair in a netns, a cgroup,
// a C binary), each proven by a counter that moves or a packet dropped, and after detach
// nothing left: no links, no perf events, no cgroup programs, no qdiscs. Faults injected at
// every system call of an attach leave nothing behind either.
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import { test } from 'node:test';
import { AttachError, AttachPlanError, attachAll, type AttachProgram, type AttachSession } from '../../server/src/attach';
import { BPF_MAP_TYPE, closeFd, localKernel, mapCreate, mapLookupElem, objPin, setFaultInjector } from '../../server/src/kernel';
import type { LoadResult } from '../../server/src/load/types';
import { LoadAttachments } from '../../server/src/targets/attachments';
import { fixture } from '../helpers';
import { lensLoad } from '../load-helpers';
import { cgroupProgs, linksOf, perfFds, probeTarget, tcState, tempCgroup, vethPair } from '../attach-env';
import { bpffsDir, openFds, readU64, u32 } from './kernel-env';
import { readdirSync } from 'node:fs';

const SLOT = { TP: 0, RAW_TP: 1, UPROBE: 2, URETPROBE: 3, XDP: 4, TCX: 5, CGROUP: 6, SAMPLE: 7 };

async function loaded(): Promise<{ r: LoadResult; progs: AttachProgram[]; count: (slot: number) => number; ids: number[] }> {
  const r = await lensLoad(fixture('attach_counters.o'));
  const counts = r.maps.find((m) => m.name === 'counts')!;
  return {
    r,
    progs: r.programs.map((p) => ({ name: p.name, section: p.section, fd: p.fd })),
    count: (slot) => Number(readU64(mapLookupElem(counts.fd, u32(slot), 8)!)),
    ids: r.programs.map((p) => p.id),
  };
}

const ALL_BUT = (progs: AttachProgram[], keep: string[]) => new Set(progs.map((p) => p.name).filter((n) => !keep.includes(n)));

function assertNothingLeft(ids: number[], before: { bpf: number; perf: number }): void {
  assert.deepEqual(linksOf(ids), [], 'no links left for the programs');
  assert.equal(perfFds(), before.perf, 'no perf events left open');
  assert.equal(openFds(), before.bpf, 'no BPF FDs left beyond the load');
}

test('by SEC(): tracepoint and raw_tp counters move, the iterator reads tasks back; detach leaves nothing', async () => {
  const { r, progs, count, ids } = await loaded();
  const before = { bpf: openFds(), perf: perfFds() };
  let s: AttachSession | undefined;
  try {
    s = attachAll(localKernel, progs, { skip: new Set(['sample']) });
    const kinds = Object.fromEntries(s.attachments.map((a) => [a.program, `${a.kind} ${a.target} ${a.mechanism}`]));
    assert.deepEqual(kinds, {
      tp_getppid: 'tracepoint syscalls:sys_enter_getppid perf_event link',
      rawtp_exec: 'raw_tp sched_process_exec raw_tracepoint_open',
      tasks: 'iter task link',
    });
    // Programs that need a place are skipped, saying what to give.
    const skipped = Object.fromEntries(s.skipped.map((x) => [x.program, x.reason]));
    assert.match(skipped.xdp_drop_ping, /give an interface \(--attach xdp_drop_ping=eth0\)/);
    assert.match(skipped.up_work, /binary:function/);
    assert.equal(skipped.sample, '--no-attach');
    assert.equal(linksOf(ids).length, 3);
    spawnSync('sh', ['-c', 'true']);
    spawnSync('python3', ['-c', 'import os\nfor i in range(5): os.getppid()']);
    assert.ok(count(SLOT.RAW_TP) >= 2, `exec count ${count(SLOT.RAW_TP)}`);
    assert.ok(count(SLOT.TP) >= 5, `getppid count ${count(SLOT.TP)}`);
    const text = Buffer.from(s.readIter('tasks')).toString();
    assert.match(text, new RegExp(`^${process.pid} `, 'm'), 'this process is among the tasks');
    assert.match(text, /^\d+ kthreadd$/m);
    assert.deepEqual(s.detach(), []);
    const tp = count(SLOT.TP);
    spawnSync('python3', ['-c', 'import os\nfor i in range(5): os.getppid()']);
    assert.equal(count(SLOT.TP), tp, 'detached: the counter stays');
    assertNothingLeft(ids, before);
  } finally {
    s?.detach();
    r.close();
  }
});

test('uprobe and uretprobe on a C binary the test builds: calls counted, return value seen', async () => {
  const { r, progs, count, ids } = await loaded();
  const target = probeTarget();
  const before = { bpf: openFds(), perf: perfFds() };
  try {
    const places = new Map([
      ['up_work', `${target.bin}:lens_work`],
      ['uret_work', `${target.bin}:lens_work`],
    ]);
    const s = attachAll(localKernel, progs, { places, skip: ALL_BUT(progs, ['up_work', 'uret_work']) });
    assert.deepEqual(
      s.attachments.map((a) => a.mechanism),
      ['perf_event link', 'perf_event link'],
    );
    spawnSync(target.bin, ['7']);
    assert.equal(count(SLOT.UPROBE), 7);
    assert.equal(count(SLOT.URETPROBE), 7);
    const bss = r.maps.find((m) => m.name === '.bss')!;
    assert.equal(readU64(mapLookupElem(bss.fd, u32(0), bss.valueSize)!), 13n, 'lens_work(6) returned 13');
    s.detach();
    spawnSync(target.bin, ['3']);
    assert.equal(count(SLOT.UPROBE), 7);
    assertNothingLeft(ids, before);
    // A function the binary does not have: the error names program, place and binary.
    assert.throws(
      () =>
        attachAll(localKernel, progs, { places: new Map([['up_work', `${target.bin}:no_such_fn`]]), skip: ALL_BUT(progs, ['up_work']) }),
      (e: unknown) => e instanceof AttachError && e.program === 'up_work' && /no function 'no_such_fn'/.test(e.message),
    );
    assertNothingLeft(ids, before);
  } finally {
    target.done();
    r.close();
  }
});

test('xdp on a veth end drops the pings from a netns; tcx ingress counts them; detach restores and leaves no qdisc', async () => {
  const { r, progs, count, ids } = await loaded();
  const veth = vethPair();
  const before = { bpf: openFds(), perf: perfFds() };
  try {
    assert.equal(veth.ping(2), 2, 'ping works before');
    const places = new Map([
      ['xdp_drop_ping', `${veth.host}:generic`],
      ['tcx_count', veth.host],
    ]);
    const s = attachAll(localKernel, progs, { places, skip: ALL_BUT(progs, ['xdp_drop_ping', 'tcx_count']) });
    assert.deepEqual(
      s.attachments.map((a) => `${a.kind} ${a.target}`),
      [`xdp ${veth.host} (generic)`, `tcx ${veth.host} ingress`],
    );
    const info = localKernel.linkInfo(s.attachments[1].linkFds[0]);
    assert.equal(info.ifindex, localKernel.ifIndex(veth.host));
    assert.equal(veth.ping(3), 0, 'XDP dropped every echo request');
    assert.equal(count(SLOT.XDP), 3);
    s.detach();
    assert.equal(veth.ping(2), 2, 'ping works after detach');
    assert.equal(count(SLOT.XDP), 3);
    assert.doesNotMatch(tcState(veth.host), /clsact|ingress/);
    assertNothingLeft(ids, before);
    // tcx alone: counts what arrives and lets it through.
    const t = attachAll(localKernel, progs, {
      places: new Map([['tcx_count', `${veth.host}:ingress`]]),
      skip: ALL_BUT(progs, ['tcx_count']),
    });
    assert.equal(veth.ping(2), 2);
    assert.ok(count(SLOT.TCX) >= 2);
    t.detach();
    assertNothingLeft(ids, before);
  } finally {
    veth.done();
    r.close();
  }
});

test('cgroup_skb egress on a cgroup the test makes counts its packets; detach leaves the cgroup empty', async () => {
  const { r, progs, count, ids } = await loaded();
  const cg = tempCgroup();
  const before = { bpf: openFds(), perf: perfFds() };
  try {
    const s = attachAll(localKernel, progs, { places: new Map([['cg_egress', cg.path]]), skip: ALL_BUT(progs, ['cg_egress']) });
    assert.equal(s.attachments[0].mechanism, 'link');
    assert.equal(cgroupProgs(cg.path).length, 1);
    cg.runIn(
      `python3 -c "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); [s.sendto(b'x', ('127.0.0.1', 9)) for _ in range(3)]"`,
    );
    assert.ok(count(SLOT.CGROUP) >= 2, `cgroup egress count ${count(SLOT.CGROUP)}`);
    s.detach();
    assert.deepEqual(cgroupProgs(cg.path), []);
    assertNothingLeft(ids, before);
  } finally {
    cg.done();
    r.close();
  }
});

test('perf_event: a cpu-clock sampling event per CPU runs the program', async () => {
  const { r, progs, count, ids } = await loaded();
  const before = { bpf: openFds(), perf: perfFds() };
  try {
    const s = attachAll(localKernel, progs, { places: new Map([['sample', 'cpu-clock@1000']]), skip: ALL_BUT(progs, ['sample']) });
    assert.equal(s.attachments[0].linkFds.length, localKernel.onlineCpus().length);
    const until = Date.now() + 300;
    while (Date.now() < until) spawnSync('true');
    assert.ok(count(SLOT.SAMPLE) > 10, `samples ${count(SLOT.SAMPLE)}`);
    s.detach();
    assertNothingLeft(ids, before);
  } finally {
    r.close();
  }
});

test('bad places fail before anything is attached, naming the program', async () => {
  const { r, progs, ids } = await loaded();
  try {
    assert.throws(
      () => attachAll(localKernel, progs, { places: new Map([['nope', 'eth0']]) }),
      (e: unknown) => e instanceof AttachPlanError && /'nope': no loaded program/.test(e.message),
    );
    assert.throws(() => attachAll(localKernel, progs, { places: new Map([['xdp_drop_ping', 'eth0:turbo']]) }), /XDP mode 'turbo'/);
    assert.throws(
      () => attachAll(localKernel, progs, { places: new Map([['xdp_drop_ping', 'lens_no_such_if']]) }),
      (e: unknown) => e instanceof AttachError && e.program === 'xdp_drop_ping' && /no such network interface/.test(e.message),
    );
    assert.deepEqual(linksOf(ids), []);
  } finally {
    r.close();
  }
});

test('a fault at every system call of an attach: AttachError names the program, nothing is left', async () => {
  const { r, progs, ids } = await loaded();
  const veth = vethPair();
  const cg = tempCgroup();
  const target = probeTarget();
  const before = { bpf: openFds(), perf: perfFds() };
  const places = new Map([
    ['xdp_drop_ping', veth.host],
    ['tcx_count', veth.host],
    ['cg_egress', cg.path],
    ['up_work', `${target.bin}:lens_work`],
    ['uret_work', `${target.bin}:lens_work`],
    ['sample', 'cpu-clock@10'],
  ]);
  try {
    let failures = 0;
    for (let n = 1; ; n++) {
      const seen: string[] = [];
      setFaultInjector((cmd, i) => (seen.push(cmd), i === n ? 'EPERM' : undefined));
      let s: AttachSession | undefined;
      try {
        s = attachAll(localKernel, progs, { places });
      } catch (e) {
        assert.ok(e instanceof AttachError, String(e));
        assert.match(e.message, /EPERM/);
        failures++;
      } finally {
        setFaultInjector(undefined);
      }
      if (s) {
        // n passed the last call: every call has had its fault.
        assert.equal(s.attachments.length, 9);
        assert.deepEqual(s.detach(), []);
        assertNothingLeft(ids, before);
        assert.equal(failures, n - 1);
        assert.ok(failures >= 20, `only ${failures} calls`);
        break;
      }
      assertNothingLeft(ids, before);
      assert.deepEqual(cgroupProgs(cg.path), []);
      assert.ok(seen.length >= n);
    }
  } finally {
    setFaultInjector(undefined);
    target.done();
    cg.done();
    veth.done();
    r.close();
  }
});

test('without links (LINK_CREATE answering EINVAL, as before 5.7/5.15): perf event ioctl and PROG_ATTACH, counters move, detach leaves nothing', async () => {
  const { r, progs, count, ids } = await loaded();
  const cg = tempCgroup();
  const target = probeTarget();
  const before = { bpf: openFds(), perf: perfFds() };
  try {
    setFaultInjector((cmd) => (cmd === 'BPF_LINK_CREATE' ? 'EINVAL' : undefined));
    let s: AttachSession;
    try {
      s = attachAll(localKernel, progs, {
        places: new Map([
          ['cg_egress', cg.path],
          ['up_work', `${target.bin}:lens_work`],
        ]),
        skip: new Set(['tasks', 'xdp_drop_ping', 'tcx_count', 'uret_work', 'sample']),
      });
    } finally {
      setFaultInjector(undefined);
    }
    assert.deepEqual(Object.fromEntries(s.attachments.map((a) => [a.program, a.mechanism])), {
      tp_getppid: 'perf_event ioctl',
      rawtp_exec: 'raw_tracepoint_open',
      up_work: 'perf_event ioctl',
      cg_egress: 'prog_attach',
    });
    spawnSync(target.bin, ['4']);
    assert.equal(count(SLOT.UPROBE), 4);
    spawnSync('python3', ['-c', 'import os\nfor i in range(5): os.getppid()']);
    assert.ok(count(SLOT.TP) >= 5);
    assert.equal(cgroupProgs(cg.path).length, 1);
    cg.runIn(
      `python3 -c "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); [s.sendto(b'x', ('127.0.0.1', 9)) for _ in range(3)]"`,
    );
    assert.ok(count(SLOT.CGROUP) >= 3);
    assert.deepEqual(s.detach(), []);
    assert.deepEqual(cgroupProgs(cg.path), []);
    spawnSync(target.bin, ['4']);
    assert.equal(count(SLOT.UPROBE), 4);
    assertNothingLeft(ids, before);
  } finally {
    target.done();
    cg.done();
    r.close();
  }
});

test('kprobes on a kernel without them: the error names the program, the probe and why; nothing is left', async () => {
  const r = await lensLoad(fixture('load_kprobe.o'));
  const before = { bpf: openFds(), perf: perfFds() };
  try {
    const progs = r.programs.map((p) => ({ name: p.name, section: p.section, fd: p.fd }));
    if (localKernel.pmuInfo('kprobe')) {
      // A kernel with kprobes (not this host's): both attach and detach cleanly.
      attachAll(localKernel, progs).detach();
    } else {
      assert.throws(
        () => attachAll(localKernel, progs),
        (e: unknown) =>
          e instanceof AttachError &&
          e.program === progs[0].name &&
          /\(kprobe vfs_read\) failed: .*this kernel has no kprobe PMU .*kprobes are off here/.test(e.message),
      );
    }
    assertNothingLeft(
      r.programs.map((p) => p.id),
      before,
    );
  } finally {
    r.close();
  }
});

test('attach with pins: when the second link cannot be pinned, the first pin is removed and nothing is left attached', async () => {
  const { r, ids } = await loaded();
  const pins = bpffsDir('attachpin');
  const before = { bpf: openFds(), perf: perfFds() };
  try {
    // Someone else's pin where the second program's link would go: its pin fails (EEXIST).
    const foreign = mapCreate({ map_type: BPF_MAP_TYPE.BPF_MAP_TYPE_ARRAY, key_size: 4, value_size: 4, max_entries: 1 });
    try {
      objPin(foreign, `${pins.dir}/rawtp_exec`);
    } finally {
      closeFd(foreign);
    }
    const attachments = new LoadAttachments(localKernel, r);
    assert.throws(
      () => attachments.attach({ programs: ['tp_getppid', 'rawtp_exec'], pinDir: pins.dir }),
      (e: unknown) => e instanceof Error && /EEXIST/.test(e.message),
    );
    assert.deepEqual(readdirSync(pins.dir), ['rawtp_exec'], 'the pin made before the failure is gone; the foreign pin stays');
    assert.deepEqual(attachments.list(), []);
    assertNothingLeft(ids, before);
  } finally {
    pins.done();
    r.close();
  }
});
