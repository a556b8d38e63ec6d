// As a user in a real VS Code with a VM target in bpfLens.targets (Debian 6.1's kernel, booted
// under qemu by the language server the first time it is used and kept): "BPF Lens: Load on
// All Targets…" on the __arg_ctx example opens the matrix beside the source — one column per
// kernel, each program loaded on both, and the note that 6.1 ran the tagged argument emulated
// while this kernel has it natively.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  prepare,
  copyExamples,
  openWorkbench,
  runCommand,
  screenshotPath,
  tmpDir,
  shotOnFailure,
  waitFor,
  type Session,
} from './workbench';
import { debianKernel } from '../kernels';

const dir = tmpDir('load-matrix');
let s: Session;
let ws: string;

before(async () => {
  const { codeServer, vsix } = prepare(dir);
  ws = copyExamples(dir);
  fs.mkdirSync(path.join(ws, '.vscode'), { recursive: true });
  fs.writeFileSync(
    path.join(ws, '.vscode', 'settings.json'),
    JSON.stringify({ 'bpfLens.targets': [{ name: 'debian-6.1', kernel: debianKernel('6.1').vmlinuz }] }, null, 2),
  );
  s = await openWorkbench(dir, codeServer, vsix, ws);
});
after(async () => {
  // Closing code-server ends the language server; the guest goes with it.
  await s?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test(
  'Load on All Targets: a programs × targets matrix beside the source, __arg_ctx native here and emulated on 6.1',
  { timeout: 600_000 },
  () =>
    shotOnFailure(s.page, 'load-matrix', async () => {
      const page = s.page;
      await runCommand(page, 'BPF Lens: Load on All Targets');
      const row = page.locator('.quick-input-list .monaco-list-row', { hasText: 'ctx_shared.bpf.o' }).first();
      await row.waitFor({ timeout: 30_000 });
      await row.click();
      // The matrix document opens once every target answered (the VM boots first: TCG is slow).
      const tab = page.locator('.tab[aria-label*="all-targets.txt"]').first();
      await tab.waitFor({ timeout: 500_000 });
      await tab.click();
      const editor = page.locator('.editor-group-container.active .monaco-editor .view-lines').first();
      let text = '';
      await waitFor(
        async () => /debian-6\.1: note: __arg_ctx: emulated/.test((text = (await editor.innerText()).replace(/\u00a0/g, ' '))),
        30_000,
        () => `no matrix in the editor:\n${text}`,
      );
      assert.match(text, /program\s+local\s+debian-6\.1/);
      assert.match(text, /local: note: __arg_ctx: native/);
      assert.match(text, /ctx_shared\.bpf\.o on 2 targets: 2 loaded everything, 0 did not/);
      await page.screenshot({ path: screenshotPath('load-matrix.png') });
    }),
);
