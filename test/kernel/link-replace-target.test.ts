// `--replace TARGET` resolution on this host: the dispatcher loaded by libbpf (bpftool prog
// load, pinned) is found by pinned path and by id, its kernel-held BTF names the slots each
// firewall's extension programs plug into, and what cannot plug in is refused with reasons.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { openReplaceTarget } from '../../server/src/cli/replace-target';
import { UsageError } from '../../server/src/cli/command';
import { closeFd, isKernelError } from '../../server/src/kernel';
import { LinkError } from '../../server/src/link/errors';
import { openObject } from '../../server/src/object';
import { fixture, run } from '../helpers';
import { bpffsDir } from './kernel-env';

test('the dispatcher by pinned path and by id; slots of both firewalls; bad targets refused', (t) => {
  const { dir, done } = bpffsDir('replace');
  t.after(done);
  const pin = path.join(dir, 'dispatcher');
  run('bpftool', ['prog', 'load', fixture('freplace_dispatcher.o'), pin]);
  const byPath = openReplaceTarget(pin);
  t.after(() => closeFd(byPath.fd));
  assert.equal(byPath.info.name, 'xdp_main');
  const byId = openReplaceTarget(String(byPath.info.id));
  t.after(() => closeFd(byId.fd));
  assert.equal(byId.info.id, byPath.info.id);
  const ext = (n: string) => openObject(new Uint8Array(readFileSync(fixture(n))), n);
  const foo = byPath.btf.find('FUNC', 'foo')!.id;
  const bar = byPath.btf.find('FUNC', 'bar')!.id;
  assert.deepEqual(byPath.slots(ext('freplace_fw_drop.o')), [{ program: 'foo', func: 'foo', btfId: foo }]);
  assert.deepEqual(byId.slots(ext('freplace_fw_tx.o')), [{ program: 'foo', func: 'foo', btfId: foo }, { program: 'bar', func: 'bar', btfId: bar }]);
  assert.throws(() => byPath.slots(ext('freplace_bad.o')), (e: LinkError) => {
    assert.match(e.problems.join('\n'), new RegExp(`baz: xdp_main \\(id ${byPath.info.id}\\) has no function 'baz'`));
    return true;
  });
  assert.throws(() => openReplaceTarget(path.join(dir, 'nothing')), (e: unknown) => isKernelError(e) && e.errnoName === 'ENOENT');
  assert.throws(() => openReplaceTarget(''), UsageError);
});
