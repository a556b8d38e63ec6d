import type * as DumpC from '../btf/dump-c';
import type * as DumpJson from '../btf/dump-json';
import { dumpRawTo } from '../btf/dump-raw';
import { type CliIo, type CommandRun, parseOneInput, UsageError } from './command';
import { loadBtf } from './input';

const FORMATS = ['raw', 'c', 'json'] as const;
type Format = (typeof FORMATS)[number];

/**
 * `bpf-lens btf dump FILE [--base FILE] [--format raw|c|json]`: what `bpftool btf dump
 * file` prints (raw and json byte for byte; c as bpftool's `format c`). FILE is raw BTF
 * (`/sys/kernel/btf/*`) or an ELF object or module; --base parses it as split BTF.
 */
export const btfDumpCommand: CommandRun = {
  async run(args: string[], io: CliIo): Promise<number> {
    const { values, file } = parseOneInput(
      args,
      {
        base: { type: 'string', short: 'B' },
        format: { type: 'string', short: 'f', default: 'raw' },
      },
      'FILE',
    );
    const format = values.format as Format;
    if (!FORMATS.includes(format)) throw new UsageError(`unknown format '${values.format}' (raw, c or json)`);
    const base = values.base !== undefined ? loadBtf(values.base) : undefined;
    const btf = loadBtf(file, base);
    // Raw and JSON dumps come in chunks of CHUNK_BYTES (btf/out-buf.ts), written as they come.
    const sink = (chunk: Uint8Array) => {
      if (io.outBytes) io.outBytes(chunk);
      else io.out(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length).toString('latin1'));
    };
    if (format === 'raw') dumpRawTo(btf, sink);
    else if (format === 'json') loadDumpJson().dumpJsonTo(btf, sink);
    else loadDumpC().dumpCTo(btf, (text) => sink(Buffer.from(text, 'latin1')));
    return 0;
  },
};

// The JSON and C writers are required when asked for: evaluating their modules cost a cold raw
// dump ~1.2 ms and ~50 page faults (bench:cold). Bundled all the same (webpack follows require).
function loadDumpJson(): typeof DumpJson {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('../btf/dump-json') as typeof DumpJson;
}

function loadDumpC(): typeof DumpC {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('../btf/dump-c') as typeof DumpC;
}
