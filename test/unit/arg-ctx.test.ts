// __arg_ctx: the analysis (which global subprograms carry `arg:ctx`, who reaches them, as what
// context type), the context-type table against the kernels' own bpf_ctx_convert, and the
// fallback's BTF rewrite checked type by type (and read back by bpftool).
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { test } from 'node:test';
import * as os from 'os';
import * as path from 'path';
import { type Btf, parseBtf } from '../../server/src/btf/btf';
import { BTF_FUNC_GLOBAL, BTF_INT_SIGNED, type BtfType, type NewType } from '../../server/src/btf/types';
import { BtfBuilder, writeBtf } from '../../server/src/btf/write';
import { inspectJson } from '../../server/src/cli/inspect';
import { openObject } from '../../server/src/object';
import { PROG_CTX_TYPES, analyzeArgCtx, argCtxAction, progCtxType } from '../../server/src/object/arg-ctx';
import { ArgCtxRewriter, applyArgCtxFallback, argCtxFallbackWanted } from '../../server/src/load/arg-ctx';
import { LoadError } from '../../server/src/load/types';
import { argCtxHover, argCtxNotes } from '../../server/src/lsp/arg-ctx';
import { CLI, fixture, rng } from '../helpers';
import { debianKernel } from '../kernels';
import { linkProgram } from '../kernel/arg-ctx-load';

const open = (name: string) => openObject(readFileSync(fixture(name)), fixture(name));

test('analysis: the shared subprogram is seen from five program types, the deep one only through the static middle', () => {
  const obj = open('argctx_shared.o');
  const a = analyzeArgCtx(obj);
  const by = new Map(a.map((x) => [x.subprog, x]));
  assert.deepEqual([...by.keys()].sort(), ['argctx_common', 'argctx_deep', 'argctx_typed']);
  const common = by.get('argctx_common')!;
  assert.equal(common.arg, 'ctx');
  assert.equal(common.argIndex, 0);
  assert.equal(common.declaredType, 'void *');
  assert.deepEqual(
    common.callers.map((c) => [c.program, c.progType, c.ctxType, c.direct, c.action]),
    [
      ['argctx_kprobe', 'kprobe', 'bpf_user_pt_regs_t', true, 'rewrite'],
      ['argctx_perf', 'perf_event', 'bpf_perf_event_data', true, 'rewrite'],
      ['argctx_rawtp', 'raw_tracepoint', 'bpf_raw_tracepoint_args', true, 'rewrite'],
      ['argctx_xdp', 'xdp', 'xdp_md', true, 'rewrite'],
      ['argctx_tc', 'sched_cls', '__sk_buff', true, 'rewrite'],
    ],
  );
  // argctx_deep is only called by the static argctx_middle, which kprobe and raw_tp call.
  assert.deepEqual(
    by.get('argctx_deep')!.callers.map((c) => [c.program, c.direct]),
    [
      ['argctx_kprobe', false],
      ['argctx_rawtp', false],
    ],
  );
  // Declared `struct xdp_md *` already: the xdp caller needs nothing.
  const typed = by.get('argctx_typed')!;
  assert.equal(typed.declaredType, 'struct xdp_md *');
  assert.deepEqual(
    typed.callers.map((c) => [c.program, c.action]),
    [['argctx_xdp', 'already']],
  );
  assert.ok(common.source && /argctx_shared\.bpf\.c$/.test(common.source.file));
});

