// The object model on the project's own fixtures: maps of every kind, the SEC() table,
// subprograms, externs, struct_ops, source positions; both byte orders agree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'fs';
import { type BpfObject, internalMapName, objectName, openObject } from '../../server/src/object';
import {
  BPF_F_LINK,
  BPF_F_MMAPABLE,
  BPF_F_NO_PREALLOC,
  BPF_F_RDONLY_PROG,
  BPF_F_SLEEPABLE,
  BPF_F_XDP_HAS_FRAGS,
} from '../../server/src/object/uapi-names';
import { inspectJson } from '../../server/src/cli/inspect';
import { fixture, ROOT } from '../helpers';

function open(name: string, readSource?: (p: string) => string | undefined): BpfObject {
  const file = fixture(name);
  return openObject(new Uint8Array(readFileSync(file)), file, readSource ? { readSource } : {});
}

function map(obj: BpfObject, name: string) {
  const m = obj.maps.find((x) => x.name === name);
  assert.ok(m, `map ${name} in ${obj.maps.map((x) => x.name).join(', ')}`);
  return m;
}

/** Line (1-based) of the first line of `file` that contains `needle`. */
function lineOf(file: string, needle: string): number {
  const i = readFileSync(file, 'utf8')
    .split('\n')
    .findIndex((l) => l.includes(needle));
  assert.ok(i >= 0, `${needle} in ${file}`);
  return i + 1;
}

