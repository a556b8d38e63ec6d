/**
 * textDocument/hover: in a C source, what the objects built from it say about the word under
 * the cursor (maps, programs, helpers), else the value on the selected target of a field a
 * CO-RE relocation reads; in a disassembly, the maps and functions of the object it shows.
 */
import { type Hover, type HoverParams, MarkupKind } from 'vscode-languageserver/node';
import { parseDocumentQuery, SCHEME } from '../../../protocol/lsp';
import { secAt, splitLines, wordAt } from './c-text';
import { programNumbersMarkdown } from './program-numbers';
import { mapPreviewMarkdown } from './map-hover';
import { coreHover } from './core-hover';
import { hoverAt, hoverWord } from './hover';
import type { LoadedObject } from './loaded';
import { type Session, toPath } from './session';

/**
 * While the index is being built, the objects indexed so far answer; only when they say
 * nothing does the hover wait for the rest (a source's objects may not be read yet).
 */
export async function hover(d: Session, p: HoverParams): Promise<Hover | null> {
  if (d.indexing) {
    const file = toPath(p.textDocument.uri);
    if (file) await d.index.readFirst(file);
    const early = await hoverNow(d, p);
    if (early) return early;
  }
  await d.whenReady();
  return hoverNow(d, p);
}

async function hoverNow(d: Session, p: HoverParams): Promise<Hover | null> {
  const uri = p.textDocument.uri;
  const doc = d.documents.get(uri);
  if (!doc) return null;
  const { line, character } = p.position;
  let md: string | undefined;
  if (uri.startsWith(`${SCHEME}:`)) {
    const q = uri.indexOf('?');
    const params = q < 0 ? undefined : parseDocumentQuery(decodeURIComponent(uri.slice(q + 1)));
    const o = params && d.index.get(params.path);
    md = o && hoverWord(o, doc.getText(), line, character);
  } else {
    const file = toPath(uri);
    if (!file) return null;
    const objects = d.index.objectsFor(file);
    md = hoverAt(objects, doc.getText(), line, character);
    // A field a CO-RE relocation reads: its value on the selected target.
    if (!md && objects.length) {
      const checks = (
        await Promise.all(
          objects.map(async (object) => {
            const c = await d.coreOf(object);
            return c && { object, ...c };
          }),
        )
      ).filter((c): c is NonNullable<typeof c> => !!c);
      md = coreHover(splitLines(doc.getText()), line, character, checks, file);
    }
    // after Explain Verification: the verifier's state on this line
    const states = d.verifierStates.hover(file, line + 1);
    if (states) md = md ? `${md}\n\n---\n\n${states}` : states;
    // on a loaded map's name: its element count and first elements on each target
    const mapMd = await mapHover(d, objects, splitLines(doc.getText()), line, character);
    if (mapMd) md = md ? `${md}\n\n---\n\n${mapMd}` : mapMd;
    // on a program: how much verifying it took, per target
    const numbers = programNumbers(d, objects, splitLines(doc.getText()), line, character);
    if (numbers) md = md ? `${md}\n\n---\n\n${numbers}` : numbers;
  }
  return md ? { contents: { kind: MarkupKind.Markdown, value: md } } : null;
}

/** The verification numbers of the program named under the cursor (its function or SEC line). */
function programNumbers(d: Session, objects: readonly LoadedObject[], lines: readonly string[], line: number, character: number) {
  const name = secAt(lines, line, character)?.func ?? wordAt(lines, line, character)?.text;
  if (!name || !objects.some((o) => o.facts?.programs.some((p) => p.name === name))) return undefined;
  const paths = objects.map((o) => o.path);
  return programNumbersMarkdown(name, paths, d.loads.all(), d.verifierStates.stats(paths, name));
}

/** The live elements of the map named under the cursor, where its object is loaded. */
async function mapHover(d: Session, objects: readonly LoadedObject[], lines: readonly string[], line: number, character: number) {
  const name = wordAt(lines, line, character)?.text;
  if (!name || !objects.some((o) => o.facts?.maps.some((m) => m.name === name))) return undefined;
  const paths = objects.map((o) => o.path);
  return mapPreviewMarkdown(name, await d.loads.mapPreviews(paths, name));
}
