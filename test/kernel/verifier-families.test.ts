// Why the verifier rejected a program, on this kernel: each test/fixtures/verifier_*.bpf.c names
// its family on line 1 and marks the line the verifier stops at (REJECTED) and the line the
// offending state comes from (ORIGIN; when absent the related location is the rejected line).
// Each is loaded with BPF Lens's pipeline and the LoadError must carry the family, an
// explanation, a hint and the related location on the ORIGIN line. Also: the log model over the
// real level-1 and level-2 logs, and hostile (cut, garbled) versions of them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { spawnSync } from 'child_process';
import { readdirSync, readFileSync } from 'fs';
import * as path from 'path';
import { LoadError } from '../../server/src/load/types';
import { explainRejection, insnEntries, parseVerifierLog, VERIFIER_FAMILIES } from '../../server/src/verifier';
import { CLI, ROOT, fixture, have, rng } from '../helpers';
import { lensLoad } from '../load-helpers';

interface Fixture {
  readonly name: string;
  readonly src: string;
  readonly family: string;
  readonly rejected?: number;
  readonly origin?: number;
}

const SRC = path.join(ROOT, 'test', 'fixtures');

function fixtures(): Fixture[] {
  return readdirSync(SRC)
    .filter((f) => /^verifier_\w+\.bpf\.c$/.test(f))
    .sort()
    .map((f) => {
      const lines = readFileSync(path.join(SRC, f), 'utf8').split('\n');
      const family = /verifier family (\w+)/.exec(lines[0])?.[1];
      assert.ok(family, `${f}: line 1 names the family`);
      const at = (mark: string) => {
        const i = lines.findIndex((l) => l.includes(mark));
        return i < 0 ? undefined : i + 1;
      };
      return { name: f.replace(/\.bpf\.c$/, ''), src: f, family, rejected: at('REJECTED'), origin: at('ORIGIN') };
    });
}

/** Families whose fixture needs something other than a plain load by root. */
const WITHOUT_PERFMON = new Set(['verifier_uninit_stack']); // root may read uninitialised stack

async function rejection(name: string, logLevel = 0): Promise<LoadError> {
  try {
    const r = await lensLoad(fixture(`${name}.o`), { logLevel });
    r.close();
  } catch (e) {
    if (e instanceof LoadError) return e;
    throw e;
  }
  assert.fail(`${name} loaded: the fixture must be rejected`);
}

/** `bpf-lens load --json` without CAP_PERFMON and CAP_SYS_ADMIN (a CAP_BPF-only loader). */
/** The part of `load --json`'s refusal this test reads. */
interface JsonRefusal {
  error: {
    family: string;
    explanation: string;
    hint: string;
    related: { file?: string | null; line?: number | null; why: string }[];
    source?: { line: number };
  };
}

function loadWithoutPerfmon(obj: string): { code: number; json: JsonRefusal } {
  const r = spawnSync(
    'capsh',
    ['--drop=cap_sys_admin,cap_perfmon', '--', '-c', `exec "${process.execPath}" "${CLI}" load "${obj}" --json`],
    { encoding: 'utf8', timeout: 120_000 },
  );
  return { code: r.status ?? -1, json: JSON.parse(r.stdout) };
}

const all = fixtures();

test('the fixtures cover at least 20 families of the table', () => {
  const families = new Set(all.map((f) => f.family));
  for (const f of families)
    assert.ok(
      VERIFIER_FAMILIES.some((x) => x.id === f),
      `${f} is in the table`,
    );
  assert.ok(families.size >= 20, `${families.size} families`);
});

for (const f of all) {
  test(
    `${f.name}: rejected on this kernel as ${f.family}, explained, related location on the origin line`,
    { skip: WITHOUT_PERFMON.has(f.name) && !have('capsh') },
    async () => {
      let family: string;
      let explanation: string;
      let hint: string;
      let related: { file?: string | null; line?: number | null; why: string }[];
      let sourceLine: number | undefined;
      if (WITHOUT_PERFMON.has(f.name)) {
        const { code, json } = loadWithoutPerfmon(fixture(`${f.name}.o`));
        assert.equal(code, 1, JSON.stringify(json));
        ({ family, explanation, hint, related } = json.error);
        sourceLine = json.error.source?.line;
      } else {
        const e = await rejection(f.name);
        const x = e.details.explanation;
        assert.ok(x, `${e.message}\n${e.details.log}`);
        ({ family, explanation, hint } = x);
        related = [...x.related];
        sourceLine = e.details.source?.line;
      }
      assert.equal(family, f.family, explanation);
      assert.ok(explanation.length > 40 && hint.length > 20);
      if (f.rejected) assert.equal(sourceLine, f.rejected, 'the error is on the REJECTED line');
      const want = f.origin ?? f.rejected;
      assert.ok(related.length > 0, 'at least one related location');
      assert.equal(path.basename(related[0].file ?? ''), f.src, JSON.stringify(related));
      assert.equal(related[0].line, want, `related[0] is the ORIGIN line: ${JSON.stringify(related, null, 1)}`);
      assert.ok(related.every((r) => r.why.length > 10));
    },
  );
}

