// The attach planner (pure): SEC() names and user places → plans, as libbpf's auto-attach reads
// them; bad places refused naming the program; uprobe offsets equal readelf's symbol values
// turned into file offsets; binaries found as libbpf finds them.
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import { readFileSync } from 'fs';
import { test } from 'node:test';
import {
  AttachPlanError,
  describePlan,
  functionFileOffset,
  functionsMatching,
  globMatch,
  parsePlaces,
  parseUprobeTarget,
  planAttach,
  resolveBinary,
} from '../../server/src/attach';

const plan = (section: string, where?: string) => planAttach({ name: 'p', section }, where);

test('SEC() names libbpf auto-attaches', () => {
  assert.deepEqual(plan('tracepoint/syscalls/sys_enter_openat'), { kind: 'tracepoint', category: 'syscalls', name: 'sys_enter_openat' });
  assert.deepEqual(plan('tp/sched/sched_switch'), { kind: 'tracepoint', category: 'sched', name: 'sched_switch' });
  assert.deepEqual(plan('raw_tp/sched_switch'), { kind: 'raw_tp', name: 'sched_switch' });
  assert.deepEqual(plan('raw_tracepoint.w/bpf_test_finish'), { kind: 'raw_tp', name: 'bpf_test_finish' });
  assert.deepEqual(plan('fentry/do_unlinkat'), { kind: 'tracing', attachType: 24, target: 'do_unlinkat' });
  assert.deepEqual(plan('fexit/do_unlinkat'), { kind: 'tracing', attachType: 25, target: 'do_unlinkat' });
  assert.deepEqual(plan('tp_btf/sched_switch'), { kind: 'tracing', attachType: 23, target: 'sched_switch' });
  assert.deepEqual(plan('lsm/file_mprotect'), { kind: 'tracing', attachType: 27, target: 'file_mprotect' });
  assert.deepEqual(plan('iter/task'), { kind: 'iter', target: 'task' });
  assert.deepEqual(plan('kprobe/do_unlinkat+0x10'), { kind: 'kprobe', func: 'do_unlinkat', offset: 16n, retprobe: false });
  assert.deepEqual(plan('kretprobe/do_unlinkat'), { kind: 'kprobe', func: 'do_unlinkat', offset: 0n, retprobe: true });
  assert.deepEqual(plan('ksyscall/openat'), { kind: 'kprobe', func: '__x64_sys_openat', offset: 0n, retprobe: false });
  assert.deepEqual(plan('uprobe//usr/bin/bash:readline'), {
    kind: 'uprobe',
    binary: '/usr/bin/bash',
    func: 'readline',
    offset: 0n,
    retprobe: false,
  });
  assert.deepEqual(plan('uretprobe/libc.so.6:malloc+4'), {
    kind: 'uprobe',
    binary: 'libc.so.6',
    func: 'malloc',
    offset: 4n,
    retprobe: true,
  });
  assert.deepEqual(plan('uprobe/bin:0x1234'), { kind: 'uprobe', binary: 'bin', offset: 0x1234n, retprobe: false });
  // usdt/BINARY:PROVIDER:NAME (the binary may hold ':'; provider and name may not)
  assert.deepEqual(plan('usdt/libc.so.6:libc:setjmp'), { kind: 'usdt', binary: 'libc.so.6', provider: 'libc', name: 'setjmp' });
  assert.deepEqual(plan('usdt.s//opt/a:b/x:prov:probe'), { kind: 'usdt', binary: '/opt/a:b/x', provider: 'prov', name: 'probe' });
});

test('places for what libbpf does not auto-attach; without one the reason says what to give', () => {
  assert.deepEqual(plan('xdp', 'eth0'), { kind: 'xdp', iface: 'eth0', mode: undefined });
  assert.deepEqual(plan('xdp.frags', 'eth0:generic'), { kind: 'xdp', iface: 'eth0', mode: 'generic' });
  assert.deepEqual(plan('tcx/ingress', 'veth0'), { kind: 'tcx', iface: 'veth0', direction: 'ingress' });
  assert.deepEqual(plan('tc', 'veth0:egress'), { kind: 'tcx', iface: 'veth0', direction: 'egress' });
  assert.deepEqual(plan('cgroup_skb/egress', '/sys/fs/cgroup/x'), { kind: 'cgroup', path: '/sys/fs/cgroup/x', attachType: 1 });
  assert.deepEqual(plan('cgroup/connect4', '/sys/fs/cgroup/x'), { kind: 'cgroup', path: '/sys/fs/cgroup/x', attachType: 10 });
  assert.deepEqual(plan('flow_dissector', 'blue'), { kind: 'netns', path: '/var/run/netns/blue', attachType: 17 });
  assert.deepEqual(plan('sk_lookup', '/proc/self/ns/net'), { kind: 'netns', path: '/proc/self/ns/net', attachType: 36 });
  assert.deepEqual(plan('sk_msg', 'sock_map'), { kind: 'sockmap', map: 'sock_map', attachType: 7 });
  assert.deepEqual(plan('perf_event', '@49'), { kind: 'perf_event', event: 'cpu-clock', freq: 49 });
  assert.deepEqual(plan('uprobe', '/bin/x:f'), { kind: 'uprobe', binary: '/bin/x', func: 'f', offset: 0n, retprobe: false });
  assert.deepEqual(plan('usdt', '/usr/bin/python3:python:function__entry'), {
    kind: 'usdt',
    binary: '/usr/bin/python3',
    provider: 'python',
    name: 'function__entry',
  });
  for (const [sec, give] of [
    ['xdp', 'an interface'],
    ['tc', 'an interface'],
    ['cgroup_skb/ingress', 'a cgroup'],
    ['uprobe', 'binary:function'],
    ['usdt', 'binary:provider:name'],
    ['perf_event', 'an event'],
    ['tracepoint', 'a tracepoint'],
  ]) {
    const p = plan(sec);
    assert.equal(p.kind, 'none', sec);
    assert.match((p as { reason: string }).reason, new RegExp(`give ${give}`), sec);
  }
  assert.equal(plan('socket').kind, 'none');
  assert.equal(plan('struct_ops/init').kind, 'none');
  assert.equal(plan('xdp/devmap').kind, 'none');
});

