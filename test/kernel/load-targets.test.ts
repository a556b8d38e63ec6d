/**
 * The load suite on four targets through one AgentClient API: `local` (this machine, 6.18), the
 * SSH test host (sshd in a netns, same kernel), and Debian's 6.1 and 6.12 under qemu
 * (test/qemu-target.ts), each started once and reused for every load. The same fixtures load
 * everywhere; PROG_TEST_RUN verdicts must match the local ones; and the results differ exactly
 * where the kernels do: 6.1 has no native arg:ctx (refused without the fallback, loads with it;
 * fentry's caller cannot be emulated), no bpf_task_from_pid kfunc (6.2+); this host's lockdown
 * refuses trampolines and kernel symbol addresses that the guests allow.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import * as os from 'os';
import { after, before, test } from 'node:test';
import * as path from 'path';
import { ROOT, run } from '../helpers';
import { startSshHost, type SshHost } from '../ssh-host';
import { startTestTarget, type TestTarget } from '../qemu-target';
import { debianKernel } from '../kernels';
import { connectTarget, isLoadError, type SshConnectTimings } from '../../server/src/remote';
import type { AgentLoadResult, HelloResult } from '../../protocol/agent';

const FIX = path.join(ROOT, 'build', 'fixtures');
const EX = path.join(ROOT, 'examples', 'build');
// Objects every kernel here loads (6.1 and up); none pins anything.
const PORTABLE = [
  ...[
    'load_xdp',
    'load_globals',
    'load_globals_bss',
    'load_events',
    'load_map_in_map',
    'load_socket',
    'load_spinlock',
    'load_tailcall',
    'load_tc',
    'load_tcx',
    'load_cgroup',
    'load_kprobe',
    'load_raw_tp',
    'load_tracepoint',
    'load_tp_btf',
    'load_iter',
    'load_sk_msg',
    'load_perf_event',
  ].map((n) => path.join(FIX, `${n}.o`)),
  ...['xdp_counter', 'exec_tracer', 'ctx_shared'].map((n) => path.join(EX, `${n}.bpf.o`)),
];
const ARGCTX = path.join(FIX, 'argctx_shared.o');
const ARGCTX_FENTRY = path.join(FIX, 'argctx_fentry.o');

type Outcome = { ok: true; programs: string[]; runs: Record<string, number | null>; ms: number } | { ok: false; message: string };

const targets: TestTarget[] = [];
let sshHost: SshHost | undefined;
const hellos = new Map<string, HelloResult>();

async function loadAndRun(t: TestTarget, file: string, argCtxFallback?: 'auto' | 'never'): Promise<Outcome> {
  let r: AgentLoadResult;
  try {
    r = await t.client.load({
      name: path.basename(file),
      object: readFileSync(file).toString('base64'),
      ...(argCtxFallback ? { argCtxFallback } : {}),
    });
  } catch (e) {
    return { ok: false, message: (e as Error).message };
  }
  const runs: Record<string, number | null> = {};
  try {
    for (const p of r.programs) {
      // Program types without PROG_TEST_RUN answer an error: recorded as null, compared too.
      try {
        runs[p.name] = (await t.client.testRun({ handle: r.handle, program: p.name, data: Buffer.alloc(64).toString('base64') })).retval;
      } catch {
        runs[p.name] = null;
      }
    }
  } finally {
    assert.equal((await t.client.unload(r.handle)).closed, true);
  }
  return { ok: true, programs: r.programs.map((p) => p.name), runs, ms: r.ms };
}

before(async () => {
  run('make', ['-s', '-C', path.join(ROOT, 'examples')]);
  sshHost = startSshHost();
  // Both guests boot at once (one vCPU each on two cores) while local and SSH connect.
  const timings: Partial<SshConnectTimings> = {};
  const ssh = (async (): Promise<TestTarget> => {
    const t0 = performance.now();
    const client = await connectTarget('bpflens-test', { root: ROOT, configFile: sshHost.config, timings });
    const connectMs = performance.now() - t0;
    return {
      spec: 'ssh',
      client,
      connectMs,
      console: () =>
        `probe ${timings.probeMs?.toFixed(0)} ms, deploy ${timings.deployMs?.toFixed(0)} ms (${timings.deployed ? 'uploaded' : 're-used'}), start+hello ${timings.startMs?.toFixed(0)} ms`,
      async close() {
        await client.close();
        return true;
      },
      kill() {
        if (client.child.exitCode === null) client.child.kill('SIGKILL');
      },
    };
  })();
  const started = await Promise.allSettled([startTestTarget('local'), ssh, startTestTarget('qemu:6.1'), startTestTarget('qemu:6.12')]);
  for (const s of started) if (s.status === 'fulfilled') targets.push(s.value);
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) throw failed.reason;
  for (const t of targets) hellos.set(name(t), await t.client.hello());
});

// The hard stop, whatever happened before (close() of a target already closed does nothing).
after(() => {
  for (const t of targets) t.kill();
  sshHost?.stop();
});

const name = (t: TestTarget) => t.spec;
const byName = (n: string) => targets.find((t) => name(t) === n)!;
const local = () => byName('local');
const guests = () => [byName('qemu:6.1'), byName('qemu:6.12')];

test('hello on every target: release, privileges, and the features each kernel has (table)', () => {
  const release = readFileSync('/proc/sys/kernel/osrelease', 'latin1').trim();
  assert.equal(hellos.get('local')!.release, release);
  assert.equal(hellos.get('ssh')!.release, release);
  assert.match(hellos.get('qemu:6.1')!.release, /^6\.1\.\d+-/);
  assert.match(hellos.get('qemu:6.12')!.release, /^6\.12\.\d+/);
  for (const [n, h] of hellos) {
    assert.equal(h.uid, 0, n);
    assert.equal(h.privileges.canLoad, true, n);
    assert.equal(h.hasVmlinuxBtf, true, n);
  }
  // Native arg:ctx came with 6.8; the table shows every probe's answer per kernel.
  assert.equal(hellos.get('qemu:6.1')!.features.arg_ctx_tag, false);
  assert.equal(hellos.get('qemu:6.12')!.features.arg_ctx_tag, true);
  assert.equal(hellos.get('local')!.features.arg_ctx_tag, true);
  assert.deepEqual(hellos.get('ssh')!.features, hellos.get('local')!.features);
  const names = Object.keys(hellos.get('local')!.features);
  const cols = [...hellos.keys()];
  const rows = names.map((f) => `${f.padEnd(20)} ${cols.map((c) => (hellos.get(c)!.features[f] ? 'yes' : 'no').padEnd(10)).join(' ')}`);
  console.log(`${'feature'.padEnd(20)} ${cols.map((c) => c.padEnd(10)).join(' ')}\n${rows.join('\n')}`);
  // What 6.1 lacks and 6.12 and 6.18 have: native arg:ctx and '?' in DATASEC names (libbpf's
  // '?.struct_ops'); every other probe answers the same on all four.
  const differ = names.filter((f) => new Set(cols.map((c) => hellos.get(c)!.features[f])).size > 1);
  assert.deepEqual(differ.sort(), ['arg_ctx_tag', 'btf_qmark_datasec']);
  for (const f of differ)
    assert.deepEqual(
      cols.filter((c) => !hellos.get(c)!.features[f]),
      ['qemu:6.1'],
      f,
    );
});

test('portable objects load on all four kernels and PROG_TEST_RUN gives the same verdicts as here', async () => {
  const results = await Promise.all(
    targets.map(async (t) => {
      const m = new Map<string, Outcome>();
      for (const f of PORTABLE) m.set(f, await loadAndRun(t, f));
      return m;
    }),
  );
  const here = results[0];
  let verdicts = 0;
  for (const f of PORTABLE) {
    const l = here.get(f)!;
    assert.ok(l.ok, `${f} locally: ${!l.ok && l.message}`);
    verdicts += Object.values(l.runs).filter((v) => v !== null).length;
    targets.forEach((t, i) => {
      const o = results[i].get(f)!;
      assert.ok(o.ok, `${path.basename(f)} on ${name(t)}: ${!o.ok && o.message}`);
      assert.deepEqual(o.programs, l.programs, `${path.basename(f)} on ${name(t)}`);
      assert.deepEqual(o.runs, l.runs, `${path.basename(f)} verdicts on ${name(t)}`);
    });
  }
  assert.ok(verdicts >= 15, `only ${verdicts} programs ran`);
});

test('arg:ctx: 6.1 refuses the tagged argument without the fallback and loads with it; 6.12 and 6.18 load natively either way', async () => {
  for (const t of targets) {
    const never = await loadAndRun(t, ARGCTX, 'never');
    const auto = await loadAndRun(t, ARGCTX, 'auto');
    const native = hellos.get(name(t))!.features.arg_ctx_tag;
    assert.ok(auto.ok, `${name(t)} auto: ${!auto.ok && auto.message}`);
    assert.deepEqual(auto.programs, ['argctx_kprobe', 'argctx_perf', 'argctx_rawtp', 'argctx_xdp', 'argctx_tc']);
    assert.equal(auto.runs.argctx_xdp, 2, name(t)); // XDP_PASS through the shared subprogram
    if (native) assert.ok(never.ok, `${name(t)} never: ${!never.ok && never.message}`);
    else {
      assert.equal(never.ok, false, name(t));
      assert.match((never as { message: string }).message, /arg#0 reference type\('UNKNOWN '\) size cannot be determined/);
    }
  }
  // fentry's caller has no named context type: no fallback can serve it, only native support.
  const f61 = await loadAndRun(byName('qemu:6.1'), ARGCTX_FENTRY, 'auto');
  assert.equal(f61.ok, false);
  assert.match((f61 as { message: string }).message, /__arg_ctx cannot be emulated.*\n.*'argctx_any' argument #0/);
  const f612 = await loadAndRun(byName('qemu:6.12'), ARGCTX_FENTRY, 'never');
  assert.ok(f612.ok && f612.programs.includes('argctx_fentry'), JSON.stringify(f612));
});

test("through the guests' channel: target BTF is the Debian package's vmlinux BTF, sent once then cached; a rejected load brings its stage, program and verifier log; progress streams", async (t) => {
  const cacheDir = mkdtempSync(path.join(os.tmpdir(), 'bpflens-btfcache-'));
  t.after(() => rmSync(cacheDir, { recursive: true, force: true }));
  const lines: string[] = [];
  await Promise.all(
    guests().map(async (g) => {
      const want = readFileSync(debianKernel(g.spec === 'qemu:6.1' ? '6.1' : '6.12').vmlinuxBtf);
      let t0 = performance.now();
      const first = await g.client.targetBtf(cacheDir);
      const firstMs = performance.now() - t0;
      assert.equal(first.cached, false);
      assert.ok(first.data.equals(want), `${g.spec}: BTF differs from the package's (${first.data.length} vs ${want.length} bytes)`);
      t0 = performance.now();
      const again = await g.client.targetBtf(cacheDir);
      const againMs = performance.now() - t0;
      assert.equal(again.cached, true);
      assert.equal(again.hash, first.hash);
      lines.push(
        `${g.spec}: vmlinux BTF ${(want.length / 1e6).toFixed(1)} MB fetched in ${firstMs.toFixed(0)} ms, cached check ${againMs.toFixed(1)} ms`,
      );
    }),
  );
  console.log(lines.join('\n'));
  const g61 = byName('qemu:6.1');
  await assert.rejects(
    g61.client.load({ name: 'argctx_shared.o', object: readFileSync(ARGCTX).toString('base64'), argCtxFallback: 'never', logLevel: 1 }),
    (e: unknown) => {
      assert.ok(isLoadError(e), String(e));
      assert.equal(e.data!.stage, 'programs');
      assert.equal(e.data!.program, 'argctx_kprobe');
      assert.match(e.data!.log ?? '', /arg#0 reference type\('UNKNOWN '\) size cannot be determined/);
      return true;
    },
  );
  const stages: string[] = [];
  const r = await g61.client.load(
    { name: 'xdp_counter.bpf.o', object: readFileSync(path.join(EX, 'xdp_counter.bpf.o')).toString('base64') },
    (stage) => stages.push(stage),
  );
  await g61.client.unload(r.handle);
  assert.ok(stages.includes('programs') && stages.includes('maps'), stages.join(','));
});

test("kernel differences: bpf_task_from_pid (6.2+) missing on 6.1; trampolines and ksym addresses refused by this host's lockdown, loaded in the guests", async () => {
  const kf = path.join(FIX, 'load_kfuncs.o');
  const k61 = await loadAndRun(byName('qemu:6.1'), kf);
  assert.equal(k61.ok, false);
  assert.match((k61 as { message: string }).message, /extern \(kfunc\) 'bpf_task_from_pid': no FUNC of that name/);
  for (const t of [local(), byName('qemu:6.12')]) {
    const o = await loadAndRun(t, kf);
    assert.ok(o.ok, `${name(t)}: ${!o.ok && o.message}`);
    assert.equal(o.runs.xdp_task_lookup, 2);
  }
  const lockdown = hellos.get('local')!.lockdown;
  for (const f of ['load_fentry', 'load_ksym_typed'].map((n) => path.join(FIX, `${n}.o`))) {
    const here = await loadAndRun(local(), f);
    if (lockdown && lockdown !== 'none') assert.equal(here.ok, false, `${f} here under lockdown=${lockdown}`);
    for (const g of guests()) {
      const o = await loadAndRun(g, f);
      assert.ok(o.ok, `${path.basename(f)} on ${name(g)}: ${!o.ok && o.message}`);
    }
  }
});

test('speed: connect/deploy per target, and a load on a live agent (second load) vs here', async () => {
  const obj = path.join(EX, 'xdp_counter.bpf.o');
  const lines: string[] = [];
  for (const t of targets) {
    await loadAndRun(t, obj);
    const t0 = performance.now();
    const o = await loadAndRun(t, obj);
    const rtt = performance.now() - t0;
    assert.ok(o.ok);
    lines.push(
      `${name(t).padEnd(10)} connect ${t.connectMs.toFixed(0).padStart(6)} ms   load+run+unload round trip ${rtt.toFixed(1).padStart(7)} ms   load in agent ${o.ms.toFixed(1).padStart(7)} ms${name(t) === 'ssh' ? `   (${t.console()})` : ''}`,
    );
  }
  console.log(`xdp_counter.bpf.o, agent cached (second load):\n${lines.join('\n')}`);
});

test('shutdown: each agent exits on request and each guest then powers off by itself', async () => {
  const t0 = performance.now();
  const clean = await Promise.all(targets.map((t) => t.close().catch(() => false)));
  assert.deepEqual(Object.fromEntries(targets.map((t, i) => [name(t), clean[i]])), Object.fromEntries(targets.map((t) => [name(t), true])));
  console.log(`shutdown of all four: ${(performance.now() - t0).toFixed(0)} ms`);
});