test('bpf-lens load --json: error.explanation, error.hint and error.related (origin first) for a NULL map value', () => {
  const r = spawnSync(process.execPath, [CLI, 'load', fixture('verifier_null_map.o'), '--json'], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 1, r.stderr);
  const { error } = JSON.parse(r.stdout);
  const f = all.find((x) => x.name === 'verifier_null_map')!;
  assert.equal(error.family, 'null_map_value');
  assert.match(error.explanation, /NULL/);
  assert.match(error.hint, /if \(!v\)/);
  assert.equal(error.related[0].line, f.origin);
  assert.match(error.related[0].text, /bpf_map_lookup_elem/);
  assert.match(error.related[0].why, /R0 is the result of bpf_map_lookup_elem/);
  assert.equal(error.related[error.related.length - 1].line, f.rejected);
  // the text form says the same
  const t = spawnSync(process.execPath, [CLI, 'load', fixture('verifier_null_map.o')], { encoding: 'utf8', timeout: 120_000 });
  assert.match(t.stderr, /why \(map value may be NULL\)/);
  assert.match(t.stderr, new RegExp(`verifier_null_map\\.bpf\\.c:${f.origin}: R0 is the result of bpf_map_lookup_elem`));
});

test("the log model over this kernel's level-1 and level-2 logs: instructions, sources, states, branches, frames, stats", async () => {
  const logs: Record<string, string> = {};
  for (const name of ['verifier_ringbuf_leak', 'verifier_stack_depth', 'verifier_null_map']) {
    for (const level of [1, 2]) logs[`${name}.${level}`] = (await rejection(name, level)).details.log!;
  }
  for (const [k, text] of Object.entries(logs)) {
    const m = parseVerifierLog(text);
    const processed = Number(/processed (\d+) insns/.exec(text)![1]);
    assert.equal(m.stats?.processed, processed, k);
    assert.equal(m.stats?.limit, 1_000_000);
    assert.equal(m.truncated, false);
    assert.equal(m.level, k.endsWith('.2') ? 2 : 1, k);
    assert.ok(m.errors.length >= 1, k);
  }
  // level 2 walks both sides of `if (*e == 5)`: the branch is a `from 10 to 15` with R2=5 known
  const rb = parseVerifierLog(logs['verifier_ringbuf_leak.2']);
  const br = rb.entries.find((e) => e.kind === 'branch' && !e.safe);
  assert.ok(br && br.kind === 'branch' && br.state, 'a branch with its state');
  assert.equal(br.state.regs.R2?.value, '5');
  assert.equal(br.state.regs.R10?.type, 'fp');
  const ins = insnEntries(rb);
  assert.ok(ins.some((e) => e.text.startsWith('call bpf_ringbuf_reserve')));
  const reserve = ins.find((e) => e.idx === 5)!;
  assert.equal(path.basename(reserve.source?.file ?? ''), 'verifier_ringbuf_leak.bpf.c');
  assert.match(reserve.source!.text, /bpf_ringbuf_reserve/);
  const checked = ins.find((e) => e.idx === 7 && e.after)!;
  assert.equal(checked.after!.regs.R0.type, 'ringbuf_mem');
  assert.equal(checked.after!.refs, '2');
  // the NULL map value: its type and properties as printed
  const nm = insnEntries(parseVerifierLog(logs['verifier_null_map.1'])).find((e) => e.text.startsWith('call bpf_map_lookup_elem'))!;
  assert.equal(nm.after!.regs.R0.type, 'map_value_or_null');
  assert.equal(nm.after!.regs.R0.props.ks, '4');
  assert.equal(nm.after!.regs.R0.props.vs, '8');
  // a subprogram: its instructions in frame 1, its start in func#1
  const sd = parseVerifierLog(logs['verifier_stack_depth.2']);
  assert.ok(sd.funcs.some((x) => x.index === 1));
  assert.ok(insnEntries(sd).some((e) => e.frame === 1 && e.idx >= sd.funcs.find((x) => x.index === 1)!.insn));
  assert.ok(sd.entries.some((e) => e.kind === 'insn' && e.after?.stack[-320] !== undefined));
});

test('hostile logs: cut anywhere, garbled, or made of noise give a partial model and never throw', async () => {
  const texts = [(await rejection('verifier_ringbuf_leak', 2)).details.log!, (await rejection('verifier_unbounded', 1)).details.log!];
  const rand = rng(17);
  let partial = 0;
  for (const text of texts) {
    for (let i = 0; i < 300; i++) {
      let t = text.slice(0, Math.floor(rand() * text.length));
      if (i % 3 === 1)
        t = t
          .split('')
          .map((c) => (rand() < 0.02 ? String.fromCharCode(Math.floor(rand() * 256)) : c))
          .join('');
      if (i % 3 === 2)
        t = t
          .split('\n')
          .sort(() => rand() - 0.5)
          .join('\n');
      const m = parseVerifierLog(t);
      explainRejection(m);
      explainRejection(t, () => undefined);
      if (m.truncated) partial++;
    }
  }
  assert.ok(partial > 100, 'cut logs are reported as truncated');
  for (const t of [
    '',
    '\0\0',
    '(((((',
    'R1=(((',
    '5: (85) call pc+99999999999',
    'from 1 to 2: R1=ctx( frame1: fp-8=',
    'x'.repeat(200_000),
    '0: (bf) r0 = r2\n'.repeat(5000) + 'R2 !read_ok',
  ]) {
    explainRejection(t);
  }
});
