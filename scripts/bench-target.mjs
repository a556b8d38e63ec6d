#!/usr/bin/env node
// Remote targets: how long connecting takes (SSH: probe, deploy, agent start; qemu: boot to
// hello) and how long a load takes on a live agent (the second and later loads: agent cached,
// target BTF parsed) against the same load here, in-process and through the local agent.
// Targets: local, the SSH test host (sshd in a netns, test/ssh-host.ts), Debian 6.1 and 6.12
// under qemu TCG (test/qemu-target.ts). Each load is load + unload; median of RUNS. Also the
// target's vmlinux BTF: first fetch, then the cached check (hash only).
// Needs root, `npm run build`, `npx tsc -p .`, `make -C examples`.
import { createRequire } from 'module';
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { fileURLToPath } from 'url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { startTestTarget } = require(path.join(root, 'out/test/qemu-target.js'));
const { startSshHost } = require(path.join(root, 'out/test/ssh-host.js'));
const { connectTarget } = require(path.join(root, 'out/server/src/remote/index.js'));
const { openObject } = require(path.join(root, 'out/server/src/object/index.js'));
const { loadObject } = require(path.join(root, 'out/server/src/load/index.js'));
const kernel = require(path.join(root, 'out/server/src/kernel/index.js'));

const RUNS = 5;
const OBJECTS = ['xdp_counter', 'exec_tracer'].map((n) => path.join(root, 'examples/build', `${n}.bpf.o`));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function remoteLoads(client, file) {
  const object = readFileSync(file).toString('base64');
  const name = path.basename(file);
  const rtt = [];
  const inAgent = [];
  // The first load warms the agent (kernel BTF, JIT); it is not counted.
  for (let i = 0; i <= RUNS; i++) {
    const t0 = performance.now();
    const r = await client.load({ name, object });
    await client.unload(r.handle);
    if (i > 0) { rtt.push(performance.now() - t0); inAgent.push(r.ms); }
  }
  return { rtt: median(rtt), inAgent: median(inAgent) };
}

function inProcess(file) {
  const bytes = new Uint8Array(readFileSync(file));
  const ms = [];
  for (let i = 0; i <= RUNS; i++) {
    const t0 = performance.now();
    loadObject(openObject(bytes, file), { kernel: kernel.localKernel }).close();
    if (i > 0) ms.push(performance.now() - t0);
  }
  return median(ms);
}

const rows = [];
const host = startSshHost();
const targets = [];
try {
  const lines = [];
  let t0 = performance.now();
  targets.push({ name: 'local', ...(await startTestTarget('local')) });
  lines.push(`local       agent start + hello ${targets[0].connectMs.toFixed(0)} ms`);
  for (const phase of ['first (deploy)', 're-use']) {
    const timings = {};
    t0 = performance.now();
    const client = await connectTarget('bpflens-test', { root, configFile: host.config, timings });
    const ms = performance.now() - t0;
    lines.push(`ssh ${phase.padEnd(15)} connect ${ms.toFixed(0)} ms = probe ${timings.probeMs.toFixed(0)} + deploy ${timings.deployMs.toFixed(0)}${timings.deployed ? ' (uploaded)' : ' (none)'} + start/hello ${timings.startMs.toFixed(0)} ms`);
    if (phase === 're-use') targets.push({ name: 'ssh', client, close: () => client.close() });
    else await client.close();
  }
  // Both guests boot at once (one vCPU each).
  const guests = await Promise.all(['qemu:6.1', 'qemu:6.12'].map((s) => startTestTarget(s)));
  for (const g of guests) {
    targets.push({ name: g.spec, ...g });
    lines.push(`${g.spec.padEnd(11)} boot to hello ${g.connectMs.toFixed(0)} ms (booted in parallel)`);
  }
  console.log(`connect / deploy:\n  ${lines.join('\n  ')}\n`);
  const cacheDir = mkdtempSync(path.join(os.tmpdir(), 'bpflens-bench-btf-'));
  try {
    const btf = [];
    for (const t of targets) {
      let t0 = performance.now();
      const first = await t.client.targetBtf(path.join(cacheDir, t.name));
      const firstMs = performance.now() - t0;
      t0 = performance.now();
      await t.client.targetBtf(path.join(cacheDir, t.name));
      btf.push(`${t.name.padEnd(11)} ${(first.data.length / 1e6).toFixed(1)} MB: fetch ${firstMs.toFixed(0)} ms, cached ${(performance.now() - t0).toFixed(1)} ms`);
    }
    console.log(`target BTF:\n  ${btf.join('\n  ')}\n`);
  } finally {
    rmSync(cacheDir, { recursive: true, force: true });
  }
  for (const file of OBJECTS) {
    const here = inProcess(file);
    rows.push([path.basename(file), 'in-process', here.toFixed(1), '', '1.0']);
    for (const t of targets) {
      const r = await remoteLoads(t.client, file);
      rows.push([path.basename(file), t.name, r.rtt.toFixed(1), r.inAgent.toFixed(1), (r.rtt / here).toFixed(1)]);
    }
  }
  const head = ['object', 'target', 'load+unload ms', 'in agent ms', 'x in-process'];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  console.log(`loads on a live agent (median of ${RUNS}, after one warm-up):`);
  for (const r of [head, ...rows]) console.log('  ' + r.map((c, i) => c.padEnd(w[i])).join('  '));
} finally {
  for (const t of targets) await t.close().catch(() => undefined);
  for (const t of targets) t.kill?.();
  host.stop();
}
