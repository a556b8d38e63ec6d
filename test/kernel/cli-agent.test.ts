// `bpf-lens agent --stdio`: the agent behind any transport that carries stdio (here a plain
// pipe to the CLI process): hello, a load with kernel ids, a test run, unload, shutdown.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { test } from 'node:test';
import { AgentClient } from '../../server/src/remote';
import { CLI, fixture } from '../helpers';
import { kernelIdAlive } from '../load-helpers';

test('bpf-lens agent --stdio answers the agent protocol: hello, load (ids), test run, unload, shutdown', async () => {
  const child = spawn(process.execPath, [CLI, 'agent', '--stdio'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const c = new AgentClient('cli-agent', child);
  try {
    const h = await c.hello();
    assert.equal(h.release, release());
    assert.equal(h.privileges.canLoad, true);
    const r = await c.load({ name: 'load_xdp.o', object: readFileSync(fixture('load_xdp.o')).toString('base64') });
    assert.ok(r.programs.length > 0);
    for (const p of r.programs) assert.ok(kernelIdAlive('prog', p.id), p.name);
    const run = await c.testRun({ handle: r.handle, program: r.programs[0].name, data: Buffer.alloc(64).toString('base64') });
    assert.equal(typeof run.retval, 'number');
    assert.equal((await c.unload(r.handle)).closed, true);
    assert.deepEqual(await c.listLoaded(), []);
  } finally {
    await c.close();
  }
  assert.equal(await exit, 0);
  await assert.rejects(c.hello(), /closed/);
});

test('bpf-lens agent without --stdio is a usage error', async () => {
  const child = spawn(process.execPath, [CLI, 'agent'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const code = await new Promise<number | null>((r) => child.on('exit', (x) => r(x)));
  assert.equal(code, 2);
  assert.match(err, /only --stdio is supported/);
});
