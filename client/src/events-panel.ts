/**
 * Events panels, one per observed load: the server streams the load's ring/perf buffer records
 * (bpfLens/events, bounded batches) and this side hands them to the load's webview and its
 * bpf_printk lines to the printk channel. Run Object starts observing (the panel opens when the
 * object has ring or perf buffers); "Show Events" opens it for any load. Closing a panel stops
 * the stream unless bpf_printk lines still come through it; unloading ends it.
 */
import { randomBytes } from 'crypto';
import { posix } from 'path';
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import {
  type EventCounters,
  EventsDecodeRequest,
  EventsNotification,
  type EventsNotificationParams,
  type LoadedKernelObject,
  LoadedObjectsRequest,
  ObserveEventsRequest,
  type ObserveEventsResult,
  StopEventsRequest,
} from '../../protocol/lsp';
import { eventsHtml } from './events-webview';
import type { PrintkChannel } from './printk';

interface Observed {
  readonly loaded: LoadedKernelObject;
  result: ObserveEventsResult;
  panel?: vscode.WebviewPanel;
  /** The page said it listens; until then its messages wait (the last few). */
  ready: boolean;
  waiting: EventsNotificationParams[];
  done: boolean;
  counters?: EventCounters;
}

export class EventsPanels implements vscode.Disposable {
  private readonly observed = new Map<number, Observed>();
  private sub: vscode.Disposable | undefined;

  constructor(
    private readonly client: () => LanguageClient | undefined,
    private readonly printk: PrintkChannel,
  ) {}

  /** A (re)started client: what the last server streamed is over. */
  listen(c: LanguageClient): void {
    this.sub?.dispose();
    for (const o of this.observed.values())
      this.post(o, { handle: o.loaded.handle, rows: [], printk: [], counters: o.counters ?? zero, done: true });
    this.observed.clear();
    this.sub = c.onNotification(EventsNotification, (p) => this.onEvents(p));
  }

  /**
   * Starts observing a load (once), bpf_printk lines to the printk channel; shows its panel when
   * `show` is true, or when 'auto' and it has ring or perf buffers. Nothing to read: stops again.
   */
  async observe(loaded: LoadedKernelObject, show: boolean | 'auto'): Promise<ObserveEventsResult | undefined> {
    const c = this.client();
    if (!c) return undefined;
    let o = this.observed.get(loaded.handle);
    if (!o) {
      const r = await c.sendRequest(ObserveEventsRequest, { handle: loaded.handle });
      if (!r.ok) {
        void vscode.window.showErrorMessage(`BPF Lens: events of ${posix.basename(loaded.path)}: ${r.error}`);
        return r;
      }
      o = { loaded, result: r, ready: false, waiting: [], done: false };
      this.observed.set(loaded.handle, o);
      this.printk.started(loaded, r);
      if (!r.maps.length && !r.printk && show !== true) {
        await this.stop(o);
        return r;
      }
    }
    if (show === true || (show === 'auto' && o.result.maps.length)) this.show(o);
    return o.result;
  }

  private show(o: Observed): void {
    if (o.panel) return o.panel.reveal(undefined, true);
    const name = posix.basename(o.loaded.path);
    const panel = vscode.window.createWebviewPanel(
      'bpfLens.events',
      `Events: ${name}`,
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
      { enableScripts: true, retainContextWhenHidden: true, localResourceRoots: [] },
    );
    o.panel = panel;
    o.ready = false;
    panel.webview.html = eventsHtml(randomBytes(16).toString('base64'), panel.webview.cspSource, `Events: ${name}`);
    panel.webview.onDidReceiveMessage((m: { type: string; map?: string }) => {
      if (m.type === 'ready') {
        o.ready = true;
        void panel.webview.postMessage({ type: 'init', maps: o.result.maps });
        for (const w of o.waiting.splice(0)) this.post(o, w);
      } else if (m.type === 'decode' && m.map) void this.decodeAs(o, m.map);
    });
    panel.onDidDispose(() => {
      o.panel = undefined;
      if (!o.result.printk && !o.done) void this.stop(o);
    });
  }

  /** Decode As…: a quick pick of the object's struct and union types for one map's records. */
  private async decodeAs(o: Observed, map: string): Promise<void> {
    const c = this.client();
    const current = o.result.maps.find((m) => m.name === map)?.type;
    const pick = await vscode.window.showQuickPick(
      o.result.types.map((t) => ({ label: t, description: t === current ? 'current' : undefined })),
      { placeHolder: `Decode the records of ${map} as…` },
    );
    if (!pick || !c) return;
    const r = await c.sendRequest(EventsDecodeRequest, { handle: o.loaded.handle, map, type: pick.label });
    if (!r.ok || !r.map) return void vscode.window.showErrorMessage(`BPF Lens: ${r.error}`);
    o.result = { ...o.result, maps: o.result.maps.map((m) => (m.name === map ? r.map! : m)) };
    void o.panel?.webview.postMessage({ type: 'maps', maps: o.result.maps });
  }

  private onEvents(p: EventsNotificationParams): void {
    const o = this.observed.get(p.handle);
    if (!o) return;
    o.counters = p.counters;
    if (p.printk.length) this.printk.lines(o.loaded, p.printk);
    this.post(o, p);
    if (p.done) {
      o.done = true;
      this.observed.delete(p.handle);
    }
  }

  private post(o: Observed, p: EventsNotificationParams): void {
    if (!o.panel) return;
    if (!o.ready) {
      o.waiting.push(p);
      if (o.waiting.length > 20) o.waiting.shift();
      return;
    }
    void o.panel.webview.postMessage({ type: 'events', rows: p.rows, counters: p.counters, done: p.done ?? false });
  }

  private async stop(o: Observed): Promise<void> {
    this.observed.delete(o.loaded.handle);
    await this.client()
      ?.sendRequest(StopEventsRequest, { handle: o.loaded.handle })
      .catch(() => undefined);
  }

  /** Show Events: from a loaded object's tree node, else a pick of what is loaded. */
  async showCommand(arg: unknown): Promise<void> {
    const c = this.client();
    if (!c) return;
    let loaded = arg && typeof arg === 'object' && 'loaded' in arg ? (arg as { loaded: LoadedKernelObject }).loaded : undefined;
    if (!loaded) {
      const all = (await c.sendRequest(LoadedObjectsRequest)).loaded;
      if (!all.length) return void vscode.window.showInformationMessage('BPF Lens: nothing is loaded (Run Object… first).');
      const pick =
        all.length === 1
          ? { o: all[0] }
          : await vscode.window.showQuickPick(
              all.map((o) => ({ label: posix.basename(o.path), description: o.target, o })),
              { placeHolder: 'Events of which loaded object?' },
            );
      loaded = pick?.o;
    }
    if (loaded) await this.observe(loaded, true);
  }

  dispose(): void {
    this.sub?.dispose();
    for (const o of this.observed.values()) o.panel?.dispose();
  }
}

const zero: EventCounters = { records: 0, printk: 0, shown: 0, dropped: 0, lost: 0, lostByMap: {}, rate: 0 };
