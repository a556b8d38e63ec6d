// The CLI's option parser: node's util.parseArgs, which a command line without options does not
// load. Node loads parseArgs's modules on first use (~0.7 ms of a cold `bpf-lens btf dump FILE`
// whose whole run above node's start is ~10 ms); `bpf-lens load FILE` has nothing to parse.
import * as util from 'util';

type Parsed<T extends util.ParseArgsConfig> = ReturnType<typeof util.parseArgs<T>>;

/**
 * util.parseArgs(config). When every argument is a positional (none starts with `-`) and the
 * config allows them, the result is what util.parseArgs returns then, built here: the
 * arguments as positionals, and values holding only the options' defaults.
 */
export function parseArgs<T extends util.ParseArgsConfig>(config: T): Parsed<T> {
  const { args, options = {}, strict = true, allowPositionals = !strict, tokens } = config;
  if (!args || tokens || !(allowPositionals || args.length === 0) || args.some((a) => a.startsWith('-'))) {
    return util.parseArgs(config);
  }
  const values: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const [name, option] of Object.entries(options)) if (option.default !== undefined) values[name] = option.default;
  return { values, positionals: [...args] } as Parsed<T>;
}
