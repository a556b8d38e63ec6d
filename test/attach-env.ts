// Shared by the attach and run tests: places to attach to that the test makes and removes — a
// veth pair with one end in a fresh network namespace, a cgroup v2 directory, a small C binary
// with a function to probe — and what the kernel still holds afterwards.
import { spawnSync } from 'child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmdirSync, rmSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { run } from './helpers';

export interface Veth {
  /** Namespace holding `peer`. */
  readonly ns: string;
  /** The end in this (the host's) namespace. */
  readonly host: string;
  readonly peer: string;
  readonly hostIp: string;
  readonly peerIp: string;
  /** Pings hostIp from the namespace; returns how many replies came back. */
  ping(count: number): number;
  /** Sends UDP datagrams from the namespace to hostIp port 9. */
  udp(count: number): void;
  done(): void;
}

let seq = 0;

/** ICMP echo over a raw socket (this host has no ping(8)): sends N requests, counts replies. */
export const PING_PY = `
import socket, struct, sys, time, select
host, n = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
def csum(b):
    if len(b) % 2: b += b'\\0'
    t = sum(struct.unpack('!%dH' % (len(b) // 2), b)); t = (t >> 16) + (t & 0xffff); t += t >> 16
    return ~t & 0xffff
got = 0
for seq in range(n):
    body = struct.pack('!BBHHH', 8, 0, 0, 0x4c45, seq) + b'bpf-lens'
    s.sendto(body[:2] + struct.pack('!H', csum(body)) + body[4:], (host, 0))
    end = time.time() + 0.5
    while time.time() < end:
        r, _, _ = select.select([s], [], [], end - time.time())
        if not r: break
        pkt = s.recv(2048); ihl = (pkt[0] & 15) * 4
        if pkt[ihl] == 0 and struct.unpack('!H', pkt[ihl + 6:ihl + 8])[0] == seq: got += 1; break
print('%d sent, %d received' % (n, got))
`;

/** A veth pair: `host` here, `peer` in a new netns; a /30 of 10.213.x.0 between them. */
export function vethPair(): Veth {
  const tag = `${process.pid % 10000}${seq++}`;
  const ns = `lens${tag}`,
    host = `lh${tag}`,
    peer = `lp${tag}`;
  const net = `10.213.${(process.pid + seq * 7) % 250}`;
  const hostIp = `${net}.1`,
    peerIp = `${net}.2`;
  const done = () => {
    spawnSync('ip', ['link', 'del', host]);
    spawnSync('ip', ['netns', 'del', ns]);
  };
  try {
    run('ip', ['netns', 'add', ns]);
    run('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', peer, 'netns', ns]);
    run('ip', ['addr', 'add', `${hostIp}/30`, 'dev', host]);
    run('ip', ['link', 'set', host, 'up']);
    run('ip', ['-n', ns, 'addr', 'add', `${peerIp}/30`, 'dev', peer]);
    run('ip', ['-n', ns, 'link', 'set', peer, 'up']);
    run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  } catch (e) {
    done();
    throw e;
  }
  const ping = (count: number) => {
    const r = spawnSync('ip', ['netns', 'exec', ns, 'python3', '-c', PING_PY, hostIp, String(count)], { encoding: 'utf8' });
    const m = /(\d+) received/.exec(r.stdout);
    if (!m) throw new Error(`ping from ${ns} failed: ${r.stderr}`);
    return Number(m[1]);
  };
  const udp = (count: number) => {
    run('ip', [
      'netns',
      'exec',
      ns,
      'python3',
      '-c',
      `import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nfor _ in range(${count}): s.sendto(b'x', ('${hostIp}', 9))`,
    ]);
  };
  return { ns, host, peer, hostIp, peerIp, ping, udp, done };
}

