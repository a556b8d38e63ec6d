import type { CliIo, Command } from './command';
import { COMMANDS } from './commands';
import { io, runCommand, startProcess } from './process';
import { VERSION } from './version';

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
  return runCommand(found.cmd, found.rest, out);
}

/** Runs this process's command line: the bundle's entry, or bin/bpf-lens.js over the compiled sources. */
export function main(): void {
  startProcess((argv) => runCli(argv));
}

if (require.main === module) main();
