// The CLI's multi-target matrix says what each kernel makes of the object's CO-RE relocations,
// as the editor's matrix view does: `bpf-lens load core_target.o --target local --target
// bpflens-test` (the SSH test host, test/ssh-host.ts). This kernel (6.18) has every field the
// program reads: no note, and --json's "core" lists none unresolved. Against Debian 6.1's BTF
// (--btf, libbpf's btf_custom_path: the loads relocate against it too) two of the three do
// not resolve on both targets (dl_server came in 6.8, i_mtime_sec in 6.6): one note line per
// target, the same list in --json, and the poisoned read is what the verifier rejects.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fixture, ROOT } from '../helpers';
import { cliOn, startSshHost } from '../ssh-host';

const host = startSshHost();
test.after(() => host.stop());
const { run } = cliOn(host);
const OBJ = fixture('core_target.o');
const BTF_61 = '/var/cache/bpf-lens/kernels/6.1/vmlinux.btf';
const TARGETS = ['--target', 'local', '--target', 'bpflens-test'];

interface JsonTarget {
  target: string;
  ok: boolean;
  answered: boolean;
  matrix: { program: string; status: string; error?: string; source?: { line: number } }[];
  core?: { relocations: number; unresolved: { program: string; access: string; status: string; message: string }[] };
}

test('every relocation resolves on this kernel: no CO-RE note line, "core" with nothing unresolved', () => {
  const text = run(['load', OBJ, ...TARGETS]);
  assert.equal(text.status, 0, text.stdout + text.stderr);
  assert.doesNotMatch(text.stdout, /CO-RE/, text.stdout);
  const json = run(['load', OBJ, ...TARGETS, '--json']);
  const j = JSON.parse(json.stdout) as { targets: JsonTarget[] };
  assert.deepEqual(
    j.targets.map((t) => [t.target, t.ok, t.answered, t.core?.relocations, t.core?.unresolved.length]),
    [
      ['local', true, true, 3, 0],
      ['bpflens-test', true, true, 3, 0],
    ],
  );
});

test(
  "against 6.1's BTF: one note line per target naming the fields, and the same in --json",
  { skip: !existsSync(BTF_61) && `no ${BTF_61}` },
  () => {
    const text = run(['load', OBJ, ...TARGETS, '--btf', BTF_61]);
    // the poisoned i_mtime_sec read is reached: the verifier refuses it on both
    assert.equal(text.status, 1, text.stdout + text.stderr);
    for (const name of ['local', 'bpflens-test'])
      assert.match(text.stdout, new RegExp(`^${name}: 2 of 3 CO-RE relocations do not resolve: dl_server, i_mtime_sec$`, 'm'), text.stdout);
    assert.match(text.stdout, /^local: core_target rejected/m, text.stdout);
    const j = JSON.parse(run(['load', OBJ, ...TARGETS, '--btf', BTF_61, '--json']).stdout) as { targets: JsonTarget[] };
    const poisoned =
      readFileSync(join(ROOT, 'test', 'fixtures', 'core_target.bpf.c'), 'utf8')
        .split('\n')
        .findIndex((l) => l.includes('CORE-POISONED-6.1')) + 1;
    for (const t of j.targets) {
      // rejected, not failed: the target answered, the object did not load
      assert.deepEqual([t.ok, t.answered], [false, true], t.target);
      // one line number: the message's is the cell's, the access that did not resolve (not the compiler's line for the call)
      const [cell] = t.matrix;
      assert.equal(cell.status, 'rejected', t.target);
      assert.equal(cell.source?.line, poisoned, t.target);
      assert.match(cell.error ?? '', new RegExp(`core_target\\.bpf\\.c:${poisoned}: `), t.target);
      // the cell leads with which relocation it was; the verifier's own words follow
      assert.match(
        cell.error ?? '',
        /c:\d+: CO-RE relocation #\d+ FIELD_BYTE_OFFSET of struct inode \(inode->i_mtime_sec\) did not resolve on this kernel: .* \(the verifier: invalid func unknown#195896080\)/,
        t.target,
      );
      assert.equal(t.core?.relocations, 3, t.target);
      assert.deepEqual(
        t.core?.unresolved.map((u) => [u.program, u.access, u.status]),
        [
          ['core_target', 'task_struct->dl_server', 'missing'],
          ['core_target', 'inode->i_mtime_sec', 'poisoned'],
        ],
        t.target,
      );
      assert.match(t.core?.unresolved[0].message ?? '', /^is absent there/);
    }
  },
);
