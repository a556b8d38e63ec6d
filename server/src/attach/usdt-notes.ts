/**
 * USDT probes of a binary, as libbpf's usdt.c finds them: the `.note.stapsdt` notes (owner
 * "stapsdt", type 3: probe address, `.stapsdt.base` link-time address, semaphore address,
 * then provider, name and argument spec strings), each probe's address corrected for prelink
 * by the `.stapsdt.base` section, turned into a file offset through its executable PT_LOAD
 * segment (what the uprobe takes), and its semaphore's file offset through its non-executable
 * segment (the uprobe's reference counter). Pure: ELF bytes in, probe sites out.
 */
import type { ByteReader } from '../common/bytes';
import { ElfFile } from '../elf/reader';
import { PF_X, loadSegmentAt, programHeaders } from '../elf/program-headers';
import { parseUsdtArgs, type UsdtArch, type UsdtArg } from './usdt-args';

const NT_STAPSDT = 3;
const SHT_NOTE = 7;
const ET_EXEC = 2;
const ET_DYN = 3;
const EM_X86_64 = 62;
const EM_AARCH64 = 183;

export interface UsdtNote {
  readonly provider: string;
  readonly name: string;
  /** The argument spec text ('' for none). */
  readonly args: string;
  readonly locAddr: bigint;
  readonly baseAddr: bigint;
  readonly semaAddr: bigint;
}

/** One place a probe is compiled in (a probe may be in several: inlined, or used twice). */
export interface UsdtSite {
  /** The probe's virtual address (after the prelink correction): the IP a uprobe sees in an ET_EXEC. */
  readonly absIp: bigint;
  /** Its file offset: where the uprobe goes. */
  readonly fileOffset: bigint;
  /** The semaphore's file offset (uprobe ref_ctr_offset), 0 when the probe has none. */
  readonly semaOffset: bigint;
  readonly argsText: string;
  readonly args: readonly UsdtArg[];
}

export interface UsdtProbe {
  /** ET_EXEC or ET_DYN (a PIE or a library: its IPs move, which matters without BPF cookies). */
  readonly sharedObject: boolean;
  readonly arch: UsdtArch;
  readonly sites: readonly UsdtSite[];
}

/** Every stapsdt note of the binary, in file order. Malformed notes are a FormatError naming the offset. */
export function usdtNotes(elf: ElfFile): UsdtNote[] {
  const sec = elf.section('.note.stapsdt');
  if (!sec) return [];
  const r = elf.reader(sec);
  if (sec.type !== SHT_NOTE) r.fail(0, `section type ${sec.type} is not SHT_NOTE`);
  const notes: UsdtNote[] = [];
  const align4 = (n: number) => (n + 3) & ~3;
  for (let off = 0; off + 12 <= r.length;) {
    const namesz = r.u32(off);
    const descsz = r.u32(off + 4);
    const type = r.u32(off + 8);
    const nameOff = off + 12;
    const descOff = nameOff + align4(namesz);
    r.need(descOff, descsz, 'note descriptor');
    const owner = Buffer.from(r.slice(nameOff, namesz, 'note name'))
      .toString('latin1')
      .replace(/\0+$/, '');
    if (owner !== 'stapsdt' || type !== NT_STAPSDT) r.fail(off, `note '${owner}' type ${type} is not a stapsdt probe (type ${NT_STAPSDT})`);
    notes.push(parseNote(r.sub(descOff, descsz, 'note descriptor'), descOff));
    off = descOff + align4(descsz);
  }
  return notes;
}

function parseNote(d: ByteReader, at: number): UsdtNote {
  if (d.length < 24 + 3) d.fail(0, `descriptor of ${d.length} bytes is too short for 3 addresses and 3 strings`);
  const strs: string[] = [];
  let p = 24;
  for (let i = 0; i < 3; i++) {
    const end = d.bytes.indexOf(0, p);
    if (end < 0) d.fail(p, `${['provider', 'name', 'argument'][i]} string is not NUL-terminated`);
    strs.push(Buffer.from(d.bytes.subarray(p, end)).toString('latin1'));
    p = end + 1;
  }
  if (!strs[1]) d.fail(at, 'the probe has an empty name');
  // An argument string of ':' (some old generators) means no arguments, as libbpf reads it.
  const args = strs[2].startsWith(':') ? '' : strs[2];
  return { provider: strs[0], name: strs[1], args, locAddr: d.u64(0), baseAddr: d.u64(8), semaAddr: d.u64(16) };
}

/** The sites of PROVIDER:NAME in a binary, with file offsets and parsed arguments. */
export function usdtProbe(bytes: Uint8Array, binary: string, provider: string, name: string): UsdtProbe {
  const elf = new ElfFile(bytes, binary);
  const what = `${binary}: USDT probe ${provider}:${name}`;
  const type = elf.header.type;
  if (type !== ET_EXEC && type !== ET_DYN) throw new Error(`${binary}: ELF type ${type} is neither an executable nor a shared library`);
  const arch = elf.header.machine === EM_X86_64 ? 'x86_64' : elf.header.machine === EM_AARCH64 ? 'arm64' : undefined;
  if (!arch) throw new Error(`${binary}: USDT arguments of ELF machine ${elf.header.machine} are not read (x86-64 and arm64 are)`);
  const notes = usdtNotes(elf);
  if (!notes.length) throw new Error(`${binary}: no USDT probes (no .note.stapsdt section)`);
  const mine = notes.filter((n) => n.provider === provider && n.name === name);
  if (!mine.length) {
    const have = [...new Set(notes.map((n) => `${n.provider}:${n.name}`))];
    throw new Error(`${what} is not there (it has ${have.slice(0, 20).join(', ')}${have.length > 20 ? ', ...' : ''})`);
  }
  const segs = programHeaders(elf);
  const base = elf.section('.stapsdt.base')?.addr ?? 0n;
  const hex = (v: bigint) => `0x${v.toString(16)}`;
  const sites = mine.map((n): UsdtSite => {
    // Prelink moves .stapsdt.base (its header) but not the note: apply the difference.
    const absIp = base && n.baseAddr ? n.locAddr + base - n.baseAddr : n.locAddr;
    const seg = loadSegmentAt(segs, absIp);
    if (!seg) throw new Error(`${what}: no loadable segment holds its address ${hex(absIp)}`);
    if (!(seg.flags & PF_X)) throw new Error(`${what}: its address ${hex(absIp)} is in segment ${seg.index}, which is not executable`);
    let semaOffset = 0n;
    if (n.semaAddr) {
      const ss = loadSegmentAt(segs, n.semaAddr);
      if (!ss) throw new Error(`${what}: no loadable segment holds its semaphore at ${hex(n.semaAddr)}`);
      if (ss.flags & PF_X) throw new Error(`${what}: its semaphore at ${hex(n.semaAddr)} is in an executable segment`);
      semaOffset = n.semaAddr - ss.vaddr + ss.offset;
    }
    let args: UsdtArg[];
    try {
      args = parseUsdtArgs(n.args, arch);
    } catch (e) {
      throw new Error(`${what}: ${(e as Error).message}`, { cause: e });
    }
    return { absIp, fileOffset: absIp - seg.vaddr + seg.offset, semaOffset, argsText: n.args, args };
  });
  return { sharedObject: type === ET_DYN, arch, sites };
}
