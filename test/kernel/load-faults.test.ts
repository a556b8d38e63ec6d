// Failure handling of the load pipeline, for real: the k-th system call of a load fails, for
// every k along the way, and afterwards no BPF FD or placeholder memfd is open, nothing this
// load pinned remains, and no struct_ops registration is left (load --register). struct_ops
// registers on attach, as with libbpf. Also pinning by name: reuse of
// a compatible pin, refusal of an incompatible one naming the differing field.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'fs';
import { after, test } from 'node:test';
import * as path from 'path';
import { BPF_MAP_TYPE, closeFd, localKernel, mapCreate, objPin, setFaultInjector } from '../../server/src/kernel';
import { AttachError, attachAll } from '../../server/src/attach';
import { loadObject } from '../../server/src/load';
import { LoadError, type LoadOptions } from '../../server/src/load/types';
import { openObject, type BpfObject } from '../../server/src/object';
import { ROOT, fixture, run } from '../helpers';
import { bpffsDir, openFds } from './kernel-env';

const CC_LIST = '/proc/sys/net/ipv4/tcp_available_congestion_control';
const ccRegistered = () => readFileSync(CC_LIST, 'latin1').split(/\s+/).includes('bpf_lens_fixed');

function open(file: string): BpfObject {
  return openObject(new Uint8Array(readFileSync(file)), file);
}

const pins = bpffsDir('loadfaults');
after(() => pins.done());

/** Every file under a directory (recursively), relative. */
function tree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? [`${e.name}/`, ...tree(path.join(dir, e.name)).map((x) => `${e.name}/${x}`)] : [e.name],
  );
}

/** Loads once counting system calls, then once per k with call k failing. Returns how many ks it tried. */
function injectEverywhere(label: string, obj: BpfObject, opts: Partial<LoadOptions>): number {
  let calls = 0;
  loadObject(obj, { kernel: localKernel, ...opts }).close(); // feature probes run (and are cached) here
  for (const x of readdirSync(pins.dir)) run('rm', ['-rf', path.join(pins.dir, x)]);
  const baseline = { fds: openFds(), pins: tree(pins.dir), cc: ccRegistered() };
  setFaultInjector((_c, n) => {
    calls = n;
    return undefined;
  });
  try {
    loadObject(obj, { kernel: localKernel, ...opts }).close();
  } finally {
    setFaultInjector(undefined);
  }
  assert.ok(calls > 5, `${label}: ${calls} calls`);
  // the successful load's pins stay (that is what pins are for): remove them to start clean
  for (const x of readdirSync(pins.dir)) run('rm', ['-rf', path.join(pins.dir, x)]);
  for (let k = 1; k <= calls; k++) {
    let failedAt = '';
    setFaultInjector((c, n) => {
      if (n !== k) return undefined;
      failedAt = c;
      return 'EIO';
    });
    let recovered = false;
    let warnings: readonly string[] = [];
    try {
      // recoveries: a map refused with BTF is created without it (libbpf), refused BTF is dropped when not needed,
      // a program load that fails at log level 0 is retried at level 1, a .rodata map that cannot be bound
      // to a program is a warning (libbpf's pr_warn)
      const r = loadObject(obj, { kernel: localKernel, ...opts });
      warnings = r.warnings;
      r.close();
      recovered = true;
    } catch (e) {
      assert.ok(e instanceof LoadError, `${label}: call ${k}: ${String(e)}`);
    } finally {
      setFaultInjector(undefined);
    }
    const ctx = `${label}: after call ${k} (${failedAt}) failed`;
    // (the number of calls can shift by a few between loads: the kernel BTF walk meets other processes' BTF objects)
    if (recovered && failedAt !== '') {
      assert.match(failedAt, /^BPF_(MAP_CREATE|BTF_LOAD|PROG_LOAD|PROG_BIND_MAP)$/, `${ctx}: the load went on`);
      if (failedAt === 'BPF_PROG_BIND_MAP')
        assert.ok(
          warnings.some((w) => /could not bind map/.test(w)),
          `${ctx}: went on without saying so: ${warnings.join('; ')}`,
        );
    }
    if (recovered) for (const x of readdirSync(pins.dir)) run('rm', ['-rf', path.join(pins.dir, x)]);
    assert.equal(openFds(), baseline.fds, `${ctx}: FDs left open`);
    assert.deepEqual(tree(pins.dir), baseline.pins, `${ctx}: pins left`);
    assert.equal(ccRegistered(), baseline.cc, `${ctx}: congestion control left registered`);
  }
  return calls;
}

test('fault injection: every syscall of a load fails once; nothing leaks, nothing stays pinned or registered', () => {
  run('make', ['-s', '-C', path.join(ROOT, 'examples')]);
  const progDir = path.join(pins.dir, 'progs');
  const tried = [
    injectEverywhere('loader_rich.o', open(fixture('loader_rich.o')), { pinProgramsDir: progDir }),
    injectEverywhere('load_pinned.o', open(fixture('load_pinned.o')), { pinRoot: pins.dir, pinProgramsDir: progDir }),
    injectEverywhere('exec_tracer', open(path.join(ROOT, 'examples', 'build', 'exec_tracer.bpf.o')), {}),
    // load --register: the old load-time registration, kept as a convenience
    injectEverywhere('loader_tcp_cc.o', open(fixture('loader_tcp_cc.o')), { registerStructOps: true }),
  ];
  assert.ok(tried.reduce((a, b) => a + b) > 60, tried.join(','));
});

