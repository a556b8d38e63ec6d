// The agent against a hostile or careless client (issue 14): every parameter checked (invalid
// params, the agent keeps answering), framing it cannot read answered and ended at once (no
// mute agent, no minutes of CPU on a 128 MB stream), and a client that dies mid-load leaves
// nothing behind, not even the pins it asked for (it never learned of them).
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ResponseError } from 'vscode-jsonrpc/node';
import * as P from '../../protocol/agent';
import { AgentClient } from '../../server/src/remote';
import { CLI, fixture } from '../helpers';
import { bpffsDir } from './kernel-env';

function agent(): { child: ChildProcess; exit: Promise<number | null>; stderr: () => string } {
  const child = spawn(process.execPath, [CLI, 'agent', '--stdio'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  child.stdin.on('error', () => undefined); // it may end before all we write is read
  return { child, exit: new Promise((r) => child.on('exit', (code) => r(code))), stderr: () => err };
}

const within = <T>(p: Promise<T>, ms: number, what: string) =>
  Promise.race([p, new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`${what}: nothing within ${ms} ms`)), ms).unref())]);

test('agent parameters: wrong types and values are invalid params (-32602) naming the field; the agent keeps answering', async () => {
  const a = agent();
  const c = new AgentClient('hostile-params', a.child);
  try {
    const object = readFileSync(fixture('load_xdp.o')).toString('base64');
    const bad: [string, unknown, RegExp][] = [
      ['load', { name: 'x.o', object, argCtxFallback: 'bogus' }, /argCtxFallback must be one of auto, always, never, not "bogus"/],
      ['load', { name: 'x.o', object, logLevel: 'lots' }, /logLevel must be an integer 0\.\.7, not "lots"/],
      ['load', { name: 'x.o', object, set: 'abc' }, /set must be an object of VAR: "VALUE" strings/],
      ['load', { name: 'x.o', object, pinProgramsDir: 5 }, /pinProgramsDir must be an absolute path, not 5/],
      ['load', { name: 'x.o', object, set: { n: 1 } }, /set must be/],
      ['load', { name: 'x.o', object, noAutoload: 'p' }, /noAutoload must be an array of strings/],
      ['load', { name: 'x.o', object: '%%%' }, /object must be base64 text/],
      ['load', { name: 'x.o', object, evil: 1 }, /load has no parameter "evil"/],
      ['load', { object }, /load needs name/],
      ['unload', { handle: 'x' }, /handle must be an integer/],
      ['testRun', { handle: 1, program: 'p', repeat: -1 }, /repeat must be an integer/],
      ['targetBtf', { knownHash: '../../x' }, /knownHash must be a sha256 in hex/],
      ['progStats', { enable: 'yes' }, /enable must be true or false/],
      ['progStats', { all: true }, /progStats has no parameter "all"/],
      ['mapDump', { id: 1, pinned: '/sys/fs/bpf/m' }, /mapDump needs one of id and pinned/],
      ['mapDump', {}, /mapDump needs one of id and pinned/],
      ['mapDump', { id: -1 }, /id must be an integer 1\.\.4294967295/],
      ['mapDump', { pinned: 'relative/m' }, /pinned must be an absolute path/],
      ['mapDump', { id: 1, preview: 5000 }, /preview must be an integer 0\.\.1000/],
      ['mapUpdate', { id: 1 }, /mapUpdate needs value/],
      ['mapUpdate', { id: 1, value: '1', flag: 'always' }, /flag must be one of any, noexist, exist/],
      ['mapUpdate', { id: 1, value: 'x'.repeat((1 << 20) + 1) }, /value must be a string of at most 1 MiB/],
      ['mapDelete', { id: 1 }, /mapDelete needs key/],
      ['observe', { handle: 1, perfPages: 3 }, /perfPages must be a power of 2 up to 1024, not 3/],
      ['observe', { handle: 1, maxQueued: 0 }, /maxQueued must be an integer 1\.\.16777216/],
      ['observe', { handle: 1, printk: 'yes' }, /printk must be true or false/],
      ['observe', { maps: ['x'] }, /observe needs handle/],
      ['observeStop', { handle: -1 }, /handle must be an integer/],
    ];
    for (const [method, params, msg] of bad) {
      await assert.rejects(c.conn.sendRequest(`bpfLensAgent/${method}`, params), (e: unknown) => {
        assert.ok(e instanceof ResponseError, String(e));
        assert.equal(e.code, -32602, `${method} ${JSON.stringify(params).slice(0, 80)}: ${e.message}`);
        assert.match(e.message, msg);
        return true;
      });
    }
    assert.equal((await c.hello()).protocol, P.AGENT_PROTOCOL_VERSION);
  } finally {
    await c.close();
  }
  assert.equal(await a.exit, 0);
});

