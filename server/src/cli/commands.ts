import { btfDumpCommand } from './btf-dump';
import { Command } from './command';
import { lspCommand } from './lsp';
import { relocateCommand } from './relocate';

// Every subcommand, one import each. Keep the list sorted by command path.
export const COMMANDS: Command[] = [
  btfDumpCommand,
  lspCommand,
  relocateCommand,
];