test('analysis: fentry has no named context; inspect --json reports arg_ctx with ctx_type null', () => {
  const obj = open('argctx_fentry.o');
  const j = inspectJson(obj).arg_ctx;
  assert.deepEqual(j, [
    {
      subprog: 'argctx_any',
      arg: 'ctx',
      arg_index: 0,
      declared_type: 'void *',
      callers: [
        { program: 'argctx_fentry', type: 'tracing', ctx_type: null, direct: true, action: 'no-ctx' },
        { program: 'argctx_fentry_xdp', type: 'xdp', ctx_type: 'xdp_md', direct: true, action: 'rewrite' },
      ],
    },
  ]);
  // The same through the command a user runs.
  const r = spawnSync(process.execPath, [CLI, 'inspect', '--json', fixture('argctx_fentry.o')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout).arg_ctx, j);
  const text = spawnSync(process.execPath, [CLI, 'inspect', fixture('argctx_shared.o')], { encoding: 'utf8' }).stdout;
  assert.match(text, /__arg_ctx arguments \(3\):/);
  assert.match(
    text,
    /argctx_deep\(void \*ctx\) arg #0: argctx_kprobe \(kprobe\) → bpf_user_pt_regs_t, argctx_rawtp \(raw_tracepoint\) → bpf_raw_tracepoint_args/,
  );
  // An object without tags has an empty list.
  assert.deepEqual(inspectJson(open('lsp_progs.o')).arg_ctx, []);
});

/** bpf_ctx_convert in a vmlinux BTF: program type → the type of its `_prog` member (what BPF programs see). */
function kernelCtxTypes(btf: Btf): Map<string, BtfType | undefined> {
  const conv = btf.find('STRUCT', 'bpf_ctx_convert');
  assert.ok(conv && conv.kind === 'STRUCT');
  const out = new Map<string, BtfType | undefined>();
  for (const m of conv.members) {
    const g = /^BPF_PROG_TYPE_(\w+)_prog$/.exec(m.name);
    if (g) out.set(g[1].toLowerCase(), btf.get(m.type));
  }
  return out;
}

test("context table: each named context is the kernel's own (bpf_ctx_convert of 6.18 here and Debian's 6.1); the others have no named struct", () => {
  for (const [label, bytes] of [
    ['host', readFileSync('/sys/kernel/btf/vmlinux')],
    ['6.1', readFileSync(debianKernel('6.1').vmlinuxBtf)],
  ] as const) {
    const kinds = kernelCtxTypes(parseBtf(bytes));
    assert.ok(kinds.size > 20, label);
    for (const [progType, t] of kinds) {
      const named = t && (t.kind === 'STRUCT' || (t.kind === 'TYPEDEF' && t.name === 'bpf_user_pt_regs_t')) ? t.name : null;
      assert.equal(progCtxType(progType), named, `${label}: ${progType}`);
    }
    for (const p of Object.keys(PROG_CTX_TYPES))
      if (!['netfilter', 'lwt_seg6local'].includes(p) || kinds.has(p)) assert.ok(kinds.has(p), `${label}: ${p}`);
  }
  assert.equal(progCtxType('tracing'), null);
  assert.equal(progCtxType('toString'), null);
});

const n = (name: string) => ({ name, nameOff: 0, kindFlag: false });

