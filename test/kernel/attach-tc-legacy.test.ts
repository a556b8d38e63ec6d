// tc programs the way kernels before 6.6 take them (no tcx links): a clsact qdisc and a
// direct-action bpf filter over rtnetlink, as libbpf's bpf_tc_hook_create + bpf_tc_attach.
// This kernel has tcx, so the tests force the older path (legacy: {'tc'}, what
// BPF_LENS_LEGACY_ATTACH=tc sets) on a veth pair in a netns the test makes: ICMP dropped
// while attached, `tc filter show` (iproute2) sees the filter, nothing is left after detach;
// a clsact someone else made stays; the kernel's extack reason reaches the error; a fault at
// every system call of the netlink path leaves nothing behind.
import assert from 'node:assert/strict';
import { readdirSync, readlinkSync } from 'fs';
import { spawnSync } from 'child_process';
import { test } from 'node:test';
import { AttachError, attachAll, type AttachProgram, type AttachSession } from '../../server/src/attach';
import { haveTcxLinks, legacyFromEnv } from '../../server/src/attach/tc';
import { BPF_ATTACH_TYPE, localKernel, setFaultInjector } from '../../server/src/kernel';
import { fixture, run } from '../helpers';
import { lensLoad } from '../load-helpers';
import { vethPair, type Veth } from '../attach-env';
import { openFds } from './kernel-env';

const LEGACY = new Set(['tc'] as const);

const tcShow = (what: 'qdisc' | 'filter', dev: string, hook?: string) =>
  spawnSync('tc', [what, 'show', 'dev', dev, ...(hook ? [hook] : [])], { encoding: 'utf8' }).stdout.trim();

function sockets(): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith('socket:')) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

async function setup(): Promise<{ progs: AttachProgram[]; ids: Map<string, number>; veth: Veth; done: () => void }> {
  const r = await lensLoad(fixture('load_tc.o'));
  const veth = vethPair();
  return {
    progs: r.programs.map((p) => ({ name: p.name, section: p.section, fd: p.fd })),
    ids: new Map(r.programs.map((p) => [p.name, p.id])),
    veth,
    done: () => {
      veth.done();
      r.close();
    },
  };
}

const only = (progs: AttachProgram[], keep: string) => new Set(progs.map((p) => p.name).filter((n) => n !== keep));

function assertClean(dev: string, before: { bpf: number; sock: number }): void {
  assert.equal(tcShow('filter', dev, 'ingress'), '', 'no ingress filter left');
  assert.equal(tcShow('filter', dev, 'egress'), '', 'no egress filter left');
  assert.doesNotMatch(tcShow('qdisc', dev), /clsact/, 'no clsact qdisc left');
  assert.equal(openFds(), before.bpf, 'no BPF FDs left');
  assert.equal(sockets(), before.sock, 'no netlink socket left open');
}

test('BPF_LENS_LEGACY_ATTACH names the paths to force', () => {
  assert.deepEqual([...legacyFromEnv({ BPF_LENS_LEGACY_ATTACH: 'tc, kprobe,nope' })], ['tc', 'kprobe']);
  assert.deepEqual([...legacyFromEnv({})], []);
});

test('legacy tc: clsact + direct-action bpf filter drops ICMP; tc filter show sees it; detach leaves nothing', async () => {
  const { progs, ids, veth, done } = await setup();
  const before = { bpf: openFds(), sock: sockets() };
  try {
    assert.equal(veth.ping(2), 2, 'ping works before');
    const s = attachAll(localKernel, progs, {
      places: new Map([['tc_drop_icmp', `${veth.host}:ingress`]]),
      skip: only(progs, 'tc_drop_icmp'),
      legacy: LEGACY,
    });
    assert.deepEqual(
      s.attachments.map((a) => [a.program, a.kind, a.target, a.mechanism, a.linkFds.length]),
      [['tc_drop_icmp', 'tcx', `${veth.host} ingress`, 'tc filter', 0]],
    );
    assert.match(tcShow('qdisc', veth.host), /qdisc clsact ffff: parent ffff:fff1/);
    const shown = tcShow('filter', veth.host, 'ingress');
    // libbpf's defaults: protocol all, the kernel's first priority (49152) and handle 0x1, the name it writes.
    assert.match(shown, /filter protocol all pref 49152 bpf chain 0 handle 0x1 tc_drop_icmp:\[(\d+)\] direct-action/, shown);
    assert.equal(Number(/tc_drop_icmp:\[(\d+)\]/.exec(shown)![1]), ids.get('tc_drop_icmp'));
    assert.equal(tcShow('filter', veth.host, 'egress'), '');
    assert.equal(veth.ping(3), 0, 'the filter dropped every echo request');
    assert.deepEqual(s.detach(), []);
    assert.equal(veth.ping(2), 2, 'ping works after detach');
    assertClean(veth.host, before);
  } finally {
    done();
  }
});

