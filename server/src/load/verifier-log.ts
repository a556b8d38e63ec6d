/**
 * Reading a verifier log after a rejection: which instruction it stopped at, what it said,
 * and the CO-RE / kfunc poison calls libbpf rewrites into words. Pure text in, facts out.
 */
import { BAD_RELO_CALL_IMM } from '../core';
import { POISON_CALL_KFUNC_BASE } from './relocate-data';

/** The last instruction the verifier printed (`123: (85) call ...`), i.e. where it gave up. */
export function failedInsn(log: string): number | undefined {
  let last: number | undefined;
  const re = /^(\d+): \([0-9a-f]{2}\)/gm;
  for (let m = re.exec(log); m; m = re.exec(log)) last = Number(m[1]);
  return last;
}

/** The verifier's own reason: the last non-empty line that is not a statistic or a state dump. */
export function rejectionReason(log: string): string {
  const lines = log
    .replace(/\0+$/, '')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  for (let i = lines.length - 1; i >= 0; i--) {
    const l = lines[i];
    if (/^(processed \d+ insns|verification time|stack depth|max_states_per_insn|-- END PROG LOAD LOG --)/.test(l)) continue;
    if (/^\d+: \([0-9a-f]{2}\)/.test(l) || /^\d+: R\d/.test(l) || /^; /.test(l)) continue;
    return l;
  }
  return lines[lines.length - 1] ?? '';
}

/** A reason in libbpf's (and better) words for a poisoned call, when the log shows one. */
export function poisonExplanation(log: string): string | undefined {
  const m = /invalid func unknown#(\d+)/.exec(log);
  if (!m) return undefined;
  const n = Number(m[1]);
  if (n === BAD_RELO_CALL_IMM) return 'a CO-RE relocation that did not resolve on this kernel is reachable (see the CO-RE report)';
  if (n >= POISON_CALL_KFUNC_BASE && n < POISON_CALL_KFUNC_BASE + 1_000_000)
    return 'a call to a weak kfunc that this kernel lacks is reachable (guard it with bpf_ksym_exists())';
  if (n >= 2001000000 && n < 2002000000) return 'a reference to a map that was not created is reachable';
  return undefined;
}

/** The last `n` lines of a log. */
export function logTail(log: string, n = 20): string {
  const lines = log.replace(/\0+$/, '').trimEnd().split('\n');
  return lines.slice(-n).join('\n');
}