test('argCtxAction: libbpf rules for what is rewritten, already right or left alone', () => {
  const b = new BtfBuilder();
  const int = b.add({ kind: 'INT', ...n('int'), size: 4, encoding: BTF_INT_SIGNED, bitsOffset: 0, bits: 32 });
  const u64 = b.add({ kind: 'INT', ...n('unsigned long long'), size: 8, encoding: 0, bitsOffset: 0, bits: 64 });
  const voidp = b.add({ kind: 'PTR', ...n(''), type: 0 });
  const cvoid = b.add({ kind: 'CONST', ...n(''), type: 0 });
  const cvoidp = b.add({ kind: 'PTR', ...n(''), type: cvoid });
  const regs = b.add({ kind: 'STRUCT', ...n('pt_regs'), size: 0, members: [] });
  const regsp = b.add({ kind: 'PTR', ...n(''), type: regs });
  const tdef = b.add({ kind: 'TYPEDEF', ...n('bpf_user_pt_regs_t'), type: regs });
  const tdefp = b.add({ kind: 'PTR', ...n(''), type: tdef });
  const u64p = b.add({ kind: 'PTR', ...n(''), type: u64 });
  const skb = b.add({ kind: 'STRUCT', ...n('__sk_buff'), size: 0, members: [] });
  const skbp = b.add({ kind: 'PTR', ...n(''), type: skb });
  const ptrTypedef = b.add({ kind: 'TYPEDEF', ...n('ctx_t'), type: voidp });
  const btf = b.build();
  const cases: [number, string, string][] = [
    [voidp, 'xdp', 'rewrite'],
    [cvoidp, 'sched_cls', 'rewrite'],
    [ptrTypedef, 'xdp', 'rewrite'],
    [regsp, 'kprobe', 'rewrite'],
    [regsp, 'perf_event', 'rewrite'],
    [regsp, 'xdp', 'mismatch'],
    [tdefp, 'kprobe', 'already'],
    [tdefp, 'perf_event', 'already'],
    [tdefp, 'xdp', 'mismatch'],
    [u64p, 'raw_tracepoint', 'rewrite'],
    [u64p, 'raw_tracepoint_writable', 'rewrite'],
    [u64p, 'kprobe', 'mismatch'],
    [skbp, 'sched_cls', 'already'],
    [skbp, 'socket_filter', 'already'],
    [skbp, 'xdp', 'mismatch'],
    [int, 'xdp', 'mismatch'],
    [voidp, 'tracing', 'no-ctx'],
    [voidp, 'tracepoint', 'no-ctx'],
    [voidp, 'lsm', 'no-ctx'],
  ];
  for (const [id, prog, want] of cases) assert.equal(argCtxAction(btf, id, prog), want, `${btf.type(id).kind} ${id} from ${prog}`);
  // perf_event on arm64 takes user_pt_regs, not pt_regs.
  assert.equal(argCtxAction(btf, regsp, 'perf_event', { machine: 'aarch64' }), 'mismatch');
});

test('fallback modes: auto only without native support, always regardless, never not at all', () => {
  assert.deepEqual(
    [true, false].map((native) => ['auto', 'always', 'never', undefined].map((m) => argCtxFallbackWanted(m as 'auto', native))),
    [
      [false, true, false, false],
      [true, true, false, true],
    ],
  );
});

function rewriteShared() {
  const obj = open('argctx_shared.o');
  const linked = obj.programs.map((p) => linkProgram(obj, p));
  const fix = applyArgCtxFallback(
    obj.btf!,
    linked.map((l) => ({ name: l.program.name, progType: l.program.progType, funcInfo: l.funcInfo })),
    'test',
  );
  return { obj, linked, fix };
}

