// As a user in a real VS Code: hover a map in examples/xdp_counter.bpf.c and read its
// layout table; open the BPF view and expand an object, its programs, maps and BTF types.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Locator } from 'playwright-core';
import { useWorkbench, openFile, hover, screenshotPath } from './workbench';

const wb = useWorkbench('hover');

test(
  'hovering the stats map shows its type, key/value and the value layout with padding',
  { timeout: 90_000 },
  wb.shot('hover', async (page) => {
    await openFile(page, 'xdp_counter.bpf.c');
    const text = await hover(page, /^\} stats SEC/, 'stats');
    await page.waitForTimeout(500); // the hover fades in
    await page.screenshot({ path: screenshotPath('hover-map.png') });
    assert.match(text, /PERCPU_HASH/, text);
    assert.match(text, /max_entries\D*256/, text);
    // The layout table of struct proto_stats: three members, their offsets, and the tail padding.
    for (const m of ['packets', 'bytes', 'last_len']) assert.match(text, new RegExp(m), text);
    assert.match(text, /padding/i, text);
    assert.match(text, /\b24\b/, `value size 24 (20 bytes of members + 4 of padding):\n${text}`);
  }),
);

test(
  'the BPF view lists the examples and expands an object, its programs, maps and BTF types',
  { timeout: 90_000 },
  wb.shot('tree', async (page) => {
    await page.locator('.activitybar .action-item a[aria-label^="BPF"]').first().click();
    const view = page.locator('.pane', { has: page.locator('.pane-header', { hasText: /Objects/i }) }).first();
    const row = (text: string | RegExp) => view.locator('.monaco-list-row', { hasText: text }).first();
    await row('xdp_counter.bpf.o').waitFor({ timeout: 30_000 });
    for (const name of ['ctx_shared.bpf.o', 'dispatcher.bpf.o', 'exec_tracer.bpf.o']) await row(name).waitFor();
    await expand(row('xdp_counter.bpf.o'));
    await expand(row(/^Programs/));
    await row('xdp_count').waitFor();
    await expand(row(/^Maps/));
    await row(/^stats/).waitFor();
    const mapText = await row(/^stats/).innerText();
    assert.match(mapText, /percpu_hash|PERCPU_HASH/i, mapText);
    await expand(row(/^BTF/));
    await expand(row(/^STRUCT/));
    await row('proto_stats').waitFor();
    await page.screenshot({ path: screenshotPath('tree.png') });
  }),
);

async function expand(row: Locator): Promise<void> {
  await row.waitFor({ timeout: 30_000 });
  if ((await row.getAttribute('aria-expanded')) !== 'true') {
    await row.locator('.monaco-tl-twistie').click();
  }
}
