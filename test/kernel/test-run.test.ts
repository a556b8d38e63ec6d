// `bpf-lens test-run` against Debian's bpftool (7.1) `prog run` on this kernel: the same
// programs (testrun_progs.o pinned by bpftool loadall), the same input files and repeat
// counts give the same verdict and the same output bytes; the verdict comes named; the
// OBJ PROG form (loaded by BPF Lens) and --packet agree with the pinned form; bad input is said.
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { test } from 'node:test';
import * as os from 'os';
import * as path from 'path';
import { buildPacket } from '../../server/src/run/packet';
import { cli, fixture, run } from '../helpers';
import { bpffsDir } from './kernel-env';

const OBJ = () => fixture('testrun_progs.o');

interface Case {
  prog: string;
  packet: string;
  repeat: number;
  name: string;
}

const CASES: Case[] = [
  { prog: 'xdp_reflect', packet: 'eth/ipv4(src=10.1.1.1,dst=10.1.1.2)/icmp(id=7,seq=1)/payload(hello)', repeat: 1, name: 'XDP_TX' },
  { prog: 'xdp_reflect', packet: 'eth/ipv4/icmp(id=7,seq=1)/payload(hello)', repeat: 10, name: 'XDP_PASS' },
  { prog: 'xdp_reflect', packet: 'eth/ipv4/udp(dport=9)/payload(x)', repeat: 1, name: 'XDP_DROP' },
  { prog: 'xdp_reflect', packet: 'eth/ipv6/udp(dport=9)', repeat: 1, name: 'XDP_PASS' },
  { prog: 'tc_ttl', packet: 'eth/ipv4(ttl=64)/udp/payload(abc)', repeat: 1, name: 'TC_ACT_OK' },
  { prog: 'tc_ttl', packet: 'eth/ipv4(ttl=64)/udp/payload(abc)', repeat: 5, name: 'TC_ACT_OK' },
  { prog: 'tc_ttl', packet: 'eth/ipv4/tcp(dport=23,flags=S)', repeat: 1, name: 'TC_ACT_SHOT' },
  { prog: 'sock_no_udp', packet: 'eth/ipv4/udp/payload(abc)', repeat: 1, name: 'drop' },
  { prog: 'sock_no_udp', packet: 'eth/ipv4/tcp/payload(abcdef)', repeat: 3, name: 'keep 46 bytes' },
];

function bpftoolRun(pinned: string, dataIn: string, dataOut: string, repeat: number): { retval: number; out: string } {
  const text = run('bpftool', ['prog', 'run', 'pinned', pinned, 'data_in', dataIn, 'data_out', dataOut, 'repeat', String(repeat)]);
  const m = /Return value: (\d+), duration/.exec(text);
  assert.ok(m, text);
  return { retval: Number(m[1]), out: readFileSync(dataOut).toString('hex') };
}

test('verdicts and output bytes equal bpftool prog run for xdp, tc and socket filter programs', () => {
  const pins = bpffsDir('testrun');
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'bpflens-testrun-'));
  try {
    run('bpftool', ['prog', 'loadall', OBJ(), `${pins.dir}/p`]);
    for (const [i, c] of CASES.entries()) {
      const dataIn = path.join(tmp, `in${i}`);
      writeFileSync(dataIn, buildPacket(c.packet));
      const pinned = `${pins.dir}/p/${c.prog}`;
      const want = bpftoolRun(pinned, dataIn, path.join(tmp, `out${i}`), c.repeat);
      const r = cli(['test-run', '--pinned', pinned, '--data-in', dataIn, '--repeat', String(c.repeat), '--json']);
      assert.equal(r.code, 0, r.stderr);
      const got = JSON.parse(r.stdout);
      const what = `${c.prog} ${c.packet} x${c.repeat}`;
      assert.deepEqual(Object.keys(got), ['ok', 'retval', 'retval_name', 'data_out', 'duration_ns'], what);
      assert.equal(got.ok, true);
      assert.equal(got.retval, want.retval, what);
      assert.equal(got.data_out, want.out, what);
      assert.equal(got.retval_name, c.name, what);
      assert.ok(Number.isInteger(got.duration_ns) && got.duration_ns > 0, what);
      // The object form, loaded by BPF Lens, with the packet built from the spec: the same.
      const o = JSON.parse(cli(['test-run', OBJ(), c.prog, '--packet', c.packet, '--repeat', String(c.repeat), '--json']).stdout);
      assert.deepEqual([o.retval, o.data_out], [want.retval, want.out], `${what} (OBJ PROG)`);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    pins.done();
  }
});

test('text output: the verdict named, what changed against the input; --id works; errors are said', () => {
  const t = cli(['test-run', OBJ(), 'xdp_reflect', '--packet', 'eth/ipv4(src=10.1.1.1,dst=10.1.1.2)/icmp/payload(hi)']);
  assert.equal(t.code, 0, t.stderr);
  assert.match(
    t.stdout,
    /^retval 3 \(XDP_TX\)\nduration \d+ ns per run \(1 run\)\ndata out 44 bytes, \d+ changes against the input:\n {2}@5: 02 -> 01\n/,
  );
  const pins = bpffsDir('testrun_id');
  try {
    run('bpftool', ['prog', 'loadall', OBJ(), `${pins.dir}/p`]);
    const id = JSON.parse(run('bpftool', ['-j', 'prog', 'show', 'pinned', `${pins.dir}/p/tc_ttl`])).id;
    const r = JSON.parse(cli(['test-run', '--id', String(id), '--packet', 'eth/ipv4/tcp(dport=23)', '--json']).stdout);
    assert.equal(r.retval_name, 'TC_ACT_SHOT');
  } finally {
    pins.done();
  }
  const bad = cli(['test-run', OBJ(), 'xdp_reflect', '--packet', 'eth/ipv4(src=1.2.3)']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /ipv4: src: '1.2.3' is not an IPv4 address/);
  const none = cli(['test-run', OBJ(), 'nope', '--packet', 'eth']);
  assert.match(none.stderr, /has no program 'nope' \(it has: xdp_reflect, tc_ttl, sock_no_udp\)/);
  const gone = cli(['test-run', '--pinned', '/sys/fs/bpf/bpflens_no_such_pin', '--packet', 'eth', '--json']);
  assert.equal(gone.code, 1);
  assert.match(JSON.parse(gone.stdout).error, /BPF_OBJ_GET failed: ENOENT/);
  assert.equal(spawnSync('true').status, 0);
});
