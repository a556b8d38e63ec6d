// As a user in a real VS Code: three objects that call into each other (externs resolved at
// link time). The BPF view says where each extern resolves; "BPF Lens: Link Objects…" links
// the picked objects into one, which then shows up in the view with every program.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT, buildBpf, fileDialog, useWorkbench, runCommand } from './workbench';

const NAMES = ['link_a', 'link_b', 'link_c'];
const wb = useWorkbench('link', {
  workspace: (dir) => {
    const ws = path.join(dir, 'ws');
    fs.mkdirSync(path.join(ws, 'build'), { recursive: true });
    fs.copyFileSync(path.join(ROOT, 'test', 'fixtures', 'link_common.h'), path.join(ws, 'link_common.h'));
    for (const n of NAMES) {
      fs.copyFileSync(path.join(ROOT, 'test', 'fixtures', `${n}.bpf.c`), path.join(ws, `${n}.bpf.c`));
      buildBpf(ws, `${n}.bpf.c`, `build/${n}.o`);
    }
    return ws;
  },
});

test(
  'Link Objects: pick three objects, name the output; the linked object has every program and is indexed',
  { timeout: 180_000 },
  wb.shot('link', async (page) => {
    await runCommand(page, 'BPF Lens: Link Objects');
    const list = page.locator('.quick-input-list');
    for (const n of NAMES) {
      const row = list.locator('.monaco-list-row', { hasText: `${n}.o` }).first();
      await row.waitFor({ timeout: 30_000 });
      await row.locator('.label-name').first().click(); // a click on a row of a multi-pick toggles it
    }
    await page
      .locator('.quick-input-widget .quick-input-action .monaco-button, .quick-input-widget .monaco-button', { hasText: 'OK' })
      .first()
      .click();
    // The save dialog offers linked.bpf.o beside the first input; name it all.bpf.o.
    const out = path.join(wb.ws, 'build', 'all.bpf.o');
    await fileDialog(page, 'linked.bpf.o', out);
    const toast = page.locator('.notifications-toasts .notification-toast', { hasText: /all\.bpf\.o: 3 objects, \d+ sections/ }).first();
    await toast.waitFor({ timeout: 60_000 });
    assert.ok(fs.existsSync(out), out);
    // The linked object holds the programs of all three inputs (bpftool reads it too).
    const progs = JSON.parse(
      execFileSync('node', [path.join(ROOT, 'bin', 'bpf-lens.js'), 'inspect', out, '--json'], { encoding: 'utf8' }),
    ).programs.map((p: { name: string }) => p.name);
    const each = NAMES.flatMap((n) =>
      JSON.parse(
        execFileSync('node', [path.join(ROOT, 'bin', 'bpf-lens.js'), 'inspect', path.join(wb.ws, 'build', `${n}.o`), '--json'], {
          encoding: 'utf8',
        }),
      ).programs.map((p: { name: string }) => p.name),
    );
    assert.deepEqual([...progs].sort(), [...each].sort());
    execFileSync('bpftool', ['btf', 'dump', 'file', out], { stdio: 'ignore' });
    // And the view lists it after the re-index.
    await page.locator('.activitybar .action-item a[aria-label^="BPF"]').first().click();
    await page.locator('.monaco-list-row', { hasText: 'all.bpf.o' }).first().waitFor({ timeout: 30_000 });
    // Before linking, the inputs' externs that another object defines are notes, not errors.
    await page.keyboard.press('Control+Shift+M');
    const note = page
      .locator('.markers-panel .monaco-list-row', { hasText: /extern 'shared_counter' is defined in (link_b|all\.bpf)\.o/ })
      .first();
    await note.waitFor({ timeout: 30_000 });
    assert.match((await note.getAttribute('aria-label')) ?? '', /Info|info/);
  }),
);
