/**
 * Paged, searchable lists of one BTF blob's types, grouped by kind, for the tree view.
 * Built for vmlinux (150k types): the kind of every type comes from the encoded records
 * in one pass (no decoding), names are read only when a search needs them (once, then
 * kept), and only the types of the page asked for are decoded and described.
 */
import { type Btf } from '../btf/btf';
import { DumpView } from '../btf/dump-view';
import { sizeOf, typeName } from '../btf/layout';
import { KIND_NAMES, type TypeId } from '../btf/types';
import type { BtfKindCount, BtfTypeItem, BtfTypesParams, BtfTypesResult } from '../../../protocol/lsp';

export const DEFAULT_PAGE = 500;
export const MAX_PAGE = 10_000;

export class BtfCatalog {
  /** Own type ids of each kind (index: BTF kind number), ascending. */
  private readonly byKind: Int32Array[];
  private readonly startId: number;
  private lowerNames?: string[];

  constructor(readonly btf: Btf) {
    const v = new DumpView(btf);
    const n = v.count;
    const counts = new Int32Array(KIND_NAMES.length);
    const kinds = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const k = (v.w[v.recs[i] + 1] >>> 24) & 0x1f;
      kinds[i] = k;
      counts[k]++;
    }
    this.byKind = Array.from(counts, (c) => new Int32Array(c));
    const fill = new Int32Array(KIND_NAMES.length);
    for (let i = 0; i < n; i++) this.byKind[kinds[i]][fill[kinds[i]]++] = v.startId + i;
    this.startId = v.startId;
  }

  /** Kinds present, with their counts, in kind-number order. */
  kinds(): BtfKindCount[] {
    const out: BtfKindCount[] = [];
    this.byKind.forEach((ids, k) => {
      if (ids.length) out.push({ kind: KIND_NAMES[k], count: ids.length });
    });
    return out;
  }

  /** One page of the types of a kind (or all kinds), filtered by a name search. */
  page(p: Pick<BtfTypesParams, 'kind' | 'search' | 'offset' | 'limit'>): BtfTypesResult {
    const limit = Math.max(1, Math.min(MAX_PAGE, Math.floor(p.limit ?? DEFAULT_PAGE)));
    const offset = Math.max(0, Math.floor(p.offset ?? 0));
    let ids: ArrayLike<number>;
    if (p.kind) {
      const k = KIND_NAMES.indexOf(p.kind.toUpperCase() as (typeof KIND_NAMES)[number]);
      ids = k > 0 ? this.byKind[k] : new Int32Array(0);
    } else {
      ids = this.allIds();
    }
    const search = p.search?.trim();
    if (search) ids = this.filter(ids, search);
    const items: BtfTypeItem[] = [];
    for (let i = offset; i < ids.length && items.length < limit; i++) items.push(this.item(ids[i]));
    return { total: ids.length, offset, items };
  }

  private allIds(): Int32Array {
    const n = this.byKind.reduce((s, a) => s + a.length, 0);
    const all = new Int32Array(n);
    for (let i = 0; i < n; i++) all[i] = this.startId + i;
    return all;
  }

  private filter(ids: ArrayLike<number>, search: string): number[] {
    const byId = /^#?(\d+)$/.exec(search);
    const needle = search.toLowerCase();
    const out: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if ((byId && id === Number(byId[1])) || this.lowerName(id).includes(needle)) out.push(id);
    }
    return out;
  }

  /** Lower-cased names, read on first search of each type and kept (searching one kind reads only it). */
  private lowerName(id: number): string {
    if (!this.lowerNames) this.lowerNames = new Array(this.btf.count);
    const i = id - this.startId;
    let n = this.lowerNames[i];
    if (n === undefined) n = this.lowerNames[i] = this.btf.nameOf(id).toLowerCase();
    return n;
  }

  /** The tree item for one type: its name and a one-line description. */
  item(id: TypeId): BtfTypeItem {
    const t = this.btf.type(id);
    const name = t.name;
    let detail: string;
    try {
      detail = describe(this.btf, id);
    } catch (e) {
      detail = `(${(e as Error).message})`;
    }
    return { id, kind: t.kind, name: name || '(anon)', detail };
  }
}

/** `struct sk_buff (232 bytes, 70 members)`, `int (*)(void *)`, `enum bpf_map_type (4 bytes, 33 values)`. */
export function describe(btf: Btf, id: TypeId): string {
  const t = btf.type(id);
  switch (t.kind) {
    case 'STRUCT':
    case 'UNION':
      return `${typeName(btf, id)} (${t.size} bytes, ${t.members.length} members)`;
    case 'ENUM':
    case 'ENUM64':
      return `${typeName(btf, id)} (${t.size} bytes, ${t.values.length} values)`;
    case 'INT':
    case 'FLOAT':
      return `${t.size} bytes`;
    case 'TYPEDEF':
      return `typedef ${typeName(btf, t.type)} (${sizeOf(btf, id)} bytes)`;
    case 'FUNC':
      return `${t.linkage === 1 ? 'global' : t.linkage === 2 ? 'extern' : 'static'} ${typeName(btf, t.type)}`;
    case 'VAR':
      return `${typeName(btf, t.type)} (${sizeOf(btf, t.type)} bytes)`;
    case 'DATASEC':
      return `${t.size} bytes, ${t.vars.length} variables`;
    case 'DECL_TAG':
      return `on [${t.type}]${t.componentIdx >= 0 ? ` member ${t.componentIdx}` : ''}`;
    case 'FWD':
      return 'forward declaration';
    default:
      return typeName(btf, id);
  }
}
