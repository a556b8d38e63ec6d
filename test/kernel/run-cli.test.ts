// `bpf-lens run` as a user runs it, on this kernel: attach_counters.o with every place given
// (a uprobe on a C binary the test builds, XDP and tcx on a veth end whose peer sits in a netns
// the test makes, a cgroup the test makes, a sampling event), each counter seen moving through
// bpftool while it runs; Ctrl-C (SIGINT) detaches it all and nothing is left (bpftool link
// list, tc qdisc, cgroup programs). --pin leaves links pinned; an attach error exits 1 with
// an error event and leaves nothing.
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import { existsSync, readdirSync } from 'fs';
import { test } from 'node:test';
import { CLI, fixture, run } from '../helpers';
import { cgroupProgs, probeTarget, tcState, tempCgroup, vethPair } from '../attach-env';
import { bpffsDir } from './kernel-env';
import { linkIdsOf, mapU64, SLOT, startRun } from '../run-helpers';

test('run: everything attached, each counter moves while it runs, Ctrl-C detaches all and nothing is left', async () => {
  const veth = vethPair();
  const cg = tempCgroup();
  const target = probeTarget();
  let r: ReturnType<typeof startRun> | undefined;
  try {
    r = startRun([
      fixture('attach_counters.o'),
      '--attach',
      `up_work=${target.bin}:lens_work`,
      '--attach',
      `uret_work=${target.bin}:lens_work`,
      '--attach',
      `xdp_drop_ping=${veth.host}:generic`,
      '--attach',
      `tcx_count=${veth.host}:ingress`,
      '--attach',
      `cg_egress=${cg.path}`,
      '--attach',
      'sample=cpu-clock@200',
    ]);
    await r.running;
    const ev = r.events;
    assert.equal(ev[0].event, 'loaded', r.stderr());
    const counts = (ev[0].maps as { name: string; id: number }[]).find((m) => m.name === 'counts')!.id;
    const attached = Object.fromEntries(
      ev.filter((e) => e.event === 'attached').map((e) => [e.program, `${String(e.kind)} ${String(e.target)}`]),
    );
    assert.deepEqual(attached, {
      tp_getppid: 'tracepoint syscalls:sys_enter_getppid',
      rawtp_exec: 'raw_tp sched_process_exec',
      up_work: `uprobe ${target.bin}:lens_work`,
      uret_work: `uprobe ${target.bin}:lens_work`,
      xdp_drop_ping: `xdp ${veth.host} (generic)`,
      tcx_count: `tcx ${veth.host} ingress`,
      cg_egress: `cgroup ${cg.path}`,
      sample: 'perf_event cpu-clock@200Hz on every CPU',
      tasks: 'iter task',
    });
    const iter = ev.find((e) => e.event === 'iter')!;
    assert.match(iter.output as string, new RegExp(`^${r.child.pid} node$`, 'm'), 'the iterator saw bpf-lens itself');
    const linkIds = linkIdsOf(ev);
    const live = JSON.parse(run('bpftool', ['-j', 'link', 'list'])) as { id: number }[];
    assert.ok(
      linkIds.every((id) => live.some((l) => l.id === id)),
      'every link id reported is live',
    );

    spawnSync('python3', ['-c', 'import os\nfor i in range(4): os.getppid()']);
    spawnSync(target.bin, ['5']);
    const pinged = veth.ping(3);
    assert.equal(pinged, 0, 'XDP drops the pings');
    cg.runIn(
      `python3 -c "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); [s.sendto(b'x', ('127.0.0.1', 9)) for _ in range(3)]"`,
    );
    assert.ok(mapU64(counts, SLOT.TP) >= 4n);
    assert.ok(mapU64(counts, SLOT.RAW_TP) >= 3n);
    assert.equal(mapU64(counts, SLOT.UPROBE), 5n);
    assert.equal(mapU64(counts, SLOT.URETPROBE), 5n);
    assert.equal(mapU64(counts, SLOT.XDP), 3n);
    // XDP runs first and drops the echo requests: tcx sees what XDP passes.
    const tcxBefore = mapU64(counts, SLOT.TCX);
    veth.udp(3);
    assert.ok(mapU64(counts, SLOT.TCX) >= tcxBefore + 3n);
    assert.ok(mapU64(counts, SLOT.CGROUP) >= 3n);
    assert.ok(mapU64(counts, SLOT.SAMPLE) > 0n);

    r.child.kill('SIGINT');
    assert.equal(await r.exited, 0, r.stderr());
    const detached = r.events.filter((e) => e.event === 'detached').map((e) => e.program);
    assert.equal(detached.length, 9);
    const after = JSON.parse(run('bpftool', ['-j', 'link', 'list'])) as { id: number }[];
    assert.deepEqual(
      after.filter((l) => linkIds.includes(l.id)),
      [],
      'no link left',
    );
    const progIds = (ev[0].programs as { id: number }[]).map((p) => p.id);
    const progs = JSON.parse(run('bpftool', ['-j', 'prog', 'list'])) as { id: number }[];
    assert.deepEqual(
      progs.filter((p) => progIds.includes(p.id)),
      [],
      'no program left',
    );
    assert.doesNotMatch(tcState(veth.host), /clsact|ingress/);
    assert.deepEqual(cgroupProgs(cg.path), []);
    assert.equal(veth.ping(2), 2, 'pings pass again');
  } finally {
    if (r && r.child.exitCode === null) {
      r.child.kill('SIGINT');
      await r.exited;
    }
    target.done();
    cg.done();
    veth.done();
  }
});

