// dist/cli-link.js: `bpf-lens link` alone (why: docs/ARCHITECTURE.md, cli/bundles).
import { linkCommand } from '../link';
import { startSingle } from '../process';

startSingle('link', linkCommand);
