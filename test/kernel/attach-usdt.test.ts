// usdt on this machine's kernel: attach_usdt.o (compiled against libbpf's usdt.bpf.h) loaded
// by BPF Lens, its programs attached to the USDT probes of a C binary the test builds with
// sys/sdt.h, the binary run, and the arguments bpf_usdt_arg() read compared with what the
// binary passed (registers, memory operands of 1/2/4/8 bytes, signed and unsigned, a constant);
// the semaphore raised while attached; after detach nothing left: no links, no perf events, the
// semaphore back to 0. The same source compiled against libbpf 1.7's usdt.bpf.h (the
// linux-source-6.12 copy scripts/build-refs.sh installs) also reads base+index*scale operands;
// and libbpf itself (refs' libbpf.a, through a small C loader) writes the same spec bytes.
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { test } from 'node:test';
import { AttachError, UsdtSpecIds, attachAll, type AttachProgram, type AttachSession } from '../../server/src/attach';
import { localKernel, mapLookupElem, setFaultInjector } from '../../server/src/kernel';
import { LocalTarget } from '../../server/src/targets/local';
import { fixture, ROOT, run } from '../helpers';
import { modernRefs } from '../refs';
import { lensLoad } from '../load-helpers';
import { linksOf, perfFds, sdtHeader, usdtTarget } from '../attach-env';
import { openFds, readU64, u32 } from './kernel-env';
import { startRun } from '../run-helpers';

const SLOT = { ARGS_N: 0, ARG0: 1, ARGS_CNT: 6, ARGS_ENOENT: 7, MEM_N: 8, MEM0: 9, GATED_N: 12, GATED0: 13, SIB_N: 14, SIB0: 15 };
const ENOENT = 2;
const noSdt = sdtHeader() ? false : 'sys/sdt.h is missing: scripts/setup.sh installs systemtap-sdt-dev';

const s64 = (v: bigint) => BigInt.asIntN(64, v);

test(
  'usdt: arguments arrive exactly as the binary passed them; the semaphore is raised while attached; detach leaves nothing',
  { skip: noSdt },
  async () => {
    const r = await lensLoad(fixture('attach_usdt.o'));
    const target = usdtTarget();
    const seen = r.maps.find((m) => m.name === 'seen')!;
    const slot = (i: number) => readU64(mapLookupElem(seen.fd, u32(i), 8)!);
    const ids = r.programs.map((p) => p.id);
    const progs: AttachProgram[] = r.programs.map((p) => ({ name: p.name, section: p.section, fd: p.fd }));
    const before = { bpf: openFds(), perf: perfFds() };
    try {
      const s = attachAll(localKernel, progs, {
        places: new Map([
          ['on_args', `${target.bin}:lens:args`],
          ['on_gated', `${target.bin}:lens:gated`],
        ]),
        skip: new Set(['on_sib']),
        // on_mem names its binary without a path in SEC(): found on PATH, as libbpf finds it
        env: { PATH: target.dir },
        mapFd: (name) => r.maps.find((m) => m.name === name)?.fd,
        btf: r.object.btf,
      });
      assert.deepEqual(
        s.attachments.map((a) => `${a.program} ${a.kind} ${a.target} ${a.mechanism} ${a.linkFds.length}`),
        [
          `on_args usdt ${target.bin}:lens:args perf_event link 1`,
          `on_gated usdt ${target.bin}:lens:gated perf_event link 1`,
          'on_mem usdt lens_usdt:lens:mem perf_event link 1',
        ],
      );
      assert.equal(linksOf(ids).length, 3);
      const out = spawnSync(target.bin, ['4'], { encoding: 'utf8' });
      assert.equal(out.stdout.trim(), 'semaphore 1', 'the uprobe raised the semaphore while attached');
      assert.equal(slot(SLOT.ARGS_N), 4n);
      // the last call: i = 3
      assert.deepEqual(
        [0, 1, 2, 3, 4].map((i) => s64(slot(SLOT.ARG0 + i))),
        [-3000000000n, -77n, -3000n, -5n, 42n],
      );
      assert.equal(slot(SLOT.ARGS_CNT), 5n);
      assert.equal(s64(slot(SLOT.ARGS_ENOENT)), BigInt(-ENOENT), 'a sixth argument does not exist');
      assert.equal(slot(SLOT.MEM_N), 4n);
      assert.deepEqual(
        [0, 1, 2].map((i) => s64(slot(SLOT.MEM0 + i))),
        [0x123456789abcn + 0n + 1n + 2n + 3n, -77n, 65000n],
      );
      assert.equal(slot(SLOT.GATED_N), 4n, 'the gated probe fired on every call');
      assert.equal(slot(SLOT.GATED0), 3n);
      assert.deepEqual(s.detach(), []);
      const after = spawnSync(target.bin, ['2'], { encoding: 'utf8' });
      assert.equal(after.stdout.trim(), 'semaphore 0', 'detached: the semaphore is down');
      assert.equal(slot(SLOT.ARGS_N), 4n, 'detached: no more hits');
      assert.equal(slot(SLOT.GATED_N), 4n);
      assert.deepEqual(linksOf(ids), []);
      assert.equal(perfFds(), before.perf);
      assert.equal(openFds(), before.bpf);
    } finally {
      target.done();
      r.close();
    }
  },
);

