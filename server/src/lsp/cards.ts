/**
 * Hover cards (markdown) for maps and programs: what libbpf will create and load, with
 * key/value C declarations and a layout table whose holes and padding are marked.
 */
import type { Btf } from '../btf/btf';
import { CLimitError, dumpC } from '../btf/dump-c';
import { sizeOf, structLayout, typeName, type RecordLayout } from '../btf/layout';
import type { TypeId } from '../btf/types';
import type { MapFacts, ProgFacts } from './facts';

const MAP_FLAGS: readonly string[] = [
  'BPF_F_NO_PREALLOC',
  'BPF_F_NO_COMMON_LRU',
  'BPF_F_NUMA_NODE',
  'BPF_F_RDONLY',
  'BPF_F_WRONLY',
  'BPF_F_STACK_BUILD_ID',
  'BPF_F_ZERO_SEED',
  'BPF_F_RDONLY_PROG',
  'BPF_F_WRONLY_PROG',
  'BPF_F_CLONE',
  'BPF_F_MMAPABLE',
  'BPF_F_PRESERVE_ELEMS',
  'BPF_F_INNER_MAP',
  'BPF_F_LINK',
  'BPF_F_PATH_FD',
  'BPF_F_VTYPE_BTF_OBJ_FD',
  'BPF_F_TOKEN_FD',
  'BPF_F_SEGV_ON_FAULT',
  'BPF_F_NO_USER_CONV',
];

/** `BPF_F_NO_PREALLOC | BPF_F_RDONLY_PROG`, unknown bits in hex. */
export function mapFlagNames(flags: number): string {
  if (!flags) return '0';
  const names: string[] = [];
  let rest = flags >>> 0;
  MAP_FLAGS.forEach((n, bit) => {
    if (rest & (1 << bit)) {
      names.push(n);
      rest &= ~(1 << bit);
    }
  });
  if (rest) names.push(`0x${rest.toString(16)}`);
  return names.join(' | ');
}

export function mapTypeConst(mapType: string, id: number): string {
  return mapType ? `BPF_MAP_TYPE_${mapType.toUpperCase()}` : `map type ${id}`;
}

/** Where libbpf pins a map pinned by name. */
export const PIN_ROOT = '/sys/fs/bpf';

const MAX_DECL_CHARS = 4000;
/** Layout rows in one card (nested records included); a card stays readable and small. */
const MAX_LAYOUT_ROWS = 400;

