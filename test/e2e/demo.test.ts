// The README's first command, as a new user runs it: `bash scripts/demo.sh` in a fresh clone
// builds the bundles and the examples, prints what BPF Lens sees in them (inspect, the C dump
// of a BTF, a Debian 6.1 module's base diff), packages the VSIX, installs it into code-server
// and serves VS Code on the URL it prints — where BPF Lens then runs and indexes the examples.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT, freePort, openBpfLens, tmpDir, waitFor } from './workbench';

const dir = tmpDir('demo');
let demo: ChildProcess | undefined;
after(() => {
  if (demo?.pid)
    try {
      process.kill(-demo.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  fs.rmSync(dir, { recursive: true, force: true });
});

test(
  'scripts/demo.sh in a fresh clone: builds, shows inspect / btf dump / base-diff, serves VS Code with BPF Lens on the printed URL',
  { timeout: 420_000 },
  async () => {
    const clone = path.join(dir, 'bpf-lens');
    execFileSync('git', ['clone', '-q', ROOT, clone]);
    // This checkout's node_modules (the same lock file) stands in for `npm ci`, which the
    // demo's setup step runs only when node_modules is missing or older than the lock file.
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(clone, 'node_modules'));
    fs.utimesSync(path.join(clone, 'package-lock.json'), 0, 0);
    const port = await freePort();
    let out = '';
    demo = spawn('bash', ['scripts/demo.sh'], {
      cwd: clone,
      env: { ...process.env, PORT: String(port) },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    demo.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    demo.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    const url = `http://127.0.0.1:${port}/?folder=${path.join(clone, 'examples')}`;
    await waitFor(
      () => out.includes(`BPF Lens in VS Code: ${url}`) || demo!.exitCode !== null,
      360_000,
      () => `no URL printed:\n${out.slice(-3000)}`,
    );
    assert.equal(demo.exitCode, null, `demo.sh ended:\n${out.slice(-3000)}`);

    // What it showed on the way, for each example and the module.
    for (const ex of ['xdp_counter', 'exec_tracer', 'ctx_shared', 'dispatcher'])
      assert.match(out, new RegExp(`=== bpf-lens inspect examples/build/${ex}\\.bpf\\.o`));
    assert.match(out, /xdp_count\b/);
    assert.match(out, /=== bpf-lens btf dump .* --format c\n(.|\n)*?struct \w+ \{/);
    assert.match(out, /tcp_bbr\.ko: \d+ distilled base types/);

    // code-server answers on the printed URL, and BPF Lens runs there and lists the examples.
    await waitFor(
      async () =>
        (await fetch(url).then(
          (r) => r.status,
          () => 0,
        )) === 200,
      60_000,
      () => `${url} did not answer:\n${out.slice(-2000)}`,
    );
    const w = await openBpfLens(url);
    try {
      await w.page.locator('.activitybar .action-item a[aria-label^="BPF"]').first().click();
      await w.page.locator('.monaco-list-row', { hasText: 'xdp_counter.bpf.o' }).first().waitFor({ timeout: 60_000 });
    } finally {
      await w.close();
    }
  },
);
