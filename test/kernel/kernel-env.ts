// Shared by the kernel-layer tests: a private directory in bpffs (mounted if it is not), and
// small byte helpers.
import { spawnSync } from 'child_process';
import { mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'fs';
import * as path from 'path';

const BPFFS = '/sys/fs/bpf';

function bpffsMounted(): boolean {
  return readFileSync('/proc/mounts', 'latin1')
    .split('\n')
    .some((l) => l.split(' ')[1] === BPFFS && l.split(' ')[2] === 'bpf');
}

/** A fresh directory under /sys/fs/bpf for this test process; `done()` removes it and its pins. */
export function bpffsDir(tag: string): { dir: string; done: () => void } {
  if (!bpffsMounted()) {
    const r = spawnSync('mount', ['-t', 'bpf', 'bpf', BPFFS], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`cannot mount bpffs on ${BPFFS}: ${r.stderr}`);
  }
  const dir = path.join(BPFFS, `bpflens_${tag}_${process.pid}_${Date.now()}`);
  mkdirSync(dir);
  return { dir, done: () => rmSync(dir, { recursive: true, force: true }) };
}

export const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return new Uint8Array(b);
};

export const u64 = (n: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(n);
  return new Uint8Array(b);
};

export const readU32 = (b: Uint8Array, off = 0) => Buffer.from(b.buffer, b.byteOffset, b.length).readUInt32LE(off);
export const readU64 = (b: Uint8Array, off = 0) => Buffer.from(b.buffer, b.byteOffset, b.length).readBigUInt64LE(off);

/** BPF objects and memfds this process holds open (to check nothing leaked). */
export function openFds(): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (/^anon_inode:bpf|^\/memfd:/.test(readlinkSync(`/proc/self/fd/${fd}`))) n++;
    } catch {
      // closed while we looked (readdir's own FD)
    }
  }
  return n;
}
