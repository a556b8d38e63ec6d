/**
 * Attach, Detach, Run Object and Test Run… on what the language server holds loaded: the
 * server attaches through the load's target (this kernel, or the target's agent) as
 * `bpf-lens run` does; this side asks only for what a program needs (a place, a test input),
 * writes what happened to the output channel and refreshes the tree (which shows link ids).
 */
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import {
  AttachObjectRequest,
  type AttachObjectResult,
  AttachPlaceRequest,
  type AttachPlaceResult,
  DetachObjectRequest,
  type KernelAttachment,
  type LoadedKernelObject,
  LoadedObjectsRequest,
  LoadObjectRequest,
  LoadProgressNotification,
  TestRunProgramRequest,
} from '../../protocol/lsp';
import { type LoadDeps, pickObject, unloadCommand } from './load';

/** A loaded object or one of its programs, from a tree node (`loaded` / `kernelItem`). */
function fromNode(arg: unknown): { loaded: LoadedKernelObject; program?: string } | undefined {
  if (!arg || typeof arg !== 'object' || !('loaded' in arg)) return undefined;
  const n = arg as { type: string; loaded: LoadedKernelObject; program?: string };
  if (n.type === 'loaded') return { loaded: n.loaded };
  if (n.type === 'kernelItem' && n.program !== undefined) return { loaded: n.loaded, program: n.program };
  return undefined;
}

async function pickLoaded(client: LanguageClient, placeHolder: string): Promise<LoadedKernelObject | undefined> {
  const all = (await client.sendRequest(LoadedObjectsRequest)).loaded;
  if (!all.length) {
    void vscode.window.showInformationMessage('BPF Lens: nothing is loaded (Load Object to Kernel… or Run Object… first).');
    return undefined;
  }
  if (all.length === 1) return all[0];
  const pick = await vscode.window.showQuickPick(
    all.map((o) => ({
      label: o.path.split('/').pop()!,
      description: `${o.target} · prog ids ${o.programs.map((p) => p.id).join(', ')}`,
      o,
    })),
    { placeHolder },
  );
  return pick?.o;
}

const where = (a: KernelAttachment) => `${a.kind} ${a.target} (${a.mechanism}${a.linkIds.length ? `, link ${a.linkIds.join(' ')}` : ''})`;

/** Attaches (all libbpf would, or the named programs), asking where for a program that needs a place. */
async function attachPrograms(
  deps: LoadDeps,
  client: LanguageClient,
  loaded: LoadedKernelObject,
  programs?: readonly string[],
): Promise<AttachObjectResult | undefined> {
  const places: Record<string, string> = {};
  let r = await client.sendRequest(AttachObjectRequest, { handle: loaded.handle, ...(programs ? { programs } : {}), places });
  while (!r.ok && r.error?.needsPlace && r.error.program !== undefined) {
    const program = r.error.program;
    const place = await askPlace(client, loaded, program, r.error.message);
    if (!place) return undefined;
    places[program] = place;
    r = await client.sendRequest(AttachObjectRequest, { handle: loaded.handle, ...(programs ? { programs } : {}), places });
  }
  const out = deps.output;
  const name = loaded.path.split('/').pop()!;
  for (const a of r.attached) out.appendLine(`attached ${a.program} → ${where(a)}`);
  for (const s of r.skipped) out.appendLine(`not attached ${s.program}: ${s.reason}`);
  for (const it of r.iterOutput) out.appendLine(`iterator ${it.program} printed:\n${it.output.trimEnd()}`);
  deps.refreshTree();
  if (!r.ok) {
    out.appendLine(`attach ${name}: ${r.error?.message ?? 'failed'}`);
    void vscode.window.showErrorMessage(`BPF Lens: ${r.error?.message ?? 'attach failed'}`, 'Show Output').then((p) => p && out.show(true));
  }
  return r;
}

const XDP_MODES = [
  { label: 'native', description: 'in the driver (refused where the driver has no XDP)' },
  { label: 'generic', description: 'on the skb, after the driver: works on every interface' },
];
const TC_DIRECTIONS = [
  { label: 'ingress', description: 'packets arriving on the interface' },
  { label: 'egress', description: 'packets leaving it' },
];

async function pickLabel(title: string, placeHolder: string, items: readonly vscode.QuickPickItem[]): Promise<string | undefined> {
  return (await vscode.window.showQuickPick(items, { title, placeHolder }))?.label;
}

/** A quick pick over `paths` that also takes a typed absolute path (a cgroup not listed, or deeper than the listing goes). */
function pickPath(title: string, placeHolder: string, paths: readonly string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    const qp = vscode.window.createQuickPick();
    const listed = paths.map((p) => ({ label: p }));
    qp.title = title;
    qp.placeholder = placeHolder;
    qp.items = listed;
    qp.onDidChangeValue((v) => {
      qp.items = v.startsWith('/') && !paths.includes(v) ? [{ label: v, description: 'the path typed' }, ...listed] : listed;
    });
    let done = false;
    qp.onDidAccept(() => {
      const v = qp.selectedItems[0]?.label ?? (qp.value.startsWith('/') ? qp.value : undefined);
      if (!v) return;
      done = true;
      resolve(v);
      qp.hide();
    });
    qp.onDidHide(() => {
      if (!done) resolve(undefined);
      qp.dispose();
    });
    qp.show();
  });
}

