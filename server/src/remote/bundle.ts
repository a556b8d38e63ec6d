/**
 * The agent as shipped to targets: dist/agent.js plus koffi (JS and the native modules for
 * linux x64/arm64 present in node_modules), as one tar.gz named by its content hash.
 */
import { spawnSync } from 'child_process';
import { createHash } from 'crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'fs';
import { join, relative } from 'path';

function walk(dir: string, out: string[]): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.isFile()) out.push(p);
  }
}

export class AgentBundle {
  private cached?: Buffer;
  /**
   * @param sums `sha256  path` per file, paths as deployed (agent.js at the top), one a line:
   *   what a deployment is checked against before each start.
   */
  private constructor(
    readonly root: string,
    readonly files: readonly string[],
    readonly hash: string,
    readonly sums: string,
  ) {}

  /** root: the directory holding dist/ and node_modules/ (the extension or the checkout). */
  static locate(root: string): AgentBundle {
    const agent = join(root, 'dist', 'agent.js');
    if (!existsSync(agent)) throw new Error(`${agent} is missing: run npm run build`);
    const files = [agent];
    const nm = join(root, 'node_modules');
    walk(join(nm, 'koffi'), files);
    for (const arch of ['x64', 'arm64']) {
      const d = join(nm, '@koromix', `koffi-linux-${arch}`);
      if (existsSync(d)) walk(d, files);
    }
    const rel = files.map((f) => relative(root, f)).sort();
    const h = createHash('sha256');
    const sums: string[] = [];
    for (const f of rel) {
      const bytes = readFileSync(join(root, f));
      h.update(`${f}\0${statSync(join(root, f)).size}\0`).update(bytes);
      sums.push(`${createHash('sha256').update(bytes).digest('hex')}  ${f.replace(/^dist\//, '')}`);
    }
    return new AgentBundle(root, rel, h.digest('hex').slice(0, 16), sums.join('\n'));
  }

  /** tar.gz with agent.js at the top and node_modules/ beside it (koffi resolves from there). */
  tarGz(): Buffer {
    if (this.cached) return this.cached;
    const r = spawnSync('tar', ['-czf', '-', '-C', this.root, '--transform', 's,^dist/,,', '--', ...this.files], { maxBuffer: 256 << 20 });
    if (r.status !== 0) throw new Error(`tar failed: ${r.stderr.toString()}`);
    this.cached = r.stdout;
    return r.stdout;
  }
}
