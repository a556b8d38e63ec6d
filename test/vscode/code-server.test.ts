// The extension-host suite (suite.ts, the same one @vscode/test-electron runs in a desktop
// VS Code) in code-server's remote extension host: VS Code's server loads the unpacked VSIX
// as a development extension and runs suite.js when the workbench asks for it through the
// URL's `payload` (extensionDevelopmentPath, extensionTestsPath: the remote integration
// tests of VS Code do the same). The web workbench then calls window.codeAutomationExit with
// the extension host's exit code: 0 when run() resolved, 1 when it threw.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { copyExamples, launchChromium, prepare, startCodeServer, tmpDir } from '../e2e/workbench';

const SUITE_MS = 300_000;

test(
  'extension host: hover, view, load, verifier diagnostic, base diff (code-server remote extension host)',
  { timeout: SUITE_MS + 180_000 },
  async (t) => {
    const dir = tmpDir('exthost');
    const { codeServer, vsix } = prepare(dir);
    execFileSync('unzip', ['-q', vsix, '-d', path.join(dir, 'vsix')]);
    const ws = copyExamples(dir);
    const server = await startCodeServer(dir, codeServer, ws);
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 860 } });
      // The extension host's console reaches the page's console, prefixed with a log level.
      const lines: string[] = [];
      page.on('console', (m) => lines.push(m.text().replace(/^%c\s*\w+\s+color: #\w+\s*/, '')));
      let exited!: (code: number) => void;
      const exit = new Promise<number>((resolve) => (exited = resolve));
      await page.exposeFunction('codeAutomationExit', (code: number) => exited(code));

      const remote = (p: string) => `vscode-remote://127.0.0.1:${server.port}${p}`;
      const payload = JSON.stringify([
        ['extensionDevelopmentPath', remote(path.join(dir, 'vsix', 'extension'))],
        ['extensionTestsPath', remote(path.join(__dirname, 'suite.js'))],
      ]);
      await page.goto(`http://127.0.0.1:${server.port}/?folder=${encodeURIComponent(ws)}&payload=${encodeURIComponent(payload)}`);
      let timer: NodeJS.Timeout | undefined;
      const code = await Promise.race([exit, new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), SUITE_MS)))]);
      clearTimeout(timer);

      for (const l of lines.filter((l) => /^ok /.test(l))) t.diagnostic(l);
      const errors = lines.filter((l) => /^ERR|Error|AssertionError/.test(l)).join('\n');
      assert.equal(
        code,
        0,
        `the suite in the extension host ${code === 'timeout' ? 'did not end' : `exited with ${code}`}:\n${errors}\n--- code-server:\n${server.log().slice(-4000)}`,
      );
      // Every scenario of the suite reported itself.
      for (const step of ['ok hover', 'ok view', 'ok load', 'ok verifier', 'ok base diff'])
        assert.ok(
          lines.some((l) => l.startsWith(step)),
          `${step} missing:\n${lines.join('\n')}`,
        );
    } finally {
      await browser.close().catch(() => undefined);
      server.kill();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
);
