// epoll(7) for the event consumers: an epoll FD, FDs added for EPOLLIN, and a wait that never
// blocks (timeout 0). Consumers poll it from a timer, so Node's event loop is never held and a
// stop can unmap the rings at once: no thread of the pool is inside a wait on them.
import { type Fd, sysCall } from './sys';

export const EPOLLIN = 0x1;
const EPOLL_CLOEXEC = 0o2000000;
const EPOLL_CTL_ADD = 1;

/** struct epoll_event is packed on x86_64 (12 bytes), naturally aligned elsewhere (16). */
function eventLayout(arch = process.arch): { size: number; dataAt: number } {
  return arch === 'x64' ? { size: 12, dataAt: 4 } : { size: 16, dataAt: 8 };
}

/** epoll_create1(EPOLL_CLOEXEC). */
export function epollCreate(context = ''): Fd {
  return sysCall('epoll_create1', 'epoll_create1', [EPOLL_CLOEXEC], true, context);
}

/** epoll_ctl(EPOLL_CTL_ADD, fd) for EPOLLIN; `tag` comes back from epollWait when fd is ready. */
export function epollAdd(epfd: Fd, fd: Fd, tag: number, context = ''): void {
  const l = eventLayout();
  const ev = Buffer.alloc(l.size);
  ev.writeUInt32LE(EPOLLIN, 0);
  ev.writeUInt32LE(tag >>> 0, l.dataAt);
  sysCall('epoll_ctl', 'epoll_ctl', [epfd, EPOLL_CTL_ADD, fd, ev], false, context);
}

/** epoll_pwait(epfd, events, max, 0, NULL): the tags of the FDs ready now (never waits). */
export function epollWait(epfd: Fd, max = 64, context = ''): number[] {
  const l = eventLayout();
  const evs = Buffer.alloc(l.size * max);
  const n = sysCall('epoll_pwait', 'epoll_wait', [epfd, evs, max, 0, 0, 8], false, context);
  const tags: number[] = [];
  for (let i = 0; i < n; i++) tags.push(evs.readUInt32LE(i * l.size + l.dataAt));
  return tags;
}
