// Linked objects in the real kernel: BPF Lens's output and libbpf's (bpftool gen object) both
// load with libbpf (bpftool prog loadall) into programs with the same tags (the same
// relocated instructions), and running xdp_a shows that B's strong `policy` replaced A's
// __weak one.
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { closeFd, objGet, progInfo, progTestRun } from '../../server/src/kernel';
import { run } from '../helpers';
import { LINK_INPUTS, libbpfLink, linkFixtures, linkTmp } from '../link-helpers';
import { bpffsDir } from './kernel-env';

const XDP_PASS = 2;
const XDP_TX = 3;

test('both linkers\' outputs load with libbpf; same program tags; the strong policy runs', (t) => {
  const { dir, done } = bpffsDir('link');
  t.after(done);
  const ours = path.join(linkTmp(), 'k-ours.o');
  writeFileSync(ours, linkFixtures(LINK_INPUTS).bytes);
  const theirs = libbpfLink(LINK_INPUTS, path.join(linkTmp(), 'k-libbpf.o'));
  const tags = new Map<string, Map<string, string>>();
  for (const [label, file] of [['ours', ours], ['libbpf', theirs]]) {
    const pins = path.join(dir, label);
    run('bpftool', ['prog', 'loadall', file, pins]);
    const m = new Map<string, string>();
    for (const name of readdirSync(pins).sort()) {
      const fd = objGet(path.join(pins, name));
      try {
        m.set(name, progInfo(fd).tag);
        if (name === 'xdp_a') {
          const verdict = progTestRun(fd, { data: new Uint8Array(64) }).retval;
          assert.equal(verdict, XDP_TX, `${label}: xdp_a returned ${verdict}; A's weak policy would give ${XDP_PASS}`);
        }
      } finally {
        closeFd(fd);
      }
    }
    tags.set(label, m);
  }
  assert.deepEqual([...tags.get('ours')!.keys()], ['tc_c', 'xdp_a', 'xdp_b']);
  assert.deepEqual(tags.get('ours'), tags.get('libbpf'));
});
