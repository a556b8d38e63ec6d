// The SEC() table against the installed libbpf itself: a small C program calls
// libbpf_prog_type_by_name() for section names made from every table entry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { SEC_DEFS, secDefFor } from '../../server/src/object/section-defs';
import { attachTypeName } from '../../server/src/object/uapi-names';
import { run } from '../helpers';

const PROBE_C = `#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>
static int quiet(enum libbpf_print_level l, const char *f, va_list a) { return 0; }
int main(void) {
	char line[512];
	libbpf_set_print(quiet);
	while (fgets(line, sizeof line, stdin)) {
		enum bpf_prog_type pt; enum bpf_attach_type at;
		line[strcspn(line, "\\n")] = 0;
		if (libbpf_prog_type_by_name(line, &pt, &at)) { printf("%s\\t-\\n", line); continue; }
		printf("%s\\t%s\\t%d\\n", line, libbpf_bpf_prog_type_str(pt), (int)at);
	}
	return 0;
}
`;

/** Entries of the current table that libbpf 1.1 (Debian 12) does not have yet. */
const NEWER_THAN_1_1 = new Set([
  'kprobe.session+',
  'uprobe.multi+',
  'uretprobe.multi+',
  'uprobe.multi.s+',
  'uretprobe.multi.s+',
  'uprobe.session+',
  'uprobe.session.s+',
  'usdt.s+',
  'tc/ingress',
  'tc/egress',
  'tcx/ingress',
  'tcx/egress',
  'netkit/primary',
  'netkit/peer',
  'sk_skb/verdict',
  'cgroup/connect_unix',
  'cgroup/sendmsg_unix',
  'cgroup/recvmsg_unix',
  'cgroup/getpeername_unix',
  'cgroup/getsockname_unix',
  'struct_ops.s+',
  'netfilter',
]);

test('SEC() table: every entry resolves as the installed libbpf resolves it (entries newer than it listed)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bpflens-secdef-'));
  try {
    writeFileSync(path.join(dir, 'probe.c'), PROBE_C);
    run('gcc', [path.join(dir, 'probe.c'), '-o', path.join(dir, 'probe'), '-lbpf']);
    const version = /libbpf v(\d+\.\d+)/.exec(run('bpftool', ['version']))?.[1];
    const names: string[] = [];
    for (const d of SEC_DEFS) {
      const base = d.sec.replace(/\+$/, '');
      names.push(base);
      if (d.sec.endsWith('+')) names.push(`${base}/some_target`);
    }
    // near misses that must not match
    names.push('socket/1', 'xdpfoo', 'kprobex/y', 'cgroup/unknown', 'tp_btf_x', 'sk_skb/other');
    const r = spawnSync(path.join(dir, 'probe'), { input: names.join('\n') + '\n', encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const libbpf = new Map(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => {
          const [n, type, at] = l.split('\t');
          return [n, type === '-' ? undefined : { type, at: Number(at) }] as const;
        }),
    );
    assert.equal(libbpf.size, new Set(names).size);
    const unknownToLibbpf = new Set<string>();
    let compared = 0;
    for (const n of names) {
      const ours = secDefFor(n);
      const theirs = libbpf.get(n);
      if (!theirs) {
        if (ours) unknownToLibbpf.add(ours.def.sec);
        continue;
      }
      assert.ok(ours, `${n}: libbpf knows it as ${theirs.type}`);
      assert.equal(ours.def.progType, theirs.type, n);
      assert.equal(
        ours.attachTypeId,
        theirs.at,
        `${n}: attach ${attachTypeName(ours.attachTypeId)} vs libbpf ${attachTypeName(theirs.at)}`,
      );
      compared++;
    }
    assert.ok(compared > 100, `${compared} names compared`);
    if (version === '1.1') assert.deepEqual([...unknownToLibbpf].sort(), [...NEWER_THAN_1_1].sort());
    else for (const s of unknownToLibbpf) assert.ok(NEWER_THAN_1_1.has(s), `${s} is unknown to libbpf ${version}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
