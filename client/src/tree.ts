import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import {
  type BtfTypeItem,
  BtfTypesRequest,
  type ObjectEntry,
  ObjectListRequest,
  ObjectsRequest,
  type ObjectSummary,
  type ProgramItem,
  type MapItem,
  type ExternItem,
  type KernelAttachment,
  type LoadedKernelObject,
  LoadedObjectsRequest,
  MapElementsRequest,
  type BaseDiffItem,
  BaseDiffRequest,
  TargetBtfRequest,
  TargetsRequest,
  type TargetsResult,
  type CoreRelocationItem,
  CoreRelocationsRequest,
} from '../../protocol/lsp';
import { treeItem } from './tree-items';

/**
 * Nodes of the "BPF" tree: Objects → Programs, Maps, BTF types by kind (paged), Externs. The
 * roots are one line per object (bpfLens/objectList); an object's whole summary is asked for
 * when it opens, so a workspace of a thousand objects costs the server a short list, not all.
 */
export type Node =
  | { type: 'object'; object: ObjectEntry }
  | { type: 'group'; object: ObjectSummary; group: 'programs' | 'maps' | 'btf' | 'externs' | 'problems' | 'distilled' | 'core' }
  | { type: 'coreRelo'; object: ObjectSummary; item: CoreRelocationItem; target: string }
  | { type: 'baseRow'; object: ObjectSummary; row: BaseDiffItem; target: string }
  | { type: 'program'; object: ObjectSummary; program: ProgramItem }
  | { type: 'map'; object: ObjectSummary; map: MapItem }
  | { type: 'extern'; object: ObjectSummary; extern: ExternItem }
  | { type: 'problem'; object: ObjectSummary; text: string }
  | { type: 'btfKind'; object: ObjectSummary; kind: string; count: number; search?: string }
  | { type: 'btfType'; object: ObjectSummary; item: BtfTypeItem }
  | { type: 'more'; object: ObjectSummary; kind: string; offset: number; total: number; search?: string }
  | KernelNode
  | TargetNode;

/** Targets → each kernel: its vmlinux BTF types (paged, searchable, as an object's) and what is loaded there. */
export type TargetNode =
  | { type: 'targetsRoot'; selected: string; targets: TargetsResult['targets'] }
  | { type: 'target'; target: TargetsResult['targets'][number]; selected: boolean; loaded: readonly LoadedKernelObject[] }
  | { type: 'targetGroup'; target: string; group: 'btf' | 'loaded'; loaded: readonly LoadedKernelObject[] }
  | { type: 'failure'; text: string };

/** What the language server holds loaded in a kernel: one node per load, its programs and maps with kernel ids. */
export type KernelNode =
  | { type: 'loadedRoot'; loaded: readonly LoadedKernelObject[] }
  | { type: 'loaded'; loaded: LoadedKernelObject }
  | {
      type: 'kernelItem';
      loaded: LoadedKernelObject;
      label: string;
      description: string;
      icon: string;
      /** A program's name (maps have none); Attach/Detach/Test Run… act on it. */
      program?: string;
      /** Where it is attached (bpfLens/attach), as the tooltip lists it. */
      attached?: readonly KernelAttachment[];
    }
  /** A loaded map: expands to its elements, read live when opened or refreshed. */
  | { type: 'loadedMap'; loaded: LoadedKernelObject; map: LoadedKernelObject['maps'][number] }
  | { type: 'mapElement'; key: string; value: string }
  | { type: 'mapNote'; text: string };

export class ObjectsTree implements vscode.TreeDataProvider<Node> {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  /** Pages loaded so far per BTF kind node (the "more" item appends the next page). */
  private readonly pages = new Map<string, BtfTypeItem[]>();
  private readonly totals = new Map<string, number>();
  /** Search text per object path, set by the search command. */
  readonly searches = new Map<string, string>();
  /** What the server holds loaded, as of the last listing (grouped under each target). */
  private loaded: readonly LoadedKernelObject[] = [];
  /** Run statistics to show beside loaded programs (set by the extension). */
  programNote: (target: string, id: number) => string = () => '';

  /** The loads of the last listing. */
  get loadedObjects(): readonly LoadedKernelObject[] {
    return this.loaded;
  }

  /** Redraws the loaded programs' lines (run statistics moved), without asking the server again. */
  redrawLoaded(): void {
    this.changed.fire(undefined);
  }

  constructor(
    private readonly client: () => LanguageClient | undefined,
    private readonly pageSize: () => number,
  ) {}

  refresh(): void {
    this.pages.clear();
    this.totals.clear();
    this.changed.fire(undefined);
  }

  getTreeItem(n: Node): vscode.TreeItem {
    return treeItem(n);
  }

