// dist/cli-inspect.js: `bpf-lens inspect` alone (why: docs/ARCHITECTURE.md, cli/bundles).
import { inspectCommand } from '../inspect';
import { startSingle } from '../process';

startSingle('inspect', inspectCommand);
