import { parseArgs } from 'util';
import type { RunEvent } from '../run/run-object';
import { type CliIo, type CommandRun, UsageError } from './command';
import { readInput } from './input';

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
  const level = v['log-level'] !== undefined ? Number(v['log-level']) : 0;
  if (!Number.isInteger(level) || level < 0 || level > 7) throw new UsageError(`--log-level must be 0..7, not '${v['log-level']}'`);
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
    case 'warning':
      return `warning: ${e.message}`;
    case 'error':
      return `error: ${e.program ? `${e.program}: ` : ''}${e.message}`;
  }
}

/** Resolves after `seconds`, or at SIGINT/SIGTERM (Ctrl-C), whichever comes first. */
function waitForEnd(seconds: number | undefined): Promise<string> {
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

/**
 * `bpf-lens run OBJ`: load, attach every program libbpf would (plus those given a place), say
 * what is attached where, wait for Ctrl-C or --duration, then detach and release (or leave it
 * all pinned under --pin DIR).
 */
export const runCommand: CommandRun = {
  async run(args: string[], io: CliIo): Promise<number> {
    const a = parse(args);
    const emit = (e: RunEvent) => io.out(`${a.json ? JSON.stringify(e) : eventText(e)}\n`);
    const { openObject } = await import('../object');
    const obj = openObject(readInput(a.file), a.file);
    const kernel = await import('../kernel');
    const { runObject } = await import('../run/run-object');
    let handle;
    try {
      handle = runObject(
        kernel.localKernel,
        obj,
        a.file,
        {
          places: a.places,
          skip: a.skip,
          pinDir: a.pin,
          set: a.set,
          noAutoload: a.noAutoload,
          logLevel: a.level,
        },
        emit,
      );
    } catch (e) {
      const err = e as Error & { program?: string };
      if (a.json) emit({ event: 'error', message: err.message, ...(err.program ? { program: err.program } : {}) });
      else io.err(`bpf-lens: ${err.message}\n`);
      return 1;
    }
    if (a.pin === undefined) {
      emit({ event: 'running', duration: a.duration ?? null });
      await waitForEnd(a.duration);
    }
    handle.stop();
    return 0;
  },
};
