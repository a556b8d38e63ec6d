/** "Distill Base BTF…": a copy of a kernel module with `.BTF.base`, as `bpf-lens distill` writes it. */
import { readFile, writeFile } from 'fs/promises';
import { distillModule } from '../btf/module-btf';
import { btfFromBytes } from '../btf/input';
import { FormatError } from '../common/errors';
import { ElfFile } from '../elf/reader';
import type { DistillParams, DistillResult } from '../../../protocol/lsp';

export async function distillRequest(p: DistillParams): Promise<DistillResult> {
  const t0 = performance.now();
  try {
    const elf = new ElfFile(new Uint8Array(await readFile(p.path)), p.path);
    if (!elf.section('.BTF')) return { ok: false, lines: [`${p.path} has no .BTF section: not a module built with BTF`] };
    if (elf.section('.BTF.base')) return { ok: false, lines: [`${p.path} already has a .BTF.base`] };
    const base = btfFromBytes(new Uint8Array(await readFile(p.base)), p.base);
    const r = distillModule(elf, base);
    await writeFile(p.output, r.bytes);
    const moved = r.distilled.split.count - r.original.count;
    const lines = [
      `${p.output}: .BTF.base ${r.distilled.base.count} types; .BTF ${r.distilled.split.count} types (${r.original.count} own + ${moved} moved from the base)${r.btfIds ? `; .BTF_ids ${r.btfIds.slots} ids renumbered` : ''} (${(performance.now() - t0).toFixed(0)} ms)`,
    ];
    for (const s of r.btfIds?.unresolved ?? [])
      lines.push(`warning: ${s} names a base type the distilled BTF does not hold; its id is now 0`);
    return { ok: true, lines, output: p.output };
  } catch (e) {
    if (e instanceof FormatError || (e as NodeJS.ErrnoException).code) return { ok: false, lines: [(e as Error).message] };
    throw e;
  }
}
