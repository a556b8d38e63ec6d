// freplace targets: each SEC("freplace/<func>") program of the firewall fixtures finds its
// slot in the dispatcher's BTF (as the kernel will hold it); what cannot work is refused
// with the program, the function and the reason.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { type LinkError } from '../../server/src/link/errors';
import { freplaceSlots } from '../../server/src/link/freplace';
import { openObject } from '../../server/src/object';
import { fixture } from '../helpers';

const open = (n: string) => openObject(new Uint8Array(readFileSync(fixture(n))), n);

test('firewall extensions find their slots in the dispatcher; programs of the same name need no renaming', () => {
  const d = open('freplace_dispatcher.o');
  const foo = d.btf!.find('FUNC', 'foo')!.id;
  const bar = d.btf!.find('FUNC', 'bar')!.id;
  assert.deepEqual(freplaceSlots(open('freplace_fw_drop.o'), d.btf!), [{ program: 'foo', func: 'foo', btfId: foo }]);
  assert.deepEqual(freplaceSlots(open('freplace_fw_tx.o'), d.btf!), [
    { program: 'foo', func: 'foo', btfId: foo },
    { program: 'bar', func: 'bar', btfId: bar },
  ]);
  const ext = open('freplace_fw_tx.o').programs.filter((p) => p.progType === 'ext');
  assert.deepEqual(
    ext.map((p) => [p.name, p.progTypeId, p.attachTo]),
    [
      ['foo', 28, 'foo'],
      ['bar', 28, 'bar'],
    ],
  );
});

test('refused before loading: different prototype, missing function, static function, no extension programs', () => {
  const d = open('freplace_dispatcher.o');
  assert.throws(
    () => freplaceSlots(open('freplace_bad.o'), d.btf!, 'xdp_main (id 7)'),
    (e: LinkError) => {
      assert.equal(e.problems.length, 2);
      assert.match(e.problems[0], /^foo: its prototype does not match 'foo' in xdp_main \(id 7\): parameter #1: .*'__sk_buff'.*'xdp_md'/);
      assert.match(e.problems[1], /^baz: xdp_main \(id 7\) has no function 'baz' \(its global functions: .*foo.*bar/);
      return true;
    },
  );
  // link_a's helper is static: not replaceable
  const a = open('link_a.o');
  const fake = { ...open('freplace_fw_drop.o') };
  const prog = { ...fake.programs.find((p) => p.name === 'foo')!, attachTo: 'helper' };
  assert.throws(() => freplaceSlots({ ...fake, programs: [prog] }, a.btf!), /'helper' is static/);
  assert.throws(() => freplaceSlots(open('link_a.o'), d.btf!), /has no SEC\("freplace\/<function>"\) program/);
});
