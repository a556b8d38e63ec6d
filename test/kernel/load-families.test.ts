// BPF Lens's loader against this machine's kernel, one program family per fixture
// (test/fixtures/load_*.bpf.c): each loads with the program types libbpf would give it, and where
// the kernel can run it without attaching (PROG_TEST_RUN) or attach it harmlessly (raw and BTF
// tracepoints, task iterator), the verdicts and the maps it updates are checked.
import assert from 'node:assert/strict';
import { execFileSync } from 'child_process';
import { readFileSync, rmSync } from 'fs';
import { test, type TestContext } from 'node:test';
import * as os from 'os';
import * as path from 'path';
import { gunzipSync } from 'zlib';
import { parseBtf } from '../../server/src/btf/btf';
import type { BtfStruct } from '../../server/src/btf/types';
import {
  BPF_ATTACH_TYPE,
  BPF_MAP_TYPE,
  closeFd,
  linkCreate,
  localKernel,
  mapCreate,
  mapInfo,
  mapUpdateElem,
  objGet,
  objPin,
  possibleCpus,
  progTestRun,
  rawTracepointOpen,
} from '../../server/src/kernel';
import { LoadError, type LoadOptions, type LoadResult } from '../../server/src/load/types';
import { fixture } from '../helpers';
import { arpPacket, ipv4Packet, lensLoad, le32, le64, lookup, mapOf, perCpuSum, progFd, u16, u32 } from '../load-helpers';
import { bpffsDir, openFds } from './kernel-env';

const XDP = { ABORTED: 0, DROP: 1, PASS: 2 };
const TC_ACT = { OK: 0, SHOT: 2 };

async function load(t: TestContext, name: string, opts: Partial<LoadOptions> = {}): Promise<LoadResult> {
  const r = await lensLoad(fixture(name), opts);
  t.after(() => r.close());
  return r;
}

const types = (r: LoadResult) => Object.fromEntries(r.programs.map((p) => [p.name, p.type]));
const run = (r: LoadResult, prog: string, data: Uint8Array) => progTestRun(progFd(r, prog), { data }).retval;
const s64 = (b: Uint8Array | undefined) => BigInt.asIntN(64, le64(b));

test('xdp: drops UDP/TCP to the blocked port, counts packets and bytes per IP protocol; --set moves the blocked port', async (t) => {
  const r = await load(t, 'load_xdp.o');
  assert.deepEqual(types(r), { xdp_firewall: 'xdp' });
  const udp9999 = ipv4Packet({ proto: 'udp', dport: 9999, payload: 10 });
  assert.equal(run(r, 'xdp_firewall', udp9999), XDP.DROP);
  assert.equal(run(r, 'xdp_firewall', ipv4Packet({ proto: 'tcp', dport: 9999 })), XDP.DROP);
  assert.equal(run(r, 'xdp_firewall', ipv4Packet({ proto: 'udp', dport: 53 })), XDP.PASS);
  assert.equal(run(r, 'xdp_firewall', ipv4Packet({ proto: 'icmp' })), XDP.PASS);
  assert.equal(run(r, 'xdp_firewall', arpPacket()), XDP.PASS);
  assert.equal(run(r, 'xdp_firewall', udp9999.slice(0, 20)), XDP.ABORTED, 'a cut IPv4 header');
  const stats = (proto: number) => lookup(r, 'proto_counts', u32(proto));
  assert.equal(le64(stats(17)), 2n);
  assert.equal(le64(stats(17), 8), BigInt(udp9999.length + ipv4Packet({ proto: 'udp', dport: 53 }).length));
  assert.equal(le64(stats(6)), 1n);
  assert.equal(le64(stats(1)), 1n);
  assert.equal(le64(lookup(r, 'drops_by_port', u16(9999))), 2n);
  assert.equal(lookup(r, 'drops_by_port', u16(53)), undefined);

  const moved = await load(t, 'load_xdp.o', { set: { blocked_port: '53' } });
  assert.equal(run(moved, 'xdp_firewall', ipv4Packet({ proto: 'udp', dport: 53 })), XDP.DROP);
  assert.equal(run(moved, 'xdp_firewall', udp9999), XDP.PASS);
});

