/**
 * "Show Run Statistics": while on, the BPF view's loaded programs carry their runs per second,
 * ns per run and share of a CPU (as `bpf-lens top` shows them), refreshed every 2 s for each
 * target with loaded objects. Statistics cost every program on the kernel a little, so they are
 * on only while this is, and turned off on each target when it stops.
 */
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { type LoadedKernelObject, type ProgramStatsResult, ProgramStatsRequest } from '../../protocol/lsp';

const EVERY_MS = 2000;

type Rate = ProgramStatsResult['programs'][number];

const count = (x: number) => (x >= 1e6 ? `${(x / 1e6).toFixed(1)}M` : x >= 1e3 ? `${(x / 1e3).toFixed(1)}k` : x.toFixed(x < 10 ? 1 : 0));

export class RunStats implements vscode.Disposable {
  private timer: NodeJS.Timeout | undefined;
  private readonly rates = new Map<string, Map<number, Rate>>();
  private readonly off = new Map<string, string>();
  private readonly polled = new Set<string>();

  constructor(
    private readonly client: () => LanguageClient | undefined,
    private readonly loaded: () => readonly LoadedKernelObject[],
    private readonly changed: () => void,
  ) {}

  get on(): boolean {
    return this.timer !== undefined;
  }

  /** Turns the statistics on or off; says which in the status line. */
  async toggle(): Promise<void> {
    if (this.timer) return this.stop();
    this.timer = setInterval(() => void this.poll(), EVERY_MS);
    await this.poll();
    void vscode.window.setStatusBarMessage('BPF Lens: run statistics on (every 2 s)', 3000);
  }

  /** What the BPF view adds to a loaded program's line. */
  describe(target: string, id: number): string {
    if (!this.timer) return '';
    const why = this.off.get(target);
    if (why) return ` · no run statistics (${why})`;
    const r = this.rates.get(target)?.get(id);
    if (!r) return ' · measuring…';
    return ` · ${count(r.runsPerSec)} runs/s · ${Math.round(r.periodNsPerRun)} ns/run · ${r.cpuPercent.toFixed(2)}% CPU`;
  }

  private async poll(): Promise<void> {
    const client = this.client();
    if (!client) return;
    const targets = new Set(this.loaded().map((l) => l.target));
    for (const target of targets) {
      try {
        const r = await client.sendRequest(ProgramStatsRequest, { target });
        this.polled.add(target);
        if (r.stats === 'off') this.off.set(target, r.reason ?? 'the kernel keeps none');
        else this.off.delete(target);
        if (r.programs.length) this.rates.set(target, new Map(r.programs.map((p) => [p.id, p])));
      } catch (e) {
        this.off.set(target, (e as Error).message);
      }
    }
    this.changed();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    const client = this.client();
    for (const target of this.polled) await client?.sendRequest(ProgramStatsRequest, { target, stop: true }).catch(() => undefined);
    this.polled.clear();
    this.rates.clear();
    this.off.clear();
    this.changed();
  }

  dispose(): void {
    void this.stop();
  }
}
