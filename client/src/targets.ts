/**
 * The selected target: `local` or one of bpfLens.targets. Remembered per workspace; the
 * language server connects to it (bpfLens/selectTarget), computes CO-RE diagnostics against
 * its BTF, and loads go there. A status bar item shows its name and kernel release.
 */
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { parseSshSpec, SelectTargetRequest, type SelectTargetResult, type TargetSetting, TargetsRequest } from '../../protocol/lsp';

const STATE_KEY = 'bpfLens.target';

export class TargetPicker implements vscode.Disposable {
  readonly status: vscode.StatusBarItem;
  private last: SelectTargetResult | undefined;

  constructor(
    private readonly state: vscode.Memento,
    private readonly output: vscode.OutputChannel,
    private readonly client: () => LanguageClient | undefined,
    /** After a target is selected: what depends on it (the tree's base diffs) is asked again. */
    private readonly changed: () => void = () => undefined,
  ) {
    this.status = vscode.window.createStatusBarItem('bpfLens.target', vscode.StatusBarAlignment.Left, 9);
    this.status.name = 'BPF Lens Target';
    this.status.command = 'bpfLens.pickTarget';
    this.render();
    this.status.show();
  }

  /** The target loads go to and CO-RE is checked against. */
  get selected(): string {
    const name = this.state.get<string>(STATE_KEY, 'local');
    return name === 'local' || configuredTargets().some((t) => t.name === name) ? name : 'local';
  }

  /** What the server said when the target was last selected. */
  get result(): SelectTargetResult | undefined {
    return this.last;
  }

