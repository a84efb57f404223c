/**
 * Readiness of a changing set of fds (the proxy's local TCP sockets) inside the device's own loop:
 * an epoll instance whose fd is what the loop polls in place of the stack's eventfd (so one
 * `poll` promise per wakeup serves the tunnel and every local socket), and {@link FdReactor.dispatch},
 * called synchronously from the stack's read (src/netstack/netstack_tun.ts), which takes the ready
 * fds with `epoll_wait(…, 0)` (~0.3 µs, no promise) and hands each to its handler.
 *
 * Level-triggered: a handler that leaves data unread on purpose (backpressure) must drop EPOLLIN
 * from its mask, or the loop would spin. Work that must run outside a handler of the stack's
 * events (anything that may allocate slots, which may grow the memory under the events' view) is
 * {@link FdReactor.schedule}d and runs at the start of the next dispatch.
 *
 * @example
 * ```ts
 * import { EPOLLIN, FdReactor } from "./fd_reactor.ts";
 * import { EFD_NONBLOCK, libc } from "../ffi/libc.ts";
 * using r = new FdReactor();
 * const efd = libc().eventfd(1, EFD_NONBLOCK);
 * let seen = 0;
 * r.add(efd, EPOLLIN, { ready: (ev) => void (seen = ev) });
 * r.dispatch();
 * console.log(seen === EPOLLIN); // true
 * r.remove(efd);
 * libc().close(efd);
 * ```
 * @module
 */

import { checkSetup, errno, libc } from "../ffi/libc.ts";
import { SyscallError } from "../ffi/syscall_error.ts";
import { logger } from "../log.ts";

export const EPOLLIN = 0x1, EPOLLOUT = 0x4, EPOLLERR = 0x8, EPOLLHUP = 0x10;
export const EPOLLRDHUP = 0x2000;
const EPOLL_CTL_ADD = 1, EPOLL_CTL_DEL = 2, EPOLL_CTL_MOD = 3;
const EPOLL_CLOEXEC = 0o2000000;
/** Events taken per epoll_wait. */
const MAX_EVENTS = 64;
/** struct epoll_event is packed on x86_64 (12 bytes, data at 4), natural elsewhere (16, at 8). */
const PACKED = Deno.build.arch === "x86_64";
const STRIDE32 = PACKED ? 3 : 4, DATA32 = PACKED ? 1 : 2;

const log = logger("proxy");

/** What gets an fd's readiness. */
export interface FdHandler {
  /** `events`: EPOLLIN/EPOLLOUT/EPOLLERR/EPOLLHUP/EPOLLRDHUP; 0 for scheduled work. */
  ready(events: number): void;
}

/** An epoll set with a handler per fd. */
export class FdReactor implements Disposable {
  /** The epoll fd: readable (POLLIN) while any fd of the set is ready. */
  readonly fd: number;
  readonly #handlers = new Map<number, FdHandler>();
  readonly #byFd: (FdHandler | undefined)[] = [];
  readonly #ev = new Uint8Array(new ArrayBuffer(16));
  readonly #ev32 = new Uint32Array(this.#ev.buffer);
  readonly #out = new Uint8Array(new ArrayBuffer(MAX_EVENTS * 16));
  readonly #out32 = new Uint32Array(this.#out.buffer);
  #due: FdHandler[] = [];
  #spare: FdHandler[] = [];
  #closed = false;

  constructor() {
    this.fd = checkSetup("epoll_create1", libc().epoll_create1(EPOLL_CLOEXEC));
  }

  /** Watches `fd` for `events`; `handler` gets them. */
  add(fd: number, events: number, handler: FdHandler): void {
    this.#ctl(EPOLL_CTL_ADD, fd, events);
    this.#handlers.set(fd, handler);
    this.#byFd[fd] = handler;
  }

  /** A new mask for a watched fd. */
  set(fd: number, events: number): void {
    this.#ctl(EPOLL_CTL_MOD, fd, events);
  }

  /** Stops watching `fd` (before it is closed). */
  remove(fd: number): void {
    if (!this.#handlers.delete(fd)) return;
    this.#byFd[fd] = undefined;
    if (!this.#closed) libc().epoll_ctl(this.fd, EPOLL_CTL_DEL, fd, this.#ev);
  }

  /** `handler.ready(0)` at the start of the next {@link dispatch}. */
  schedule(handler: FdHandler): void {
    this.#due.push(handler);
  }

  /**
   * Runs the scheduled work, then the ready fds' handlers (at most 64 a call); returns how many
   * ran. A handler that throws is logged and the others still run: this is inside the data path.
   */
  dispatch(): number {
    let ran = 0;
    if (this.#due.length > 0) {
      const due = this.#due;
      this.#due = this.#spare;
      for (let i = 0; i < due.length; i++) ran += this.#run(due[i], 0);
      due.length = 0;
      this.#spare = due;
    }
    if (this.#handlers.size === 0 || this.#closed) return ran;
    const n = libc().epoll_wait(this.fd, this.#out, MAX_EVENTS, 0);
    const o = this.#out32;
    for (let i = 0; i < n; i++) {
      const h = this.#byFd[o[i * STRIDE32 + DATA32]];
      if (h !== undefined) ran += this.#run(h, o[i * STRIDE32]);
    }
    return ran;
  }

  #run(h: FdHandler, events: number): number {
    try {
      h.ready(events);
    } catch (e) {
      log.error("A local socket's handler failed: {error}", { error: (e as Error).message });
    }
    return 1;
  }

  #ctl(op: number, fd: number, events: number): void {
    this.#ev32[0] = events;
    this.#ev32[DATA32] = fd;
    this.#ev32[DATA32 + 1] = 0;
    if (libc().epoll_ctl(this.fd, op, fd, this.#ev) < 0) {
      throw new SyscallError(`epoll_ctl(${op}, fd ${fd})`, errno());
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    libc().close(this.fd);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
