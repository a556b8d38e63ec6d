// Finding and loading koffi, the one native module BPF Lens uses (sys.ts declares the libc
// functions on it). Its own entry point costs a cold process ~6 ms before the native module it
// finally loads: it requires node:util to wrap deprecated calls, then its per-platform package
// reads node's ELF header to tell glibc from musl. Here the prebuilt native module is loaded
// directly when that is unambiguous, with koffi's entry as the fallback for everything else.
import { closeSync, existsSync, openSync, readFileSync, readSync } from 'fs';
import { createRequire } from 'module';
import { dirname, join } from 'path';

/** A C function declared through koffi: its types are the C prototype's, given at sys.ts's Libc. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type NativeFunction = (...args: any[]) => any;

/** The koffi calls sys.ts makes: the native module's own exports, which koffi's entry re-exports. */
export interface KoffiApi {
  readonly load: (name: string) => { func(decl: string): NativeFunction };
  readonly errno: () => number;
  readonly address: (p: unknown) => number | bigint;
  readonly view: (p: unknown, length: number) => ArrayBuffer;
  readonly version?: string;
}

const PT_INTERP = 3;

/**
 * Whether this node runs on glibc: its ELF program interpreter is not musl's loader. Undefined
 * when the header cannot be read as the 64-bit little-endian ELF of x86_64 and arm64.
 */
export function glibcHost(execPath = process.execPath): boolean | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(execPath, 'r');
    const head = Buffer.alloc(4096);
    const n = readSync(fd, head, 0, head.length, 0);
    if (n < 64 || head.readUInt32BE(0) !== 0x7f454c46 || head[4] !== 2 || head[5] !== 1) return undefined;
    const phoff = Number(head.readBigUInt64LE(32));
    const phentsize = head.readUInt16LE(54);
    const phnum = head.readUInt16LE(56);
    if (phentsize !== 56 || phoff + phnum * phentsize > n) return undefined;
    for (let i = 0; i < phnum; i++) {
      const at = phoff + i * phentsize;
      if (head.readUInt32LE(at) !== PT_INTERP) continue;
      const off = Number(head.readBigUInt64LE(at + 8));
      const size = Number(head.readBigUInt64LE(at + 32));
      const interp = Buffer.alloc(Math.min(size, 256));
      readSync(fd, interp, 0, interp.length, off);
      const name = interp.toString('latin1').replace(/\0.*$/s, '');
      return !/(^|\/)ld-musl-/.test(name);
    }
    return undefined; // static: no interpreter to tell by
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The `version` field of a package.json, or undefined. */
function packageVersion(file: string): string | undefined {
  try {
    return /"version"\s*:\s*"([^"]+)"/.exec(readFileSync(file, 'latin1'))?.[1];
  } catch {
    return undefined;
  }
}

/**
 * The prebuilt native module beside koffi in `nodeModules`, when this is glibc Linux and its
 * version is koffi's; else undefined (koffi's entry then decides, and explains a failure).
 */
function loadPrebuilt(nodeModules: string): KoffiApi | undefined {
  const { platform, arch } = process;
  if (platform !== 'linux') return undefined;
  const file = join(nodeModules, '@koromix', `koffi-${platform}-${arch}`, `${platform}_${arch}`, 'koffi.node');
  if (!existsSync(file) || glibcHost() !== true) return undefined;
  const want = packageVersion(join(nodeModules, 'koffi', 'package.json'));
  try {
    // required by its path, so koffi's own loader, if anything requires it later, gets this same module
    const native = createRequire(file)(file) as KoffiApi;
    return want !== undefined && native.version === want ? native : undefined;
  } catch {
    return undefined;
  }
}

/**
 * koffi, found as node would (node_modules of this file's directory and its parents) and
 * required by path: a bare 'koffi' goes through the package "exports" resolver, whose first
 * use compiles node's ESM resolution modules. The prebuilt native module directly when it
 * can be (see above); anything unusual: koffi's entry, or the bare require.
 */
export function requireKoffi(): KoffiApi {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    const nodeModules = join(dir, 'node_modules');
    const entry = join(nodeModules, 'koffi', 'index.cjs');
    if (!existsSync(entry)) continue;
    return loadPrebuilt(nodeModules) ?? (createRequire(entry)(entry) as KoffiApi);
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('koffi') as KoffiApi;
}
