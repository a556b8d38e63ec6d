import { parseArgs } from 'util';
import { dumpC } from '../btf/dump-c';
import { dumpJsonBytes } from '../btf/dump-json';
import { dumpRawBytes } from '../btf/dump-raw';
import { CliIo, Command, UsageError } from './command';
import { loadBtf } from './input';

const FORMATS = ['raw', 'c', 'json'] as const;
type Format = (typeof FORMATS)[number];

/**
 * `bpf-lens btf dump FILE [--base FILE] [--format raw|c|json]`: what `bpftool btf dump
 * file` prints (raw and json byte for byte; c as bpftool's `format c`). FILE is raw BTF
 * (`/sys/kernel/btf/*`) or an ELF object or module; --base parses it as split BTF.
 */
export const btfDumpCommand: Command = {
  path: ['btf', 'dump'],
  usage: 'btf dump FILE [--base FILE] [--format raw|c|json]',
  summary: 'Print the BTF types of a raw BTF file, BPF object or kernel module (as bpftool btf dump).',
  async run(args: string[], io: CliIo): Promise<number> {
    let parsed;
    try {
      parsed = parseArgs({
        args,
        allowPositionals: true,
        options: {
          base: { type: 'string', short: 'B' },
          format: { type: 'string', short: 'f', default: 'raw' },
        },
      });
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const { values, positionals } = parsed;
    if (positionals.length !== 1) throw new UsageError(positionals.length ? `unexpected argument '${positionals[1]}'` : 'missing FILE');
    const format = values.format as Format;
    if (!FORMATS.includes(format)) throw new UsageError(`unknown format '${values.format}' (raw, c or json)`);
    const base = values.base !== undefined ? loadBtf(values.base) : undefined;
    const btf = loadBtf(positionals[0], base);
    let bytes: Uint8Array;
    if (format === 'raw') bytes = dumpRawBytes(btf);
    else if (format === 'json') bytes = dumpJsonBytes(btf);
    else bytes = Buffer.from(dumpC(btf), 'latin1');
    if (io.outBytes) io.outBytes(bytes);
    else io.out(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1'));
    return 0;
  },
};
