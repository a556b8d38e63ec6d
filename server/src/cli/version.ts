// Injected by webpack's DefinePlugin would be nicer; reading package.json keeps one source.
import * as fs from 'node:fs';
import * as path from 'node:path';

export const VERSION: string = (() => {
  try {
    // dist/cli.js and out/server/src/cli/*.js both find the package root by walking up.
    for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
      const p = path.join(dir, 'package.json');
      if (fs.existsSync(p)) {
        const pkg = JSON.parse(fs.readFileSync(p, 'utf8'));
        if (pkg.name === 'bpf-lens') return pkg.version as string;
      }
    }
  } catch {
    // fall through
  }
  return '0.0.0';
})();
