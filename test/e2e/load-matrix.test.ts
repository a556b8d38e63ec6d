// As a user in a real VS Code with a VM target in bpfLens.targets (Debian 6.1's kernel, booted
// under qemu by the language server the first time it is used and kept): "BPF Lens: Load on
// All Targets…" opens the matrix view beside the source — programs as rows, one column per
// kernel with its release (while the VM boots, its stage shows). On the __arg_ctx example every
// program loads on both, 6.1 runs the tagged arguments emulated while this kernel has them
// natively; a loaded cell reveals the program's function. On a CO-RE program written for newer
// kernels (test/fixtures/core_target) 6.1 rejects the read whose field it lacks: its cell opens
// that C line and the verifier walk on 6.1, and the column's CO-RE notes name the two fields.
// A third column, Debian 6.12 with the test module inserted (insmod), is the only kernel
// whose BTF has the module's struct_ops type: its programs load there, the other two say why
// they were not attempted, naming the type. The screenshot goes to the README.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import { runCommand, screenshotPath, useWorkbench, waitFor } from './workbench';
import { debianKernel } from '../kernels';
import { fixture, ROOT } from '../helpers';

const wb = useWorkbench('load-matrix', {
  // objects from test/fixtures (built by make -C test/fixtures): their sources stay there
  setup: (ws) => {
    for (const o of ['core_target.o', 'kmod_structops.o']) fs.copyFileSync(fixture(o), path.join(ws, 'build', o));
  },
  settings: () => ({
    'bpfLens.targets': [
      { name: 'debian-6.1', kernel: debianKernel('6.1').vmlinuz, memory: 512 },
      { name: 'debian-6.12', kernel: debianKernel('6.12').vmlinuz, memory: 512, insmod: [testmod()] },
    ],
  }),
});

/** The test module (a struct_ops type only its BTF has) built for the cached Debian 6.12 kernel. */
function testmod(): string {
  return execFileSync('bash', [path.join(ROOT, 'scripts', 'testmod.sh'), '6.12'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
}

const lineOf = (file: string, re: RegExp) =>
  fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .findIndex((l) => re.test(l));

/** Runs the command on an object and waits for its matrix panel to have every target's answer. */
async function matrixOf(page: Page, object: string, booting = false) {
  await runCommand(page, 'BPF Lens: Load on All Targets');
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: object }).first();
  await row.waitFor({ timeout: 30_000 });
  await row.click();
  await page
    .locator('.tab', { hasText: `All Targets: ${object}` })
    .first()
    .waitFor({ timeout: 60_000 });
  // The webview's page sits in an iframe within an iframe.
  const view = page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');
  // every target answers (the VM boots first: TCG is slow); meanwhile each target says its stage
  if (booting) {
    const stage = view.locator('#progress .stage[data-target="debian-6.1"]');
    await stage.waitFor({ timeout: 30_000 });
    assert.match(await stage.innerText(), /^debian-6\.1: (waiting|booting…|loading…|done)$/);
  }
  await view.locator('body[data-done]').waitFor({ timeout: 500_000 });
  assert.equal(await view.locator('#progress .stage').count(), 0, 'the stages give way to the grid');
  return view;
}

/** The editor's cursor line (1-based) from the status bar, once the active tab is `file`. */
async function cursorLine(page: Page, file: string): Promise<number> {
  await page.locator(`.tab.active[aria-label*="${file}"]`).first().waitFor({ timeout: 30_000 });
  const item = page.locator('.statusbar-item[id="status.editor.selection"]').first();
  let text = '';
  await waitFor(
    async () => /Ln \d+/.test((text = await item.innerText())),
    10_000,
    () => `no cursor position in the status bar: ${text}`,
  );
  return Number(/Ln (\d+)/.exec(text)![1]);
}

test(
  'Load on All Targets: a programs × targets grid, a column per kernel, __arg_ctx native here and on 6.12, emulated on 6.1; a loaded cell reveals its program',
  { timeout: 600_000 },
  wb.shot('load-matrix', async (page) => {
    const view = await matrixOf(page, 'ctx_shared.bpf.o', true);
    const heads = view.locator('thead th[data-target]');
    assert.deepEqual(await heads.evaluateAll((ths) => ths.map((t) => t.getAttribute('data-target'))), [
      'local',
      'debian-6.1',
      'debian-6.12',
    ]);
    const local = view.locator('th[data-target="local"]');
    const vm = view.locator('th[data-target="debian-6.1"]');
    const vm612 = view.locator('th[data-target="debian-6.12"]');
    assert.equal(await local.locator('.release').innerText(), spawnSync('uname', ['-r']).stdout.toString().trim());
    assert.match(await vm.locator('.release').innerText(), /^6\.1\.\d+-/);
    assert.match(await vm612.locator('.release').innerText(), /^6\.12\.\d+/);
    assert.equal(await vm.locator('.kind').innerText(), 'vm');
    assert.equal(await vm612.locator('.kind').innerText(), 'vm');
    assert.equal(await local.locator('.argctx').innerText(), '__arg_ctx: native');
    assert.equal(await vm.locator('.argctx').innerText(), '__arg_ctx: emulated');
    assert.equal(await vm612.locator('.argctx').innerText(), '__arg_ctx: native');
    // every program loaded on the three kernels, with its verified instruction count
    const cells = view.locator('td.cell');
    const programs = await view.locator('tbody tr[data-program]').evaluateAll((rs) => rs.map((r) => r.getAttribute('data-program')!));
    assert.ok(programs.length >= 2, programs.join(', '));
    assert.equal(await cells.count(), programs.length * 3);
    assert.deepEqual([...new Set(await cells.evaluateAll((cs) => cs.map((c) => c.getAttribute('data-status'))))], ['loaded']);
    for (const t of await view.locator('td.cell .insns').allInnerTexts()) assert.match(t, /^[\d,]+ insns verified$/);

    // a loaded cell: the program's function in the source
    const program = programs[0];
    await view.locator(`td.cell[data-target="debian-6.1"][data-program="${program}"]`).click();
    const src = path.join(wb.ws, 'ctx_shared.bpf.c');
    const def = lineOf(src, new RegExp(`\\b${program}\\(`)) + 1;
    const ln = await cursorLine(page, 'ctx_shared.bpf.c');
    assert.ok(ln >= def && ln <= def + 3, `${program} is defined on line ${def}; the cursor is on ${ln}`);
    await runCommand(page, 'View: Close All Editors');
  }),
);

