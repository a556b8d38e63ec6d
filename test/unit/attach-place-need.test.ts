// What the editor's place picker asks for each kind of program (attach/place-need.ts): only
// what planAttach could not take from the SEC() name.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { placeNeed } from '../../server/src/attach/place-need';

const need = (section: string) => placeNeed({ name: 'p', section });

test('interfaces: XDP asks a mode, tc a direction unless the section names it', () => {
  assert.deepEqual(need('xdp'), { kind: 'interface', prog: 'xdp' });
  assert.deepEqual(need('tc'), { kind: 'interface', prog: 'tc' });
  assert.deepEqual(need('classifier'), { kind: 'interface', prog: 'tc' });
  assert.deepEqual(need('tcx/ingress'), { kind: 'interface', prog: 'tc', direction: 'ingress' });
  assert.deepEqual(need('tcx/egress'), { kind: 'interface', prog: 'tc', direction: 'egress' });
  assert.equal(need('xdp/devmap'), undefined, 'runs from a devmap entry: nothing to give');
});

test('cgroups, binaries and other text; nothing for what attaches by SEC() or never', () => {
  for (const s of ['cgroup_skb/egress', 'cgroup/connect4', 'sockops', 'cgroup/sysctl', 'lsm_cgroup/socket_bind'])
    assert.deepEqual(need(s), { kind: 'cgroup' }, s);
  assert.deepEqual(need('uprobe'), { kind: 'binary', example: '/usr/bin/bash:readline' });
  assert.deepEqual(need('perf_event'), { kind: 'text', what: 'an event and frequency', example: 'cpu-clock@99' });
  assert.deepEqual(need('flow_dissector'), { kind: 'text', what: 'a network namespace', example: '/proc/self/ns/net' });
  assert.deepEqual(need('sk_msg'), { kind: 'text', what: 'a sockmap/sockhash map of the object', example: 'sock_map' });
  for (const s of [
    'tp/syscalls/sys_enter_getppid',
    'uprobe//bin/true:main',
    'kprobe/vfs_read',
    'fentry/foo',
    'iter/task',
    'struct_ops/x',
    'socket',
    'nonsense',
  ])
    assert.equal(need(s), undefined, s);
});
