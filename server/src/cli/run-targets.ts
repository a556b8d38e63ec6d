/**
 * `bpf-lens run OBJ --target A --target B ... --duration S`: the run on every target at once
 * (bounded by --parallel, each within --timeout plus the duration). In text each target's
 * events are printed as they come, prefixed with the target, and a summary of one line per
 * target ends it. With --json the output is one document at the end, the shape of every
 * several-target --json: `{"ok", "targets": [{"target": NAME, ...its summary, "events": [what
 * one target's run --json prints]}]}`. Exit 0 only when every target ran; 1 otherwise.
 */
import type { RunEvent } from '../run/events';
import type { FanoutResult } from '../targets/fanout';
import type { KernelTarget } from '../targets';
import { shortTargetName } from '../targets/matrix-format';
import type { CliIo } from './command';
import { eventText, type RunArgs, runOn } from './run';
import { openCliTarget } from './target-args';

/** What one target's run came to, counted from its events. */
export interface TargetRun {
  release: string;
  /** runOn's exit code: 0 ran, 1 the load or an attach failed. */
  code: number;
  attached: number;
  skipped: number;
  records: number;
  printk: number;
  errors: string[];
}

/**
 * Records (ring buffer, perf, printk lines) kept per target for --json: a busy program on fifty
 * hosts must not hold millions of events until the end. Their counts stay exact.
 */
const KEEP_RECORDS = 10_000;

/** A target's events as one target's run --json prints them, records past KEEP_RECORDS dropped. */
class EventLog {
  readonly events: RunEvent[] = [];
  dropped = 0;
  private records = 0;
  add(e: RunEvent): void {
    if (e.event === 'ringbuf' || e.event === 'perf' || e.event === 'printk') {
      if (++this.records > KEEP_RECORDS) {
        this.dropped++;
        return;
      }
    }
    this.events.push(e);
  }
}

function counter(r: TargetRun): (e: RunEvent) => void {
  return (e) => {
    if (e.event === 'attached') r.attached++;
    else if (e.event === 'skipped') r.skipped++;
    else if (e.event === 'ringbuf' || e.event === 'perf') r.records++;
    else if (e.event === 'printk') r.printk++;
    else if (e.event === 'error') r.errors.push(e.program ? `${e.program}: ${e.message}` : e.message);
  };
}

/** Every line of `text` with `prefix` before it. */
const prefixed = (prefix: string, text: string) =>
  text
    .replace(/\n$/, '')
    .split('\n')
    .map((l) => `${prefix}${l}\n`)
    .join('');

/** A target that could not be used: its message, code and what it said as it failed (a VM's console). */
const failureOf = (e: Error) => ({
  message: e.message,
  ...('code' in e ? { code: String(e.code) } : {}),
  ...('detail' in e && typeof e.detail === 'string' && e.detail.trim() ? { detail: e.detail.trim() } : {}),
});

/** `{"ok", "targets": [{"target", "ok", "answered", …counts, "events", "events_dropped"?}]}`: all of --json. */
function summaryJson(results: readonly FanoutResult<TargetRun>[], logs: readonly EventLog[]): string {
  const targets = results.map((r, i) => {
    const log = logs[i];
    const events = { events: log.events, ...(log.dropped ? { events_dropped: log.dropped } : {}) };
    return r.ok
      ? {
          target: r.target,
          ok: r.value.code === 0,
          answered: true,
          kernel_release: r.value.release,
          attached: r.value.attached,
          skipped: r.value.skipped,
          records: r.value.records,
          printk: r.value.printk,
          errors: r.value.errors,
          ms: Math.round(r.ms),
          ...events,
        }
      : { target: r.target, ok: false, answered: false, error: failureOf(r.error), ms: Math.round(r.ms), ...events };
  });
  return `${JSON.stringify({ ok: results.every((r) => r.ok && r.value.code === 0), targets }, null, 2)}\n`;
}

/** One line per target (readable for fifty), then what each short name stands for and each failure. */
function summaryText(file: string, a: RunArgs, results: readonly FanoutResult<TargetRun>[]): string {
  const good = results.filter((r) => r.ok && r.value.code === 0).length;
  const names = results.map((r) => shortTargetName(r.target));
  const rows = [['target', 'result', 'attached', 'skipped', 'records', 'printk', 'time']];
  for (const [i, r] of results.entries()) {
    const time = `${(r.ms / 1000).toFixed(1)} s`;
    if (!r.ok) rows.push([names[i], 'target failed', '-', '-', '-', '-', time]);
    else {
      const v = r.value;
      rows.push([
        names[i],
        v.code === 0 ? 'ran' : 'FAILED',
        String(v.attached),
        String(v.skipped),
        String(v.records),
        String(v.printk),
        time,
      ]);
    }
  }
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const lines = [`${file} on ${results.length} targets for ${a.duration} s: ${good} ran, ${results.length - good} did not`];
  lines.push(...rows.map((r) => `  ${r.map((c, i) => c.padEnd(w[i])).join('  ')}`.trimEnd()));
  lines.push('targets:');
  for (const [i, r] of results.entries()) lines.push(`  ${names[i]} = ${r.target}${r.ok ? ` (${r.value.release})` : ''}`);
  for (const [i, r] of results.entries()) {
    if (!r.ok) {
      const f = failureOf(r.error);
      lines.push(`${names[i]}: target failed: ${f.code ? `(${f.code}) ` : ''}${f.message}`);
      if (f.detail)
        lines.push(
          ...f.detail
            .split('\n')
            .slice(-12)
            .map((l) => `    ${l}`),
        );
    } else for (const m of r.value.errors) lines.push(`${names[i]}: error: ${m}`);
  }
  return `${lines.join('\n')}\n`;
}

export async function runOnTargets(a: RunArgs, io: CliIo): Promise<number> {
  const { fanout } = await import('../targets/fanout');
  const { requireLoad } = await import('../remote/agent-client');
  const width = Math.max(...a.targets.map((t) => shortTargetName(t).length));
  // Each target's events for --json, by its place in --target (a spec may be given twice):
  // fanout opens the targets in that order.
  const logs = a.targets.map(() => new EventLog());
  const logOf = new WeakMap<KernelTarget, EventLog>();
  let opening = 0;
  const results = await fanout(
    a.targets,
    async (spec, signal) => {
      const log = logs[opening++];
      const target = await openCliTarget(spec, io, { signal, inProcess: true, ...(a.sudo ? {} : { sudo: false }) });
      logOf.set(target, log);
      return target;
    },
    async (target, spec) => {
      const head = `[${shortTargetName(spec).padEnd(width)}] `;
      const tio: CliIo = { out: (s) => io.out(prefixed(head, s)), err: (s) => io.err(prefixed(head, s)) };
      const h = target.inProcess ? await target.hello() : await requireLoad(target);
      const r: TargetRun = { release: h.release, code: 0, attached: 0, skipped: 0, records: 0, printk: 0, errors: [] };
      const count = counter(r);
      const emit = (e: RunEvent) => {
        count(e);
        if (a.json) logOf.get(target)?.add(e);
        else io.out(prefixed(head, eventText(e)));
      };
      r.code = await runOn(target, a, tio, emit);
      return r;
    },
    // Each target observes for the duration on top of its time to open, load and attach.
    { ...a.fan, timeoutMs: a.fan.timeoutMs + (a.duration ?? 0) * 1000 },
  );
  io.out(a.json ? summaryJson(results, logs) : summaryText(a.file, a, results));
  return results.every((r) => r.ok && r.value.code === 0) ? 0 : 1;
}