/**
 * Asks only for what the program needs, from what its target offers (bpfLens/attachPlace): an
 * interface of the target (then the XDP mode, or the tc direction unless its SEC() name fixes
 * it), a cgroup under the target's cgroup v2 mount or a typed path, `binary:function`, or the
 * text the attach error names (a server or agent too old to list places: that text too).
 */
async function askPlace(client: LanguageClient, loaded: LoadedKernelObject, program: string, message: string): Promise<string | undefined> {
  const title = `Attach ${program}`;
  const example = /--attach [^=]+=([^)]+)\)/.exec(message)?.[1];
  const prompt = message.replace(/^program '[^']*': /, '').replace(/ \(--attach .*\)$/, '');
  let r: AttachPlaceResult | undefined;
  try {
    r = await client.sendRequest(AttachPlaceRequest, { handle: loaded.handle, program });
  } catch {
    r = undefined; // a server without bpfLens/attachPlace
  }
  const need = r?.need;
  const text = (placeHolder = example, validateInput?: (v: string) => string | undefined) =>
    vscode.window.showInputBox({ title, prompt, placeHolder, ...(validateInput ? { validateInput } : {}) });
  if (!r || !need) return text();
  switch (need.kind) {
    case 'interface': {
      const iface = r.interfaces.length
        ? await pickLabel(
            title,
            `Interface on ${loaded.target}`,
            r.interfaces.map((i) => ({ label: i.name, description: `ifindex ${i.ifindex} · ${i.state}` })),
          )
        : await text();
      if (!iface) return undefined;
      const second =
        need.prog === 'xdp'
          ? await pickLabel(title, 'XDP mode', XDP_MODES)
          : (need.direction ?? (await pickLabel(title, 'tc hook', TC_DIRECTIONS)));
      return second && `${iface}:${second}`;
    }
    case 'cgroup':
      return r.cgroups.length
        ? pickPath(title, `A cgroup v2 directory on ${loaded.target} (or type a path)`, r.cgroups)
        : text(r.cgroupRoot ? `${r.cgroupRoot}/…` : example, (v) => (v.startsWith('/') ? undefined : 'an absolute cgroup v2 directory'));
    case 'binary':
      return text(need.example, (v) => (/^[^:]+:[^:]+$/.test(v) ? undefined : 'binary:function[+offset] (e.g. /usr/bin/bash:readline)'));
    default:
      return text(need.example);
  }
}

export async function attachCommand(deps: LoadDeps, arg: unknown): Promise<void> {
  const client = deps.client();
  if (!client) return;
  const sel = fromNode(arg) ?? (await pickLoadedSelection(client));
  if (!sel) return;
  const r = await attachPrograms(deps, client, sel.loaded, sel.program !== undefined ? [sel.program] : undefined);
  if (r?.ok) {
    const what = r.attached.length ? r.attached.map((a) => `${a.program} → ${a.kind} ${a.target}`).join(', ') : 'nothing to attach';
    void vscode.window.showInformationMessage(`BPF Lens: attached ${what}`);
  }
}

async function pickLoadedSelection(client: LanguageClient): Promise<{ loaded: LoadedKernelObject; program?: string } | undefined> {
  const loaded = await pickLoaded(client, 'Loaded object');
  return loaded && { loaded };
}

export async function detachCommand(deps: LoadDeps, arg: unknown): Promise<void> {
  const client = deps.client();
  if (!client) return;
  const sel = fromNode(arg) ?? (await pickLoadedSelection(client));
  if (!sel) return;
  const r = await client.sendRequest(DetachObjectRequest, {
    handle: sel.loaded.handle,
    ...(sel.program !== undefined ? { programs: [sel.program] } : {}),
  });
  for (const a of r.detached) deps.output.appendLine(`detached ${a.program} from ${a.kind} ${a.target}`);
  for (const e of r.errors) deps.output.appendLine(`detach: ${e}`);
  deps.refreshTree();
  if (r.errors.length) void vscode.window.showErrorMessage(`BPF Lens: detach: ${r.errors[0]}`);
  else
    void vscode.window.showInformationMessage(
      `BPF Lens: detached ${r.detached.map((a) => a.program).join(', ') || 'nothing (nothing was attached)'}`,
    );
}

let tokens = 0;