test('rewrite: one FUNC → FUNC_PROTO clone per program and subprogram, pointing the tagged argument at that program’s context', () => {
  const { obj, linked, fix } = rewriteShared();
  const orig = obj.btf!;
  const btf = fix.btf;
  // Only appended: every original type and string is where it was (func_info, line_info and CO-RE stay valid).
  assert.deepEqual(btf.types.slice(0, orig.count), orig.types);
  assert.deepEqual(Buffer.from(btf.strings.subarray(0, orig.strings.length)), Buffer.from(orig.strings));
  const funcId = (name: string) => orig.byName(name).find((id) => orig.get(id)!.kind === 'FUNC')!;
  const common = funcId('argctx_common');
  const deep = funcId('argctx_deep');
  const typed = funcId('argctx_typed');
  // The original argctx_common still takes `void *`.
  const origProto = orig.type(orig.type(common).kind === 'FUNC' ? (orig.type(common) as { type: number }).type : 0);
  assert.equal(origProto.kind === 'FUNC_PROTO' && orig.get(origProto.params[0].type)?.kind, 'PTR');

  const want: Record<string, [string, string][]> = {
    argctx_kprobe: [
      ['argctx_common', 'pt_regs'],
      ['argctx_deep', 'pt_regs'],
    ],
    argctx_perf: [['argctx_common', 'bpf_perf_event_data']],
    argctx_rawtp: [
      ['argctx_common', 'bpf_raw_tracepoint_args'],
      ['argctx_deep', 'bpf_raw_tracepoint_args'],
    ],
    argctx_xdp: [['argctx_common', 'xdp_md']],
    argctx_tc: [['argctx_common', '__sk_buff']],
  };
  const seenClones = new Set<number>();
  for (const l of linked) {
    const prog = l.program.name;
    const recs = fix.funcInfo.get(prog)!;
    assert.equal(recs.length, l.funcInfo.length);
    const got: [string, string][] = [];
    recs.forEach((r, i) => {
      const before = l.funcInfo[i];
      assert.equal(r.insnOff, before.insnOff);
      if (r.typeId === before.typeId) {
        // Unchanged: the entry program itself, the static middle, argctx_typed (already right).
        assert.ok(r.typeId < orig.length);
        return;
      }
      assert.ok(r.typeId >= orig.length, `${prog}: clone is appended`);
      assert.ok(!seenClones.has(r.typeId), `${prog}: its own clone`);
      seenClones.add(r.typeId);
      const fn = btf.type(r.typeId);
      const was = btf.type(before.typeId);
      assert.ok(fn.kind === 'FUNC' && was.kind === 'FUNC');
      assert.equal(fn.name, was.name);
      assert.equal(fn.nameOff, was.nameOff);
      assert.equal(fn.linkage, BTF_FUNC_GLOBAL);
      const proto = btf.type(fn.type);
      const wasProto = btf.type(was.type);
      assert.ok(proto.kind === 'FUNC_PROTO' && wasProto.kind === 'FUNC_PROTO');
      assert.ok(fn.type >= orig.length, 'FUNC_PROTO is cloned too');
      assert.equal(proto.type, wasProto.type);
      assert.deepEqual(
        proto.params.map((p) => p.nameOff),
        wasProto.params.map((p) => p.nameOff),
      );
      assert.deepEqual(proto.params.slice(1), wasProto.params.slice(1));
      const ptr = btf.type(proto.params[0].type);
      assert.equal(ptr.kind, 'PTR');
      const struct = btf.type((ptr as { type: number }).type);
      assert.equal(struct.kind, 'STRUCT', `${prog}: a STRUCT, never a FWD`);
      got.push([fn.name, struct.name]);
      // The clone carries its own arg:ctx tag.
      assert.ok(btf.types.some((t) => t.kind === 'DECL_TAG' && t.name === 'arg:ctx' && t.type === r.typeId && t.componentIdx === 0));
    });
    assert.deepEqual(got, want[prog], prog);
  }
  assert.equal(fix.clones.length, 7);
  assert.equal(seenClones.size, 7);
  assert.ok(!fix.clones.some((c) => c.funcId === typed));
  assert.deepEqual(new Set(fix.clones.map((c) => c.funcId)), new Set([common, deep]));
  // Structs the object already has are reused (xdp_md, __sk_buff); the FWD bpf_perf_event_data is not.
  const xdpClone = fix.clones.find((c) => c.program === 'argctx_xdp')!;
  assert.equal(btf.type(xdpClone.args[0].ptrId).kind, 'PTR');
  assert.ok(xdpClone.args[0].ptrId < orig.length);
  const perfClone = fix.clones.find((c) => c.program === 'argctx_perf')!;
  assert.ok(perfClone.args[0].ptrId >= orig.length);
  // kprobe's two clones share one PTR → STRUCT pt_regs.
  const kp = fix.clones.filter((c) => c.program === 'argctx_kprobe');
  assert.equal(kp[0].args[0].ptrId, kp[1].args[0].ptrId);
  assert.deepEqual(fix.warnings, []);
});

