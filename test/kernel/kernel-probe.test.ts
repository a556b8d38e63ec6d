// Feature probes on this kernel (6.18): every probe loads something for real. Negative
// controls show the probes can answer "no": the same arg:ctx program without its tag, and a
// BTF kind the kernel has never heard of, are refused.
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { test } from 'node:test';
import { BtfBuilder, writeBtf } from '../../server/src/btf/write';
import {
  FEATURE_PROBES,
  KernelError,
  btfLoad,
  clearProbeCache,
  probeFeature,
  probePrivileges,
  systemInfo,
  versionCode,
} from '../../server/src/kernel';
import { loadArgCtxProbe } from '../../server/src/kernel/probes';
import { type CachedAnswer, probeFileText } from '../../server/src/kernel/probe-cache';
import { CLI, cli } from '../helpers';
import { openFds } from './kernel-env';

test('every probe says yes on this 6.18 kernel (all BTF kinds, global data, native arg:ctx, ...), and closes its FDs', () => {
  clearProbeCache();
  const before = openFds();
  for (const p of FEATURE_PROBES) assert.deepEqual(probeFeature(p.name), { supported: true }, p.name);
  assert.equal(openFds(), before);
  // Cached: the same object comes back.
  assert.equal(probeFeature('btf_enum64'), probeFeature('btf_enum64'));
  assert.throws(() => probeFeature('no_such_probe'), /unknown feature probe/);
});

test('arg:ctx probe: without the DECL_TAG the same program is refused by the verifier', () => {
  loadArgCtxProbe(true);
  // The kernel's words for an untagged `void *` argument of a global subprogram (as 6.1 says for
  // a tagged one: it ignores the tag).
  assert.throws(
    () => loadArgCtxProbe(false, true),
    (e: KernelError) =>
      e instanceof KernelError &&
      e.command === 'BPF_PROG_LOAD' &&
      e.errnoName === 'EINVAL' &&
      /arg#0 reference type\('UNKNOWN ?'\) size cannot be determined/.test(e.log ?? ''),
  );
});

test('a BTF kind from the future is refused (what a BTF kind probe sees on an old kernel)', () => {
  const bytes = Buffer.from(writeBtf(new BtfBuilder().build()));
  // Append one type record of kind 31: grow type_len (header offset 12), move str_off (16).
  const typeLen = bytes.readUInt32LE(12);
  const rec = Buffer.alloc(12);
  rec.writeUInt32LE(31 << 24, 4);
  const types = bytes.subarray(24, 24 + typeLen);
  const strs = bytes.subarray(24 + typeLen);
  const out = Buffer.concat([bytes.subarray(0, 24), types, rec, strs]);
  out.writeUInt32LE(typeLen + 12, 12);
  out.writeUInt32LE(typeLen + 12, 16);
  assert.throws(
    () => btfLoad(out),
    (e: KernelError) => e.errnoName === 'EINVAL' && /kind/i.test(e.log ?? ''),
  );
});

test('privileges and system info', () => {
  const p = probePrivileges();
  assert.equal(p.canLoad, true);
  assert.equal(p.capSysAdmin, process.getuid?.() === 0);
  const s = systemInfo();
  assert.equal(s.release, os.release());
  assert.equal(s.machine, os.machine());
  assert.equal(versionCode('6.18.44-fc-v509'), (6 << 16) | (18 << 8) | 44);
  assert.equal(versionCode('5.4.300'), (5 << 16) | (4 << 8) | 255);
});

test('bpf-lens probe --json and the text form, through the CLI', () => {
  const r = cli(['probe', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.kernel_release, os.release());
  assert.equal(j.arch, os.machine());
  assert.equal(j.privileges.can_load, true);
  assert.deepEqual(
    Object.keys(j.features),
    FEATURE_PROBES.map((p) => p.name),
  );
  for (const [name, f] of Object.entries<{ supported: boolean }>(j.features)) assert.equal(f.supported, true, name);
  const t = cli(['probe']);
  assert.equal(t.code, 0, t.stderr);
  assert.match(t.stdout, new RegExp(`kernel release: ${os.release().replace(/\./g, '\\.')}`));
  assert.match(t.stdout, /^arg_ctx_tag\s+yes\s/m);
  assert.equal(cli(['probe', '--bogus']).code, 2);
});

test('probe answers are kept for the boot: the next process reads them, only from a file that checks out', (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bpf-lens-probes-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const probe = (env: Record<string, string> = {}) => {
    const r = spawnSync(process.execPath, [CLI, 'probe', '--json'], {
      encoding: 'utf8',
      env: { ...process.env, XDG_CACHE_HOME: dir, ...env },
    });
    assert.equal(r.status, 0, r.stderr);
    return (JSON.parse(r.stdout) as { features: Record<string, { supported: boolean }> }).features;
  };
  const file = path.join(dir, 'bpf-lens', `probes-${process.geteuid!()}.json`);
  assert.equal(probe().btf_enum64.supported, true);
  const saved = JSON.parse(readFileSync(file, 'latin1')) as { key: string; answers: Record<string, CachedAnswer> };
  assert.deepEqual(Object.keys(saved.answers).sort(), FEATURE_PROBES.map((p) => p.name).sort());
  // a file for this boot and these credentials that says no (as a 6.1 kernel would): believed
  const forged = new Map(Object.entries(saved.answers)).set('btf_enum64', { supported: false, errno: 'EINVAL' });
  writeFileSync(file, probeFileText(saved.key, forged));
  assert.equal(probe().btf_enum64.supported, false);
  assert.equal(probe({ BPF_LENS_NO_PROBE_CACHE: '1' }).btf_enum64.supported, true, 'turned off: probed');
  // the same answer without its checksum: probed again, and the file made good
  writeFileSync(file, readFileSync(file, 'latin1').replace(/"sum":"[0-9a-f]/, '"sum":"g'));
  assert.equal(probe().btf_enum64.supported, true);
  assert.equal(probe().btf_enum64.supported, true);
  assert.deepEqual(JSON.parse(readFileSync(file, 'latin1')), saved);
  // another boot's file: not believed either
  writeFileSync(file, probeFileText(saved.key.replace(/ [0-9a-f-]{36} /, ' 00000000-0000-0000-0000-000000000000 '), forged));
  assert.equal(probe().btf_enum64.supported, true);
});