/** struct __sk_buff from this kernel's BTF: its size and the offsets of mark and priority. */
function skbLayout(): { size: number; mark: number; priority: number } {
  const btf = parseBtf(new Uint8Array(readFileSync('/sys/kernel/btf/vmlinux')));
  const s = btf.find('STRUCT', '__sk_buff') as BtfStruct;
  const at = (n: string) => s.members.find((m) => m.name === n)!.bitsOffset / 8;
  return { size: s.size, mark: at('mark'), priority: at('priority') };
}

test('tc: marks UDP by port class (read back from the test-run context), counts marks per CPU; ICMP is shot', async (t) => {
  const r = await load(t, 'load_tc.o');
  assert.deepEqual(types(r), { tc_mark: 'sched_cls', tc_drop_icmp: 'sched_cls' });
  const skb = skbLayout();
  const mark = (pkt: Uint8Array) => {
    const out = progTestRun(progFd(r, 'tc_mark'), { data: pkt, ctx: new Uint8Array(skb.size), ctxOutSize: skb.size });
    assert.equal(out.retval, TC_ACT.OK);
    const c = Buffer.from(out.ctxOut!);
    return [c.readUInt32LE(skb.mark), c.readUInt32LE(skb.priority)];
  };
  assert.deepEqual(mark(ipv4Packet({ proto: 'udp', dport: 53 })), [0x53, 0x5]);
  assert.deepEqual(mark(ipv4Packet({ proto: 'udp', dport: 53 })), [0x53, 0x5]);
  assert.deepEqual(mark(ipv4Packet({ proto: 'udp', dport: 8080 })), [0xb0, 0xb]);
  assert.deepEqual(mark(ipv4Packet({ proto: 'udp', dport: 123 })), [0, 0]);
  assert.deepEqual(mark(ipv4Packet({ proto: 'tcp', dport: 53 })), [0, 0]);
  assert.equal(perCpuSum(lookup(r, 'marks_seen', u32(0x53))), 2n);
  assert.equal(perCpuSum(lookup(r, 'marks_seen', u32(0xb0))), 1n);
  assert.equal(lookup(r, 'marks_seen', u32(0)), undefined);
  assert.equal(run(r, 'tc_drop_icmp', ipv4Packet({ proto: 'icmp' })), TC_ACT.SHOT);
  assert.equal(run(r, 'tc_drop_icmp', ipv4Packet({ proto: 'udp', dport: 1 })), TC_ACT.OK);
  assert.equal(run(r, 'tc_drop_icmp', arpPacket()), TC_ACT.OK);
});

test('tcx: ingress and egress programs (sections newer than libbpf 1.1) load as sched_cls, count bytes per direction, shoot ARP', async (t) => {
  const r = await load(t, 'load_tcx.o');
  assert.deepEqual(types(r), { tcx_in: 'sched_cls', tcx_out: 'sched_cls' });
  const ip = ipv4Packet({ proto: 'udp', payload: 20 });
  assert.equal(run(r, 'tcx_in', ip) | 0, -1, 'TCX_NEXT');
  assert.equal(run(r, 'tcx_in', arpPacket()), TC_ACT.SHOT);
  assert.equal(run(r, 'tcx_out', ip) | 0, -1);
  assert.equal(le64(lookup(r, 'bytes_by_dir', u32(0))), BigInt(ip.length + arpPacket().length));
  assert.equal(le64(lookup(r, 'bytes_by_dir', u32(1))), BigInt(ip.length));
});

// PROG_TEST_RUN gives socket filters and cgroup_skb programs the skb from the IP header on
// (the kernel pulls the Ethernet header, as on an IP socket): 14 bytes less than the frame.
const L2 = 14;

test('socket filter: TCP cut to its headers, UDP to 514 dropped, everything else whole; verdicts counted', async (t) => {
  const r = await load(t, 'load_socket.o');
  assert.deepEqual(types(r), { sock_headers: 'socket_filter' });
  assert.equal(run(r, 'sock_headers', ipv4Packet({ proto: 'tcp', payload: 100 })), 20 + 20);
  assert.equal(run(r, 'sock_headers', ipv4Packet({ proto: 'tcp', tcpDoff: 8, payload: 100 })), 20 + 32);
  assert.equal(run(r, 'sock_headers', ipv4Packet({ proto: 'udp', dport: 514, payload: 30 })), 0);
  const udp = ipv4Packet({ proto: 'udp', dport: 53, payload: 30 });
  assert.equal(run(r, 'sock_headers', udp), udp.length - L2);
  assert.equal(run(r, 'sock_headers', arpPacket()), arpPacket().length - L2);
  const counts = [0, 1, 2].map((v) => le64(lookup(r, 'verdicts', u32(v))));
  assert.deepEqual(counts, [1n, 2n, 2n]);
});

