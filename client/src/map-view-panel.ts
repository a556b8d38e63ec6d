/**
 * Map views, one webview panel per loaded map: the elements read through bpfLens/mapElements
 * on demand (Refresh) and every `bpfLens.mapView.refreshMs` while the panel is visible and not
 * paused, one request in flight at a time; edits go to bpfLens/mapUpdate and bpfLens/mapDelete
 * and the table reads again. A hidden panel stops polling and reads once when shown again; a
 * closed one stops for good.
 */
import { randomBytes } from 'crypto';
import { posix } from 'path';
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import {
  type LoadedKernelObject,
  LoadedObjectsRequest,
  MapDeleteRequest,
  type MapElementsResult,
  MapElementsRequest,
  MapUpdateRequest,
} from '../../protocol/lsp';
import { LIMIT, mapViewHtml } from './map-view-webview';

type LoadedMap = LoadedKernelObject['maps'][number];

/** Messages from the page. */
type FromPage =
  | { type: 'ready' | 'refresh' }
  | { type: 'pause'; paused: boolean }
  | { type: 'filter'; filter: string }
  | { type: 'update'; key: string; value: string; flag: 'exist' | 'noexist' }
  | { type: 'delete'; key: string };

class MapView {
  private filter = '';
  private paused = false;
  private inFlight = false;
  /** A read asked for while one was in flight: it runs when that one ends. */
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private disposed = false;

  constructor(
    readonly loaded: LoadedKernelObject,
    readonly map: LoadedMap,
    readonly panel: vscode.WebviewPanel,
    private readonly client: () => LanguageClient | undefined,
  ) {
    panel.webview.onDidReceiveMessage((m: FromPage) => void this.onMessage(m));
    panel.onDidChangeViewState(() => {
      if (panel.visible) void this.read();
      else this.stopTimer();
    });
    panel.onDidDispose(() => {
      this.disposed = true;
      this.stopTimer();
    });
  }

  private async onMessage(m: FromPage): Promise<void> {
    switch (m.type) {
      case 'ready':
      case 'refresh':
        return this.read();
      case 'pause':
        this.paused = m.paused;
        if (this.paused) this.stopTimer();
        void this.panel.webview.postMessage({ type: 'paused', paused: this.paused });
        if (!this.paused) return this.read();
        return;
      case 'filter':
        this.filter = m.filter;
        return this.read();
      case 'update':
        return this.write(() =>
          this.client()?.sendRequest(MapUpdateRequest, {
            handle: this.loaded.handle,
            map: this.map.name,
            key: m.key,
            value: m.value,
            flag: m.flag,
          }),
        );
      case 'delete': {
        const yes = await vscode.window.showWarningMessage(`Delete ${m.key} from ${this.map.kernelName}?`, { modal: true }, 'Delete');
        if (yes === 'Delete')
          return this.write(() =>
            this.client()?.sendRequest(MapDeleteRequest, { handle: this.loaded.handle, map: this.map.name, key: m.key }),
          );
      }
    }
  }

  private async write(send: () => Thenable<{ ok: boolean; error?: string; field?: string }> | undefined): Promise<void> {
    let r: { ok: boolean; error?: string; field?: string };
    try {
      r = (await send()) ?? { ok: false, error: 'the language server is not running' };
    } catch (e) {
      r = { ok: false, error: (e as Error).message };
    }
    void this.panel.webview.postMessage({ type: 'written', ...r });
    if (r.ok) await this.read();
  }

