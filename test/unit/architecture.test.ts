// The layering DESIGN.md promises, checked on every import the TypeScript compiler parses
// (static, `export … from`, `import x = require()`, require() and import() calls, type-only
// ones too) in server/src, client/src and protocol/. Each failure names the file, the import
// and the rule. Also: no function body over 120 lines, and docs/ARCHITECTURE.md names every
// folder. Parsing only (no type check): well under a second.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import * as ts from 'typescript';
import { ROOT } from '../helpers';

const SOURCES = ['server/src', 'client/src', 'protocol'];
/** The pure engine: bytes in, values out; no syscalls, no front end, no transport. */
const ENGINE = new Set(['elf', 'btf', 'object', 'core', 'link', 'common', 'verifier']);
/** What the engine must never import ('target' is the remote transport's old name). */
const ABOVE_ENGINE = new Set(['kernel', 'load', 'attach', 'run', 'observe', 'targets', 'lsp', 'cli', 'agent', 'remote', 'target']);
const FRONT_ENDS = new Set(['cli', 'lsp', 'agent']);
/** Below the front ends: each imports none of them, nor the layers listed after it. */
const BELOW_FRONT_ENDS: Record<string, readonly string[]> = {
  kernel: ['load', 'attach', 'run', 'observe', 'targets', 'remote', 'target'],
  load: ['attach', 'targets', 'remote', 'target'],
  attach: ['targets', 'remote', 'target'],
  run: ['targets', 'remote', 'target'],
  observe: ['targets', 'remote', 'target'],
  remote: ['targets'],
  targets: [],
};
/**
 * The only front-end-to-front-end imports: `bpf-lens lsp --stdio` and `bpf-lens agent --stdio`
 * start the other process's entry point (a dynamic import, taken only by that subcommand).
 */
const LAUNCHERS = new Set(['server/src/cli/lsp.ts -> server/src/lsp/server.ts', 'server/src/cli/agent.ts -> server/src/agent/main.ts']);
const MAX_BODY_LINES = 120;

interface Import {
  readonly file: string; // repository-relative, '/'-separated
  readonly spec: string; // as written
  readonly target?: string; // repository-relative resolved file, for relative imports
  readonly line: number;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(...sourceFiles(rel));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

/** A relative specifier as the file it names (`./x` → x.ts or x/index.ts). */
function resolve(from: string, spec: string): string {
  const base = path.posix.normalize(path.posix.join(path.posix.dirname(from), spec));
  for (const c of [`${base}.ts`, `${base}/index.ts`, base]) {
    try {
      if (statSync(path.join(ROOT, c)).isFile()) return c;
    } catch {
      // try the next spelling
    }
  }
  return base;
}

/** 'lsp' for server/src/lsp/x.ts, 'client' for client/src/..., 'protocol' for protocol/..., undefined elsewhere. */
function areaOf(file: string): string | undefined {
  const p = file.split('/');
  if (p[0] === 'server' && p[1] === 'src' && p.length > 3) return p[2];
  if (p[0] === 'client' && p[1] === 'src') return 'client';
  if (p[0] === 'protocol') return 'protocol';
  return undefined;
}

interface Parsed {
  readonly imports: Import[];
  readonly bodies: { file: string; name: string; line: number; lines: number }[];
}

function parse(files: string[]): Parsed {
  const imports: Import[] = [];
  const bodies: Parsed['bodies'] = [];
  for (const file of files) {
    const src = ts.createSourceFile(file, readFileSync(path.join(ROOT, file), 'utf8'), ts.ScriptTarget.Latest, true);
    const lineOf = (n: ts.Node) => src.getLineAndCharacterOfPosition(n.getStart(src)).line + 1;
    const add = (spec: string, n: ts.Node) =>
      imports.push({ file, spec, line: lineOf(n), ...(spec.startsWith('.') ? { target: resolve(file, spec) } : {}) });
    const visit = (n: ts.Node): void => {
      if ((ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier))
        add(n.moduleSpecifier.text, n);
      if (
        ts.isImportEqualsDeclaration(n) &&
        ts.isExternalModuleReference(n.moduleReference) &&
        ts.isStringLiteral(n.moduleReference.expression)
      )
        add(n.moduleReference.expression.text, n);
      if (
        ts.isCallExpression(n) &&
        n.arguments.length &&
        ts.isStringLiteralLike(n.arguments[0]) &&
        ((ts.isIdentifier(n.expression) && n.expression.text === 'require') || n.expression.kind === ts.SyntaxKind.ImportKeyword)
      )
        add(n.arguments[0].text, n);
      if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument) && ts.isStringLiteral(n.argument.literal))
        add(n.argument.literal.text, n);
      if (ts.isFunctionLike(n) && 'body' in n && n.body && ts.isBlock(n.body)) {
        const body = n.body;
        const first = src.getLineAndCharacterOfPosition(body.getStart(src)).line;
        const last = src.getLineAndCharacterOfPosition(body.getEnd()).line;
        bodies.push({ file, name: functionName(n), line: first + 1, lines: last - first + 1 });
      }
      ts.forEachChild(n, visit);
    };
    visit(src);
  }
  return { imports, bodies };
}

