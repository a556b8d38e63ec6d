// npm run package: what the VSIX holds (read back with unzip -l), its size, and that koffi
// loads from it and calls into libc as the extension's language server does.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT, tmpDir } from './workbench';

const dir = tmpDir('vsix');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('the VSIX ships bundles, grammars, icon and koffi for linux-x64/arm64 only, under 10 MB', { timeout: 120_000 }, () => {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'client.js'))) execFileSync('npm', ['run', '-s', 'build'], { cwd: ROOT });
  const vsix = path.join(dir, 'bpf-lens.vsix');
  execFileSync('bash', ['scripts/package.sh', vsix], { cwd: ROOT, env: { ...process.env, BPF_LENS_SKIP_BUILD: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const size = fs.statSync(vsix).size;
  assert.ok(size <= 10 * 1024 * 1024, `${size} bytes`);
  const listing = execFileSync('unzip', ['-Z1', vsix], { encoding: 'utf8' }).trim().split('\n');
  const files = listing.filter((f) => f.startsWith('extension/')).map((f) => f.slice('extension/'.length));
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    main: string; contributes: { grammars: { path: string }[]; viewsContainers: { activitybar: { icon: string }[] } };
  };
  // Everything the manifest points at is inside.
  const need = [pkg.main, ...pkg.contributes.grammars.map((g) => g.path), ...pkg.contributes.viewsContainers.activitybar.map((v) => v.icon)]
    .map((p) => p.replace(/^\.\//, ''));
  for (const f of [...need, 'dist/server.js', 'dist/lsp-worker.js', 'package.json']) assert.ok(files.includes(f), `${f} missing from the VSIX:\n${files.join('\n')}`);
  // Each webpack entry that the build produced is shipped.
  for (const f of fs.readdirSync(path.join(ROOT, 'dist')).filter((f) => f.endsWith('.js'))) assert.ok(files.includes(`dist/${f}`), f);
  // Nothing of the sources, tests, maps or dev dependencies.
  const stray = files.filter((f) => /\.(ts|map)$/.test(f) && f !== 'node_modules/koffi/index.d.ts'
    || /^(server|client|test|scripts|out|examples|build)\//.test(f));
  assert.deepEqual(stray, []);
  const modules = [...new Set(files.filter((f) => f.startsWith('node_modules/')).map((f) => f.split('/').slice(1, f.startsWith('node_modules/@') ? 3 : 2).join('/')))].sort();
  assert.deepEqual(modules, ['@koromix/koffi-linux-arm64', '@koromix/koffi-linux-x64', 'koffi']);
  const natives = files.filter((f) => f.endsWith('.node')).sort();
  assert.deepEqual(natives, ['node_modules/@koromix/koffi-linux-arm64/linux_arm64/koffi.node', 'node_modules/@koromix/koffi-linux-x64/linux_x64/koffi.node']);

  // Unpacked: the native modules are for the machines they claim, and koffi works from there.
  const out = path.join(dir, 'x');
  execFileSync('unzip', ['-q', vsix, '-d', out]);
  const ext = path.join(out, 'extension');
  const elfMachine = (f: string) => fs.readFileSync(path.join(ext, f)).readUInt16LE(18);
  assert.equal(elfMachine(natives[0]), 183, 'EM_AARCH64');
  assert.equal(elfMachine(natives[1]), 62, 'EM_X86_64');
  const pid = execFileSync(process.execPath, ['-e', 'const k = require(process.argv[1]); console.log(k.load("libc.so.6").func("int getpid()")() === process.pid)', path.join(ext, 'node_modules', 'koffi')], { encoding: 'utf8' }).trim();
  assert.equal(pid, 'true');
  // The shipped CLI bundle runs from the unpacked extension (koffi resolved beside dist/).
  const version = execFileSync(process.execPath, [path.join(ext, 'dist', 'cli.js'), '--version'], { encoding: 'utf8' });
  assert.match(version, new RegExp((JSON.parse(fs.readFileSync(path.join(ext, 'package.json'), 'utf8')) as { version: string }).version));
});
