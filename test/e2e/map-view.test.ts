// As a user in a real VS Code (code-server, the packaged VSIX): "BPF Lens: Run Object…" on
// map_view_counts.o (a tp_btf program counting execs), then "BPF Lens: Show Map" on its
// per-CPU counter: a column per CPU and a Sum that grows between two refreshes while the test
// execs binaries; Pause keeps it still. The hash of counts per command name narrows to the
// filtered key; Edit with a value that does not parse names the field, a good one is written.
// The screenshot goes to the README.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FrameLocator, Page } from 'playwright-core';
import { runCommand, screenshotPath, useWorkbench, waitFor } from './workbench';
import { fixture } from '../helpers';

const wb = useWorkbench('map-view', {
  setup: (ws) => fs.copyFileSync(fixture('map_view_counts.o'), path.join(ws, 'build', 'map_view_counts.o')),
});

const execSome = (n = 5) => {
  for (let i = 0; i < n; i++) {
    execFileSync('/bin/true');
    execFileSync('/bin/echo', ['x']);
  }
};

/** Show Map from the palette, the map picked by name: its view's page. */
async function showMap(page: Page, name: string): Promise<FrameLocator> {
  await runCommand(page, 'BPF Lens: Show Map');
  await page.locator('.quick-input-widget input').fill(name);
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: name }).first();
  await row.waitFor({ timeout: 30_000 });
  await row.click();
  await page
    .locator('.tab', { hasText: `Map: ${name}` })
    .first()
    .waitFor({ timeout: 30_000 });
  // the webview's page sits in an iframe within an iframe
  return page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');
}

/** The `.execs` of the Sum cell (`{ .execs = N, .by_root = M }`) of the first row. */
async function execsSum(view: FrameLocator): Promise<number> {
  const t = await view.locator('#rows .row').first().locator('span.sum').innerText();
  const m = /\.execs = (\d+)/.exec(t);
  assert.ok(m, `Sum cell: ${t}`);
  return Number(m[1]);
}

test(
  'Show Map: per-CPU columns and a Sum that moves; Pause; the filter narrows; Edit names a bad field',
  { timeout: 240_000 },
  wb.shot('map-view', async (page) => {
    await runCommand(page, 'BPF Lens: Run Object');
    const obj = page.locator('.quick-input-list .monaco-list-row', { hasText: 'map_view_counts.o' }).first();
    await obj.waitFor({ timeout: 30_000 });
    await obj.click();
    await page
      .locator('.notification-toast', { hasText: 'running map_view_counts.o: 1 attached (count_exec)' })
      .first()
      .waitFor({ timeout: 60_000 });
    execSome();
    // room for the table's columns in the screenshot
    await runCommand(page, 'View: Toggle Primary Side Bar Visibility');

    const view = await showMap(page, 'execs');
    const head = view.locator('#head span');
    await view.locator('#head span', { hasText: 'Sum' }).waitFor({ timeout: 30_000 });
    const cols = await head.allInnerTexts();
    const cpus = Number(execFileSync('nproc', ['--all']).toString());
    assert.equal(cols[0], 'Key');
    assert.ok(cols.filter((c) => /^CPU \d+$/.test(c)).length >= cpus, cols.join(','));
    assert.ok(cols.includes('Sum'));
    assert.equal(await view.locator('#add').isHidden(), true, 'an array: no Add entry');

    // live: two refreshes apart, the counter has grown
    await view.locator('#rows .row').first().waitFor({ timeout: 10_000 });
    await view.locator('#rows .row span.sum', { hasText: '.execs' }).first().waitFor({ timeout: 10_000 });
    const first = await execsSum(view);
    assert.ok(first > 0, 'execs counted');
    let second = first;
    await waitFor(
      async () => {
        execSome();
        second = await execsSum(view);
        return second > first;
      },
      20_000,
      () => `the Sum stayed at ${first}`,
    );
    assert.match(await view.locator('#status').innerText(), /1 element · read .* in \d+ ms/);
    await runCommand(page, 'Notifications: Clear All Notifications');
    execSome();
    await page.waitForTimeout(1500);
    await page.screenshot({ path: screenshotPath('map-view.png') });

    // Pause: the table stays while the counter moves; Resume reads again
    await view.locator('#pause').click();
    await view.locator('#status', { hasText: 'paused' }).waitFor({ timeout: 5_000 });
    const frozen = await view.locator('#rows').innerText();
    execSome();
    await page.waitForTimeout(2500);
    assert.equal(await view.locator('#rows').innerText(), frozen, 'paused: no refresh');
    await view.locator('#pause').click();
    await waitFor(
      async () => (await execsSum(view)) > second,
      10_000,
      () => 'Resume did not read again',
    );

    // the hash of counts per command: the filter (any case) keeps the matching key
    await runCommand(page, 'View: Close All Editors');
    const h = await showMap(page, 'by_comm');
    const rows = h.locator('#rows .row');
    await waitFor(
      async () => (await rows.count()) >= 2,
      20_000,
      () => 'by_comm has fewer than 2 rows',
    );
    assert.equal(await h.locator('#add').isVisible(), true, 'a hash: Add entry');
    await h.locator('#filter').fill('TRUE');
    await waitFor(
      async () => {
        const keys = await rows.locator('span.key').allInnerTexts();
        return keys.length === 1 && keys[0] === '{ .comm = "true" }';
      },
      10_000,
      () => 'the filter did not narrow by_comm to { .comm = "true" }',
    );
    assert.match(await h.locator('#status').innerText(), /1 match/);
    execSome();
    await page.waitForTimeout(1500);
    assert.equal(await rows.count(), 1, 'the filter holds across refreshes');

    // Edit: a value that does not parse names the field; a good one is written
    await rows.first().locator('button.edit').click();
    await h.locator('#evalue').fill('banana');
    await h.locator('#save').click();
    await h.locator('#error', { hasText: 'value' }).waitFor({ timeout: 10_000 });
    assert.match(await h.locator('#error').innerText(), /^value: /);
    await h.locator('#evalue').fill('1000000');
    await h.locator('#save').click();
    await h.locator('#editor').waitFor({ state: 'hidden', timeout: 10_000 });
    await waitFor(
      async () => /^100000\d$/.test(await rows.first().locator('span.value').innerText()),
      10_000,
      () => 'the edited value did not show',
    );
  }),
);
