// The agent protocol's version alone, so that a process loading in-process (the CLI's local
// `load`) answers hello without evaluating vscode-jsonrpc.
// 2: methods renamed bpfLensAgent/…; unload answers what it closed and unpinned.
// 3: attach/detach (and the `attached` notification); testRun takes ctx and answers ctxOut.
// 4: observe/observeStop and the `events` notification (ring/perf buffer records, printk lines).
// 5: mapDump/mapUpdate/mapDelete (a map by id or pin path, as bpftool prints and takes it).
// 6: places (the target's interfaces and cgroup v2 directories, for the editor's place picker).
export const AGENT_PROTOCOL_VERSION = 6;
