// The three compatibility relations CO-RE uses, with libbpf's rules:
// - fieldsAreCompat: a field's local and target types, for field relocations;
// - typesAreCompat: a type and a candidate, for TYPE_ID_TARGET / TYPE_EXISTS / TYPE_SIZE;
// - typesMatch: the stricter relation behind TYPE_MATCHES (bpf_core_type_matches()).
import { type Btf } from '../btf/btf';
import { BTF_INT_SIGNED, type BtfEnum, type BtfEnum64, type BtfType, type TypeId, isComposite, isEnum } from '../btf/types';
import { CoreReloError, MAX_DEPTH, essentialName, kindOf, kindsCompat, skipToType, typeAt } from './btf-util';

function flavorlessEqual(a: string, b: string): boolean {
  return essentialName(a) === essentialName(b);
}

/**
 * Field types: modifiers and typedefs skipped; any two structs/unions; pointers and floats
 * always; FWD/ENUM by flavorless name unless one is anonymous; ints unless one is an old
 * bitfield-style int; arrays by element type.
 */
export function fieldsAreCompat(lb: Btf, lid: TypeId, tb: Btf, tid: TypeId): boolean {
  for (let depth = 0; depth <= MAX_DEPTH; depth++) {
    lid = skipToType(lb, lid);
    tid = skipToType(tb, tid);
    const lt = typeAt(lb, lid);
    const tt = typeAt(tb, tid);
    if (lt && tt && isComposite(lt) && isComposite(tt)) return true;
    if (!kindsCompat(lt, tt) || !lt || !tt) return false;
    switch (lt.kind) {
      case 'PTR':
      case 'FLOAT':
        return true;
      case 'FWD':
      case 'ENUM':
      case 'ENUM64':
        return lt.name === '' || tt.name === '' || flavorlessEqual(lt.name, tt.name);
      case 'INT':
        return lt.bitsOffset === 0 && (tt as typeof lt).bitsOffset === 0;
      case 'ARRAY':
        lid = lt.type;
        tid = (tt as typeof lt).type;
        continue;
      default:
        return false;
    }
  }
  throw new CoreReloError(`array nesting at local type ${lid} is too deep`);
}

/**
 * Type relocations: names were matched by the candidate search; below the root they are
 * ignored. Same kinds (enums of any width), ints regardless of size and sign, pointers and
 * arrays by what they refer to, function prototypes by arity and parameter/return types.
 */
export function typesAreCompat(lb: Btf, lid: TypeId, tb: Btf, tid: TypeId, level = MAX_DEPTH): boolean {
  if (!kindsCompat(typeAt(lb, lid), typeAt(tb, tid))) return false;
  for (let depth = MAX_DEPTH; ;) {
    if (--depth < 0) throw new CoreReloError(`local type ${lid} nests too deep to compare`);
    lid = skipToType(lb, lid);
    tid = skipToType(tb, tid);
    const lt = typeAt(lb, lid);
    const tt = typeAt(tb, tid);
    if (!kindsCompat(lt, tt)) return false;
    if (!lt || !tt) return true; // both void
    switch (lt.kind) {
      case 'STRUCT':
      case 'UNION':
      case 'ENUM':
      case 'ENUM64':
      case 'FWD':
        return true;
      case 'INT':
        return lt.bitsOffset === 0 && (tt as typeof lt).bitsOffset === 0;
      case 'PTR':
        lid = lt.type;
        tid = (tt as typeof lt).type;
        continue;
      case 'ARRAY':
        lid = lt.type;
        tid = (tt as typeof lt).type;
        continue;
      case 'FUNC_PROTO': {
        const tp = tt as typeof lt;
        if (lt.params.length !== tp.params.length) return false;
        for (let i = 0; i < lt.params.length; i++) {
          if (level <= 0) throw new CoreReloError('function prototypes nest too deep to compare');
          const ok = typesAreCompat(lb, skipToType(lb, lt.params[i].type), tb, skipToType(tb, tp.params[i].type), level - 1);
          if (!ok) return false;
        }
        lid = skipToType(lb, lt.type);
        tid = skipToType(tb, tp.type);
        continue;
      }
      default:
        return false;
    }
  }
}

/** Names for TYPE_MATCHES: an anonymous target matches only an anonymous local. */
function namesMatch(local: string, target: string): boolean {
  if (target === '') return local === '';
  return flavorlessEqual(local, target);
}

function enumsMatch(lt: BtfEnum | BtfEnum64, tt: BtfEnum | BtfEnum64): boolean {
  if (lt.size !== tt.size || lt.values.length > tt.values.length) return false;
  return lt.values.every((lv) => tt.values.some((tv) => namesMatch(lv.name, tv.name)));
}