  async getChildren(n?: Node): Promise<Node[]> {
    const client = this.client();
    if (!client) return [];
    if (!n) {
      const [r, k, t] = await Promise.all([
        client.sendRequest(ObjectListRequest),
        client.sendRequest(LoadedObjectsRequest).catch(() => ({ loaded: [] })),
        client.sendRequest(TargetsRequest).catch(() => undefined),
      ]);
      const objects: Node[] = r.objects.map((object) => ({ type: 'object', object }));
      this.loaded = k.loaded;
      const roots: Node[] = t ? [{ type: 'targetsRoot', selected: t.selected, targets: t.targets }] : [];
      if (k.loaded.length) roots.push({ type: 'loadedRoot', loaded: k.loaded });
      return [...roots, ...objects];
    }
    if (n.type === 'targetsRoot')
      return n.targets.map((target) => ({
        type: 'target',
        target,
        selected: target.name === n.selected,
        loaded: this.loaded.filter((l) => l.target === target.name),
      }));
    if (n.type === 'target') {
      const groups: Node[] = [{ type: 'targetGroup', target: n.target.name, group: 'btf', loaded: n.loaded }];
      if (n.loaded.length) groups.push({ type: 'targetGroup', target: n.target.name, group: 'loaded', loaded: n.loaded });
      return groups;
    }
    if (n.type === 'failure') return [];
    if (n.type === 'targetGroup') {
      if (n.group === 'loaded') return n.loaded.map((loaded) => ({ type: 'loaded', loaded }));
      // The target's vmlinux BTF as a file the server reads like any object (an SSH target's: fetched once).
      try {
        const b = await client.sendRequest(TargetBtfRequest, { name: n.target });
        const object = (await client.sendRequest(ObjectsRequest, { path: b.path })).objects[0];
        return object ? this.kinds(client, object) : [];
      } catch (e) {
        return [{ type: 'failure', text: `cannot read its BTF: ${(e as Error).message}` }];
      }
    }
    if (n.type === 'loadedMap') return this.mapElements(client, n);
    if (!('object' in n)) return kernelChildren(n, this.programNote);
    if (n.type === 'object') return this.objectGroups(client, n.object);
    const object = n.object;
    switch (n.type) {
      case 'group':
        switch (n.group) {
          case 'programs':
            return object.programs.map((program) => ({ type: 'program', object, program }));
          case 'maps':
            return object.maps.map((map) => ({ type: 'map', object, map }));
          case 'externs':
            return object.externs.map((e) => ({ type: 'extern', object, extern: e }));
          case 'problems':
            return object.problems.map((text) => ({ type: 'problem', object, text }));
          case 'btf':
            return this.kinds(client, object);
          case 'distilled':
            return this.distilled(client, object);
          case 'core':
            return this.coreRelocations(client, object);
        }
        return [];
      case 'btfKind':
        return this.typePage(client, object, n.kind, n.search);
      default:
        return [];
    }
  }

  /** An object's groups, from its whole summary (asked for now: the root list holds a line). */
  private async objectGroups(client: LanguageClient, entry: ObjectEntry): Promise<Node[]> {
    let object: ObjectSummary | undefined;
    try {
      object = (await client.sendRequest(ObjectsRequest, { path: entry.path })).objects[0];
    } catch (e) {
      return [{ type: 'failure', text: `cannot read: ${(e as Error).message}` }];
    }
    if (!object) return [];
    if (object.error) return [{ type: 'problem', object, text: object.error }];
    if (object.module) {
      const groups = ['problems', 'distilled', 'btf'] as const;
      return groups
        .filter((g) => (g === 'btf' ? object.btfKinds.length : g === 'problems' ? object.problems.length : true))
        .map((group) => ({ type: 'group', object, group }));
    }
    const groups = ['problems', 'programs', 'maps', 'core', 'btf', 'externs'] as const;
    return groups
      .filter((g) =>
        g === 'btf' ? object.btfKinds.length : g === 'problems' ? object.problems.length : g === 'core' ? object.coreRelocations : true,
      )
      .map((group) => ({ type: 'group', object, group }));
  }

  private async kinds(client: LanguageClient, object: ObjectSummary): Promise<Node[]> {
    const search = this.searches.get(object.path);
    if (!search) return object.btfKinds.map((k) => ({ type: 'btfKind', object, kind: k.kind, count: k.count }));
    // With a search: only kinds that have matches, with their match counts.
    const out: Node[] = [];
    for (const k of object.btfKinds) {
      const r = await client.sendRequest(BtfTypesRequest, { path: object.path, kind: k.kind, search, limit: 1 });
      if (r.total) out.push({ type: 'btfKind', object, kind: k.kind, count: r.total, search });
    }
    return out;
  }

