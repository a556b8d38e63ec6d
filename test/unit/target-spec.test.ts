// SSH target strings: one parser for the editor's "Add SSH Target…", bpfLens.targets and
// --target; hostile hosts, users and ports are refused as bad-target before ssh ever runs
// (an `ssh` on PATH that leaves a file behind proves nothing was started).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { parseSshSpec as fromLspProtocol } from '../../protocol/lsp';
import { parseSshSpec } from '../../protocol/target-spec';
import { parseTargetSettings } from '../../server/src/lsp/targets';
import { connectTarget, parseSshTarget, sshArgv, TargetError } from '../../server/src/remote';
import { CLI, ROOT } from '../helpers';

test('target strings: the forms users write parse to host, user and port', () => {
  const ok = (s: string) => {
    const r = parseSshSpec(s);
    assert.ok(r.ok, `${s}: ${!r.ok && r.reason}`);
    return r.spec;
  };
  assert.deepEqual(ok('ssh://root@10.0.0.7:2222'), { host: '10.0.0.7', user: 'root', port: 2222 });
  assert.deepEqual(ok('ssh://root@10.0.0.7:2222/'), { host: '10.0.0.7', user: 'root', port: 2222 });
  assert.deepEqual(ok('user@host:22'), { host: 'host', user: 'user', port: 22 });
  assert.deepEqual(ok('host:2222'), { host: 'host', port: 2222 });
  assert.deepEqual(ok('bpflens-test'), { host: 'bpflens-test' });
  assert.deepEqual(ok('ssh://ci.bot@[fe80::1%eth0]:22'), { host: 'fe80::1%eth0', user: 'ci.bot', port: 22 });
  // the client imports it through the LSP wire protocol: the same function, not a copy
  assert.equal(fromLspProtocol, parseSshSpec);
  assert.deepEqual(parseSshTarget('user@host:22'), { host: 'host', user: 'user', port: 22 });
});

const HOSTILE = [
  'h/',
  '',
  '-oProxyCommand=touch x',
  'ssh://-oProxyCommand=x',
  'ssh://-lroot@h',
  'a b',
  'h;id',
  'h`id`',
  'h$(id)',
  "h'",
  'h"',
  'h\nid',
  'ssh://us er@h',
  'ssh://$(id)@h',
  'ssh://`id`@h',
  'ssh://u;id@h',
  'ssh://[;touch x]',
  'ssh://[a b]:22',
  'h:0',
  'h:65536',
  'h:22;id',
  'h:+22',
  'h:0x16',
  'h: 22',
  'ssh://u@h:22:33',
  'u@@h',
  'h\0',
];

test('target strings: hosts and users that ssh could read as options or a shell could run, and bad ports, are refused with a reason', () => {
  for (const s of HOSTILE) {
    const r = parseSshSpec(s);
    assert.equal(r.ok, false, JSON.stringify(s));
    assert.ok(!r.ok && /^not an SSH target: /.test(r.reason), JSON.stringify(s));
    assert.throws(
      () => parseSshTarget(s),
      (e: unknown) => e instanceof TargetError && e.code === 'bad-target',
      JSON.stringify(s),
    );
  }
  const set = parseTargetSettings([
    { name: 'a', host: 'ssh://$(id)@h' },
    { name: 'b', host: 'h', user: '-oProxyCommand=x' },
    { name: 'c', host: 'h/' },
    { name: 'd', host: 'fine', user: 'ci' },
  ]);
  assert.deepEqual(
    set.targets.map((t) => t.name),
    ['d'],
  );
  assert.equal(set.problems.length, 3);
});

test('bad-target before ssh runs: an `ssh` on PATH that would leave a file is never started (CLI and settings)', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bpf-lens-fake-ssh-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ran = path.join(dir, 'ssh-ran');
  writeFileSync(path.join(dir, 'ssh'), `#!/bin/sh\ntouch '${ran}'\nexit 255\n`);
  chmodSync(path.join(dir, 'ssh'), 0o755);
  const env = { ...process.env, PATH: `${dir}:${process.env.PATH}` };
  for (const spec of ['-oProxyCommand=touch x', 'ssh://$(touch x)@h', 'ssh://u;touch x@h', 'ssh://[;touch x]', 'ssh://a b@h', 'h:22;x']) {
    const r = spawnSync(process.execPath, [CLI, 'probe', `--target=${spec}`], { env, encoding: 'utf8' });
    assert.equal(r.status, 2, `${spec}: ${r.stderr}`);
    assert.match(r.stderr, /^error \(bad-target\): not an SSH target: /, spec);
    assert.equal(existsSync(ran), false, `ssh ran for ${JSON.stringify(spec)}`);
  }
  // options from bpfLens.targets reach connectTarget beside the host: checked the same way
  const saved = process.env.PATH;
  process.env.PATH = env.PATH;
  try {
    for (const o of [
      { user: '-oProxyCommand=touch x' },
      { user: 'a b' },
      { port: 0 },
      { port: 22.5 },
      { identityFile: 'k\n-oProxyCommand=x' },
      { nodePath: 'node\nid' },
    ]) {
      await assert.rejects(
        connectTarget('h', { ...o, root: ROOT }),
        (e: unknown) => e instanceof TargetError && e.code === 'bad-target',
        JSON.stringify(o),
      );
      assert.equal(existsSync(ran), false, `ssh ran for ${JSON.stringify(o)}`);
    }
  } finally {
    process.env.PATH = saved;
  }
});

test('the remote command line is quoted pieces only: a POSIX shell gets back each word as given and runs none of it', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bpf-lens-quote-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ran = path.join(dir, 'ran');
  const words = [
    'printf',
    '%s\\n',
    `$(touch ${ran})`,
    `\`touch ${ran}\``,
    `'; touch ${ran}; '`,
    `a\nb`,
    '"$HOME"',
    '*',
    '-oProxyCommand=x',
    '',
    `${ran}'\\''x`,
  ];
  const argv = sshArgv({ host: 'h', user: 'u', port: 22 }, words);
  assert.deepEqual(argv.slice(-3, -1), ['--', 'h'], 'the host comes after --');
  const remote = argv[argv.length - 1];
  const r = spawnSync('sh', ['-c', remote], { cwd: dir, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(
    r.stdout,
    words
      .slice(2)
      .map((w) => `${w}\n`)
      .join(''),
  );
  assert.equal(existsSync(ran), false);
});
