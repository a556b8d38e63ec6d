// fentry, fexit, kprobe, kretprobe, kprobe.multi, uprobe.multi (on the agent's node) and lsm attached through the agent in Debian's 6.12 under
// qemu (this host's lockdown refuses them), each counter seen moving: attach-guest-checks.ts.
import { test } from 'node:test';
import { attachInGuest } from './attach-guest-checks';

test(
  'Debian 6.12 under qemu, through the agent: fentry/fexit/kprobe/kretprobe/kprobe.multi/lsm attach by SEC(), uprobe.multi, count exactly what the test triggers, detach one by one',
  { timeout: 600_000 },
  (t) => attachInGuest(t, '6.12'),
);
