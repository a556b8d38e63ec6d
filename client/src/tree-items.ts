// The tree item of each kind of node in the "BPF" view: one function per kind, chosen by
// the node's type (ITEMS); what the loaded-in-kernel nodes show is at the end.
import * as vscode from 'vscode';
import type { BaseDiffItem } from '../../protocol/lsp';
import type { KernelNode, Node } from './tree';

type Of<K extends Node['type']> = Extract<Node, { type: K }>;

/** The item for any node. */
export function treeItem(n: Node): vscode.TreeItem {
  const make = ITEMS[n.type] as ((n: Node) => vscode.TreeItem) | undefined;
  return make ? make(n) : kernelTreeItem(n as KernelNode);
}

function openAt(file: string, line: number, title: string): vscode.Command {
  const pos = new vscode.Position(line, 0);
  return { command: 'vscode.open', title, arguments: [vscode.Uri.file(file), { selection: new vscode.Range(pos, pos) }] };
}

const STATUS_ICON: Record<BaseDiffItem['status'], string> = {
  match: 'pass',
  'size-not-checked': 'question',
  'size-mismatch': 'error',
  'encoding-mismatch': 'error',
  'kind-mismatch': 'error',
  missing: 'error',
  ambiguous: 'warning',
  invalid: 'error',
};

function objectItem(n: Of<'object'>): vscode.TreeItem {
  const C = vscode.TreeItemCollapsibleState;
  const o = n.object;
  const t = new vscode.TreeItem(o.name, C.Collapsed);
  t.description = o.error ? 'cannot read' : `${o.programCount} programs, ${o.mapCount} maps`;
  t.tooltip = o.error ?? o.path;
  t.resourceUri = vscode.Uri.file(o.path);
  t.iconPath = new vscode.ThemeIcon(o.error ? 'error' : 'package');
  // Modules without .BTF.base also offer "Distill Base BTF…" (menus match /^object/).
  t.contextValue = o.module && !o.module.distilledBase ? 'object-module' : 'object';
  t.command = { command: 'bpfLens.openSummary', title: 'Open Summary', arguments: [n] };
  return t;
}

function groupItem(n: Of<'group'>): vscode.TreeItem {
  const C = vscode.TreeItemCollapsibleState;
  const label = {
    programs: 'Programs',
    maps: 'Maps',
    btf: 'BTF types',
    externs: 'Externs',
    problems: 'Problems',
    distilled: 'Distilled base',
    core: 'CO-RE relocations',
  }[n.group];
  const t = new vscode.TreeItem(label, C.Collapsed);
  const o = n.object;
  if (n.group === 'distilled') {
    t.description = o.module?.distilledBase ? 'vs target vmlinux' : 'no .BTF.base';
    t.contextValue = 'group-distilled';
    t.iconPath = new vscode.ThemeIcon('diff');
    return t;
  }
  const count = {
    programs: o.programs.length,
    maps: o.maps.length,
    btf: o.btfKinds.reduce((s, k) => s + k.count, 0),
    externs: o.externs.length,
    problems: o.problems.length,
    core: o.coreRelocations ?? 0,
  }[n.group];
  t.description = String(count);
  t.contextValue = `group-${n.group}`;
  return t;
}

function programItem(n: Of<'program'>): vscode.TreeItem {
  const C = vscode.TreeItemCollapsibleState;
  const p = n.program;
  const t = new vscode.TreeItem(p.name, C.None);
  t.description = `${p.section} · ${p.insnCount} insns`;
  t.tooltip = `${p.progType || 'unknown type'}${p.attachType ? `, ${p.attachType}` : ''}`;
  t.iconPath = new vscode.ThemeIcon('symbol-function');
  t.contextValue = 'program';
  t.command = { command: 'bpfLens.openDisassembly', title: 'Open Disassembly', arguments: [n] };
  return t;
}

function mapItem(n: Of<'map'>): vscode.TreeItem {
  const C = vscode.TreeItemCollapsibleState;
  const m = n.map;
  const t = new vscode.TreeItem(m.name, C.None);
  t.description = `${m.mapType || '?'} · ${m.keySize}/${m.valueSize} B · ${m.maxEntries}`;
  t.iconPath = new vscode.ThemeIcon('symbol-struct');
  t.contextValue = 'map';
  if (m.source) t.command = openAt(m.source.file, m.source.line, 'Go to Definition');
  return t;
}

