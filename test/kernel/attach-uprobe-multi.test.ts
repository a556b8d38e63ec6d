// uprobe.multi on this machine's kernel (6.18 has BPF_TRACE_UPROBE_MULTI): attach_multi.o
// loaded by BPF Lens, its programs attached to a C binary the test builds — a glob over three
// functions called N, 2N and 3N times, a return probe summing what they returned, and a
// SEC("uprobe.multi/BINARY:GLOB") found on PATH — each one link of type uprobe_multi, the
// counts exact; after detach nothing left. A glob that matches nothing fails naming it.
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import { test } from 'node:test';
import { AttachError, attachAll, type AttachProgram, type AttachSession } from '../../server/src/attach';
import { localKernel, mapLookupElem, setFaultInjector } from '../../server/src/kernel';
import { BPF_LINK_TYPE } from '../../server/src/common/uapi';
import { fixture } from '../helpers';
import { lensLoad } from '../load-helpers';
import { linksOf, multiTarget, perfFds } from '../attach-env';
import { openFds, readU64, u32 } from './kernel-env';

const SLOT = { ALL: 0, RET: 1, BY_SEC: 2 };

test('uprobe.multi: one link per program over every function the glob matches; counts exact; detach leaves nothing', async () => {
  const r = await lensLoad(fixture('attach_multi.o'));
  const target = multiTarget();
  const counts = r.maps.find((m) => m.name === 'counts')!;
  const count = (slot: number) => readU64(mapLookupElem(counts.fd, u32(slot), 8)!);
  const bss = r.maps.find((m) => m.name === '.bss')!;
  const ids = r.programs.map((p) => p.id);
  const progs: AttachProgram[] = r.programs.map((p) => ({ name: p.name, section: p.section, fd: p.fd }));
  const before = { bpf: openFds(), perf: perfFds() };
  try {
    const s = attachAll(localKernel, progs, {
      places: new Map([
        ['um_all', `${target.bin}:lens_m_*`],
        ['urm_ret', `${target.bin}:lens_m_?`],
      ]),
      env: { PATH: target.dir },
    });
    assert.deepEqual(
      s.attachments.map((a) => `${a.program} ${a.kind} ${a.target} ${a.mechanism}`),
      [
        `um_all uprobe_multi ${target.bin}:lens_m_* link`,
        `urm_ret uprobe_multi ${target.bin}:lens_m_? link`,
        'um_sec uprobe_multi lens_multi:lens_oth?r link',
      ],
    );
    // Debian's bpftool 7.1 prints this link type as its number
    assert.deepEqual(
      linksOf(ids).map((l) => l.type),
      [BPF_LINK_TYPE.BPF_LINK_TYPE_UPROBE_MULTI, BPF_LINK_TYPE.BPF_LINK_TYPE_UPROBE_MULTI, BPF_LINK_TYPE.BPF_LINK_TYPE_UPROBE_MULTI],
    );
    assert.equal(perfFds(), before.perf, 'no perf events: links only');
    spawnSync(target.bin, ['5']);
    assert.equal(count(SLOT.ALL), 5n + 10n + 15n, 'lens_m_a ×5, lens_m_b ×10, lens_m_c ×15');
    assert.equal(count(SLOT.RET), 30n);
    assert.equal(readU64(mapLookupElem(bss.fd, u32(0), bss.valueSize)!), 5n * 1n + 10n * 10n + 15n * 100n, 'what each returned');
    assert.equal(count(SLOT.BY_SEC), 5n, 'lens_other ×5');
    assert.deepEqual(s.detach(), []);
    spawnSync(target.bin, ['2']);
    assert.equal(count(SLOT.ALL), 30n, 'detached: no more hits');
    assert.deepEqual(linksOf(ids), []);
    assert.equal(openFds(), before.bpf);
    // nothing matches: the error names the program and the glob; nothing is left
    assert.throws(
      () =>
        attachAll(localKernel, progs, {
          places: new Map([['um_all', `${target.bin}:no_such_*`]]),
          skip: new Set(['urm_ret', 'um_sec']),
        }),
      (e: unknown) => e instanceof AttachError && e.program === 'um_all' && /no function matches 'no_such_\*'/.test(e.message),
    );
    assert.deepEqual(linksOf(ids), []);
  } finally {
    target.done();
    r.close();
  }
});

test('uprobe.multi: a fault at every system call of the attach leaves nothing behind', async () => {
  const r = await lensLoad(fixture('attach_multi.o'));
  const target = multiTarget();
  const ids = r.programs.map((p) => p.id);
  const progs: AttachProgram[] = r.programs.map((p) => ({ name: p.name, section: p.section, fd: p.fd }));
  const opts = { places: new Map([['um_all', `${target.bin}:lens_m_*`]]), env: { PATH: target.dir } };
  const before = openFds();
  try {
    let failures = 0;
    for (let n = 1; ; n++) {
      setFaultInjector((_cmd, i) => (i === n ? 'EPERM' : undefined));
      let s: AttachSession | undefined;
      try {
        s = attachAll(localKernel, progs, { ...opts, skip: new Set(['urm_ret']) });
      } catch (e) {
        assert.ok(e instanceof AttachError && /EPERM/.test(e.message), String(e));
        failures++;
      } finally {
        setFaultInjector(undefined);
      }
      if (s) {
        assert.equal(s.attachments.length, 2);
        assert.deepEqual(s.detach(), []);
        assert.ok(failures >= 2, `only ${failures} calls`);
        break;
      }
      assert.deepEqual(linksOf(ids), [], `fault at call ${n}`);
      assert.equal(openFds(), before, `fault at call ${n}`);
    }
    assert.deepEqual(linksOf(ids), []);
    assert.equal(openFds(), before);
  } finally {
    setFaultInjector(undefined);
    target.done();
    r.close();
  }
});
