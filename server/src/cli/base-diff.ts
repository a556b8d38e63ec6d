import { parseArgs } from 'util';
import { BaseDiff, BaseDiffRow, baseDiff } from '../btf/base-diff';
import { distilledModuleBtf } from '../btf/module-btf';
import { RELOCATABLE } from '../btf/relocate';
import { FormatError } from '../common/errors';
import { ElfFile } from '../elf/reader';
import { CliIo, Command, UsageError } from './command';
import { loadBtf, readInput } from './input';

const MAX_USERS = 3;

function users(r: BaseDiffRow): string {
  const names = r.dependents.slice(0, MAX_USERS).map((d) => `${d.kind.toLowerCase()} ${d.name || `[${d.id}]`}`);
  const more = r.dependents.length - MAX_USERS;
  return names.join(', ') + (more > 0 ? ` (+${more})` : '');
}

function table(rows: readonly BaseDiffRow[]): string {
  const head = ['STATUS', 'KIND', 'NAME', 'SIZE', 'TARGET', 'TSIZE', 'USED BY'];
  const cells = rows.map((r) => [
    r.status, r.kind, r.name, String(r.size), r.targetId !== undefined ? `[${r.targetId}]` : '-',
    r.targetSize !== undefined ? String(r.targetSize) : '-', users(r),
  ]);
  const width = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const right = new Set([3, 5]);
  const fmt = (c: string[]) => c.map((x, i) => (i === c.length - 1 ? x : right.has(i) ? x.padStart(width[i]) : x.padEnd(width[i]))).join('  ').trimEnd();
  const lines = [fmt(head)];
  rows.forEach((r, i) => {
    lines.push(fmt(cells[i]));
    if (r.reason && !RELOCATABLE.has(r.status)) lines.push(`    ${r.reason}`);
  });
  return lines.join('\n') + '\n';
}

function summary(d: BaseDiff): string {
  return Object.entries(d.counts).map(([k, n]) => `${n} ${k}`).join(', ');
}

/**
 * `bpf-lens base-diff MODULE.ko --base TARGET [--orig-base VMLINUX] [--json] [--problems]`:
 * each type of the module's distilled base against a target vmlinux BTF — what it maps
 * to, or why it does not, and which of the module's types use it. Exit 0 iff the module's
 * BTF relocates onto TARGET.
 */
export const baseDiffCommand: Command = {
  path: ['base-diff'],
  usage: 'base-diff MODULE.ko --base TARGET [--orig-base VMLINUX] [--json] [--problems]',
  summary: 'Compare a module\'s distilled base BTF (.BTF.base, or distilled from --orig-base) with a target vmlinux BTF; exit 1 if it would not relocate.',
  async run(args: string[], io: CliIo): Promise<number> {
    let parsed;
    try {
      parsed = parseArgs({
        args, allowPositionals: true,
        options: {
          base: { type: 'string', short: 'B' },
          'orig-base': { type: 'string' },
          json: { type: 'boolean', default: false },
          problems: { type: 'boolean', short: 'p', default: false },
        },
      });
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const { values, positionals } = parsed;
    if (positionals.length !== 1) throw new UsageError(positionals.length ? `unexpected argument '${positionals[1]}'` : 'missing MODULE');
    if (!values.base) throw new UsageError('missing --base TARGET (the vmlinux BTF to compare with)');
    const file = positionals[0];
    const elf = new ElfFile(readInput(file), file);
    const orig = values['orig-base'] !== undefined ? loadBtf(values['orig-base']) : undefined;
    if (!orig && !elf.section('.BTF.base')) throw new FormatError(file, '.BTF.base', 0, 'the module has no .BTF.base section: give --orig-base VMLINUX (the vmlinux BTF it was built for) to distill one');
    const { split, fromSection } = distilledModuleBtf(elf, orig);
    const diff = baseDiff(split, loadBtf(values.base));
    const rows = values.problems ? diff.rows.filter((r) => !RELOCATABLE.has(r.status) || r.status === 'size-not-checked') : diff.rows;
    if (values.json) {
      const doc = {
        file, base: values.base, distilledFrom: fromSection ? '.BTF.base' : values['orig-base'],
        relocates: diff.relocates, counts: diff.counts, rows,
      };
      io.out(`${JSON.stringify(doc, null, 2)}\n`);
    } else {
      io.out(`${file}: ${diff.rows.length} distilled base types (${fromSection ? '.BTF.base' : `distilled from ${values['orig-base']}`}) against ${values.base}: ${summary(diff)}\n`);
      io.out(table(rows));
      const bad = diff.rows.length - diff.rows.filter((r) => RELOCATABLE.has(r.status)).length;
      io.out(diff.relocates ? 'relocates\n' : `does not relocate: ${bad} type${bad === 1 ? '' : 's'} without a single match\n`);
    }
    return diff.relocates ? 0 : 1;
  },
};