for (const variant of ['object_maps.o', 'object_maps.eb.o', 'object_maps.v3.o']) {
  test(`${variant}: BTF-defined maps with their definitions, inner maps and initial slots`, () => {
    const obj = open(variant);
    assert.equal(obj.name, 'object_maps');
    assert.equal(obj.license, 'Dual BSD/GPL');
    assert.deepEqual(obj.diagnostics, []);
    const flows = map(obj, 'flows');
    assert.deepEqual(
      [flows.type, flows.keySize, flows.valueSize, flows.maxEntries, flows.flags, flows.kind],
      ['hash', 16, 8, 4096, BPF_F_NO_PREALLOC, 'btf'],
    );
    assert.equal(obj.btf!.nameOf(flows.keyTypeId!), 'flow_key');
    const stats = map(obj, 'stats_by_port');
    assert.deepEqual([stats.type, stats.keySize, stats.valueSize, stats.maxEntries], ['array', 4, 24, 64]);
    assert.equal(obj.btf!.nameOf(stats.valueTypeId!), 'stats');
    assert.equal(map(obj, 'percpu_counters').type, 'percpu_array');
    const lru = map(obj, 'lru_with_a_rather_long_name');
    assert.deepEqual([lru.type, lru.keySize, lru.valueSize, lru.kernelName], ['lru_percpu_hash', 8, 16, 'lru_with_a_rath']);
    assert.deepEqual([map(obj, 'events').type, map(obj, 'events').maxEntries], ['ringbuf', 65536]);
    assert.deepEqual([map(obj, 'perf_out').type, map(obj, 'perf_out').keySize], ['perf_event_array', 4]);
    assert.equal(map(obj, 'objt_pinned').pinning, 'by_name');
    assert.equal(map(obj, 'flows').pinning, 'none');
    const outer = map(obj, 'outer_hash');
    assert.equal(outer.type, 'hash_of_maps');
    assert.equal(outer.valueSize, 4);
    assert.deepEqual(
      [outer.innerMap?.type, outer.innerMap?.keySize, outer.innerMap?.valueSize, outer.innerMap?.maxEntries],
      ['array', 4, 8, 4],
    );
    assert.deepEqual(outer.initialSlots, [
      { index: 2, target: 'inner_a' },
      { index: 5, target: 'inner_b' },
    ]);
    const jmp = map(obj, 'jump_table');
    assert.equal(jmp.type, 'prog_array');
    assert.deepEqual(jmp.initialSlots, [
      { index: 0, target: 'tail_a' },
      { index: 3, target: 'tail_b' },
    ]);
    assert.equal(map(obj, 'inner_a').initialSlots, undefined);
  });

  test(`${variant}: internal maps (data, rodata, bss, custom sections, kconfig): kernel names, flags, initial bytes`, () => {
    const obj = open(variant);
    const internal = obj.maps.filter((m) => m.kind !== 'btf').map((m) => [m.name, m.kernelName, m.kind, m.type, m.keySize, m.maxEntries]);
    assert.deepEqual(internal.sort(), [
      ['.bss', 'object_m.bss', 'bss', 'array', 4, 1],
      ['.data', 'object_m.data', 'data', 'array', 4, 1],
      ['.data.counters', '.data.counters', 'data', 'array', 4, 1],
      ['.kconfig', 'object_.kconfig', 'kconfig', 'array', 4, 1],
      ['.rodata', 'object_m.rodata', 'rodata', 'array', 4, 1],
      ['.rodata.limits', '.rodata.limits', 'rodata', 'array', 4, 1],
      ['.rodata.str1.1', '.rodata.str1.1', 'rodata', 'array', 4, 1],
    ]);
    // string literals: no variables in a DATASEC, so read-only but not mmapable
    assert.equal(map(obj, '.rodata.str1.1').flags, BPF_F_RDONLY_PROG);
    assert.ok(Buffer.from(map(obj, '.rodata.str1.1').initialData!).includes('socket %d\n\0'));
    assert.equal(map(obj, '.rodata').flags, BPF_F_RDONLY_PROG | BPF_F_MMAPABLE);
    assert.equal(map(obj, '.kconfig').flags, BPF_F_RDONLY_PROG | BPF_F_MMAPABLE);
    assert.equal(map(obj, '.data').flags, BPF_F_MMAPABLE);
    // .bss: packets are u64 + the static u32 (its non-static neighbour still makes it mmapable)
    const bss = map(obj, '.bss');
    assert.equal(bss.valueSize, 12);
    assert.deepEqual([...bss.initialData!], new Array(12).fill(0));
    const le = obj.littleEndian;
    const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
    assert.equal(dv(map(obj, '.data.counters').initialData!).getUint32(0, le), 7);
    assert.equal(dv(map(obj, '.rodata.limits').initialData!).getUint32(0, le), 42);
    const ro = map(obj, '.rodata').initialData!;
    assert.ok(Buffer.from(ro).includes('hello\0'), 'the string constant is in .rodata');
    assert.ok(
      [...Array(ro.length - 3).keys()].some((i) => dv(ro).getUint32(i, le) === 100),
      'sample_rate = 100 is in .rodata',
    );
    assert.equal(map(obj, '.kconfig').valueSize, 4);
    assert.deepEqual(
      obj.externs.map((e) => [e.name, e.kind, e.weak, e.offset, e.size]),
      [['LINUX_KERNEL_VERSION', 'kconfig', false, 0, 4]],
    );
  });
}

test('little- and big-endian builds give the same inspect document', () => {
  const strip = (o: BpfObject) => {
    const j = inspectJson(o);
    delete j.file;
    delete j.byte_order;
    return j;
  };
  for (const name of ['object_maps', 'object_progs', 'object_externs']) {
    assert.deepEqual(strip(open(`${name}.eb.o`)), strip(open(`${name}.o`)), name);
  }
});

