// `bpf-lens relocate`: CO-RE results for an object against this kernel or any BTF file, as a
// user runs it (child process; the compiled CLI under out/, which these tests are built with).
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import { test } from 'node:test';
import * as path from 'path';
import { CILIUM, ROOT, fixture } from '../helpers';

const MAIN = path.join(ROOT, 'out', 'server', 'src', 'cli', 'main.js');
const relocs = path.join(CILIUM, 'btf', 'testdata', 'relocs-el.elf');

function bpfLens(args: string[]) {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('bpf-lens relocate against this kernel: problems listed with their reasons, exit 0 when loadable', () => {
  const r = bpfLens(['relocate', fixture('core_flavors.o'), '--problems']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /core_flavors\.o: \d+ CO-RE relocations against vmlinux/);
  assert.match(
    r.stdout,
    /FIELD_BYTE_OFFSET task_struct___old->state +0 -> poison +\[poisoned\]\n +field 'state' of struct task_struct___old not found in struct task_struct of the target \(similar: __state/,
  );
  assert.match(r.stdout, /kprobe\/tcp_connect: \d+ ok\n/);
  assert.doesNotMatch(r.stdout, /\[ok\]/);
});

test('bpf-lens relocate --btf another BTF: ambiguous relocations fail with exit 1; --json carries every field', () => {
  const r = bpfLens(['relocate', relocs, '--btf', relocs]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /socket_filter\/err_ambiguous: 1 ambiguous\n.*TYPE_ID_TARGET +struct ambiguous +\d+ -> \? +\[ambiguous\]/);
  assert.match(r.stderr, /libbpf would refuse to load/);
  assert.doesNotMatch(r.stderr, /deprecated/);
  const j = bpfLens(['relocate', relocs, '--btf', relocs, '--json']);
  assert.equal(j.code, 1);
  const doc = JSON.parse(j.stdout) as {
    sections: {
      section: string;
      ok: boolean;
      relocations: { access: string; status: string; localValue: string; targetValue?: string }[];
    }[];
  };
  const fields = doc.sections.find((s) => s.section === 'socket_filter/fields')!;
  assert.ok(fields.ok);
  const off = fields.relocations.find((x) => x.access === 't->s[2]._1')!;
  assert.deepEqual([off.status, off.localValue], ['ok', off.targetValue]);
});

test('bpf-lens relocate --target (the old name of --btf) still works, with a one-line note on stderr', () => {
  const old = bpfLens(['relocate', relocs, '--target', relocs, '--json']);
  const now = bpfLens(['relocate', relocs, '--btf', relocs, '--json']);
  assert.equal(old.code, 1);
  assert.equal(old.stdout, now.stdout);
  assert.match(old.stderr, /^bpf-lens: relocate --target is deprecated, use --btf \(as load does\)\n/);
  const both = bpfLens(['relocate', relocs, '--btf', relocs, '--target', relocs]);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /--btf only/);
});

test('bpf-lens relocate: usage and bad input give one line and a non-zero exit', () => {
  assert.equal(bpfLens(['relocate']).code, 2);
  const r = bpfLens(['relocate', path.join(ROOT, 'package.json')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^bpf-lens: .*package\.json.*\n$/);
});
