// The scenarios of test/e2e/ in a desktop VS Code's extension host (@vscode/test-electron),
// with the packaged VSIX unpacked as the extension under test. test-electron would download
// VS Code, which cannot happen on this network: it runs only when VSCODE_EXECUTABLE_PATH
// names a desktop VS Code executable; CI runs the same suite in code-server's remote
// extension host instead (code-server.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { copyExamples, packageVsix, ROOT, tmpDir } from '../e2e/workbench';

const exe = process.env.VSCODE_EXECUTABLE_PATH;

test('extension host: hover, view, load, verifier diagnostic, base diff (@vscode/test-electron)', { timeout: 300_000 }, async (t) => {
  if (!exe) {
    t.skip('NOT RUN: VSCODE_EXECUTABLE_PATH does not name a desktop VS Code (test-electron cannot download one here)');
    return;
  }
  assert.ok(fs.existsSync(exe), `VSCODE_EXECUTABLE_PATH=${exe} does not exist`);
  const { runTests } = await import('@vscode/test-electron');
  const dir = tmpDir('electron');
  try {
    if (!fs.existsSync(path.join(ROOT, 'dist', 'client.js'))) execFileSync('npm', ['run', '-s', 'build'], { cwd: ROOT });
    const [vsix] = packageVsix(dir);
    execFileSync('unzip', ['-q', vsix, '-d', path.join(dir, 'vsix')]);
    const ws = copyExamples(dir);
    const code = await runTests({
      vscodeExecutablePath: exe,
      extensionDevelopmentPath: path.join(dir, 'vsix', 'extension'),
      extensionTestsPath: path.join(__dirname, 'suite.js'),
      launchArgs: [
        ws,
        '--no-sandbox',
        '--disable-gpu',
        '--disable-workspace-trust',
        '--disable-extensions',
        '--user-data-dir',
        path.join(dir, 'user'),
        '--extensions-dir',
        path.join(dir, 'extensions'),
      ],
    });
    assert.equal(code, 0);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
