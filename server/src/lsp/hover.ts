/** Hover in C sources: map cards on map names, program cards on `SEC(...)` and function names. */
import * as path from 'path';
import { wordAt, secAt, splitLines } from './c-text';
import { argCtxHover } from './arg-ctx';
import { mapCard, programCard } from './cards';
import type { LoadedObject } from './loaded';
import { BPF_HELPER_NAMES } from '../object/bpf-helpers';

/** Markdown for the cursor position, or undefined when it is on nothing BPF Lens knows. */
export function hoverAt(objects: readonly LoadedObject[], text: string, line: number, character: number): string | undefined {
  if (!objects.length) return undefined;
  const lines = splitLines(text);
  const cards: string[] = [];
  const sec = secAt(lines, line, character);
  if (sec) {
    for (const { o, name } of distinct(objects)) {
      const progs = o.facts?.programs.filter((p) => p.entry && p.section === sec.section) ?? [];
      const p = progs.find((q) => q.name === sec.func) ?? (progs.length === 1 ? progs[0] : undefined);
      if (p) cards.push(programCard(p, name));
    }
    return join(cards);
  }
  const w = wordAt(lines, line, character);
  if (!w) return undefined;
  return wordCards(objects, w.text);
}

/** Hover on a name in one object's virtual document (a map or function name in a disassembly). */
export function hoverWord(o: LoadedObject, text: string, line: number, character: number): string | undefined {
  const w = wordAt(splitLines(text), line, character);
  if (!w) return undefined;
  const card = wordCards([o], w.text);
  if (card) return card;
  // `call bpf_map_lookup_elem#1`: the helper's UAPI id.
  const id = BPF_HELPER_NAMES.indexOf(w.text.replace(/^bpf_/, ''));
  return id > 0 && w.text.startsWith('bpf_') ? `**BPF helper** \`${w.text}\` — \`BPF_FUNC_${w.text.slice(4)}\` (id ${id})` : undefined;
}

function wordCards(objects: readonly LoadedObject[], word: string): string | undefined {
  const cards: string[] = [];
  const w = { text: word };
  for (const { o, name } of distinct(objects)) {
    const m = o.facts?.maps.find((x) => x.name === w.text);
    if (m) cards.push(mapCard(m, o.btf, name));
    const p = o.facts?.programs.find((x) => x.name === w.text);
    if (p) cards.push(programCard(p, name) + (p.entry ? '' : argCtxHover(o.facts?.argCtx?.filter((a) => a.subprog === p.name) ?? [])));
  }
  return join(cards);
}

/** Copies shown beside a card's object by name; more are counted. */
const COPIES_NAMED = 3;

/**
 * The objects with distinct bytes, each named with its copies (one object built into several
 * directories): one card for them all, and one BTF parsed for it, instead of one each.
 */
function distinct(objects: readonly LoadedObject[]): { o: LoadedObject; name: string }[] {
  const groups = new Map<string, LoadedObject[]>();
  for (const o of objects) {
    const key = o.digest ?? `path:${o.path}`;
    const g = groups.get(key);
    if (g) g.push(o);
    else groups.set(key, [o]);
  }
  return [...groups.values()].map(([o, ...copies]) => ({ o, name: copiesNamed(o, copies) }));
}

function copiesNamed(o: LoadedObject, copies: readonly LoadedObject[]): string {
  const name = path.basename(o.path);
  if (!copies.length) return name;
  const named = copies.slice(0, COPIES_NAMED).map((c) => path.relative(path.dirname(o.path), c.path));
  const more = copies.length - named.length;
  return `${name}, and the same bytes in ${named.join(', ')}${more ? ` and ${more} more` : ''}`;
}

function join(cards: string[]): string | undefined {
  return cards.length ? cards.join('\n\n---\n\n') : undefined;
}
