// __arg_ctx in the editor, over a real connection: the subprogram's hover and the notes on
// its definition say "native on local (kernel X)" on this machine (6.18 has native support);
// with bpfLens.argCtxFallback = always they say how each program sees the argument when
// emulated, and an error where a program type (fentry) has no named context.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { type Diagnostic, LspClient, makeWorkspace } from './lsp-client';

const SOURCES = ['argctx_shared.bpf.c', 'argctx_fentry.bpf.c'];
const ws = makeWorkspace(SOURCES);
const clients: LspClient[] = [];
after(async () => {
  for (const c of clients) await c.stop();
  ws.cleanup();
});

interface Session {
  lsp: LspClient;
  docs: Map<string, { uri: string; lines: string[] }>;
}

async function session(settings: Record<string, unknown>): Promise<Session> {
  const lsp = await LspClient.start(ws.dir, settings);
  clients.push(lsp);
  const docs = new Map<string, { uri: string; lines: string[] }>();
  for (const f of SOURCES) {
    const file = path.join(ws.src, f);
    const text = readFileSync(file, 'utf8');
    docs.set(f, { uri: await lsp.open(file, text), lines: text.split('\n') });
  }
  return { lsp, docs };
}

async function hoverOn(s: Session, file: string, needle: string): Promise<string> {
  const d = s.docs.get(file)!;
  const line = d.lines.findIndex((l) => l.includes(needle));
  const h = await s.lsp.hover(d.uri, line, d.lines[line].indexOf(needle) + 1);
  assert.ok(h, `hover on ${needle}`);
  return h;
}

async function notes(s: Session, file: string): Promise<Diagnostic[]> {
  const uri = s.docs.get(file)!.uri;
  return s.lsp.until(`arg-ctx diagnostics on ${file}`, () => {
    const d = (s.lsp.diagnostics.get(uri) ?? []).filter((x) => x.code === 'arg-ctx');
    return d.length ? d : undefined;
  });
}

const defLine = (s: Session, file: string, fn: string) =>
  s.docs.get(file)!.lines.findIndex((l) => new RegExp(`\\b${fn}\\(`).test(l) && !l.includes(';'));

let native: Session;
let always: Session;
before(async () => {
  native = await session({});
  always = await session({ argCtxFallback: 'always' });
});

test('native target: the hover on the subprogram and an info note on its definition say so, with the kernel release', async () => {
  const h = await hoverOn(native, 'argctx_shared.bpf.c', 'argctx_common(void');
  assert.match(h, /\*\*global subprogram\*\* `argctx_common`/);
  assert.match(
    h,
    new RegExp(`__arg_ctx \`ctx\` of \`argctx_common\`: native on local \\(kernel ${os.release().replace(/[.+]/g, '\\$&')}\\)`),
  );
  const d = await notes(native, 'argctx_shared.bpf.c');
  const common = d.filter((x) => x.range.start.line === defLine(native, 'argctx_shared.bpf.c', 'argctx_common'));
  assert.equal(common.length, 1);
  assert.equal(common[0].severity, 3);
  assert.match(common[0].message, /^argctx_shared\.o: __arg_ctx `ctx` of `argctx_common`: native on local \(kernel /);
  // fentry's caller is fine natively: no error.
  assert.ok((await notes(native, 'argctx_fentry.bpf.c')).every((x) => x.severity === 3));
});

test('always: the hover lists how each program sees the argument; the deep subprogram only its two callers', async () => {
  const h = await hoverOn(always, 'argctx_shared.bpf.c', 'argctx_common(void');
  assert.match(
    h,
    /emulated on local \(kernel [^)]+\) \(bpfLens\.argCtxFallback is always\): seen as `bpf_user_pt_regs_t \*` from `argctx_kprobe` \(kprobe\), `struct bpf_perf_event_data \*` from `argctx_perf` \(perf_event\), `struct bpf_raw_tracepoint_args \*` from `argctx_rawtp` \(raw_tracepoint\), `struct xdp_md \*` from `argctx_xdp` \(xdp\), `struct __sk_buff \*` from `argctx_tc` \(sched_cls\)/,
  );
  const deep = await hoverOn(always, 'argctx_shared.bpf.c', 'argctx_deep(void');
  assert.match(
    deep,
    /seen as `bpf_user_pt_regs_t \*` from `argctx_kprobe` \(kprobe\), `struct bpf_raw_tracepoint_args \*` from `argctx_rawtp` \(raw_tracepoint\)$/m,
  );
  // Entry programs carry no __arg_ctx section.
  assert.doesNotMatch(await hoverOn(always, 'argctx_shared.bpf.c', 'argctx_xdp(struct'), /__arg_ctx/);
});

test('always: an error on the definition where a caller has no named context (fentry), the xdp caller still emulated', async () => {
  const d = await notes(always, 'argctx_fentry.bpf.c');
  const line = defLine(always, 'argctx_fentry.bpf.c', 'argctx_any');
  assert.ok(d.every((x) => x.range.start.line === line));
  const err = d.filter((x) => x.severity === 1);
  assert.equal(err.length, 1);
  assert.match(
    err[0].message,
    /__arg_ctx `ctx` of `argctx_any`: cannot be emulated on local \(kernel [^)]+\) \(bpfLens\.argCtxFallback is always\) for `argctx_fentry` \(tracing\): that program type has no named context type/,
  );
  assert.ok(d.some((x) => x.severity === 3 && /seen as `struct xdp_md \*` from `argctx_fentry_xdp` \(xdp\)/.test(x.message)));
  const h = await hoverOn(always, 'argctx_fentry.bpf.c', 'argctx_any(void');
  assert.match(h, /⛔ __arg_ctx `ctx` of `argctx_any`: cannot be emulated/);
});