  /** Reads the elements now (or right after the read in flight) and schedules the next one. */
  async read(): Promise<void> {
    if (this.disposed) return;
    if (this.inFlight) {
      this.again = true;
      return;
    }
    const c = this.client();
    if (!c) return;
    this.stopTimer();
    this.inFlight = true;
    const t0 = Date.now();
    let result: MapElementsResult;
    try {
      result = await c.sendRequest(MapElementsRequest, {
        handle: this.loaded.handle,
        map: this.map.name,
        limit: LIMIT,
        ...(this.filter.trim() ? { filter: this.filter } : {}),
      });
    } catch (e) {
      result = { count: 0, truncated: false, elements: [], error: (e as Error).message };
    } finally {
      this.inFlight = false;
    }
    if (this.disposed) return;
    void this.panel.webview.postMessage({ type: 'data', result, paused: this.paused, ms: Date.now() - t0, at: Date.now() });
    // Unloaded: the last rows stay with the error; nothing more to read.
    if (result.unloaded) return;
    if (this.again) {
      this.again = false;
      return this.read();
    }
    this.schedule();
  }

  private schedule(): void {
    const ms = vscode.workspace.getConfiguration('bpfLens').get<number>('mapView.refreshMs', 1000);
    if (this.disposed || this.paused || !this.panel.visible || !(ms > 0)) return;
    this.timer = setTimeout(() => void this.read(), Math.max(100, ms));
  }

  private stopTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** The setting changed: the next read follows it. */
  reschedule(): void {
    if (this.inFlight) return;
    this.stopTimer();
    this.schedule();
  }
}

export class MapViews implements vscode.Disposable {
  private readonly views = new Map<string, MapView>();
  private readonly sub: vscode.Disposable;

  constructor(private readonly client: () => LanguageClient | undefined) {
    this.sub = vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('bpfLens.mapView.refreshMs')) for (const v of this.views.values()) v.reschedule();
    });
  }

  show(loaded: LoadedKernelObject, map: LoadedMap): void {
    const id = `${loaded.handle}/${map.name}`;
    const open = this.views.get(id);
    if (open) return open.panel.reveal(undefined, true);
    const title = `Map: ${map.kernelName} (${posix.basename(loaded.path)})`;
    const panel = vscode.window.createWebviewPanel(
      'bpfLens.mapView',
      title,
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: false },
      { enableScripts: true, retainContextWhenHidden: true, localResourceRoots: [] },
    );
    panel.webview.html = mapViewHtml(randomBytes(16).toString('base64'), panel.webview.cspSource, title);
    this.views.set(id, new MapView(loaded, map, panel, this.client));
    panel.onDidDispose(() => this.views.delete(id));
  }

  /** Show Map: from a loaded map's tree node, else a pick of every loaded map. */
  async showCommand(arg: unknown): Promise<void> {
    const node =
      arg && typeof arg === 'object' && 'loaded' in arg && 'map' in arg
        ? (arg as { loaded: LoadedKernelObject; map: LoadedMap })
        : undefined;
    if (node) return this.show(node.loaded, node.map);
    const c = this.client();
    if (!c) return;
    const all = (await c.sendRequest(LoadedObjectsRequest)).loaded;
    const items = all.flatMap((o) =>
      o.maps.map((m) => ({
        label: m.kernelName,
        description: `${m.type} · id ${m.id}`,
        detail: `${posix.basename(o.path)} on ${o.target}`,
        o,
        m,
      })),
    );
    if (!items.length) return void vscode.window.showInformationMessage('BPF Lens: no map is loaded (Run Object… first).');
    const pick = await vscode.window.showQuickPick(items, {
      placeHolder: 'Show which loaded map?',
      matchOnDescription: true,
      matchOnDetail: true,
    });
    if (pick) this.show(pick.o, pick.m);
  }

  /** A restarted server holds none of the old loads: their views close. */
  closeAll(): void {
    for (const v of [...this.views.values()]) v.panel.dispose();
  }

  dispose(): void {
    this.sub.dispose();
    this.closeAll();
  }
}

/** The Map views and their command (bpfLens.showMap), disposed with the extension. */
export function registerMapViews(context: vscode.ExtensionContext, client: () => LanguageClient | undefined): MapViews {
  const views = new MapViews(client);
  context.subscriptions.push(
    views,
    vscode.commands.registerCommand('bpfLens.showMap', (arg?: unknown) => views.showCommand(arg)),
  );
  return views;
}