test("kprobe, tracepoint, perf_event, sk_msg/sk_skb, cgroup families load with libbpf's program types and map types", async (t) => {
  assert.deepEqual(types(await load(t, 'load_kprobe.o')), { read_enter: 'kprobe', read_exit: 'kprobe' });
  const tp = await load(t, 'load_tracepoint.o');
  assert.deepEqual(types(tp), { count_openat: 'tracepoint', record_exec: 'tracepoint' });
  assert.equal(mapOf(tp, 'execs').type, 'ringbuf');
  const pe = await load(t, 'load_perf_event.o');
  assert.deepEqual(types(pe), { profile: 'perf_event' });
  assert.equal(mapOf(pe, 'stacks').type, 'stack_trace');
  assert.equal(mapOf(pe, 'stacks').valueSize, 64 * 8);
  const sk = await load(t, 'load_sk_msg.o');
  assert.deepEqual(types(sk), { msg_redirect: 'sk_msg', skb_verdict: 'sk_skb' });
  assert.deepEqual([mapOf(sk, 'sock_by_slot').type, mapOf(sk, 'sock_by_tuple').type], ['sockmap', 'sockhash']);
  const cg = await load(t, 'load_cgroup.o');
  assert.deepEqual(types(cg), {
    cg_ingress: 'cgroup_skb',
    cg_egress: 'cgroup_skb',
    cg_no_raw: 'cgroup_sock',
    cg_connect4: 'cgroup_sock_addr',
  });
  // cgroup_skb runs under PROG_TEST_RUN: 1 lets the packet through, bytes land in the per-CPU counter
  const pkt = ipv4Packet({ proto: 'udp', payload: 40 });
  assert.equal(run(cg, 'cg_ingress', pkt), 1);
  assert.equal(run(cg, 'cg_egress', pkt), 1);
  assert.equal(run(cg, 'cg_egress', pkt), 1);
  assert.equal(perCpuSum(lookup(cg, 'cg_bytes', u32(0))), BigInt(pkt.length - L2));
  assert.equal(perCpuSum(lookup(cg, 'cg_bytes', u32(1))), BigInt(2 * (pkt.length - L2)));
});

test('raw_tp: attached to sys_enter and sched_switch, the histogram counts our getppid calls and .bss counts switches', async (t) => {
  const r = await load(t, 'load_raw_tp.o');
  assert.deepEqual(types(r), { on_sys_enter: 'raw_tracepoint', on_switch: 'raw_tracepoint' });
  const links = [rawTracepointOpen(progFd(r, 'on_sys_enter'), 'sys_enter'), rawTracepointOpen(progFd(r, 'on_switch'), 'sched_switch')];
  try {
    // eslint-disable-next-line @typescript-eslint/no-unused-expressions -- reading it is the syscall
    for (let i = 0; i < 20; i++) process.ppid; // getppid(2), syscall 110 on x86-64
    execFileSync('true');
  } finally {
    for (const l of links) closeFd(l);
  }
  const nr = process.arch === 'x64' ? 110 : 173;
  assert.ok(perCpuSum(lookup(r, 'syscall_hist', u32(nr))) >= 1n, 'getppid was seen');
  assert.ok(le64(lookup(r, '.bss', u32(0))) > 0n, 'context switches were counted in .bss');
});

test('tp_btf: attached through RAW_TRACEPOINT_OPEN, wakeups of our child processes fill the latency histogram', async (t) => {
  const r = await load(t, 'load_tp_btf.o');
  assert.deepEqual(types(r), { on_wakeup: 'tracing', on_switch: 'tracing' });
  const links = [rawTracepointOpen(progFd(r, 'on_wakeup'), undefined), rawTracepointOpen(progFd(r, 'on_switch'), undefined)];
  try {
    for (let i = 0; i < 3; i++) execFileSync('sleep', ['0.01']);
  } finally {
    for (const l of links) closeFd(l);
  }
  let total = 0n;
  for (let slot = 0; slot < 32; slot++) total += le64(lookup(r, 'latency_log2', u32(slot)));
  assert.ok(total > 0n, 'some wakeup-to-run latencies were recorded');
});

