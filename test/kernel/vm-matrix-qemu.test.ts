// VM targets as a user runs them: `bpf-lens load OBJ --target local --target vm:6.1 --target
// vm:6.12` (Debian's kernels booted under qemu by the product, one CLI run per object, both
// guests at once) prints the matrix, and it shows exactly where the kernels differ: an example
// loads everywhere; __arg_ctx is native on 6.12 and here but emulated on 6.1 (and refused there
// with --arg-ctx-fallback never); struct_ops of a module's type loads only on 6.12 with the
// module inserted (insmod=). A file that is not a kernel gives vm-boot-failed with qemu's and
// the console's last lines; probe says TCG; test-run on 6.1 gives this machine's verdict and
// bytes; verify on local and 6.12 answers per target.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import { cli, fixture, ROOT, run } from '../helpers';
import { debianKernel } from '../kernels';

const V61 = () => `vm:${debianKernel('6.1').vmlinuz}`;
const V612 = () => `vm:${debianKernel('6.12').vmlinuz}`;

interface Cell {
  program: string;
  status: 'loaded' | 'rejected' | 'not-attempted';
  verifiedInsns?: number;
  error?: string;
  why?: string;
}
interface TargetJson {
  target: string;
  ok: boolean;
  kernel_release?: string;
  matrix?: Cell[];
  notes?: string[];
  error?: { message: string; code?: string };
  ms: number;
}

function matrix(args: string[]): { code: number; json: { ok: boolean; targets: TargetJson[] }; ms: number; stderr: string } {
  const t0 = performance.now();
  const r = cli(['load', ...args, '--json'], { timeoutMs: 600_000 });
  const ms = performance.now() - t0;
  assert.ok(r.stdout.trim().startsWith('{'), `${r.stdout}\n${r.stderr}`);
  return { code: r.code, json: JSON.parse(r.stdout) as { ok: boolean; targets: TargetJson[] }, ms, stderr: r.stderr };
}

const statuses = (t: TargetJson) => Object.fromEntries((t.matrix ?? []).map((c) => [c.program, c.status]));

before(() => {
  run('make', ['-s', '-C', path.join(ROOT, 'examples')]);
});

test(
  'an example object on local, 6.1 and 6.12 in one run: loaded everywhere, verified instructions per kernel',
  { timeout: 600_000 },
  (t) => {
    const obj = path.join(ROOT, 'examples', 'build', 'xdp_counter.bpf.o');
    const r = matrix([obj, '--target', 'local', '--target', V61(), '--target', V612()]);
    t.diagnostic(
      `matrix run, 3 targets (two TCG boots): ${(r.ms / 1000).toFixed(1)} s; ${r.json.targets.map((x) => `${x.target}: ${x.ms} ms`).join(', ')}`,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json.ok, true);
    assert.deepEqual(
      r.json.targets.map((x) => x.target),
      ['local', V61(), V612()],
    );
    assert.match(r.json.targets[1].kernel_release!, /^6\.1\.\d+-/);
    assert.match(r.json.targets[2].kernel_release!, /^6\.12\.\d+/);
    for (const x of r.json.targets) {
      assert.equal(x.ok, true, x.target);
      assert.ok(x.matrix!.length > 0 && x.matrix!.every((c) => c.status === 'loaded' && c.verifiedInsns! > 0), JSON.stringify(x.matrix));
    }
    assert.match(r.stderr, /booting vm:.*under qemu, (KVM|TCG)/);
  },
);

