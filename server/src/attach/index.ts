/**
 * Attaching loaded programs, as libbpf's bpf_program__attach does, through KernelOps only.
 *
 *   plan.ts     pure: SEC() name + the user's place → an AttachPlan (tracepoint, raw_tp, tracing,
 *               kprobe, kprobe_multi, uprobe, uprobe_multi, usdt, iter, perf_event, xdp, tcx,
 *               cgroup, netns, sockmap, none).
 *   uprobe.ts   pure: a uprobe binary found as libbpf finds it; a function's file offset from
 *               .symtab/.dynsym; the functions a uprobe.multi glob matches.
 *   usdt-notes.ts, usdt-args.ts, usdt-spec.ts   pure: a binary's .note.stapsdt probes, their
 *               argument specs (x86-64, arm64), libbpf's USDT spec values and spec ids.
 *   usdt-attach.ts  a usdt program: spec map filled, a uprobe per site with its cookie.
 *   execute.ts  one plan carried out (link first, older mechanism where the kernel lacks it),
 *               with its undo steps.
 *   tc.ts       tc programs: tcx link, else clsact qdisc + bpf filter over netlink (probe: tcx links).
 *   kprobe-legacy.ts  kprobes through tracefs kprobe_events where the kprobe PMU is missing.
 *   session.ts  attachAll (all or nothing, AttachError names the program), detach, pin, readIter.
 */
export {
  AttachPlanError,
  describePlan,
  parseFuncOffset,
  parsePerfPlace,
  parsePlaces,
  parseUprobeMultiTarget,
  parseUprobeTarget,
  parseUsdtTarget,
  planAttach,
} from './plan';
export type { AttachKind, AttachPlan, PlanInput, XdpMode } from './plan';
export { functionFileOffset, functionsMatching, globMatch, resolveBinary, searchDirs } from './uprobe';
export { attachStructOps, executePlan, runUndo } from './execute';
export { USDT_ARG, parseUsdtArgs, type UsdtArch, type UsdtArg } from './usdt-args';
export { usdtNotes, usdtProbe, type UsdtNote, type UsdtProbe, type UsdtSite } from './usdt-notes';
export { USDT_SPEC_LAYOUT_V1, UsdtSpecIds, encodeUsdtSpec, usdtSpecLayout, type UsdtSpecLayout } from './usdt-spec';
export type { Attachment, ExecuteContext, Mechanism, StructOpsMap } from './execute';
export { AttachError, AttachSession, attachAll, planAll } from './session';
export { placeNeed } from './place-need';
export type { PlaceNeed } from './place-need';
export type { AttachOptions, AttachProgram, Skipped } from './session';
