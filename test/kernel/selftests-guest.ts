// Runs inside a qemu guest (see selftests-qemu.test.ts): the selftests objects with trampoline
// programs (fentry/fexit/fmod_ret/lsm), which this host's lockdown refuses, loaded whole by
// libbpf 1.5 (bpftool 7.5's `prog loadall`, from the host's root) and by BPF Lens into the
// guest's kernel; per object what each did and every program's tag. One JSON line on the console.
import { execFileSync } from 'child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'fs';
import * as path from 'path';
import { KernelBtf, closeFd, localKernel, objGet, progInfo, systemInfo } from '../../server/src/kernel';
import { loadObject } from '../../server/src/load';
import { LoadError } from '../../server/src/load/types';
import { openObject } from '../../server/src/object';
import { writeGuestResult } from './guest-result';

const [objs, bpftool, list] = process.argv.slice(2);

interface Side {
  ok: boolean;
  error?: string;
  /** bpftool loaded the object but could not pin a program libbpf left unloaded (SEC("?...")). */
  unpinnable?: boolean;
  tags?: Record<string, string>;
}

const short = (s: string) => s.trim().split('\n').slice(-6).join(' | ').slice(0, 800);

function libbpf(file: string, byName: string[]): Side {
  const dir = mkdtempSync('/sys/fs/bpf/st-');
  try {
    const progs = path.join(dir, 'p');
    try {
      execFileSync(bpftool, ['prog', 'loadall', file, progs], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 120_000 });
    } catch (e) {
      const stderr = String((e as { stderr?: Buffer }).stderr ?? e);
      return { ok: false, error: short(stderr), ...(/can't pin program that wasn't loaded/.test(stderr) ? { unpinnable: true } : {}) };
    }
    const tags: Record<string, string> = {};
    for (const name of readdirSync(progs)) {
      const fd = objGet(path.join(progs, name));
      tags[name] = progInfo(fd).tag;
      closeFd(fd);
    }
    return { ok: true, tags };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    for (const n of byName) rmSync(path.join('/sys/fs/bpf', n), { force: true });
  }
}

function lens(file: string, targetBtf: KernelBtf): Side {
  const dir = mkdtempSync('/sys/fs/bpf/st-');
  try {
    const r = loadObject(openObject(new Uint8Array(readFileSync(file)), file), { kernel: localKernel, targetBtf, pinRoot: dir });
    try {
      return { ok: true, tags: Object.fromEntries(r.programs.map((p) => [p.name, progInfo(p.fd).tag])) };
    } finally {
      r.close();
    }
  } catch (e) {
    return { ok: false, error: short(e instanceof LoadError ? e.message : String(e)) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

writeGuestResult(() => {
  const targetBtf = KernelBtf.open();
  const out: Record<string, { libbpf: Side; lens: Side }> = {};
  try {
    for (const name of list.split(',')) {
      const file = path.join(objs, `${name}.o`);
      const byName = openObject(new Uint8Array(readFileSync(file)), file)
        .maps.filter((m) => m.pinning === 'by_name')
        .map((m) => m.name);
      out[name] = { libbpf: libbpf(file, byName), lens: lens(file, targetBtf) };
    }
  } finally {
    targetBtf.close();
  }
  return { release: systemInfo().release, objects: out };
});
