// Loads that are checks leave nothing pinned: `bpf-lens verify` and `bpf-lens test-run` load
// an object whose map is pinned by name (LIBBPF_PIN_BY_NAME) and remove that pin when done,
// as they close everything else; a pin that was there before (here made by `bpf-lens load`,
// which keeps it as libbpf and bpftool do) is reused and stays.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { cli, fixture } from '../helpers';

const PIN = '/sys/fs/bpf/lens_check_pin';
const OBJ = () => fixture('verify_pins.o');

/** The id of the map pinned at PIN (bpftool's view). */
function pinnedMapId(): number {
  const r = spawnSync('bpftool', ['-j', 'map', 'show', 'pinned', PIN], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return (JSON.parse(r.stdout) as { id: number }).id;
}

before(() => rmSync(PIN, { force: true }));
after(() => rmSync(PIN, { force: true }));

test('bpf-lens verify and test-run remove the map they pinned by name', () => {
  const v = cli(['verify', OBJ()]);
  assert.equal(v.code, 0, v.stderr);
  assert.match(v.stdout, /xdp_check_pin/);
  assert.ok(!existsSync(PIN), 'verify left its pin');
  const t = cli(['test-run', OBJ(), 'xdp_check_pin', '--packet', 'eth/ipv4(src=10.1.1.1,dst=10.1.1.2)/icmp/payload(hi)']);
  assert.equal(t.code, 0, t.stderr);
  assert.ok(!existsSync(PIN), 'test-run left its pin');
});

test('a pin that was there before stays, the same map', () => {
  const l = cli(['load', OBJ()]);
  assert.equal(l.code, 0, l.stderr);
  assert.ok(existsSync(PIN), 'bpf-lens load keeps the maps it pinned by name');
  const id = pinnedMapId();
  assert.equal(cli(['verify', OBJ()]).code, 0);
  assert.equal(cli(['test-run', OBJ(), 'xdp_check_pin', '--packet', 'eth/ipv4(src=10.1.1.1,dst=10.1.1.2)/icmp/payload(hi)']).code, 0);
  assert.ok(existsSync(PIN), 'a check removed a pin it did not make');
  assert.equal(pinnedMapId(), id);
});