  /** Tells the server (again) which target is selected: at start, and when the settings change. */
  async apply(): Promise<SelectTargetResult | undefined> {
    const client = this.client();
    if (!client) return undefined;
    const name = this.selected;
    this.last = undefined;
    this.render(`$(sync~spin) ${name}`);
    const r = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: `BPF Lens: connecting to ${name}` }, () =>
      client.sendRequest(SelectTargetRequest, { name }),
    );
    this.last = r;
    this.render();
    if (r.ok) {
      this.changed();
      const i = r.info!;
      this.output.appendLine(
        `target ${name}: ${i.release}${i.arch ? ` ${i.arch}` : ''}, ${i.canLoad ? 'can load' : `cannot load (${i.errno ?? 'not permitted'})`}, ${i.hasBtf ? 'vmlinux BTF' : 'no vmlinux BTF'} (${i.ms.toFixed(0)} ms)` +
          (r.core
            ? `; CO-RE: ${r.core.relocations} relocations in ${r.core.objects} objects, ${r.core.problems} do not resolve there`
            : ''),
      );
    } else {
      const e = r.error!;
      this.output.appendLine(
        `target ${name}: error (${e.code}): ${e.message}${e.detail ? `\n  ${e.detail.split('\n').join('\n  ')}` : ''}`,
      );
    }
    return r;
  }

  /** "BPF Lens: Pick Target": local, the configured targets, or a new SSH host. */
  async pick(): Promise<SelectTargetResult | undefined> {
    type Item = vscode.QuickPickItem & { name?: string; add?: boolean };
    const current = this.selected;
    // The server's list: it read bpfLens.targets (and logged the entries it could not take).
    const known = (await this.client()?.sendRequest(TargetsRequest))?.targets ?? [{ name: 'local', kind: 'local' as const }];
    const items: Item[] = [
      ...known.map((t) => ({
        label: t.name,
        name: t.name,
        description: [
          t.kind === 'local' ? 'this machine' : `${t.kind === 'ssh' ? 'ssh' : t.kind === 'vm' ? 'VM (qemu)' : 'BTF'} ${t.where ?? ''}`,
          t.info?.release,
        ]
          .filter(Boolean)
          .join(' · '),
      })),
      { label: '$(add) Add SSH Target…', description: 'ssh://[user@]host[:port] or a Host alias', add: true },
    ].map((i: Item) => (i.name === current ? { ...i, label: `$(check) ${i.label}` } : i));
    const pick = await vscode.window.showQuickPick(items, { placeHolder: `Target for loads and CO-RE diagnostics (now: ${current})` });
    if (!pick) return undefined;
    let name = pick.name;
    if (pick.add) name = await addSshTarget();
    if (!name) return undefined;
    return this.select(name);
  }

  /** Selects `name`; a target that cannot be used leaves the previous one selected (as the server does). */
  async select(name: string): Promise<SelectTargetResult | undefined> {
    const prev = { name: this.selected, result: this.last };
    await this.state.update(STATE_KEY, name);
    const r = await this.apply();
    if (r && !r.ok) {
      await this.state.update(STATE_KEY, prev.name);
      this.last = prev.result;
      this.render();
      const act = await vscode.window.showErrorMessage(`BPF Lens: target ${name}: ${r.error!.message}`, 'Pick Target', 'Show Output');
      if (act === 'Pick Target') void vscode.commands.executeCommand('bpfLens.pickTarget');
      else if (act === 'Show Output') this.output.show(true);
    }
    return r;
  }

  private render(text?: string): void {
    const name = this.selected;
    const r = this.last;
    if (text) this.status.text = text;
    else if (!r) this.status.text = `$(vm) ${name}`;
    else if (!r.ok) this.status.text = `$(error) ${name}`;
    else this.status.text = `${r.info!.canLoad || r.info!.kind === 'btf' ? '$(vm)' : '$(warning)'} ${name} · ${r.info!.release}`;
    const md = new vscode.MarkdownString(`**BPF Lens target: ${name}**\n\n`);
    if (r?.ok) {
      const i = r.info!;
      const feats = Object.entries(i.features);
      md.appendMarkdown(
        [
          `- kernel: \`${i.release}\`${i.arch ? ` (${i.arch})` : ''}`,
          `- loads: ${i.kind === 'btf' ? 'none (a BTF file)' : i.canLoad ? 'permitted' : `not permitted (${i.errno ?? '?'}${i.lockdown ? `, lockdown ${i.lockdown}` : ''})`}`,
          `- vmlinux BTF: ${i.hasBtf ? 'yes' : 'no'}`,
          ...(feats.length ? [`- features: ${feats.filter(([, v]) => v).length} of ${feats.length} probed are supported`] : []),
          ...(r.core
            ? [`- CO-RE: ${r.core.relocations} relocations in ${r.core.objects} objects, ${r.core.problems} do not resolve here`]
            : []),
          `- connected in ${i.ms.toFixed(0)} ms`,
        ].join('\n'),
      );
    } else if (r?.error) {
      md.appendMarkdown(`error (${r.error.code}): ${r.error.message}`);
    }
    md.appendMarkdown('\n\nClick to pick another target.');
    this.status.tooltip = md;
  }

  dispose(): void {
    this.status.dispose();
  }
}

export function configuredTargets(): TargetSetting[] {
  const v = vscode.workspace.getConfiguration('bpfLens').get<unknown>('targets', []);
  return Array.isArray(v)
    ? v.filter((t): t is TargetSetting => !!t && typeof t === 'object' && typeof (t as TargetSetting).name === 'string')
    : [];
}

/** Asks for an SSH host and adds it to bpfLens.targets (user settings); answers its name. */
async function addSshTarget(): Promise<string | undefined> {
  const host = await vscode.window.showInputBox({
    prompt: "SSH target: the host runs BPF Lens's agent (node 20+, root or passwordless sudo)",
    placeHolder: 'ssh://user@host:22, user@host, or a Host alias of ~/.ssh/config',
    // the server's parser: what it would refuse as bad-target is never saved
    validateInput: (v) => {
      const r = parseSshSpec(v.trim());
      return r.ok ? undefined : r.reason;
    },
  });
  if (!host) return undefined;
  const spec = host.trim();
  const existing = configuredTargets();
  const base = spec.replace(/^ssh:\/\//, '').replace(/\/$/, '');
  let name = base;
  for (let i = 2; existing.some((t) => t.name === name) || name === 'local'; i++) name = `${base}-${i}`;
  await vscode.workspace
    .getConfiguration('bpfLens')
    .update('targets', [...existing, { name, host: spec }], vscode.ConfigurationTarget.Global);
  return name;
}
