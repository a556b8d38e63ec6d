// The order in which btf/dump-c.ts writes types: each type after what it holds by value, what it
// reaches through pointers left to forward declarations, anonymous types inline where used. And
// the chains of pointers, arrays and modifiers both phases skip in one step.
import { type Btf } from './btf';
import { type BtfType, type TypeId } from './types';

export const NOT = 0,
  BUSY = 1,
  DONE = 2;
// what a chain of pointers/arrays/modifiers says about its end (see TypeChains.walk())
export const INHERIT = 0,
  THROUGH_PTR = 1,
  AS_ELEMENT = 2;
// Far deeper than any real type graph (vmlinux needs a few dozen), well inside JS's stack.
export const MAX_DEPTH = 3000;

/** Where each chain of pointers, arrays and modifiers ends, walked once per chain. */
export class TypeChains {
  /** The end of the chain through each id (-1: not walked yet). */
  readonly ends: Int32Array;
  private readonly modes: Uint8Array;

  constructor(private readonly btf: Btf) {
    this.ends = new Int32Array(btf.length).fill(-1);
    this.modes = new Uint8Array(btf.length);
  }

  /**
   * Where the chain of pointers, arrays and modifiers starting at `id` ends (in chainEnd),
   * and what it says about the end: reached through a pointer, as array elements, or as
   * the caller reached `id`. Remembered for every link, so each chain is walked once.
   */
  walk(id: TypeId): number {
    if (this.ends[id] >= 0) return this.modes[id];
    const links: TypeId[] = [];
    let end = id;
    for (;;) {
      if (end !== 0 && this.ends[end] >= 0) break;
      const t = this.btf.get(end);
      if (
        !t ||
        !(
          t.kind === 'PTR' ||
          t.kind === 'ARRAY' ||
          t.kind === 'CONST' ||
          t.kind === 'VOLATILE' ||
          t.kind === 'RESTRICT' ||
          t.kind === 'TYPE_TAG'
        )
      ) {
        this.ends[end] = end;
        this.modes[end] = INHERIT;
        break;
      }
      if (links.length > this.btf.length) throw new RangeError(`BTF type [${id}]: a loop of pointers, arrays or modifiers C cannot spell`);
      links.push(end);
      end = t.type;
    }
    let mode = this.modes[end];
    const last = this.ends[end];
    for (let k = links.length - 1; k >= 0; k--) {
      const kind = this.btf.type(links[k]).kind;
      if (mode === INHERIT && kind === 'PTR') mode = THROUGH_PTR;
      else if (mode === INHERIT && kind === 'ARRAY') mode = AS_ELEMENT;
      this.ends[links[k]] = last;
      this.modes[links[k]] = mode;
    }
    return this.modes[id];
  }
}

/** The types to write at top level, in order (`queue`), for the roots a dump asks for. */
export class TypeOrder {
  private readonly state: Uint8Array;
  private readonly referenced: Uint8Array;
  readonly queue: TypeId[] = [];

  /** Types the caller asked for by id: written at top level even when anonymous. */
  private readonly forced = new Set<TypeId>();

  constructor(
    private readonly btf: Btf,
    private readonly chains: TypeChains,
  ) {
    this.state = new Uint8Array(btf.length);
    this.referenced = new Uint8Array(btf.length);
    this.markReferenced();
  }

  /** Asks for `id` by id (before ordering it): at top level even when anonymous. */
  force(id: TypeId): void {
    this.forced.add(id);
  }

  /** Anonymous types used by another type are written inline there, not at top level. */
  markReferenced(): void {
    const btf = this.btf;
    for (let id = 1; id < this.btf.length; id++) {
      const t = btf.type(id);
      switch (t.kind) {
        case 'STRUCT':
        case 'UNION':
          for (const m of t.members) this.referenced[m.type] = 1;
          break;
        case 'FUNC_PROTO':
          this.referenced[t.type] = 1;
          for (const p of t.params) this.referenced[p.type] = 1;
          break;
        case 'DATASEC':
          for (const v of t.vars) this.referenced[v.type] = 1;
          break;
        case 'ARRAY':
          this.referenced[t.type] = 1;
          break;
        case 'PTR':
        case 'TYPEDEF':
        case 'CONST':
        case 'VOLATILE':
        case 'RESTRICT':
        case 'TYPE_TAG':
        case 'FUNC':
        case 'VAR':
        case 'DECL_TAG':
          this.referenced[t.type] = 1;
          break;
        default:
          break;
      }
    }
  }

  private topLevel(id: TypeId, t: BtfType): boolean {
    if (t.name !== '' || this.forced.has(id)) return true;
    // an enum nobody uses still defines constants; an unused anonymous record is noise
    return (t.kind === 'ENUM' || t.kind === 'ENUM64') && !this.referenced[id];
  }

  /**
   * Puts the types `id` needs, then `id` itself if it is written at top level, on the
   * queue. Returns true when a later user needs the full definition (not a forward).
   */
  order(id: TypeId, throughPtr: boolean, depth = 0): boolean {
    if (depth > MAX_DEPTH) throw new RangeError(`BTF type [${id}]: types nest deeper than ${MAX_DEPTH}`);
    // a chain of pointers, arrays and modifiers (200k pointers deep is valid BTF) is skipped
    // in one step: an array needs complete elements even behind a pointer
    const mode = this.chains.walk(id);
    if (mode !== INHERIT) throughPtr = mode === THROUGH_PTR;
    id = this.chains.ends[id];
    if (id === 0) return true;
    const t = this.btf.type(id);
    const st = this.state[id];
    if (st === DONE) return true;
    if (st === BUSY) return false; // a loop through a pointer: a forward declaration breaks it
    switch (t.kind) {
      case 'INT':
      case 'FLOAT':
        this.state[id] = DONE;
        return true;
      case 'STRUCT':
      case 'UNION': {
        if (throughPtr && t.name) return false;
        this.state[id] = BUSY;
        for (const m of t.members) this.order(m.type, false, depth + 1);
        if (this.topLevel(id, t)) this.queue.push(id);
        this.state[id] = DONE;
        return true;
      }
      case 'ENUM':
      case 'ENUM64':
      case 'FWD':
        if (this.topLevel(id, t)) this.queue.push(id);
        this.state[id] = DONE;
        return true;
      case 'TYPEDEF': {
        this.state[id] = BUSY;
        const strong = this.order(t.type, throughPtr, depth + 1);
        if (throughPtr && !strong) {
          this.state[id] = NOT; // written when first used, after a forward of its target
          return false;
        }
        this.queue.push(id);
        this.state[id] = DONE;
        return true;
      }
      case 'FUNC_PROTO': {
        this.state[id] = BUSY;
        this.order(t.type, throughPtr, depth + 1);
        for (const p of t.params) this.order(p.type, throughPtr, depth + 1);
        this.state[id] = DONE;
        return true;
      }
      default: // FUNC, VAR, DATASEC, DECL_TAG: not written
        this.state[id] = DONE;
        return true;
    }
  }
}
