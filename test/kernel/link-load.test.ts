// Linked objects in the real kernel: BPF Lens's output and libbpf's (bpftool gen object) both
// load with libbpf (bpftool prog loadall) into programs with the same tags (the same
// relocated instructions), and running xdp_a shows that B's strong `policy` replaced A's
// __weak one.
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { closeFd, objGet, progInfo, progTestRun } from '../../server/src/kernel';
import { cli, run } from '../helpers';
import { LINK_INPUTS, libbpfLink, linkFixtures, linkTmp } from '../link-helpers';
import { bpffsDir } from './kernel-env';

const XDP_PASS = 2;
const XDP_TX = 3;

test("both linkers' outputs load with libbpf; same program tags; the strong policy runs", (t) => {
  const { dir, done } = bpffsDir('link');
  t.after(done);
  const ours = path.join(linkTmp(), 'k-ours.o');
  writeFileSync(ours, linkFixtures(LINK_INPUTS).bytes);
  const theirs = libbpfLink(LINK_INPUTS, path.join(linkTmp(), 'k-libbpf.o'));
  const tags = new Map<string, Map<string, string>>();
  for (const [label, file] of [
    ['ours', ours],
    ['libbpf', theirs],
  ]) {
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

test("__weak variable and map overridden by a later object: our output loads and runs with the strong ones; libbpf 1.1's own output does not load", (t) => {
  const { dir, done } = bpffsDir('linkweak');
  t.after(done);
  const inputs = ['link_weak1.o', 'link_weak2.o'];
  const ours = path.join(linkTmp(), 'k-weak-ours.o');
  writeFileSync(ours, linkFixtures(inputs).bytes);
  const theirs = libbpfLink(inputs, path.join(linkTmp(), 'k-weak-libbpf.o'));
  const verdicts = (file: string, pins: string) => {
    run('bpftool', ['prog', 'loadall', file, pins]);
    const out: Record<string, number> = {};
    for (const name of readdirSync(pins).sort()) {
      const fd = objGet(path.join(pins, name));
      try {
        out[name] = progTestRun(fd, { data: new Uint8Array(64) }).retval;
      } finally {
        closeFd(fd);
      }
    }
    return out;
  };
  // xdp_w1: util(cfg) == 8 only with link_weak2's cfg = 7; xdp_w2 reads pad_before_cfg[1]
  assert.deepEqual(verdicts(ours, path.join(dir, 'ours')), { xdp_w1: XDP_TX, xdp_w2: XDP_PASS });
  // libbpf 1.1 keeps the __weak copies' DATASEC offsets: its .maps says wmap is at 0, the symbol says 32
  let theirsLoaded: Record<string, number> | undefined;
  try {
    theirsLoaded = verdicts(theirs, path.join(dir, 'libbpf'));
  } catch (e) {
    assert.match(String(e), /failed to find map for section '\.maps', off 32/);
  }
  if (theirsLoaded) assert.deepEqual(theirsLoaded, { xdp_w1: XDP_TX, xdp_w2: XDP_PASS });
});

test("BPF Lens's own loader (bpf-lens load) takes the linked object: the same programs verify and the strong policy runs", (t) => {
  const { dir, done } = bpffsDir('linkload');
  t.after(done);
  const ours = path.join(linkTmp(), 'k-own-loader.o');
  writeFileSync(ours, linkFixtures(LINK_INPUTS).bytes);
  const r = cli(['load', ours, '--pin', dir]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readdirSync(dir).sort(), ['tc_c', 'xdp_a', 'xdp_b']);
  const run1 = (name: string) => {
    const fd = objGet(path.join(dir, name));
    try {
      return progTestRun(fd, { data: new Uint8Array(64) }).retval;
    } finally {
      closeFd(fd);
    }
  };
  assert.equal(run1('xdp_a'), XDP_TX);
  assert.equal(run1('xdp_b'), XDP_TX);
});
