// freplace end to end. This host's kernel refuses trampoline programs (EXT included), so
// Debian's 6.1 boots under qemu (TCG) with the host's root over 9p and runs
// freplace-guest.ts there: two XDP dispatchers with __weak __noinline slots, two firewall
// objects whose functions share names (foo, xdp_main) plug into them, and PROG_TEST_RUN shows
// each dispatcher's verdict change as each extension attaches and detaches. On the host, the
// refusal must be reported as such.
import assert from 'node:assert/strict';
import { readdirSync } from 'fs';
import { test } from 'node:test';
import * as path from 'path';
import { BPF_LINK_TYPE, closeFd, objGet, progTestRun } from '../../server/src/kernel';
import { cli, fixture } from '../helpers';
import { runHostRootGuest } from '../qemu-host-root';
import { bpffsDir } from './kernel-env';

const XDP_ABORTED = 0;
const XDP_DROP = 1;
const XDP_PASS = 2;
const XDP_TX = 3;

test('Debian 6.1 under qemu: two firewalls plug into two dispatchers (kernel layer, then bpf-lens load --replace); verdicts follow each attach and detach', (t) => {
  const command = [
    process.execPath,
    path.join(__dirname, 'freplace-guest.js'),
    fixture('freplace_dispatcher.o'),
    fixture('freplace_fw_drop.o'),
    fixture('freplace_fw_tx.o'),
  ].join(' ');
  const g = runHostRootGuest({ version: '6.1', command }).result;
  assert.deepEqual(g.timeline, [
    { step: 'dispatchers loaded', fw1: XDP_PASS, fw2: XDP_PASS },
    { step: 'fw_drop foo → firewall 1', fw1: XDP_DROP, fw2: XDP_PASS },
    { step: 'fw_tx foo → firewall 2', fw1: XDP_DROP, fw2: XDP_TX },
    { step: 'fw_tx bar → firewall 2', fw1: XDP_DROP, fw2: XDP_TX },
    { step: 'fw_drop foo detached', fw1: XDP_PASS, fw2: XDP_TX },
    { step: 'fw_tx foo detached', fw1: XDP_PASS, fw2: XDP_ABORTED },
    { step: 'fw_tx bar detached', fw1: XDP_PASS, fw2: XDP_PASS },
  ]);
  assert.equal(g.linkType, BPF_LINK_TYPE.BPF_LINK_TYPE_TRACING);
  assert.deepEqual(g.own, [XDP_DROP, XDP_TX]);
  assert.deepEqual(g.names, ['xdp_main', 'xdp_main', 'foo', 'foo']);
  // the same through the CLI: bpf-lens load EXT.o --replace TARGET (pinned path, then id); unpinning the link detaches
  assert.deepEqual(g.cli.timeline, [
    { step: 'dispatchers loaded', fw1: XDP_PASS, fw2: XDP_PASS },
    { step: 'load fw_drop --replace fw1', fw1: XDP_DROP, fw2: XDP_PASS },
    { step: 'load fw_tx --replace <fw2 id>', fw1: XDP_DROP, fw2: XDP_TX },
    { step: 'unpin drop/foo_link', fw1: XDP_PASS, fw2: XDP_TX },
    { step: 'unpin tx/foo_link', fw1: XDP_PASS, fw2: XDP_ABORTED },
    { step: 'unpin tx/bar_link', fw1: XDP_PASS, fw2: XDP_PASS },
  ]);
  assert.deepEqual(g.cli.pins, ['foo', 'xdp_main']);
  t.diagnostic(`bpf-lens load freplace_fw_drop.o --replace ...: ${g.cli.out1.trim().replace(/\n\s*/g, ' | ')}`);
});

test('this host (lockdown): bpf-lens load pins the dispatcher; --replace is refused with EPERM and a hint that names freplace', (t) => {
  const { dir, done } = bpffsDir('freplace');
  t.after(done);
  const d = cli(['load', fixture('freplace_dispatcher.o'), '--pin', path.join(dir, 'd')]);
  assert.equal(d.code, 0, d.stderr);
  const fd = objGet(path.join(dir, 'd', 'xdp_main'));
  try {
    assert.equal(progTestRun(fd, { data: new Uint8Array(64) }).retval, XDP_PASS);
  } finally {
    closeFd(fd);
  }
  const r = cli(['load', fixture('freplace_fw_drop.o'), '--replace', path.join(dir, 'd', 'xdp_main'), '--pin', path.join(dir, 'e')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /program 'foo'.*EPERM.*freplace/);
  // nothing of the failed load is left pinned
  assert.deepEqual(readdirSync(dir).sort(), ['d']);
});
