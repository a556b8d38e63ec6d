// As a user in a real VS Code (code-server, the packaged VSIX): "BPF Lens: Run Object…" on
// exec_tracer.bpf.o opens its Events panel; while the test execs binaries, rows fill the table
// with the columns of struct exec_event (pid, ppid, start_ns, comm) and the counters move;
// Pause keeps the table still, Clear empties it. Then observe_events.o's bpf_printk lines in the
// "BPF Lens printk" channel, tied to on_write, its program and source line links. The
// screenshots go to the README.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCommand, screenshotPath, useWorkbench, waitFor } from './workbench';
import { fixture, holdTracePipe } from '../helpers';

let releasePipe: (() => void) | undefined;
const wb = useWorkbench('events', {
  setup: async (ws) => {
    // the printk test reads the one trace pipe: held from before the editor starts until it closed
    releasePipe = await holdTracePipe();
    // a ring buffer, a perf buffer and a bpf_printk (test/fixtures, built by make -C test/fixtures)
    fs.copyFileSync(fixture('observe_events.o'), path.join(ws, 'build', 'observe_events.o'));
  },
  teardown: () => releasePipe?.(),
});

/** Execs a few short-lived binaries: exec_tracer sees each. */
const execSome = (n = 5) => {
  for (let i = 0; i < n; i++) execFileSync('/bin/true');
};

test(
  'Run Object opens the Events panel: exec records fill the table with struct exec_event columns; Pause and Clear',
  { timeout: 180_000 },
  wb.shot('events', async (page) => {
    await runCommand(page, 'BPF Lens: Run Object');
    const row = page.locator('.quick-input-list .monaco-list-row', { hasText: 'exec_tracer.bpf.o' }).first();
    await row.waitFor({ timeout: 30_000 });
    await row.click();
    await page.locator('.tab', { hasText: 'Events: exec_tracer.bpf.o' }).first().waitFor({ timeout: 60_000 });

    // The webview's page sits in an iframe within an iframe.
    const view = page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');
    const head = view.locator('#head');
    await head.locator('span', { hasText: 'comm' }).waitFor({ timeout: 30_000 });
    assert.deepEqual(await head.locator('span').allInnerTexts(), ['read at', 'pid', 'ppid', 'start_ns', 'comm']);
    assert.match(await view.locator('#type').innerText(), /struct exec_event \(source line\)/);

    const rows = view.locator('#rows .row');
    // a row whose comm cell (the last) is the binary the test ran
    const ofTrue = rows.filter({ has: view.locator('span:last-child', { hasText: /^true$/ }) });
    await waitFor(
      async () => {
        execSome();
        return (await ofTrue.count()) > 0;
      },
      30_000,
      () => 'no exec record in the Events panel',
    );
    const cells = await ofTrue.first().locator('span').allInnerTexts();
    assert.equal(cells.length, 5);
    assert.match(cells[0], /^\d\d:\d\d:\d\d\.\d{3}$/, 'when the consumer read it');
    assert.match(cells[1], /^\d+$/, 'pid');
    assert.match(cells[3], /^\d+$/, 'start_ns');
    assert.equal(cells[4], 'true', 'comm, decoded as a string');
    const counters = view.locator('#counters');
    await waitFor(
      async () => Number(await counters.getAttribute('data-rate')) > 0,
      10_000,
      () => 'no rate in the counters',
    );
    assert.match(await counters.innerText(), /events\/s · \d+ read · \d+ shown · dropped 0 · lost 0/);
    await runCommand(page, 'Notifications: Clear All Notifications');
    execSome(20);
    await page.waitForTimeout(1000);
    await page.screenshot({ path: screenshotPath('events-panel.png') });

    // Pause: new records are not added; Resume, Clear: the table empties
    await view.locator('#pause').click();
    await page.waitForTimeout(300);
    const frozen = await view.locator('#rows').innerText();
    execSome();
    await page.waitForTimeout(1000);
    assert.equal(await view.locator('#rows').innerText(), frozen, 'paused: the table stays');
    assert.match(await counters.innerText(), /paused \(\d+ not kept\)/);
    // Clear while paused: exec_tracer sees every exec on the machine (other tests run beside
    // this one), so only a paused table can be asserted empty; Resume, and rows come again.
    await view.locator('#clear').click();
    await waitFor(
      async () => (await rows.count()) === 0,
      5_000,
      () => 'Clear left rows',
    );
    await view.locator('#pause').click();
    execSome();
    await rows.first().waitFor({ timeout: 10_000 });
  }),
);