test(
  '__arg_ctx: native on 6.12 and here, emulated on 6.1; with the fallback off 6.1 rejects every program and the text matrix says so',
  { timeout: 600_000 },
  (t) => {
    const obj = fixture('argctx_shared.o');
    const auto = matrix([obj, '--target', 'local', '--target', V61(), '--target', V612()]);
    t.diagnostic(`auto: ${(auto.ms / 1000).toFixed(1)} s`);
    assert.equal(auto.code, 0, auto.stderr);
    const [local, v61, v612] = auto.json.targets;
    for (const x of [local, v61, v612])
      assert.ok(
        Object.values(statuses(x)).every((s) => s === 'loaded'),
        `${x.target}: ${JSON.stringify(x.matrix)}`,
      );
    assert.match(v61.notes!.join('\n'), /__arg_ctx: emulated/);
    assert.match(v612.notes!.join('\n'), /__arg_ctx: native/);
    assert.match(local.notes!.join('\n'), /__arg_ctx: native/);

    const t0 = performance.now();
    const never = cli(['load', obj, '--arg-ctx-fallback', 'never', '--target', 'local', '--target', V61(), '--target', V612()], {
      timeoutMs: 600_000,
    });
    t.diagnostic(`never (text): ${((performance.now() - t0) / 1000).toFixed(1)} s\n${never.stdout}`);
    assert.equal(never.code, 1, never.stderr);
    // one row per program, one column per kernel: only 6.1 refuses
    assert.match(never.stdout, /^ {2}program\s+local\s+vm:6\.1\s+vm:6\.12$/m);
    for (const p of ['argctx_kprobe', 'argctx_perf', 'argctx_rawtp', 'argctx_xdp', 'argctx_tc'])
      assert.match(never.stdout, new RegExp(`^  ${p}\\s+ok \\d+\\s+REJECTED\\s+ok \\d+$`, 'm'));
    assert.match(never.stdout, /^vm:6\.1: argctx_xdp rejected.*: .*arg#0 reference type\('UNKNOWN '\) size cannot be determined/m);
    assert.match(never.stdout, /1 did not/);
  },
);

test(
  'struct_ops of a module type: loads on 6.12 with the module inserted; not attempted on 6.1 and here, naming the type',
  { timeout: 600_000 },
  (t) => {
    const ko = execFileSync('bash', [path.join(ROOT, 'scripts', 'testmod.sh'), '6.12'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    }).trim();
    const with612 = `${V612()},insmod=${ko}`;
    const r = matrix([fixture('kmod_structops.o'), '--target', 'local', '--target', V61(), '--target', with612]);
    t.diagnostic(`${(r.ms / 1000).toFixed(1)} s`);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.json.ok, false);
    const [local, v61, v612] = r.json.targets;
    assert.equal(v612.ok, true, JSON.stringify(v612));
    assert.ok(
      Object.values(statuses(v612)).every((s) => s === 'loaded'),
      JSON.stringify(v612.matrix),
    );
    for (const x of [local, v61]) {
      assert.equal(x.ok, false, x.target);
      for (const c of x.matrix!) {
        assert.equal(c.status, 'not-attempted', `${x.target} ${c.program}`);
        assert.match(c.why!, /struct_ops map 'lens_linked'.*struct bpf_lens_testmod_ops.*no kernel BTF has it/, x.target);
      }
    }
  },
);

test(
  'a file that is not a kernel: vm-boot-failed with what qemu and the console said; probe on a VM says which accelerator',
  { timeout: 600_000 },
  () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'notakernel-'));
    try {
      const bogus = path.join(dir, 'vmlinuz');
      writeFileSync(bogus, 'this is not a kernel\n'.repeat(4096));
      const r = cli(['load', fixture('load_xdp.o'), '--target', `vm:${bogus}`], { timeoutMs: 300_000 });
      assert.equal(r.code, 2, r.stdout);
      assert.match(r.stderr, /^error \(vm-boot-failed\): vm:.*notakernel-.*\/vmlinuz: the kernel .* did not boot to the agent/m);
      assert.match(r.stderr, /qemu: /);
      const many = matrix([fixture('load_xdp.o'), '--target', 'local', '--target', `vm:${bogus}`]);
      assert.equal(many.code, 1);
      assert.equal(many.json.targets[0].ok, true);
      assert.equal(many.json.targets[1].error?.code, 'vm-boot-failed');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const p = cli(['probe', '--target', V612()], { timeoutMs: 300_000 });
    assert.equal(p.code, 0, p.stderr);
    assert.match(p.stdout, /^kernel release: 6\.12\./m);
    assert.match(p.stdout, /^vm: +qemu, (KVM|TCG \(no usable \/dev\/kvm: emulated, slow\)), booted in \d+\.\d s$/m);
  },
);

test('test-run and verify on VM targets: the verdict and output bytes as here; verify per kernel with "ok"', { timeout: 600_000 }, (t) => {
  const obj = fixture('load_xdp.o');
  const args = ['test-run', obj, 'xdp_firewall', '--packet', 'eth/ipv4/udp', '--json'];
  const here = cli(args);
  const t0 = performance.now();
  const there = cli([...args, '--target', V61()], { timeoutMs: 300_000 });
  t.diagnostic(`test-run on 6.1 (boot included): ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  assert.equal(there.code, 0, there.stderr);
  const [h, v] = [JSON.parse(here.stdout), JSON.parse(there.stdout)] as { retval_name: string; data_out: string; target?: string }[];
  assert.equal(v.retval_name, 'XDP_PASS');
  assert.equal(v.retval_name, h.retval_name);
  assert.equal(v.data_out, h.data_out);
  assert.equal(v.target, V61());

  const ver = cli(['verify', obj, '--target', 'local', '--target', V612(), '--json'], { timeoutMs: 300_000 });
  assert.equal(ver.code, 0, ver.stderr);
  const j = JSON.parse(ver.stdout) as {
    ok: boolean;
    targets: { target: string; programs: { name: string; verdict: string; verified_insns: number }[] }[];
  };
  assert.equal(j.ok, true);
  assert.deepEqual(
    j.targets.map((x) => x.target),
    ['local', V612()],
  );
  for (const x of j.targets)
    assert.deepEqual(
      x.programs.map((p) => [p.name, p.verdict]),
      [['xdp_firewall', 'success']],
      x.target,
    );
});