/** Run Object: load into the selected target and attach everything libbpf would; Detach or Unload stops it. */
export async function runObjectCommand(deps: LoadDeps, path: string | undefined): Promise<void> {
  const client = deps.client();
  if (!client) return void vscode.window.showErrorMessage('BPF Lens: the language server is not running.');
  const target = deps.target();
  path ??= await pickObject(client, target);
  if (!path) return;
  const name = path.split('/').pop()!;
  const token = `run-${++tokens}`;
  const l = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `BPF Lens: running ${name}${target === 'local' ? '' : ` on ${target}`}` },
    async (progress) => {
      const sub = client.onNotification(LoadProgressNotification, (p) => {
        if (p.token === token) progress.report({ message: `${p.stage}${p.detail ? `: ${p.detail}` : ''}` });
      });
      try {
        return await client.sendRequest(LoadObjectRequest, { path, target, token });
      } finally {
        sub.dispose();
      }
    },
  );
  deps.output.appendLine(`run ${path} (target ${target}, loaded in ${l.ms.toFixed(0)} ms)`);
  if (!l.ok) {
    deps.output.appendLine(`error (${l.error!.code ?? l.error!.stage}): ${l.error!.message}`);
    return void vscode.window.showErrorMessage(`BPF Lens: load failed: ${l.error!.message.split('\n')[0]}`);
  }
  for (const line of l.lines ?? []) deps.output.appendLine(line);
  const r = await attachPrograms(deps, client, l.loaded!);
  if (!r?.ok) {
    await unloadCommand(deps, l.loaded);
    return;
  }
  // Its ring/perf buffer records in the Events panel, its bpf_printk lines in their channel.
  await vscode.commands.executeCommand('bpfLens.observeLoaded', l.loaded!);
  void vscode.window
    .showInformationMessage(
      `BPF Lens: running ${name}: ${r.attached.length} attached (${r.attached.map((a) => a.program).join(', ')})`,
      'Detach',
      'Unload',
    )
    .then(async (pick) => {
      if (pick === 'Detach') await detachCommand(deps, { type: 'loaded', loaded: l.loaded! });
      else if (pick === 'Unload') await unloadCommand(deps, l.loaded);
    });
}

const PACKET_TYPES = new Set([
  'xdp',
  'sched_cls',
  'sched_act',
  'socket_filter',
  'cgroup_skb',
  'flow_dissector',
  'lwt_in',
  'lwt_out',
  'lwt_xmit',
]);

/** `SPEC [repeat=N] [ctx=FILE]` or `data=FILE [...]`: what the input box takes. */
export function parseTestInput(text: string): { packet?: string; dataFile?: string; ctxFile?: string; repeat?: number } {
  const out: { packet?: string; dataFile?: string; ctxFile?: string; repeat?: number } = {};
  const spec: string[] = [];
  for (const w of text.trim().split(/\s+/).filter(Boolean)) {
    const m = /^(repeat|ctx|data)=(.+)$/.exec(w);
    if (!m) spec.push(w);
    else if (m[1] === 'repeat') out.repeat = Number(m[2]);
    else if (m[1] === 'ctx') out.ctxFile = m[2];
    else out.dataFile = m[2];
  }
  if (spec.length) out.packet = spec.join(' ');
  return out;
}

/** Test Run…: BPF_PROG_TEST_RUN of a loaded program on a packet spec or a file; the result in a document. */
export async function testRunCommand(deps: LoadDeps, arg: unknown): Promise<void> {
  const client = deps.client();
  if (!client) return;
  let sel = fromNode(arg) ?? (await pickLoadedSelection(client));
  if (!sel) return;
  if (sel.program === undefined) {
    const progs = sel.loaded.programs;
    const pick =
      progs.length === 1
        ? progs[0].name
        : (
            await vscode.window.showQuickPick(
              progs.map((p) => ({ label: p.name, description: `${p.type} · prog id ${p.id}` })),
              { placeHolder: 'Program to test-run' },
            )
          )?.label;
    if (!pick) return;
    sel = { loaded: sel.loaded, program: pick };
  }
  const program = sel.program!;
  const type = sel.loaded.programs.find((p) => p.name === program)?.type ?? '';
  const input = await vscode.window.showInputBox({
    title: `Test Run ${program}`,
    prompt: 'A packet (eth/ipv4(dst=10.0.0.2)/tcp(dport=80,flags=S)/payload(text)), or data=FILE; then optional repeat=N, ctx=FILE',
    value: PACKET_TYPES.has(type) ? 'eth/ipv4/udp(dport=53)' : '',
  });
  if (input === undefined) return;
  const r = await client.sendRequest(TestRunProgramRequest, { handle: sel.loaded.handle, program, ...parseTestInput(input) });
  if (!r.ok) return void vscode.window.showErrorMessage(`BPF Lens: test run of ${program}: ${r.error}`);
  const text = [
    `# test run: ${program} (${type}) in ${sel.loaded.path} on ${sel.loaded.target}`,
    `# input: ${input || '(none)'}`,
    '',
    ...r.lines,
    '',
  ].join('\n');
  const doc = await vscode.workspace.openTextDocument({ content: text, language: 'plaintext' });
  await vscode.window.showTextDocument(doc, { preview: false });
  deps.output.appendLine(`test run ${program}: ${r.lines[0]}`);
  void vscode.window.showInformationMessage(`BPF Lens: ${program} returned ${r.retval}${r.retvalName ? ` (${r.retvalName})` : ''}`);
}