function functionName(n: ts.SignatureDeclaration): string {
  if (n.name) return n.name.getText();
  if (ts.isVariableDeclaration(n.parent) || ts.isPropertyAssignment(n.parent) || ts.isPropertyDeclaration(n.parent))
    return n.parent.name.getText();
  return '(anonymous)';
}

/** Every broken import rule, one line each: where, what it imports, which rule. */
export function importViolations(imports: readonly Import[]): string[] {
  const bad: string[] = [];
  for (const i of imports) {
    const from = areaOf(i.file);
    const to = i.target !== undefined ? areaOf(i.target) : undefined;
    const where = `${i.file}:${i.line} imports '${i.spec}'${i.target ? ` (${i.target})` : ''}`;
    if ((i.spec === 'koffi' || i.spec.startsWith('koffi/')) && !i.file.startsWith('server/src/kernel/'))
      bad.push(`${where}: koffi is loaded only under server/src/kernel`);
    if (i.spec === 'vscode' && from !== 'client') bad.push(`${where}: only the client runs inside VS Code`);
    if (from === 'client' && i.target && !i.target.startsWith('client/src/') && i.target !== 'protocol/lsp.ts')
      bad.push(`${where}: the client imports nothing but client/src and the wire protocol (protocol/lsp.ts)`);
    if (from === 'protocol' && i.target && !i.target.startsWith('protocol/'))
      bad.push(`${where}: the wire protocols import nothing of the server or the client`);
    if (from !== 'client' && i.target?.startsWith('client/')) bad.push(`${where}: nothing but the client imports client/src`);
    if (!from || !to || from === to) continue;
    if (ENGINE.has(from) && ABOVE_ENGINE.has(to)) bad.push(`${where}: the pure engine (${from}) imports nothing of ${to}/`);
    if ((from === 'common' || (from === 'elf' && to !== 'common')) && !ABOVE_ENGINE.has(to))
      bad.push(`${where}: ${from}/ is the bottom of the engine (common imports no folder, elf only common)`);
    if (from in BELOW_FRONT_ENDS && (FRONT_ENDS.has(to) || BELOW_FRONT_ENDS[from].includes(to)))
      bad.push(`${where}: ${from}/ sits below the front ends and imports nothing of ${to}/`);
    if (FRONT_ENDS.has(from) && FRONT_ENDS.has(to) && !LAUNCHERS.has(`${i.file} -> ${i.target}`))
      bad.push(`${where}: front ends (cli, lsp, agent) never import each other (${from} → ${to})`);
  }
  return bad;
}

/** Folder cycles (a → … → a), each with one import that makes every edge. */
export function folderCycles(imports: readonly Import[]): string[] {
  const edges = new Map<string, Map<string, Import>>();
  for (const i of imports) {
    const from = areaOf(i.file);
    const to = i.target !== undefined ? areaOf(i.target) : undefined;
    if (!from || !to || from === to) continue;
    if (!edges.has(from)) edges.set(from, new Map());
    if (!edges.get(from)!.has(to)) edges.get(from)!.set(to, i);
  }
  const cycles = new Set<string>();
  const walk = (start: string, at: string, trail: string[]) => {
    for (const next of edges.get(at)?.keys() ?? []) {
      if (next === start) {
        const loop = [...trail, at];
        // one report per cycle, from its smallest folder
        if (loop.every((f) => f >= start)) {
          const hops = loop.map((f, k) => {
            const to = loop[k + 1] ?? start;
            const i = edges.get(f)!.get(to)!;
            return `${f} → ${to} (${i.file}:${i.line} '${i.spec}')`;
          });
          cycles.add(hops.join(', '));
        }
      } else if (!trail.includes(next) && next !== at) {
        walk(start, next, [...trail, at]);
      }
    }
  };
  for (const a of edges.keys()) walk(a, a, []);
  return [...cycles];
}

