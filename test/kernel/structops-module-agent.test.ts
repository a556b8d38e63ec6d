// struct_ops of a type only a module defines, loaded and registered (attached) through the
// agent as the CLI and the editor do remotely: Debian's 6.12 under qemu with the test module (scripts/testmod.sh)
// insmod'ed before the agent starts, reached over the guest's virtio-serial channel. On 6.1,
// without the module, the agent's answer is the refusal that names the type.
import assert from 'node:assert/strict';
import { execFileSync } from 'child_process';
import { readFileSync } from 'fs';
import { test } from 'node:test';
import * as path from 'path';
import { isLoadError } from '../../server/src/remote';
import { ROOT } from '../helpers';
import { startQemuTarget } from '../qemu-target';

const FIXTURE = path.join(ROOT, 'build', 'fixtures', 'kmod_structops.o');

test(
  "through the agent: on 6.12 with the test module the struct_ops maps use the module's value type, load registers nothing, attach registers them (a link, a value update) and detach unregisters; unload releases them; on 6.1 the load is refused naming the type",
  { timeout: 300_000 },
  async (t) => {
    const ko = execFileSync('bash', [path.join(ROOT, 'scripts', 'testmod.sh'), '6.12'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    }).trim();
    const object = readFileSync(FIXTURE).toString('base64');

    const g = await startQemuTarget('6.12', { extraKo: [ko] });
    try {
      t.diagnostic(`6.12 guest with ${path.basename(ko)}: agent up in ${g.connectMs.toFixed(0)} ms`);
      const r = await g.client.load({ name: 'kmod_structops.o', object });
      const maps = Object.fromEntries(r.maps.map((m) => [m.name, m]));
      for (const name of ['lens_linked', 'lens_plain']) {
        assert.equal(maps[name]?.type, 'struct_ops', name);
        // the kernel's struct bpf_struct_ops_bpf_lens_testmod_ops (from the module's BTF), not the object's 24 bytes
        assert.equal(maps[name].valueSize, 128, name);
        assert.ok(maps[name].id > 0, name);
      }
      assert.ok(r.programs.length >= 2 && r.programs.every((p) => p.type === 'struct_ops' && p.id > 0), JSON.stringify(r.programs));
      assert.deepEqual(
        (await g.client.listLoaded()).map((l) => l.handle),
        [r.handle],
      );
      assert.deepEqual((await g.client.listLoaded())[0].attached, [], 'load registers nothing');
      // Registration is attaching, as libbpf's bpf_map__attach_struct_ops: the kernel's reg() accepts both.
      const at = await g.client.attach({ handle: r.handle });
      assert.deepEqual(
        at.attached.map((a) => `${a.program} ${a.kind} ${a.mechanism} ${a.linkIds.length}`),
        ['lens_linked struct_ops link 1', 'lens_plain struct_ops map update 0'],
      );
      const d = await g.client.detach({ handle: r.handle });
      assert.deepEqual(d.errors, []);
      assert.deepEqual(
        d.detached.map((a) => a.program),
        ['lens_plain', 'lens_linked'],
      );
      // (a plain struct_ops map registers once: the kernel answers EBUSY to another value update, as libbpf sees it)
      assert.equal((await g.client.unload(r.handle)).closed, true);
      assert.deepEqual(await g.client.listLoaded(), []);
      t.diagnostic(`load through the agent in the guest: ${r.ms.toFixed(0)} ms`);
    } finally {
      assert.equal(await g.close(), true, 'the 6.12 guest shut down cleanly');
    }

    const old = await startQemuTarget('6.1');
    try {
      await assert.rejects(old.client.load({ name: 'kmod_structops.o', object }), (e: unknown) => {
        assert.ok(isLoadError(e), String(e));
        assert.equal(e.data!.stage, 'relocate');
        assert.match(e.message, /struct_ops map 'lens_linked'.*struct bpf_lens_testmod_ops.*no kernel BTF has it/);
        return true;
      });
    } finally {
      await old.close();
    }
  },
);
