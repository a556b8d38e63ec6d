// What every bpf-lens process shares, whether its bundle holds every command (main.ts) or one
// (cli/bundles/): where output goes, running one command with its --help and errors, and the
// process's start.
import { FormatError } from '../common/errors';
import { escapeControls } from '../common/escape';
import { type CliIo, type Command, type CommandRun, UsageError } from './command';
import { type CommandName, SPECS } from './command-specs';
import { directIo } from './direct-io';
import { exitAfterListeners } from '../kernel/exit-now';

export const io: CliIo = {
  out: (text) => process.stdout.write(text),
  // the stream may queue what it cannot write at once: a copy, as the caller reuses `bytes`
  outBytes: (bytes) => process.stdout.write(Buffer.from(bytes)),
  err: (text) => process.stderr.write(text),
};

/** Runs `cmd` on the arguments after its path: its own --help, and every error reported. Never throws. */
export async function runCommand(cmd: Command, rest: string[], out: CliIo): Promise<number> {
  if (rest.includes('--help') || rest.includes('-h')) {
    out.out(`Usage: bpf-lens ${cmd.usage}\n${cmd.summary}\n`);
    return 0;
  }
  try {
    return await cmd.run(rest, out);
  } catch (e) {
    return reportError(e, cmd, out);
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

/**
 * Runs this process's command line with `runArgv`; its result is the exit code. `exitAtOnce`:
 * the process ends once the command returned and stdout and stderr took all it wrote, without
 * waiting for the event loop, and without node's teardown once libc is loaded (kernel/exit-now.ts);
 * the 'exit' handlers (bin/bpf-lens.js's code cache) still run. A pipe reader slower than the output (a
 * big `btf dump`) leaves writes queued: exiting before they drain would cut the output.
 */
export function startProcess(runArgv: (argv: string[]) => Promise<number>, exitAtOnce = false): void {
  // Output may be piped into `head`: a closed pipe is not an error worth a stack trace.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
  });
  // runArgv reports every error it expects; a rejection is a bug: let it end the process with its stack.
  void runArgv(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
    if (exitAtOnce) afterOutput(() => exitAfterListeners(code));
  });
}

/** Calls `done` when stdout and stderr have written everything before this call (their callbacks run in order). */
function afterOutput(done: () => void): void {
  let pending = 2;
  const one = () => {
    if (--pending === 0) done();
  };
  process.stdout.write('', one);
  process.stderr.write('', one);
}

/**
 * The process of a bundle that holds one command (cli/bundles/); bin/bpf-lens.js picks it by the
 * command's words. Its output goes straight to fds 1 and 2 (direct-io.ts), and it exits once that
 * output is written (as startProcess's exitAtOnce).
 */
export function startSingle(name: CommandName, run: CommandRun): void {
  const cmd: Command = { ...SPECS[name], run: (args, out) => run.run(args, out) };
  const out = directIo();
  const argv = process.argv.slice(2);
  const code = (async () => {
    if (cmd.path.every((w, i) => argv[i] === w)) return runCommand(cmd, argv.slice(cmd.path.length), out);
    out.err(`bpf-lens: this bundle runs only 'bpf-lens ${cmd.path.join(' ')}'\n`);
    return 2;
  })();
  // runCommand reports every error it expects; a rejection is a bug: let it end the process with its stack.
  void code.then((c) => {
    process.exitCode = c;
    out.flush(() => exitAfterListeners(c));
  });
}
