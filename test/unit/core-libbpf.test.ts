// Differential test against libbpf 1.1: `bpftool -d prog loadall` prints libbpf's debug log,
// which has every CO-RE relocation's decision (`relo #3: patched insn #12 (LDX/ST/STX) off
// 24 -> 40`, `substituting insn #N w/ invalid insn`, `matching candidate #0 ... [id]`). We
// relocate the same objects against this machine's vmlinux (and module) BTF and compare
// relocation by relocation.
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'fs';
import { test } from 'node:test';
import * as path from 'path';
import { type TargetBtf } from '../../server/src/core';
import { type CoreObject, type SectionResult, readCoreObject, readTargetBtf, relocateObject } from '../core-helpers';
import { FIXTURES, ROOT, fixture, run } from '../helpers';

const STT_FUNC = 2;

/** vmlinux first, then every module's split BTF, as libbpf searches them. */
export function kernelTargets(): TargetBtf[] {
  const vmlinux = readTargetBtf('/sys/kernel/btf/vmlinux', 'vmlinux');
  const mods = readdirSync('/sys/kernel/btf')
    .filter((n) => n !== 'vmlinux')
    .sort()
    .map((n) => readTargetBtf(path.join('/sys/kernel/btf', n), n, vmlinux.btf));
  return [vmlinux, ...mods];
}

interface LibbpfRelo {
  patch?: string;
  memSz?: string;
  poisoned: boolean;
  matched: number[];
}

function ensureBpffs(): void {
  const mounted = spawnSync('sh', ['-c', 'mount | grep -q " /sys/fs/bpf type bpf"']).status === 0;
  if (!mounted) run('mount', ['-t', 'bpf', 'bpf', '/sys/fs/bpf']);
}

/** libbpf's CO-RE decisions for an object, keyed `prog/relo#`. */
function libbpfDecisions(obj: string): Map<string, LibbpfRelo> {
  ensureBpffs();
  const pin = `/sys/fs/bpf/bpflens_core_${process.pid}_${path.basename(obj, '.o')}`;
  let log: string;
  try {
    const r = spawnSync('bpftool', ['-d', 'prog', 'loadall', obj, pin], { encoding: 'utf8', timeout: 120_000 });
    log = r.stderr + r.stdout;
  } finally {
    rmSync(pin, { recursive: true, force: true });
  }
  const out = new Map<string, LibbpfRelo>();
  const get = (prog: string, n: string) => {
    const k = `${prog}/${n}`;
    let v = out.get(k);
    if (!v) out.set(k, (v = { poisoned: false, matched: [] }));
    return v;
  };
  for (const line of log.split('\n')) {
    let m = /prog '([^']+)': relo #(\d+): patched insn #(\d+) \(([A-Z0-9/]+)\) (imm|off|imm64) (\d+) -> (\d+)/.exec(line);
    if (m) {
      get(m[1], m[2]).patch = `insn #${m[3]} ${m[4]} ${m[6]} -> ${m[7]}`;
      continue;
    }
    m = /prog '([^']+)': relo #(\d+): patched insn #(\d+) \(LDX\/ST\/STX\) mem_sz (\d+) -> (\d+)/.exec(line);
    if (m) {
      get(m[1], m[2]).memSz = `${m[4]} -> ${m[5]}`;
      continue;
    }
    m = /prog '([^']+)': relo #(\d+): substituting insn #(\d+) w\/ invalid insn/.exec(line);
    if (m) {
      get(m[1], m[2]).poisoned = true;
      continue;
    }
    m = /prog '([^']+)': relo #(\d+): matching candidate #\d+ <[a-z_0-9]+> \[(\d+)\]/.exec(line);
    if (m) get(m[1], m[2]).matched.push(Number(m[3]));
  }
  return out;
}

