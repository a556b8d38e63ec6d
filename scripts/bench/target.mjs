// Remote targets: connect time (SSH: probe, deploy, agent start; qemu: boot to hello), the
// target's vmlinux BTF fetch, and loads on a live agent against the same load in-process.
// Targets: local agent, the SSH test host (sshd in a netns), Debian 6.1 and 6.12 under qemu.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import path from 'node:path';
import { EXAMPLES, ROOT, RUNS, engine, median, table, testModule, verdict } from './lib.mjs';

const OBJECTS = ['xdp_counter', 'exec_tracer'].map((n) => path.join(EXAMPLES, `${n}.bpf.o`));
const OVERHEAD_MS = 50;

async function remoteLoads(client, file) {
  const object = readFileSync(file).toString('base64');
  const rtt = [];
  for (let i = 0; i <= RUNS; i++) {
    const t0 = performance.now();
    const r = await client.load({ name: path.basename(file), object });
    await client.unload(r.handle);
    if (i > 0) rtt.push(performance.now() - t0); // the first load warms the agent
  }
  return median(rtt);
}

function inProcess(file) {
  const { openObject } = engine('object/index.js');
  const { loadObject } = engine('load/index.js');
  const { localKernel } = engine('kernel/index.js');
  const bytes = new Uint8Array(readFileSync(file));
  const times = [];
  for (let i = 0; i <= RUNS; i++) {
    const t0 = performance.now();
    loadObject(openObject(bytes, file), { kernel: localKernel }).close();
    if (i > 0) times.push(performance.now() - t0);
  }
  return median(times);
}

async function connectAll(lines) {
  const { startTestTarget } = testModule('qemu-target.js');
  const { startSshHost } = testModule('ssh-host.js');
  const { connectTarget } = engine('remote/index.js');
  const targets = [];
  const host = startSshHost();
  const local = await startTestTarget('local');
  targets.push({ name: 'local', ...local });
  lines.push(`local agent start + hello ${local.connectMs.toFixed(0)} ms`);
  for (const phase of ['first (deploy)', 're-use']) {
    const timings = {};
    const t0 = performance.now();
    const client = await connectTarget('bpflens-test', { root: ROOT, configFile: host.config, timings });
    lines.push(
      `ssh ${phase}: connect ${(performance.now() - t0).toFixed(0)} ms = probe ${timings.probeMs.toFixed(0)} + deploy ${timings.deployMs.toFixed(0)}${timings.deployed ? ' (uploaded)' : ''} + start/hello ${timings.startMs.toFixed(0)} ms`,
    );
    if (phase === 're-use') targets.push({ name: 'ssh', client, close: () => client.close() });
    else await client.close();
  }
  const guests = await Promise.all(['qemu:6.1', 'qemu:6.12'].map((s) => startTestTarget(s)));
  for (const g of guests) {
    targets.push({ name: g.spec, ...g });
    lines.push(`${g.spec} boot to hello ${g.connectMs.toFixed(0)} ms (booted in parallel)`);
  }
  return { targets, host };
}

async function btfFetches(targets, lines) {
  const cacheDir = mkdtempSync(path.join(os.tmpdir(), 'bpflens-bench-btf-'));
  try {
    for (const t of targets) {
      let t0 = performance.now();
      const first = await t.client.targetBtf(path.join(cacheDir, t.name));
      const firstMs = performance.now() - t0;
      t0 = performance.now();
      await t.client.targetBtf(path.join(cacheDir, t.name));
      lines.push(
        `target BTF ${t.name}: ${(first.data.length / 1e6).toFixed(1)} MB, fetch ${firstMs.toFixed(0)} ms, cached ${(performance.now() - t0).toFixed(1)} ms`,
      );
    }
  } finally {
    rmSync(cacheDir, { recursive: true, force: true });
  }
}

export const sections = [
  {
    name: 'target',
    needs: ['out', 'dist', 'examples', 'root', 'qemu', 'sshd'],
    goal: `a load + unload through a live local or SSH agent ≤ in-process + ${OVERHEAD_MS} ms (qemu TCG guests for reference)`,
    async run() {
      const lines = [];
      const { targets, host } = await connectAll(lines);
      try {
        await btfFetches(targets, lines);
        const rows = [];
        const verdicts = [];
        for (const file of OBJECTS) {
          const here = inProcess(file);
          rows.push([path.basename(file), 'in-process', here.toFixed(1), '']);
          for (const t of targets) {
            const ms = await remoteLoads(t.client, file);
            const goal = t.name === 'local' || t.name === 'ssh' ? verdict(ms - here, OVERHEAD_MS) : '';
            if (goal) verdicts.push(goal);
            rows.push([path.basename(file), t.name, ms.toFixed(1), goal]);
          }
        }
        return [
          ...lines,
          `loads on a live agent (median of ${RUNS}, after one warm-up), ms:`,
          ...table(['object', 'target', 'load+unload', 'goal'], rows),
          `local and ssh agents, ${verdicts.filter((v) => v === 'MET').length} of ${verdicts.length} within in-process + ${OVERHEAD_MS} ms: ${verdicts.every((v) => v === 'MET') ? 'MET' : 'MISSED'}`,
        ];
      } finally {
        for (const t of targets) await t.close().catch(() => undefined);
        for (const t of targets) t.kill?.();
        host.stop();
      }
    },
  },
];