function externItem(n: Of<'extern'>): vscode.TreeItem {
  const C = vscode.TreeItemCollapsibleState;
  const t = new vscode.TreeItem(n.extern.name, C.None);
  const to = n.extern.resolvedIn;
  const link = ['function', 'variable', 'map'].includes(n.extern.kind);
  t.description = `${n.extern.kind}${n.extern.weak ? ' (weak)' : ''}${to ? ` → ${to.split('/').pop()}` : link ? ' → unresolved' : ' → kernel'}`;
  t.tooltip = to
    ? `${n.extern.name}: defined in ${to}`
    : link
      ? `${n.extern.name}: no object in the workspace defines it (a link would fail)`
      : `${n.extern.name}: resolved by the loader against the kernel`;
  t.iconPath = new vscode.ThemeIcon(link && !to ? 'warning' : 'symbol-reference');
  return t;
}

function problemItem(n: Of<'problem'>): vscode.TreeItem {
  const C = vscode.TreeItemCollapsibleState;
  const t = new vscode.TreeItem(n.text, C.None);
  t.iconPath = new vscode.ThemeIcon('warning');
  return t;
}

function btfKindItem(n: Of<'btfKind'>): vscode.TreeItem {
  const C = vscode.TreeItemCollapsibleState;
  const t = new vscode.TreeItem(n.kind, C.Collapsed);
  t.description = n.search ? `${n.count} types, search "${n.search}"` : `${n.count}`;
  t.contextValue = 'btfKind';
  return t;
}

function btfTypeItem(n: Of<'btfType'>): vscode.TreeItem {
  const C = vscode.TreeItemCollapsibleState;
  const t = new vscode.TreeItem(n.item.name, C.None);
  t.description = `[${n.item.id}] ${n.item.detail}`;
  t.command = { command: 'bpfLens.openType', title: 'Open Type', arguments: [n] };
  return t;
}

function moreItem(n: Of<'more'>): vscode.TreeItem {
  const C = vscode.TreeItemCollapsibleState;
  const t = new vscode.TreeItem(`Load more… (${n.offset} of ${n.total})`, C.None);
  t.command = { command: 'bpfLens.loadMore', title: 'Load More', arguments: [n] };
  return t;
}

function baseRowItem(n: Of<'baseRow'>): vscode.TreeItem {
  const C = vscode.TreeItemCollapsibleState;
  const r = n.row;
  const t = new vscode.TreeItem(`${r.kind.toLowerCase()} ${r.name || `[${r.id}]`}`, C.None);
  t.description = `${r.status} · ${r.size} B${r.targetId !== undefined ? ` → [${r.targetId}] ${r.targetSize ?? '?'} B` : ''}`;
  t.tooltip =
    [
      r.reason,
      r.usedByCount
        ? `used by ${r.usedBy.join(', ')}${r.usedByCount > r.usedBy.length ? ` (+${r.usedByCount - r.usedBy.length})` : ''}`
        : '',
    ]
      .filter(Boolean)
      .join('\n') || undefined;
  t.iconPath = new vscode.ThemeIcon(STATUS_ICON[r.status]);
  t.command = { command: 'bpfLens.openBaseDiff', title: 'Open Base Diff', arguments: [n] };
  return t;
}

function coreReloItem(n: Of<'coreRelo'>): vscode.TreeItem {
  const C = vscode.TreeItemCollapsibleState;
  const x = n.item;
  const t = new vscode.TreeItem(x.access, C.None);
  const value = x.status === 'ok' ? `${x.compiled ?? '?'} → ${x.onTarget ?? '?'}` : x.status;
  t.description = `${x.kind} · ${value}`;
  t.tooltip = `${x.section} relo #${x.index} on ${n.target}: ${x.kind} ${x.access}${x.compiled !== undefined ? `, compiled ${x.compiled}` : ''}${x.onTarget !== undefined ? `, target ${x.onTarget}` : ''}${x.message ? `\n${x.message}` : ''}`;
  t.iconPath = new vscode.ThemeIcon({ ok: 'pass', missing: 'info', poisoned: 'warning', ambiguous: 'error', invalid: 'error' }[x.status]);
  if (x.source) t.command = openAt(x.source.file, x.source.line, 'Go to Source');
  return t;
}

function targetsRootItem(n: Of<'targetsRoot'>): vscode.TreeItem {
  const C = vscode.TreeItemCollapsibleState;
  const t = new vscode.TreeItem('Targets', C.Collapsed);
  t.description = n.selected;
  t.iconPath = new vscode.ThemeIcon('vm');
  return t;
}

