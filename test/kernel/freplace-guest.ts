// Runs inside a qemu guest (see freplace-qemu.test.ts; this host's kernel refuses trampoline
// programs): two instances of an XDP dispatcher ("firewall 1" and "firewall 2", both with
// xdp_main and foo/bar slots), then two extension objects whose functions share those names
// plug into them with BPF_PROG_TYPE_EXT + LINK_CREATE, the target found as `bpf-lens load
// --replace` finds it: the target program's BTF (by its info's btf_id) names the slot's FUNC
// (link/freplace.ts freplaceSlots).
// PROG_TEST_RUN on each dispatcher after every step; prints the timeline as one JSON line.
import { spawnSync } from 'child_process';
import { readFileSync, readdirSync, rmSync } from 'fs';
import { parseBtf } from '../../server/src/btf/btf';
import { writeBtf } from '../../server/src/btf/write';
import {
  type Fd,
  btfInfo,
  btfLoad,
  closeFd,
  getFdById,
  linkCreate,
  linkInfo,
  objGet,
  progInfo,
  progLoad,
  progTestRun,
} from '../../server/src/kernel';
import { freplaceSlots } from '../../server/src/link/freplace';
import { type BpfObject, openObject } from '../../server/src/object';
import { CLI } from '../helpers';
import { fixDatasecs, linkProgram } from './arg-ctx-load';
import { writeGuestResult } from './guest-result';

const opened: Fd[] = [];
const keep = (fd: Fd) => (opened.push(fd), fd);

function funcInfoBytes(recs: readonly { insnOff: number; typeId: number }[]) {
  const b = Buffer.alloc(8 * recs.length);
  recs.forEach((r, i) => {
    b.writeUInt32LE(r.insnOff, 8 * i);
    b.writeUInt32LE(r.typeId, 8 * i + 4);
  });
  return { recSize: 8, count: recs.length, bytes: b };
}

/** Loads program `name` of `obj`; for extensions, against `target` (program fd) at its FUNC `slot`. */
function load(obj: BpfObject, name: string, target?: { fd: Fd; btfId: number }): Fd {
  const prog = obj.programs.find((p) => p.name === name)!;
  const l = linkProgram(obj, prog);
  const btf = keep(btfLoad(writeBtf(fixDatasecs(obj, obj.btf!))).fd);
  return keep(
    progLoad({
      progType: prog.progTypeId,
      expectedAttachType: prog.expectedAttachTypeId,
      insns: l.insns,
      license: obj.license,
      name,
      progBtfFd: btf,
      funcInfo: funcInfoBytes(l.funcInfo),
      log: { level: 0 },
      context: `program "${name}"`,
      ...(target ? { attachProgFd: target.fd, attachBtfId: target.btfId } : {}),
    }).fd,
  );
}

/** Where extension program `name` of `ext` plugs into program `fd`: from the BTF the kernel holds for it (what --replace TARGET resolves). */
function slotOf(fd: Fd, ext: BpfObject, name: string): { fd: Fd; btfId: number } {
  const info = progInfo(fd);
  const btfFd = getFdById('btf', info.btfId);
  try {
    const btf = parseBtf(btfInfo(btfFd, true).data!, { file: `prog ${info.id} BTF` });
    const slot = freplaceSlots(ext, btf, `${info.name} (id ${info.id})`).find((s) => s.program === name)!;
    return { fd, btfId: slot.btfId };
  } finally {
    closeFd(btfFd);
  }
}

