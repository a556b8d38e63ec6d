import { type Btf } from '../btf/btf';
import { dumpCTo } from '../btf/dump-c';
import { dumpRawTo } from '../btf/dump-raw';
import { distilledModuleBtf } from '../btf/module-btf';
import { RELOCATABLE, RelocateError, relocateSplit } from '../btf/relocate';
import { type CliIo, type CommandRun, parseOneInput, UsageError } from './command';
import { loadBtf, readModuleWithBase } from './input';

const FORMATS = ['raw', 'c'] as const;
type Format = (typeof FORMATS)[number];

/** The module's split BTF relocated onto TARGET, dumped as `btf dump` would. */
async function relocateModule(args: string[], io: CliIo): Promise<number> {
  const { values, file } = parseOneInput(
    args,
    {
      base: { type: 'string', short: 'B' },
      'orig-base': { type: 'string' },
      format: { type: 'string', short: 'f', default: 'raw' },
    },
    'MODULE',
  );
  if (!values.base) throw new UsageError('missing --base TARGET (the vmlinux BTF to relocate onto)');
  const format = values.format as Format;
  if (!FORMATS.includes(format)) throw new UsageError(`unknown format '${values.format}' (raw or c)`);
  const { elf, orig } = readModuleWithBase(file, values['orig-base']);
  const { split } = distilledModuleBtf(elf, orig);
  const target = loadBtf(values.base);
  let btf: Btf;
  try {
    btf = relocateSplit(split, target).btf;
  } catch (e) {
    if (!(e instanceof RelocateError)) throw e;
    const bad = e.mapping.matches.filter((m) => !RELOCATABLE.has(m.status));
    io.err(
      `bpf-lens: ${file} does not relocate onto ${values.base}: ${bad.length} distilled type${bad.length === 1 ? '' : 's'} without a single match\n`,
    );
    for (const m of bad) io.err(`  ${m.status} ${m.kind} '${m.name}' [${m.id}]${m.reason ? `: ${m.reason}` : ''}\n`);
    io.err(`(bpf-lens base-diff ${file} --base ${values.base} shows every type)\n`);
    return 1;
  }
  const sink = (chunk: Uint8Array) => {
    if (io.outBytes) io.outBytes(chunk);
    else io.out(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length).toString('latin1'));
  };
  if (format === 'raw') dumpRawTo(btf, sink);
  else dumpCTo(btf, (text) => sink(Buffer.from(text, 'latin1')));
  return 0;
}

/**
 * `bpf-lens relocate`: with `--base`, relocates a module's split BTF from its distilled
 * base (`.BTF.base`, or distilled from `--orig-base`) onto a target vmlinux BTF, as the
 * kernel does at module load; without it, the CO-RE relocations of a BPF object.
 */
export const relocateWithBaseCommand: CommandRun = {
  async run(args: string[], io: CliIo): Promise<number> {
    const split = args.some(
      (a) => a === '--base' || a === '-B' || a.startsWith('--base=') || a === '--orig-base' || a.startsWith('--orig-base='),
    );
    return split ? relocateModule(args, io) : (await import('./relocate')).relocateCommand.run(args, io);
  },
};