test('bad sections and places: AttachPlanError naming the program', () => {
  const bad = (section: string, where: string | undefined, re: RegExp) =>
    assert.throws(
      () => planAttach({ name: 'prog1', section }, where),
      (e: unknown) => e instanceof AttachPlanError && e.program === 'prog1' && re.test(e.message),
      `${section} ${where}`,
    );
  bad('nonsense', undefined, /not one libbpf knows/);
  bad('tracepoint/onlyone', undefined, /not category\/name/);
  bad('xdp', 'eth0:fast', /XDP mode 'fast'/);
  bad('tc', 'eth0', /not interface:ingress or interface:egress \('tc' does not say which\)/);
  bad('cgroup_skb/egress', 'relative/dir', /absolute/);
  bad('cgroup/skb', '/sys/fs/cgroup/x', /does not say which cgroup hook/);
  bad('uprobe', 'nocolon', /not binary:function/);
  bad('perf_event', 'bogus@1', /not \[event\]\[@freq\]/);
  bad('socket', 'eth0', /cannot be attached/);
  bad('usdt', 'bin:nameonly', /'bin:nameonly' is not binary:provider:name/);
  assert.throws(() => parsePlaces(['x']), /not PROG=WHERE/);
  assert.deepEqual(
    [...parsePlaces(['a=eth0', 'b=/x', 'a=eth1'])],
    [
      ['a', 'eth1'],
      ['b', '/x'],
    ],
  );
  assert.equal(parseUprobeTarget('/a:b:c')?.binary, '/a:b');
});

test('describePlan: what run prints', () => {
  assert.equal(describePlan(plan('tp/sched/sched_switch')), 'sched:sched_switch');
  assert.equal(describePlan(plan('xdp', 'eth0:native')), 'eth0 (native)');
  assert.equal(describePlan(plan('uprobe', '/bin/x:f+0x8')), '/bin/x:f+0x8');
  assert.equal(describePlan(plan('perf_event', 'cycles@1000')), 'cycles@1000Hz on every CPU');
  assert.equal(describePlan(plan('usdt/bin:p:n')), 'bin:p:n');
});

test("uprobe offsets: bash's readline (.dynsym) and a libc function equal readelf's value − section address + section offset", () => {
  const bash = '/usr/bin/bash';
  const syms = spawnSync('readelf', ['-W', '--dyn-syms', bash], { encoding: 'utf8' }).stdout;
  const m = /^\s*\d+: ([0-9a-f]+)\s+\d+ FUNC\s+\w+\s+\w+\s+(\d+) readline$/m.exec(syms);
  assert.ok(m, 'readline in bash .dynsym');
  const secs = spawnSync('readelf', ['-W', '-S', bash], { encoding: 'utf8' }).stdout;
  const sec = new RegExp(`^\\s*\\[\\s*${m[2]}\\] \\S+\\s+\\S+\\s+([0-9a-f]+) ([0-9a-f]+)`, 'm').exec(secs)!;
  const want = BigInt(`0x${m[1]}`) - BigInt(`0x${sec[1]}`) + BigInt(`0x${sec[2]}`);
  assert.equal(functionFileOffset(readFileSync(bash), bash, 'readline'), want);
  assert.throws(
    () => functionFileOffset(readFileSync(bash), bash, 'no_such_function_here'),
    /\/usr\/bin\/bash: no function 'no_such_function_here'/,
  );
  assert.throws(() => functionFileOffset(new Uint8Array([1, 2, 3]), 'junk', 'f'), /junk/);
});

