/**
 * The requests about targets in the language server: select one (and re-check CO-RE of every
 * object against its BTF), list them, read one's vmlinux BTF, list an object's CO-RE
 * relocations on the selected one.
 */
import { promises as fsp } from 'fs';
import {
  type CoreRelocationItem,
  CoreRelocationsRequest,
  type CoreRelocationsResult,
  type SelectTargetParams,
  SelectTargetRequest,
  type SelectTargetResult,
  TargetBtfRequest,
  type TargetInfo,
  TargetsRequest,
} from '../../../protocol/lsp';
import { reloReason } from '../core/relocate';
import { selectArgCtxTarget } from './arg-ctx';
import { coreAccessAt, splitLines } from './c-text';
import { handler, type RequestHandler } from './handlers';
import type { Session } from './session';
import { targetFailure } from './targets';

/** The requests about targets: select one, list them, read one's vmlinux BTF, an object's CO-RE relocations on it. */
export function targetRequests(d: Session): RequestHandler[] {
  return [
    handler(SelectTargetRequest, (p) => selectTarget(d, p)),
    handler(CoreRelocationsRequest, (p) => coreRelocations(d, p.path)),
    handler(TargetsRequest, () => ({ selected: d.targets.selected, targets: d.targets.list() })),
    handler(TargetBtfRequest, async (p) => {
      const b = await d.targets.btfFile(p.name);
      return { path: b.file, label: b.label };
    }),
  ];
}

async function selectTarget(d: Session, p: SelectTargetParams): Promise<SelectTargetResult> {
  const { targets } = d;
  await d.whenReady();
  // A target just added to the settings may reach us before the settings do.
  if (!targets.names().includes(p.name)) await d.readSettings();
  let info: TargetInfo;
  try {
    info = await targets.info(p.name);
  } catch (e) {
    return { ok: false, error: targetFailure(e) };
  }
  targets.selected = p.name;
  // __arg_ctx notes follow the target: native support as its agent probed it.
  selectArgCtxTarget(
    info.kind === 'local' && targets.inProcess(p.name)
      ? undefined
      : info.kind === 'btf'
        ? { name: p.name, reason: `${info.release} is a BTF file: it cannot be probed` }
        : 'arg_ctx_tag' in info.features
          ? { name: p.name, release: info.release, native: info.features.arg_ctx_tag }
          : { name: p.name, release: info.release, reason: `the agent could not probe (${info.errno ?? 'bpf() not permitted'})` },
  );
  const summary = d.core.enabled && info.hasBtf ? await checkAll(d) : undefined;
  d.log(
    `target ${p.name}: ${info.release}${info.arch ? ` ${info.arch}` : ''}, ${info.canLoad ? 'can load' : 'cannot load'} (${info.ms.toFixed(0)} ms)${summary ? `; CO-RE: ${summary.relocations} relocations in ${summary.objects} objects, ${summary.problems} do not resolve (${summary.ms.toFixed(0)} ms)` : ''}`,
  );
  await d.publishAll();
  return { ok: true, info, ...(summary ? { core: summary } : {}) };
}

/** The CO-RE check of every indexed object against the new target's BTF (then diagnostics follow). */
async function checkAll(d: Session): Promise<SelectTargetResult['core']> {
  const t0 = performance.now();
  let relocations = 0;
  let problems = 0;
  let objects = 0;
  for (const o of d.index.all()) {
    const c = await d.core.of(o);
    if (!c?.check.relocations.length) continue;
    objects++;
    relocations += c.check.relocations.length;
    problems += c.check.relocations.filter((f) => f.report.status !== 'ok').length;
  }
  return { objects, relocations, problems, ms: performance.now() - t0 };
}

async function coreRelocations(d: Session, path: string): Promise<CoreRelocationsResult> {
  const { targets, index, core } = d;
  await d.whenReady();
  const o = await index.open(path);
  const c = await core.of(o);
  if (!c) return { target: targets.selected, items: [] };
  const texts = new Map<string, Promise<string[] | undefined>>();
  const linesOf = (file: string) => {
    if (!texts.has(file))
      texts.set(
        file,
        fsp.readFile(file, 'latin1').then(splitLines, () => undefined),
      );
    return texts.get(file)!;
  };
  const items: CoreRelocationItem[] = [];
  for (const { section, report: r } of c.check.relocations) {
    let source;
    if (r.source) {
      const file = index.resolveSource(o.path, r.source.file) ?? r.source.file;
      const lines = await linesOf(file);
      source = { file, line: lines ? coreAccessAt(lines, r.source.line - 1, r.access).line : r.source.line - 1 };
    }
    const why = reloReason(r);
    items.push({
      section,
      index: r.index,
      kind: r.kindName,
      access: r.access,
      status: r.status,
      ...(r.localValue !== undefined ? { compiled: String(r.localValue) } : {}),
      ...(r.targetValue !== undefined ? { onTarget: String(r.targetValue) } : {}),
      ...(why ? { message: why } : {}),
      ...(source ? { source } : {}),
    });
  }
  return { target: c.target, items };
}
