// The pure parts of targets in the language server: what bpfLens.targets accepts (hostile
// settings are dropped with a reason, never thrown), and where a CO-RE access shows in C text.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { coreAccessAt } from '../../server/src/lsp/c-text';
import { parseTargetSettings, targetFailure } from '../../server/src/lsp/targets';
import { TargetError } from '../../server/src/remote/errors';

test('bpfLens.targets: good entries kept with their fields; bad ones dropped, each with a reason', () => {
  const r = parseTargetSettings([
    { name: 'lab', host: 'ssh://root@10.0.0.7:2222', identityFile: '~/.ssh/k', sudo: false, nodePath: '/opt/node/bin/node' },
    { host: 'fleet-01', user: 'ci', port: 22 },
    { name: 'btf-only', btf: '/data/vmlinux-6.1.btf' },
    { name: 'local', host: 'x' },
    { name: 'nothing' },
    { name: 'lab', host: 'again' },
    { name: 'bad-port', host: 'h', port: 70000 },
    null,
    42,
    'lab',
    { name: 7, host: {} },
    [],
  ]);
  assert.deepEqual(r.targets, [
    { name: 'lab', host: 'ssh://root@10.0.0.7:2222', identityFile: '~/.ssh/k', sudo: false, nodePath: '/opt/node/bin/node' },
    { name: 'fleet-01', host: 'fleet-01', user: 'ci', port: 22 },
    { name: 'btf-only', btf: '/data/vmlinux-6.1.btf' },
    { name: 'bad-port', host: 'h' }, // an impossible port is left to ssh's default, and said
  ]);
  assert.equal(r.problems.length, 9);
  assert.match(r.problems[0], /\[3\]: 'local' is built in/);
  assert.match(r.problems[1], /\[4\] \(nothing\): needs host \(SSH\), kernel \(a VM\) or btf/);
  assert.match(r.problems[2], /\[5\]: a second target named lab/);
  assert.match(r.problems[3], /\[6\] \(bad-port\): port 70000 is not a TCP port; ssh's default is used/);
  for (const p of r.problems.slice(4)) assert.match(p, /needs a name and a host/);
  assert.deepEqual(parseTargetSettings(undefined), { targets: [], problems: [] });
  assert.deepEqual(parseTargetSettings({ lab: { host: 'x' } }), { targets: [], problems: [] });
});

test('targetFailure: a TargetError keeps its code and detail; anything else is code "error"', () => {
  assert.deepEqual(
    targetFailure(new TargetError('unreachable', 'h is unreachable', 'ssh: connect to host h port 22: Connection refused')),
    { code: 'unreachable', message: 'h is unreachable', detail: 'ssh: connect to host h port 22: Connection refused' },
  );
  assert.deepEqual(targetFailure(new Error('boom')), { code: 'error', message: 'boom' });
  assert.deepEqual(targetFailure('text'), { code: 'error', message: 'text' });
});

test('coreAccessAt: the nearest line naming the accessed field (after before before), its column; else the line given', () => {
  const lines = [
    'struct task_struct { int pid; void *dl_server; };', // 0
    'int f(struct task_struct *t) {', // 1
    '\tint k = 0;', // 2
    '\tif (bpf_core_field_exists(t->dl_server))', // 3
    '\t\tk = BPF_CORE_READ(t, pid);', // 4
    '\treturn k;', // 5
    '}', // 6
  ];
  assert.deepEqual(coreAccessAt(lines, 2, 'task_struct->dl_server'), { line: 3, column: lines[3].indexOf('dl_server'), length: 9 });
  assert.deepEqual(coreAccessAt(lines, 5, 'task_struct->pid'), { line: 4, column: lines[4].indexOf('pid'), length: 3 });
  assert.deepEqual(coreAccessAt(lines, 2, 'struct nope'), { line: 2, length: 0 });
  assert.deepEqual(coreAccessAt(lines, 2, 'arr[3]'), { line: 2, length: 0 });
  assert.deepEqual(coreAccessAt(lines, 1, ''), { line: 1, length: 0 });
});
