/**
 * The one walk past type modifiers that every layer uses (libbpf's skip_mods_and_typedefs):
 * CONST, VOLATILE, RESTRICT, TYPE_TAG and — unless asked not to — TYPEDEF, bounded so hostile
 * BTF (a cycle, a chain out of range) ends with a reason instead of a hang.
 */
import type { Btf } from './btf';
import type { BtfType, TypeId } from './types';

/** How many modifiers/typedefs a chain may have (libbpf stops at 32 too). */
export const MAX_MOD_CHAIN = 32;

/** Why a walk stopped short: an id the BTF does not have, or a chain longer than MAX_MOD_CHAIN (a cycle). */
export type SkipBroken = 'out-of-range' | 'too-long';

/**
 * Follows modifiers (and typedefs unless `typedefs: false`) from `id`. Returns the id reached
 * and its type (undefined for void, id 0); when the chain is broken, the id where it broke,
 * undefined and why.
 */
export function skipModsAndTypedefs(
  btf: Btf,
  id: TypeId,
  opts: { readonly typedefs?: boolean } = {},
): [TypeId, BtfType | undefined, SkipBroken?] {
  const typedefs = opts.typedefs ?? true;
  for (let depth = 0; ; depth++) {
    if (!btf.has(id)) return [id, undefined, 'out-of-range'];
    const t = btf.get(id);
    if (!t) return [0, undefined];
    const mod =
      t.kind === 'CONST' || t.kind === 'VOLATILE' || t.kind === 'RESTRICT' || t.kind === 'TYPE_TAG' || (typedefs && t.kind === 'TYPEDEF');
    if (!mod) return [id, t];
    if (depth >= MAX_MOD_CHAIN) return [id, undefined, 'too-long'];
    id = t.type;
  }
}
