// Distilled base BTF, as libbpf's btf__distill_base makes it (and as the kernel build
// stores it in a module's `.BTF.base` section): the few facts about vmlinux that a
// module's split BTF needs so that it can later be relocated onto another kernel's
// vmlinux BTF whose type ids differ.
import { type Btf } from './btf';
import { BtfBuilder } from './write';
import { type BtfType, type NewType, type TypeId, isComposite, mapTypeIds, referencedIds } from './types';

/** The outcome of distilling: a small base, and the split BTF re-expressed on it. */
export interface DistilledBtf {
  /**
   * The distilled base: named INT, FLOAT and FWD in full; named STRUCT/UNION without
   * members and named ENUM/ENUM64 as ENUM without values, each with its original size.
   */
  readonly base: Btf;
  /**
   * Split BTF on `base`: the original split types in order (ids shifted down), then the
   * other base types they need (anonymous structs/unions/enums, typedefs, pointers,
   * arrays, modifiers, function prototypes) in base id order.
   */
  readonly split: Btf;
  /** Original base id → its id in `base` or `split`, 0 if it was not needed. */
  readonly baseIdMap: Uint32Array;
  /** Any original id (base or split) → its id now; 0 for a base type that was not needed. */
  mapId(id: TypeId): TypeId;
}

/** The split BTF cannot be distilled (it refers to base types no distilled base can hold). */
export class DistillError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'DistillError';
  }
}

/** Base kinds split BTF may refer to (libbpf refuses the others: FUNC, VAR, DATASEC, DECL_TAG). */
const REFERABLE = new Set([
  'INT',
  'FLOAT',
  'FWD',
  'ARRAY',
  'STRUCT',
  'UNION',
  'TYPEDEF',
  'ENUM',
  'ENUM64',
  'PTR',
  'CONST',
  'RESTRICT',
  'VOLATILE',
  'FUNC_PROTO',
  'TYPE_TAG',
]);

/** Where a needed base type goes. */
function placeInBase(t: BtfType): boolean {
  switch (t.kind) {
    case 'INT':
    case 'FLOAT':
    case 'FWD':
      return true;
    case 'STRUCT':
    case 'UNION':
    case 'ENUM':
    case 'ENUM64':
      return t.name !== '';
    default:
      return false;
  }
}

/** The memberless, valueless form a base type takes in the distilled base. */
function distilledForm(t: BtfType): NewType {
  switch (t.kind) {
    case 'STRUCT':
    case 'UNION':
      return { kind: t.kind, name: t.name, nameOff: 0, kindFlag: false, size: t.size, members: [] };
    // ENUM64 too: relocation matches an 8-byte ENUM with an ENUM64 of the same name.
    case 'ENUM':
    case 'ENUM64':
      return { kind: 'ENUM', name: t.name, nameOff: 0, kindFlag: false, size: t.size, values: [] };
    default:
      return withoutId(t);
  }
}

function withoutId(t: BtfType): NewType {
  const { id: _id, ...rest } = t;
  return rest;
}

/**
 * Marks every base type that split BTF refers to, directly or through other base types.
 * A named struct/union ends the walk: its distilled form has no members.
 */
function neededBaseTypes(src: Btf): Uint8Array {
  const start = src.startId;
  const needed = new Uint8Array(start);
  const stack: TypeId[] = [];
  const visit = (from: BtfType) => {
    for (const id of referencedIds(from)) {
      if (id === 0 || id >= start || needed[id]) continue;
      const t = src.type(id);
      if (!REFERABLE.has(t.kind)) {
        throw new DistillError(
          `type [${from.id}] ${from.kind} refers to base type [${id}] ${t.kind} '${t.name}', which a distilled base cannot hold`,
        );
      }
      needed[id] = 1;
      if (!(isComposite(t) && t.name)) stack.push(id);
    }
  };
  for (let id = start; id < src.length; id++) {
    visit(src.type(id));
    while (stack.length) visit(src.type(stack.pop()!));
  }
  return needed;
}

/** Distills the base of split BTF `src` (which must have a base), as btf__distill_base does. */
export function distillBase(src: Btf): DistilledBtf {
  if (!src.base) throw new DistillError("BTF has no base: only split BTF (a module's .BTF on vmlinux) can be distilled");
  const start = src.startId;
  const needed = neededBaseTypes(src);
  const baseIdMap = new Uint32Array(start);

  const baseBuilder = new BtfBuilder(undefined, src.littleEndian);
  const moved: TypeId[] = [];
  for (let id = 1; id < start; id++) {
    if (!needed[id]) continue;
    const t = src.type(id);
    if (placeInBase(t)) baseIdMap[id] = baseBuilder.add(distilledForm(t));
    else moved.push(id);
  }
  const base = baseBuilder.build();

  // Split ids are known before anything is added: the original split types first, then
  // the moved base types after them.
  const splitStart = base.length;
  const count = src.count;
  moved.forEach((id, i) => (baseIdMap[id] = splitStart + count + i));
  const remap = (id: TypeId): TypeId => (id === 0 ? 0 : id < start ? baseIdMap[id] : id - start + splitStart);

  const splitBuilder = new BtfBuilder(base);
  for (let id = start; id < src.length; id++) splitBuilder.add(mapTypeIds(withoutId(src.type(id)), remap));
  for (const id of moved) splitBuilder.add(mapTypeIds(withoutId(src.type(id)), remap));
  return { base, split: splitBuilder.build(), baseIdMap, mapId: (id) => (id < src.length ? remap(id) : 0) };
}