/**
 * TYPE_MATCHES: modifiers and typedefs skipped; same kinds (enum≈enum64; a struct/union
 * behind a pointer also matches a FWD of its flavour); ints by size and signedness; enums
 * by size and every local enumerator's name; structs/unions by every local member's name
 * and (unless behind a pointer) its type; arrays by length and element; pointers and
 * function prototypes recursively.
 */
export function typesMatch(lb: Btf, lid: TypeId, tb: Btf, tid: TypeId, behindPtr = false, level = MAX_DEPTH): boolean {
  if (level <= 0) throw new CoreReloError('types nest too deep to match');
  for (let depth = MAX_DEPTH; ;) {
    if (--depth < 0) throw new CoreReloError(`local type ${lid} nests too deep to match`);
    lid = skipToType(lb, lid);
    tid = skipToType(tb, tid);
    const lt = typeAt(lb, lid);
    const tt = typeAt(tb, tid);
    if (!namesMatch(lt?.name ?? '', tt?.name ?? '')) return false;
    if (!lt) return !tt;
    if (!tt) return false;
    switch (lt.kind) {
      case 'FWD':
        if (behindPtr && tt.kind !== 'FWD') return (tt.kind === 'STRUCT' && !lt.kindFlag) || (tt.kind === 'UNION' && lt.kindFlag);
        return tt.kind === 'FWD' && lt.kindFlag === tt.kindFlag;
      case 'ENUM':
      case 'ENUM64':
        return isEnum(tt) && enumsMatch(lt, tt);
      case 'STRUCT':
      case 'UNION':
        if (behindPtr) {
          if (lt.kind === tt.kind) return true;
          return tt.kind === 'FWD' && (lt.kind === 'UNION') === tt.kindFlag;
        }
        if (lt.kind !== tt.kind) return false;
        return compositesMatch(lb, lt, tb, tt, behindPtr, level);
      case 'INT':
        return tt.kind === 'INT' && lt.size === tt.size && (lt.encoding & BTF_INT_SIGNED) === (tt.encoding & BTF_INT_SIGNED);
      case 'PTR':
        if (tt.kind !== 'PTR') return false;
        behindPtr = true;
        lid = lt.type;
        tid = tt.type;
        continue;
      case 'ARRAY':
        if (tt.kind !== 'ARRAY' || lt.nelems !== tt.nelems) return false;
        lid = lt.type;
        tid = tt.type;
        continue;
      case 'FUNC_PROTO': {
        if (tt.kind !== 'FUNC_PROTO' || lt.params.length !== tt.params.length) return false;
        for (let i = 0; i < lt.params.length; i++) {
          if (!typesMatch(lb, lt.params[i].type, tb, tt.params[i].type, behindPtr, level - 1)) return false;
        }
        lid = lt.type;
        tid = tt.type;
        continue;
      }
      default:
        return false;
    }
  }
}

function compositesMatch(
  lb: Btf,
  lt: BtfType & { members: readonly { name: string; type: TypeId }[] },
  tb: Btf,
  tt: BtfType & { members: readonly { name: string; type: TypeId }[] },
  behindPtr: boolean,
  level: number,
): boolean {
  if (lt.members.length > tt.members.length) return false;
  return lt.members.every((lm) =>
    tt.members.some((tm) => namesMatch(lm.name, tm.name) && typesMatch(lb, lm.type, tb, tm.type, behindPtr, level - 1)),
  );
}

/** Why typesMatch() failed at the root, in words (the first reason found), for reports. */
export function explainMismatch(lb: Btf, lid: TypeId, tb: Btf, tid: TypeId): string {
  const l = lb.get(skipToType(lb, lid));
  const t = tb.get(skipToType(tb, tid));
  if (kindOf(l) !== kindOf(t) && !(l && t && isEnum(l) && isEnum(t))) return `kinds differ (${kindOf(l)} vs ${kindOf(t)})`;
  if (l && t && isComposite(l) && isComposite(t)) {
    for (const lm of l.members) {
      const named = t.members.filter((tm) => namesMatch(lm.name, tm.name));
      if (named.length === 0) return `member '${lm.name || '<anon>'}' is missing`;
      if (!named.some((tm) => typesMatch(lb, lm.type, tb, tm.type, false, MAX_DEPTH - 1)))
        return `member '${lm.name || '<anon>'}' has a different type`;
    }
    if (l.members.length > t.members.length) return `it has ${l.members.length} members, the target ${t.members.length}`;
  }
  if (l && t && isEnum(l) && isEnum(t)) {
    if (l.size !== t.size) return `sizes differ (${l.size} vs ${t.size} bytes)`;
    const missing = l.values.find((lv) => !t.values.some((tv) => namesMatch(lv.name, tv.name)));
    if (missing) return `enumerator '${missing.name}' is missing`;
  }
  if (l?.kind === 'INT' && t?.kind === 'INT') return `size or signedness differs (${l.size} vs ${t.size} bytes)`;
  return 'the types differ';
}
