/**
 * The virtual documents (bpfLens/document: summary, C or raw BTF, a type, disassembly, a
 * module's base diff) and a module's distilled base against the selected target
 * (bpfLens/baseDiff), whose diagnostics are published as a side effect.
 */
import { pathToFileURL } from 'url';
import { type BaseDiffParams, BaseDiffRequest, type DocumentParams, DocumentRequest, type DocumentResult } from '../../../protocol/lsp';
import { baseDiffDiagnostics, baseDiffText, ModuleDiffs } from './base-diff';
import { documentText } from './documents';
import { type Cancel, type DumpPool } from './dump-pool';
import { handler, type RequestHandler } from './handlers';
import type { Session } from './session';

export function documentRequests(d: Session, dumps: DumpPool): RequestHandler[] {
  const diffs = new ModuleDiffs();
  const moduleDiff = (p: BaseDiffParams) => diffModule(d, diffs, p);
  return [
    handler(BaseDiffRequest, async (p) => {
      await d.whenReady();
      return (await moduleDiff(p)).result;
    }),
    handler(DocumentRequest, async (p, cancel) => {
      await d.whenReady();
      return document(d, dumps, moduleDiff, p, cancel);
    }),
  ];
}

/** Diffs a module's distilled base and publishes one diagnostic per type that would not relocate. */
async function diffModule(d: Session, diffs: ModuleDiffs, p: BaseDiffParams) {
  // Without an explicit target file: the selected target's vmlinux BTF.
  const t = p.target ? undefined : await d.targets.btfFile(d.targets.selected);
  const r = await diffs.diff(t ? { ...p, target: t.file } : p);
  if (t) r.result = { ...r.result, target: t.label };
  void d.connection.sendDiagnostics({ uri: pathToFileURL(p.path).href, diagnostics: baseDiffDiagnostics(r.result) });
  d.log(
    `base diff ${p.path} vs ${r.result.target}: ${r.result.noBase ? 'no .BTF.base' : `${r.result.relocates ? 'relocates' : 'does not relocate'}`} (${r.result.ms.toFixed(0)} ms)`,
  );
  return r;
}

async function document(
  d: Session,
  dumps: DumpPool,
  moduleDiff: (p: BaseDiffParams) => ReturnType<typeof diffModule>,
  p: DocumentParams,
  cancel?: Cancel,
): Promise<DocumentResult> {
  if (p.kind === 'matrix') {
    const { loadMatrixDocument } = await import('./load-matrix');
    return { text: await loadMatrixDocument(d, p.path), languageId: 'plaintext' };
  }
  if (p.kind === 'verifier')
    return {
      text: d.verifierStates.document(p.path, p.program, (f) => d.index.resolveSource(p.path, f), p.target),
      languageId: 'plaintext',
    };
  if (p.kind === 'baseDiff') {
    const r = await moduleDiff(p);
    return { text: baseDiffText(r.result, r.diff), languageId: 'plaintext' };
  }
  const o = await d.index.open(p.path);
  // Opening a module's summary also checks its distilled base against this kernel.
  if (p.kind === 'summary' && o.summary.module?.distilledBase)
    await moduleDiff({ path: p.path }).catch((e) => d.log(`base diff: ${(e as Error).message}`));
  // Whole-BTF dumps run in the worker: vmlinux's C dump takes about half a second.
  if ((p.kind === 'c' || p.kind === 'raw') && o.btf && dumps.available) {
    return {
      text: await dumps.dump({ path: o.path, kind: p.kind, basePath: o.btfBasePath }, cancel),
      languageId: p.kind === 'c' ? 'c' : 'plaintext',
    };
  }
  return documentText(o, p);
}
