// __arg_ctx through the real load pipeline, as a user runs it: `bpf-lens load --arg-ctx-fallback
// MODE --pin DIR`, then bpftool reads back what the kernel kept. `bpftool prog dump xlated`
// prints each function's prototype from the program's func_info in the kernel: with the
// fallback every program shows its own context type in the shared subprogram, natively the
// compiler's `void *`. fentry's caller cannot be emulated: refused, exit 1, nothing pinned.
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'fs';
import { test } from 'node:test';
import * as path from 'path';
import { cli, fixture, run } from '../helpers';
import { bpffsDir } from './kernel-env';

/** `int name(...)` prototype lines of a pinned program, as bpftool prints them from func_info. */
function prototypes(pinned: string): string[] {
  return run('bpftool', ['prog', 'dump', 'xlated', 'pinned', pinned])
    .split('\n')
    .filter((l) => /^(int|static) \w+\(/.test(l))
    .map((l) => l.replace(/:$/, ''));
}

function loadPinned(t: { after(f: () => void): void }, obj: string, mode: string) {
  const pin = bpffsDir(`argctx_${mode}`);
  t.after(pin.done);
  const r = cli(['load', fixture(obj), '--arg-ctx-fallback', mode, '--pin', pin.dir, '--json']);
  return { r, dir: pin.dir };
}

test('bpf-lens load --arg-ctx-fallback always: each program carries its own clone of the shared subprograms (read back by bpftool)', (t) => {
  const { r, dir } = loadPinned(t, 'argctx_shared.o', 'always');
  assert.equal(r.code, 0, r.stderr);
  const progs = JSON.parse(r.stdout).progs as { name: string; verified_insns: number }[];
  assert.deepEqual(
    progs.map((p) => p.name),
    ['argctx_kprobe', 'argctx_perf', 'argctx_rawtp', 'argctx_xdp', 'argctx_tc'],
  );
  assert.ok(progs.every((p) => p.verified_insns > 0));
  const got = Object.fromEntries(progs.map((p) => [p.name, prototypes(path.join(dir, p.name)).sort()]));
  assert.deepEqual(got, {
    argctx_kprobe: [
      'int argctx_common(struct pt_regs * ctx, int weight)',
      'int argctx_deep(struct pt_regs * ctx)',
      'int argctx_kprobe(struct pt_regs * regs)',
      'int argctx_middle(void * ctx)',
    ],
    argctx_perf: ['int argctx_common(struct bpf_perf_event_data * ctx, int weight)', 'int argctx_perf(struct bpf_perf_event_data * data)'],
    argctx_rawtp: [
      'int argctx_common(struct bpf_raw_tracepoint_args * ctx, int weight)',
      'int argctx_deep(struct bpf_raw_tracepoint_args * ctx)',
      'int argctx_middle(void * ctx)',
      'int argctx_rawtp(struct bpf_raw_tracepoint_args * args)',
    ],
    // argctx_typed is declared `struct xdp_md *` already: not cloned.
    argctx_xdp: [
      'int argctx_common(struct xdp_md * ctx, int weight)',
      'int argctx_typed(struct xdp_md * ctx)',
      'int argctx_xdp(struct xdp_md * xdp)',
    ],
    argctx_tc: ['int argctx_common(struct __sk_buff * ctx, int weight)', 'int argctx_tc(struct __sk_buff * skb)'],
  });
});

test('bpf-lens load --arg-ctx-fallback auto on this kernel (native): the subprograms keep the compiler’s `void *`', (t) => {
  const { r, dir } = loadPinned(t, 'argctx_shared.o', 'auto');
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(prototypes(path.join(dir, 'argctx_perf')).sort(), [
    'int argctx_common(void * ctx, int weight)',
    'int argctx_perf(struct bpf_perf_event_data * data)',
  ]);
  assert.deepEqual(
    prototypes(path.join(dir, 'argctx_kprobe')).filter((p) => p.includes('deep')),
    ['int argctx_deep(void * ctx)'],
  );
});

test('bpf-lens load --arg-ctx-fallback always with a fentry caller: refused before loading, naming subprogram, argument, program and type', (t) => {
  const { r, dir } = loadPinned(t, 'argctx_fentry.o', 'always');
  assert.equal(r.code, 1);
  const j = JSON.parse(r.stdout);
  assert.equal(j.ok, false);
  assert.deepEqual(j.progs, []);
  assert.equal(j.error.program, 'argctx_fentry');
  assert.match(j.error.message, /^__arg_ctx cannot be emulated \(--arg-ctx-fallback always\)/);
  assert.match(
    j.error.message,
    /subprogram 'argctx_any' argument #0 'ctx' \(__arg_ctx\) is called from program 'argctx_fentry' of type tracing, which has no named context type/,
  );
  assert.ok(existsSync(dir));
  assert.deepEqual(readdirSync(dir), []);
  // A bad mode is a usage error.
  const bad = cli(['load', fixture('argctx_shared.o'), '--arg-ctx-fallback', 'sometimes']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /--arg-ctx-fallback must be auto, always or never/);
});