test('iter/task: a pinned iterator link prints every task (kthreadd and this process among them) and counts kernel threads in .bss', async (t) => {
  const r = await load(t, 'load_iter.o');
  assert.deepEqual(types(r), { dump_task: 'tracing' });
  const { dir, done } = bpffsDir('iter');
  t.after(done);
  const link = linkCreate({ prog_fd: progFd(r, 'dump_task'), attach_type: BPF_ATTACH_TYPE.BPF_TRACE_ITER });
  try {
    objPin(link, path.join(dir, 'tasks'));
  } finally {
    closeFd(link);
  }
  const lines = readFileSync(path.join(dir, 'tasks'), 'utf8').trim().split('\n');
  assert.match(lines[0], /^\s*pid\s+tgid\s+comm\s+state$/);
  const kthreadd = lines.find((l) => /^\s*2\s+2\s+kthreadd\s/.test(l));
  assert.ok(kthreadd, `kthreadd is listed: ${lines.slice(0, 3).join(' | ')}`);
  const self = lines.find((l) => l.trim().split(/\s+/)[0] === String(process.pid));
  assert.ok(self && /\bnode\b|MainThread/.test(self), `this process is listed: ${self}`);
  assert.ok(lines.length > 10);
  assert.ok(le64(lookup(r, '.bss', u32(0))) > 0n, 'kernel threads counted');
});

test('ring buffer and perf buffer from XDP: reserved/output records are in the ring, perf output finds no event (ENOENT)', async (t) => {
  const r = await load(t, 'load_events.o');
  const page = Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }).trim());
  assert.equal(mapOf(r, 'pkt_ring').maxEntries, 64 * 1024);
  let odd = page;
  while (odd < 3 * 4096 + 100) odd *= 2;
  assert.equal(mapOf(r, 'odd_ring').maxEntries, odd, 'rounded up to a power-of-two number of pages');
  assert.equal(mapOf(r, 'pkt_perf').maxEntries, possibleCpus(), 'one slot per possible CPU');
  const pkt = ipv4Packet({ proto: 'udp', payload: 10 });
  for (let i = 1; i <= 2; i++) {
    assert.equal(run(r, 'xdp_events', pkt), XDP.PASS);
    const record = 8 + 24; // ring record header + struct pkt_event, 8-byte aligned
    assert.equal(s64(lookup(r, 'results', u32(0))), BigInt(i * record));
    assert.equal(s64(lookup(r, 'results', u32(1))), -2n);
    assert.equal(s64(lookup(r, 'results', u32(2))), BigInt(i));
  }
});

/** The .data/.bss value at a variable's offset in its section's map. */
const dataU64 = (r: LoadResult, map: string, off: number) => le64(lookup(r, map, u32(0)), off);

test('global data: .rodata knobs, .data, .bss, custom .data.*/.rodata.* sections and a static variable all work; --set overrides', async (t) => {
  const r = await load(t, 'load_globals.o');
  const internal = r.maps
    .filter((m) => m.name.startsWith('.'))
    .map((m) => m.name)
    .sort();
  assert.deepEqual(internal, ['.bss', '.data', '.data.counters', '.rodata', '.rodata.limits']);
  const pkt = ipv4Packet({ proto: 'udp', payload: 100 - 42 });
  assert.equal(pkt.length, 100);
  const out = (k: number) => le64(lookup(r, 'out', u32(k)));
  assert.equal(run(r, 'xdp_globals', pkt), XDP.PASS);
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7].map(out), [
    100n * 3n + 1000n,
    7n,
    BigInt('h'.charCodeAt(0) | ('o'.charCodeAt(0) << 8)),
    41n,
    1n,
    1500n,
    1n,
    BigInt((0x1234 * 31 + 100) >>> 0),
  ]);
  assert.equal(run(r, 'xdp_globals', pkt), XDP.PASS);
  assert.equal(out(3), 42n);
  assert.equal(out(6), 2n);
  assert.equal(dataU64(r, '.bss', 0), 2n, 'packets in .bss, read from userspace');
  assert.equal(dataU64(r, '.data.counters', 0), 42n);
  assert.equal(mapInfo(mapOf(r, '.rodata').fd).mapFlags & 0x80, 0x80, 'BPF_F_RDONLY_PROG');
  assert.throws(
    () => mapUpdateElem(mapOf(r, '.rodata').fd, u32(0), new Uint8Array(mapOf(r, '.rodata').valueSize)),
    /EPERM|frozen/i,
    '.rodata is frozen',
  );

  const set = await load(t, 'load_globals.o', { set: { scale: '5', offset: '7', custom_limit: '64' } });
  assert.equal(run(set, 'xdp_globals', pkt), XDP.DROP, 'custom_limit (.rodata.limits) lowered to 64');
  assert.equal(le64(lookup(set, 'out', u32(0))), 100n * 5n + 7n);
  assert.equal(le64(lookup(set, 'out', u32(5))), 64n);
});

