// dist/cli-btf-dump.js: `bpf-lens btf dump` alone (why: docs/ARCHITECTURE.md, cli/bundles).
import { btfDumpCommand } from '../btf-dump';
import { startSingle } from '../process';

startSingle('btf-dump', btfDumpCommand);
