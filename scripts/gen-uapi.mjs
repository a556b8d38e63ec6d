#!/usr/bin/env node
// Generates server/src/common/uapi.ts: the kernel UAPI numbers BPF Lens uses, by their
// <linux/bpf.h> names — enum bpf_cmd, bpf_map_type, bpf_prog_type, bpf_attach_type,
// bpf_link_type, the BPF_MAP_CREATE and BPF_MAP_UPDATE_ELEM flag enums, the BPF_PROG_LOAD
// flag and BPF_PSEUDO_* defines, BPF_OBJ_NAME_LEN.
//
// Sources, in order: the UAPI header(s) given (default /usr/include/linux/bpf.h), then the
// running kernel's BTF (/sys/kernel/btf/vmlinux through `bpftool btf dump ... format c`) for
// enum members newer than the header (a distribution's header often trails its kernel).
// A name two sources both define must have one value. The file it replaces is read first:
// a name it had that no source has any more is an error (a regeneration on an older machine
// must not drop constants), unless --allow-drop.
//
// Usage: node scripts/gen-uapi.mjs [--no-btf] [--btf FILE] [--allow-drop] [--check] [header.h ...]
//   --check: write nothing; exit 1 when the committed file differs from what would be made.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { release } from 'node:os';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const flag = (f) => {
  const i = args.indexOf(f);
  if (i < 0) return false;
  args.splice(i, 1);
  return true;
};
const noBtf = flag('--no-btf');
const allowDrop = flag('--allow-drop');
const check = flag('--check');
let btfFile = '/sys/kernel/btf/vmlinux';
const bi = args.indexOf('--btf');
if (bi >= 0) [, btfFile] = args.splice(bi, 2);
const headers = args.length ? args : ['/usr/include/linux/bpf.h'];
const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'server', 'src', 'common', 'uapi.ts');

/** The named enums emitted as tables, with the TypeScript name of each. */
const TABLES = [
  ['bpf_cmd', 'BPF_CMD'],
  ['bpf_map_type', 'BPF_MAP_TYPE'],
  ['bpf_prog_type', 'BPF_PROG_TYPE'],
  ['bpf_attach_type', 'BPF_ATTACH_TYPE'],
  ['bpf_link_type', 'BPF_LINK_TYPE'],
];
/** Anonymous enums emitted as constants, found by their first member. */
const ANON = [
  ['BPF_ANY', 'BPF_MAP_UPDATE_ELEM / BPF_MAP_LOOKUP_ELEM flags', false],
  ['BPF_F_NO_PREALLOC', 'BPF_MAP_CREATE map_flags', true],
];
/** #defines emitted as constants, in groups. */
const DEFINES = [
  [
    'BPF_PROG_LOAD prog_flags',
    /^BPF_F_(STRICT_ALIGNMENT|ANY_ALIGNMENT|TEST_RND_HI32|TEST_STATE_FREQ|SLEEPABLE|XDP_HAS_FRAGS|XDP_DEV_BOUND_ONLY|TEST_REG_INVARIANTS)$/,
    true,
  ],
  ['ld_imm64 / call src_reg values', /^BPF_PSEUDO_(MAP_FD|MAP_VALUE|BTF_ID|FUNC|MAP_IDX|MAP_IDX_VALUE|CALL|KFUNC_CALL)$/, false],
  ['object names', /^BPF_OBJ_NAME_LEN$/, false],
];

const stripComments = (s) => s.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/\/\/[^\n]*/g, ' ');

/** Value of a C constant expression made of numbers, known names, shifts and ors. */
function evaluate(expr, known, where) {
  const js = expr.replace(/\b(0x[0-9a-fA-F]+|\d+)[uUlL]*\b/g, '$1').replace(/\b[A-Za-z_]\w*\b/g, (n) => {
    if (!known.has(n)) throw new Error(`${where}: '${expr}' names ${n}, not known before it`);
    return String(known.get(n));
  });
  if (!/^[\s\d()x<|+\-~a-fA-F]*$/.test(js)) throw new Error(`${where}: cannot evaluate '${expr}'`);
  const v = Function(`"use strict"; return (${js});`)();
  if (!Number.isSafeInteger(v)) throw new Error(`${where}: '${expr}' is ${v}`);
  return v < 0 && expr.includes('<<') ? v >>> 0 : v; // (1U << 31) is unsigned in C
}

/** Every enum in C text: { name (undefined when anonymous), members: [[NAME, value]] }. */
function parseEnums(text, where) {
  const enums = [];
  for (const m of stripComments(text).matchAll(/\benum\s+(\w+)?\s*\{([^}]*)\}/g)) {
    const known = new Map();
    let next = 0;
    const members = [];
    let error;
    for (const item of m[2].split(',')) {
      const t = item.trim();
      if (!t || error) continue;
      const mm = /^(\w+)\s*(?:=\s*([\s\S]+))?$/.exec(t);
      try {
        if (!mm) throw new Error(`${where}: enum ${m[1] ?? '(anonymous)'}: cannot read '${t}'`);
        const v = mm[2] !== undefined ? evaluate(mm[2].trim(), known, `${where}: ${mm[1]}`) : next;
        known.set(mm[1], v);
        members.push([mm[1], v]);
        next = v + 1;
      } catch (e) {
        error = e; // a macro-built enum (bpf_func_id): only an error if it is one we need
      }
    }
    enums.push({ name: m[1], members, error });
  }
  return enums;
}

