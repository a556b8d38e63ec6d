/**
 * Explain Verification: loads an object at log level 2 in a throwaway (unloaded at once), keeps
 * the verifier's state per source line of each program (verifier/lines.ts), and answers hovers
 * on those lines with the registers and stack across the paths that reached them.
 */
import { basename, dirname, relative } from 'path';
import { ExplainVerificationRequest } from '../../../protocol/lsp';
import { lineStateMarkdown, lineStates } from '../verifier/lines';
import { verificationText } from '../verifier/walk-text';
import { type ProgramStats, programStats } from '../verifier/stats';
import { handler, type RequestHandler } from './handlers';
import type { Session } from './session';

export class VerifierStates {
  /** source basename → line (1-based) → markdown per program. */
  private readonly byFile = new Map<string, Map<number, string[]>>();
  /** object path → target → the logs of its last explanation there. */
  private readonly logs = new Map<string, Map<string, readonly { program: string; log: string }[]>>();
  /** object path → the target of its last explanation (the hovers are that one's). */
  private readonly lastTarget = new Map<string, string>();

  /** Replaces what an earlier explanation of these programs said (hovers: this one's states). */
  set(
    object: string,
    logs: readonly { program: string; log: string }[],
    target = 'local',
  ): { name: string; lines: number; rejected: boolean }[] {
    this.byFile.clear();
    if (!this.logs.has(object)) this.logs.set(object, new Map());
    this.logs.get(object)!.set(target, logs);
    this.lastTarget.set(object, target);
    return logs.map(({ program, log }) => {
      const states = lineStates(log);
      for (const s of states) {
        if (!s.file || !s.line) continue;
        const f = basename(s.file);
        if (!this.byFile.has(f)) this.byFile.set(f, new Map());
        const lines = this.byFile.get(f)!;
        lines.set(s.line, [...(lines.get(s.line) ?? []), lineStateMarkdown(s, program)]);
      }
      return { name: program, lines: states.filter((s) => s.line).length, rejected: states.some((s) => s.rejected) };
    });
  }

  private logsOf(object: string, target?: string) {
    const t = target ?? this.lastTarget.get(object);
    return t === undefined ? undefined : this.logs.get(object)?.get(t);
  }

  /** The side document of an object's last explanation on `target` (default: the last one anywhere): one program, or each in turn. */
  document(object: string, program: string | undefined, resolve: (file: string) => string | undefined, target?: string): string {
    const logs = this.logsOf(object, target);
    if (!logs) return `No explanation of ${object}${target ? ` on ${target}` : ''} yet: run "BPF Lens: Explain Verification" on it.\n`;
    const picked = program === undefined ? logs : logs.filter((l) => l.program === program);
    if (!picked.length)
      return `${object}: no program ${program ?? ''} in its last explanation (${logs.map((l) => l.program).join(', ')}).\n`;
    // Sources near the object are named relative to its folder (short; the editor resolves them there).
    const near = (f: string) => {
      const abs = resolve(f);
      const rel = abs && relative(dirname(object), abs);
      return rel && !rel.startsWith('../../') ? rel : abs;
    };
    const on = target ?? this.lastTarget.get(object);
    const head = on && on !== 'local' ? `On target ${on}:\n\n` : '';
    return head + picked.map((l) => verificationText(l.program, l.log, near)).join('\n\n');
  }

  /** A program's numbers from the last explanation of any of these objects. */
  stats(objects: readonly string[], program: string): ProgramStats | undefined {
    for (const o of objects) {
      const l = this.logsOf(o)?.find((x) => x.program === program);
      if (l) return programStats(program, l.log, undefined);
    }
    return undefined;
  }

  /** Markdown for a 1-based line of a source file, when an explanation covered it. */
  hover(file: string, line: number): string | undefined {
    const md = this.byFile.get(basename(file))?.get(line);
    return md?.join('\n\n---\n\n');
  }
}

export function verifierRequests(d: Session): RequestHandler[] {
  return [
    handler(ExplainVerificationRequest, async (p) => {
      await d.whenReady();
      const r = await d.loads.load(
        { path: p.path, logLevel: 2, ...(p.target ? { target: p.target } : {}) },
        () => undefined,
        (name) => d.index.resolveSource(p.path, name),
      );
      if (r.ok && r.loaded) await d.loads.unload(r.loaded.handle);
      const logs = r.ok ? r.logs : r.error?.log ? [{ program: r.error.program ?? '?', log: r.error.log }] : [];
      await d.publishAll();
      if (!logs.length) return { ok: false, programs: [], message: r.error?.message ?? 'no verifier log' };
      return { ok: true, programs: d.verifierStates.set(p.path, logs, p.target ?? 'local') };
    }),
  ];
}
