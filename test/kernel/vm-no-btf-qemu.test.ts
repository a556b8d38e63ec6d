// A VM target whose kernel has no /sys/kernel/btf/vmlinux: `bpf-lens load OBJ --target vm:…`
// ends with the no-btf error (exit 2), naming the kernel release, with the console's last
// lines. No Debian kernel this suite can fetch is built without BTF, so the guest's BTF is
// hidden by the test-only BPF_LENS_TEST_VM_HIDE_BTF=1 (an empty tmpfs over /sys/kernel/btf in
// the guest's /init): the agent and the product's check are the real ones, the kernel is not
// one built without CONFIG_DEBUG_INFO_BTF.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { CLI, fixture } from '../helpers';
import { debianKernel } from '../kernels';

test('a guest kernel without vmlinux BTF: no-btf, its release and the console last lines, exit 2', { timeout: 600_000 }, (t) => {
  const k = debianKernel('6.1');
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [CLI, 'load', fixture('load_xdp.o'), '--target', `vm:${k.vmlinuz}`], {
    encoding: 'utf8',
    timeout: 600_000,
    env: { ...process.env, BPF_LENS_TEST_VM_HIDE_BTF: '1' },
  });
  t.diagnostic(`${((performance.now() - t0) / 1000).toFixed(1)} s\n${r.stderr}`);
  assert.equal(r.status, 2, `${r.stdout}\n${r.stderr}`);
  const release = k.release.replace(/[.+]/g, '\\$&');
  assert.match(r.stderr, new RegExp(`^error \\(no-btf\\): no BTF on vm:.*: the kernel ${release} has no /sys/kernel/btf/vmlinux`, 'm'));
  // the console's last lines follow, indented (loglevel=3: the kernel prints only errors; the
  // guest /init's own markers are left out): here the line /init printed as it hid the BTF
  assert.match(r.stderr, /\n {2}bpf-lens test: \/sys\/kernel\/btf hidden \(BPF_LENS_TEST_VM_HIDE_BTF\)\n$/);
  assert.equal(r.stdout, '');
});