function parseDefines(text, where) {
  const defs = new Map();
  for (const m of stripComments(text).matchAll(/^#define\s+(BPF_\w+)[ \t]+([^\n]+)$/gm)) {
    try {
      defs.set(m[1], evaluate(m[2].trim(), defs, `${where}: ${m[1]}`));
    } catch {
      // not a number (a macro, a string): not ours
    }
  }
  return defs;
}

/** What one source defines: tables by enum name, anonymous enums by first member, defines. */
function readSource(text, where) {
  const enums = parseEnums(text, where);
  const members = (e) => {
    if (e?.error) throw e.error;
    return e?.members ?? [];
  };
  const tables = new Map(TABLES.map(([c]) => [c, members(enums.find((e) => e.name === c))]));
  const anon = new Map(ANON.map(([first]) => [first, members(enums.find((e) => !e.name && e.members[0]?.[0] === first))]));
  return { tables, anon, defines: parseDefines(text, where) };
}

const sources = [];
const sha = (text) => createHash('sha256').update(text).digest('hex').slice(0, 16);
for (const h of headers) {
  const text = readFileSync(h, 'utf8');
  sources.push({ where: h, id: `${h} sha256:${sha(text)}`, ...readSource(text, h) });
}
if (!noBtf && existsSync(btfFile)) {
  const c = execFileSync('bpftool', ['btf', 'dump', 'file', btfFile, 'format', 'c'], { encoding: 'utf8', maxBuffer: 1 << 30 });
  const id = btfFile === '/sys/kernel/btf/vmlinux' ? `kernel ${release()}` : `${btfFile} sha256:${sha(readFileSync(btfFile))}`;
  sources.push({ where: `${btfFile} (BTF)`, id: `BTF of ${id}`, ...readSource(c, btfFile) });
}

/** Members of one list across sources: the first source's order, newer members appended in value order. */
function merge(pick, what) {
  const values = new Map();
  const origin = new Map();
  for (const s of sources) {
    for (const [n, v] of pick(s)) {
      if (n.startsWith('__') || /^MAX_/.test(n)) continue; // counts that grow with the kernel
      if (values.has(n) && values.get(n) !== v) throw new Error(`${what} ${n}: ${values.get(n)} in ${origin.get(n)}, ${v} in ${s.where}`);
      if (!values.has(n)) {
        values.set(n, v);
        origin.set(n, s.where);
      }
    }
  }
  const first = [...values].filter(([n]) => origin.get(n) === sources[0].where);
  const later = [...values].filter(([n]) => origin.get(n) !== sources[0].where).sort((a, b) => a[1] - b[1]);
  return [...first, ...later];
}

const tables = TABLES.map(([c, ts]) => ({ c, ts, members: merge((s) => s.tables.get(c), `enum ${c}`) }));
const anon = ANON.map(([first, doc, shifts]) => ({ doc, shifts, members: merge((s) => s.anon.get(first), `enum { ${first} ... }`) }));
const defines = DEFINES.map(([doc, re, shifts]) => ({
  doc,
  shifts,
  members: merge((s) => [...s.defines].filter(([n]) => re.test(n)), doc).sort((a, b) => a[1] - b[1]),
}));
for (const t of tables) if (t.members.length < 5) throw new Error(`enum ${t.c}: ${t.members.length} members found`);

const bit = (v) => (v > 0 && (v & (v - 1)) === 0 ? `1 << ${Math.log2(v)}` : String(v));
const lines = [
  `// Generated by scripts/gen-uapi.mjs from ${sources.map((s) => s.where.replace(/^.*\/(linux\/bpf\.h)$/, '<$1>').replace(/^\/sys\/kernel\/btf\/vmlinux \(BTF\)$/, "the kernel's BTF (newer enum members)")).join(' and ')}; do not edit.`,
  '// The kernel UAPI numbers BPF Lens uses, by their <linux/bpf.h> names. Pure: used by object/,',
  '// kernel/, load/ and the front ends alike. New kernels only append (old values never change).',
  `// Sources: ${sources.map((s) => s.id).join('; ')}`,
  '',
];
for (const t of tables) {
  lines.push(`/** \`enum ${t.c}\` */`, `export const ${t.ts} = {`);
  for (const [n, v] of t.members) lines.push(`  ${n}: ${v},`);
  lines.push('} as const;', '');
}
for (const g of [...anon, ...defines]) {
  lines.push(`// ${g.doc}`);
  for (const [n, v] of g.members) lines.push(`export const ${n} = ${g.shifts ? bit(v) : v};`);
  lines.push('');
}
lines.push(
  'export type BpfCmd = (typeof BPF_CMD)[keyof typeof BPF_CMD];',
  '',
  '/** Name of a value in one of the tables above (the first name when several share it). */',
  'export function nameOf(table: Readonly<Record<string, number>>, value: number): string {',
  '  for (const [k, v] of Object.entries(table)) if (v === value) return k;',
  '  return `${value}`;',
  '}',
  '',
);
const text = lines.join('\n');

const names = (s) => new Set([...s.matchAll(/^\s+(BPF_\w+): \d+,$|^export const (BPF_\w+) =/gm)].map((m) => m[1] ?? m[2]));
if (existsSync(out)) {
  const before = readFileSync(out, 'utf8');
  const dropped = [...names(before)].filter((n) => !names(text).has(n));
  if (dropped.length && !allowDrop) {
    console.error(`${out}: no source defines ${dropped.join(', ')} any more (an older header or kernel?); --allow-drop to drop them`);
    process.exit(2);
  }
  if (check) {
    if (before !== text) {
      console.error(`${out} differs from what ${sources.map((s) => s.where).join(' + ')} give`);
      process.exit(1);
    }
    process.exit(0);
  }
}
if (!check) writeFileSync(out, text);
console.log(
  `${out}: ${tables.map((t) => `${t.c} ${t.members.length}`).join(', ')}; ${[...anon, ...defines].reduce((n, g) => n + g.members.length, 0)} constants`,
);
