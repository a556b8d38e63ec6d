/** libbpf's SEC() table (filled in next). */
export interface SecDef { readonly sec: string }
export interface SecMatch { readonly def: SecDef }
export const SEC_DEFS: readonly SecDef[] = [];
export function secDefFor(section: string): SecMatch | undefined { void section; return undefined; }
