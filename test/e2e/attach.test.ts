// As a user in a real VS Code (code-server, the packaged VSIX): "BPF Lens: Run Object…" on
// exec_tracer.bpf.o loads and attaches it; the BPF view shows the program attached with its
// link id, which the kernel has; "Test Run…" on xdp_counter's program with the default packet
// opens the verdict (XDP_PASS) in a document; "Attach" on that program asks only for an
// interface (picked from the target's list: a veth end the test makes) and the XDP mode, and
// the link is in the kernel until Detach; "Detach" removes the links from the kernel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { useWorkbench, runCommand, screenshotPath, waitFor } from './workbench';
import { vethPair, type Veth } from '../attach-env';

let veth: Veth | undefined;
const wb = useWorkbench('attach', { teardown: () => veth?.done() });

const linkAlive = (id: number) => {
  try {
    execFileSync('bpftool', ['link', 'show', 'id', String(id)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

async function pick(name: string): Promise<void> {
  const row = wb.page.locator('.quick-input-list .monaco-list-row', { hasText: name }).first();
  await row.waitFor({ timeout: 30_000 });
  await row.click();
}

test(
  'Run Object attaches exec_tracer (link id in the tree, live in the kernel), Test Run shows XDP_PASS, Detach removes the link',
  { timeout: 180_000 },
  wb.shot('attach', async (page) => {
    await runCommand(page, 'BPF Lens: Run Object');
    await pick('exec_tracer.bpf.o');
    const note = page.locator('.notifications-toasts .notification-toast', { hasText: /running exec_tracer\.bpf\.o: 1 attached/ }).first();
    await note.waitFor({ timeout: 60_000 });

    await page.locator('.activitybar .action-item a[aria-label^="BPF"]').first().click();
    const view = page.locator('.pane', { hasText: 'Loaded in kernel' }).first();
    await view.waitFor({ timeout: 30_000 });
    const loaded = view.locator('.monaco-list-row', { hasText: /exec_tracer\.bpf\.o.*1 attached/ }).first();
    await loaded.waitFor({ timeout: 30_000 });
    if ((await loaded.getAttribute('aria-expanded')) !== 'true') await loaded.click();
    const prog = view.locator('.monaco-list-row', { hasText: /handle_exec.*attached: tracing sched_process_exec \(link \d+\)/ }).first();
    await prog.waitFor({ timeout: 30_000 });
    const text = await prog.innerText();
    const linkId = Number(/link (\d+)/.exec(text)![1]);
    assert.ok(linkAlive(linkId), `the tree's link ${linkId} is in the kernel: ${text}`);
    await page.waitForTimeout(500);
    await page.screenshot({ path: screenshotPath('attach-tree.png') });
    await runCommand(page, 'Notifications: Clear All Notifications');

    // Test Run… on xdp_counter: load it, then run its program on the default packet
    await runCommand(page, 'BPF Lens: Load Object to Kernel');
    await pick('xdp_counter.bpf.o');
    await page
      .locator('.notifications-toasts .notification-toast', { hasText: /loaded xdp_counter\.bpf\.o/ })
      .first()
      .waitFor({ timeout: 60_000 });
    await runCommand(page, 'BPF Lens: Test Run');
    await pick('xdp_counter.bpf.o');
    const box = page.locator('.quick-input-widget input');
    await waitFor(
      async () => (await box.inputValue()).startsWith('eth/'),
      15_000,
      () => 'no packet input box',
    );
    await page.keyboard.press('Enter');
    const doc = page.locator('.monaco-editor .view-lines', { hasText: /retval\s2\s\(XDP_PASS\)/ }).first();
    await doc.waitFor({ timeout: 30_000 });
    // the editor renders spaces as U+00A0: \s matches both
    assert.match(await doc.innerText(), /same\sas\sthe\sinput/);
    await page.waitForTimeout(500);
    await page.screenshot({ path: screenshotPath('test-run.png') });
    await runCommand(page, 'Notifications: Clear All Notifications');

    // Attach xdp_count from its row: the picker lists the target's interfaces, then asks the XDP mode
    veth = vethPair();
    const xdpLoaded = view.locator('.monaco-list-row', { hasText: /xdp_counter\.bpf\.o/ }).first();
    await xdpLoaded.waitFor({ timeout: 30_000 });
    if ((await xdpLoaded.getAttribute('aria-expanded')) !== 'true') await xdpLoaded.click();
    const xdpRow = view.locator('.monaco-list-row', { hasText: /xdp_count.*prog id/ }).first();
    await xdpRow.waitFor({ timeout: 30_000 });
    await xdpRow.hover();
    await xdpRow.locator('.action-label[aria-label="Attach"]').click();
    await pick(veth.host);
    await pick('generic');
    const xdpNote = page.locator('.notifications-toasts .notification-toast', { hasText: /attached xdp_count → xdp/ }).first();
    await xdpNote.waitFor({ timeout: 30_000 });
    assert.match(await xdpNote.innerText(), new RegExp(`xdp ${veth.host} \\(generic\\)`));
    const xdpAttached = view.locator('.monaco-list-row', { hasText: /xdp_count.*attached: xdp \S+ \(generic\) \(link \d+\)/ }).first();
    await xdpAttached.waitFor({ timeout: 30_000 });
    const xdpLink = Number(/link (\d+)/.exec(await xdpAttached.innerText())![1]);
    assert.ok(linkAlive(xdpLink), `xdp link ${xdpLink} is in the kernel`);
    await page.screenshot({ path: screenshotPath('attach-xdp-picked.png') });
    await runCommand(page, 'Notifications: Clear All Notifications');
    await runCommand(page, 'BPF Lens: Detach');
    await pick('xdp_counter.bpf.o');
    await page
      .locator('.notifications-toasts .notification-toast', { hasText: /detached xdp_count/ })
      .first()
      .waitFor({ timeout: 30_000 });
    await waitFor(
      () => !linkAlive(xdpLink),
      10_000,
      () => `xdp link ${xdpLink} is still in the kernel after Detach`,
    );
    await runCommand(page, 'Notifications: Clear All Notifications');

    // Detach exec_tracer: its link leaves the kernel
    await runCommand(page, 'BPF Lens: Detach');
    await pick('exec_tracer.bpf.o');
    await page
      .locator('.notifications-toasts .notification-toast', { hasText: /detached handle_exec/ })
      .first()
      .waitFor({ timeout: 30_000 });
    await waitFor(
      () => !linkAlive(linkId),
      10_000,
      () => `link ${linkId} is still in the kernel after Detach`,
    );
  }),
);
