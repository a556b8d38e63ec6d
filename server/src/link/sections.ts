/**
 * Output sections: every input section of code or data joins the output section of the
 * same name, appended at its own alignment (the output keeps the largest). `license` and
 * `version` are kept once and must be identical everywhere. Records where each input
 * section landed (`placeOf`), which symbols, relocations and BTF.ext then follow.
 */
import { SHF_EXECINSTR, SHT_NOBITS } from '../elf/constants';
import type { ElfSection } from '../elf/reader';
import type { InputObject } from './input';

export interface OutSection {
  readonly name: string;
  readonly type: number;
  readonly flags: bigint;
  readonly entsize: bigint;
  align: number;
  size: number;
  /** Input pieces: their bytes at their offsets (none for NOBITS). */
  readonly pieces: { readonly off: number; readonly data: Uint8Array }[];
  readonly exec: boolean;
  /** Which file first contributed it (for messages). */
  readonly firstFile: string;
}

export interface Placement {
  readonly out: OutSection;
  readonly off: number;
  /** Content dropped because an identical copy is already there (license, version). */
  readonly deduped: boolean;
}

export class SectionLayout {
  readonly sections: OutSection[] = [];
  private readonly byName = new Map<string, OutSection>();
  /** Per input object: section index → where it went. */
  readonly places: Map<number, Placement>[] = [];

  /** Appends the code and data sections of one object; problems are collected. */
  add(obj: InputObject, problems: string[]): void {
    const places = new Map<number, Placement>();
    this.places.push(places);
    for (const s of obj.elf.sections) {
      if (obj.roles[s.index] !== 'data') continue;
      let out = this.byName.get(s.name);
      if (!out) {
        out = {
          name: s.name,
          type: s.type,
          flags: s.flags,
          entsize: s.entsize,
          align: 1,
          size: 0,
          pieces: [],
          exec: (s.flags & BigInt(SHF_EXECINSTR)) !== 0n,
          firstFile: obj.file,
        };
        this.sections.push(out);
        this.byName.set(s.name, out);
      } else {
        const why =
          out.type !== s.type
            ? `type ${out.type} vs ${s.type}`
            : out.flags !== s.flags
              ? `flags 0x${out.flags.toString(16)} vs 0x${s.flags.toString(16)}`
              : out.entsize !== s.entsize
                ? `entry size ${out.entsize} vs ${s.entsize}`
                : undefined;
        if (why) {
          problems.push(`section '${s.name}' differs between ${out.firstFile} and ${obj.file} (${why})`);
          continue;
        }
        if (s.name === 'license' || s.name === 'version') {
          if (!sameBytes(contents(out), s.data)) {
            problems.push(
              `section '${s.name}' differs between ${out.firstFile} (${show(contents(out))}) and ${obj.file} (${show(s.data)}); it must be the same in every object`,
            );
          }
          places.set(s.index, { out, off: 0, deduped: true });
          continue;
        }
      }
      places.set(s.index, { out, off: append(out, s), deduped: false });
    }
  }

  get(name: string): OutSection | undefined {
    return this.byName.get(name);
  }
}

function append(out: OutSection, s: ElfSection): number {
  const a = s.addralign > 1n ? Number(s.addralign) : 1;
  out.align = Math.max(out.align, a);
  const off = Math.ceil(out.size / out.align) * out.align;
  if (s.type !== SHT_NOBITS) out.pieces.push({ off, data: s.data });
  out.size = off + s.size;
  return off;
}

/** The section's bytes so far (zero-filled gaps). */
export function contents(out: OutSection): Uint8Array {
  if (out.type === SHT_NOBITS) return new Uint8Array(0);
  const buf = new Uint8Array(out.size);
  for (const p of out.pieces) buf.set(p.data, p.off);
  return buf;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function show(b: Uint8Array): string {
  const end = b.indexOf(0);
  return JSON.stringify(Buffer.from(b.subarray(0, end < 0 ? b.length : end)).toString('latin1'));
}