test('legacy tc: a clsact qdisc that was there stays; ours goes only when no other filter is on it', async () => {
  const { progs, veth, done } = await setup();
  const before = { bpf: openFds(), sock: sockets() };
  const attach = (prog: string, where: string): AttachSession =>
    attachAll(localKernel, progs, { places: new Map([[prog, where]]), skip: only(progs, prog), legacy: LEGACY });
  try {
    // Someone else's clsact: kept after our detach.
    run('tc', ['qdisc', 'add', 'dev', veth.host, 'clsact']);
    attach('tc_drop_icmp', `${veth.host}:ingress`).detach();
    assert.match(tcShow('qdisc', veth.host), /clsact/);
    assert.equal(tcShow('filter', veth.host, 'ingress'), '');
    run('tc', ['qdisc', 'del', 'dev', veth.host, 'clsact']);

    // Ours, but another filter (a later attach, which found the qdisc there) still hangs on it: kept.
    const first = attach('tc_drop_icmp', `${veth.host}:ingress`);
    const second = attach('tc_mark', `${veth.host}:egress`);
    assert.deepEqual(first.detach(), []);
    assert.match(tcShow('qdisc', veth.host), /clsact/, 'the other filter keeps the qdisc');
    assert.match(tcShow('filter', veth.host, 'egress'), /tc_mark:\[\d+\] direct-action/);
    assert.equal(veth.ping(2), 2, 'the ingress filter is gone');
    assert.deepEqual(second.detach(), []);
    assert.match(tcShow('qdisc', veth.host), /clsact/, 'the second attach did not make the qdisc: it stays');
    run('tc', ['qdisc', 'del', 'dev', veth.host, 'clsact']);

    // Both in one session: the one that made the qdisc is detached last and removes it.
    const both = attachAll(localKernel, progs, {
      places: new Map([
        ['tc_drop_icmp', `${veth.host}:ingress`],
        ['tc_mark', `${veth.host}:egress`],
      ]),
      legacy: LEGACY,
    });
    assert.equal(both.attachments.length, 2);
    assert.deepEqual(both.detach(), []);
    assertClean(veth.host, before);
  } finally {
    done();
  }
});

test('the tcx probe: this kernel has tcx links; a kernel answering EINVAL to LINK_CREATE (as before 6.6) gets the filter unasked', async () => {
  const { progs, veth, done } = await setup();
  const before = { bpf: openFds(), sock: sockets() };
  try {
    const fd = progs.find((p) => p.name === 'tc_drop_icmp')!.fd;
    assert.equal(haveTcxLinks(localKernel, fd, BPF_ATTACH_TYPE.BPF_TCX_INGRESS, 'probe'), true);
    setFaultInjector((cmd) => (cmd === 'BPF_LINK_CREATE' ? 'EINVAL' : undefined));
    let s: AttachSession;
    try {
      assert.equal(haveTcxLinks(localKernel, fd, BPF_ATTACH_TYPE.BPF_TCX_INGRESS, 'probe'), false);
      s = attachAll(localKernel, progs, { places: new Map([['tc_drop_icmp', `${veth.host}:ingress`]]), skip: only(progs, 'tc_drop_icmp') });
    } finally {
      setFaultInjector(undefined);
    }
    assert.equal(s.attachments[0].mechanism, 'tc filter');
    assert.equal(veth.ping(2), 0);
    assert.deepEqual(s.detach(), []);
    assertClean(veth.host, before);
  } finally {
    done();
  }
});

test("legacy tc: the kernel's refusal carries its extack message; nothing is left", async () => {
  const { progs, veth, done } = await setup();
  const before = { bpf: openFds(), sock: sockets() };
  try {
    // A clsact whose hooks are shared blocks: filters must name the block, not the device.
    run('tc', ['qdisc', 'add', 'dev', veth.host, 'ingress_block', '22', 'egress_block', '23', 'clsact']);
    assert.throws(
      () =>
        attachAll(localKernel, progs, {
          places: new Map([['tc_drop_icmp', `${veth.host}:egress`]]),
          skip: only(progs, 'tc_drop_icmp'),
          legacy: LEGACY,
        }),
      (e: unknown) => {
        assert.ok(e instanceof AttachError, String(e));
        assert.equal(e.program, 'tc_drop_icmp');
        // RTM_NEWTFILTER failed: <errno> (...) — <the kernel's extack message>
        assert.match(e.message, /RTM_NEWTFILTER failed: (EOPNOTSUPP|ENOTSUP) \(.*\) — This filter block is shared/);
        return true;
      },
    );
    assert.match(tcShow('qdisc', veth.host), /clsact .*ingress_block 22/, 'the qdisc we did not make stays');
    run('tc', ['qdisc', 'del', 'dev', veth.host, 'clsact']);
    assertClean(veth.host, before);
  } finally {
    done();
  }
});

test('legacy tc: a fault at every system call of the netlink path: AttachError names the program, nothing is left', async () => {
  const { progs, veth, done } = await setup();
  const before = { bpf: openFds(), sock: sockets() };
  const places = new Map([
    ['tc_drop_icmp', `${veth.host}:ingress`],
    ['tc_mark', `${veth.host}:egress`],
  ]);
  const commands = new Set<string>();
  try {
    for (let n = 1; ; n++) {
      setFaultInjector((cmd, i) => (commands.add(cmd), i === n ? 'EPERM' : undefined));
      let s: AttachSession | undefined;
      try {
        s = attachAll(localKernel, progs, { places, legacy: LEGACY });
      } catch (e) {
        assert.ok(e instanceof AttachError, String(e));
        assert.match(e.message, /EPERM/);
      } finally {
        setFaultInjector(undefined);
      }
      if (s) {
        assert.equal(s.attachments.length, 2);
        assert.deepEqual(s.detach(), []);
        assertClean(veth.host, before);
        assert.ok(n > 10, `only ${n - 1} calls`);
        break;
      }
      assertClean(veth.host, before);
    }
    for (const c of ['socket(NETLINK_ROUTE)', 'setsockopt(SO_RCVTIMEO)', 'bind(NETLINK_ROUTE)', 'RTM_NEWQDISC', 'RTM_NEWTFILTER'])
      assert.ok(commands.has(c), `${c} was faulted (${[...commands].join(', ')})`);
  } finally {
    setFaultInjector(undefined);
    done();
  }
});
