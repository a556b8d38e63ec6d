/**
 * SSH targets for real: sshd in its own network namespace (test/ssh-host.ts); `bpf-lens probe`
 * and `bpf-lens load` through it (first deploy, then re-use), and each connection failure gives
 * its own error: wrong key, changed or unknown host key, nothing listening, no node, agent killed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync, readFileSync } from 'fs';
import { join } from 'path';
import { CLI, ROOT } from '../helpers';
import { cliOn, startSshHost } from '../ssh-host';
import { connectTarget, TargetError } from '../../server/src/remote';

const host = startSshHost();
test.after(() => host.stop());
const { run: bpfLens, fails } = cliOn(host);
const OBJ = join(ROOT, 'examples', 'build', 'xdp_counter.bpf.o');

test('probe --target deploys the agent once, then re-uses it; hello reports the target kernel', () => {
  const t0 = performance.now();
  const first = bpfLens(['probe', '--json', '--target', 'bpflens-test']);
  const firstMs = performance.now() - t0;
  assert.equal(first.status, 0, first.stderr);
  const h = JSON.parse(first.stdout);
  assert.equal(h.release, spawnSync('uname', ['-r']).stdout.toString().trim());
  assert.equal(h.uid, 0);
  assert.equal(h.privileges.canLoad, true);
  assert.equal(typeof h.features.arg_ctx_tag, 'boolean');
  const deployed = readdirSync(join(host.home, '.cache', 'bpf-lens')).filter((d) => d.startsWith('agent-'));
  assert.equal(deployed.length, 1);
  assert.ok(existsSync(join(host.home, '.cache', 'bpf-lens', deployed[0], 'node_modules', 'koffi', 'package.json')));
  const t1 = performance.now();
  const again = bpfLens(['probe', '--json', '--target', `ssh://root@${host.addr}:22`]);
  const againMs = performance.now() - t1;
  assert.equal(again.status, 0, again.stderr);
  assert.deepEqual(
    readdirSync(join(host.home, '.cache', 'bpf-lens')).filter((d) => d.startsWith('agent-')),
    deployed,
  );
  console.log(
    `probe over ssh: first (deploy) ${firstMs.toFixed(0)} ms, re-use ${againMs.toFixed(0)} ms, hello round trip ${JSON.parse(again.stdout).hello_ms} ms`,
  );
});

test('a deployed agent changed on the target is never run: the deployment is checked file by file at each start and replaced', () => {
  const dir = join(
    host.home,
    '.cache',
    'bpf-lens',
    readdirSync(join(host.home, '.cache', 'bpf-lens')).find((d) => d.startsWith('agent-'))!,
  );
  const marker = join(host.dir, 'tampered-agent-ran');
  const agentJs = join(dir, 'agent.js');
  const original = readFileSync(agentJs);
  // what someone else with that user's access might leave there, in the agent and in koffi
  writeFileSync(agentJs, `require('fs').writeFileSync(${JSON.stringify(marker)}, 'ran');\n${original.toString()}`);
  const koffiJs = join(dir, 'node_modules', 'koffi', 'index.js');
  const koffiOriginal = existsSync(koffiJs) ? readFileSync(koffiJs) : undefined;
  if (koffiOriginal) writeFileSync(koffiJs, `require('fs').writeFileSync(${JSON.stringify(marker)}, 'ran');\n${koffiOriginal.toString()}`);
  const r = bpfLens(['probe', '--json', '--target', 'bpflens-test']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(existsSync(marker), false, 'the changed deployment ran');
  assert.deepEqual(readFileSync(agentJs), original, 'deployed again');
  if (koffiOriginal) assert.deepEqual(readFileSync(koffiJs), koffiOriginal);
});

test('load --target ssh:// loads the object on the target and reports kernel ids', () => {
  const r = bpfLens(['load', OBJ, '--json', '--target', `ssh://root@${host.addr}`]);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.ok, true);
  assert.deepEqual(
    j.progs.map((p: { name: string }) => p.name),
    ['xdp_count'],
  );
  assert.ok(j.progs[0].id > 0 && j.progs[0].verified_insns > 0);
  assert.equal(j.timing.deployed_now, false);
  // Released when the command ended: the kernel no longer has the program.
  const show = spawnSync('bpftool', ['prog', 'show', 'id', String(j.progs[0].id)]);
  assert.notEqual(show.status, 0);
  console.log(`load over ssh: connect ${j.timing.connect_ms} ms, load ${j.timing.load_ms} ms (agent ${j.timing.agent_load_ms} ms)`);
});

test('load --json of a corrupt object prints JSON on a target as here: ok false, stage open, the file and offset', () => {
  const bad = join(host.dir, 'corrupt.o');
  writeFileSync(bad, readFileSync(OBJ).subarray(0, 300));
  for (const where of [[], ['--target', `ssh://root@${host.addr}`]]) {
    const r = bpfLens(['load', bad, '--json', ...where]);
    assert.equal(r.status, 1, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.deepEqual([j.ok, j.error.stage], [false, 'open'], r.stdout);
    assert.match(j.error.message, /corrupt\.o: section headers: offset \d+: .* runs past the end \(300 bytes\)/);
  }
  // a target that cannot be used: JSON too (and the error text, exit 2)
  const down = bpfLens(['load', OBJ, '--json', '--target', 'ssh://root@127.0.0.1:1']);
  assert.equal(down.status, 2);
  assert.deepEqual(
    [JSON.parse(down.stdout).ok, JSON.parse(down.stdout).error.stage, JSON.parse(down.stdout).error.code],
    [false, 'target', 'unreachable'],
  );
  assert.match(down.stderr, /^error \(unreachable\)/);
});

test('a verifier rejection on the target comes back with its log', async () => {
  const c = await connectTarget('bpflens-test', { configFile: host.config });
  try {
    const bad = readFileSync(join(ROOT, 'build', 'fixtures', 'loader_reject.o'), { flag: 'r' });
    await assert.rejects(
      c.load({ name: 'loader_reject.o', object: bad.toString('base64') }),
      (e: Error & { data?: { log?: string } }) => /./.test(e.message) && typeof e.data?.log === 'string' && e.data.log.length > 0,
    );
  } finally {
    await c.close();
  }
});

test('wrong key: auth-failed', () => {
  writeFileSync(
    join(host.dir, 'ssh_config_other'),
    readFileSync(host.config, 'latin1').replace(join(host.dir, 'user'), join(host.dir, 'other')),
  );
  const r = spawnSync(process.execPath, [CLI, 'probe', '--target', 'bpflens-test'], {
    env: { ...process.env, BPF_LENS_SSH_CONFIG: join(host.dir, 'ssh_config_other') },
  });
  assert.equal(r.status, 2);
  assert.match(r.stderr.toString(), /^error \(auth-failed\).*authorized_keys/);
});

test('changed host key and unknown host key are refused, never trusted', () => {
  const kh = readFileSync(host.knownHosts, 'latin1');
  try {
    const otherPub = readFileSync(join(host.dir, 'other.pub'), 'latin1').split(' ').slice(0, 2).join(' ');
    writeFileSync(host.knownHosts, `${host.addr} ${otherPub}\n`);
    assert.match(fails(['probe', '--target', 'bpflens-test'], 'host-key-changed').stderr, /ssh-keygen -R/);
    writeFileSync(host.knownHosts, '');
    fails(['probe', '--target', 'bpflens-test'], 'host-key-unknown');
    assert.equal(readFileSync(host.knownHosts, 'latin1'), '');
  } finally {
    writeFileSync(host.knownHosts, kh);
  }
});

test('nothing listening: unreachable', () => {
  fails(['probe', '--target', `ssh://root@${host.addr}:2`], 'unreachable');
});

test('no node in PATH: no-node; node under ~/.vscode-server is found', () => {
  const vs = join(host.home, '.vscode-server');
  assert.match(fails(['probe', '--target', `ssh://root@${host.addr}:2222`], 'no-node').stderr, /Node\.js 20/);
  mkdirSync(join(vs, 'bin', 'abc123'), { recursive: true });
  symlinkSync(process.execPath, join(vs, 'bin', 'abc123', 'node'));
  const r = bpfLens(['probe', '--json', '--target', `ssh://root@${host.addr}:2222`]);
  assert.equal(r.status, 0, r.stderr);
});

test('agent killed mid-session: agent-crashed', async () => {
  const c = await connectTarget('bpflens-test', { configFile: host.config });
  try {
    const h = await c.hello();
    process.kill(h.pid, 'SIGKILL');
    await assert.rejects(c.listLoaded(), (e: unknown) => e instanceof TargetError && e.code === 'agent-crashed');
  } finally {
    await c.close();
  }
});
