import * as path from 'path';
import { parseBtf } from '../btf/btf';
import { parseBtfExt } from '../btf/ext';
import { FormatError } from '../common/errors';
import { CandidateCache, type CoreReloReport, type TargetBtf, relocateCore, reloReason } from '../core';
import { ElfFile } from '../elf/reader';
import { type CliIo, type CommandRun, parseOneInput, UsageError } from './command';
import { sysfsKernelBtfs } from '../kernel/sysfs-btf';
import { loadBtf, readInput } from './input';

const json = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x), 2);

function line(r: CoreReloReport): string {
  const target = r.targetValue !== undefined ? `${r.targetValue}` : r.status === 'poisoned' ? 'poison' : '?';
  const head = `  relo #${String(r.index).padEnd(3)} insn #${String(r.insnIndex).padEnd(5)} ${r.kindName.padEnd(17)} ${r.access.padEnd(36)} ${r.localValue ?? '?'} -> ${target}`;
  if (r.status === 'ok') return head;
  const why = reloReason(r);
  return `${head}  [${r.status}]\n      ${why ?? ''}`;
}

/**
 * `bpf-lens relocate OBJ [--btf FILE [--module FILE]...] [--problems] [--json]`: computes
 * every CO-RE relocation of a BPF object against a kernel's BTF (by default the running
 * kernel's vmlinux and module BTFs) as libbpf would, without loading anything. `--btf` is
 * named as in `load`; the old `--target` (which `load` uses for a host) still works, with a note.
 */
export const relocateCommand: CommandRun = {
  async run(args: string[], io: CliIo): Promise<number> {
    const { values, file } = parseOneInput(
      args,
      {
        btf: { type: 'string' },
        target: { type: 'string', short: 't' },
        module: { type: 'string', short: 'm', multiple: true },
        problems: { type: 'boolean', short: 'p', default: false },
        json: { type: 'boolean', default: false },
      },
      'OBJ',
    );
    if (values.btf !== undefined && values.target !== undefined) throw new UsageError('give --btf only (--target is its old name)');
    if (values.target !== undefined) io.err('bpf-lens: relocate --target is deprecated, use --btf (as load does)\n');
    const btfFile = values.btf ?? values.target;
    if (values.module?.length && !btfFile) throw new UsageError('--module needs --btf (the vmlinux BTF it splits from)');
    const elf = new ElfFile(readInput(file), file);
    const btfSec = elf.section('.BTF');
    if (!btfSec) throw new FormatError(file, '.BTF', 0, 'the object has no .BTF section (was it compiled with -g?)');
    const localBtf = parseBtf(btfSec.data, { file, section: '.BTF' });
    const extSec = elf.section('.BTF.ext');
    const ext = extSec ? parseBtfExt(extSec.data, localBtf, file) : undefined;

    let targets: TargetBtf[];
    if (btfFile) {
      const vmlinux = { name: path.basename(btfFile), btf: loadBtf(btfFile) };
      targets = [
        vmlinux,
        ...(values.module ?? []).map((m) => ({ name: path.basename(m).replace(/\.ko$/, ''), btf: loadBtf(m, vmlinux.btf) })),
      ];
    } else {
      targets = sysfsKernelBtfs();
    }
    const cache = new CandidateCache(localBtf, targets);
    const sections = (ext?.coreRelos ?? []).map((sec) => {
      const code = elf.section(sec.section);
      if (!code) throw new FormatError(file, '.BTF.ext', 0, `CO-RE records name section '${sec.section}', which the object does not have`);
      return { section: sec.section, ...relocateCore({ localBtf, relos: sec.records, insns: code.data.slice(), targets, cache }) };
    });
    const fatal = sections.some((s) => !s.ok);
    if (values.json) {
      io.out(
        `${json({ file, targets: targets.map((t) => t.name), sections: sections.map((s) => ({ section: s.section, ok: s.ok, relocations: s.reports })) })}\n`,
      );
      return fatal ? 1 : 0;
    }
    const total = sections.reduce((n, s) => n + s.reports.length, 0);
    io.out(`${file}: ${total} CO-RE relocation${total === 1 ? '' : 's'} against ${targets.map((t) => t.name).join(', ')}\n`);
    for (const s of sections) {
      const counts = new Map<string, number>();
      for (const r of s.reports) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
      const summary = [...counts].map(([k, n]) => `${n} ${k}`).join(', ');
      const shown = s.reports.filter((r) => !values.problems || r.status !== 'ok');
      io.out(`${s.section}: ${summary}\n${shown.map(line).join('\n')}${shown.length ? '\n' : ''}`);
    }
    if (fatal) io.err('bpf-lens: some relocations are ambiguous or invalid: libbpf would refuse to load this object\n');
    return fatal ? 1 : 0;
  },
};
