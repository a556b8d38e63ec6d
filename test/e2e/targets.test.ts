// As a user in a real VS Code with two targets in bpfLens.targets: an SSH host (sshd in a
// network namespace, the agent deployed there on first use) and Debian 6.1's vmlinux BTF.
// "BPF Lens: Pick Target" puts the target and its kernel release in the status bar; Load
// Object goes to the SSH host; on 6.1 the CO-RE reads that kernel lacks appear in Problems.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Locator } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT, buildBpf, useWorkbench, runCommand, screenshotPath, waitFor } from './workbench';
import { debianKernel } from '../kernels';
import { type SshHost, startSshHost } from '../ssh-host';

let host: SshHost;
const release = execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim();

const wb = useWorkbench('targets', {
  setup: (ws) => {
    // A program written for recent kernels (its own CO-RE types), built beside the examples.
    fs.copyFileSync(path.join(ROOT, 'test', 'fixtures', 'core_target.bpf.c'), path.join(ws, 'core_target.bpf.c'));
    buildBpf(ws, 'core_target.bpf.c', 'build/core_target.bpf.o');
    host = startSshHost();
    // The language server's ssh uses the test host's ssh_config, never ~/.ssh.
    process.env.BPF_LENS_SSH_CONFIG = host.config;
  },
  settings: () => ({
    'bpfLens.targets': [
      { name: 'lab', host: 'bpflens-test' },
      { name: 'debian-6.1', btf: debianKernel('6.1').vmlinuxBtf },
      { name: 'nowhere', host: `ssh://root@${host.addr}:2999` },
    ],
  }),
  teardown: () => {
    host?.stop();
    delete process.env.BPF_LENS_SSH_CONFIG;
  },
});

async function pickTarget(name: string): Promise<void> {
  const page = wb.page;
  await runCommand(page, 'BPF Lens: Pick Target');
  // The row whose label is the name (its text runs label and description together).
  const label = page.locator('.label-name', { hasText: new RegExp(`(^|\\s)${name.replace('.', '\\.')}$`) });
  const row = page.locator('.quick-input-list .monaco-list-row').filter({ has: label }).first();
  await row.waitFor({ timeout: 15_000 });
  await row.click();
}

const targetItem = () => wb.page.locator('#bpfLens\\.target, .statusbar-item[id*="bpfLens.target"]').first();

test(
  'Pick Target → an SSH host: the status bar shows it with the kernel release, and Load Object loads there',
  { timeout: 180_000 },
  wb.shot('target-ssh', async (page) => {
    assert.match(await targetItem().innerText(), /local/);
    await pickTarget('lab');
    // Connecting deploys the agent on first use: give it time.
    await waitFor(
      async () => (await targetItem().innerText()).includes(`lab · ${release}`),
      60_000,
      () => `status bar: ${wb.session.log().slice(-2000)}`,
    );
    await targetItem().hover();
    const tip = page.locator('.monaco-hover, .workbench-hover', { hasText: 'BPF Lens target: lab' }).first();
    await tip.waitFor({ timeout: 10_000 });
    const tipText = await tip.innerText();
    assert.match(tipText, /loads: permitted/, tipText);
    assert.match(tipText, /features: \d+ of \d+ probed are supported/, tipText);
    await page.screenshot({ path: screenshotPath('target-status.png') });
    await page.mouse.move(700, 300);

    await runCommand(page, 'BPF Lens: Load Object to Kernel');
    const row = page.locator('.quick-input-list .monaco-list-row', { hasText: 'xdp_counter.bpf.o' }).first();
    await row.waitFor({ timeout: 30_000 });
    await row.click();
    const note = page.locator('.notifications-toasts .notification-toast', { hasText: /loaded xdp_counter\.bpf\.o on lab/ }).first();
    await note.waitFor({ timeout: 60_000 });
    assert.match(await note.innerText(), /1 program\(s\), 1 map\(s\)/);
    await runCommand(page, 'Notifications: Clear All Notifications');

    // A host that does not answer: an error that says so, and the selection stays on lab.
    await pickTarget('nowhere');
    const err = page.locator('.notifications-toasts .notification-toast', { hasText: /target nowhere: .*unreachable/ }).first();
    await err.waitFor({ timeout: 30_000 });
    await waitFor(
      async () => (await targetItem().innerText()).includes(`lab · ${release}`),
      10_000,
      () => 'the status bar did not return to lab',
    );
    await runCommand(page, 'Notifications: Clear All Notifications');
  }),
);

