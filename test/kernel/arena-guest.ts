// Runs inside a qemu guest (see arena-qemu.test.ts): each __arena fixture loaded by libbpf 1.5
// (bpftool 7.5's `prog loadall`, run from the host's root) and by BPF Lens into the guest's
// kernel; per loader: the program's tag, the arena map's shape, the arena's first bytes before
// any run (its user address is map_extra) and two test runs of the syscall program that reads
// (and counts in) the arena. Prints one JSON line on the console.
import { execFileSync } from 'child_process';
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import * as path from 'path';
import {
  BPF_MAP_TYPE,
  PROT_READ,
  closeFd,
  getFdById,
  localKernel,
  mapInfo,
  mmapFd,
  objGet,
  pageSize,
  progInfo,
  progMapIds,
  progTestRun,
  systemInfo,
  type Fd,
} from '../../server/src/kernel';
import { loadObject } from '../../server/src/load';
import { LoadError } from '../../server/src/load/types';
import { openObject } from '../../server/src/object';
import { writeGuestResult } from './guest-result';

const [fixtures, bpftool, names] = process.argv.slice(2);

interface Side {
  tag?: string;
  map?: { type: number; flags: number; maxEntries: number; mapExtra: string };
  contents?: string;
  runs?: number[];
  error?: string;
}

/** What one loader left: the program at `progFd` and its ARENA map. */
function observe(progFd: Fd, dataSize: number): Side {
  const info = progInfo(progFd);
  const arenaIds = progMapIds(progFd).filter((id) => {
    const fd = getFdById('map', id);
    try {
      return mapInfo(fd).type === BPF_MAP_TYPE.BPF_MAP_TYPE_ARENA;
    } finally {
      closeFd(fd);
    }
  });
  const mapFd = getFdById('map', arenaIds[0]);
  try {
    const m = mapInfo(mapFd);
    let contents: string | undefined;
    if (m.mapExtra) {
      // another process's mapping must sit at the arena's user address, with its whole size
      const mapping = mmapFd(mapFd, pageSize() * m.maxEntries, PROT_READ, 0, 'arena', m.mapExtra);
      contents = Buffer.from(mapping.bytes, 0, dataSize).toString('hex');
      mapping.unmap();
    }
    const runs = [progTestRun(progFd).retval, progTestRun(progFd).retval];
    return {
      tag: info.tag,
      map: { type: m.type, flags: m.mapFlags, maxEntries: m.maxEntries, mapExtra: m.mapExtra.toString() },
      ...(contents !== undefined ? { contents } : {}),
      runs,
    };
  } finally {
    closeFd(mapFd);
  }
}

function libbpf(file: string, dataSize: number): Side {
  const dir = mkdtempSync('/sys/fs/bpf/arena-');
  try {
    try {
      execFileSync(bpftool, ['prog', 'loadall', file, path.join(dir, 'p')], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (e) {
      return { error: String((e as { stderr?: Buffer }).stderr ?? e) };
    }
    const fd = objGet(path.join(dir, 'p', 'read_arena'));
    try {
      return observe(fd, dataSize);
    } finally {
      closeFd(fd);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function lens(file: string, dataSize: number): Side {
  try {
    const r = loadObject(openObject(new Uint8Array(readFileSync(file)), file), { kernel: localKernel });
    try {
      return observe(r.programs.find((p) => p.name === 'read_arena')!.fd, dataSize);
    } finally {
      r.close();
    }
  } catch (e) {
    return { error: e instanceof LoadError ? `${e.message}\n${e.details.log ?? ''}` : String((e as Error).stack ?? e) };
  }
}

writeGuestResult(() => {
  const out: Record<string, { section: string; libbpf: Side; lens: Side }> = {};
  for (const name of names.split(',')) {
    const file = path.join(fixtures, name);
    const obj = openObject(new Uint8Array(readFileSync(file)), file);
    const section = Buffer.from(obj.elf.section('.addr_space.1')!.data).toString('hex');
    out[name] = { section, libbpf: libbpf(file, section.length / 2), lens: lens(file, section.length / 2) };
  }
  return { release: systemInfo().release, objects: out };
});
