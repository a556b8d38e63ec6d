// Hovers and diagnostics over a real connection, on fixtures compiled by clang in a
// temporary workspace: one card per map shape, program and subprogram cards, stale objects
// and map definition errors placed on the map's line.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, rmSync, utimesSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, test } from 'node:test';
import { run } from '../helpers';
import { LspClient, makeWorkspace } from './lsp-client';

const ws = makeWorkspace(['lsp_maps.bpf.c', 'lsp_progs.bpf.c', 'lsp_bad_maps.bpf.c']);
let lsp: LspClient;
const docs = new Map<string, { uri: string; lines: string[] }>();

before(async () => {
  lsp = await LspClient.start(ws.dir);
  for (const f of ['lsp_maps.bpf.c', 'lsp_progs.bpf.c', 'lsp_bad_maps.bpf.c']) {
    const file = path.join(ws.src, f);
    const text = readFileSync(file, 'utf8');
    docs.set(f, { uri: await lsp.open(file, text), lines: text.split('\n') });
  }
});
after(async () => {
  await lsp.stop();
  ws.cleanup();
});

/** Hover on the first occurrence of `needle` in the file (at the `at`-th character of it). */
async function hoverOn(file: string, needle: string | RegExp, at = 1): Promise<string> {
  const d = docs.get(file)!;
  const line = d.lines.findIndex((l) => (typeof needle === 'string' ? l.includes(needle) : needle.test(l)));
  assert.ok(line >= 0, `${needle} in ${file}`);
  const col = typeof needle === 'string' ? d.lines[line].indexOf(needle) : d.lines[line].search(needle);
  const h = await lsp.hover(d.uri, line, col + at);
  assert.ok(h, `a hover on ${needle}`);
  return h;
}

test('hash map: type, max_entries, flags by name, key and value C types', async () => {
  const h = await hoverOn('lsp_maps.bpf.c', '} lsp_hash SEC', 3);
  assert.match(h, /\*\*map\*\* `lsp_hash` — `BPF_MAP_TYPE_HASH`/);
  assert.match(h, /\| max_entries \| 1024 \|/);
  assert.match(h, /\| key \| `__u32` \(4 bytes\) \|/);
  assert.match(h, /\| value \| `__u64` \(8 bytes\) \|/);
  assert.match(h, /\| map_flags \| `BPF_F_NO_PREALLOC` \(0x1\) \|/);
  assert.match(h, /\| pinning \| none \|/);
});

