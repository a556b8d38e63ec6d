// As a user in a real VS Code: the examples hold tcp_bbr.ko from Debian's 6.1 package (no
// .BTF.base). "BPF Lens: Open Distilled Base Diff" says so and offers to distill on the
// original base; picking that kernel's vmlinux BTF opens the diff against this kernel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { fileDialog, useWorkbench, runCommand, screenshotPath } from './workbench';

const wb = useWorkbench('basediff');

test(
  'the base diff of a Debian 6.1 module against the running kernel',
  { timeout: 120_000 },
  wb.shot('basediff', async (page) => {
    await runCommand(page, 'BPF Lens: Open Distilled Base Diff');
    const row = page.locator('.quick-input-list .monaco-list-row', { hasText: 'tcp_bbr.ko' }).first();
    await row.waitFor({ timeout: 30_000 });
    await row.click();
    // No .BTF.base in a 6.1 module: the extension says so and offers the original base.
    const note = page.locator('.notifications-toasts .notification-toast', { hasText: /BTF\.base|base/i }).first();
    await note.waitFor({ timeout: 60_000 });
    await note.locator('.monaco-button', { hasText: /Choose Original Base/ }).click();
    // The 6.1 vmlinux BTF, typed once the dialog shows the workspace folder.
    await fileDialog(page, '/', path.join(wb.ws, 'build', 'vmlinux-6.1.btf'));
    await page
      .locator('.tab.active', { hasText: /base-diff/ })
      .first()
      .waitFor({ timeout: 60_000 });
    const editor = page.locator('.part.editor .monaco-editor .view-lines').first();
    await page
      .locator('.part.editor .monaco-editor .view-line', { hasText: /distilled\sbase\stypes/ })
      .first()
      .waitFor({ timeout: 30_000 });
    const text = (await editor.innerText()).replace(/\u00a0/g, ' ');
    await page.screenshot({ path: screenshotPath('base-diff.png') });
    assert.match(text, /tcp_bbr\.ko: \d+ distilled base types/, text);
    // Each matched row names the running kernel's type id: the kernel's BTF agrees.
    const rows = [...text.matchAll(/^(match|size-not-checked)\s+(STRUCT|UNION|ENUM)\s+(\w+)\s+\d+\s+\[(\d+)\]/gm)];
    assert.ok(rows.length >= 3, text);
    const vmlinux = execFileSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux'], { encoding: 'utf8', maxBuffer: 1 << 30 });
    for (const [, , kind, name, id] of rows)
      assert.match(vmlinux, new RegExp(`^\\[${id}\\] ${kind} '${name}'`, 'm'), `[${id}] ${kind} ${name}`);
    assert.ok(
      rows.some((r) => r[3] === 'sock'),
      'struct sock, which tcp_bbr uses, is in the diff',
    );
  }),
);

test(
  'Distill Base BTF…: the module gets a .BTF.base on its original base; its base diff then opens without asking',
  { timeout: 120_000 },
  wb.shot('distill', async (page) => {
    await runCommand(page, 'Notifications: Clear All Notifications');
    await runCommand(page, 'BPF Lens: Distill Base BTF');
    const row = page.locator('.quick-input-list .monaco-list-row', { hasText: 'tcp_bbr.ko' }).first();
    await row.waitFor({ timeout: 30_000 });
    await row.click();
    // The open dialog: the 6.1 vmlinux BTF the module was built for; the save dialog offers
    // tcp_bbr.distilled.ko beside the module: take it.
    await fileDialog(page, '/', path.join(wb.ws, 'build', 'vmlinux-6.1.btf'));
    await fileDialog(page, 'tcp_bbr.distilled.ko', path.join(wb.ws, 'build', 'tcp_bbr.distilled.ko'));
    const note = page
      .locator('.notifications-toasts .notification-toast', { hasText: /tcp_bbr\.distilled\.ko: \.BTF\.base \d+ types/ })
      .first();
    await note.waitFor({ timeout: 60_000 });
    const out = path.join(wb.ws, 'build', 'tcp_bbr.distilled.ko');
    assert.match(execFileSync('llvm-readelf', ['-S', out], { encoding: 'utf8' }), /\.BTF\.base/);
    await note.locator('.monaco-button', { hasText: 'Open Base Diff' }).click();
    await page
      .locator('.part.editor .monaco-editor .view-line', { hasText: /tcp_bbr\.distilled\.ko:\s\d+\sdistilled\sbase\stypes/ })
      .first()
      .waitFor({ timeout: 30_000 });
  }),
);