// section → [prog type, expected attach type] as libbpf's documentation lists them
const EXPECTED: Record<string, [string, string | null]> = {
  p_socket: ['socket_filter', null],
  p_kprobe: ['kprobe', null],
  p_kretprobe: ['kprobe', null],
  p_uprobe_s: ['kprobe', null],
  p_ksyscall: ['kprobe', null],
  p_usdt: ['kprobe', null],
  p_kprobe_multi: ['kprobe', 'trace_kprobe_multi'],
  p_kprobe_session: ['kprobe', 'trace_kprobe_session'],
  p_uprobe_multi: ['kprobe', 'trace_uprobe_multi'],
  p_tracepoint: ['tracepoint', null],
  p_tp: ['tracepoint', null],
  p_raw_tp: ['raw_tracepoint', null],
  p_raw_tp_w: ['raw_tracepoint_writable', null],
  p_tp_btf: ['tracing', 'trace_raw_tp'],
  p_fentry: ['tracing', 'trace_fentry'],
  p_fexit: ['tracing', 'trace_fexit'],
  p_fmod_ret_s: ['tracing', 'modify_return'],
  p_freplace: ['ext', null],
  p_lsm_s: ['lsm', 'lsm_mac'],
  p_lsm_cgroup: ['lsm', 'lsm_cgroup'],
  p_iter: ['tracing', 'trace_iter'],
  p_syscall: ['syscall', null],
  p_xdp: ['xdp', 'xdp'],
  p_xdp_frags: ['xdp', 'xdp'],
  p_xdp_devmap: ['xdp', 'xdp_devmap'],
  p_xdp_frags_cpumap: ['xdp', 'xdp_cpumap'],
  p_tc: ['sched_cls', null],
  p_tcx_ingress: ['sched_cls', 'tcx_ingress'],
  p_tc_egress: ['sched_cls', 'tcx_egress'],
  p_netkit_peer: ['sched_cls', 'netkit_peer'],
  p_classifier: ['sched_cls', null],
  p_action: ['sched_act', null],
  p_cgroup_skb_egress: ['cgroup_skb', 'cgroup_inet_egress'],
  p_cgroup_sock_create: ['cgroup_sock', 'cgroup_inet_sock_create'],
  p_cgroup_connect6: ['cgroup_sock_addr', 'cgroup_inet6_connect'],
  p_cgroup_getsockopt: ['cgroup_sockopt', 'cgroup_getsockopt'],
  p_cgroup_sysctl: ['cgroup_sysctl', 'cgroup_sysctl'],
  p_cgroup_dev: ['cgroup_device', 'cgroup_device'],
  p_sockops: ['sock_ops', 'cgroup_sock_ops'],
  p_sk_skb_verdict: ['sk_skb', 'sk_skb_stream_verdict'],
  p_sk_msg: ['sk_msg', 'sk_msg_verdict'],
  p_sk_lookup: ['sk_lookup', 'sk_lookup'],
  p_sk_reuseport_migrate: ['sk_reuseport', 'sk_reuseport_select_or_migrate'],
  p_flow_dissector: ['flow_dissector', 'flow_dissector'],
  p_perf_event: ['perf_event', null],
  p_struct_ops_s: ['struct_ops', null],
  p_netfilter: ['netfilter', 'netfilter'],
  p_lwt_xmit: ['lwt_xmit', null],
  p_lirc_mode2: ['lirc_mode2', 'lirc_mode2'],
  p_no_autoload: ['xdp', 'xdp'],
  p_unknown: ['unspec', null],
  p_socket_second: ['socket_filter', null],
};

