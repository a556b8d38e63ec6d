/** Texts of the virtual documents: object summary, BTF as C or raw, disassembly, one type. */
import { CLimitError, dumpC } from '../btf/dump-c';
import { dumpRaw } from '../btf/dump-raw';
import { formatLayout, structLayout } from '../btf/layout';
import { describe } from './btf-types';
import { mapFlagNames, mapTypeConst } from './cards';
import type { LoadedObject } from './loaded';
import type { DocumentParams, DocumentResult } from '../../../protocol/lsp';
import { MAX_DOCUMENT_CHARS, tooLarge } from './limits';

/** Layout rows in a type's document (records reused through __typeof__ are shown once). */
const MAX_TYPE_ROWS = 20_000;

export function documentText(o: LoadedObject, p: DocumentParams): DocumentResult {
  switch (p.kind) {
    case 'summary':
      return { text: summary(o), languageId: 'markdown' };
    case 'c':
      return { text: cText(o), languageId: 'c' };
    case 'raw':
      return { text: dumpRaw(need(o)), languageId: 'plaintext' };
    case 'disasm':
      if (!o.facts) throw new Error(o.error ?? `${o.path} is not a BPF object`);
      return { text: o.disassembly(p.program), languageId: 'bpf-disasm' };
    case 'type': {
      const btf = need(o);
      const id = p.typeId ?? 0;
      if (!btf.has(id) || id === 0) throw new Error(`no BTF type [${id}] in ${o.path}`);
      const t = btf.type(id);
      const lines = [`[${id}] ${t.kind} '${t.name || '(anon)'}': ${describe(btf, id)}`, ''];
      const rid = btf.skipTypedefs(id);
      const r = btf.get(rid);
      if (r && (r.kind === 'STRUCT' || r.kind === 'UNION'))
        lines.push('```c', formatLayout(btf, structLayout(btf, rid, { maxRows: MAX_TYPE_ROWS })).trimEnd(), '```');
      else lines.push('```c', cText(o, [id]).trim(), '```');
      return { text: lines.join('\n') + '\n', languageId: 'markdown' };
    }
  }
  throw new Error(`unknown document kind '${String(p.kind)}'`);
}

function cText(o: LoadedObject, types?: number[]): string {
  try {
    return dumpC(need(o), { types, maxChars: MAX_DOCUMENT_CHARS });
  } catch (e) {
    if (e instanceof CLimitError) throw new Error(tooLarge(o.path), { cause: e });
    throw e;
  }
}

function need(o: LoadedObject) {
  if (!o.btf) throw new Error(o.error ?? `${o.path} has no BTF`);
  return o.btf;
}

function summary(o: LoadedObject): string {
  const s = o.summary;
  const out = [`# ${s.name}`, '', `\`${s.path}\` — ${s.size} bytes, modified ${new Date(s.mtimeMs).toISOString()}`, ''];
  if (s.error) return [...out, `**Cannot read this object:** ${s.error}`, ''].join('\n');
  if (s.problems.length) out.push('## Problems', '', ...s.problems.map((p) => `- ${p}`), '');
  if (s.programs.length) {
    out.push('## Programs', '', '| program | section | type | attach type | insns |', '|---|---|---|---|---:|');
    for (const p of s.programs)
      out.push(`| \`${p.name}\` | \`${p.section}\` | ${p.progType || '?'} | ${p.attachType || '—'} | ${p.insnCount} |`);
    out.push('');
  }
  const maps = o.facts?.maps ?? [];
  if (maps.length) {
    out.push('## Maps', '', '| map | type | key | value | max_entries | flags |', '|---|---|---:|---:|---:|---|');
    for (const m of maps)
      out.push(
        `| \`${m.name}\` | ${mapTypeConst(m.mapType, m.mapTypeId)} | ${m.keySize} | ${m.valueSize} | ${m.maxEntries} | ${mapFlagNames(m.mapFlags)} |`,
      );
    out.push('');
  }
  if (s.externs.length) out.push('## Externs', '', ...s.externs.map((e) => `- \`${e.name}\` (${e.kind}${e.weak ? ', weak' : ''})`), '');
  if (s.btfKinds.length) out.push('## BTF', '', ...s.btfKinds.map((k) => `- ${k.kind}: ${k.count}`), '');
  if (s.sources.length) out.push('## Sources', '', ...s.sources.map((f) => `- \`${f}\``), '');
  return out.join('\n');
}