test('array of structs with holes: C declaration and a layout table with hole and padding rows (as pahole counts)', async () => {
  const h = await hoverOn('lsp_maps.bpf.c', '} lsp_array SEC', 3);
  assert.match(h, /BPF_MAP_TYPE_ARRAY/);
  assert.match(h, /\nstruct holey \{\n\t__u8 tag;\n\t__u64 count;\n\t__u16 port;\n\};\n```/);
  const table = h.slice(h.indexOf('| offset | size | field |'));
  const rows = table.split('\n').filter((l) => /^\| \d/.test(l));
  assert.deepEqual(rows, [
    '| 0 | 1 | `__u8 tag` |',
    '| 1 | 7 | ⚠ *hole* |',
    '| 8 | 8 | `__u64 count` |',
    '| 16 | 2 | `__u16 port` |',
    '| 18 | 6 | *padding* |',
  ]);
  // pahole, the reference for holes, agrees on the struct's holes and padding.
  const pahole = run('pahole', ['-C', 'holey', path.join(ws.build, 'lsp_maps.o')]);
  assert.match(pahole, /XXX 7 bytes hole/);
  assert.match(pahole, /padding: 6/);
  assert.match(h, /value layout \(24 bytes, 1 hole \(7 B\), 6 B padding\)/);
});

test('ring buffer and perf event array: sizes libbpf will use', async () => {
  const rb = await hoverOn('lsp_maps.bpf.c', '} lsp_ringbuf SEC', 3);
  assert.match(rb, /BPF_MAP_TYPE_RINGBUF/);
  assert.match(rb, /\| max_entries \| 262144 bytes \(256 KiB\) \|/);
  const perf = await hoverOn('lsp_maps.bpf.c', '} lsp_perf SEC', 3);
  assert.match(perf, /BPF_MAP_TYPE_PERF_EVENT_ARRAY/);
  assert.match(perf, /\| max_entries \| 0 \(libbpf uses the number of possible CPUs\) \|/);
  assert.match(perf, /\| key \| 4 bytes \|/);
});

test('pinned map: pin path; prog array and hash of maps: initial slots and inner map', async () => {
  const pin = await hoverOn('lsp_maps.bpf.c', '} lsp_pinned SEC', 3);
  assert.match(pin, /\| pinning \| by name → `\/sys\/fs\/bpf\/lsp_pinned` \|/);
  const jmp = await hoverOn('lsp_maps.bpf.c', '} lsp_jmp SEC', 3);
  assert.match(jmp, /BPF_MAP_TYPE_PROG_ARRAY/);
  assert.match(jmp, /\| initial slots \| \[2\] = `lsp_tail` \|/);
  const outer = await hoverOn('lsp_maps.bpf.c', '} lsp_outer SEC', 3);
  assert.match(outer, /BPF_MAP_TYPE_HASH_OF_MAPS/);
  assert.match(outer, /\| inner map \| `BPF_MAP_TYPE_ARRAY`, key 4 B, value 4 B, max_entries 4 \(`lsp_outer\.inner`\) \|/);
  assert.match(outer, /\| initial slots \| \[1\] = `lsp_inner1`, \[3\] = `lsp_inner2` \|/);
  // The same card from a use of the map in code.
  const use = await hoverOn('lsp_maps.bpf.c', '&lsp_outer', 3);
  assert.equal(use, outer);
});

/** Instructions of one function as llvm-objdump counts them. */
function insnCount(obj: string, func: string): number {
  const text = run('llvm-objdump', ['-d', '--no-show-raw-insn', obj]);
  const start = text.indexOf(`<${func}>:`);
  const body = text.slice(start).split(/\n\n\d+ <(?!LBB)/)[0];
  const idx = [...body.matchAll(/^\s*(\d+):\t(.*)$/gm)].map((m) => [Number(m[1]), m[2].includes(' ll') ? 2 : 1]);
  return idx.reduce((s, [, n]) => s + n, 0);
}

test('program cards on SEC(...) and on the function name: type, attach type, instruction count', async () => {
  const obj = path.join(ws.build, 'lsp_progs.o');
  const tc = await hoverOn('lsp_progs.bpf.c', 'SEC("tc")', 5);
  assert.match(tc, /\*\*program\*\* `lsp_classifier` — `SEC\("tc"\)`/);
  assert.match(tc, /\| program type \| `BPF_PROG_TYPE_SCHED_CLS` \|/);
  assert.match(tc, new RegExp(`\\| instructions \\| ${insnCount(obj, 'lsp_classifier')} \\|`));
  assert.match(tc, /\| calls \| `lsp_global_helper`, `lsp_static_helper` \|/);
  const tp = await hoverOn('lsp_progs.bpf.c', 'SEC("tracepoint/', 5);
  assert.match(tp, /BPF_PROG_TYPE_TRACEPOINT/);
  assert.match(tp, /\| attach target \| `syscalls\/sys_enter_openat` \|/);
  const xdp = await hoverOn('lsp_maps.bpf.c', 'int lsp_use_maps', 6);
  assert.match(xdp, /\| program type \| `BPF_PROG_TYPE_XDP` \|/);
  assert.match(xdp, /\| expected attach type \| `BPF_XDP` \|/);
});

test('subprogram cards: global or static, and which programs call them', async () => {
  const g = await hoverOn('lsp_progs.bpf.c', 'int lsp_global_helper(', 6);
  assert.match(g, /\*\*global subprogram\*\* `lsp_global_helper`/);
  assert.match(g, /\| called by programs \| `lsp_classifier`, `lsp_socket` \|/);
  const s = await hoverOn('lsp_progs.bpf.c', 'int lsp_static_helper(', 6);
  assert.match(s, /\*\*static subprogram\*\* `lsp_static_helper`/);
  assert.match(s, /\| called by programs \| `lsp_classifier`, `lsp_socket`, `lsp_tp` \|/);
  assert.match(s, new RegExp(`\\| instructions \\| ${insnCount(path.join(ws.build, 'lsp_progs.o'), 'lsp_static_helper')} \\|`));
});

test('no hover on words BPF Lens knows nothing about', async () => {
  const d = docs.get('lsp_progs.bpf.c')!;
  const line = d.lines.findIndex((l) => l.includes('return x * 3'));
  assert.equal(await lsp.hover(d.uri, line, d.lines[line].indexOf('x')), undefined);
});

test('map definition errors are diagnostics on the map line of the source', async () => {
  const d = docs.get('lsp_bad_maps.bpf.c')!;
  const diags = await lsp.until('diagnostics for lsp_bad_maps.bpf.c', () => {
    const x = lsp.diagnostics.get(d.uri);
    return x && x.length >= 2 ? x : undefined;
  });
  const at = (name: string) => d.lines.findIndex((l) => l.includes(`} ${name} SEC`));
  const keySize = diags.find((x) => /lsp_bad_key_size/.test(x.message))!;
  assert.equal(keySize.range.start.line, at('lsp_bad_key_size'));
  assert.equal(keySize.severity, 1);
  assert.match(keySize.message, /key size 3 != 4/);
  const noType = diags.find((x) => /lsp_no_type/.test(x.message))!;
  assert.equal(noType.range.start.line, at('lsp_no_type'));
  assert.equal(lsp.diagnostics.get(docs.get('lsp_maps.bpf.c')!.uri)?.length ?? 0, 0);
});

test('an object older than its source gets a warning on the source; rebuilding clears it', async () => {
  const src = path.join(ws.src, 'lsp_progs.bpf.c');
  const uri = pathToFileURL(src).href;
  const later = new Date(Date.now() + 60_000);
  utimesSync(src, later, later);
  await lsp.filesChanged([{ file: src, type: 2 }]);
  const stale = await lsp.until('stale warning', () => lsp.diagnostics.get(uri)?.find((x) => x.code === 'stale-object'));
  assert.equal(stale.severity, 2);
  assert.match(stale.message, /lsp_progs\.o is older than this source/);
  const obj = path.join(ws.build, 'lsp_progs.o');
  const newer = new Date(Date.now() + 120_000);
  utimesSync(obj, newer, newer);
  await lsp.filesChanged([{ file: obj, type: 2 }]);
  await lsp.until('stale warning cleared', () => !(lsp.diagnostics.get(uri) ?? []).some((x) => x.code === 'stale-object'));
});

test('disassembly document: program with its subprograms, helpers and maps by name, source lines', async () => {
  const r = await lsp.request<{ text: string; languageId: string }>('bpfLens/document', {
    path: path.join(ws.build, 'lsp_maps.o'),
    kind: 'disasm',
    program: 'lsp_use_maps',
  });
  assert.equal(r.languageId, 'bpf-disasm');
  assert.match(r.text, /^## SEC\("xdp"\) lsp_use_maps: xdp, xdp, \d+ insns/);
  assert.match(
    r.text,
    /; __u64 \*v = bpf_map_lookup_elem\(&lsp_hash, &k\); {2}\[lsp_maps\.bpf\.c:\d+\]\n\s+\d+:\tr1 = map\[lsp_hash\] ll\n/,
  );
  assert.match(r.text, /call bpf_tail_call#12/);
  assert.match(r.text, /r2 = map\[lsp_jmp\] ll/);
  const p = await lsp.request<{ text: string }>('bpfLens/document', {
    path: path.join(ws.build, 'lsp_progs.o'),
    kind: 'disasm',
    program: 'lsp_classifier',
  });
  assert.match(p.text, /call lsp_global_helper\n/);
  assert.match(p.text, /## lsp_global_helper: global subprogram, \d+ insns \(called by lsp_classifier\)/);
  assert.match(p.text, /## lsp_static_helper: static subprogram/);
  assert.match(p.text, /map_value\[\.bss/);
  // The client opens it on the bpf-lens: scheme; names in it hover as in the C source.
  const obj = path.join(ws.build, 'lsp_maps.o');
  const query = new URLSearchParams({ object: obj, kind: 'disasm', program: 'lsp_use_maps' }).toString();
  const uri = `bpf-lens:${obj}/lsp_use_maps.bpf-disasm?${encodeURIComponent(query)}`;
  await lsp.conn.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'bpf-disasm', version: 1, text: r.text } });
  const lines = r.text.split('\n');
  const at = lines.findIndex((l) => l.includes('map[lsp_hash]'));
  const h = await lsp.hover(uri, at, lines[at].indexOf('lsp_hash') + 2);
  assert.match(h ?? '', /\*\*map\*\* `lsp_hash` — `BPF_MAP_TYPE_HASH`/);
  const call = lines.findIndex((l) => l.includes('call bpf_tail_call#12'));
  assert.equal(
    await lsp.hover(uri, call, lines[call].indexOf('bpf_tail_call') + 3),
    '**BPF helper** `bpf_tail_call` — `BPF_FUNC_tail_call` (id 12)',
  );
});

test('copies of one object in several directories give one card naming them; a different build of the source its own', async () => {
  const obj = path.join(ws.build, 'lsp_maps.o');
  const copies = [path.join(ws.dir, 'out', 'a', 'lsp_maps.o'), path.join(ws.dir, 'out', 'b', 'maps_copy.o')];
  // the same source built without the global map: other bytes, its own card
  const other = path.join(ws.dir, 'out', 'lsp_maps_O1.o');
  for (const c of copies) {
    mkdirSync(path.dirname(c), { recursive: true });
    copyFileSync(obj, c);
  }
  const arch = run('gcc', ['-print-multiarch']).trim() || 'x86_64-linux-gnu';
  run('clang', ['-target', 'bpf', '-g', '-O1', `-I/usr/include/${arch}`, '-c', path.join(ws.src, 'lsp_maps.bpf.c'), '-o', other]);
  try {
    await lsp.filesChanged([...copies, other].map((file) => ({ file, type: 1 as const })));
    let h = '';
    for (const deadline = Date.now() + 20_000; !(h.includes('maps_copy.o') && h.includes('lsp_maps_O1.o'));) {
      assert.ok(Date.now() < deadline, `cards for the copies and the other build: ${h}`);
      await new Promise((r) => setTimeout(r, 100));
      h = await hoverOn('lsp_maps.bpf.c', '} lsp_hash SEC', 3);
    }
    const cards = h.split('\n\n---\n\n');
    assert.equal(cards.length, 2, h);
    const named = cards.find((c) => c.includes('the same bytes in'))!;
    assert.match(named, /^\*\*map\*\* `lsp_hash`.*\n\*lsp_maps\.o, and the same bytes in [^*]+\*, section/);
    for (const c of ['out/a/lsp_maps.o', 'out/b/maps_copy.o']) assert.ok(named.includes(c), `${c} in ${named}`);
    assert.match(
      cards.find((c) => c !== named)!,
      /\*lsp_maps_O1\.o\*, section/,
    );
  } finally {
    for (const f of [...copies, other]) rmSync(f, { force: true });
    await lsp.filesChanged([...copies, other].map((file) => ({ file, type: 3 as const })));
  }
});