/** The cgroup v2 mount (the unified hierarchy beside v1 controllers, or /sys/fs/cgroup itself). */
export function cgroup2Root(): string {
  const mounts = spawnSync('sh', ['-c', 'grep " cgroup2 " /proc/mounts'], { encoding: 'utf8' }).stdout.trim().split('\n');
  const m = mounts.map((l) => l.split(' ')[1]).find(Boolean);
  if (!m) throw new Error('no cgroup2 mount');
  return m;
}

/** A fresh cgroup directory; `runIn(cmd)` runs a shell command inside it. */
export function tempCgroup(): { path: string; runIn(cmd: string): void; done(): void } {
  const dir = path.join(cgroup2Root(), `bpflens_${process.pid}_${seq++}`);
  mkdirSync(dir);
  return {
    path: dir,
    runIn: (cmd) => void spawnSync('sh', ['-c', `echo $$ > ${dir}/cgroup.procs && ${cmd}`], { encoding: 'utf8' }),
    done: () => {
      for (let i = 0; i < 20 && existsSync(dir); i++) {
        try {
          rmdirSync(dir);
        } catch {
          spawnSync('sleep', ['0.05']);
        }
      }
    },
  };
}

/** A small C program whose `lens_work(i)` returns 2*i+1, called argv[1] times. */
export function probeTarget(): { bin: string; done(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bpflens-uprobe-'));
  const src = path.join(dir, 'lens_target.c');
  writeFileSync(
    src,
    [
      '#include <stdlib.h>',
      '__attribute__((noinline)) int lens_work(int x) { __asm__ volatile(""); return 2 * x + 1; }',
      'int main(int argc, char **argv) { int n = argc > 1 ? atoi(argv[1]) : 1, s = 0;',
      '  for (int i = 0; i < n; i++) s += lens_work(i); return s == -1; }',
    ].join('\n'),
  );
  const bin = path.join(dir, 'lens_target');
  run('gcc', ['-O1', '-o', bin, src]);
  return { bin, done: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Where Debian's systemtap-sdt-dev puts sys/sdt.h (scripts/setup.sh installs it), if it is there. */
export function sdtHeader(): string | undefined {
  const multiarch = spawnSync('gcc', ['-print-multiarch'], { encoding: 'utf8' }).stdout.trim() || 'x86_64-linux-gnu';
  return [`/usr/include/${multiarch}/sys/sdt.h`, '/usr/include/sys/sdt.h'].find((p) => existsSync(p));
}

/**
 * `lens_usdt N`: a PIE with DTRACE_PROBE-style USDT notes (sys/sdt.h) that calls lens_fire(r, i)
 * for i < N — probes lens:args (i * -1000000000 in a register; int, short and signed char read
 * from memory; the constant 42) and lens:mem (long, int, unsigned short 65000 in memory) — and
 * lens_gated(i), whose lens:gated probe sits behind a semaphore in .probes (another translation
 * unit: only it is built with semaphores), and lens_sib(a, i % 8), whose lens:sib probe passes
 * a[i] as a base+index*scale operand (`-4@(%rdi,%rsi,4)`) and i. It prints the semaphore's
 * value when done. `pie: false` builds a fixed-address executable (ET_EXEC).
 */
export function usdtTarget(opts: { pie?: boolean } = {}): { dir: string; bin: string; done(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bpflens-usdt-'));
  const main = [
    '#include <sys/sdt.h>',
    '#include <stdio.h>',
    '#include <stdlib.h>',
    'struct rec { long big; int mid; short small; signed char tiny; unsigned short u16; };',
    'extern unsigned short lens_gated_semaphore;',
    'void lens_gated(int i);',
    '__attribute__((noinline)) void lens_fire(struct rec *r, int i) {',
    '  DTRACE_PROBE5(lens, args, (long)i * -1000000000L, r->mid, r->small, r->tiny, 42);',
    '  DTRACE_PROBE3(lens, mem, r->big, r->mid, r->u16);',
    '  __asm__ volatile("" ::: "memory");',
    '}',
    '__attribute__((noinline)) void lens_sib(int *arr, long i) {',
    '  DTRACE_PROBE2(lens, sib, arr[i], i);',
    '  __asm__ volatile("" ::: "memory");',
    '}',
    'int main(int argc, char **argv) {',
    '  int n = argc > 1 ? atoi(argv[1]) : 1;',
    '  struct rec r = { 0x123456789abcL, -77, -3000, -5, 65000 };',
    '  int a[8] = { 10, -20, 30, -40, 50, -60, 70, -80 };',
    '  for (int i = 0; i < n; i++) { r.big += i; lens_fire(&r, i); lens_gated(i); lens_sib(a, i % 8); }',
    '  printf("semaphore %d\\n", lens_gated_semaphore);',
    '  return 0;',
    '}',
  ];
  const gated = [
    '#define _SDT_HAS_SEMAPHORES 1',
    '#include <sys/sdt.h>',
    '__extension__ unsigned short lens_gated_semaphore __attribute__((unused)) __attribute__((section(".probes")));',
    '__attribute__((noinline)) void lens_gated(int i) {',
    '  if (lens_gated_semaphore) DTRACE_PROBE1(lens, gated, i);',
    '  __asm__ volatile("" ::: "memory");',
    '}',
  ];
  writeFileSync(path.join(dir, 'main.c'), main.join('\n'));
  writeFileSync(path.join(dir, 'gated.c'), gated.join('\n'));
  const bin = path.join(dir, 'lens_usdt');
  run('gcc', ['-O2', ...(opts.pie === false ? ['-no-pie'] : []), '-o', bin, path.join(dir, 'main.c'), path.join(dir, 'gated.c')]);
  return { dir, bin, done: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * `lens_multi N`: calls lens_m_a (returns 1) N times, lens_m_b (returns 10) 2N times, lens_m_c
 * (returns 100) 3N times and lens_other (returns 1000) N times; for uprobe.multi globs.
 */
export function multiTarget(): { dir: string; bin: string; done(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bpflens-multi-'));
  const fn = (name: string, ret: number) =>
    `__attribute__((noinline)) long ${name}(long x) { __asm__ volatile(""); return x * 0 + ${ret}; }`;
  const src = [
    '#include <stdlib.h>',
    fn('lens_m_a', 1),
    fn('lens_m_b', 10),
    fn('lens_m_c', 100),
    fn('lens_other', 1000),
    'int main(int argc, char **argv) { int n = argc > 1 ? atoi(argv[1]) : 1; long s = 0;',
    '  for (int i = 0; i < n; i++) { s += lens_m_a(i) + lens_other(i);',
    '    for (int j = 0; j < 2; j++) s += lens_m_b(i);',
    '    for (int j = 0; j < 3; j++) s += lens_m_c(i); }',
    '  return s == -1; }',
  ];
  writeFileSync(path.join(dir, 'lens_multi.c'), src.join('\n'));
  const bin = path.join(dir, 'lens_multi');
  run('gcc', ['-O1', '-o', bin, path.join(dir, 'lens_multi.c')]);
  return { dir, bin, done: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Perf event FDs this process holds. */
export function perfFds(): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === 'anon_inode:[perf_event]') n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

/** Links the kernel holds for these program ids (bpftool link list). */
export function linksOf(progIds: readonly number[]): { id: number; type: string; prog_id: number }[] {
  const all = JSON.parse(run('bpftool', ['-j', 'link', 'list']) || '[]') as { id: number; type: string; prog_id: number }[];
  return all.filter((l) => progIds.includes(l.prog_id));
}

/** Programs attached to a cgroup (bpftool cgroup show). */
export function cgroupProgs(dir: string): unknown[] {
  const out = spawnSync('bpftool', ['-j', 'cgroup', 'show', dir], { encoding: 'utf8' }).stdout.trim();
  return out ? (JSON.parse(out) as unknown[]) : [];
}

/** What `tc` shows on an interface: qdiscs other than the default, and filters. */
export function tcState(dev: string): string {
  return spawnSync('tc', ['qdisc', 'show', 'dev', dev], { encoding: 'utf8' }).stdout.trim();
}
