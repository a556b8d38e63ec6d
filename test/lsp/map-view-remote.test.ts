// The map view's filter over an agent looks through the whole map, as in process: the agent
// filters where the map is and sends back only what the view shows. map_view_wide.o's array has
// 2048 slots, more than an agent sends as text at once (1000): the keys with "204" in them are
// 204, 1204 and 2040..2047, nine of them past the first thousand. `lab` is an SSH target (sshd in a
// network namespace on this machine, the agent deployed over ssh); the same load in process
// must give the same answer.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { MapElementsResult } from '../../protocol/lsp';
import { fixture } from '../helpers';
import { type SshHost, startSshHost } from '../ssh-host';
import { LspClient, makeWorkspace } from './lsp-client';

const ws = makeWorkspace([]);
let host: SshHost;
let lsp: LspClient;
const handles: number[] = [];
before(async () => {
  host = startSshHost();
  // the server's ssh reads the test host's ssh_config (never ~/.ssh)
  process.env.BPF_LENS_SSH_CONFIG = host.config;
  lsp = await LspClient.start(ws.dir, { targets: [{ name: 'lab', host: 'bpflens-test' }] });
});
after(async () => {
  for (const handle of handles) await lsp?.request('bpfLens/unloadObject', { handle });
  await lsp?.stop();
  host?.stop();
  delete process.env.BPF_LENS_SSH_CONFIG;
  ws.cleanup();
});

async function load(target?: string): Promise<number> {
  const r = await lsp.request<{ ok: boolean; loaded: { handle: number }; error?: { message: string } }>('bpfLens/loadObject', {
    path: fixture('map_view_wide.o'),
    ...(target ? { target } : {}),
  });
  assert.ok(r.ok, r.error?.message);
  handles.push(r.loaded.handle);
  return r.loaded.handle;
}

const elements = (handle: number, filter?: string) =>
  lsp.request<MapElementsResult>('bpfLens/mapElements', { handle, map: 'wide', ...(filter !== undefined ? { filter } : {}) });

test('a filter over an agent finds keys past the first thousand, counted as in process', async () => {
  const want = ['1204', '204', ...Array.from({ length: 8 }, (_, i) => String(2040 + i))];
  for (const target of ['lab', undefined]) {
    const handle = await load(target);
    const r = await elements(handle, '204');
    const where = target ?? 'in process';
    assert.equal(r.error, undefined, where);
    assert.deepEqual(r.elements.map((e) => e.key).sort(), want, where);
    assert.equal(r.matched, want.length, where);
    assert.equal(r.scanned, 2048, `${where}: the filter looked at every slot`);
    assert.equal(r.count, 2048, where);
    assert.ok(
      r.elements.every((e) => e.value === '0'),
      where,
    );
    // without a filter: the first page, the whole map counted
    const page = await elements(handle);
    assert.equal(page.count, 2048, where);
    assert.equal(page.elements.length, 200, where);
    assert.equal(page.matched, undefined, where);
  }
});
