/**
 * The calls libbpf (and BPF Lens's loader) write in place of what this kernel lacks, so that a
 * program loads as long as no path reaches them: an unresolved CO-RE relocation, a weak kfunc
 * the kernel does not have, a map that was not created. The verifier prints them as
 * `invalid func unknown#N`; this says what N stands for.
 */
import { BAD_RELO_CALL_IMM, POISON_CALL_KFUNC_BASE, POISON_LDIMM64_MAP_BASE } from '../core';

/** What `invalid func unknown#N` stands for, when N is one of the poisons. */
export function poisonedCall(n: number): string | undefined {
  if (n === BAD_RELO_CALL_IMM) return 'a CO-RE relocation that did not resolve on this kernel is reachable (see the CO-RE report)';
  if (n >= POISON_CALL_KFUNC_BASE && n < POISON_CALL_KFUNC_BASE + 1_000_000)
    return 'a call to a weak kfunc that this kernel lacks is reachable (guard it with bpf_ksym_exists())';
  if (n >= POISON_LDIMM64_MAP_BASE && n < POISON_CALL_KFUNC_BASE) return 'a reference to a map that was not created is reachable';
  return undefined;
}

/** poisonedCall for the first `invalid func unknown#N` of a log. */
export function poisonExplanation(log: string): string | undefined {
  const m = /invalid func unknown#(\d+)/.exec(log);
  return m ? poisonedCall(Number(m[1])) : undefined;
}
