/**
 * The "BPF Lens printk" output channel: bpf_printk lines of the objects observed (Run Object,
 * Show Events), one per line as `TIME [OBJECT PROGRAM] TEXT — FILE:LINE (TASK PID, cpu N)`.
 * The channel's document has its own language, so a link provider makes the program a link to
 * its disassembly and FILE:LINE a link to the source line that printed it.
 */
import { posix } from 'path';
import * as vscode from 'vscode';
import type { LoadedKernelObject, ObserveEventsResult, PrintkRow } from '../../protocol/lsp';
import { documentUri } from './documents';

export const PRINTK_LANGUAGE = 'bpf-printk';

const pad = (n: number, w = 2) => String(n).padStart(w, '0');
const clock = (ms: number) => {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
};

/** `[OBJECT PROGRAMS]` after the time, and ` — FILE:LINE ` before the task. */
const LINE = /^\S+ \[([^\]\s]+) ([^\]\s]+)\]/;
const SOURCE = / — (\/[^\s]+):(\d+) \(/;

export class PrintkChannel implements vscode.Disposable, vscode.DocumentLinkProvider {
  readonly channel = vscode.window.createOutputChannel('BPF Lens printk', PRINTK_LANGUAGE);
  /** Object base name → path, for the links. */
  private readonly objects = new Map<string, string>();

  /** Says that (or why not) a load's bpf_printk lines are read now. */
  started(loaded: LoadedKernelObject, r: ObserveEventsResult): void {
    const name = posix.basename(loaded.path);
    this.objects.set(name, loaded.path);
    if (r.printk) this.channel.appendLine(`${clock(Date.now())} --- ${name} on ${loaded.target}: reading bpf_printk lines`);
    else if (r.printkError) this.channel.appendLine(`${clock(Date.now())} --- ${name}: bpf_printk lines are not read: ${r.printkError}`);
  }

  lines(loaded: LoadedKernelObject, rows: readonly PrintkRow[]): void {
    for (const r of rows) {
      const object = r.object ?? loaded.path;
      const name = posix.basename(object);
      this.objects.set(name, object);
      const who = r.programs?.length ? `[${name} ${r.programs.join(',')}]` : `[${loaded.target} ?]`;
      const src = r.source ? ` — ${r.source.file}:${r.source.line}` : '';
      this.channel.appendLine(`${clock(r.time)} ${who} ${r.text}${src} (${r.task} ${r.pid}, cpu ${r.cpu})`);
    }
  }

  provideDocumentLinks(doc: vscode.TextDocument): vscode.DocumentLink[] {
    const links: vscode.DocumentLink[] = [];
    for (let i = 0; i < doc.lineCount; i++) {
      const text = doc.lineAt(i).text;
      const m = LINE.exec(text);
      const path = m && this.objects.get(m[1]);
      if (m && path) {
        const at = m.index + m[0].length - 1 - m[2].length;
        const program = m[2].split(',')[0];
        const target = documentUri({ path, kind: 'disasm', program });
        links.push(new vscode.DocumentLink(new vscode.Range(i, at, i, at + m[2].length), target));
      }
      const s = SOURCE.exec(text);
      if (s) {
        const at = s.index + 3;
        const target = vscode.Uri.file(s[1]).with({ fragment: `L${s[2]}` });
        links.push(new vscode.DocumentLink(new vscode.Range(i, at, i, at + s[1].length + 1 + s[2].length), target));
      }
    }
    return links;
  }

  dispose(): void {
    this.channel.dispose();
  }
}
