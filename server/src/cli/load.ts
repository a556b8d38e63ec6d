import { parseArgs } from './args';
import { msNow } from '../common/clock';
import { type CliIo, type CommandRun, UsageError } from './command';
import { readInput, readWithoutDwarf } from './input';
import { checkTargetSpecs, fanoutArgs, openCliTarget } from './target-args';

function parse(args: string[]) {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        target: { type: 'string', multiple: true },
        parallel: { type: 'string' },
        timeout: { type: 'string' },
        pin: { type: 'string' },
        json: { type: 'boolean', default: false },
        'log-level': { type: 'string' },
        'no-autoload': { type: 'string', multiple: true },
        set: { type: 'string', multiple: true },
        replace: { type: 'string' },
        'arg-ctx-fallback': { type: 'string' },
        'no-sudo': { type: 'boolean', default: false },
        btf: { type: 'string' },
        register: { type: 'boolean', default: false },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1)
    throw new UsageError(positionals.length ? `unexpected argument '${positionals[1]}'` : 'missing object file');
  const targets = values.target?.length ? values.target : ['local'];
  checkTargetSpecs(targets);
  if ((targets.length > 1 || targets[0] !== 'local') && values.replace !== undefined)
    throw new UsageError('--replace works only with --target local for now');
  if (targets.length > 1 && values.pin !== undefined) throw new UsageError('--pin goes with one --target');
  const fan = fanoutArgs(values.parallel, values.timeout);
  const level = values['log-level'] !== undefined ? Number(values['log-level']) : 0;
  if (!Number.isInteger(level) || level < 0 || level > 7) throw new UsageError(`--log-level must be 0..7, not '${values['log-level']}'`);
  // no prototype: `--set __proto__=1` is a variable name like any other (and refused as one)
  const set: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const s of values.set ?? []) {
    const eq = s.indexOf('=');
    if (eq <= 0) throw new UsageError(`--set wants VAR=VALUE, not '${s}'`);
    set[s.slice(0, eq)] = s.slice(eq + 1);
  }
  const mode = values['arg-ctx-fallback'];
  if (mode !== undefined && !['auto', 'always', 'never'].includes(mode))
    throw new UsageError(`--arg-ctx-fallback must be auto, always or never`);
  return { file: positionals[0], values, targets, fan, level, set, mode: mode as 'auto' | 'always' | 'never' | undefined };
}

/**
 * `bpf-lens load OBJ [--target T]`: loads an object through BPF Lens's own pipeline into this
 * kernel (in-process) or a target's (through its agent), one command path for both, and
 * reports what it created. Exit 0 only if every map and program loaded, 1 when the load was
 * refused, 2 when the target could not be used. Without --pin everything is released when
 * the command exits. With several --target: all of them at once, a matrix (load-matrix.ts).
 */
export type LoadArgs = ReturnType<typeof parse>;

