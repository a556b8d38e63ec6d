// Runs inside a Debian 6.1 qemu guest (attach-legacy-qemu.test.ts): the attach paths for
// kernels without the newer mechanisms.
// - tc: 6.1 has no tcx links, so the probe sends tc_drop_icmp (load_tc.o) through a clsact
//   qdisc + bpf filter over netlink, on a veth pair in a netns; pings dropped, `tc` sees it,
//   nothing left after detach.
// - kprobes: the guest has the kprobe PMU; BPF_LENS_LEGACY_ATTACH=kprobe forces tracefs
//   kprobe_events for attach_tracing.o's kprobe/kretprobe; calls counted, the entries seen
//   while attached and gone after detach, also after a fault at every call of the path.
import { readFileSync, readdirSync, readlinkSync } from 'fs';
import { spawnSync } from 'child_process';
import * as os from 'os';
import type * as AttachModule from '../../server/src/attach';
import type * as KernelModule from '../../server/src/kernel';
import type * as LoadModule from '../../server/src/load';
import type * as ObjectModule from '../../server/src/object';
import { vethPair } from '../attach-env';
import { writeGuestResult } from './guest-result';

/* eslint-disable @typescript-eslint/no-require-imports */
const K = require('../../server/src/kernel') as typeof KernelModule;
const { loadObject } = require('../../server/src/load') as typeof LoadModule;
const { openObject } = require('../../server/src/object') as typeof ObjectModule;
const A = require('../../server/src/attach') as typeof AttachModule;
/* eslint-enable @typescript-eslint/no-require-imports */

const [tcObj, tracingObj] = process.argv.slice(2);

function load(file: string) {
  const r = loadObject(openObject(readFileSync(file), file), { kernel: K.localKernel });
  return { r, progs: r.programs.map((p) => ({ name: p.name, section: p.section, fd: p.fd })) };
}

const sh = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: 'utf8' }).stdout.trim();

function perfFds(): number {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === 'anon_inode:[perf_event]';
    } catch {
      return false;
    }
  }).length;
}

function tcCheck(): unknown {
  const { r, progs } = load(tcObj);
  const veth = vethPair();
  try {
    const before = veth.ping(2);
    const s = A.attachAll(K.localKernel, progs, {
      places: new Map([['tc_drop_icmp', `${veth.host}:ingress`]]),
      skip: new Set(progs.map((p) => p.name).filter((n) => n !== 'tc_drop_icmp')),
    });
    const attached = s.attachments.map((a) => ({ program: a.program, target: a.target, mechanism: a.mechanism }));
    const qdisc = sh('tc', ['qdisc', 'show', 'dev', veth.host]);
    const filter = sh('tc', ['filter', 'show', 'dev', veth.host, 'ingress']);
    const during = veth.ping(3);
    const detachErrors = s.detach();
    return {
      before,
      attached,
      qdisc,
      filter,
      progId: r.programs.find((p) => p.name === 'tc_drop_icmp')!.id,
      during,
      detachErrors,
      after: veth.ping(2),
      qdiscAfter: sh('tc', ['qdisc', 'show', 'dev', veth.host]),
      filterAfter: sh('tc', ['filter', 'show', 'dev', veth.host, 'ingress']),
    };
  } finally {
    veth.done();
    r.close();
  }
}

function kprobeCheck(): unknown {
  const { r, progs } = load(tracingObj);
  const counts = r.maps.find((m) => m.name === 'counts')!;
  const prog = (n: string) => r.programs.find((p) => p.name === n)!.fd;
  const count = (slot: number) => {
    const v = K.mapLookupElem(counts.fd, new Uint8Array(new Uint32Array([slot]).buffer), 8)!;
    return Number(Buffer.from(v).readBigUInt64LE(0));
  };
  const trigger = (n: number) => {
    for (let i = 0; i < n; i++) K.progTestRun(prog('trigger'), { data: new Uint8Array(64) });
  };
  const events = () => readFileSync(`${K.tracefsRoot()}/kprobe_events`, 'latin1').trim();
  const want = ['kprobe_run_skb', 'kretprobe_run_skb'];
  const skip = new Set(progs.map((p) => p.name).filter((n) => !want.includes(n)));
  const perfBefore = perfFds();
  try {
    const pmu = K.pmuInfo('kprobe') !== undefined;
    // The product's switch, as a user (or this test) sets it.
    process.env.BPF_LENS_LEGACY_ATTACH = 'kprobe';
    const s = A.attachAll(K.localKernel, progs, { skip });
    delete process.env.BPF_LENS_LEGACY_ATTACH;
    const attached = s.attachments.map((a) => ({ program: a.program, target: a.target, mechanism: a.mechanism }));
    const eventsDuring = events();
    const c0 = [count(2), count(3)];
    trigger(5);
    const c1 = [count(2), count(3)];
    const detachErrors = s.detach();
    const eventsAfter = events();
    trigger(3);
    const c2 = [count(2), count(3)];

    // A fault at each call of the legacy path: nothing may stay behind.
    const faults: { n: number; command?: string; error?: string; events: string; perf: number }[] = [];
    for (let n = 1; n < 40; n++) {
      let command: string | undefined;
      K.setFaultInjector((cmd, i) => (i === n ? ((command = cmd), 'EPERM') : undefined));
      let ok: AttachModule.AttachSession | undefined;
      let error: string | undefined;
      try {
        ok = A.attachAll(K.localKernel, progs, { skip, legacy: new Set(['kprobe']) });
      } catch (e) {
        error = (e as Error).message;
      } finally {
        K.setFaultInjector(undefined);
      }
      if (ok) {
        faults.push({ n, events: events(), perf: perfFds() - perfBefore });
        ok.detach();
        break;
      }
      faults.push({ n, command, error, events: events(), perf: perfFds() - perfBefore });
    }
    return { pmu, attached, eventsDuring, c0, c1, c2, detachErrors, eventsAfter, faults, perfLeft: perfFds() - perfBefore };
  } finally {
    r.close();
  }
}

writeGuestResult(() => ({
  release: os.release(),
  modules: sh('cat', ['/proc/modules'])
    .split('\n')
    .map((l) => l.split(' ')[0]),
  tc: tcCheck(),
  kprobe: kprobeCheck(),
}));
