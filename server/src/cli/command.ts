/** One `bpf-lens` subcommand. `run` returns the process exit code. */
export interface Command {
  /** Words that select it, e.g. ['btf', 'dump']. */
  readonly path: readonly string[];
  readonly usage: string;
  readonly summary: string;
  run(args: string[], io: CliIo): Promise<number>;
}

/** Where a command writes; tests and the LSP can capture it. */
export interface CliIo {
  out(text: string): void;
  /** Raw bytes to stdout (large dumps, names that are not UTF-8); falls back to out(). */
  outBytes?(bytes: Uint8Array): void;
  err(text: string): void;
}

export class UsageError extends Error {}
