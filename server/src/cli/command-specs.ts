// What each subcommand is called and what help prints about it: data only, so that a bundle of
// one command (cli/bundles/) carries its own usage without the other commands' modules.

export interface CommandSpec {
  /** Words that select it, e.g. ['btf', 'dump']. */
  readonly path: readonly string[];
  readonly usage: string;
  readonly summary: string;
}

// Keep the list sorted by command path.
export const SPECS = {
  agent: {
    path: ['agent'],
    usage: 'agent --stdio',
    summary: "Run the BPF Lens agent (the load pipeline for this machine's kernel), speaking JSON-RPC on stdin and stdout.",
  },
  'base-diff': {
    path: ['base-diff'],
    usage: 'base-diff MODULE.ko --base TARGET [--orig-base VMLINUX] [--json] [--problems]',
    summary:
      "Compare a module's distilled base BTF (.BTF.base, or distilled from --orig-base) with a target vmlinux BTF; exit 1 if it would not relocate.",
  },
  'btf-dump': {
    path: ['btf', 'dump'],
    usage: 'btf dump FILE [--base FILE] [--format raw|c|json]',
    summary: 'Print the BTF types of a raw BTF file, BPF object or kernel module (as bpftool btf dump).',
  },
  distill: {
    path: ['distill'],
    usage: 'distill MODULE.ko --base VMLINUX -o OUT.ko',
    summary: 'Write a copy of a kernel module with a distilled base BTF (.BTF.base) and its .BTF re-split on it.',
  },
  inspect: {
    path: ['inspect'],
    usage: 'inspect OBJ [--json]',
    summary: 'Show the programs (type, attach type), maps (as the kernel will name them), externs and definition errors of a BPF object.',
  },
  link: {
    path: ['link'],
    usage: 'link A.o B.o ... -o OUT.o [--quiet]',
    summary: 'Statically link BPF objects into one (globals resolved, weak/strong, extern maps, BTF merged and deduplicated).',
  },
  load: {
    path: ['load'],
    usage:
      'load OBJ [--target local|vm:IMAGE[,modules=DIR][,memory=MB][,cpus=N][,insmod=MODULE]...|ssh://[user@]host[:port]|HOST]... [--no-sudo] [--pin DIR] [--json] [--log-level N] [--no-autoload PROG]... [--set VAR=VALUE]... [--replace PROG_ID|PINNED_PATH] [--arg-ctx-fallback auto|always|never] [--btf VMLINUX_BTF] [--register] [--parallel N] [--timeout SECONDS]',
    summary:
      'Load an object into the kernel (maps, programs, CO-RE, externs) and report kernel ids; verifier errors on source lines. Several --target: all at once, a matrix of programs × targets.',
  },
  lsp: {
    path: ['lsp'],
    usage: 'lsp --stdio',
    summary: 'Run the BPF Lens language server, speaking LSP on stdin and stdout.',
  },
  'map-delete': {
    path: ['map', 'delete'],
    usage: 'map delete (--id N | --pinned PATH) --key KEY [--target T] [--no-sudo]',
    summary: 'Delete one element of a map; KEY as C-like or JSON text when the map has BTF for it, else bytes (1 0 0 0, hex 01 00 00 00).',
  },
  'map-dump': {
    path: ['map', 'dump'],
    usage: 'map dump (--id N | --pinned PATH) [--target T] [--no-sudo] [--json] [--pretty]',
    summary:
      'Print every element of a map exactly as bpftool map dump prints it (--json: as bpftool -j, with "formatted" BTF-decoded keys and values; per-CPU values per CPU).',
  },
  'map-update': {
    path: ['map', 'update'],
    usage: 'map update (--id N | --pinned PATH) [--key KEY] --value VALUE [--flag any|noexist|exist] [--target T] [--no-sudo]',
    summary:
      'Write one element: KEY and VALUE as C-like ({ .pid = 1, .comm = "sh" }) or JSON text through the map\'s BTF, else bytes; a prog array or map of maps takes an id.',
  },
  probe: {
    path: ['probe'],
    usage: 'probe [--json] [--target local|vm:IMAGE[,...]|ssh://[user@]host[:port]|HOST] [--no-sudo]',
    summary: "Probe this kernel's BPF features (BTF kinds, global data, arg:ctx, ...) and privileges.",
  },
  relocate: {
    // `relocate` of CO-RE, and of module BTF with --base
    path: ['relocate'],
    usage:
      'relocate OBJ [--btf BTF [--module BTF]...] [--problems] [--json]\n  bpf-lens relocate MODULE.ko --base TARGET [--orig-base VMLINUX] [--format raw|c]',
    summary:
      "Resolve the CO-RE relocations of a BPF object against a kernel BTF (default: this kernel) and report each one. With --base: the module's split BTF relocated from its distilled base onto TARGET (exit 1 if it does not relocate).",
  },
  run: {
    path: ['run'],
    usage:
      'run OBJ [--target T]... [--attach PROG=WHERE]... [--no-attach PROG]... [--duration SECONDS] [--pin DIR] [--json] [--parallel N] [--timeout SECONDS] [--set VAR=VALUE]... [--no-autoload PROG]... [--log-level N]',
    summary:
      'Load an object and attach its programs as libbpf would (plus --attach PROG=WHERE), until Ctrl-C or --duration; then detach everything. Several --target: all at once, a summary per target.',
  },
  'test-run': {
    path: ['test-run'],
    usage:
      'test-run (OBJ PROG | --id N | --pinned PATH) (--data-in FILE | --packet SPEC) [--ctx-in FILE] [--repeat N] [--json] [--target T] [--no-sudo]',
    summary:
      'Run a program on a packet/context with BPF_PROG_TEST_RUN: verdict with its name (XDP_DROP, TC_ACT_SHOT ...), output bytes, duration.',
  },
  top: {
    path: ['top'],
    usage: 'top [--target local|ssh://[user@]host[:port]|HOST] [--no-sudo] [--interval SECONDS] [--count N] [--json]',
    summary:
      'Every BPF program on the target with runs per second, ns per run and CPU share, refreshed each interval (as bpftop; statistics on only while it runs).',
  },
  verify: {
    path: ['verify'],
    usage: 'verify OBJ [--target T]... [--json] [--compare OTHER.o] [--log-level 1|2] [--parallel N] [--timeout SECONDS]',
    summary: 'verification statistics per program (veristat): instructions, states, time, stack; --compare, per --target',
  },
} as const satisfies Record<string, CommandSpec>;

export type CommandName = keyof typeof SPECS;
