import { FormatError } from '../common/errors';
import { escapeControls } from '../common/escape';
import { type CliIo, type Command, UsageError } from './command';
import { COMMANDS } from './commands';
import { VERSION } from './version';

const io: CliIo = {
  out: (text) => process.stdout.write(text),
  outBytes: (bytes) => process.stdout.write(bytes),
  err: (text) => process.stderr.write(text),
};

function help(): string {
  const rows = COMMANDS.map((c) => `  bpf-lens ${c.usage}\n      ${c.summary}`);
  return `bpf-lens ${VERSION}: see what the kernel will see in BPF objects, and load them.\n\nUsage:\n${rows.join('\n')}\n  bpf-lens --version\n`;
}

/** Longest command path that prefixes argv. */
function pick(argv: string[]): { cmd: Command; rest: string[] } | undefined {
  let best: Command | undefined;
  for (const c of COMMANDS) {
    if (c.path.every((w, i) => argv[i] === w) && (!best || c.path.length > best.path.length)) best = c;
  }
  return best && { cmd: best, rest: argv.slice(best.path.length) };
}

/** Runs one command line; returns the exit code. Never throws. */
export async function runCli(argv: string[], out: CliIo = io): Promise<number> {
  if (argv[0] === '--version' || argv[0] === '-V') {
    out.out(`${VERSION}\n`);
    return 0;
  }
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    out.out(help());
    return argv.length === 0 ? 2 : 0;
  }
  const found = pick(argv);
  if (!found) {
    out.err(`bpf-lens: unknown command '${argv.join(' ')}'\n${help()}`);
    return 2;
  }
  if (found.rest.includes('--help') || found.rest.includes('-h')) {
    out.out(`Usage: bpf-lens ${found.cmd.usage}\n${found.cmd.summary}\n`);
    return 0;
  }
  try {
    return await found.cmd.run(found.rest, out);
  } catch (e) {
    return reportError(e, found.cmd, out);
  }
}

/** One line on stderr, no stack trace: bad input names file, section and offset. */
export function reportError(e: unknown, cmd: Command | undefined, out: CliIo): number {
  if (e instanceof UsageError) {
    out.err(`bpf-lens: ${e.message}\n${cmd ? `Usage: bpf-lens ${cmd.usage}\n` : ''}`);
    return 2;
  }
  if (e instanceof FormatError) {
    out.err(`bpf-lens: ${e.message}\n`);
    return 1;
  }
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err === 'object' && typeof err.code === 'string' && err.path) {
    out.err(`bpf-lens: ${err.path}: ${err.code === 'ENOENT' ? 'no such file' : err.message}\n`);
    return 1;
  }
  // messages may span lines (verifier logs) but never carry a terminal escape from a file
  out.err(`bpf-lens: ${(err instanceof Error ? err.message : String(err)).split('\n').map(escapeControls).join('\n')}\n`);
  if (process.env.BPF_LENS_DEBUG && err instanceof Error) out.err(`${err.stack}\n`);
  return 1;
}

/** Runs this process's command line: the bundle's entry, or bin/bpf-lens.js over the compiled sources. */
export function main(): void {
  // Output may be piped into `head`: a closed pipe is not an error worth a stack trace.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
  });
  // runCli reports every error it expects; a rejection is a bug: let it end the process with its stack.
  void runCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}

if (require.main === module) main();
