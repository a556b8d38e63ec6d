import { type CliIo, type Command, type CommandRun } from './command';
import { type CommandName, SPECS } from './command-specs';

/**
 * A command whose module is evaluated only when it runs: a `btf dump` never evaluates the
 * CO-RE engine, the loader or the language server (the bundle is one file; webpack evaluates
 * each module on its first require).
 */
function lazy(load: () => Promise<CommandRun>): Command['run'] {
  return async (args: string[], io: CliIo) => (await load()).run(args, io);
}

// The module that runs each subcommand, loaded when it runs.
const RUNS: Record<CommandName, () => Promise<CommandRun>> = {
  agent: async () => (await import('./agent')).agentCommand,
  'base-diff': async () => (await import('./base-diff')).baseDiffCommand,
  'btf-dump': async () => (await import('./btf-dump')).btfDumpCommand,
  distill: async () => (await import('./distill')).distillCommand,
  inspect: async () => (await import('./inspect')).inspectCommand,
  link: async () => (await import('./link')).linkCommand,
  load: async () => (await import('./load')).loadCommand,
  lsp: async () => (await import('./lsp')).lspCommand,
  'map-delete': async () => (await import('./map')).mapDeleteCommand,
  'map-dump': async () => (await import('./map')).mapDumpCommand,
  'map-update': async () => (await import('./map')).mapUpdateCommand,
  probe: async () => (await import('./probe')).probeCommand,
  relocate: async () => (await import('./relocate-split')).relocateWithBaseCommand,
  run: async () => (await import('./run')).runCommand,
  'test-run': async () => (await import('./test-run')).testRunCommand,
  top: async () => (await import('./top')).topCommand,
  verify: async () => (await import('./verify')).verifyCommand,
};

/** Every subcommand: what help prints, and how it runs. */
export const COMMANDS: Command[] = (Object.keys(SPECS) as CommandName[]).map((name) => ({ ...SPECS[name], run: lazy(RUNS[name]) }));
