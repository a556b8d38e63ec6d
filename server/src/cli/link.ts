import { writeFileSync } from 'fs';
import { parseArgs } from './args';
import { LinkError, linkObjects } from '../link/linker';
import { type CliIo, type CommandRun, UsageError } from './command';
import { readWithoutDwarf } from './input';

/**
 * `bpf-lens link A.o B.o ... -o OUT.o`: the static linker (what `bpftool gen object` does):
 * one object with the sections, symbols, relocations, BTF (deduplicated) and BTF.ext of
 * all of them. Every problem (duplicate strong definitions, unresolved externs, extern
 * maps that do not match) is printed, one per line.
 */
export const linkCommand: CommandRun = {
  async run(args: string[], io: CliIo): Promise<number> {
    let parsed;
    try {
      parsed = parseArgs({
        args,
        allowPositionals: true,
        options: { output: { type: 'string', short: 'o' }, quiet: { type: 'boolean', short: 'q' } },
      });
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const { values, positionals } = parsed;
    if (positionals.length === 0) throw new UsageError('missing input objects');
    if (!values.output) throw new UsageError('missing -o OUT.o');
    const inputs = positionals.map((file) => ({ file, bytes: readWithoutDwarf(file) }));
    const t0 = process.hrtime.bigint();
    let r;
    try {
      r = linkObjects(inputs);
    } catch (e) {
      if (!(e instanceof LinkError)) throw e;
      for (const p of e.problems) io.err(`bpf-lens: link: ${p}\n`);
      return 1;
    }
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    writeFileSync(values.output, r.bytes);
    if (r.btf && !r.btf.deduplicated)
      io.err(`bpf-lens: link: warning: BTF dedup gave up (type chains too long to compare); the output keeps all ${r.btf.typesIn} types\n`);
    if (values.quiet) return 0;
    const btf = r.btf ? `; BTF ${r.btf.typesIn} types → ${r.btf.typesOut} after dedup` : '';
    io.out(
      `${values.output}: ${positionals.length} objects, ${r.sections.length} sections, ${r.symbols} symbols${btf} (${ms.toFixed(1)} ms)\n`,
    );
    for (const g of r.globals) {
      if (g.usedBy.length === 0 && g.weakLosers.length === 0) continue;
      const where = g.definedIn ? `${g.definedIn} (${g.section})` : `the kernel (${g.kernel})`;
      const weak = g.weakLosers.length ? `; overrides __weak in ${g.weakLosers.join(', ')}` : '';
      io.out(`  ${g.name} → ${where}${g.usedBy.length ? `, used by ${g.usedBy.join(', ')}` : ''}${weak}\n`);
    }
    return 0;
  },
};
