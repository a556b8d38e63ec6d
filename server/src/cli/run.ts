import { parseArgs } from './args';
import type { RunEvent } from '../run/events';
import type { KernelTarget, LoadSummary } from '../targets';
import { checkTargetSpecs, fanoutArgs, openCliTarget } from './target-args';
import { type CliIo, type CommandRun, UsageError } from './command';
import { readWithoutDwarf } from './input';

function parse(args: string[]) {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        attach: { type: 'string', multiple: true },
        'no-attach': { type: 'string', multiple: true },
        duration: { type: 'string' },
        pin: { type: 'string' },
        json: { type: 'boolean', default: false },
        set: { type: 'string', multiple: true },
        'no-autoload': { type: 'string', multiple: true },
        'log-level': { type: 'string' },
        target: { type: 'string', multiple: true },
        parallel: { type: 'string' },
        timeout: { type: 'string' },
        'no-sudo': { type: 'boolean', default: false },
        decode: { type: 'string', multiple: true },
        'no-printk': { type: 'boolean', default: false },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values: v, positionals } = parsed;
  if (positionals.length !== 1)
    throw new UsageError(positionals.length ? `unexpected argument '${positionals[1]}'` : 'missing object file');
  const duration = v.duration !== undefined ? Number(v.duration) : undefined;
  if (duration !== undefined && !(duration >= 0 && duration < 1e7)) throw new UsageError(`--duration wants seconds, not '${v.duration}'`);
  const places = new Map<string, string>();
  for (const s of v.attach ?? []) {
    const eq = s.indexOf('=');
    if (eq <= 0 || eq === s.length - 1) throw new UsageError(`--attach wants PROG=WHERE, not '${s}'`);
    places.set(s.slice(0, eq), s.slice(eq + 1));
  }
  const set: Record<string, string> = {};
  for (const s of v.set ?? []) {
    const eq = s.indexOf('=');
    if (eq <= 0) throw new UsageError(`--set wants VAR=VALUE, not '${s}'`);
    set[s.slice(0, eq)] = s.slice(eq + 1);
  }
  const decode = new Map<string, string>();
  for (const s of v.decode ?? []) {
    const eq = s.indexOf('=');
    if (eq <= 0 || eq === s.length - 1) throw new UsageError(`--decode wants MAP=TYPE, not '${s}'`);
    decode.set(s.slice(0, eq), s.slice(eq + 1));
  }
  const level = v['log-level'] !== undefined ? Number(v['log-level']) : 0;
  if (!Number.isInteger(level) || level < 0 || level > 7) throw new UsageError(`--log-level must be 0..7, not '${v['log-level']}'`);
  const targets = v.target?.length ? v.target : ['local'];
  checkTargetSpecs(targets);
  if (targets.length > 1 && duration === undefined)
    throw new UsageError('several --target run for a while on each: give --duration SECONDS');
  if (targets.length > 1 && v.pin !== undefined) throw new UsageError('--pin leaves links on one target: give one --target');
  if (new Set(targets).size !== targets.length) throw new UsageError('a --target is given twice');
  const fan = fanoutArgs(v.parallel, v.timeout);
  return {
    file: positionals[0],
    places,
    skip: new Set(v['no-attach'] ?? []),
    duration,
    pin: v.pin,
    json: v.json ?? false,
    set,
    noAutoload: v['no-autoload'] ?? [],
    level,
    target: targets[0],
    targets,
    fan,
    sudo: !v['no-sudo'],
    decode,
    noPrintk: v['no-printk'] ?? false,
  };
}

