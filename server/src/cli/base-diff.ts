import { moduleBaseDiff } from '../btf/base-diff';
import { formatBaseDiff, isProblem } from '../btf/base-diff-text';
import { type CliIo, type CommandRun, parseOneInput, UsageError } from './command';
import { loadBtf, readModuleWithBase } from './input';

/**
 * `bpf-lens base-diff MODULE.ko --base TARGET [--orig-base VMLINUX] [--json] [--problems]`:
 * each type of the module's distilled base against a target vmlinux BTF — what it maps
 * to, or why it does not, and which of the module's types use it. Exit 0 iff the module's
 * BTF relocates onto TARGET.
 */
export const baseDiffCommand: CommandRun = {
  async run(args: string[], io: CliIo): Promise<number> {
    const { values, file } = parseOneInput(
      args,
      {
        base: { type: 'string', short: 'B' },
        'orig-base': { type: 'string' },
        json: { type: 'boolean', default: false },
        problems: { type: 'boolean', short: 'p', default: false },
      },
      'MODULE',
    );
    if (!values.base) throw new UsageError('missing --base TARGET (the vmlinux BTF to compare with)');
    const { elf, orig } = readModuleWithBase(file, values['orig-base']);
    const diff = moduleBaseDiff(elf, loadBtf(values.base), orig);
    const distilledFrom = diff.distilledFrom === '.BTF.base' ? '.BTF.base' : values['orig-base']!;
    if (values.json) {
      const rows = values.problems ? diff.rows.filter(isProblem) : diff.rows;
      const doc = { file, base: values.base, distilledFrom, relocates: diff.relocates, counts: diff.counts, rows };
      io.out(`${JSON.stringify(doc, null, 2)}\n`);
    } else {
      io.out(formatBaseDiff(diff, { module: file, target: values.base, distilledFrom, problemsOnly: values.problems }));
    }
    return diff.relocates ? 0 : 1;
  },
};
