// cilium/ebpf's self-checking CO-RE programs, relocated by BPF Lens, run in this kernel with
// BPF_PROG_TEST_RUN. Until BPF Lens's own loader exists, libbpf (bpftool) loads them: we write
// our relocated instructions into a copy of the object and empty its CO-RE records, so
// libbpf only links and loads what we computed. Each program returns 0 when every relocation
// in it is right.
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { test } from 'node:test';
import * as os from 'os';
import * as path from 'path';
import { type CoreObject, type SectionResult, readCoreObject, readTargetBtf, relocateObject } from '../core-helpers';
import { CILIUM, fixture, run } from '../helpers';

const DATA = path.join(CILIUM, 'btf', 'testdata');
const SHF_EXECINSTR = 4n;

/**
 * A copy of the object with our relocated code, no CO-RE records left for libbpf, and only
 * the program sections `keep` accepts still marked executable (libbpf skips the others).
 */
function patchedObject(obj: CoreObject, results: SectionResult[], keep: (section: string) => boolean): Uint8Array {
  const bytes = obj.elf.bytes.slice();
  const dv = new DataView(bytes.buffer);
  const le = obj.elf.littleEndian;
  for (const r of results) bytes.set(r.insns, obj.elf.section(r.section)!.offset);
  dv.setUint32(obj.elf.section('.BTF.ext')!.offset + 28, 0, le); // core_relo_len
  for (const s of obj.elf.sections) {
    if ((s.flags & SHF_EXECINSTR) === 0n || s.name === '.text' || keep(s.name)) continue;
    const at = Number(obj.elf.header.shoff) + s.index * 64 + 8;
    dv.setBigUint64(at, dv.getBigUint64(at, le) & ~SHF_EXECINSTR, le);
  }
  return bytes;
}

interface Loaded {
  code: number;
  log: string;
  results: Map<string, number>;
}

/** Loads every program (as a socket filter unless `asSocket` is false) and runs each once on a 14-byte packet. */
function loadAndRun(bytes: Uint8Array, asSocket = true): Loaded {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bpflens-core-'));
  const pin = `/sys/fs/bpf/bpflens_core_run_${process.pid}`;
  const file = path.join(dir, 'obj.o');
  const pkt = path.join(dir, 'pkt');
  writeFileSync(file, bytes);
  writeFileSync(pkt, new Uint8Array(14));
  if (spawnSync('sh', ['-c', 'mount | grep -q " /sys/fs/bpf type bpf"']).status !== 0) run('mount', ['-t', 'bpf', 'bpf', '/sys/fs/bpf']);
  try {
    const load = spawnSync('bpftool', ['prog', 'loadall', file, pin, ...(asSocket ? ['type', 'socket'] : [])], { encoding: 'utf8' });
    const results = new Map<string, number>();
    if (load.status === 0 && asSocket) {
      for (const name of spawnSync('ls', [pin], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean)) {
        const out = run('bpftool', ['prog', 'run', 'pinned', path.join(pin, name), 'data_in', pkt, 'repeat', '1']);
        const m = /Return value: (\d+)/.exec(out);
        assert.ok(m, out);
        results.set(name, Number(m[1]));
      }
    }
    return { code: load.status ?? -1, log: load.stderr, results };
  } finally {
    rmSync(pin, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
}

test('relocs-el.elf relocated by BPF Lens: every program returns 0 in the kernel (PROG_TEST_RUN)', () => {
  const file = path.join(DATA, 'relocs-el.elf');
  const obj = readCoreObject(file);
  const results = relocateObject(obj, [readTargetBtf(file, 'relocs')]);
  const ran = loadAndRun(patchedObject(obj, results, (s) => !s.includes('/err_')));
  assert.equal(ran.code, 0, ran.log);
  assert.deepEqual([...ran.results.keys()].sort(), ['enums', 'fields', 'type_ids', 'types']);
  for (const [name, ret] of ran.results) assert.equal(ret, 0, `${name} failed the check on line ${ret} of relocs.c`);
});

test('an ambiguous relocation is poisoned: the verifier rejects it with invalid func unknown#195896080', () => {
  const file = path.join(DATA, 'relocs-el.elf');
  const obj = readCoreObject(file);
  const results = relocateObject(obj, [readTargetBtf(file, 'relocs')]);
  const ran = loadAndRun(patchedObject(obj, results, (s) => s === 'socket_filter/err_ambiguous'));
  assert.notEqual(ran.code, 0);
  assert.match(ran.log, /invalid func unknown#195896080/);
});

test('relocs_read-el.elf relocated against relocs_read_tgt-el.elf: reads() (with its subprogram) returns 0', () => {
  const obj = readCoreObject(path.join(DATA, 'relocs_read-el.elf'));
  const results = relocateObject(obj, [readTargetBtf(path.join(DATA, 'relocs_read_tgt-el.elf'), 'tgt')]);
  const ran = loadAndRun(patchedObject(obj, results, () => true));
  assert.equal(ran.code, 0, ran.log);
  assert.deepEqual([...ran.results], [['reads', 0]]);
  // the same object without relocation fails its own checks: the run is not vacuous
  const raw = loadAndRun(patchedObject(obj, [], () => true));
  assert.equal(raw.code, 0, raw.log);
  assert.notEqual(raw.results.get('reads'), 0);
});

for (const name of ['core_tracer.o', 'core_flavors.o']) {
  test(`${name} relocated by BPF Lens against this kernel's vmlinux: the verifier accepts every program`, () => {
    const obj = readCoreObject(fixture(name));
    const results = relocateObject(obj, [readTargetBtf('/sys/kernel/btf/vmlinux', 'vmlinux')]);
    assert.ok(results.every((r) => r.ok));
    const ran = loadAndRun(
      patchedObject(obj, results, () => true),
      false,
    );
    assert.equal(ran.code, 0, ran.log);
  });
}
