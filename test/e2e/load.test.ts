// As a user in a real VS Code: run "BPF Lens: Load Object to Kernel…" on the local target and
// see success with kernel ids; then break the program (drop a NULL check), rebuild, load
// again and find the verifier's complaint on the right line in the Problems panel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { useWorkbench, runCommand, openFile, hover, screenshotPath, waitFor } from './workbench';

// Closing code-server (after the tests) ends the language server, which holds the loaded programs' FDs.
const wb = useWorkbench('load');

function kernelProgName(id: number): string | undefined {
  try {
    return (JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show', 'id', String(id)], { encoding: 'utf8' })) as { name: string }).name;
  } catch {
    return undefined;
  }
}

async function loadFromPalette(name: string): Promise<void> {
  const page = wb.page;
  await runCommand(page, 'BPF Lens: Load Object to Kernel');
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: name }).first();
  await row.waitFor({ timeout: 30_000 });
  await row.click();
}

/** The text of the BPF Lens output channel (shown by its command). */
async function outputText(): Promise<string> {
  const page = wb.page;
  await runCommand(page, 'BPF Lens: Show Output');
  const out = page.locator('.output-view .view-lines, [id="workbench.panel.output"] .view-lines').first();
  await out.waitFor({ timeout: 15_000 });
  return (await out.innerText()).replace(/\u00a0/g, ' ');
}

test(
  'Load Object to Kernel loads xdp_counter.bpf.o locally and shows the kernel ids',
  { timeout: 120_000 },
  wb.shot('load', async (page) => {
    await loadFromPalette('xdp_counter.bpf.o');
    const note = page.locator('.notifications-toasts .notification-toast', { hasText: /loaded xdp_counter\.bpf\.o/ }).first();
    await note.waitFor({ timeout: 60_000 });
    const noteText = await note.innerText();
    assert.match(noteText, /1 program\(s\), 1 map\(s\)/, noteText);
    await page.waitForTimeout(800); // the toast slides in; the progress toast fades out
    await page.screenshot({ path: screenshotPath('load-success.png') });
    // The output channel lists the kernel's ids; the kernel agrees that they are ours.
    let text = '';
    await waitFor(
      async () => /prog\s+\d+\s+xdp\s+xdp_count/.test((text = await outputText())),
      20_000,
      () => `no program id in the output:\n${text}`,
    );
    const progId = Number(/prog\s+(\d+)\s+xdp\s+xdp_count/.exec(text)![1]);
    assert.match(text, /map\s+\d+\s+percpu_hash\s+stats/, text);
    assert.equal(kernelProgName(progId), 'xdp_count', `bpftool prog show id ${progId}`);
    await page.screenshot({ path: screenshotPath('load-output.png') });
    await runCommand(page, 'Notifications: Clear All Notifications');
    // Unload from the palette: the kernel frees the program.
    await runCommand(page, 'BPF Lens: Unload');
    const pick = page.locator('.quick-input-list .monaco-list-row', { hasText: 'xdp_counter.bpf.o' }).first();
    await pick.waitFor({ timeout: 15_000 });
    await pick.click();
    await waitFor(
      () => kernelProgName(progId) === undefined,
      20_000,
      () => `program ${progId} is still loaded after Unload`,
    );
  }),
);