test('struct_ops: load registers nothing (as libbpf); attaching registers the tcp_congestion_ops through LINK_CREATE, a socket uses it, detach unregisters', () => {
  assert.equal(ccRegistered(), false);
  const r = loadObject(open(fixture('loader_tcp_cc.o')), { kernel: localKernel });
  try {
    const m = r.maps.find((x) => x.name === 'lens_fixed')!;
    assert.equal(m.type, 'struct_ops');
    assert.equal(m.linkFd, undefined, 'no link at load');
    assert.equal(m.structOps?.link, true, '.struct_ops.link: registered through a link on attach');
    assert.deepEqual(
      r.programs.map((p) => p.type),
      ['struct_ops', 'struct_ops', 'struct_ops', 'struct_ops'],
    );
    assert.equal(ccRegistered(), false, 'loaded, not registered');
    const structOps = [{ name: m.name, fd: m.fd, ...m.structOps }];
    // a fault at each system call of the attach leaves nothing registered
    for (let n = 1; n <= 3; n++) {
      setFaultInjector((_c, i) => (i === n ? 'EIO' : undefined));
      try {
        assert.throws(
          () => attachAll(localKernel, r.programs, { structOps }),
          (e: unknown) => e instanceof AttachError && e.program === 'lens_fixed',
        );
      } finally {
        setFaultInjector(undefined);
      }
      assert.equal(ccRegistered(), false, `fault at call ${n}: nothing registered`);
    }
    const s = attachAll(localKernel, r.programs, { structOps });
    assert.deepEqual(
      s.attachments.map((a) => `${a.kind} ${a.program} ${a.mechanism}`),
      ['struct_ops lens_fixed link'],
    );
    assert.ok(ccRegistered(), `${CC_LIST} lists bpf_lens_fixed`);
    // a TCP connection over loopback with this congestion control: the kernel calls our programs
    const py = [
      'import socket',
      's = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)',
      'c = socket.socket(); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, b"bpf_lens_fixed")',
      'c.connect(s.getsockname()); a, _ = s.accept(); c.sendall(b"x" * 100000); n = 0',
      'while n < 100000: n += len(a.recv(65536))',
      'print(c.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16).rstrip(b"\\0").decode(), n)',
    ].join('\n');
    assert.equal(run('python3', ['-c', py]).trim(), 'bpf_lens_fixed 100000');
    assert.deepEqual(s.detach(), []);
    assert.equal(ccRegistered(), false, 'unregistered when detached (the link closed)');
  } finally {
    r.close();
  }
  assert.equal(ccRegistered(), false);
});

test('pinning by name: created under the pin root, reused by a second load, an incompatible pin refused naming the field', () => {
  const root = path.join(pins.dir, 'root');
  const obj = open(fixture('load_pinned.o'));
  const first = loadObject(obj, { kernel: localKernel, pinRoot: root });
  let second;
  try {
    assert.deepEqual(tree(root).sort(), ['lens_pin_config', 'lens_pin_counts']);
    second = loadObject(obj, { kernel: localKernel, pinRoot: root });
    const ids = (r: typeof first) => Object.fromEntries(r.maps.map((m) => [m.name, [m.id, !!m.reused]]));
    const a = ids(first);
    const b = ids(second);
    assert.deepEqual(b.lens_pin_counts, [a.lens_pin_counts[0], true]);
    assert.deepEqual(b.lens_pin_config, [a.lens_pin_config[0], true]);
    assert.notEqual(b.local_only[0], a.local_only[0], 'unpinned maps are new');
  } finally {
    second?.close();
    first.close();
  }
  // replace lens_pin_config's pin by a map of another size: refused, and the failed load removes only its own pins
  run('rm', ['-f', path.join(root, 'lens_pin_config'), path.join(root, 'lens_pin_counts')]);
  const other = mapCreate({ map_type: BPF_MAP_TYPE.BPF_MAP_TYPE_HASH, key_size: 4, value_size: 4, max_entries: 64, map_flags: 1 });
  try {
    objPin(other, path.join(root, 'lens_pin_config'));
  } finally {
    closeFd(other);
  }
  const before = openFds();
  assert.throws(
    () => loadObject(obj, { kernel: localKernel, pinRoot: root }),
    (e: unknown) => {
      assert.ok(e instanceof LoadError);
      assert.equal(e.stage, 'maps');
      assert.match(
        e.message,
        /map 'lens_pin_config': the map pinned at .*lens_pin_config is not compatible: max_entries is 64 there, the object wants 128/,
      );
      return true;
    },
  );
  assert.equal(openFds(), before);
  assert.deepEqual(tree(root), ['lens_pin_config'], 'the failed load unpinned lens_pin_counts it had made; the foreign pin stays');
});
