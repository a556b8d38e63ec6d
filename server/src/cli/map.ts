/**
 * `bpf-lens map dump|update|delete`: a map by id or pin path on any target, printed exactly as
 * `bpftool [-j] map dump` prints it; updates and deletes take keys and values as C-like or
 * JSON text (through the map's BTF) or bytes.
 */
import { parseArgs } from './args';
import type { MapRefParams } from '../../../protocol/agent';
import type { KernelTarget } from '../targets/target';
import { type CliIo, type CommandRun, UsageError } from './command';
import { onTarget } from './on-target';

interface MapArgs {
  readonly ref: MapRefParams;
  readonly target?: string;
  readonly sudo: boolean;
  readonly values: Record<string, string | boolean | undefined>;
}

const COMMON = {
  id: { type: 'string' },
  pinned: { type: 'string' },
  target: { type: 'string' },
  'no-sudo': { type: 'boolean', default: false },
} as const;

function parse(args: string[], extra: Record<string, { type: 'string' | 'boolean' }>): MapArgs {
  let values;
  try {
    values = parseArgs({ args, options: { ...COMMON, ...extra } }).values as Record<string, string | boolean | undefined>;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const id = values.id as string | undefined;
  const pinned = values.pinned as string | undefined;
  if ((id === undefined) === (pinned === undefined)) throw new UsageError('name the map with one of --id N and --pinned PATH');
  if (id !== undefined && !/^\d+$/.test(id)) throw new UsageError(`--id wants a map id, not '${id}'`);
  if (pinned !== undefined && !pinned.startsWith('/')) throw new UsageError(`--pinned wants an absolute path, not '${pinned}'`);
  if (values['no-sudo'] && values.target === undefined) throw new UsageError('--no-sudo goes with --target');
  return {
    ref: id !== undefined ? { id: Number(id) } : { pinned: pinned! },
    target: values.target as string | undefined,
    sudo: !values['no-sudo'],
    values,
  };
}

/** The map commands on their target: other failures print as `bpf-lens map: ...`, exit 1. */
const onMapTarget = (a: MapArgs, io: CliIo, f: (t: KernelTarget) => Promise<number>) => onTarget(a, io, f, 'map');

/** bpftool exits with its negative errno (EINVAL: 234). */
const exitOfErrno = (errno: number) => (256 - (errno & 255)) & 255 || 1;

export const mapDumpCommand: CommandRun = {
  async run(args: string[], io: CliIo): Promise<number> {
    const a = parse(args, { json: { type: 'boolean' }, pretty: { type: 'boolean' } });
    return onMapTarget(a, io, async (t) => {
      const r = await t.mapDump({ ...a.ref, json: a.values.json === true || a.values.pretty === true, pretty: a.values.pretty === true });
      io.out(r.text);
      if (r.truncated) io.err(`bpf-lens map dump: stopped after ${r.elements} elements\n`);
      if (!r.error) return 0;
      io.err(`bpf-lens map dump: the map's keys cannot be walked: ${r.error.message}\n`);
      return exitOfErrno(r.error.errno);
    });
  },
};

export const mapUpdateCommand: CommandRun = {
  async run(args: string[], io: CliIo): Promise<number> {
    const a = parse(args, { key: { type: 'string' }, value: { type: 'string' }, flag: { type: 'string' } });
    const value = a.values.value;
    if (typeof value !== 'string') throw new UsageError('map update needs --value');
    const flag = a.values.flag;
    if (flag !== undefined && flag !== 'any' && flag !== 'noexist' && flag !== 'exist')
      throw new UsageError(`--flag wants any, noexist or exist, not '${String(flag)}'`);
    const key = a.values.key;
    return onMapTarget(a, io, async (t) => {
      await t.mapUpdate({ ...a.ref, value, ...(typeof key === 'string' ? { key } : {}), ...(flag ? { flag } : {}) });
      return 0;
    });
  },
};

export const mapDeleteCommand: CommandRun = {
  async run(args: string[], io: CliIo): Promise<number> {
    const a = parse(args, { key: { type: 'string' } });
    const key = a.values.key;
    if (typeof key !== 'string') throw new UsageError('map delete needs --key');
    return onMapTarget(a, io, async (t) => {
      const r = await t.mapDelete({ ...a.ref, key });
      if (r.deleted) return 0;
      io.err('bpf-lens map delete: no such key in the map\n');
      return 1;
    });
  },
};