/** One line per event for people. */
export function eventText(e: RunEvent): string {
  switch (e.event) {
    case 'loaded':
      return `loaded ${e.object}: ${e.programs.length} program(s), ${e.maps.length} map(s)`;
    case 'attached': {
      const ids = e.link_id !== undefined ? `, link ${e.link_id}` : e.link_ids ? `, links ${e.link_ids.join(' ')}` : '';
      return `attached ${e.program} → ${e.kind} ${e.target} (${e.mechanism}${ids})`;
    }
    case 'skipped':
      return `not attached ${e.program}: ${e.reason}`;
    case 'iter':
      return `iterator ${e.program} printed:\n${e.output
        .replace(/\n$/, '')
        .split('\n')
        .map((l) => `  ${l}`)
        .join('\n')}`;
    case 'pinned':
      return `pinned ${e.program} link at ${e.path}`;
    case 'running':
      return `running: ${e.duration !== null ? `${e.duration} s` : 'until Ctrl-C'}`;
    case 'detached':
      return `detached ${e.program} from ${e.kind} ${e.target}`;
    case 'ringbuf':
    case 'perf':
      return `${e.event} ${e.map}${e.cpu !== undefined ? ` cpu ${e.cpu}` : ''}: ${e.hex !== undefined ? e.hex : JSON.stringify(e.data)}`;
    case 'printk': {
      const where = e.program ? ` [${e.program}${e.source ? ` ${e.source.file.replace(/^.*\//, '')}:${e.source.line}` : ''}]` : '';
      return `printk${where} ${e.task ?? ''}-${e.pid ?? '?'} cpu ${e.cpu ?? '?'}: ${e.text}`;
    }
    case 'maps':
      return Object.entries(e.maps)
        .map(([name, v]) => `map ${name}: ${JSON.stringify(v)}`)
        .join('\n');
    case 'observed': {
      const lost = Object.entries(e.lost)
        .map(([m, n]) => `${m} lost ${n}`)
        .join(', ');
      return `events: ${e.records} record(s), ${e.printk} printk line(s), ${e.dropped} dropped${lost ? `; ${lost}` : ''}`;
    }
    case 'warning':
      return `warning: ${e.message}`;
    case 'error':
      return `error: ${e.program ? `${e.program}: ` : ''}${e.message}`;
  }
}

/** Resolves after `seconds`, or at SIGINT/SIGTERM (Ctrl-C), whichever comes first. */
export function waitForEnd(seconds: number | undefined): Promise<string> {
  return new Promise((resolve) => {
    // Signal handlers do not keep Node's event loop alive: this timer does, until the end.
    const alive = setInterval(() => undefined, 1 << 30);
    let timer: NodeJS.Timeout | undefined;
    const done = (why: string) => {
      clearInterval(alive);
      if (timer) clearTimeout(timer);
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve(why);
    };
    const onInt = () => done('SIGINT');
    const onTerm = () => done('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    if (seconds !== undefined) timer = setTimeout(() => done('duration'), seconds * 1000);
  });
}

export type RunArgs = ReturnType<typeof parse>;
type Args = RunArgs;

function loadedEvent(file: string, l: LoadSummary): RunEvent {
  return {
    event: 'loaded',
    object: file,
    programs: l.programs.map((p) => ({ name: p.name, id: p.id, type: p.type })),
    maps: l.maps.map((m) => ({ name: m.kernelName, id: m.id, type: m.type })),
  };
}

/** Load and attach on the target; 0 once attached, 1 (after releasing everything) when either fails. */
async function loadAndAttach(
  t: KernelTarget,
  a: Args,
  io: CliIo,
  emit: (e: RunEvent) => void,
): Promise<{ handle: number; stopObserving: () => Promise<void>; maps: LoadSummary['maps'] } | number> {
  const fail = (message: string, program?: string) => {
    if (a.json) emit({ event: 'error', message, ...(program !== undefined ? { program } : {}) });
    else io.err(`bpf-lens: ${message}\n`);
    return 1;
  };
  const r = await t.load({ name: a.file, object: readWithoutDwarf(a.file), set: a.set, noAutoload: a.noAutoload, logLevel: a.level });
  if (!r.ok) {
    if (a.json) return fail(r.error.message, r.error.program);
    const { formatLoadFailureText } = await import('../targets/format');
    io.err(formatLoadFailureText(r.error));
    return 1;
  }
  const handle = r.loaded.handle;
  emit(loadedEvent(a.file, r.loaded));
  for (const w of r.loaded.warnings) emit({ event: 'warning', message: w });
  // Buffers are read before anything is attached: no record of the first hits is missed.
  let stopObserving: () => Promise<void>;
  try {
    stopObserving = await observeLoad(t, handle, a, emit);
  } catch (e) {
    await t.unload(handle);
    const { TargetError } = await import('../remote/errors');
    if (e instanceof TargetError) throw e;
    return fail((e as Error).message);
  }
  const { attachedEvent } = await import('../run/events');
  try {
    const at = await t.attach(
      handle,
      { places: Object.fromEntries(a.places), skip: [...a.skip], ...(a.pin !== undefined ? { pinDir: a.pin } : {}) },
      (x) => emit(attachedEvent(x)),
    );
    for (const s of at.skipped) emit({ event: 'skipped', program: s.program, reason: s.reason });
    for (const it of at.iterOutput) emit({ event: 'iter', ...it });
    for (const x of at.attached) for (const path of x.pinned ?? []) emit({ event: 'pinned', program: x.program, path });
  } catch (e) {
    await t.unload(handle);
    const { AttachFailure } = await import('../targets/target');
    if (!(e instanceof AttachFailure)) throw e;
    return fail(e.message, e.program);
  }
  return { handle, stopObserving, maps: r.loaded.maps };
}

/**
 * The object's maps as `map dump --json` prints each, keyed by name: ring/perf buffers aside,
 * and libbpf's own USDT maps (`__bpf_usdt_specs`: 256 argument specs nobody wrote in C).
 */
async function mapsEvent(t: KernelTarget, maps: LoadSummary['maps']): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const m of maps) {
    if (m.type === 'ringbuf' || m.type === 'perf_event_array' || m.name.startsWith('__bpf_usdt_')) continue;
    const d = await t.mapDump({ id: m.id, json: true });
    try {
      out[m.name] = d.text.trim() ? (JSON.parse(d.text) as unknown) : null;
    } catch {
      out[m.name] = null;
    }
  }
  return out;
}

async function observeLoad(t: KernelTarget, handle: number, a: Args, emit: (e: RunEvent) => void): Promise<() => Promise<void>> {
  const { openObject } = await import('../object');
  const { callsTracePrintk } = await import('../observe/printk-match');
  const { startObserving } = await import('./run-observe');
  const obj = openObject(readWithoutDwarf(a.file), a.file);
  return startObserving(t, handle, obj, { decode: a.decode, printk: !a.noPrintk && callsTracePrintk(obj) }, emit);
}

/**
 * `bpf-lens run OBJ [--target T]`: load, attach every program libbpf would (plus those given a
 * place), say what is attached where, wait for Ctrl-C or --duration, then detach and release
 * (or leave the links pinned under --pin DIR). The same on this kernel and through an agent.
 */
/**
 * The run on an open target: load, attach, wait for the end, detach, unload. 0, or 1 when the
 * load or an attach failed (everything released); a TargetError (the agent gone) is thrown.
 */
export async function runOn(target: KernelTarget, a: Args, io: CliIo, emit: (e: RunEvent) => void): Promise<number> {
  const up = await loadAndAttach(target, a, io, emit);
  if (typeof up === 'number') return up;
  if (a.pin === undefined) {
    emit({ event: 'running', duration: a.duration ?? null });
    await waitForEnd(a.duration);
  }
  await up.stopObserving();
  const maps = await mapsEvent(target, up.maps);
  if (Object.keys(maps).length) emit({ event: 'maps', maps });
  const d = await target.detach(up.handle);
  if (a.pin === undefined) for (const x of d.detached) emit({ event: 'detached', program: x.program, kind: x.kind, target: x.target });
  for (const m of d.errors) emit({ event: 'error', message: `detach: ${m}` });
  await target.unload(up.handle);
  return 0;
}

/**
 * `bpf-lens run OBJ [--target T]`: load, attach every program libbpf would (plus those given a
 * place), say what is attached where, wait for Ctrl-C or --duration, then detach and release
 * (or leave the links pinned under --pin DIR). The same on this kernel and through an agent;
 * several --target run at once (run-targets.ts).
 */
export const runCommand: CommandRun = {
  async run(args: string[], io: CliIo): Promise<number> {
    const a = parse(args);
    if (a.targets.length > 1) return (await import('./run-targets')).runOnTargets(a, io);
    const emit = (e: RunEvent) => io.out(`${a.json ? JSON.stringify(e) : eventText(e)}\n`);
    const { TargetError, formatTargetError } = await import('../remote/errors');
    let target: KernelTarget;
    try {
      target = await openCliTarget(a.target, io, { inProcess: true, ...(a.sudo ? {} : { sudo: false }) });
      if (!target.inProcess) await (await import('../remote')).requireLoad(target);
    } catch (e) {
      if (!(e instanceof TargetError)) throw e;
      if (a.json) emit({ event: 'error', message: e.message });
      io.err(formatTargetError(e));
      return 2;
    }
    try {
      return await runOn(target, a, io, emit);
    } catch (e) {
      if (!(e instanceof TargetError)) throw e;
      // The agent is gone: it released everything it held (pins excepted) as it ended.
      if (a.json) emit({ event: 'error', message: e.message });
      io.err(formatTargetError(e));
      return 2;
    } finally {
      await target.close();
    }
  },
};
