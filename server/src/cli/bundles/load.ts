// dist/cli-load.js: `bpf-lens load` alone (why: docs/ARCHITECTURE.md, cli/bundles).
import { loadCommand } from '../load';
import { startSingle } from '../process';

startSingle('load', loadCommand);
