// The load pipeline on another kernel: Debian's 6.1 boots under qemu (TCG) with the host's root
// over 9p, and the host's node loads objects there (load-guest.ts). Checks what this host cannot:
// kfuncs of a MODULE (tcp_bbr) through fd_array, a struct_ops map registered by updating its
// value (6.1 predates .struct_ops.link) and unregistered on close, the __arg_ctx fallback hook
// (6.1 has no native arg:ctx), CO-RE of a 6.18-built object against 6.1's BTF, a rich object, and
// fentry on a module function (attach_btf_obj_fd), which this host's lockdown refuses.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as path from 'path';
import { ROOT, run } from '../helpers';
import { debianKernel } from '../kernels';
import { runHostRootGuest } from '../qemu-host-root';

test('Debian 6.1 under qemu: module kfuncs via fd_array, struct_ops registered and unregistered, __arg_ctx fallback, CO-RE against 6.1', (t) => {
  run('make', ['-s', '-C', path.join(ROOT, 'examples')]);
  const k = debianKernel('6.1');
  const command = [
    process.execPath,
    path.join(__dirname, 'load-guest.js'),
    path.join(ROOT, 'build', 'fixtures'),
    path.join(ROOT, 'examples', 'build'),
    k.config,
  ].join(' ');
  const g = runHostRootGuest({ version: '6.1', command, extraModules: ['tcp_bbr'], setup: 'ip link set lo up' }).result;
  assert.match(g.release, /^6\.1\./);
  t.diagnostic(`6.1 guest: loads took ${Math.round(g.loadMs)} ms`);
  // rich object: tail call into leaf; out[] = scale(10) with factor 3, .data, bpf_loop sum, LINUX_KERNEL_VERSION of 6.1, weak 0, .bss
  assert.deepEqual(g.rich.ret, 1, JSON.stringify(g.rich));
  const [maj, min, patch] = g.release.split(/[.-]/).map(Number);
  assert.deepEqual(g.rich.vals, ['30', '7', '10', String((maj << 16) + (min << 8) + Math.min(patch, 255)), '0', '1']);
  // struct_ops whose programs call tcp_bbr's kfuncs: registered while loaded, gone after close
  assert.deepEqual(
    g.bbr,
    { programs: ['lens_bbr_init', 'lens_bbr_ssthresh', 'lens_bbr_undo_cwnd', 'lens_bbr_main'], registered: true, afterClose: false },
    JSON.stringify(g.bbr),
  );
  // __arg_ctx: 6.1 lacks native support, the pipeline's hook clones per program and every program verifies
  assert.equal(g.argCtxNative, false);
  assert.ok(!('error' in g.argCtx), JSON.stringify(g.argCtx));
  assert.ok(g.argCtx.programs.length >= 5 && g.argCtx.programs.every((p: [string, boolean]) => p[1]), JSON.stringify(g.argCtx));
  // exec_tracer was built on this host's 6.18 vmlinux.h: CO-RE relocates it against 6.1
  assert.deepEqual(g.execTracer.programs, ['tracing'], JSON.stringify(g.execTracer));
  assert.ok(g.execTracer.relos > 0 && g.execTracer.ok);
  // fentry/bbr_init: found in the tcp_bbr module's BTF (attach_btf_obj_fd), attached, counts a bbr connection
  assert.deepEqual(g.fentryModule.programs, ['tracing'], JSON.stringify(g.fentryModule));
  assert.ok(Number(g.fentryModule.inits) >= 1, JSON.stringify(g.fentryModule));
});