test('custom .bss.* section (refused by libbpf 1.1) becomes its own zeroed map', async (t) => {
  const r = await load(t, 'load_globals_bss.o');
  assert.equal(mapOf(r, '.bss.ring').valueSize, 72, 'the section size: 8 * 8 + 4 rounded up to 8, as libbpf');
  for (let i = 0; i < 3; i++) assert.equal(run(r, 'xdp_ring', ipv4Packet({ proto: 'udp', payload: i })), XDP.PASS);
  const v = lookup(r, '.bss.ring', u32(0));
  // clang placed head first (offset 0), then ring (offset 8)
  assert.deepEqual(
    [0, 1, 2, 3].map((i) => le64(v, 8 + i * 8)),
    [42n, 43n, 44n, 0n],
  );
  assert.equal(le32(v, 0), 3);
});

function kconfig(): Map<string, string> {
  const text = gunzipSync(readFileSync('/proc/config.gz')).toString('utf8');
  return new Map(
    text
      .split('\n')
      .filter((l) => l.startsWith('CONFIG_'))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

function kernelVersionCode(): bigint {
  const [a, b, c] = os.release().split(/[.-]/).map(Number);
  return BigInt((a << 16) + (b << 8) + Math.min(c, 255));
}

test('kconfig and ksym externs: values from /proc/config.gz, LINUX_KERNEL_VERSION, kallsyms address, weak ones zero', async (t) => {
  const r = await load(t, 'load_externs.o');
  assert.equal(run(r, 'xdp_facts', ipv4Packet({ proto: 'udp' })), XDP.PASS);
  const fact = (k: number) => le64(lookup(r, 'facts', u32(k)));
  const cfg = kconfig();
  const startBtf = readFileSync('/proc/kallsyms', 'latin1')
    .split('\n')
    .find((l) => l.endsWith(' __start_BTF'))!
    .split(' ')[0];
  const localversion = JSON.parse(cfg.get('CONFIG_LOCALVERSION') ?? '""') as string;
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map(fact), [
    kernelVersionCode(),
    BigInt(cfg.get('CONFIG_HZ')!),
    cfg.get('CONFIG_BPF_SYSCALL') === 'y' ? 1n : 0n,
    { y: 1n, m: 2n }[cfg.get('CONFIG_BPF_LSM') ?? ''] ?? 0n,
    BigInt(localversion.charCodeAt(0) || 0),
    0n,
    cfg.get('CONFIG_KPROBES') === 'y' ? 1n : 0n,
    BigInt(`0x${startBtf}`),
    0n,
    0n,
  ]);
  // a given kernel config replaces the running kernel's
  const custom = await load(t, 'load_externs.o', { kconfig: 'CONFIG_HZ=1000\nCONFIG_BPF_SYSCALL=y\nCONFIG_BPF_LSM=m\nCONFIG_KPROBES=y\n' });
  assert.equal(run(custom, 'xdp_facts', ipv4Packet({ proto: 'udp' })), XDP.PASS);
  const f2 = (k: number) => le64(lookup(custom, 'facts', u32(k)));
  assert.deepEqual([1, 2, 3, 6].map(f2), [1000n, 1n, 2n, 1n]);
});

test("typed ksyms this kernel cannot place (no CONFIG_KALLSYMS_ALL): the verifier's reason reaches the user, nothing leaks", async () => {
  const before = openFds();
  await assert.rejects(lensLoad(fixture('load_ksym_typed.o')), (e: unknown) => {
    assert.ok(e instanceof LoadError, String(e));
    assert.equal(e.details.program, 'xdp_percpu_vars');
    assert.match(`${e.message}\n${e.details.log ?? ''}`, /failed to find the address for kernel symbol 'runqueues'/);
    return true;
  });
  assert.equal(openFds(), before);
});

test('kfuncs from XDP: bpf_task_from_pid/acquire/release and bpf_rcu_read_lock verify and run; a missing weak kfunc is skipped', async (t) => {
  // Under PROG_TEST_RUN bpf_task_from_pid finds no task here, with libbpf's load too (-1): the
  // run shows the kfunc calls resolved, verified and executed; the weak one reads as absent.
  const r = await load(t, 'load_kfuncs.o', { set: { target_pid: '2147483647' } });
  assert.equal(run(r, 'xdp_task_lookup', ipv4Packet({ proto: 'udp' })), XDP.PASS);
  assert.deepEqual([s64(lookup(r, 'found', u32(0))), s64(lookup(r, 'found', u32(1)))], [-1n, 0n]);
});

test('map-in-map: initial slots of the array and hash of maps are filled; XDP reaches inner maps through them', async (t) => {
  const r = await load(t, 'load_map_in_map.o');
  const id = (n: string) => mapOf(r, n).id;
  assert.equal(le32(lookup(r, 'policies', u32(0))), id('policy_a'));
  assert.equal(le32(lookup(r, 'policies', u32(2))), id('policy_b'));
  assert.equal(lookup(r, 'policies', u32(1)), undefined);
  assert.equal(le32(lookup(r, 'tenants', u32(3))), id('tenant_limits'));
  const pkt = (slot: number, key: number) => new Uint8Array([slot, key, ...new Array(60).fill(0)]);
  assert.equal(run(r, 'xdp_policy', pkt(0, 1)), XDP.PASS);
  assert.equal(run(r, 'xdp_policy', pkt(1, 1)), XDP.DROP, 'empty slot');
  mapUpdateElem(mapOf(r, 'tenant_limits').fd, u32(1), u32(1));
  assert.equal(run(r, 'xdp_policy', pkt(0, 1)), XDP.DROP, 'over the tenant limit');
  assert.equal(run(r, 'xdp_policy', pkt(2, 1)), XDP.PASS);
  assert.equal(le64(lookup(r, 'policy_a', u32(1))), 2n);
  assert.equal(le64(lookup(r, 'policy_b', u32(1))), 1n);
});

test("tail calls: the prog-array's initial slots chain dispatch -> parse -> drop; an empty slot falls through", async (t) => {
  const r = await load(t, 'load_tailcall.o');
  assert.deepEqual(types(r), { stage_parse: 'xdp', stage_drop: 'xdp', dispatch: 'xdp' });
  const progId = (n: string) => r.programs.find((p) => p.name === n)!.id;
  assert.equal(le32(lookup(r, 'jump_table', u32(1))), progId('stage_parse'));
  assert.equal(le32(lookup(r, 'jump_table', u32(5))), progId('stage_drop'));
  const trail = () => [0, 1, 2, 3].map((k) => le32(lookup(r, 'trail', u32(k))));
  const data = (b: number) => new Uint8Array([b, ...new Array(63).fill(0)]);
  assert.equal(run(r, 'dispatch', data(1)), XDP.DROP);
  assert.deepEqual(trail(), [1, 1, 1, 0]);
  assert.equal(run(r, 'dispatch', data(0)), XDP.PASS);
  assert.deepEqual(trail(), [2, 1, 1, 1]);
  assert.equal(run(r, 'dispatch', data(5)), XDP.DROP);
  assert.deepEqual(trail(), [3, 1, 2, 1]);
});

test('spin locks: a per-flow token bucket in a hash value and totals in an array value, updated under bpf_spin_lock', async (t) => {
  const r = await load(t, 'load_spinlock.o', { set: { initial_tokens: '2' } });
  const flow = (b: number) => new Uint8Array([b, ...new Array(63).fill(0)]);
  assert.deepEqual(
    [1, 2, 3].map(() => run(r, 'xdp_bucket', flow(7))),
    [XDP.PASS, XDP.PASS, XDP.DROP],
  );
  assert.equal(run(r, 'xdp_bucket', flow(8)), XDP.PASS);
  const b = lookup(r, 'buckets', u32(7));
  assert.deepEqual([le32(b, 4), le64(b, 8), le64(b, 16)], [0, 2n, 1n]);
  const tot = lookup(r, 'total', u32(0));
  assert.deepEqual([le64(tot, 0), le64(tot, 16)], [4n, 256n]);
});

test('pinned maps: created under the pin root, reused by a second load (counts persist), an incompatible pin refused', async (t) => {
  const { dir, done } = bpffsDir('pinned');
  t.after(done);
  const progs = path.join(dir, 'progs');
  const first = await lensLoad(fixture('load_pinned.o'), { pinRoot: dir, pinProgramsDir: progs });
  let countsId: number;
  try {
    const counts = mapOf(first, 'lens_pin_counts');
    countsId = counts.id;
    assert.equal(counts.pinnedAt, path.join(dir, 'lens_pin_counts'));
    assert.equal(mapOf(first, 'lens_pin_config').pinnedAt, path.join(dir, 'lens_pin_config'));
    assert.equal(mapOf(first, 'local_only').pinnedAt, undefined);
    assert.equal(first.programs[0].pinnedAt, path.join(progs, 'xdp_pinned'));
    closeFd(objGet(path.join(progs, 'xdp_pinned')));
    assert.equal(run(first, 'xdp_pinned', ipv4Packet({ proto: 'udp' })), XDP.PASS);
  } finally {
    first.close();
  }

  const second = await load(t, 'load_pinned.o', { pinRoot: dir });
  assert.equal(mapOf(second, 'lens_pin_counts').reused, true);
  assert.equal(mapOf(second, 'lens_pin_counts').id, countsId);
  // a verdict written through the pin steers the second load's program
  const cfg = objGet(path.join(dir, 'lens_pin_config'));
  try {
    mapUpdateElem(cfg, u32(0), u32(XDP.DROP));
  } finally {
    closeFd(cfg);
  }
  assert.equal(run(second, 'xdp_pinned', ipv4Packet({ proto: 'udp' })), XDP.DROP);
  assert.equal(le64(lookup(second, 'lens_pin_counts', u32(0))), 2n, 'the count survived the first load');
  assert.equal(le64(lookup(second, 'local_only', u32(0))), 1n, 'unpinned maps are fresh');

  // a map pinned under the same name with another shape is not reused
  rmSync(path.join(dir, 'lens_pin_config'));
  const other = mapCreate({ map_type: BPF_MAP_TYPE.BPF_MAP_TYPE_HASH, key_size: 4, value_size: 4, max_entries: 64, map_flags: 1 });
  try {
    objPin(other, path.join(dir, 'lens_pin_config'));
  } finally {
    closeFd(other);
  }
  const before = openFds();
  await assert.rejects(lensLoad(fixture('load_pinned.o'), { pinRoot: dir }), (e: unknown) => {
    assert.ok(e instanceof LoadError, String(e));
    assert.match(e.message, /lens_pin_config/);
    assert.match(e.message, /max_entries|incompatible/);
    return true;
  });
  assert.equal(openFds(), before, 'no FD left open by the refused load');
});

for (const [name, prog] of [
  ['load_fentry.o', 'unlink_entry'],
  ['load_lsm.o', 'deny_map_type'],
] as const) {
  test(`${name}: this kernel refuses trampoline programs with EPERM (as with libbpf); the error says so and nothing leaks`, async () => {
    const before = openFds();
    await assert.rejects(lensLoad(fixture(name)), (e: unknown) => {
      assert.ok(e instanceof LoadError, String(e));
      assert.equal(e.stage, 'programs');
      assert.equal(e.details.program, prog);
      assert.match(e.message, /EPERM|not permitted/i);
      return true;
    });
    assert.equal(openFds(), before);
  });
}

test('the kernel layer a load goes through is the one the caller passes (every program load seen)', async (t) => {
  const seen: string[] = [];
  const kernel = {
    ...localKernel,
    progLoad: (o: Parameters<typeof localKernel.progLoad>[0]) => (seen.push(o.name ?? ''), localKernel.progLoad(o)),
  };
  await load(t, 'load_tailcall.o', { kernel });
  assert.deepEqual(seen.sort(), ['dispatch', 'stage_drop', 'stage_parse']);
});
