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
      optimization: { minimize: false },
      performance: { hints: false },
      stats: 'errors-warnings',
    }));
