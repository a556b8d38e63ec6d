import { parseArgs } from 'util';
import { openObject } from '../object';
import { CliIo, Command, UsageError } from './command';
import { loadBtf, readInput } from './input';

const USAGE = 'load OBJ [--target local|ssh://[user@]host[:port]|HOST] [--no-sudo] [--pin DIR] [--json] [--log-level N] [--no-autoload PROG]... [--set VAR=VALUE]... [--replace PROG_ID|PINNED_PATH] [--arg-ctx-fallback auto|always|never] [--btf VMLINUX_BTF]';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function parse(args: string[]) {
  let parsed;
  try {
    parsed = parseArgs({
      args, allowPositionals: true, options: {
        target: { type: 'string', default: 'local' },
        pin: { type: 'string' },
        json: { type: 'boolean', default: false },
        'log-level': { type: 'string' },
        'no-autoload': { type: 'string', multiple: true },
        set: { type: 'string', multiple: true },
        replace: { type: 'string' },
        'arg-ctx-fallback': { type: 'string' },
        'no-sudo': { type: 'boolean', default: false },
        btf: { type: 'string' },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw new UsageError(positionals.length ? `unexpected argument '${positionals[1]}'` : 'missing object file');
  if (values.target !== 'local' && values.replace !== undefined) throw new UsageError('--replace works only with --target local for now');
  const level = values['log-level'] !== undefined ? Number(values['log-level']) : 0;
  if (!Number.isInteger(level) || level < 0 || level > 7) throw new UsageError(`--log-level must be 0..7, not '${values['log-level']}'`);
  const set: Record<string, string> = {};
  for (const s of values.set ?? []) {
    const eq = s.indexOf('=');
    if (eq <= 0) throw new UsageError(`--set wants VAR=VALUE, not '${s}'`);
    set[s.slice(0, eq)] = s.slice(eq + 1);
  }
  const mode = values['arg-ctx-fallback'];
  if (mode !== undefined && !['auto', 'always', 'never'].includes(mode)) throw new UsageError(`--arg-ctx-fallback must be auto, always or never`);
  return { file: positionals[0], values, level, set, mode: mode as 'auto' | 'always' | 'never' | undefined };
}

/**
 * `bpf-lens load OBJ`: loads an object into this kernel through BPF Lens's own pipeline and
 * reports what it created. Exit 0 only if every map and program loaded. Without --pin
 * everything is released when the command exits.
 */
export const loadCommand: Command = {
  path: ['load'],
  usage: USAGE,
  summary: 'Load an object into the kernel (maps, programs, CO-RE, externs) and report kernel ids; verifier errors on source lines.',
  async run(args: string[], io: CliIo): Promise<number> {
    const a = parse(args);
    if (a.values.target !== 'local') return (await import('./load-remote')).loadRemote(a.file, a.values.target ?? '', { logLevel: a.level, set: a.set, noAutoload: a.values['no-autoload'] ?? [], pinProgramsDir: a.values.pin, argCtxFallback: a.mode, json: a.values.json ?? false, sudo: !a.values['no-sudo'], ...(a.values.btf !== undefined ? { btf: a.values.btf } : {}) }, io);
    // BPF_LENS_TIMING=1: one JSON line on stderr with ms per stage (scripts/bench-load.mjs reads it)
    const timing = process.env.BPF_LENS_TIMING ? [['startup', performance.now()] as [string, number]] : undefined;
    const obj = openObject(readInput(a.file), a.file);
    timing?.push(['open', performance.now()]);
    // Loaded here so other commands never load koffi.
    const kernel = await import('../kernel');
    const { loadObject, LoadError } = await import('../load');
    let replaceTargetFd: number | undefined;
    const cleanup: (() => void)[] = [];
    try {
      if (a.values.replace !== undefined) {
        const r = a.values.replace;
        replaceTargetFd = /^\d+$/.test(r) ? kernel.getFdById('prog', Number(r)) : kernel.objGet(r);
        const fd = replaceTargetFd;
        cleanup.push(() => kernel.closeFd(fd));
      }
      let result;
      try {
        result = loadObject(obj, {
          kernel: kernel.localKernel, logLevel: a.level, noAutoload: a.values['no-autoload'] ?? [], set: a.set,
          ...(timing ? { onProgress: (stage: string) => { if (timing[timing.length - 1][0] !== stage) timing.push([stage, performance.now()]); } } : {}),
          ...(a.values.pin !== undefined ? { pinProgramsDir: a.values.pin } : {}),
          ...(replaceTargetFd !== undefined ? { replaceTargetFd } : {}),
          ...(a.mode ? { argCtxFallback: a.mode } : {}),
          // --btf: CO-RE against this vmlinux BTF instead of the kernel's (libbpf's btf_custom_path)
          ...(a.values.btf !== undefined ? { coreTargets: [{ name: a.values.btf, btf: loadBtf(a.values.btf) }] } : {}),
        });
      } catch (e) {
        if (!(e instanceof LoadError)) throw e;
        const d = e.details;
        if (a.values.json) {
          const error: { [k: string]: Json } = { message: e.message };
          if (d.program) error.program = d.program;
          if (d.insn !== undefined) error.insn = d.insn;
          if (d.source) error.source = { file: d.source.file, line: d.source.line, text: d.source.text };
          if (d.log) error.log = d.log;
          io.out(`${JSON.stringify({ ok: false, progs: [], maps: [], error }, null, 2)}\n`);
        } else {
          const lines = [`error: ${e.message}`];
          if (d.source) lines.push(`  --> ${d.source.file}:${d.source.line}:${d.source.column}`, `   | ${d.source.text.trim()}`);
          if (d.log) {
            const tail = d.log.replace(/\0+$/, '').trimEnd().split('\n').slice(-20);
            lines.push('verifier log (last lines):', ...tail.map((l) => `  ${l}`));
          }
          io.err(`${lines.join('\n')}\n`);
        }
        return 1;
      }
      try {
        if (a.values.json) {
          const out = {
            ok: true,
            progs: result.programs.map((p) => ({ name: p.name, id: p.id, type: p.type, verified_insns: p.verifiedInsns })),
            maps: result.maps.map((m) => ({ name: m.kernelName, id: m.id, type: m.type, bytes_key: m.keySize, bytes_value: m.valueSize, max_entries: m.maxEntries, flags: m.flags })),
          };
          io.out(`${JSON.stringify(out, null, 2)}\n`);
        } else {
          const lines: string[] = [];
          lines.push(`loaded ${a.file}: ${result.programs.length} program(s), ${result.maps.length} map(s)`);
          for (const p of result.programs) {
            lines.push(`  prog ${String(p.id).padStart(5)}  ${p.type.padEnd(14)} ${p.name}  (${p.verifiedInsns} insns verified)${p.pinnedAt ? `  pinned ${p.pinnedAt}` : ''}`);
            if (p.log) lines.push(...p.log.trimEnd().split('\n').map((l) => `      ${l}`));
          }
          for (const m of result.maps) {
            const pin = m.pinnedAt ? `  ${m.reused ? 'reused' : 'pinned'} ${m.pinnedAt}` : '';
            lines.push(`  map  ${String(m.id).padStart(5)}  ${m.type.padEnd(14)} ${m.kernelName}  key ${m.keySize}B value ${m.valueSize}B max_entries ${m.maxEntries}${pin}`);
          }
          for (const w of result.warnings) lines.push(`warning: ${w}`);
          if (a.values.pin === undefined) lines.push('(not pinned: released on exit)');
          io.out(`${lines.join('\n')}\n`);
        }
      } finally {
        result.close();
      }
      if (timing) {
        // each entry: ms from the previous mark to this one, named by what ran in between
        const end = performance.now();
        const names: Record<string, string> = { startup: 'startup', open: 'open', probe: 'modules', relocate: 'probe', btf: 'core', maps: 'btf', programs: 'maps', pin: 'programs', done: 'pin' };
        const out: Record<string, number> = {};
        let prev = 0;
        for (const [mark, t] of timing) {
          out[names[mark] ?? mark] = Math.round((t - prev) * 100) / 100;
          prev = t;
        }
        out.cleanup = Math.round((end - prev) * 100) / 100;
        io.err(`bpf-lens timing: ${JSON.stringify(out)}\n`);
      }
      return 0;
    } finally {
      for (const c of cleanup) c();
    }
  },
};

