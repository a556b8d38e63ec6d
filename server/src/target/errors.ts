/** Why a target could not be used, each with what to do next (issue 5's distinct errors). */
export type TargetErrorCode =
  | 'unreachable' | 'auth-failed' | 'host-key-changed' | 'host-key-unknown' | 'no-node' | 'node-too-old'
  | 'no-sudo' | 'no-btf' | 'bpf-not-permitted' | 'agent-crashed' | 'bad-target' | 'ssh-failed';

export class TargetError extends Error {
  constructor(readonly code: TargetErrorCode, message: string, readonly detail?: string) {
    super(message);
    this.name = 'TargetError';
  }
}

/** Reads OpenSSH's stderr (exit 255) into one of the distinct errors. */
export function classifySshFailure(host: string, stderr: string): TargetError {
  const s = stderr;
  const last = s.trim().split('\n').slice(-3).join('\n');
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for .* has changed/i.test(s))
    return new TargetError('host-key-changed', `the host key of ${host} has changed: if the host was reinstalled, remove the old key (ssh-keygen -R ${host}) after checking the new fingerprint out of band`, last);
  if (/Host key verification failed|No .*host key is known/i.test(s))
    return new TargetError('host-key-unknown', `the host key of ${host} is not known: connect once with ssh ${host} and check the fingerprint (BPF Lens never trusts a key silently)`, last);
  if (/Permission denied|Too many authentication failures|no more authentication methods/i.test(s))
    return new TargetError('auth-failed', `authentication to ${host} failed: check the user and that your key (identityFile, ssh-agent) is in the target's authorized_keys`, last);
  if (/Connection refused|timed out|No route to host|Network is unreachable|Could not resolve hostname|Connection closed by|Connection reset/i.test(s))
    return new TargetError('unreachable', `${host} is unreachable: check the address, port and that sshd runs there`, last);
  return new TargetError('ssh-failed', `ssh to ${host} failed: ${last || 'exit 255'}`, last);
}
