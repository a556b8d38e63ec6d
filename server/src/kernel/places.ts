// Places on this system that programs attach to, for a picker: the network interfaces of this
// namespace (/sys/class/net) and the cgroup v2 hierarchy (its mount from /proc/self/mounts and
// the directories under it, bounded). Plain reads; nothing here changes anything.
import { readFileSync, readdirSync } from 'fs';

export interface NetInterface {
  readonly name: string;
  readonly ifindex: number;
  /** operstate: up, down, unknown (loopback), lowerlayerdown ... */
  readonly state: string;
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'latin1').trim();
  } catch {
    return undefined;
  }
}

/** The interfaces of this network namespace, by ifindex. */
export function netInterfaces(): NetInterface[] {
  let names: string[];
  try {
    names = readdirSync('/sys/class/net');
  } catch {
    return [];
  }
  const out: NetInterface[] = [];
  for (const name of names) {
    const ifindex = Number(read(`/sys/class/net/${name}/ifindex`));
    if (!Number.isInteger(ifindex) || ifindex <= 0) continue;
    out.push({ name, ifindex, state: read(`/sys/class/net/${name}/operstate`) ?? 'unknown' });
  }
  return out.sort((a, b) => a.ifindex - b.ifindex);
}

/** Where cgroup v2 is mounted (`/sys/fs/cgroup`, or `/sys/fs/cgroup/unified` beside v1), if it is. */
export function cgroup2Mount(): string | undefined {
  const mounts = read('/proc/self/mounts') ?? '';
  for (const line of mounts.split('\n')) {
    const [, dir, type] = line.split(' ');
    // /proc/mounts escapes spaces and such as \040: such a mount point is left out
    if (type === 'cgroup2' && dir && !dir.includes('\\')) return dir;
  }
  return undefined;
}

/**
 * The cgroup directories under `root` (root first, then breadth first, `maxDepth` levels and at
 * most `limit` of them): what a picker offers before the user types a path.
 */
export function cgroupDirs(root: string, maxDepth = 3, limit = 500): string[] {
  const out = [root];
  let level = [root];
  for (let depth = 0; depth < maxDepth && level.length && out.length < limit; depth++) {
    const next: string[] = [];
    for (const dir of level) {
      let entries;
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch {
        continue;
      }
      for (const e of entries) if (e.isDirectory()) next.push(`${dir}/${e.name}`);
    }
    next.sort();
    out.push(...next.slice(0, limit - out.length));
    level = next.slice(0, limit); // a host with thousands of scopes: read no more than we could list
  }
  return out;
}
