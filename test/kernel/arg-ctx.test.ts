// __arg_ctx on this machine's kernel (6.18, native support): the fixture verifies as the
// compiler wrote it (auto/never) and with the fallback forced (always), where every program
// gets its own clones. fentry's caller cannot be emulated: refused before loading under
// always; natively the kernel would take it but refuses fentry here (lockdown, EPERM).
import assert from 'node:assert/strict';
import { readFileSync } from 'fs';
import { test } from 'node:test';
import { openObject } from '../../server/src/object';
import { fixture } from '../helpers';
import { loadArgCtxObject } from './arg-ctx-load';

const PROGRAMS = ['argctx_kprobe', 'argctx_perf', 'argctx_rawtp', 'argctx_xdp', 'argctx_tc'];

test('this kernel: native arg:ctx; auto, never and always all load and verify every program', () => {
  const obj = openObject(readFileSync(fixture('argctx_shared.o')), 'argctx_shared.o');
  const auto = loadArgCtxObject(obj, 'auto');
  assert.equal(auto.native, true, 'the arg_ctx_tag probe says this 6.18 kernel supports it');
  assert.equal(auto.fallback, false);
  assert.equal(auto.clones, 0);
  const never = loadArgCtxObject(obj, 'never');
  const always = loadArgCtxObject(obj, 'always');
  assert.equal(always.fallback, true);
  assert.equal(always.clones, 7);
  for (const r of [auto, never, always]) {
    assert.deepEqual(Object.keys(r.programs), PROGRAMS);
    for (const p of PROGRAMS) {
      assert.equal(r.programs[p].loaded, true, `${p}: ${r.programs[p].log}`);
      assert.ok(r.programs[p].verifiedInsns! > 0, p);
    }
  }
  // The same instructions were verified either way (the verifier walked the same paths).
  for (const p of PROGRAMS) assert.equal(always.programs[p].verifiedInsns, auto.programs[p].verifiedInsns, p);
});

test('this kernel: fentry caller — refused before loading with always; natively the kernel takes the xdp caller and refuses fentry only for lockdown', () => {
  const obj = openObject(readFileSync(fixture('argctx_fentry.o')), 'argctx_fentry.o');
  const always = loadArgCtxObject(obj, 'always');
  assert.match(always.refused!, /^__arg_ctx cannot be emulated \(--arg-ctx-fallback always\):/);
  assert.match(
    always.refused!,
    /subprogram 'argctx_any' argument #0 'ctx' \(__arg_ctx\) is called from program 'argctx_fentry' of type tracing/,
  );
  assert.deepEqual(always.programs, {});
  const auto = loadArgCtxObject(obj, 'auto');
  assert.equal(auto.refused, undefined);
  assert.equal(auto.programs.argctx_fentry_xdp.loaded, true, auto.programs.argctx_fentry_xdp.log);
  assert.deepEqual(
    { loaded: auto.programs.argctx_fentry.loaded, errno: auto.programs.argctx_fentry.errno },
    { loaded: false, errno: 'EPERM' },
  );
});