/** Writes raw bytes to a fresh agent; answers what it wrote back, its exit code and stderr. */
async function framing(
  bytes: Buffer | (() => Generator<Buffer>),
  endInput = false,
): Promise<{ out: string; code: number | null; err: string; ms: number }> {
  const a = agent();
  let out = '';
  a.child.stdout!.on('data', (d) => (out += d));
  const t0 = performance.now();
  if (Buffer.isBuffer(bytes)) {
    a.child.stdin!.write(bytes);
    if (endInput) a.child.stdin!.end();
  } else {
    for (const chunk of bytes()) {
      if (a.child.exitCode !== null || !a.child.stdin!.writable) break;
      if (!a.child.stdin!.write(chunk))
        await new Promise((r) => {
          a.child.stdin!.once('drain', r);
          a.child.once('exit', r);
        });
    }
  }
  const code = await within(a.exit, 10_000, 'the agent did not end');
  return { out, code, err: a.stderr(), ms: performance.now() - t0 };
}

test('agent framing: no Content-Length, a negative or non-numeric one, an oversized message: answered with a parse error, then the agent ends', async () => {
  const body = '{"jsonrpc":"2.0","id":1,"method":"bpfLensAgent/hello"}';
  const cases: [string, RegExp][] = [
    [`Content-Type: application/json\r\n\r\n${body}`, /without Content-Length/],
    [`Content-Length: -5\r\n\r\n${body}`, /Content-Length must be a decimal byte count, not "-5"/],
    [`Content-Length: 1e3\r\n\r\n${body}`, /Content-Length must be a decimal byte count/],
    [`Content-Length: 999999999999\r\n\r\n`, /Content-Length must be a decimal byte count|over the limit/],
    [`Content-Length: 1000000000\r\n\r\n`, /a message of 1000000000 bytes is over the limit/],
  ];
  // also with the input ending right after the bad frame (as `printf … | bpf-lens agent --stdio`)
  for (const [bytes, why, endInput] of [...cases.map(([b, w]) => [b, w, false] as const), [cases[0][0], cases[0][1], true] as const]) {
    const r = await framing(Buffer.from(bytes), endInput);
    assert.equal(r.code, 1, `${JSON.stringify(bytes.slice(0, 30))}: ${r.err}`);
    const answer = JSON.parse(r.out.slice(r.out.indexOf('{'))) as { id: null; error: { code: number; message: string } };
    assert.equal(answer.id, null);
    assert.equal(answer.error.code, -32700);
    assert.match(answer.error.message, why);
    assert.match(r.err, why);
  }
});

test('agent framing: 128 MB with no header end costs milliseconds, not minutes (a header is at most 8 KiB)', async () => {
  const chunk = Buffer.alloc(1 << 20, 0x41);
  const r = await framing(function* () {
    for (let i = 0; i < 128; i++) yield chunk;
  });
  assert.equal(r.code, 1, r.err);
  assert.match(r.err, /a message header is longer than 8192 bytes/);
  console.log(`agent ended ${r.ms.toFixed(0)} ms after the first byte of a 128 MB stream with no header end`);
  assert.ok(r.ms < 5000, `${r.ms} ms`);
});

test('agent: a message that is not JSON is answered (-32700) and the next request still works', async () => {
  const a = agent();
  let out = '';
  a.child.stdout!.on('data', (d) => (out += d));
  const frame = (s: string) => `Content-Length: ${Buffer.byteLength(s)}\r\n\r\n${s}`;
  a.child.stdin!.write(frame('{not json') + frame('{"jsonrpc":"2.0","id":7,"method":"bpfLensAgent/listLoaded"}'));
  await within(
    new Promise<void>((r) => {
      const t = setInterval(() => {
        if (/"id":7/.test(out)) {
          clearInterval(t);
          r();
        }
      }, 20);
    }),
    10_000,
    'no answer to id 7',
  );
  assert.match(out, /"id":null,"error":\{"code":-32700,"message":"bpf-lens agent: a message is not JSON/);
  assert.match(out, /"id":7,"result":\[\]/);
  a.child.stdin!.end();
  assert.equal(await a.exit, 0);
});

test('a client that dies mid-load: the agent undoes that load when it ends, pins it asked for included, and exits', async (t) => {
  const { dir, done } = bpffsDir('agentdies');
  t.after(done);
  const pins = `${dir}/progs`;
  const a = agent();
  const c = new AgentClient('dies-mid-load', a.child);
  let ended = false;
  // the client is gone as soon as the load has started on the agent
  c.conn.onNotification(P.progress, () => {
    if (ended) return;
    ended = true;
    a.child.stdin!.destroy();
  });
  const object = readFileSync(fixture('core_tracer.o')).toString('base64');
  const answer = c.load({ name: 'core_tracer.o', object, pinProgramsDir: pins }).then(
    () => 'answered',
    (e: Error) => e.message,
  );
  assert.equal(await within(a.exit, 20_000, 'the agent did not end'), 0, a.stderr());
  assert.ok(ended, 'the load started (a progress notification came) before the client went');
  await answer;
  const left = existsSync(pins) ? readdirSync(pins) : [];
  assert.deepEqual(left, [], `pins left by a load nobody will unload: ${left.join(', ')}`);
  // and as the kernel lists them: no program pinned there (bpftool -f shows each program's pins)
  const progs = JSON.parse(execFileSync('bpftool', ['-f', 'prog', 'show', '--json']).toString()) as {
    id: number;
    name: string;
    pinned?: string[];
  }[];
  const ours = progs.filter((p) => (p.pinned ?? []).some((f) => f.startsWith(`${dir}/`)));
  assert.deepEqual(
    ours.map((p) => `${p.id} ${p.name}`),
    [],
  );
  await c.close();
});
