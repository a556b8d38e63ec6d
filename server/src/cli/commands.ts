import { agentCommand } from './agent';
import { baseDiffCommand } from './base-diff';
import { btfDumpCommand } from './btf-dump';
import { Command } from './command';
import { distillCommand } from './distill';
import { inspectCommand } from './inspect';
import { linkCommand } from './link';
import { loadCommand } from './load';
import { lspCommand } from './lsp';
import { probeCommand } from './probe';
import { relocateWithBaseCommand } from './relocate-split';
import { runCommand } from './run';
import { testRunCommand } from './test-run';
import { verifyCommand } from './verify';

// Every subcommand, one import each. Keep the list sorted by command path.
export const COMMANDS: Command[] = [
  agentCommand,
  baseDiffCommand,
  btfDumpCommand,
  distillCommand,
  inspectCommand,
  linkCommand,
  loadCommand,
  lspCommand,
  probeCommand,
  relocateWithBaseCommand, // `relocate` of CO-RE, and of module BTF with --base
  runCommand,
  testRunCommand,
  verifyCommand,
];
