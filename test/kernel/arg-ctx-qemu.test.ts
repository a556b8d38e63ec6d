// __arg_ctx end to end on a kernel without native support: Debian's 6.1 boots under qemu
// (TCG) with the host's root over 9p, and the host's node loads the fixtures there
// (arg-ctx-guest.ts). With the fallback every program verifies; without it the verifier
// rejects the tagged `void *` argument; a program type with no named context is refused
// before anything is loaded. Debian's 6.12 (native support) is the control: every mode loads,
// and fentry's caller, which no fallback can serve, works natively there.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as path from 'path';
import { ROOT } from '../helpers';
import { runHostRootGuest } from '../qemu-host-root';

test('Debian 6.1 (no native arg:ctx): the fallback makes every program verify; without it the verifier refuses; fentry is refused before loading', (t) => {
  const g = bootAndLoad(t, '6.1');
  const programs = ['argctx_kprobe', 'argctx_perf', 'argctx_rawtp', 'argctx_xdp', 'argctx_tc'];
  // auto: the probe says no native support, so the fallback runs and everything verifies.
  assert.equal(g.auto.native, false);
  assert.equal(g.auto.fallback, true);
  // argctx_common for 5 programs, argctx_deep for kprobe and raw_tp.
  assert.equal(g.auto.clones, 7);
  for (const p of programs) assert.equal(g.auto.programs[p].loaded, true, `${p}: ${g.auto.programs[p].log}`);
  assert.deepEqual(g.always.programs, g.auto.programs);
  // never: each program's call into the tagged `void *` is refused by the 6.1 verifier.
  assert.equal(g.never.fallback, false);
  for (const p of programs) {
    const r = g.never.programs[p];
    assert.equal(r.loaded, false, p);
    assert.equal(r.errno, 'EINVAL', p);
    assert.match(r.log, /arg#0 reference type\('UNKNOWN '\) size cannot be determined/, p);
  }
  t.diagnostic(
    `6.1 verifier without the fallback (argctx_xdp): ${g.never.programs.argctx_xdp.log.trim().split('\n').slice(-3).join(' | ')}`,
  );
  // fentry has no named context: refused before loading, naming subprogram, argument, program and type.
  assert.equal(g.fentry.fallback, true);
  assert.match(g.fentry.refused, /subprogram 'argctx_any' argument #0 'ctx'.*program 'argctx_fentry' of type tracing/);
  assert.deepEqual(g.fentry.programs, {});
  // The xdp caller of the same subprogram alone is emulated fine.
  assert.equal(g.fentryXdp.programs.argctx_fentry_xdp.loaded, true, g.fentryXdp.programs.argctx_fentry_xdp.log);
  // The same through the product's load pipeline (what `bpf-lens load` runs).
  const pl = g.pipeline;
  assert.equal(pl.auto.ok, true, pl.auto.message);
  assert.deepEqual(
    pl.auto.progs.map((p: { name: string }) => p.name),
    programs,
  );
  assert.equal(pl.never.ok, false);
  assert.match(pl.never.log, /arg#0 reference type\('UNKNOWN '\) size cannot be determined/);
  t.diagnostic(`6.1, bpf-lens load --arg-ctx-fallback never: ${pl.never.message.split('\n')[0]}`);
  assert.equal(pl.fentry.ok, false);
  assert.match(
    pl.fentry.message,
    /the kernel lacks native __arg_ctx support[\s\S]*subprogram 'argctx_any' argument #0 'ctx'.*program 'argctx_fentry' of type tracing/,
  );
});

test('Debian 6.12 (native arg:ctx): auto and never load as compiled, always with the clones, and fentry takes the tag natively', (t) => {
  const g = bootAndLoad(t, '6.12');
  const programs = ['argctx_kprobe', 'argctx_perf', 'argctx_rawtp', 'argctx_xdp', 'argctx_tc'];
  assert.equal(g.auto.native, true);
  assert.equal(g.auto.fallback, false);
  assert.equal(g.always.clones, 7);
  for (const mode of ['auto', 'never', 'always']) {
    for (const p of programs) assert.equal(g[mode].programs[p].loaded, true, `${mode} ${p}: ${g[mode].programs[p].log}`);
  }
  // What libbpf's fallback cannot do, the kernel does: a tracing program passes its context to the tagged argument.
  assert.equal(g.fentry.fallback, false);
  assert.equal(g.fentry.programs.argctx_fentry.loaded, true, g.fentry.programs.argctx_fentry.log);
  assert.equal(g.pipeline.auto.ok, true, g.pipeline.auto.message);
  assert.equal(g.pipeline.never.ok, true, g.pipeline.never.message);
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function bootAndLoad(t: { diagnostic(m: string): void }, version: '6.1' | '6.12'): any {
  const fixtures = path.join(ROOT, 'build', 'fixtures');
  const command = [
    process.execPath,
    path.join(__dirname, 'arg-ctx-guest.js'),
    path.join(fixtures, 'argctx_shared.o'),
    path.join(fixtures, 'argctx_fentry.o'),
  ].join(' ');
  const { result: g, ms } = runHostRootGuest({ version, command });
  t.diagnostic(`${version}: qemu boot + loads: ${ms} ms (loads inside the guest: ${Math.round(g.loadMs)} ms)`);
  return g;
}
