/**
 * On a map's name in C, when the object is loaded: how many elements the map holds on each
 * target it is loaded on, and the first few as C-like text (read through the target's
 * KernelTarget.mapDump, so local and agent targets alike).
 */
import type { MapPreview } from './kernel-loads';

const fence = (s: string) => s.replace(/`/g, "'");

export function mapPreviewMarkdown(name: string, previews: readonly MapPreview[]): string | undefined {
  if (!previews.length) return undefined;
  const out: string[] = [];
  for (const p of previews) {
    const count = `${p.count}${p.truncated ? '+' : ''} element${p.count === 1 && !p.truncated ? '' : 's'}`;
    out.push(`**Map \`${name}\` on ${p.target}** (id ${p.id}, ${p.type}): ${p.error ? `elements not readable: ${p.error}` : count}`);
    if (p.elements.length) {
      out.push('', '```c', ...p.elements.map((e) => fence(e.key ? `[${e.key}] = ${e.value}` : e.value)), '```');
      if (p.count > p.elements.length) out.push(`… and ${p.truncated ? 'more' : p.count - p.elements.length + ' more'}`);
    }
  }
  return out.join('\n');
}