export function mapCard(m: MapFacts, btf: Btf | undefined, objectName: string): string {
  const out: string[] = [];
  out.push(`**map** \`${m.name}\` — \`${mapTypeConst(m.mapType, m.mapTypeId)}\`${m.internal ? ' (global data)' : ''}  `);
  out.push(`*${objectName}*, section \`${m.section}\``, '');
  const rows: [string, string][] = [
    ['max_entries', String(m.maxEntries) + maxEntriesNote(m)],
    ['key', typed(btf, m.keyTypeId, m.keySize)],
    ['value', typed(btf, m.valueTypeId, m.valueSize)],
    ['map_flags', m.mapFlags ? `\`${mapFlagNames(m.mapFlags)}\` (0x${(m.mapFlags >>> 0).toString(16)})` : '0'],
  ];
  if (m.numaNode) rows.push(['numa_node', String(m.numaNode)]);
  if (Number(m.mapExtra)) rows.push(['map_extra', `0x${m.mapExtra.toString(16)}`]);
  rows.push(['pinning', m.pinning === 1 ? `by name → \`${PIN_ROOT}/${m.name}\`` : m.pinning ? `unknown (${m.pinning})` : 'none']);
  if (m.inner) {
    const i = m.inner;
    rows.push([
      'inner map',
      `\`${mapTypeConst(i.mapType, i.mapTypeId)}\`, key ${i.keySize} B, value ${i.valueSize} B, max_entries ${i.maxEntries}${i.name ? ` (\`${i.name}\`)` : ''}`,
    ]);
  }
  if (m.initialSlots.length) rows.push(['initial slots', m.initialSlots.map((s) => `[${s.slot}] = \`${s.target}\``).join(', ')]);
  out.push('| | |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${v} |`));
  for (const [what, id] of [
    ['key', m.keyTypeId],
    ['value', m.valueTypeId],
  ] as const) {
    if (btf && id) out.push('', ...typeSection(btf, id, what));
  }
  if (m.inner?.valueTypeId && btf) out.push('', ...typeSection(btf, m.inner.valueTypeId, 'inner value'));
  return out.join('\n');
}

function maxEntriesNote(m: MapFacts): string {
  if (m.mapType === 'perf_event_array' && m.maxEntries === 0) return ' (libbpf uses the number of possible CPUs)';
  if ((m.mapType === 'ringbuf' || m.mapType === 'user_ringbuf') && m.maxEntries) return ` bytes (${formatBytes(m.maxEntries)})`;
  return '';
}

function formatBytes(n: number): string {
  return n >= 1 << 20 && n % (1 << 20) === 0 ? `${n >> 20} MiB` : n >= 1024 && n % 1024 === 0 ? `${n >> 10} KiB` : `${n} B`;
}

function typed(btf: Btf | undefined, id: TypeId | undefined, size: number): string {
  if (!btf || !id) return `${size} bytes`;
  return `\`${safe(() => typeName(btf, id), `type [${id}]`)}\` (${size || safe(() => sizeOf(btf, id), 0)} bytes)`;
}

function safe<T>(f: () => T, fallback: T): T {
  try {
    return f();
  } catch {
    return fallback;
  }
}

/** The C declaration of a key/value type and, for records, its layout table. */
function typeSection(btf: Btf, id: TypeId, what: string): string[] {
  const rid = btf.skipTypedefs(id);
  const t = btf.get(rid);
  if (!t) return [];
  const out: string[] = [];
  const named = t.name !== '' && (t.kind === 'STRUCT' || t.kind === 'UNION' || t.kind === 'ENUM' || t.kind === 'ENUM64');
  if (named || btf.get(id)?.kind === 'TYPEDEF') {
    // the limit holds while the text is made: reused anonymous records can spell 16^depth copies
    let c = safe(() => {
      try {
        return dumpC(btf, { types: [id], maxChars: MAX_DECL_CHARS + 1000 });
      } catch (e) {
        if (e instanceof CLimitError) return e.partial;
        throw e;
      }
    }, '');
    c = c
      .replace(/^#ifndef [^\n]*\n#define [^\n]*\n\n?/, '')
      .replace(/\n*#endif[^\n]*\n*$/, '')
      .replace(/#ifndef BPF_NO_PRESERVE_ACCESS_INDEX[\s\S]*?#endif\n*/g, '')
      .replace(/#pragma[^\n]*\n/g, '')
      .trim();
    if (c.length > MAX_DECL_CHARS) c = `${c.slice(0, MAX_DECL_CHARS)}\n/* … */`;
    if (c) out.push(`${what}:`, '```c', c, '```');
  }
  if (t.kind === 'STRUCT' || t.kind === 'UNION') {
    const layout = safe(() => structLayout(btf, rid, { maxRows: MAX_LAYOUT_ROWS }), undefined);
    if (layout) out.push(...layoutTable(layout, what));
  }
  return out;
}

/** `| offset | size | field |` rows; holes and tail padding get rows of their own. */
export function layoutTable(l: RecordLayout, what = ''): string[] {
  const out = [
    `${what ? `${what} ` : ''}layout (${l.size} bytes${l.holes ? `, ${l.holes} hole${l.holes > 1 ? 's' : ''} (${l.holeBytes} B)` : ''}${l.tailPadding ? `, ${l.tailPadding} B padding` : ''}):`,
    '',
    '| offset | size | field |',
    '|---:|---:|---|',
  ];
  const rows = (layout: RecordLayout, prefix: string) => {
    for (const r of layout.rows) {
      if (r.holeBefore) out.push(`| ${r.offset - r.holeBefore} | ${r.holeBefore} | ⚠ *hole* |`);
      if (r.bitHoleBefore) out.push(`| | ${r.bitHoleBefore} bits | ⚠ *bit hole* |`);
      const field = r.bitSize ? `${r.typeName} ${r.name}:${r.bitSize}` : `${r.typeName} ${r.name}`;
      const where = r.bitSize ? `${r.offset} (bit ${r.bitOffset % 8})` : String(r.offset);
      out.push(
        `| ${where} | ${r.bitSize ? `${r.bitSize} bits` : r.size} | \`${prefix}${field.trim()}\`${r.sameAs ? ` (as \`${r.sameAs}\`)` : ''} |`,
      );
      if (r.inner) rows(r.inner, `${prefix}${r.name ? `${r.name}.` : '  '}`);
    }
  };
  rows(l, '');
  if (l.omitted) out.push(`| | | *… ${l.omitted} more fields not shown* |`);
  if (l.tailPadding) out.push(`| ${l.size - l.tailPadding} | ${l.tailPadding} | *padding* |`);
  return out;
}

export function programCard(p: ProgFacts, objectName: string): string {
  const out: string[] = [];
  if (p.entry) {
    out.push(`**program** \`${p.name}\` — \`SEC("${p.section}")\`  `, `*${objectName}*`, '');
    const rows: [string, string][] = [
      ['program type', p.progType ? `\`BPF_PROG_TYPE_${p.progType.toUpperCase()}\`` : 'unknown section name'],
      ['expected attach type', p.attachType ? `\`BPF_${p.attachType.toUpperCase()}\`` : '—'],
      ['instructions', String(p.insnCount)],
    ];
    if (p.attachTo) rows.push(['attach target', `\`${p.attachTo}\``]);
    if (p.sleepable) rows.push(['sleepable', 'yes (BPF_F_SLEEPABLE)']);
    if (p.autoload === false) rows.push(['autoload', 'off (`?` section): libbpf does not load it unless asked']);
    if (p.callees.length) rows.push(['calls', p.callees.map((c) => `\`${c}\``).join(', ')]);
    out.push('| | |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${v} |`));
  } else {
    out.push(`**${p.global ? 'global' : 'static'} subprogram** \`${p.name}\`  `, `*${objectName}*, section \`${p.section}\``, '');
    const rows: [string, string][] = [
      [
        'linkage',
        p.global ? 'global: the verifier checks it once, on its own, from its BTF signature' : 'static: verified inline with each caller',
      ],
      ['instructions', String(p.insnCount)],
      ['called by programs', p.callers.length ? p.callers.map((c) => `\`${c}\``).join(', ') : 'none (not loaded)'],
    ];
    if (p.callees.length) rows.push(['calls', p.callees.map((c) => `\`${c}\``).join(', ')]);
    out.push('| | |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${v} |`));
  }
  return out.join('\n');
}
