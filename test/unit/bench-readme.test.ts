// README's benchmark table against the harness: every section `scripts/bench.mjs --list` has is
// a row, and each row names exactly the npm scripts that run it (as `--plan` says), so the
// table cannot drift from package.json or the harness.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const bench = (...args: string[]) =>
  execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'bench.mjs'), ...args], { encoding: 'utf8' })
    .trim()
    .split('\n');

/** The rows of README's Benchmarks table: section → the npm scripts its row names. */
function readmeRows(): Map<string, string[]> {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf('\n## Benchmarks\n');
  assert.ok(at >= 0, 'README has a Benchmarks section');
  // the goals table: up to the first subsection ("Where it stands" has a row per section too)
  const end = Math.min(...['\n## ', '\n### '].map((h) => readme.indexOf(h, at + 1)).filter((i) => i > 0));
  const section = readme.slice(at + 1, end);
  const rows = new Map<string, string[]>();
  for (const line of section.split('\n')) {
    const m = /^\| `([a-z-]+)` \| ([^|]*) \|/.exec(line);
    if (m)
      rows.set(
        m[1],
        [...m[2].matchAll(/`npm run ([a-z:-]+)`/g)].map((x) => x[1]),
      );
  }
  return rows;
}

/** package.json's bench scripts and the arguments each passes to scripts/bench.mjs. */
function benchScripts(): Map<string, string[]> {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const out = new Map<string, string[]>();
  for (const [name, cmd] of Object.entries(pkg.scripts)) {
    if (!/^bench(:|$)/.test(name)) continue;
    const m = /^node scripts\/bench\.mjs((?: [a-z-]+)*)$/.exec(cmd);
    assert.ok(m, `package.json script ${name} runs scripts/bench.mjs: ${cmd}`);
    out.set(name, m[1].split(' ').filter(Boolean));
  }
  return out;
}

test('README lists every benchmark section, in the harness order', () => {
  const listed = bench('--list').map((l) => l.split(/\s+/)[0]);
  assert.deepEqual([...readmeRows().keys()], listed);
});

test('each README row names exactly the npm scripts that run its section', () => {
  const rows = readmeRows();
  const scripts = benchScripts();
  assert.ok(scripts.has('bench') && scripts.has('bench:all'));
  const expected = new Map([...rows.keys()].map((s) => [s, [] as string[]]));
  for (const [script, args] of scripts) {
    const sections = bench(...args, '--plan');
    assert.ok(sections.length > 0, `npm run ${script} runs some section`);
    for (const s of sections) expected.get(s)?.push(script);
  }
  for (const [section, named] of rows) assert.deepEqual([...named].sort(), expected.get(section)!.sort(), `README row ${section}`);
  for (const script of scripts.keys()) {
    assert.ok(
      [...rows.values()].some((named) => named.includes(script)),
      `README names npm run ${script}`,
    );
  }
});

test('README says where every section stands, in the harness order, each with a verdict', () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf('\n### Where it stands\n');
  assert.ok(at >= 0, 'README has a "Where it stands" subsection under Benchmarks');
  const table = readme.slice(at + 1, readme.indexOf('\n#', at + 1));
  const rows = [...table.matchAll(/^\| `([a-z-]+)`[^|]* \| [^|]+ \| ([^|]+) \|$/gm)];
  const listed = bench('--list').map((l) => l.split(/\s+/)[0]);
  assert.deepEqual(
    rows.map((r) => r[1]),
    listed,
  );
  for (const r of rows) assert.match(r[2], /^(MET|MISSED|not run)\b/, `row ${r[1]} starts its verdict with MET, MISSED or "not run"`);
});