test(
  'usdt: a probe the binary lacks, or an object without usdt.bpf.h maps, fails naming the program and leaves nothing',
  { skip: noSdt },
  async () => {
    const r = await lensLoad(fixture('attach_usdt.o'));
    const target = usdtTarget();
    const progs: AttachProgram[] = r.programs.map((p) => ({ name: p.name, section: p.section, fd: p.fd }));
    const ids = r.programs.map((p) => p.id);
    const before = { bpf: openFds(), perf: perfFds() };
    const only = (keep: string) => new Set(progs.map((p) => p.name).filter((n) => n !== keep));
    try {
      assert.throws(
        () =>
          attachAll(localKernel, progs, {
            places: new Map([['on_args', `${target.bin}:lens:nope`]]),
            skip: only('on_args'),
            mapFd: (name) => r.maps.find((m) => m.name === name)?.fd,
          }),
        (e: unknown) =>
          e instanceof AttachError &&
          e.program === 'on_args' &&
          /USDT probe lens:nope is not there \(it has lens:args, lens:mem, lens:sib, lens:gated\)/.test(e.message),
      );
      // a failure after the first program attached: on_args is undone
      assert.throws(
        () =>
          attachAll(localKernel, progs, {
            places: new Map([
              ['on_args', `${target.bin}:lens:args`],
              ['on_gated', `${target.bin}:lens:gone`],
            ]),
            skip: new Set(['on_mem', 'on_sib']),
            mapFd: (name) => r.maps.find((m) => m.name === name)?.fd,
          }),
        (e: unknown) => e instanceof AttachError && e.program === 'on_gated',
      );
      assert.throws(
        () => attachAll(localKernel, progs, { places: new Map([['on_args', `${target.bin}:lens:args`]]), skip: only('on_args') }),
        /has no __bpf_usdt_specs map/,
      );
      assert.deepEqual(linksOf(ids), []);
      assert.equal(perfFds(), before.perf);
      assert.equal(openFds(), before.bpf);
      assert.equal(spawnSync(target.bin, ['1'], { encoding: 'utf8' }).stdout.trim(), 'semaphore 0');
    } finally {
      target.done();
      r.close();
    }
  },
);