test('rewrite: the written BTF parses back identically and bpftool reads the clones', () => {
  const { fix } = rewriteShared();
  const bytes = writeBtf(fix.btf);
  assert.deepEqual(parseBtf(bytes).types, fix.btf.types);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bpflens-argctx-'));
  try {
    const file = path.join(dir, 'rewritten.btf');
    writeFileSync(file, bytes);
    const r = spawnSync('bpftool', ['btf', 'dump', 'file', file], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal((r.stdout.match(/FUNC 'argctx_common' type_id=\d+ linkage=global/g) ?? []).length, 6);
    assert.equal((r.stdout.match(/FUNC 'argctx_deep' type_id=\d+ linkage=global/g) ?? []).length, 3);
    assert.match(r.stdout, /STRUCT 'bpf_perf_event_data' size=0 vlen=0/);
    assert.match(r.stdout, /STRUCT 'pt_regs' size=0 vlen=0/);
    assert.equal((r.stdout.match(/DECL_TAG 'arg:ctx'/g) ?? []).length, 3 + 7);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('rewrite: a program type with no named context is an error naming subprogram, argument, program and type; nothing else is refused', () => {
  const obj = open('argctx_fentry.o');
  const linked = obj.programs.map((p) => linkProgram(obj, p));
  const input = linked.map((l) => ({ name: l.program.name, progType: l.program.progType, funcInfo: l.funcInfo }));
  assert.throws(
    () => applyArgCtxFallback(obj.btf!, input, 'the kernel lacks native __arg_ctx support'),
    (e: unknown) => {
      assert.ok(e instanceof LoadError);
      assert.equal(e.stage, 'relocate');
      assert.equal(e.details.program, 'argctx_fentry');
      assert.match(e.message, /the kernel lacks native __arg_ctx support/);
      assert.match(
        e.message,
        /subprogram 'argctx_any' argument #0 'ctx' \(__arg_ctx\) is called from program 'argctx_fentry' of type tracing, which has no named context type/,
      );
      assert.doesNotMatch(e.message, /argctx_fentry_xdp/);
      return true;
    },
  );
  const xdpOnly = applyArgCtxFallback(
    obj.btf!,
    input.filter((p) => p.name === 'argctx_fentry_xdp'),
    'test',
  );
  assert.equal(xdpOnly.clones.length, 1);
});

test('rewrite: an object without tags comes back unchanged (same BTF object, same records)', () => {
  const obj = open('lsp_progs.o');
  const r = new ArgCtxRewriter(obj.btf!);
  assert.equal(r.hasTags, false);
  const recs = [{ insnOff: 0, typeId: obj.programs[0].btfFuncId! }];
  assert.equal(r.program(obj.programs[0].name, obj.programs[0].progType, recs), recs);
  assert.equal(r.finish(), obj.btf);
});

test('rewrite: a tagged parameter of the wrong pointer type is left alone with a warning (as libbpf)', () => {
  const b = new BtfBuilder();
  const add = (t: NewType) => b.add(t);
  const int = add({ kind: 'INT', ...n('int'), size: 4, encoding: BTF_INT_SIGNED, bitsOffset: 0, bits: 32 });
  const foo = add({ kind: 'STRUCT', ...n('foo'), size: 4, members: [] });
  const foop = add({ kind: 'PTR', ...n(''), type: foo });
  const proto = add({
    kind: 'FUNC_PROTO',
    ...n(''),
    type: int,
    params: [
      { name: 'x', nameOff: 0, type: int },
      { name: 'c', nameOff: 0, type: foop },
    ],
  });
  const fn = add({ kind: 'FUNC', ...n('sub'), type: proto, linkage: BTF_FUNC_GLOBAL });
  add({ kind: 'DECL_TAG', ...n('arg:ctx'), type: fn, componentIdx: 1 });
  add({ kind: 'DECL_TAG', ...n('arg:ctx'), type: fn, componentIdx: 7 }); // out of range: ignored
  const btf = b.build();
  const fix = applyArgCtxFallback(
    btf,
    [
      {
        name: 'p',
        progType: 'xdp',
        funcInfo: [
          { insnOff: 0, typeId: 1 },
          { insnOff: 5, typeId: fn },
        ],
      },
    ],
    'test',
  );
  assert.equal(fix.clones.length, 0);
  assert.equal(fix.btf, btf);
  assert.deepEqual(fix.warnings, [
    "program 'p': subprogram 'sub' argument #1 'c' is expected to be of `struct xdp_md *` type; left as declared",
  ]);
});

test('analysis and rewrite on mutated objects: FormatError or an answer, never a crash', () => {
  const bytes = readFileSync(fixture('argctx_shared.o'));
  const obj = openObject(bytes, 'x');
  const btfSec = obj.elf.sections.find((s) => s.name === '.BTF')!;
  const rand = rng(6);
  let answered = 0;
  for (let i = 0; i < 300; i++) {
    const m = Buffer.from(bytes);
    for (let k = 0; k < 4; k++) m[Number(btfSec.offset) + Math.floor(rand() * Number(btfSec.size))] = Math.floor(rand() * 256);
    let o;
    try {
      o = openObject(m, 'mutated');
    } catch (e) {
      assert.equal((e as Error).name, 'FormatError', String(e));
      continue;
    }
    const a = analyzeArgCtx(o);
    if (o.btf) {
      const r = new ArgCtxRewriter(o.btf);
      for (const p of o.programs)
        r.program(p.name, p.progType, [{ insnOff: 0, typeId: p.btfFuncId ?? 0 }, ...a.map((x) => ({ insnOff: 1, typeId: x.funcId }))]);
      writeBtf(r.finish());
    }
    answered++;
  }
  assert.ok(answered > 50, `${answered}`);
});

test('editor notes for a target without native support (as Debian 6.1): emulated views, an error for fentry, a warning under never', () => {
  const shared = analyzeArgCtx(open('argctx_shared.o'));
  const any = analyzeArgCtx(open('argctx_fentry.o'))[0];
  const old = { name: 'local', release: '6.1.0-56-amd64', native: false };
  const common = argCtxNotes(
    shared.find((a) => a.subprog === 'argctx_common')!,
    old,
    'auto',
  );
  assert.equal(common.length, 1);
  assert.match(
    common[0].message,
    /^__arg_ctx `ctx` of `argctx_common`: emulated on local \(kernel 6\.1\.0-56-amd64\) \(no native support\): seen as `bpf_user_pt_regs_t \*` from `argctx_kprobe` \(kprobe\), `struct bpf_perf_event_data \*` from `argctx_perf` \(perf_event\)/,
  );
  const f = argCtxNotes(any, old, 'auto');
  assert.deepEqual(
    f.map((n) => n.severity),
    [3, 1],
  );
  assert.match(
    f[1].message,
    /cannot be emulated on local \(kernel 6\.1\.0-56-amd64\) \(no native support\) for `argctx_fentry` \(tracing\)/,
  );
  const never = argCtxNotes(any, old, 'never');
  assert.deepEqual(
    never.map((n) => n.severity),
    [2],
  );
  assert.match(
    never[0].message,
    /not emulated \(bpfLens\.argCtxFallback is never\) and local \(kernel 6\.1\.0-56-amd64\) has no native support: the verifier will reject the calls from `argctx_fentry`, `argctx_fentry_xdp`/,
  );
  const unknown = argCtxNotes(any, { name: 'local', reason: 'the probe was refused with EPERM' }, 'auto');
  assert.match(unknown[0].message, /cannot tell whether local supports it natively \(the probe was refused with EPERM\)/);
  assert.match(argCtxHover([any], old, 'auto'), /\*\*`__arg_ctx`\*\*\n\n- __arg_ctx[^\n]*\n- ⛔ __arg_ctx/);
});