export const loadCommand: CommandRun = {
  async run(args: string[], io: CliIo): Promise<number> {
    const a = parse(args);
    if (a.targets.length > 1) return (await import('./load-matrix')).loadOnTargets(a, io);
    const spec = a.targets[0];
    const remote = spec !== 'local';
    const bytes = readWithoutDwarf(a.file); // a load never reads DWARF: ~430 of a -g object's ~650 KB
    const btf = a.values.btf !== undefined ? { name: a.values.btf, bytes: readInput(a.values.btf) } : undefined;
    // BPF_LENS_TIMING=1: one JSON line on stderr with ms per stage (the bench harness, scripts/bench/load.mjs, reads it)
    const timing = process.env.BPF_LENS_TIMING && !remote ? [['startup', performance.now()] as [string, number]] : undefined;
    // the transport (ssh, the agent client, JSON-RPC) only for a remote target
    const { TargetError, formatTargetError } = await import('../remote/errors');
    const { formatLoadJson } = await import('../targets/format');
    // Whatever went wrong, --json answers JSON on stdout; target errors also keep their text and exit 2.
    const failed = (e: unknown): number => {
      const isTarget = e instanceof TargetError;
      if (!isTarget && !a.values.json) throw e;
      if (a.values.json) {
        const message = e instanceof Error ? e.message : String(e);
        io.out(
          formatLoadJson(
            { ok: false, error: { message, stage: isTarget ? 'target' : 'internal', ...(isTarget ? { code: e.code } : {}) } },
            remote ? { remote: { spec } } : {},
          ),
        );
      }
      if (!isTarget) return 1;
      io.err(formatTargetError(e));
      return 2;
    };
    const conn: { probeMs?: number; deployMs?: number; deployed?: boolean; startMs?: number } = {};
    const t0 = msNow();
    let target;
    try {
      target = await openCliTarget(spec, io, { inProcess: true, timings: conn, ...(a.values['no-sudo'] ? { sudo: false } : {}) });
    } catch (e) {
      return failed(e);
    }
    const connectMs = msNow() - t0;
    timing?.push(['imported', performance.now()]);
    try {
      // bpf-not-permitted, saying why, before the object travels (in-process, the load says so itself)
      const h = remote ? await (await import('../remote')).requireLoad(target) : undefined;
      const t1 = msNow();
      const r = await target.load(
        {
          name: a.file,
          object: bytes,
          logLevel: a.level,
          noAutoload: a.values['no-autoload'] ?? [],
          set: a.set,
          ...(a.values.pin !== undefined ? { pinProgramsDir: a.values.pin } : {}),
          ...(a.values.replace !== undefined ? { replace: a.values.replace } : {}),
          ...(a.values.register ? { registerStructOps: true } : {}),
          ...(a.mode ? { argCtxFallback: a.mode } : {}),
          ...(btf ? { btf } : {}),
        },
        timing
          ? (stage) => {
              if (timing[timing.length - 1][0] !== stage) timing.push([stage, performance.now()]);
            }
          : undefined,
      );
      const { formatLoadFailureText, formatLoadJson, formatLoadText } = await import('../targets/format');
      const times =
        h && r.ok
          ? {
              connect_ms: Math.round(connectMs),
              deploy_ms: Math.round(conn.deployMs ?? 0),
              deployed_now: conn.deployed ?? false,
              load_ms: Math.round(msNow() - t1),
              agent_load_ms: Math.round(r.loaded.ms),
            }
          : undefined;
      if (a.values.json)
        io.out(
          formatLoadJson(r, remote ? { remote: { spec, ...(h ? { release: h.release } : {}), ...(times ? { timing: times } : {}) } } : {}),
        );
      else if (!r.ok) io.err(formatLoadFailureText(r.error));
      else
        io.out(
          formatLoadText(r.loaded, {
            file: a.file,
            pinned: a.values.pin !== undefined,
            ...(h && times ? { remote: { spec, release: h.release, timing: times } } : {}),
          }),
        );
      if (r.ok) await target.unload(r.loaded.handle);
      if (timing) io.err(`bpf-lens timing: ${JSON.stringify(stageTimes(timing))}\n`);
      return r.ok ? 0 : 1;
    } catch (e) {
      return failed(e);
    } finally {
      await target.close();
    }
  },
};

/** Each entry: ms from the previous mark to this one, named by what ran in between. */
function stageTimes(timing: [string, number][]): Record<string, number> {
  const end = performance.now();
  // the pipeline's first stage (probe) starts right after the object is parsed
  const names: Record<string, string> = {
    startup: 'startup',
    imported: 'modules',
    probe: 'open',
    relocate: 'probe',
    btf: 'core',
    maps: 'btf',
    programs: 'maps',
    pin: 'programs',
    done: 'pin',
  };
  const out: Record<string, number> = {};
  let prev = 0;
  for (const [mark, t] of timing) {
    out[names[mark] ?? mark] = Math.round((t - prev) * 100) / 100;
    prev = t;
  }
  out.cleanup = Math.round((end - prev) * 100) / 100;
  return out;
}
