// Entry point of the language server bundle (dist/server.js) that the VS Code client
// starts; `bpf-lens lsp --stdio` starts the same server from the CLI.
import { createConnection, ProposedFeatures } from 'vscode-languageserver/node';
import { startServer } from './server';

startServer(createConnection(ProposedFeatures.all));
