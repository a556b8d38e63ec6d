#!/usr/bin/env node
// BPF Lens benchmarks. Each section measures one thing against its reference, measured in
// the same run, and prints its goal and the verdict (MET / MISSED). Not a test: nothing here
// fails CI. A section builds what it needs first (tsc, bundles, fixtures, examples).
//   npm run bench                   the quick sections (QUICK below)
//   npm run bench -- all            every section
//   npm run bench -- load lsp       only the named sections
//   npm run bench -- --list         the sections and their goals
//   npm run bench:core -- --plan    the sections that command runs, without running them
// To add a section: a module under scripts/bench/ exporting `sections` [{ name, needs, goal, run }].
import { sections as btf } from './bench/btf.mjs';
import { sections as cold } from './bench/cold.mjs';
import { sections as core } from './bench/core.mjs';
import { ensure } from './bench/lib.mjs';
import { sections as link } from './bench/link.mjs';
import { sections as load } from './bench/load.mjs';
import { sections as lsp } from './bench/lsp.mjs';
import { sections as splitBtf } from './bench/split-btf.mjs';
import { sections as target } from './bench/target.mjs';

const SECTIONS = [...btf, ...cold, ...load, ...core, ...link, ...lsp, ...splitBtf, ...target];
const QUICK = ['dump', 'parse', 'cold', 'load', 'core'];

const args = process.argv.slice(2);
if (args.includes('--list')) {
  for (const s of SECTIONS) console.log(`${s.name.padEnd(10)} ${s.goal}`);
  process.exit(0);
}
const plan = args.includes('--plan');
const names = args.filter((a) => a !== '--plan');
const unknown = names.filter((a) => a !== 'all' && !SECTIONS.some((s) => s.name === a));
if (unknown.length) {
  console.error(`bench: no section ${unknown.join(', ')}; sections: ${SECTIONS.map((s) => s.name).join(', ')}`);
  process.exit(2);
}
const wanted = names.includes('all') ? SECTIONS : SECTIONS.filter((s) => (names.length ? names : QUICK).includes(s.name));
if (plan) {
  for (const s of wanted) console.log(s.name);
  process.exit(0);
}
let failed = 0;
for (const s of wanted) {
  console.log(`== ${s.name}: ${s.goal}`);
  try {
    ensure(s.needs);
    for (const line of await s.run()) console.log(`   ${line}`);
  } catch (e) {
    failed++;
    console.log(`   failed: ${e.message}`);
  }
}
process.exitCode = failed ? 1 : 0;
