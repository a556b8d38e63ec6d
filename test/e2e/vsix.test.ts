// npm run package: one VSIX per platform. What each holds (read back with unzip), its size,
// the platform its manifest claims and its native module is built for, vsce's silence, and
// that koffi loads from the one for this machine and calls into libc as the language server does.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { HOST_TARGET, packageVsix, ROOT, tmpDir } from './workbench';

const dir = tmpDir('vsix');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const TARGETS = [
  { target: 'linux-x64', arch: 'x64', machine: 62 /* EM_X86_64 */ },
  { target: 'linux-arm64', arch: 'arm64', machine: 183 /* EM_AARCH64 */ },
];

interface Manifest {
  name: string;
  version: string;
  main: string;
  icon: string;
  contributes: { grammars: { path: string }[]; viewsContainers: { activitybar: { icon: string }[] } };
}

test(
  'a VSIX per platform: bundles, grammars, icons, license, changelog, and only its own koffi native module, under 10 MB',
  { timeout: 180_000 },
  () => {
    if (!fs.existsSync(path.join(ROOT, 'dist', 'client.js'))) execFileSync('npm', ['run', '-s', 'build'], { cwd: ROOT });
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as Manifest;
    const vsixes = packageVsix(
      dir,
      TARGETS.map((t) => t.target),
    );
    assert.deepEqual(
      vsixes.map((v) => path.basename(v)),
      TARGETS.map((t) => `${pkg.name}-${t.target}-${pkg.version}.vsix`),
    );

    for (const [i, { target, arch, machine }] of TARGETS.entries()) {
      const vsix = vsixes[i];
      const size = fs.statSync(vsix).size;
      assert.ok(size <= 10 * 1024 * 1024, `${vsix}: ${size} bytes`);
      const listing = execFileSync('unzip', ['-Z1', vsix], { encoding: 'utf8' }).trim().split('\n');
      const files = listing.filter((f) => f.startsWith('extension/')).map((f) => f.slice('extension/'.length));
      // Everything the manifest points at is inside, and what the marketplace shows.
      const need = [
        pkg.main,
        pkg.icon,
        ...pkg.contributes.grammars.map((g) => g.path),
        ...pkg.contributes.viewsContainers.activitybar.map((v) => v.icon),
      ].map((p) => p.replace(/^\.\//, ''));
      for (const f of [...need, 'dist/server.js', 'dist/lsp-worker.js', 'package.json', 'readme.md', 'changelog.md', 'LICENSE.txt']) {
        assert.ok(files.includes(f), `${f} missing from ${vsix}:\n${files.join('\n')}`);
      }
      for (const f of fs.readdirSync(path.join(ROOT, 'dist')).filter((f) => f.endsWith('.js'))) assert.ok(files.includes(`dist/${f}`), f);
      // Nothing of the sources, tests, maps, type declarations or dev dependencies.
      const stray = files.filter(
        (f) => /\.(ts|map)$/.test(f) || /^(server|client|protocol|test|scripts|out|examples|build|docs)\//.test(f),
      );
      assert.deepEqual(stray, []);
      const modules = [
        ...new Set(
          files
            .filter((f) => f.startsWith('node_modules/'))
            .map((f) =>
              f
                .split('/')
                .slice(1, f.startsWith('node_modules/@') ? 3 : 2)
                .join('/'),
            ),
        ),
      ].sort();
      assert.deepEqual(modules, [`@koromix/koffi-linux-${arch}`, 'koffi'], target);
      const natives = files.filter((f) => f.endsWith('.node'));
      assert.deepEqual(natives, [`node_modules/@koromix/koffi-linux-${arch}/linux_${arch}/koffi.node`]);
      const manifest = execFileSync('unzip', ['-p', vsix, 'extension.vsixmanifest'], { encoding: 'utf8' });
      assert.match(manifest, new RegExp(`TargetPlatform="${target}"`));
      assert.match(manifest, /<License>extension\/LICENSE\.txt<\/License>/);
      assert.match(manifest, /<Icon>extension\/media\/icon\.png<\/Icon>/);

      const out = path.join(dir, target);
      execFileSync('unzip', ['-q', vsix, '-d', out]);
      const ext = path.join(out, 'extension');
      assert.equal(fs.readFileSync(path.join(ext, natives[0])).readUInt16LE(18), machine, `${natives[0]} is not for ${arch}`);
      const png = fs.readFileSync(path.join(ext, 'media', 'icon.png'));
      assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [128, 128], 'the icon is 128×128');
      if (target !== HOST_TARGET) continue;
      // The one for this machine: koffi works from there, and the shipped CLI bundle runs.
      const pid = execFileSync(
        process.execPath,
        [
          '-e',
          'const k = require(process.argv[1]); console.log(k.load("libc.so.6").func("int getpid()")() === process.pid)',
          path.join(ext, 'node_modules', 'koffi'),
        ],
        { encoding: 'utf8' },
      ).trim();
      assert.equal(pid, 'true');
      const version = execFileSync(process.execPath, [path.join(ext, 'dist', 'cli.js'), '--version'], { encoding: 'utf8' });
      assert.match(version, new RegExp(pkg.version));
    }
  },
);

test('vsce packs the manifest with no warning and no suppression flag', () => {
  const script = fs.readFileSync(path.join(ROOT, 'scripts', 'package.sh'), 'utf8');
  for (const flag of [
    '--skip-license',
    '--allow-missing-repository',
    '--allow-star-activation',
    '--allow-package-secrets',
    '--no-dependencies',
  ]) {
    assert.ok(!script.includes(flag), `scripts/package.sh passes ${flag}`);
  }
  // package.sh fails on any WARNING vsce prints (the first test would have failed then).
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as Record<string, unknown>;
  for (const field of ['repository', 'bugs', 'homepage', 'icon', 'galleryBanner', 'license'])
    assert.ok(pkg[field], `package.json has no ${field}`);
});
