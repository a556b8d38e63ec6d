/**
 * A tiny initramfs (cpio "newc", uncompressed: the kernel takes it as is) for booting a kernel
 * under qemu (VM targets, vm.ts): directories, files and device nodes, no cpio tool needed.
 */

export type InitramfsEntry =
  | { readonly path: string; readonly type: 'dir' }
  | { readonly path: string; readonly type: 'file'; readonly data: Uint8Array | string; readonly mode?: number }
  | { readonly path: string; readonly type: 'char'; readonly major: number; readonly minor: number };

const S_IFDIR = 0o040000,
  S_IFREG = 0o100000,
  S_IFCHR = 0o020000;

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

/** The archive bytes; parent directories must come before their entries. */
export function newcArchive(entries: readonly InitramfsEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  const add = (name: string, mode: number, data: Buffer, rdev: [number, number] = [0, 0]) => {
    const fields = [ino++, mode, 0, 0, 1, 0, data.length, 0, 0, rdev[0], rdev[1], name.length + 1, 0];
    const head = Buffer.from(`070701${fields.map((f) => f.toString(16).padStart(8, '0')).join('')}`, 'latin1');
    const nameBuf = Buffer.from(`${name}\0`, 'latin1');
    parts.push(head, nameBuf, Buffer.alloc(pad4(head.length + nameBuf.length)), data, Buffer.alloc(pad4(data.length)));
  };
  for (const e of entries) {
    const name = e.path.replace(/^\/+/, '');
    if (e.type === 'dir') add(name, S_IFDIR | 0o755, Buffer.alloc(0));
    else if (e.type === 'char') add(name, S_IFCHR | 0o600, Buffer.alloc(0), [e.major, e.minor]);
    else add(name, S_IFREG | (e.mode ?? 0o644), typeof e.data === 'string' ? Buffer.from(e.data, 'latin1') : Buffer.from(e.data));
  }
  add('TRAILER!!!', 0, Buffer.alloc(0));
  return Buffer.concat(parts);
}

/** The base of a busybox initramfs: /bin/busybox (Debian's busybox-static), /dev/console, /proc, /sys, /tmp. */
export function busyboxBase(busybox: Uint8Array): InitramfsEntry[] {
  return [
    { path: 'bin', type: 'dir' },
    { path: 'dev', type: 'dir' },
    { path: 'proc', type: 'dir' },
    { path: 'sys', type: 'dir' },
    { path: 'tmp', type: 'dir' },
    { path: 'dev/console', type: 'char', major: 5, minor: 1 },
    { path: 'bin/busybox', type: 'file', data: busybox, mode: 0o755 },
  ];
}