test(
  'Run Object on an object with bpf_printk: its lines in the printk channel, linked to the program and the source line',
  { timeout: 180_000 },
  wb.shot('printk', async (page) => {
    // The last test clicked in exec_tracer's panel, so the workbench gives focus back to that
    // webview when the palette closes; the focus reaches its iframe late, after the quick pick
    // below opened, and a quick pick hides when it loses focus (seen once: its row shown, then
    // gone). Closed, the panel cannot take the focus; its program stays loaded.
    await runCommand(page, 'View: Close All Editors');
    await runCommand(page, 'Notifications: Clear All Notifications');
    await runCommand(page, 'BPF Lens: Run Object');
    const row = page.locator('.quick-input-list .monaco-list-row', { hasText: 'observe_events.o' }).first();
    await row.waitFor({ timeout: 30_000 });
    await row.click();
    await page.locator('.tab', { hasText: 'Events: observe_events.o' }).first().waitFor({ timeout: 60_000 });
    await runCommand(page, 'Output: Show Output Channels');
    const channel = page.locator('.quick-input-list .monaco-list-row', { hasText: 'BPF Lens printk' }).first();
    await channel.waitFor({ timeout: 30_000 });
    await channel.click();
    const marker = `LENSMARK e2e ${process.pid}`;
    const line = page.locator('.monaco-editor .view-line', { hasText: /lens\smarker\swrite\spid=/ }).first();
    await waitFor(
      async () => {
        fs.writeFileSync('/dev/null', marker);
        return (await line.count()) > 0;
      },
      30_000,
      () => 'no bpf_printk line in the printk channel',
    );
    // The channel's text: wrapped view lines joined again in the order they are drawn (the
    // editor draws spaces as U+00A0).
    const shown = await page.evaluate<string>(`(() => {
        const ed = [...document.querySelectorAll('.part.panel .monaco-editor')].find((e) => e.textContent.replace(/\\u00a0/g, ' ').includes('lens marker write'));
        const lines = [...ed.querySelectorAll('.view-line')].sort((a, b) => parseFloat(a.style.top) - parseFloat(b.style.top));
        return lines.map((l) => l.textContent.replace(/\\u00a0/g, ' ')).join('');
      })()`);
    assert.match(
      shown,
      new RegExp(
        `\\[observe_events\\.o on_write\\] lens marker write pid=${process.pid} count=${marker.length} — /\\S+/observe_events\\.bpf\\.c:\\d+ \\(node ${process.pid}, cpu \\d+\\)`,
      ),
    );
    // our link provider: the program and FILE:LINE are links (a wrapped link is drawn in pieces)
    const links = page.locator('.part.panel .monaco-editor .detected-link');
    await waitFor(
      async () => (await links.allInnerTexts()).includes('on_write'),
      10_000,
      () => 'the program is not a link',
    );
    // the link pieces in drawing order (view lines are not kept in DOM order), joined again
    const joined = await page.evaluate<string>(`(() => {
        const top = (e) => parseFloat(e.closest('.view-line').style.top);
        const links = [...document.querySelectorAll('.part.panel .monaco-editor .detected-link')];
        links.sort((a, b) => top(a) - top(b) || a.getBoundingClientRect().left - b.getBoundingClientRect().left);
        return links.map((l) => l.textContent).join('');
      })()`);
    assert.match(joined, /observe_events\.bpf\.c:\d+/, `links: ${joined}`);
    await runCommand(page, 'Notifications: Clear All Notifications');
    await page.waitForTimeout(500);
    await page.screenshot({ path: screenshotPath('printk-channel.png') });
  }),
);