test(
  'a CO-RE program 6.1 rejects and 6.12 loads: its cell opens the C line the verifier refused there and the walk on 6.1; the column notes the missing fields',
  { timeout: 600_000 },
  wb.shot('load-matrix-core', async (page) => {
    const view = await matrixOf(page, 'core_target.o');
    const local = view.locator('td.cell[data-target="local"][data-program="core_target"]');
    const vm = view.locator('td.cell[data-target="debian-6.1"][data-program="core_target"]');
    assert.equal(await local.getAttribute('data-status'), 'loaded');
    assert.equal(await vm.getAttribute('data-status'), 'rejected');
    const vm612 = view.locator('td.cell[data-target="debian-6.12"][data-program="core_target"]');
    assert.equal(await vm612.getAttribute('data-status'), 'loaded');
    const src = path.join(ROOT, 'test', 'fixtures', 'core_target.bpf.c');
    const poisoned = lineOf(src, /CORE-POISONED-6\.1/) + 1;
    assert.equal(await vm.locator('.where').innerText(), `core_target.bpf.c:${poisoned}`);
    // the CO-RE diagnostics of each kernel, in its column: all resolve here and on 6.12, two fields lack on 6.1
    assert.equal(await view.locator('th[data-target="local"] .core').innerText(), 'CO-RE: 3 relocations resolve');
    assert.equal(await view.locator('th[data-target="debian-6.12"] .core').innerText(), 'CO-RE: 3 relocations resolve');
    assert.equal(await view.locator('th[data-target="debian-6.1"] .core').innerText(), 'CO-RE: 2 of 3 do not resolve');
    const notes = await view.locator('section[data-target="debian-6.1"] li.core').allInnerTexts();
    assert.equal(notes.length, 2, notes.join('\n'));
    assert.ok(
      notes.some((n) => /dl_server/.test(n)),
      notes.join('\n'),
    );
    assert.ok(
      notes.some((n) => /i_mtime_sec/.test(n) && new RegExp(`core_target\\.bpf\\.c:${poisoned}$`).test(n)),
      notes.join('\n'),
    );
    await runCommand(page, 'Notifications: Clear All Notifications');
    await page.screenshot({ path: screenshotPath('load-matrix.png') });

    // the rejected cell: the C line, and the verifier's walk on that kernel beside it
    await vm.click();
    assert.equal(await cursorLine(page, 'core_target.bpf.c'), poisoned);
    const walkTab = page.locator('.tab[aria-label*="core_target.verifier.txt"]').first();
    await walkTab.waitFor({ timeout: 120_000 });
    await walkTab.click();
    const editor = page.locator('.editor-group-container.active .monaco-editor .view-lines').first();
    let text = '';
    await waitFor(
      async () => /On target debian-6\.1/.test((text = (await editor.innerText()).replace(/\u00a0/g, ' '))),
      30_000,
      () => `no walk on debian-6.1 in the editor:\n${text}`,
    );
    assert.match(text, /rejected/);
  }),
);

test(
  "struct_ops of a module's type: loads on 6.12 with the module inserted; here and on 6.1 not attempted, naming the type",
  { timeout: 600_000 },
  wb.shot('load-matrix-kmod', async (page) => {
    await runCommand(page, 'View: Close All Editors');
    const view = await matrixOf(page, 'kmod_structops.o');
    const programs = await view.locator('tbody tr[data-program]').evaluateAll((rs) => rs.map((r) => r.getAttribute('data-program')!));
    assert.deepEqual([...programs].sort(), ['lens_one', 'lens_one_plain', 'lens_two']);
    for (const program of programs) {
      const cell = (target: string) => view.locator(`td.cell[data-target="${target}"][data-program="${program}"]`);
      assert.equal(await cell('debian-6.12').getAttribute('data-status'), 'loaded', program);
      assert.match(await cell('debian-6.12').locator('.insns').innerText(), /^[\d,]+ insns verified$/);
      for (const target of ['local', 'debian-6.1']) {
        assert.equal(await cell(target).getAttribute('data-status'), 'not-attempted', `${target} ${program}`);
        assert.match(await cell(target).locator('.detail').innerText(), /struct bpf_lens_testmod_ops/, `${target} ${program}`);
      }
    }
  }),
);