  /** The module's distilled base against the target, problems first (the server also publishes them as diagnostics). */
  private async distilled(client: LanguageClient, object: ObjectSummary): Promise<Node[]> {
    const r = await client.sendRequest(BaseDiffRequest, { path: object.path });
    if (r.noBase) return [{ type: 'problem', object, text: r.message ?? 'no .BTF.base' }];
    const order: Record<BaseDiffItem['status'], number> = {
      invalid: 0,
      missing: 1,
      ambiguous: 2,
      'kind-mismatch': 3,
      'size-mismatch': 4,
      'encoding-mismatch': 5,
      'size-not-checked': 6,
      match: 7,
    };
    return [...r.rows]
      .sort((a, b) => order[a.status] - order[b.status] || a.id - b.id)
      .map((row) => ({ type: 'baseRow', object, row, target: r.target }));
  }

  /** Every CO-RE relocation against the selected target, those that do not resolve first. */
  private async coreRelocations(client: LanguageClient, object: ObjectSummary): Promise<Node[]> {
    const r = await client.sendRequest(CoreRelocationsRequest, { path: object.path });
    const order: Record<CoreRelocationItem['status'], number> = { invalid: 0, ambiguous: 1, poisoned: 2, missing: 3, ok: 4 };
    return [...r.items]
      .sort((a, b) => order[a.status] - order[b.status])
      .map((item) => ({ type: 'coreRelo', object, item, target: r.target }));
  }

  private key(object: ObjectSummary, kind: string, search?: string): string {
    return `${object.path}\0${kind}\0${search ?? ''}`;
  }

  private async typePage(client: LanguageClient, object: ObjectSummary, kind: string, search?: string): Promise<Node[]> {
    const key = this.key(object, kind, search);
    let items = this.pages.get(key);
    if (!items) {
      const r = await client.sendRequest(BtfTypesRequest, { path: object.path, kind, search, offset: 0, limit: this.pageSize() });
      items = [...r.items];
      this.pages.set(key, items);
      this.totals.set(key, r.total);
    }
    const total = this.totals.get(key) ?? items.length;
    const nodes: Node[] = items.map((item) => ({ type: 'btfType', object, item }));
    if (items.length < total) nodes.push({ type: 'more', object, kind, offset: items.length, total, search });
    return nodes;
  }

  /** Appends the next page of a kind (the "Load more…" item). */
  async loadMore(n: Extract<Node, { type: 'more' }>): Promise<void> {
    const client = this.client();
    if (!client) return;
    const key = this.key(n.object, n.kind, n.search);
    const r = await client.sendRequest(BtfTypesRequest, {
      path: n.object.path,
      kind: n.kind,
      search: n.search,
      offset: n.offset,
      limit: this.pageSize(),
    });
    this.pages.set(key, [...(this.pages.get(key) ?? []), ...r.items]);
    this.totals.set(key, r.total);
    this.changed.fire(undefined);
  }

  /** A loaded map's elements as `key → value` rows, live from its target. */
  private async mapElements(client: LanguageClient, n: Extract<Node, { type: 'loadedMap' }>): Promise<Node[]> {
    let r;
    try {
      r = await client.sendRequest(MapElementsRequest, { handle: n.loaded.handle, map: n.map.name, limit: MAP_VIEW_LIMIT });
    } catch (e) {
      return [{ type: 'mapNote', text: `cannot read: ${(e as Error).message}` }];
    }
    const rows: Node[] = r.elements.map((e) => ({ type: 'mapElement', key: e.key, value: e.value }));
    if (r.error) rows.push({ type: 'mapNote', text: `elements not readable: ${r.error}` });
    else if (!r.count) rows.push({ type: 'mapNote', text: 'empty' });
    else if (r.count > r.elements.length || r.truncated)
      rows.push({ type: 'mapNote', text: `${r.truncated ? 'more than ' : ''}${r.count} elements: the first ${r.elements.length} shown` });
    return rows;
  }
}

/** Elements a map node lists (the server reads at most 1000 per request). */
const MAP_VIEW_LIMIT = 200;

function kernelChildren(n: KernelNode, note: (target: string, id: number) => string): Node[] {
  if (n.type === 'loadedRoot') return n.loaded.map((loaded) => ({ type: 'loaded', loaded }));
  if (n.type !== 'loaded') return [];
  const l = n.loaded;
  return [
    ...l.programs.map((p): Node => {
      const attached = (l.attached ?? []).filter((a) => a.program === p.name);
      const where = attached.map((a) => `${a.kind} ${a.target}${a.linkIds.length ? ` (link ${a.linkIds.join(' ')})` : ''}`).join(', ');
      return {
        type: 'kernelItem',
        loaded: l,
        label: p.name,
        description: `prog id ${p.id} · ${p.type}${where ? ` · attached: ${where}` : ` · ${p.verifiedInsns} insns verified`}${note(l.target, p.id)}`,
        icon: attached.length ? 'plug' : 'symbol-function',
        program: p.name,
        attached,
      };
    }),
    ...l.maps.map((map): Node => ({ type: 'loadedMap', loaded: l, map })),
  ];
}