const files = SOURCES.flatMap(sourceFiles);
const parsed = parse(files);

test('the import rules hold: pure engine, front ends apart, koffi in kernel/, the client on the wire protocol only', () => {
  assert.ok(files.length > 100 && parsed.imports.length > 500, `parsed ${files.length} files, ${parsed.imports.length} imports`);
  const bad = importViolations(parsed.imports);
  assert.equal(bad.length, 0, `import rules broken:\n  ${bad.join('\n  ')}`);
});

test('no folder import cycles', () => {
  const cycles = folderCycles(parsed.imports);
  assert.equal(cycles.length, 0, `folder cycles:\n  ${cycles.join('\n  ')}`);
});

test(`no function body over ${MAX_BODY_LINES} lines in server/src, client/src or protocol/`, () => {
  assert.ok(parsed.bodies.length > 1000);
  const long = parsed.bodies.filter((b) => b.lines > MAX_BODY_LINES).map((b) => `${b.file}:${b.line} ${b.name}: ${b.lines} lines`);
  assert.equal(long.length, 0, `functions over ${MAX_BODY_LINES} lines:\n  ${long.join('\n  ')}`);
});

test('the rules catch what they are for: a planted lsp → cli import, koffi outside kernel/, an engine → load import, a cycle', () => {
  const planted: Import[] = [
    { file: 'server/src/lsp/x.ts', spec: '../cli/input', target: 'server/src/cli/input.ts', line: 1 },
    { file: 'server/src/lsp/x.ts', spec: 'koffi', line: 2 },
    { file: 'server/src/core/x.ts', spec: '../load', target: 'server/src/load/index.ts', line: 3 },
    { file: 'client/src/x.ts', spec: '../../server/src/lsp/server', target: 'server/src/lsp/server.ts', line: 4 },
    { file: 'server/src/cli/x.ts', spec: '../lsp/server', target: 'server/src/lsp/server.ts', line: 5 },
    { file: 'server/src/cli/lsp.ts', spec: '../lsp/server', target: 'server/src/lsp/server.ts', line: 6 },
    { file: 'server/src/load/x.ts', spec: '../lsp/targets', target: 'server/src/lsp/targets.ts', line: 7 },
    { file: 'server/src/elf/x.ts', spec: '../btf/btf', target: 'server/src/btf/btf.ts', line: 8 },
  ];
  const bad = importViolations(planted);
  assert.deepEqual(
    bad.map((b) => b.slice(0, b.indexOf(' '))),
    [
      'server/src/lsp/x.ts:1',
      'server/src/lsp/x.ts:2',
      'server/src/core/x.ts:3',
      'client/src/x.ts:4',
      'server/src/cli/x.ts:5',
      'server/src/load/x.ts:7',
      'server/src/elf/x.ts:8',
    ],
  );
  assert.match(bad[0], /server\/src\/lsp\/x\.ts:1 imports '\.\.\/cli\/input' \(server\/src\/cli\/input\.ts\): front ends/);
  assert.deepEqual(folderCycles([planted[0], { file: 'server/src/cli/y.ts', spec: '../lsp/z', target: 'server/src/lsp/z.ts', line: 7 }]), [
    "cli → lsp (server/src/cli/y.ts:7 '../lsp/z'), lsp → cli (server/src/lsp/x.ts:1 '../cli/input')",
  ]);
});

test('docs/ARCHITECTURE.md names every folder of server/src, client/src and protocol/', () => {
  const doc = readFileSync(path.join(ROOT, 'docs', 'ARCHITECTURE.md'), 'utf8');
  const folders = new Set<string>(['protocol', 'client/src']);
  for (const f of files) {
    const dir = path.posix.dirname(f);
    if (dir.startsWith('server/src/')) folders.add(dir);
    else if (dir.startsWith('client/src/')) folders.add(dir);
  }
  const missing = [...folders].filter((d) => !doc.includes(`${d}/`) && !doc.includes(`\`${d}\``));
  assert.deepEqual(missing, [], `docs/ARCHITECTURE.md does not mention: ${missing.join(', ')}`);
});