function main(): unknown {
  const [dispatcherFile, dropFile, txFile] = process.argv.slice(2);
  const dispatcher = openObject(readFileSync(dispatcherFile), dispatcherFile);
  const fwDrop = openObject(readFileSync(dropFile), dropFile);
  const fwTx = openObject(readFileSync(txFile), txFile);
  const pkt = new Uint8Array(64);
  const d1 = load(dispatcher, 'xdp_main');
  const d2 = load(dispatcher, 'xdp_main');
  const timeline: { step: string; fw1: number; fw2: number }[] = [];
  const step = (s: string) =>
    timeline.push({ step: s, fw1: progTestRun(d1, { data: pkt }).retval, fw2: progTestRun(d2, { data: pkt }).retval });
  step('dispatchers loaded');
  const dropFoo = load(fwDrop, 'foo', slotOf(d1, fwDrop, 'foo'));
  const l1 = linkCreate({ prog_fd: dropFoo, target_fd: d1, attach_type: 0, target_btf_id: slotOf(d1, fwDrop, 'foo').btfId });
  step('fw_drop foo → firewall 1');
  const txFoo = load(fwTx, 'foo', slotOf(d2, fwTx, 'foo'));
  const l2 = linkCreate({ prog_fd: txFoo, target_fd: d2, attach_type: 0, target_btf_id: slotOf(d2, fwTx, 'foo').btfId });
  step('fw_tx foo → firewall 2');
  const txBar = load(fwTx, 'bar', slotOf(d2, fwTx, 'bar'));
  const l3 = linkCreate({ prog_fd: txBar, target_fd: d2, attach_type: 0, target_btf_id: slotOf(d2, fwTx, 'bar').btfId });
  step('fw_tx bar → firewall 2');
  const linkType = linkInfo(l1).type;
  closeFd(l1);
  step('fw_drop foo detached');
  closeFd(l2);
  step('fw_tx foo detached');
  closeFd(l3);
  step('fw_tx bar detached');
  // the firewalls' own xdp_main programs load beside the dispatchers of the same name
  const own = [fwDrop, fwTx].map((o) => progTestRun(load(o, 'xdp_main'), { data: pkt }).retval);
  const names = [d1, d2, dropFoo, txFoo].map((fd) => progInfo(fd).name);
  return { timeline, linkType, own, names, cli: cliFlow(dispatcherFile, dropFile, txFile, pkt) };
}

/**
 * The same as a user does it: `bpf-lens load` pins the dispatchers; `bpf-lens load EXT.o
 * --replace TARGET --pin DIR` attaches (the link stays pinned as DIR/<prog>_link); removing
 * that pin detaches. TARGET by pinned path for firewall 1, by program id for firewall 2.
 */
function cliFlow(dispatcherFile: string, dropFile: string, txFile: string, pkt: Uint8Array) {
  const root = `/sys/fs/bpf/bpflens_freplace_${process.pid}`;
  const bpfLens = (...args: string[]) => {
    const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`bpf-lens ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  try {
    bpfLens('load', dispatcherFile, '--pin', `${root}/fw1`);
    bpfLens('load', dispatcherFile, '--pin', `${root}/fw2`);
    const run = (dir: string) => {
      const fd = objGet(`${root}/${dir}/xdp_main`);
      try {
        return progTestRun(fd, { data: pkt }).retval;
      } finally {
        closeFd(fd);
      }
    };
    const fw2Id = (() => {
      const fd = objGet(`${root}/fw2/xdp_main`);
      try {
        return progInfo(fd).id;
      } finally {
        closeFd(fd);
      }
    })();
    const timeline: { step: string; fw1: number; fw2: number }[] = [];
    const step = (s: string) => timeline.push({ step: s, fw1: run('fw1'), fw2: run('fw2') });
    step('dispatchers loaded');
    const out1 = bpfLens('load', dropFile, '--replace', `${root}/fw1/xdp_main`, '--pin', `${root}/drop`);
    step('load fw_drop --replace fw1');
    bpfLens('load', txFile, '--replace', String(fw2Id), '--pin', `${root}/tx`);
    step('load fw_tx --replace <fw2 id>');
    rmSync(`${root}/drop/foo_link`);
    step('unpin drop/foo_link');
    rmSync(`${root}/tx/foo_link`);
    step('unpin tx/foo_link');
    rmSync(`${root}/tx/bar_link`);
    step('unpin tx/bar_link');
    return { timeline, pins: readdirSync(`${root}/drop`).sort(), out1 };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

writeGuestResult(main, {
  finally: () => {
    for (const fd of opened) closeFd(fd);
  },
});
