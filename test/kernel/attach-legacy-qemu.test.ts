// The attach paths for kernels without tcx links or the kprobe PMU, on Debian's 6.1 under qemu
// (legacy-guest.ts; this host has tcx and no kprobes at all): a tc program through a clsact
// qdisc + bpf filter over netlink (6.1 has no tcx: the probe chooses it), pings dropped on a
// veth pair, `tc` showing the filter, nothing left after detach; kprobes forced through
// tracefs kprobe_events (BPF_LENS_LEGACY_ATTACH=kprobe), calls counted, the entries removed on
// detach and after a fault at every call.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as path from 'path';
import { fixture } from '../helpers';
import { runHostRootGuest } from '../qemu-host-root';

test('Debian 6.1 under qemu: tc without tcx (clsact + bpf filter over netlink) and legacy tracefs kprobes', { timeout: 600_000 }, (t) => {
  const command = [process.execPath, path.join(__dirname, 'legacy-guest.js'), fixture('load_tc.o'), fixture('attach_tracing.o')].join(' ');
  const run = runHostRootGuest({
    version: '6.1',
    command,
    extraModules: ['veth', 'sch_ingress', 'cls_bpf'],
    // ip netns needs a writable /run (the host's root is read-only in the guest)
    setup: 'mount -t tmpfs tmpfs /host/run',
  });
  t.diagnostic(`guest ran in ${run.ms} ms`);
  const { tc, kprobe } = run.result;
  t.diagnostic(JSON.stringify({ tc, kprobe: { ...kprobe, faults: kprobe.faults.length } }));

  // tc: the probe found no tcx; the filter dropped the pings; nothing left.
  assert.equal(tc.before, 2);
  assert.deepEqual(tc.attached, [{ program: 'tc_drop_icmp', target: tc.attached[0].target, mechanism: 'tc filter' }]);
  assert.match(tc.qdisc, /qdisc clsact ffff: parent ffff:fff1/);
  assert.match(
    tc.filter,
    new RegExp(`filter protocol all pref 49152 bpf chain 0 handle 0x1 tc_drop_icmp:\\[${tc.progId}\\] direct-action`),
  );
  assert.equal(tc.during, 0, 'every echo request dropped');
  assert.deepEqual(tc.detachErrors, []);
  assert.equal(tc.after, 2, 'ping works after detach');
  assert.doesNotMatch(tc.qdiscAfter, /clsact/);
  assert.equal(tc.filterAfter, '');

  // kprobes: the PMU is there, but the forced legacy path made tracefs entries.
  assert.equal(kprobe.pmu, true);
  assert.deepEqual(
    kprobe.attached.map((a: { program: string; mechanism: string }) => `${a.program} ${a.mechanism}`),
    ['kprobe_run_skb perf_event link', 'kretprobe_run_skb perf_event link'],
  );
  const lines: string[] = kprobe.eventsDuring.split('\n');
  assert.equal(lines.length, 2, kprobe.eventsDuring);
  assert.match(lines[0], /^p:kprobes\/bpflens_\d+_bpf_prog_test_run_skb_0x0_\d+ bpf_prog_test_run_skb(\+0)?$/);
  assert.match(lines[1], /^r\d*:kretprobes\/bpflens_\d+_bpf_prog_test_run_skb_0x0_\d+ bpf_prog_test_run_skb(\+0)?$/);
  assert.deepEqual([kprobe.c1[0] - kprobe.c0[0], kprobe.c1[1] - kprobe.c0[1]], [5, 5], 'each call counted once');
  assert.deepEqual(kprobe.detachErrors, []);
  assert.equal(kprobe.eventsAfter, '', 'kprobe_events empty after detach');
  assert.deepEqual(kprobe.c2, kprobe.c1, 'nothing counted after detach');

  // faults: each failure left kprobe_events empty and no perf event open; the last attach succeeded.
  const faults = kprobe.faults as { n: number; command?: string; error?: string; events: string; perf: number }[];
  const failed = faults.slice(0, -1);
  assert.ok(failed.length >= 8, `only ${failed.length} calls`);
  for (const f of failed) {
    assert.match(f.error ?? '', /EPERM/, JSON.stringify(f));
    assert.equal(f.events, '', `fault at ${f.command}: kprobe_events left ${f.events}`);
    assert.equal(f.perf, 0, `fault at ${f.command}: perf events left`);
  }
  const commands = new Set(failed.map((f) => f.command));
  for (const c of ['write(kprobe_events)', 'perf_event_open', 'BPF_LINK_CREATE', 'ioctl(PERF_EVENT_IOC_ENABLE)'])
    assert.ok(commands.has(c), `${c} faulted (${[...commands].join(', ')})`);
  assert.equal(faults.at(-1)!.error, undefined);
  assert.equal(faults.at(-1)!.events.split('\n').length, 2);
  assert.equal(kprobe.perfLeft, 0);
});