/** The program (libbpf's name: its function symbol) holding each section instruction. */
function programOf(obj: CoreObject, section: string, insn: number): { name: string; start: number } {
  const sec = obj.elf.section(section)!;
  const funcs = obj.elf.symbols
    .filter((s) => s.shndx === sec.index && s.type === STT_FUNC)
    .map((s) => ({ name: s.name, start: Number(s.value) / 8 }))
    .sort((a, b) => a.start - b.start);
  const f = [...funcs].reverse().find((p) => p.start <= insn);
  if (!f) throw new Error(`no program at ${section} insn ${insn}`);
  return f;
}

/** Our decisions in libbpf's words, keyed like libbpfDecisions. */
function ourDecisions(obj: CoreObject, results: SectionResult[]): Map<string, LibbpfRelo> {
  const out = new Map<string, LibbpfRelo>();
  for (const sec of results) {
    for (const r of sec.reports) {
      const prog = programOf(obj, sec.section, r.sectionInsnIndex);
      const d: LibbpfRelo = { poisoned: r.status === 'poisoned', matched: r.targetTypes.map((t) => t.id) };
      const p = r.patch;
      if (p && p.insnClass !== 'poison') {
        const what = p.insnClass === 'ALU/ALU64' ? 'ALU/ALU64' : p.insnClass;
        d.patch = `insn #${r.sectionInsnIndex - prog.start} ${what} ${p.before} -> ${p.after}`;
        if (p.memSize) d.memSz = `${p.memSize.from} -> ${p.memSize.to}`;
      }
      assert.ok(!r.fatal, `${sec.section} relo #${r.index} ${r.access}: ${r.message}`);
      out.set(`${prog.name}/${r.index}`, d);
    }
  }
  return out;
}

function compareWithLibbpf(file: string, targets: TargetBtf[]): Map<string, LibbpfRelo> {
  const obj = readCoreObject(file);
  const ours = ourDecisions(obj, relocateObject(obj, targets));
  const theirs = libbpfDecisions(file);
  assert.ok(theirs.size > 0, `no CO-RE decisions in libbpf's log for ${file}`);
  assert.deepEqual([...ours.keys()].sort(), [...theirs.keys()].sort());
  for (const [k, v] of theirs) assert.deepEqual(ours.get(k), v, `${path.basename(file)} ${k}`);
  return ours;
}

let targets: TargetBtf[] | undefined;
const kernel = () => (targets ??= kernelTargets());

for (const name of ['core_tracer.o', 'core_flavors.o', 'core_local.o']) {
  test(`${name}: every CO-RE relocation resolves as libbpf 1.1 resolves it on this kernel`, () => {
    const decisions = compareWithLibbpf(fixture(name), kernel());
    assert.ok(decisions.size >= 10);
  });
}

test('core_flavors.o covers poisoning, existence answers, flavors and load-size changes (as libbpf)', () => {
  const d = compareWithLibbpf(fixture('core_flavors.o'), kernel());
  const all = [...d.values()];
  assert.ok(
    all.some((x) => x.poisoned),
    'a poisoned relocation',
  );
  assert.ok(
    all.some((x) => x.memSz === '8 -> 4'),
    'a load shrunk from 8 to 4 bytes',
  );
  assert.ok(
    all.some((x) => x.patch?.endsWith('1 -> 0')),
    'an existence check answering 0',
  );
  assert.ok(
    all.some((x) => x.patch?.includes('LDIMM64') && /-> \d{19,}$/.test(x.patch)),
    'a 64-bit enum value',
  );
});

test('TYPE_MATCHES (built with clang-16): same answers as libbpf 1.1', () => {
  const out = path.join(FIXTURES, 'core_matches.o');
  if (!existsSync(FIXTURES)) mkdirSync(FIXTURES, { recursive: true });
  run('clang-16', [
    '-target',
    'bpf',
    '-g',
    '-O2',
    '-I/usr/include/x86_64-linux-gnu',
    '-c',
    path.join(ROOT, 'test', 'fixtures', 'core', 'core_matches.bpf.c'),
    '-o',
    out,
  ]);
  const d = compareWithLibbpf(out, kernel());
  const answers = [...d.values()].map((x) => x.patch?.split(' ').pop());
  assert.ok(answers.includes('1') && answers.includes('0'));
});
