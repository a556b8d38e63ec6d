import { type CliIo, type CommandRun, UsageError } from './command';

/**
 * `bpf-lens lsp --stdio`: the language server on stdin/stdout (editors other than VS Code,
 * and the LSP tests). Runs until the client sends `exit` or closes the pipe.
 */
export const lspCommand: CommandRun = {
  async run(args: string[], _io: CliIo): Promise<number> {
    if (args.length !== 1 || args[0] !== '--stdio') throw new UsageError('only --stdio is supported');
    // Loaded only here: the CLI's other commands do not pay for the LSP libraries.
    const { createConnection, ProposedFeatures } = await import('vscode-languageserver/node');
    const { startServer } = await import('../lsp/server');
    startServer(createConnection(ProposedFeatures.all, process.stdin, process.stdout));
    return new Promise<number>(() => undefined);
  },
};