test('run --duration ends by itself; an error in attaching exits 1 with an error event and nothing left', async () => {
  const ok = startRun([fixture('attach_counters.o'), '--duration', '0.2', '--no-attach', 'tasks']);
  assert.equal(await ok.exited, 0, ok.stderr());
  assert.deepEqual(
    ok.events.map((e) => e.event).filter((e) => e !== 'skipped'),
    ['loaded', 'attached', 'attached', 'running', 'maps', 'detached', 'detached'],
  );
  const bad = startRun([fixture('attach_counters.o'), '--attach', 'xdp_drop_ping=lens_nosuch0']);
  assert.equal(await bad.exited, 1);
  const err = bad.events.at(-1)!;
  assert.equal(err.event, 'error');
  assert.equal(err.program, 'xdp_drop_ping');
  assert.match(err.message as string, /no such network interface/);
  const ids = linkIdsOf(bad.events);
  assert.ok(ids.length >= 2, 'tracepoints were attached before the failure');
  const after = JSON.parse(run('bpftool', ['-j', 'link', 'list'])) as { id: number }[];
  assert.deepEqual(
    after.filter((l) => ids.includes(l.id)),
    [],
  );
  const usage = spawnSync(process.execPath, [CLI, 'run', fixture('attach_counters.o'), '--attach', 'nope'], { encoding: 'utf8' });
  assert.equal(usage.status, 2);
  assert.match(usage.stderr, /--attach wants PROG=WHERE/);
});

test('run --pin DIR: the links stay pinned (and attached) after exit; removing the pins detaches', async () => {
  const pins = bpffsDir('run_pin');
  try {
    const r = startRun([fixture('attach_counters.o'), '--pin', pins.dir, '--no-attach', 'tasks']);
    assert.equal(await r.exited, 0, r.stderr());
    const pinned = r.events.filter((e) => e.event === 'pinned').map((e) => e.path);
    assert.deepEqual(pinned, [`${pins.dir}/tp_getppid`, `${pins.dir}/rawtp_exec`]);
    assert.deepEqual(readdirSync(pins.dir).sort(), ['rawtp_exec', 'tp_getppid']);
    const ids = linkIdsOf(r.events);
    const live = JSON.parse(run('bpftool', ['-j', 'link', 'list'])) as { id: number }[];
    assert.equal(live.filter((l) => ids.includes(l.id)).length, 2, 'pinned links outlive the command');
    pins.done();
    assert.ok(!existsSync(pins.dir));
    // The kernel frees links asynchronously after the last reference goes.
    let left = 2;
    for (let i = 0; i < 50 && left; i++) {
      spawnSync('sleep', ['0.1']);
      left = (JSON.parse(run('bpftool', ['-j', 'link', 'list'])) as { id: number }[]).filter((l) => ids.includes(l.id)).length;
    }
    assert.equal(left, 0);
  } finally {
    pins.done();
  }
});

test('run registers struct_ops on attach (load alone does not): a TCP socket uses the BPF congestion control while it runs', async () => {
  const cc = () => run('cat', ['/proc/sys/net/ipv4/tcp_available_congestion_control']).split(/\s+/).includes('bpf_lens_fixed');
  const loadOnly = spawnSync(process.execPath, [CLI, 'load', fixture('loader_tcp_cc.o')], { encoding: 'utf8' });
  assert.equal(loadOnly.status, 0, loadOnly.stderr);
  const r = startRun([fixture('loader_tcp_cc.o')]);
  try {
    await r.running;
    const att = r.events.filter((e) => e.event === 'attached').map((e) => [e.program, e.kind, e.mechanism].map(String).join(' '));
    assert.deepEqual(att, ['lens_fixed struct_ops link']);
    assert.ok(cc(), 'registered while running');
    const py = [
      'import socket',
      's = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)',
      'c = socket.socket(); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, b"bpf_lens_fixed")',
      'c.connect(s.getsockname()); a, _ = s.accept(); c.sendall(b"x" * 50000); n = 0',
      'while n < 50000: n += len(a.recv(65536))',
      'print(c.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16).rstrip(b"\\0").decode(), n)',
    ].join('\n');
    assert.equal(run('python3', ['-c', py]).trim(), 'bpf_lens_fixed 50000');
  } finally {
    r.child.kill('SIGINT');
    assert.equal(await r.exited, 0);
  }
  assert.ok(!cc(), 'unregistered after Ctrl-C');
  assert.deepEqual(
    r.events.filter((e) => e.event === 'detached').map((e) => e.program),
    ['lens_fixed'],
  );
});