test(
  'a broken program: the verifier diagnostic is on the faulting line in Problems',
  { timeout: 120_000 },
  wb.shot('verifier', async (page) => {
    // Drop the NULL check after the second lookup: the verifier refuses `s->packets++`.
    const src = path.join(wb.ws, 'xdp_counter.bpf.c');
    const before = fs.readFileSync(src, 'utf8');
    const broken = before.replace(/(s = bpf_map_lookup_elem\(&stats, &proto\);\n)\t\tif \(!s\)\n\t\t\treturn XDP_PASS;\n/, '$1');
    assert.notEqual(broken, before, 'the example changed: update the edit');
    fs.writeFileSync(src, broken);
    execFileSync('make', ['-s', '-C', wb.ws]);
    const line = broken.split('\n').findIndex((l) => l.includes('s->packets++')) + 1;

    await loadFromPalette('xdp_counter.bpf.o');
    const note = page.locator('.notifications-toasts .notification-toast', { hasText: /load failed/ }).first();
    await note.waitFor({ timeout: 60_000 });
    await page.keyboard.press('Control+Shift+M');
    const problems = page.locator('.markers-panel .monaco-list-row');
    const row = problems.filter({ hasText: /invalid mem access|map_value_or_null/ }).first();
    await row.waitFor({ timeout: 30_000 });
    const label = (await row.getAttribute('aria-label')) ?? (await row.innerText());
    // Clicking the problem opens the source on that line, as a user would.
    await row.click();
    await page
      .locator('.monaco-editor .view-line', { hasText: /s->packets\+\+/ })
      .first()
      .waitFor({ timeout: 15_000 });
    await runCommand(page, 'Notifications: Clear All Notifications');
    await page.waitForTimeout(500);
    await page.screenshot({ path: screenshotPath('verifier-problem.png') });
    assert.match(label, new RegExp(`\\b${line}\\b`), `Problems should point at line ${line} (s->packets++): ${label}`);
    // The file of the diagnostic is the broken source.
    const all = (await problems.allInnerTexts()).join('\n');
    assert.match(all, /xdp_counter\.bpf\.c/, all);
    // Its related location: where the pointer came from (the lookup), a row under the problem.
    // the second lookup (inside `if (!s)`), whose NULL check the edit removed
    const lookups = broken
      .split('\n')
      .map((l, i) => (i < line && l.includes('s = bpf_map_lookup_elem(&stats, &proto);') ? i + 1 : 0))
      .filter(Boolean);
    const lookupLine = lookups[lookups.length - 1];
    const related = problems.filter({ hasText: /R0 is the result of bpf_map_lookup_elem\(\)/ }).first();
    if (!(await related.isVisible())) {
      await row.click();
      await page.keyboard.press('ArrowRight'); // expand the problem
    }
    await related.waitFor({ timeout: 15_000 });
    const relatedLabel = (await related.getAttribute('aria-label')) ?? (await related.innerText());
    assert.match(relatedLabel, new RegExp(`\\b${lookupLine}\\b`), `the related row should point at line ${lookupLine}: ${relatedLabel}`);
  }),
);

test(
  'Explain Verification: the walk to the rejection opens beside the source, and a hover shows the state on a line',
  { timeout: 120_000 },
  wb.shot('explain', async (page) => {
    // The previous test left xdp_counter.bpf.o broken (no NULL check before s->packets++).
    await runCommand(page, 'BPF Lens: Explain Verification');
    const pick = page.locator('.quick-input-list .monaco-list-row', { hasText: 'xdp_counter.bpf.o' }).first();
    await pick.waitFor({ timeout: 30_000 });
    await pick.click();
    await page.locator('.tab', { hasText: 'xdp_count.verifier.txt' }).first().waitFor({ timeout: 60_000 });
    // (Monaco draws spaces as U+00A0, which \s matches)
    const walk = page.locator('.monaco-editor .view-line', { hasText: /The\spath\sto\sthe\srejection/ }).first();
    await walk.waitFor({ timeout: 15_000 });
    // The source lines in the walk are links to the source (Ctrl+click).
    await page
      .locator('.monaco-editor .detected-link', { hasText: /xdp_counter\.bpf\.c:\d+/ })
      .first()
      .waitFor({ timeout: 15_000 });
    await runCommand(page, 'Notifications: Clear All Notifications');
    await page.waitForTimeout(500);
    await page.screenshot({ path: screenshotPath('verifier-walk.png') });
    // Back in the source: the state the verifier had on the faulting line.
    await openFile(page, 'xdp_counter.bpf.c');
    const text = await hover(page, /^\s*s->packets\+\+;/, 'packets');
    assert.match(text, /Verifier state in xdp_count/, text);
    assert.match(text, /map_value_or_null/, text);
  }),
);