function targetItem(n: Of<'target'>): vscode.TreeItem {
  const C = vscode.TreeItemCollapsibleState;
  const x = n.target;
  const t = new vscode.TreeItem(x.name, C.Collapsed);
  t.description = [n.selected ? 'selected' : '', x.info?.release ?? '', x.where ?? (x.kind === 'local' ? 'this machine' : '')]
    .filter(Boolean)
    .join(' · ');
  t.tooltip = x.info
    ? `${x.name}: ${x.info.release}${x.info.arch ? ` ${x.info.arch}` : ''}, ${x.info.canLoad ? 'can load' : 'cannot load'}`
    : `${x.name}: not connected yet`;
  t.iconPath = new vscode.ThemeIcon(n.selected ? 'pass-filled' : 'vm');
  t.contextValue = 'target';
  t.command = n.selected ? undefined : { command: 'bpfLens.pickTarget', title: 'Select Target', arguments: [x.name] };
  return t;
}

function failureItem(n: Of<'failure'>): vscode.TreeItem {
  const C = vscode.TreeItemCollapsibleState;
  const t = new vscode.TreeItem(n.text, C.None);
  t.iconPath = new vscode.ThemeIcon('error');
  return t;
}

function targetGroupItem(n: Of<'targetGroup'>): vscode.TreeItem {
  const C = vscode.TreeItemCollapsibleState;
  const t = new vscode.TreeItem(n.group === 'btf' ? 'vmlinux BTF' : 'Loaded', C.Collapsed);
  if (n.group === 'loaded') t.description = String(n.loaded.length);
  return t;
}

const ITEMS: { readonly [K in Node['type']]?: (n: Of<K>) => vscode.TreeItem } = {
  object: objectItem,
  group: groupItem,
  program: programItem,
  map: mapItem,
  extern: externItem,
  problem: problemItem,
  btfKind: btfKindItem,
  btfType: btfTypeItem,
  more: moreItem,
  baseRow: baseRowItem,
  coreRelo: coreReloItem,
  targetsRoot: targetsRootItem,
  target: targetItem,
  failure: failureItem,
  targetGroup: targetGroupItem,
};

function kernelTreeItem(n: KernelNode): vscode.TreeItem {
  const C = vscode.TreeItemCollapsibleState;
  switch (n.type) {
    case 'loadedRoot': {
      const t = new vscode.TreeItem('Loaded in kernel', C.Expanded);
      t.description = String(n.loaded.length);
      t.iconPath = new vscode.ThemeIcon('server-process');
      return t;
    }
    case 'loaded': {
      const l = n.loaded;
      const t = new vscode.TreeItem(l.path.split('/').pop()!, C.Collapsed);
      const attached = new Set((l.attached ?? []).map((a) => a.program)).size;
      t.description = `${l.target} · ${l.programs.length} programs, ${l.maps.length} maps${attached ? ` · ${attached} attached` : ''}`;
      t.tooltip = l.path;
      t.iconPath = new vscode.ThemeIcon('debug-start');
      t.contextValue = 'loaded';
      return t;
    }
    case 'kernelItem': {
      const t = new vscode.TreeItem(n.label, C.None);
      t.description = n.description;
      t.iconPath = new vscode.ThemeIcon(n.icon);
      if (n.program !== undefined) {
        t.contextValue = n.attached?.length ? 'loadedProgram-attached' : 'loadedProgram';
        if (n.attached?.length)
          t.tooltip = n.attached
            .map((a) => `${a.kind} ${a.target} (${a.mechanism}${a.linkIds.length ? `, link ${a.linkIds.join(' ')}` : ''})`)
            .join('\n');
      }
      return t;
    }
    case 'loadedMap': {
      const m = n.map;
      const t = new vscode.TreeItem(m.kernelName, C.Collapsed);
      t.description = `map id ${m.id} · ${m.type}${m.pinnedAt ? ` · pinned ${m.pinnedAt}` : ''}`;
      t.tooltip = 'Expand for its elements (read live; Refresh reads again); Show Map opens a live table to filter and edit';
      t.iconPath = new vscode.ThemeIcon('symbol-struct');
      t.contextValue = 'loadedMap';
      return t;
    }
    case 'mapElement': {
      const t = new vscode.TreeItem(n.key || '(next)', C.None);
      t.description = n.value;
      t.tooltip = `${n.key ? `[${n.key}] = ` : ''}${n.value}`;
      t.iconPath = new vscode.ThemeIcon('symbol-field');
      return t;
    }
    case 'mapNote': {
      const t = new vscode.TreeItem(n.text, C.None);
      t.iconPath = new vscode.ThemeIcon('info');
      return t;
    }
  }
}