test(
  'Pick Target → Debian 6.1 BTF: CO-RE reads that kernel lacks show in Problems on their lines; back on local they go',
  { timeout: 180_000 },
  wb.shot('target-core', async (page) => {
    await pickTarget('debian-6.1');
    await waitFor(
      async () => (await targetItem().innerText()).includes('debian-6.1 · vmlinux.btf'),
      30_000,
      () => 'status bar did not show debian-6.1',
    );
    await page.keyboard.press('Control+Shift+M');
    const problems = page.locator('.markers-panel .monaco-list-row');
    const poisoned = problems.filter({ hasText: /i_mtime_sec/ }).first();
    await poisoned.waitFor({ timeout: 30_000 });
    const label = (await poisoned.getAttribute('aria-label')) ?? (await poisoned.innerText());
    const src = fs.readFileSync(path.join(wb.ws, 'core_target.bpf.c'), 'utf8').split('\n');
    const line = src.findIndex((l) => l.includes('CORE-POISONED-6.1')) + 1;
    assert.match(label, new RegExp(`\\b${line}\\b`), `the i_mtime_sec problem should be on line ${line}: ${label}`);
    assert.match(label, /CO-RE on debian-6\.1/, label);
    assert.ok((await problems.filter({ hasText: /dl_server/ }).count()) >= 1, 'the dl_server existence check is listed too');
    await poisoned.click();
    await page
      .locator('.monaco-editor .view-line', { hasText: /i_mtime_sec\)/ })
      .first()
      .waitFor({ timeout: 15_000 });
    await page.waitForTimeout(500);
    await page.screenshot({ path: screenshotPath('core-target-problems.png') });

    // The BPF view's Targets: debian-6.1 selected, its vmlinux BTF browsable like an object's.
    await page.locator('.activitybar .action-item a[aria-label^="BPF"]').first().click();
    const view = page.locator('.pane', { has: page.locator('.pane-header', { hasText: /Objects/i }) }).first();
    const row = (text: string | RegExp) => view.locator('.monaco-list-row', { hasText: text }).first();
    const expand = async (r: Locator) => {
      await r.waitFor({ timeout: 30_000 });
      if ((await r.getAttribute('aria-expanded')) !== 'true') await r.locator('.monaco-tl-twistie').click();
    };
    await expand(row(/^Targets/));
    await expand(row(/^debian-6\.1\s*selected/));
    await expand(row(/^vmlinux BTF/));
    await expand(row(/^STRUCT\s*\d+/));
    await row(/^list_head/).waitFor({ timeout: 30_000 });
    await page.waitForTimeout(500);
    await page.screenshot({ path: screenshotPath('target-tree.png') });
    await row(/^Targets/)
      .locator('.monaco-tl-twistie')
      .click(); // collapse it: the objects come next
    // The object's CO-RE relocations, against debian-6.1: the poisoned read first.
    await expand(row(/^core_target\.bpf\.o/));
    await expand(row(/^CO-RE relocations\s*3/));
    const poisonedRow = row(/^inode->i_mtime_sec/);
    await poisonedRow.waitFor({ timeout: 30_000 });
    assert.match(await poisonedRow.innerText(), /FIELD_BYTE_OFFSET · poisoned/);
    assert.match(await row(/^task_struct->pid/).innerText(), /FIELD_BYTE_OFFSET · 0 → \d+/);

    await pickTarget('local');
    await waitFor(
      async () => (await targetItem().innerText()).includes(`local · ${release}`),
      30_000,
      () => 'status bar did not return to local',
    );
    await waitFor(
      async () => (await problems.filter({ hasText: /CO-RE on debian-6\.1/ }).count()) === 0,
      30_000,
      () => 'the 6.1 CO-RE problems stayed',
    );
  }),
);
