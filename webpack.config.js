// Bundles each process of BPF Lens into one file under dist/: the VS Code extension
// (client), the language server, the CLI and the agent. `vscode` is provided by the
// editor; koffi stays external because its native module cannot be bundled: it is
// resolved at run time from node_modules beside dist/ (the VSIX ships it there).
const fs = require('fs');
const path = require('path');

const entries = {
  client: './client/src/extension.ts',
  server: './server/src/lsp/main.ts',
  'lsp-worker': './server/src/lsp/lsp-worker.ts',
  cli: './server/src/cli/main.ts',
  agent: './server/src/agent/main.ts',
};
// Bundles of one CLI command each (cli-load.js, ...): a cold `bpf-lens load` reads and compiles
// only the code it runs, not the whole CLI; bin/bpf-lens.js picks them by the command's words.
const bundles = path.join(__dirname, 'server', 'src', 'cli', 'bundles');
for (const f of fs.existsSync(bundles) ? fs.readdirSync(bundles) : []) {
  if (f.endsWith('.ts')) entries[`cli-${f.slice(0, -3)}`] = `./server/src/cli/bundles/${f}`;
}

/**
 * Escapes every non-ASCII character of the emitted JavaScript (\\uXXXX; in comments too, where it
 * is inert). One '×' in a message makes V8 hold the whole bundle as a two-byte string: reading
 * and checking the 1 MB source then costs about twice as much at every cold start. ReplaceSource
 * keeps the source maps right. No code here reads its own text (String.raw, Function#toString).
 */
class AsciiOnlyPlugin {
  apply(compiler) {
    const { Compilation, sources } = compiler.webpack;
    compiler.hooks.thisCompilation.tap('AsciiOnly', (compilation) => {
      compilation.hooks.processAssets.tap({ name: 'AsciiOnly', stage: Compilation.PROCESS_ASSETS_STAGE_OPTIMIZE_SIZE }, (assets) => {
        for (const [name, asset] of Object.entries(assets)) {
          if (!name.endsWith('.js')) continue;
          const text = asset.source().toString();
          if (!/[\u0080-\uffff]/.test(text)) continue;
          const out = new sources.ReplaceSource(asset);
          // code units, as JavaScript counts them: an astral character becomes its surrogate pair
          for (let i = 0; i < text.length; i++) {
            const c = text.charCodeAt(i);
            if (c > 0x7f) out.replace(i, i, `\\u${c.toString(16).padStart(4, '0')}`);
          }
          compilation.updateAsset(name, out);
        }
      });
    });
  }
}

module.exports = (_env, argv) =>
  Object.entries(entries)
    .filter(([, file]) => fs.existsSync(path.join(__dirname, file)))
    .map(([name, file]) => ({
      name,
      target: 'node20',
      mode: argv.mode || 'production',
      entry: { [name]: file },
      output: {
        path: path.join(__dirname, 'dist'),
        filename: '[name].js',
        libraryTarget: 'commonjs2',
        devtoolModuleFilenameTemplate: '../[resource-path]',
      },
      devtool: 'source-map',
      externals: { vscode: 'commonjs vscode', koffi: 'commonjs koffi' },
      resolve: { extensions: ['.ts', '.js'] },
      module: {
        rules: [{ test: /\.ts$/, exclude: /node_modules/, use: [{ loader: 'ts-loader', options: { transpileOnly: true } }] }],
      },
      // Minified, names of functions and classes kept (stack traces still name them; the source
      // maps point into the TypeScript), locals renamed: a cold process reads and copies the
      // bundle into fresh pages before it runs, each page a fault (~20 µs here). cli-btf-dump.js:
      // 151 KB with whitespace and comments out only, 98 KB so; its cold dump of a small object
      // took 2.9 ms less (89 page faults to 41 reading it).
      optimization: {
        minimize: true,
        minimizeOptions: {
          javascript: {
            compress: { keep_fnames: true, keep_classnames: true },
            mangle: { keep_fnames: true, keep_classnames: true },
            format: { comments: false, ascii_only: true },
          },
        },
      },
      plugins: [new AsciiOnlyPlugin()],
      performance: { hints: false },
      stats: 'errors-warnings',
    }));
