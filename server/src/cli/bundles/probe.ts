// dist/cli-probe.js: `bpf-lens probe` alone (why: docs/ARCHITECTURE.md, cli/bundles).
import { probeCommand } from '../probe';
import { startSingle } from '../process';

startSingle('probe', probeCommand);
