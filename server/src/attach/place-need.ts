/**
 * What the user must give for a program libbpf cannot auto-attach, so a front end asks only
 * for that: an interface (XDP with its mode; tc with its direction unless the SEC() name says
 * it), a cgroup, `binary:function` for a uprobe, or some other text (a tracepoint, a netns, a
 * sockmap, a perf event) with an example. Pure: the same decision planAttach makes.
 */
import { secDefFor } from '../object/section-defs';
import type { PlaceNeed } from '../../../protocol/lsp';
import { planAttach, type PlanInput } from './plan';

// The wire's type is the decision's: a front end shows exactly what this returns.
export type { PlaceNeed };

/** undefined: the program attaches by its SEC() name alone, or never (struct_ops, freplace, a type BPF Lens does not attach). */
export function placeNeed(p: PlanInput): PlaceNeed | undefined {
  let reason: string;
  try {
    const plan = planAttach(p);
    if (plan.kind !== 'none') return undefined;
    reason = plan.reason;
  } catch {
    return undefined;
  }
  const m = /give (.+) \(--attach [^=]+=(.+)\)$/.exec(reason);
  if (!m) return undefined;
  const [, what, example] = m;
  const def = secDefFor(p.section)!.def;
  switch (def.progType) {
    case 'xdp':
      return { kind: 'interface', prog: 'xdp' };
    case 'sched_cls': {
      const direction = def.attachType === 'tcx_ingress' ? 'ingress' : def.attachType === 'tcx_egress' ? 'egress' : undefined;
      return { kind: 'interface', prog: 'tc', ...(direction ? { direction } : {}) };
    }
    default:
      if (what.startsWith('a cgroup')) return { kind: 'cgroup' };
      if (what === 'binary:function') return { kind: 'binary', example };
      return { kind: 'text', what, example };
  }
}