test('object_progs: program type and expected attach type of every SEC() kind; flags; subprograms', () => {
  const obj = open('object_progs.o');
  assert.deepEqual(obj.programs.map((p) => p.name).sort(), Object.keys(EXPECTED).sort());
  for (const p of obj.programs) assert.deepEqual([p.progType, p.expectedAttachType], EXPECTED[p.name], p.name);
  const prog = (n: string) => obj.programs.find((p) => p.name === n)!;
  assert.equal(prog('p_fentry').attachTo, 'do_unlinkat');
  assert.equal(prog('p_tracepoint').attachTo, 'syscalls/sys_enter_openat');
  assert.equal(prog('p_socket').attachTo, undefined);
  for (const n of ['p_uprobe_s', 'p_fmod_ret_s', 'p_lsm_s', 'p_syscall', 'p_struct_ops_s']) {
    assert.ok(prog(n).sleepable && prog(n).progFlags & BPF_F_SLEEPABLE, n);
  }
  assert.ok(!prog('p_fentry').sleepable);
  assert.equal(prog('p_xdp_frags').progFlags, BPF_F_XDP_HAS_FRAGS);
  assert.equal(prog('p_no_autoload').autoload, false);
  assert.equal(prog('p_xdp').autoload, true);
  assert.equal(prog('p_xdp').progTypeId, 6);
  assert.equal(prog('p_fentry').expectedAttachTypeId, 24);
  // two programs in one section
  assert.deepEqual(
    obj.programs.filter((p) => p.section === 'socket').map((p) => p.name),
    ['p_socket', 'p_socket_second'],
  );
  assert.deepEqual(prog('p_kprobe').subprograms, ['global_helper', 'static_helper']);
  assert.deepEqual(prog('p_socket_second').subprograms, ['global_helper']);
  const subs = obj.functions
    .filter((f) => !f.isEntry)
    .map((f) => [f.name, f.linkage, f.section])
    .sort();
  assert.deepEqual(subs, [
    ['global_helper', 'global', '.text'],
    ['static_helper', 'static', '.text'],
  ]);
  assert.equal(obj.functions.filter((f) => f.isEntry).length, obj.programs.length);
  const unknown = obj.diagnostics.filter((d) => d.section === 'not_a_known_section');
  assert.equal(unknown.length, 1);
  assert.match(unknown[0].message, /not in libbpf's SEC\(\) table/);
});

test('source positions: line_info per instruction, functions at their definition, maps found in the source', () => {
  const src = `${ROOT}/test/fixtures/object_maps.bpf.c`;
  const obj = open('object_maps.o', (p) => {
    try {
      return readFileSync(p, 'utf8');
    } catch {
      return undefined;
    }
  });
  assert.deepEqual(obj.sourceFiles, [src]);
  const use = obj.programs.find((p) => p.name === 'use_maps')!;
  assert.equal(use.source?.file, src);
  assert.equal(use.source?.line, lineOf(src, 'int use_maps(struct xdp_md *ctx)'));
  assert.ok(use.lines.length > 10);
  assert.ok(use.lines.every((l) => l.insn >= 0 && l.insn < use.insnCount));
  assert.ok(use.lines.some((l) => l.source.text?.includes('bpf_tail_call') && l.source.line === lineOf(src, 'bpf_tail_call(ctx')));
  const cp = obj.functions.find((f) => f.name === 'count_packet')!;
  assert.equal(cp.source?.line, lineOf(src, 'int count_packet(__u32 port)'));
  const flows = map(obj, 'flows');
  assert.deepEqual([flows.source?.file, flows.source?.line], [src, lineOf(src, '} flows SEC(".maps");')]);
  assert.equal(flows.source?.column, 3);
  assert.equal(map(obj, 'inner_b').source?.line, lineOf(src, 'inner_b SEC(".maps")'));
  // struct_ops values are written with the attribute first
  const ext = open('object_externs.o', (p) => {
    try {
      return readFileSync(p, 'utf8');
    } catch {
      return undefined;
    }
  });
  const esrc = `${ROOT}/test/fixtures/object_externs.bpf.c`;
  assert.deepEqual(
    [map(ext, 'objt_cc').source?.line, map(ext, 'objt_cc_link').source?.line],
    [lineOf(esrc, 'tcp_congestion_ops objt_cc = {'), lineOf(esrc, 'tcp_congestion_ops objt_cc_link = {')],
  );
  assert.equal(map(ext, '.kconfig').source, undefined);
  // without a reader the layer stays pure and says nothing about maps
  assert.equal(map(open('object_maps.o'), 'flows').source, undefined);
});

test('object_externs: kconfig layout as libbpf assigns it, ksyms (typed, typeless, weak), kfuncs, struct_ops maps', () => {
  const obj = open('object_externs.o');
  const ext = Object.fromEntries(obj.externs.map((e) => [e.name, e]));
  // largest alignment first, then smaller size, then name
  assert.deepEqual(
    ['CONFIG_HZ', 'LINUX_KERNEL_VERSION', 'CONFIG_BPF_SYSCALL', 'CONFIG_DEFAULT_HOSTNAME'].map((n) => [
      n,
      ext[n].offset,
      ext[n].size,
      ext[n].weak,
    ]),
    [
      ['CONFIG_HZ', 0, 8, false],
      ['LINUX_KERNEL_VERSION', 8, 4, false],
      ['CONFIG_BPF_SYSCALL', 12, 1, true],
      ['CONFIG_DEFAULT_HOSTNAME', 13, 16, true],
    ],
  );
  assert.equal(map(obj, '.kconfig').valueSize, 29);
  assert.deepEqual([ext.bpf_prog_active.kind, ext.bpf_prog_active.typeless, ext.bpf_prog_active.weak], ['ksym', true, false]);
  assert.deepEqual([ext.runqueues.kind, ext.runqueues.typeless, ext.runqueues.weak], ['ksym', false, true]);
  assert.deepEqual([ext.bpf_task_acquire.kind, ext.bpf_task_acquire.weak], ['kfunc', false]);
  assert.deepEqual([ext.bpf_task_release.kind, ext.bpf_task_release.weak], ['kfunc', true]);
  assert.equal(obj.btf!.get(ext.bpf_task_acquire.btfId)?.kind, 'FUNC');
  const cc = map(obj, 'objt_cc');
  const link = map(obj, 'objt_cc_link');
  assert.deepEqual(
    [cc.kind, cc.type, cc.keySize, cc.maxEntries, cc.flags, cc.structOpsType],
    ['struct_ops', 'struct_ops', 4, 1, 0, 'tcp_congestion_ops'],
  );
  assert.equal(link.flags, BPF_F_LINK);
  assert.deepEqual(
    obj.structOps.map((m) => m.name),
    ['objt_cc', 'objt_cc_link'],
  );
  const slots = Object.fromEntries(cc.structOpsProgs!.map((p) => [p.member, p.program]));
  assert.deepEqual(slots, { init: 'objt_init', ssthresh: 'objt_ssthresh', undo_cwnd: 'objt_undo_cwnd', cong_avoid: 'objt_cong_avoid' });
  assert.ok(Buffer.from(cc.initialData!).includes('objt_cc\0'), 'the .name initializer is in the value');
  assert.equal(
    cc.valueSize,
    obj.btf!.find('STRUCT', 'tcp_congestion_ops') && (obj.btf!.find('STRUCT', 'tcp_congestion_ops') as { size: number }).size,
  );
  const prog = obj.programs.find((p) => p.name === 'objt_ssthresh')!;
  assert.deepEqual([prog.progType, prog.attachTo], ['struct_ops', 'objt_ssthresh']);
});

test("internal map names follow libbpf's rule (REFERENCE.md examples, cut and sanitised)", () => {
  assert.equal(internalMapName('my_object', '.rodata'), 'my_objec.rodata');
  assert.equal(internalMapName('my_object', '.kconfig'), 'my_obje.kconfig');
  assert.equal(internalMapName('my_object', '.rodata.abracadabra'), '.rodata.abracad');
  assert.equal(internalMapName('my_object', '.bss'), 'my_objec.bss');
  assert.equal(internalMapName('x', '.data'), 'x.data');
  assert.equal(internalMapName('my-obj', '.data'), 'my_obj.data');
  assert.equal(objectName('/tmp/dir.d/prog.bpf.o'), 'prog');
});

test('map definition errors point at the field in the C source (or at the map)', () => {
  const src = `${ROOT}/test/fixtures/object_bad_maps.bpf.c`;
  const obj = open('object_bad_maps.o', (p) => {
    try {
      return readFileSync(p, 'utf8');
    } catch {
      return undefined;
    }
  });
  const at = (map: string) => obj.diagnostics.find((d) => d.map === map)?.source?.line;
  assert.equal(at('bad_unknown_field'), lineOf(src, '__uint(frobnicate, 1)'));
  assert.equal(at('bad_pinning'), lineOf(src, '__uint(pinning, 7)'));
  assert.equal(at('bad_inner_pin'), lineOf(src, '__uint(pinning, LIBBPF_PIN_BY_NAME)'));
  assert.equal(at('bad_static'), lineOf(src, '} bad_static SEC(".maps")'));
  // the conflicting 'key' of bad_key_size: its __type(key, ...) line inside that map, not another map's
  const keyLine = at('bad_key_size')!;
  assert.ok(keyLine > lineOf(src, '__uint(key_size, 3)') && keyLine < lineOf(src, '} bad_key_size SEC'));
  assert.ok(obj.diagnostics.filter((d) => d.severity === 'error').every((d) => d.source?.file === src));
  // without a reader: no positions
  assert.ok(open('object_bad_maps.o').diagnostics.every((d) => d.source === undefined));
});