test('binaries found as libbpf finds them: PATH for programs, library dirs for .so', () => {
  const have = new Set(['/usr/bin/bash', '/usr/lib/x86_64-linux-gnu/libc.so.6', '/opt/lib/libx.so']);
  const exists = (p: string) => have.has(p);
  assert.equal(resolveBinary('bash', exists, { PATH: '/nope:/usr/bin' }), '/usr/bin/bash');
  assert.equal(resolveBinary('libc.so.6', exists, {}), '/usr/lib/x86_64-linux-gnu/libc.so.6');
  assert.equal(resolveBinary('libx.so', exists, { LD_LIBRARY_PATH: '/opt/lib' }), '/opt/lib/libx.so');
  assert.throws(() => resolveBinary('zsh', exists, { PATH: '/usr/bin' }), /'zsh' was not found in \/usr\/bin/);
  assert.throws(() => resolveBinary('/no/such', exists, {}), /no such file/);
});

test('kprobe.multi / kretprobe.multi: a function glob from SEC() or the place, one link over every match', () => {
  assert.deepEqual(planAttach({ name: 'k', section: 'kprobe.multi/tcp_*' }), { kind: 'kprobe_multi', pattern: 'tcp_*', retprobe: false });
  assert.deepEqual(planAttach({ name: 'k', section: 'kretprobe.multi/do_unlinkat' }), {
    kind: 'kprobe_multi',
    pattern: 'do_unlinkat',
    retprobe: true,
  });
  assert.deepEqual(planAttach({ name: 'k', section: 'kprobe.multi' }, 'vfs_rea?'), {
    kind: 'kprobe_multi',
    pattern: 'vfs_rea?',
    retprobe: false,
  });
  assert.equal(planAttach({ name: 'k', section: 'kprobe.multi' }).kind, 'none');
  assert.throws(() => planAttach({ name: 'k', section: 'kprobe.multi/a;b' }), /not a kernel function glob/);
  assert.throws(() => planAttach({ name: 'u', section: 'uprobe.session/bash:read*' }), /not attached by BPF Lens yet/);
});

test('uprobe.multi / uretprobe.multi: binary:glob from SEC() (the binary up to the first colon, as libbpf) or the place', () => {
  assert.deepEqual(planAttach({ name: 'u', section: 'uprobe.multi//usr/bin/bash:read*' }), {
    kind: 'uprobe_multi',
    binary: '/usr/bin/bash',
    pattern: 'read*',
    retprobe: false,
  });
  assert.deepEqual(planAttach({ name: 'u', section: 'uretprobe.multi.s/libc.so.6:mall?c' }), {
    kind: 'uprobe_multi',
    binary: 'libc.so.6',
    pattern: 'mall?c',
    retprobe: true,
  });
  assert.deepEqual(planAttach({ name: 'u', section: 'uprobe.multi' }, '/bin/x:f*'), {
    kind: 'uprobe_multi',
    binary: '/bin/x',
    pattern: 'f*',
    retprobe: false,
  });
  const p = planAttach({ name: 'u', section: 'uprobe.multi' });
  assert.equal(p.kind, 'none');
  assert.match((p as { reason: string }).reason, /give binary:function-glob \(--attach u=\/usr\/bin\/bash:read\*\)/);
  assert.throws(() => planAttach({ name: 'u', section: 'uprobe.multi' }, 'noglob'), /'noglob' is not binary:function-glob/);
  assert.throws(() => planAttach({ name: 'u', section: 'uprobe.session/x:f' }), /not attached by BPF Lens yet/);
  assert.equal(describePlan(planAttach({ name: 'u', section: 'uprobe.multi/b:f*' })), 'b:f*');
});

test("uprobe.multi globs: libbpf's glob_match; the functions matched equal readelf's FUNC symbols, .symtab before .dynsym", () => {
  assert.ok(globMatch('lens_m_a', 'lens_m_*'));
  assert.ok(globMatch('lens_m_a', 'lens_?_a'));
  assert.ok(globMatch('a.b+c', 'a.b+c'), 'only * and ? are special');
  assert.ok(!globMatch('a.b+c', 'a?b+d'));
  assert.ok(!globMatch('xlens', 'lens*'), 'anchored');
  assert.ok(globMatch('', '*'));
  // bash has no .symtab: its .dynsym FUNC symbols
  const bash = '/usr/bin/bash';
  const dyn = spawnSync('readelf', ['-W', '--dyn-syms', bash], { encoding: 'utf8' }).stdout;
  const want = [...dyn.matchAll(/^\s*\d+: [0-9a-f]+\s+\d+ FUNC\s+\w+\s+\w+\s+(\d+) (read\w*)$/gm)].map((m) => m[2]);
  assert.ok(want.length > 2, 'bash exports read* functions');
  const got = functionsMatching(readFileSync(bash), bash, 'read*');
  assert.deepEqual(
    got.map((f) => f.name),
    want,
  );
  for (const f of got) assert.equal(f.offset, functionFileOffset(readFileSync(bash), bash, f.name), f.name);
  assert.throws(() => functionsMatching(readFileSync(bash), bash, 'no_such_*'), /\/usr\/bin\/bash: no function matches 'no_such_\*'/);
});
