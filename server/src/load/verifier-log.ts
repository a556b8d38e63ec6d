/**
 * Reading a verifier log after a rejection: which instruction it stopped at, what it said,
 * and (verifier/poison.ts) the CO-RE / kfunc poison calls libbpf writes. Pure text in, facts out.
 */
export { poisonExplanation } from '../verifier/poison';

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

/** The last `n` lines of a log. */
export function logTail(log: string, n = 20): string {
  const lines = log.replace(/\0+$/, '').trimEnd().split('\n');
  return lines.slice(-n).join('\n');
}
