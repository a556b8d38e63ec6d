import { writeFileSync } from 'fs';
import { parseArgs } from 'util';
import { distillBase } from '../btf/distill';
import { moduleBtfOn } from '../btf/module-btf';
import { writeBtf } from '../btf/write';
import { ElfFile } from '../elf/reader';
import { SHT_PROGBITS } from '../elf/constants';
import { rewriteElf } from '../elf/writer';
import { CliIo, Command, UsageError } from './command';
import { loadBtf, readInput } from './input';

function kb(n: number): string {
  return n < 10240 ? `${n} bytes` : `${(n / 1024).toFixed(0)} KiB`;
}

/**
 * `bpf-lens distill MODULE.ko --base VMLINUX -o OUT.ko`: what the kernel build does with
 * pahole's distilled_base feature. Writes a copy of the module whose `.BTF` is split BTF
 * on a new `.BTF.base` (the distilled base of VMLINUX), so it can be relocated onto other
 * kernels. Every other section is copied byte for byte.
 */
export const distillCommand: Command = {
  path: ['distill'],
  usage: 'distill MODULE.ko --base VMLINUX -o OUT.ko',
  summary: 'Write a copy of a kernel module with a distilled base BTF (.BTF.base) and its .BTF re-split on it.',
  async run(args: string[], io: CliIo): Promise<number> {
    let parsed;
    try {
      parsed = parseArgs({
        args, allowPositionals: true,
        options: { base: { type: 'string', short: 'B' }, output: { type: 'string', short: 'o' } },
      });
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const { values, positionals } = parsed;
    if (positionals.length !== 1) throw new UsageError(positionals.length ? `unexpected argument '${positionals[1]}'` : 'missing MODULE');
    if (!values.base) throw new UsageError('missing --base VMLINUX (the vmlinux BTF the module was built for)');
    if (!values.output) throw new UsageError('missing -o OUT');
    const file = positionals[0];
    const elf = new ElfFile(readInput(file), file);
    const base = loadBtf(values.base);
    // A module that already has .BTF.base is relocated onto --base first, then distilled anew.
    const split = moduleBtfOn(elf, base);
    const d = distillBase(split);
    const btf = writeBtf(d.split);
    const btfBase = writeBtf(d.base);
    const replace = new Map([['.BTF', btf]]);
    const hadBase = elf.section('.BTF.base') !== undefined;
    if (hadBase) replace.set('.BTF.base', btfBase);
    const out = rewriteElf(elf, {
      replace,
      add: hadBase ? [] : [{ name: '.BTF.base', type: SHT_PROGBITS, data: btfBase, addralign: 4n }],
    });
    writeFileSync(values.output, out);
    const moved = d.split.count - split.count;
    io.out(`${values.output}: .BTF.base ${d.base.count} types (${kb(btfBase.length)}); .BTF ${d.split.count} types `
      + `(${split.count} own + ${moved} moved from the base; ${kb(btf.length)}, was ${kb(elf.section('.BTF')!.size)})\n`);
    return 0;
  },
};
