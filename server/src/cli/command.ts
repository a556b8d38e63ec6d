import { type ParseArgsConfig } from 'util';
import { parseArgs } from './args';
import type { CommandSpec } from './command-specs';

/** One `bpf-lens` subcommand. `run` returns the process exit code. */
export interface Command extends CommandSpec {
  run(args: string[], io: CliIo): Promise<number>;
}

/** What a command's own module exports: commands.ts holds its path, usage and summary. */
export type CommandRun = Pick<Command, 'run'>;

/** Where a command writes; tests and the LSP can capture it. */
export interface CliIo {
  out(text: string): void;
  /**
   * Raw bytes to stdout (large dumps, names that are not UTF-8); falls back to out(). The
   * bytes are only valid during the call (dumps reuse their buffer): an io that keeps them copies.
   */
  outBytes?(bytes: Uint8Array): void;
  err(text: string): void;
}

export class UsageError extends Error {}

/**
 * A command line of options and exactly one input (`what` names it in the usage error):
 * util.parseArgs with its complaints turned into UsageErrors.
 */
export function parseOneInput<const O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O, what: string) {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, options });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw new UsageError(positionals.length ? `unexpected argument '${positionals[1]}'` : `missing ${what}`);
  return { values, file: positionals[0] };
}
