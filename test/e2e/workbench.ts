/**
 * A real VS Code (code-server 4.100.3 = VS Code 1.100.3) with the packaged BPF Lens VSIX,
 * driven like a person through Debian's chromium with playwright-core. See
 * /work/shared/E2E.md: code-server is installed once into a cache outside the checkout
 * (scripts/code-server.sh), chromium comes from Debian (scripts/setup.sh), nothing is
 * downloaded at test time.
 */
import { after, before } from 'node:test';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

export const ROOT = path.resolve(__dirname, '..', '..', '..');
export const SCREENSHOTS = path.join(ROOT, 'docs', 'screenshots');
const CHROMIUM = '/usr/bin/chromium';

function sh(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): string {
  return execFileSync(cmd, args, {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();
}

/** Installs what the suite needs (idempotent) and packs the VSIX from the current dist/. */
export function prepare(dir: string): { codeServer: string; vsix: string } {
  const codeServer = sh('bash', ['scripts/code-server.sh']);
  if (!fs.existsSync(CHROMIUM)) sh('bash', ['scripts/setup.sh']);
  if (!fs.existsSync(path.join(ROOT, 'dist', 'client.js'))) sh('npm', ['run', '-s', 'build']);
  // Several e2e files run at once: one make at a time writes examples/build.
  sh('flock', [path.join(os.tmpdir(), 'bpf-lens-examples.lock'), 'make', '-s', '-C', 'examples']);
  const [vsix] = packageVsix(dir);
  return { codeServer, vsix };
}

/** This machine's VS Code platform, the VSIX it installs: linux-x64 or linux-arm64. */
export const HOST_TARGET = `linux-${process.arch}`;

/** Packs the VSIX of each target into `dir` from the current dist/ (scripts/package.sh): their paths. */
export function packageVsix(dir: string, targets: string[] = [HOST_TARGET]): string[] {
  return sh('bash', ['scripts/package.sh', dir], { BPF_LENS_SKIP_BUILD: '1', BPF_LENS_TARGETS: targets.join(' ') }).split('\n');
}

/**
 * A copy of examples/ the test may change, built there: objects record their source paths
 * (BTF line info), which is how BPF Lens ties a source to its object.
 */
export function copyExamples(dir: string): string {
  const ws = path.join(dir, 'examples');
  const src = path.join(ROOT, 'examples');
  fs.mkdirSync(path.join(ws, 'build'), { recursive: true });
  for (const f of fs.readdirSync(src))
    if (f === 'Makefile' || f.endsWith('.c') || f.endsWith('.h')) fs.copyFileSync(path.join(src, f), path.join(ws, f));
  for (const f of fs.readdirSync(path.join(src, 'build')))
    if (!f.endsWith('.o')) fs.cpSync(path.join(src, 'build', f), path.join(ws, 'build', f), { recursive: true, preserveTimestamps: true });
  sh('make', ['-s', '-C', ws]);
  return ws;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export interface Session {
  page: Page;
  /** Everything code-server printed (its log, the extension host's errors). */
  log(): string;
  close(): Promise<void>;
}

export interface Server {
  port: number;
  /** Everything code-server printed (its log, the extension host's errors). */
  log: () => string;
  kill: () => void;
}

/**
 * Serves `folder` on loopback from a fresh profile in `dir`, with `vsix` installed first when
 * given (the extension-host suite passes none: it loads the extension as a development one).
 */
export async function startCodeServer(dir: string, codeServer: string, folder: string, vsix?: string): Promise<Server> {
  const profile = { 'user-data-dir': path.join(dir, 'user'), 'extensions-dir': path.join(dir, 'extensions') };
  const common = [
    '--config',
    path.join(dir, 'config.yaml'),
    '--user-data-dir',
    profile['user-data-dir'],
    '--extensions-dir',
    profile['extensions-dir'],
  ];
  fs.mkdirSync(path.join(profile['user-data-dir'], 'User'), { recursive: true });
  // A quiet workbench: no welcome page, no chat, hovers that appear at once.
  fs.writeFileSync(
    path.join(profile['user-data-dir'], 'User', 'settings.json'),
    JSON.stringify({
      'workbench.startupEditor': 'none',
      'workbench.tips.enabled': false,
      'editor.hover.delay': 100,
      'security.workspace.trust.enabled': false,
      'chat.disableAIFeatures': true,
      'telemetry.telemetryLevel': 'off',
      'extensions.ignoreRecommendations': true,
      'window.commandCenter': false,
      'extensions.autoCheckUpdates': false,
      'extensions.autoUpdate': false,
    }),
  );
  if (vsix) sh(codeServer, [...common, '--install-extension', vsix]);
  const port = await freePort();
  let out = '';
  const proc: ChildProcess = spawn(
    codeServer,
    [
      '--bind-addr',
      `127.0.0.1:${port}`,
      '--auth',
      'none',
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      ...common,
      folder,
    ],
    { cwd: dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  proc.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  proc.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const kill = () => {
    try {
      process.kill(-proc.pid!, 'SIGKILL');
    } catch {
      /* already gone */
    }
  };
  try {
    await waitFor(
      () => out.includes('HTTP server listening'),
      30_000,
      () => `code-server did not start:\n${out}`,
    );
  } catch (e) {
    kill();
    throw e;
  }
  return { port, log: () => out, kill };
}

/** Installs the VSIX into a fresh profile, serves `folder` on loopback and opens it in chromium. */
export async function openWorkbench(dir: string, codeServer: string, vsix: string, folder: string): Promise<Session> {
  const server = await startCodeServer(dir, codeServer, folder, vsix);
  try {
    const w = await openBpfLens(`http://127.0.0.1:${server.port}/?folder=${encodeURIComponent(folder)}`);
    return {
      page: w.page,
      log: server.log,
      close: async () => {
        await w.close();
        server.kill();
      },
    };
  } catch (e) {
    server.kill();
    throw e;
  }
}

export interface WorkbenchOptions {
  /** Makes the folder VS Code opens inside `dir`: a built copy of examples/ unless given. */
  workspace?: (dir: string) => string;
  /** Runs once the workspace exists, before code-server starts (objects to build, hosts to start). */
  setup?: (ws: string) => void | Promise<void>;
  /** The workspace's .vscode/settings.json, asked for after `setup` (it may name what setup made). */
  settings?: () => Record<string, unknown>;
  /** Runs after code-server closed (also when `before` failed), before `dir` is removed. */
  teardown?: () => void | Promise<void>;
}

export interface Workbench {
  /** The test file's own temporary folder (the VSIX, the profile, the workspace). */
  readonly dir: string;
  /** The folder VS Code opened (once `before` ran). */
  readonly ws: string;
  readonly page: Page;
  readonly session: Session;
  /** A test body: `fn` on the page; when it fails, a screenshot named `name` (see shotOnFailure). */
  shot(name: string, fn: (page: Page) => Promise<void>): () => Promise<void>;
}

/**
 * The preamble of a workbench test file, as node:test hooks: `before` packs the VSIX, makes the
 * workspace and opens it in VS Code; `after` closes it and removes the temporary folder.
 */
export function useWorkbench(tag: string, opts: WorkbenchOptions = {}): Workbench {
  const dir = tmpDir(tag);
  let ws: string | undefined;
  let session: Session | undefined;
  const opened = (): Session => {
    if (!session) throw new Error(`the ${tag} workbench is not open`);
    return session;
  };
  before(async () => {
    const { codeServer, vsix } = prepare(dir);
    const folder = (ws = (opts.workspace ?? copyExamples)(dir));
    await opts.setup?.(folder);
    if (opts.settings) {
      fs.mkdirSync(path.join(folder, '.vscode'), { recursive: true });
      fs.writeFileSync(path.join(folder, '.vscode', 'settings.json'), JSON.stringify(opts.settings(), null, 2));
    }
    session = await openWorkbench(dir, codeServer, vsix, folder);
  });
  after(async () => {
    try {
      await session?.close();
    } finally {
      try {
        await opts.teardown?.();
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
  });
  return {
    dir,
    get ws() {
      if (ws === undefined) throw new Error(`the ${tag} workbench has no workspace yet`);
      return ws;
    },
    get page() {
      return opened().page;
    },
    get session() {
      return opened();
    },
    shot: (name, fn) => () => shotOnFailure(opened().page, name, () => fn(opened().page)),
  };
}

/** Builds one BPF object from a C source in `cwd` as the examples' Makefile does (clang -target bpf -g -O2). */
export function buildBpf(cwd: string, src: string, out: string): void {
  const arch = execFileSync('gcc', ['-print-multiarch'], { encoding: 'utf8' }).trim() || 'x86_64-linux-gnu';
  execFileSync('clang', ['-target', 'bpf', '-g', '-O2', `-I/usr/include/${arch}`, '-c', src, '-o', out], { cwd });
}

/** Debian's chromium, as playwright-core drives it here (never a downloaded browser). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

/** Opens a served VS Code in chromium and waits until BPF Lens's language server runs. */
export async function openBpfLens(url: string): Promise<{ page: Page; close(): Promise<void> }> {
  const browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: 1400, height: 860 } });
  try {
    await page.goto(url);
    await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    // BPF Lens's status item turns to a check once its language server runs.
    await page.locator('.statusbar-item', { hasText: 'BPF' }).locator('.codicon-check').first().waitFor({ timeout: 90_000 });
    return {
      page,
      close: async () => {
        await browser.close().catch(() => undefined);
      },
    };
  } catch (e) {
    const shot = path.join(os.tmpdir(), 'bpf-lens-e2e-open.png');
    await page.screenshot({ path: shot }).catch(() => undefined);
    await browser.close().catch(() => undefined);
    throw new Error(`BPF Lens did not start in ${url} (screenshot: ${shot})`, { cause: e });
  }
}

export async function waitFor(cond: () => boolean | Promise<boolean>, ms: number, why: () => string): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(why());
}

/** Quick Open (Ctrl+P) a file of the workspace by name. */
export async function openFile(page: Page, name: string): Promise<void> {
  await page.keyboard.press('Control+P');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor();
  await input.fill(name);
  await page.locator('.quick-input-list .monaco-list-row').first().waitFor();
  await page.keyboard.press('Enter');
  await page.locator(`.tab.active[aria-label*="${name}"], .tab.active [aria-label*="${name}"]`).first().waitFor();
  await page.locator('.monaco-editor .view-lines').first().waitFor();
}

/** Runs a command from the palette (F1) by its full title, e.g. "BPF Lens: Re-index Objects". */
export async function runCommand(page: Page, title: string): Promise<void> {
  const input = page.locator('.quick-input-widget input');
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
  // The palette snapshots the commands when it opens: one opened while extensions were still
  // registering misses theirs, so close it and open it again.
  for (let attempt = 1; ; attempt++) {
    await page.keyboard.press('F1');
    await input.waitFor();
    // Typed like a person: filling the box at once is not always seen by the palette.
    await input.fill('>');
    await page.keyboard.type(title, { delay: 10 });
    try {
      await row.waitFor({ timeout: 5_000 });
      break;
    } catch (e) {
      if (attempt < 4) {
        await page.keyboard.press('Escape');
        continue;
      }
      const shot = path.join(os.tmpdir(), 'bpf-lens-e2e-palette.png');
      await page.screenshot({ path: shot });
      throw new Error(`the command palette has no "${title}" (screenshot: ${shot})`, { cause: e });
    }
  }
  await row.click();
}

/** Runs `fn`; when it fails, saves a screenshot of the page to /tmp and names it in the error. */
export async function shotOnFailure<T>(page: Page, name: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const shot = path.join(os.tmpdir(), `bpf-lens-e2e-fail-${name}.png`);
    await page.screenshot({ path: shot }).catch(() => undefined);
    if (e instanceof Error) e.message += ` (screenshot: ${shot})`;
    throw e;
  }
}

const WORD_BOX = `([src, flags, w]) => {
  const re = new RegExp(src, flags);
  for (const el of document.querySelectorAll('.monaco-editor .view-line')) {
    // Monaco draws spaces as U+00A0.
    if (!re.test((el.textContent || '').replace(/\\u00a0/g, ' '))) continue;
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const at = (n.textContent || '').search(new RegExp('\\\\b' + w + '\\\\b'));
      if (at < 0) continue;
      const r = document.createRange();
      r.setStart(n, at);
      r.setEnd(n, at + w.length);
      const b = r.getBoundingClientRect();
      return { x: b.x + b.width / 2, y: b.y + b.height / 2 };
    }
  }
  return null;
}`;

/** Where the word `word` is drawn on the first rendered line of the active editor matching `line`. */
export async function wordBox(page: Page, line: RegExp, word: string): Promise<{ x: number; y: number }> {
  // A string, so that this file needs no DOM types: it runs in the page.
  const box = await page.evaluate<{ x: number; y: number } | null>(`(${WORD_BOX})(${JSON.stringify([line.source, line.flags, word])})`);
  if (!box) throw new Error(`no rendered line matching ${line} with the word ${word}`);
  return box;
}

/** Goes to a line of the active editor (Ctrl+G) so that it is rendered. */
export async function gotoLine(page: Page, line: number): Promise<void> {
  await page.keyboard.press('Control+G');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor();
  await input.fill(`:${line}`);
  await page.keyboard.press('Enter');
}

/** Hovers the word `word` on the line matching `line` and returns the hover's text. */
export async function hover(page: Page, line: RegExp, word: string): Promise<string> {
  const hoverBox = page.locator('.monaco-hover:not(.hidden)').first();
  const end = Date.now() + 30_000;
  // The language server may still be indexing: move away and back until a hover shows.
  while (Date.now() < end) {
    const at = await wordBox(page, line, word);
    await page.mouse.move(5, 5);
    await page.mouse.move(at.x, at.y, { steps: 3 });
    try {
      await hoverBox.waitFor({ state: 'visible', timeout: 3000 });
      const text = await hoverBox.innerText();
      if (text.trim() && !/^Loading/.test(text.trim())) return text;
    } catch {
      /* retry */
    }
  }
  await page.screenshot({ path: path.join(os.tmpdir(), 'bpf-lens-e2e-no-hover.png') });
  throw new Error(`no hover appeared over ${word} (screenshot: ${path.join(os.tmpdir(), 'bpf-lens-e2e-no-hover.png')})`);
}

export function screenshotPath(name: string): string {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  return path.join(SCREENSHOTS, name);
}

export function tmpDir(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `bpf-lens-e2e-${tag}-`));
}

/**
 * code-server's open and save dialogs are a quick input holding a path: once it shows what it
 * offers (`offered`: a suffix, '/' for the folder it opened on), type `file` and accept it.
 */
export async function fileDialog(page: Page, offered: string, file: string): Promise<void> {
  const input = page.locator('.quick-input-widget input');
  await input.waitFor();
  await waitFor(
    async () => (await input.inputValue()).endsWith(offered),
    30_000,
    () => `the file dialog did not offer …${offered}`,
  );
  await waitFor(
    async () => {
      await input.fill(file);
      await page.waitForTimeout(300);
      return (await input.inputValue()) === file;
    },
    30_000,
    () => 'the file dialog did not keep the typed path',
  );
  await page.keyboard.press('Enter');
}
