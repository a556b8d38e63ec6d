// The agent protocol's version alone, so that a process loading in-process (the CLI's local
// `load`) answers hello without evaluating vscode-jsonrpc.
// 2: methods renamed bpfLensAgent/…; unload answers what it closed and unpinned.
export const AGENT_PROTOCOL_VERSION = 2;
