import { type CliIo, type CommandRun, UsageError } from './command';

/**
 * `bpf-lens agent --stdio`: the agent on stdin/stdout, for targets reached some other way than
 * SSH (`kubectl exec -i POD -- bpf-lens agent --stdio`, a serial console, a container):
 * whatever carries its stdio, a client speaks the agent protocol (protocol/agent.ts).
 */
export const agentCommand: CommandRun = {
  async run(args: string[], _io: CliIo): Promise<number> {
    if (args.length !== 1 || args[0] !== '--stdio') throw new UsageError('only --stdio is supported');
    // Importing it starts it; it exits when its client says shutdown or goes away.
    await import('../agent/main');
    return new Promise<number>(() => undefined);
  },
};
