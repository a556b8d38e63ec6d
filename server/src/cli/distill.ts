import { writeFileSync } from 'fs';
import { distillModule } from '../btf/module-btf';
import { ElfFile } from '../elf/reader';
import { type CliIo, type CommandRun, parseOneInput, UsageError } from './command';
import { loadBtf, readInput } from './input';

function kb(n: number): string {
  return n < 10240 ? `${n} bytes` : `${(n / 1024).toFixed(0)} KiB`;
}

/**
 * `bpf-lens distill MODULE.ko --base VMLINUX -o OUT.ko`: what the kernel build does with
 * pahole's distilled_base feature. Writes a copy of the module whose `.BTF` is split BTF
 * on a new `.BTF.base` (the distilled base of VMLINUX), so it can be relocated onto other
 * kernels; `.BTF_ids` follows the new ids. Every other section is copied byte for byte.
 */
export const distillCommand: CommandRun = {
  async run(args: string[], io: CliIo): Promise<number> {
    const { values, file } = parseOneInput(
      args,
      { base: { type: 'string', short: 'B' }, output: { type: 'string', short: 'o' } },
      'MODULE',
    );
    if (!values.base) throw new UsageError('missing --base VMLINUX (the vmlinux BTF the module was built for)');
    if (!values.output) throw new UsageError('missing -o OUT');
    const elf = new ElfFile(readInput(file), file);
    const r = distillModule(elf, loadBtf(values.base));
    writeFileSync(values.output, r.bytes);
    const moved = r.distilled.split.count - r.original.count;
    const ids = r.btfIds ? `; .BTF_ids ${r.btfIds.slots} ids renumbered` : '';
    io.out(
      `${values.output}: .BTF.base ${r.distilled.base.count} types (${kb(r.btfBase.length)}); .BTF ${r.distilled.split.count} types ` +
        `(${r.original.count} own + ${moved} moved from the base; ${kb(r.btf.length)}, was ${kb(elf.section('.BTF')!.size)})${ids}\n`,
    );
    for (const s of r.btfIds?.unresolved ?? [])
      io.err(`bpf-lens: warning: ${s} names a base type the distilled BTF does not hold; its id is now 0\n`);
    return 0;
  },
};
