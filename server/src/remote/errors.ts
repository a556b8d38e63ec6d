import type { HelloResult } from '../../../protocol/agent';

/** Why a target could not be used, each with what to do next (issue 5's distinct errors). */
export type TargetErrorCode =
  | 'unreachable'
  | 'auth-failed'
  | 'host-key-changed'
  | 'host-key-unknown'
  | 'no-node'
  | 'node-too-old'
  | 'no-sudo'
  | 'no-btf'
  | 'bpf-not-permitted'
  | 'agent-crashed'
  | 'bad-target'
  | 'ssh-failed'
  | 'no-qemu'
  | 'vm-boot-failed'
  | 'timeout';

export class TargetError extends Error {
  /** no-btf: what needed the BTF, and the load stage that found it missing (the agent sends these on). */
  what?: string;
  stage?: string;

  constructor(
    readonly code: TargetErrorCode,
    message: string,
    readonly detail?: string,
  ) {
    super(message);
    this.name = 'TargetError';
  }
}

/** Reads OpenSSH's stderr (exit 255) into one of the distinct errors. */
export function classifySshFailure(host: string, stderr: string): TargetError {
  const s = stderr;
  const last = s.trim().split('\n').slice(-3).join('\n');
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for .* has changed/i.test(s))
    return new TargetError(
      'host-key-changed',
      `the host key of ${host} has changed: if the host was reinstalled, remove the old key (ssh-keygen -R ${host}) after checking the new fingerprint out of band`,
      last,
    );
  if (/Host key verification failed|No .*host key is known/i.test(s))
    return new TargetError(
      'host-key-unknown',
      `the host key of ${host} is not known: connect once with ssh ${host} and check the fingerprint (BPF Lens never trusts a key silently)`,
      last,
    );
  if (/Permission denied|Too many authentication failures|no more authentication methods/i.test(s))
    return new TargetError(
      'auth-failed',
      `authentication to ${host} failed: check the user and that your key (identityFile, ssh-agent) is in the target's authorized_keys`,
      last,
    );
  if (
    /Connection refused|timed out|No route to host|Network is unreachable|Could not resolve hostname|Connection closed by|Connection reset/i.test(
      s,
    )
  )
    return new TargetError('unreachable', `${host} is unreachable: check the address, port and that sshd runs there`, last);
  return new TargetError('ssh-failed', `ssh to ${host} failed: ${last || 'exit 255'}`, last);
}

/** `error (<code>): <message>` and the indented detail (what ssh, sudo or the agent said): the CLI's form. */
export function formatTargetError(e: TargetError): string {
  return `error (${e.code}): ${e.message}\n${e.detail ? `  ${e.detail.trim().split('\n').join('\n  ')}\n` : ''}`;
}

/**
 * bpf-not-permitted from the agent's hello: why the kernel refused (errno, who the agent runs
 * as, unprivileged BPF switched off, lockdown) and what would let it load.
 */
export function bpfNotPermitted(label: string, h: HelloResult): TargetError {
  const p = h.privileges;
  const why: string[] = [];
  if (h.uid !== 0) {
    why.push(`the agent runs as uid ${h.uid}${p.capBpf || p.capSysAdmin ? '' : ' without CAP_BPF or CAP_SYS_ADMIN'}`);
    const u = h.unprivilegedBpfDisabled;
    if (u) why.push(`unprivileged BPF is disabled there (/proc/sys/kernel/unprivileged_bpf_disabled = ${u})`);
  }
  if (h.lockdown && h.lockdown !== 'none') why.push(`the kernel is in lockdown mode '${h.lockdown}'`);
  const todo =
    h.uid !== 0
      ? 'connect as root, let the agent run under sudo (passwordless sudo for node there; do not pass --no-sudo), or give it CAP_BPF and CAP_PERFMON (CAP_NET_ADMIN for networking programs)'
      : 'root is refused too: check kernel lockdown, seccomp or an LSM policy (containers often block bpf())';
  return new TargetError(
    'bpf-not-permitted',
    `bpf() is not permitted for the agent on ${label} (${p.errno ?? 'refused'})${why.length ? `: ${why.join('; ')}` : ''} — ${todo}`,
  );
}

/** no-btf: the target has no /sys/kernel/btf/vmlinux; `what` says what needed it. */
export function noBtf(label: string, what: string, stage?: string): TargetError {
  return Object.assign(
    new TargetError(
      'no-btf',
      `no BTF on ${label}: ${what} — use a kernel built with CONFIG_DEBUG_INFO_BTF=y there, or give CO-RE a vmlinux BTF of that kernel with --btf FILE (e.g. from BTFHub); objects without CO-RE relocations, ksyms, kfuncs, struct_ops or BTF attach targets (tp_btf, fentry, lsm) still load`,
    ),
    { what, stage },
  );
}