/** attach_usdt.bpf.c compiled against refs' headers (libbpf 1.7's usdt.bpf.h) into `dir`. */
function modernObject(dir: string): string {
  const refs = modernRefs();
  const out = path.join(dir, 'attach_usdt_modern.o');
  const multiarch = spawnSync('gcc', ['-print-multiarch'], { encoding: 'utf8' }).stdout.trim() || 'x86_64-linux-gnu';
  const fixtures = path.join(ROOT, 'test', 'fixtures');
  run('clang', [
    '-target',
    'bpf',
    '-g',
    '-O2',
    '-I',
    refs.include,
    '-I',
    fixture(''),
    '-I',
    `/usr/include/${multiarch}`,
    '-c',
    path.join(fixtures, 'attach_usdt.bpf.c'),
    '-o',
    out,
  ]);
  return out;
}

const mapFdOf = (r: { maps: readonly { name: string; fd: number }[] }) => (name: string) => r.maps.find((m) => m.name === name)?.fd;

test(
  "usdt: base+index*scale operands need libbpf 1.7's usdt.bpf.h: refused clearly with 1.1's, read exactly with 1.7's",
  { skip: noSdt },
  async () => {
    const target = usdtTarget();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'bpflens-usdt-obj-'));
    const old = await lensLoad(fixture('attach_usdt.o'));
    try {
      const progs = old.programs.map((p) => ({ name: p.name, section: p.section, fd: p.fd }));
      const only = new Set(progs.map((p) => p.name).filter((n) => n !== 'on_sib'));
      assert.throws(
        () =>
          attachAll(localKernel, progs, {
            places: new Map([['on_sib', `${target.bin}:lens:sib`]]),
            skip: only,
            mapFd: mapFdOf(old),
            btf: old.object.btf,
          }),
        (e: unknown) =>
          e instanceof AttachError &&
          e.program === 'on_sib' &&
          /base\+index\*scale operand: the object's usdt.bpf.h cannot read it \(libbpf 1.7\+ can\)/.test(e.message),
      );
      const r = await lensLoad(modernObject(dir));
      try {
        const seen = r.maps.find((m) => m.name === 'seen')!;
        const slot = (i: number) => s64(readU64(mapLookupElem(seen.fd, u32(i), 8)!));
        const s = attachAll(
          localKernel,
          r.programs.map((p) => ({ name: p.name, section: p.section, fd: p.fd })),
          {
            places: new Map([
              ['on_sib', `${target.bin}:lens:sib`],
              ['on_args', `${target.bin}:lens:args`],
            ]),
            skip: new Set(['on_mem', 'on_gated']),
            mapFd: mapFdOf(r),
            btf: r.object.btf,
          },
        );
        spawnSync(target.bin, ['6']);
        assert.equal(slot(SLOT.SIB_N), 6n);
        assert.deepEqual([slot(SLOT.SIB0), slot(SLOT.SIB0 + 1)], [-60n, 5n], 'a[5] and 5');
        assert.deepEqual(
          [0, 1, 2, 3, 4].map((i) => slot(SLOT.ARG0 + i)),
          [-5000000000n, -77n, -3000n, -5n, 42n],
          'the 1.7 layout reads the old forms too',
        );
        s.detach();
      } finally {
        r.close();
      }
    } finally {
      old.close();
      target.done();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

/** A loader linked with libbpf (refs): loads OBJ, bpf_program__attach_usdt(PROG, BIN, PROVIDER, NAME), prints each spec in use as hex. */
const LIBBPF_LOADER = `
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
int main(int argc, char **argv) {
  struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
  if (!obj || bpf_object__load(obj)) { fprintf(stderr, "load failed\\n"); return 1; }
  struct bpf_program *p = bpf_object__find_program_by_name(obj, argv[2]);
  struct bpf_link *l = bpf_program__attach_usdt(p, -1, argv[3], argv[4], argv[5], NULL);
  if (!l) { fprintf(stderr, "attach failed\\n"); return 1; }
  struct bpf_map *m = bpf_object__find_map_by_name(obj, "__bpf_usdt_specs");
  unsigned char v[4096], zero[4096] = {0};
  size_t n = bpf_map__value_size(m);
  for (int id = 0; id < 4; id++) {
    if (bpf_map_lookup_elem(bpf_map__fd(m), &id, v) || !memcmp(v, zero, n)) break;
    for (size_t i = 0; i < n; i++) printf("%02x", v[i]);
    printf("\\n");
  }
  bpf_link__destroy(l);
  bpf_object__close(obj);
  return 0;
}
`;

test('usdt: the spec values BPF Lens writes are the bytes libbpf writes for the same object and probes', { skip: noSdt }, async () => {
  const refs = modernRefs();
  const target = usdtTarget();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bpflens-usdt-libbpf-'));
  try {
    const obj = modernObject(dir);
    writeFileSync(path.join(dir, 'loader.c'), LIBBPF_LOADER);
    const loader = path.join(dir, 'loader');
    run('gcc', ['-O1', '-I', refs.include, '-o', loader, path.join(dir, 'loader.c'), refs.libbpf, '-lelf', '-lz']);
    for (const [prog, probe] of [
      ['on_args', 'args'],
      ['on_sib', 'sib'],
      ['on_gated', 'gated'],
    ]) {
      const libbpf = run(loader, [obj, prog, target.bin, 'lens', probe]).trim().split('\n');
      const r = await lensLoad(obj);
      try {
        const progs = r.programs.map((p) => ({ name: p.name, section: p.section, fd: p.fd }));
        const s = attachAll(localKernel, progs, {
          places: new Map([[prog, `${target.bin}:lens:${probe}`]]),
          skip: new Set(progs.map((p) => p.name).filter((n) => n !== prog)),
          mapFd: mapFdOf(r),
          btf: r.object.btf,
        });
        const specs = r.maps.find((m) => m.name === '__bpf_usdt_specs')!;
        const lens = libbpf.map((_, id) => Buffer.from(mapLookupElem(specs.fd, u32(id), specs.valueSize)!).toString('hex'));
        s.detach();
        assert.equal(libbpf.length, 1, `${probe}: one site, one spec`);
        assert.deepEqual(lens, libbpf, `${prog}: spec bytes`);
      } finally {
        r.close();
      }
    }
  } finally {
    target.done();
    rmSync(dir, { recursive: true, force: true });
  }
});

test(
  'usdt: a fault at every system call of the attach leaves nothing behind (links, perf events, semaphore, spec ids)',
  { skip: noSdt },
  async () => {
    const r = await lensLoad(fixture('attach_usdt.o'));
    const target = usdtTarget();
    const progs: AttachProgram[] = r.programs.map((p) => ({ name: p.name, section: p.section, fd: p.fd }));
    const ids = r.programs.map((p) => p.id);
    const specIds = new UsdtSpecIds();
    const opts = {
      places: new Map([
        ['on_args', `${target.bin}:lens:args`],
        ['on_gated', `${target.bin}:lens:gated`],
      ]),
      skip: new Set(['on_sib']),
      env: { PATH: target.dir },
      mapFd: mapFdOf(r),
      btf: r.object.btf,
      usdtIds: specIds,
    };
    const before = { bpf: openFds(), perf: perfFds() };
    const nothingLeft = (why: string) => {
      assert.deepEqual(linksOf(ids), [], why);
      assert.equal(perfFds(), before.perf, why);
      assert.equal(openFds(), before.bpf, why);
      assert.equal(spawnSync(target.bin, ['1'], { encoding: 'utf8' }).stdout.trim(), 'semaphore 0', why);
    };
    try {
      let failures = 0;
      for (let n = 1; ; n++) {
        setFaultInjector((_cmd, i) => (i === n ? 'EPERM' : undefined));
        let s: AttachSession | undefined;
        try {
          s = attachAll(localKernel, progs, opts);
        } catch (e) {
          assert.ok(e instanceof AttachError, String(e));
          assert.match(e.message, /EPERM/);
          failures++;
        } finally {
          setFaultInjector(undefined);
        }
        if (s) {
          assert.equal(s.attachments.length, 3);
          assert.deepEqual(s.detach(), []);
          nothingLeft('after the last detach');
          assert.ok(failures >= 10, `only ${failures} calls`);
          break;
        }
        nothingLeft(`fault at call ${n}`);
      }
      // every spec id came back: the next three are the first three
      assert.deepEqual([specIds.take(256), specIds.take(256), specIds.take(256)].sort(), [0, 1, 2]);
    } finally {
      setFaultInjector(undefined);
      target.done();
      r.close();
    }
  },
);

test(
  "usdt through a target, one request per program (as the editor attaches): the load's spec ids are shared, each program reads its own probe",
  { skip: noSdt },
  async () => {
    const target = new LocalTarget();
    const bin = usdtTarget();
    try {
      const r = await target.load({ name: 'attach_usdt.o', object: readFileSync(fixture('attach_usdt.o')) });
      assert.ok(r.ok, r.ok ? '' : r.error.message);
      const handle = r.loaded.handle;
      const a = await target.attach(handle, { programs: ['on_args'], places: { on_args: `${bin.bin}:lens:args` } });
      const b = await target.attach(handle, { programs: ['on_gated'], places: { on_gated: `${bin.bin}:lens:gated` } });
      assert.deepEqual(
        [...a.attached, ...b.attached].map((x) => `${x.program} ${x.kind}`),
        ['on_args usdt', 'on_gated usdt'],
      );
      assert.equal(spawnSync(bin.bin, ['3'], { encoding: 'utf8' }).stdout.trim(), 'semaphore 1');
      const seen = r.loaded.maps.find((m) => m.name === 'seen')!;
      const dump = JSON.parse((await target.mapDump({ id: seen.id, json: true })).text) as { formatted: { key: number; value: number } }[];
      const slot = (i: number) => dump.find((e) => e.formatted.key === i)!.formatted.value;
      assert.equal(slot(SLOT.ARGS_N), 3);
      assert.equal(slot(SLOT.ARGS_CNT), 5, 'on_args reads its own 5-argument spec');
      assert.equal(slot(SLOT.GATED_N), 3);
      assert.equal(slot(SLOT.GATED0), 2, 'on_gated reads its own spec (i of the last call)');
      // detach one, attach it again: its spec id comes back and is reused
      await target.detach(handle, ['on_args']);
      await target.attach(handle, { programs: ['on_args'], places: { on_args: `${bin.bin}:lens:args` } });
      spawnSync(bin.bin, ['1']);
      assert.equal(
        JSON.parse((await target.mapDump({ id: seen.id, json: true })).text).find(
          (e: { formatted: { key: number } }) => e.formatted.key === SLOT.ARGS_N,
        ).formatted.value,
        4,
      );
      assert.equal((await target.unload(handle)).closed, true);
      assert.equal(spawnSync(bin.bin, ['1'], { encoding: 'utf8' }).stdout.trim(), 'semaphore 0', 'unload detached');
    } finally {
      await target.close();
      bin.done();
    }
  },
);

test(
  "usdt without BPF cookies (the kernel's bpf_get_attach_cookie hidden from load and attach): the spec found by IP in __bpf_usdt_ip_to_spec_id",
  { skip: noSdt },
  async () => {
    // the real kernel, told to both the load (LINUX_HAS_BPF_COOKIE) and the attach that it has no cookies
    const k = { ...localKernel, probeFeature: (n: string) => (n === 'bpf_cookie' ? { supported: false } : localKernel.probeFeature(n)) };
    const r = await lensLoad(fixture('attach_usdt.o'), { kernel: k });
    const exe = usdtTarget({ pie: false });
    const pie = usdtTarget();
    const progs: AttachProgram[] = r.programs.map((p) => ({ name: p.name, section: p.section, fd: p.fd }));
    const ids = r.programs.map((p) => p.id);
    const seen = r.maps.find((m) => m.name === 'seen')!;
    const ipMap = r.maps.find((m) => m.name === '__bpf_usdt_ip_to_spec_id')!;
    const slot = (i: number) => s64(readU64(mapLookupElem(seen.fd, u32(i), 8)!));
    const ipKeys = () => JSON.parse(run('bpftool', ['-j', 'map', 'dump', 'id', String(ipMap.id)])) as unknown[];
    const before = { bpf: openFds(), perf: perfFds() };
    try {
      const kconfig = r.maps.find((m) => m.name === '.kconfig')!;
      assert.equal(mapLookupElem(kconfig.fd, u32(0), kconfig.valueSize)![0], 0, 'the program was loaded with LINUX_HAS_BPF_COOKIE = n');
      const opts = { mapFd: mapFdOf(r), btf: r.object.btf, skip: new Set(['on_mem', 'on_sib']) };
      const s = attachAll(k, progs, {
        ...opts,
        places: new Map([
          ['on_args', `${exe.bin}:lens:args`],
          ['on_gated', `${exe.bin}:lens:gated`],
        ]),
      });
      assert.equal(ipKeys().length, 2, 'one IP entry per site');
      const out = spawnSync(exe.bin, ['3'], { encoding: 'utf8' });
      assert.equal(out.stdout.trim(), 'semaphore 1');
      assert.deepEqual(
        [0, 1, 2, 3, 4].map((i) => slot(SLOT.ARG0 + i)),
        [-2000000000n, -77n, -3000n, -5n, 42n],
      );
      assert.equal(slot(SLOT.ARGS_CNT), 5n);
      assert.deepEqual([slot(SLOT.GATED_N), slot(SLOT.GATED0)], [3n, 2n]);
      s.detach();
      assert.deepEqual(ipKeys(), [], 'detach removed the IP entries');
      // a position-independent binary has no fixed IPs: refused, naming why
      assert.throws(
        () =>
          attachAll(k, progs, {
            ...opts,
            places: new Map([['on_args', `${pie.bin}:lens:args`]]),
            skip: new Set(['on_mem', 'on_sib', 'on_gated']),
          }),
        (e: unknown) => e instanceof AttachError && /no BPF cookies \(Linux 5.15\+\) and .* is position-independent/.test(e.message),
      );
      assert.deepEqual(linksOf(ids), []);
      assert.equal(perfFds(), before.perf);
      assert.equal(openFds(), before.bpf);
    } finally {
      exe.done();
      pie.done();
      r.close();
    }
  },
);

test(
  'bpf-lens run of a usdt object: attached where told; its maps line leaves libbpf’s own __bpf_usdt_* maps out',
  { skip: noSdt },
  async () => {
    const target = usdtTarget();
    const r = startRun([
      fixture('attach_usdt.o'),
      '--attach',
      `on_args=${target.bin}:lens:args`,
      '--no-attach',
      'on_gated',
      '--no-attach',
      'on_mem',
      '--no-attach',
      'on_sib',
      '--duration',
      '1',
    ]);
    assert.equal(await r.exited, 0, r.stderr());
    const loaded = r.events.find((e) => e.event === 'loaded')!;
    assert.ok(
      (loaded.maps as { name: string }[]).some((m) => m.name === '__bpf_usdt_spec'),
      'the load has libbpf’s spec map (its kernel name)',
    );
    assert.deepEqual(
      r.events.filter((e) => e.event === 'attached').map((e) => `${String(e.program)} ${String(e.kind)}`),
      ['on_args usdt'],
    );
    const maps = Object.keys(r.events.find((e) => e.event === 'maps')!.maps as object);
    assert.ok(maps.includes('seen'), maps.join(' '));
    assert.deepEqual(
      maps.filter((m) => m.startsWith('__bpf_usdt_')),
      [],
    );
  },
);
