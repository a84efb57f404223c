/**
 * Readiness for a fixed set of fds (TUN, UDP, ...) plus an eventfd to interrupt a wait.
 *
 * Why two ways to poll: a synchronous FFI call costs ~0.3 µs, a `nonblocking: true` one (run on
 * a worker thread, resolved through a promise) ~65 µs round trip. So the data path drains its
 * O_NONBLOCK fds synchronously until EAGAIN while there is work ({@link Poller.pollNow} is the
 * cheap "anything left?" check), and only when everything is idle does it `await`
 * {@link Poller.wait}: one promise per wakeup, never one per packet. Anything else in the program
 * that needs the loop's attention (a timer fired, a handshake queued a packet, shutdown) calls
 * {@link Poller.wake}, which writes the eventfd that is always part of the set.
 *
 * The `struct pollfd` array is built once in a JS `ArrayBuffer`; while a `wait()` is pending the
 * kernel writes it from another thread, so `pollNow()` refuses to run then.
 *
 * @example
 * ```ts ignore
 * import { Poller, POLLIN } from "./poller.ts";
 * using poller = new Poller([tun.fd, udp.fd], POLLIN);
 * for (;;) {
 *   while (path.pumpTun() + path.pumpUdp() > 0) {} // drain synchronously
 *   await poller.wait(1000);                        // idle: one promise per wakeup
 *   if (poller.woken) handleTimers();
 * }
 * ```
 * @module
 */

import { EAGAIN, EINTR } from "./ffi/errno.ts";
import { checkSetup, EFD_CLOEXEC, EFD_NONBLOCK, errno, libc } from "./ffi/libc.ts";
import { SyscallError } from "./ffi/syscall_error.ts";

export const POLLIN = 0x1;
export const POLLOUT = 0x4;
export const POLLERR = 0x8;
export const POLLHUP = 0x10;
export const POLLNVAL = 0x20;

const POLLFD = 8; // struct pollfd { int fd; short events; short revents; }

/** poll(2) over a fixed fd set and an internal eventfd. Does not own (close) the fds it watches. */
export class Poller implements Disposable {
  /** Number of watched fds (the eventfd not counted). */
  readonly size: number;
  readonly #pfd: ArrayBuffer;
  readonly #pfd8: Uint8Array<ArrayBuffer>;
  readonly #i16: Int16Array;
  readonly #n: bigint; // nfds_t: size + 1, a bigint once rather than per call
  #efd: number;
  #busy = false;
  #closing = false;
  #woken = false;
  readonly #drain = new Uint8Array(new ArrayBuffer(8));
  readonly #one = new Uint8Array(new BigUint64Array([1n]).buffer);

  /**
   * @param fds the fds to watch, index i = `revents(i)`
   * @param events one mask for all, or one per fd (POLLIN, POLLOUT, ...)
   */
  constructor(fds: readonly number[], events: number | readonly number[] = POLLIN) {
    this.size = fds.length;
    this.#n = BigInt(fds.length + 1);
    this.#efd = checkSetup("eventfd", libc().eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    this.#pfd = new ArrayBuffer((fds.length + 1) * POLLFD);
    this.#pfd8 = new Uint8Array(this.#pfd);
    this.#i16 = new Int16Array(this.#pfd);
    const i32 = new Int32Array(this.#pfd);
    for (let i = 0; i < fds.length; i++) {
      i32[i * 2] = fds[i];
      this.#i16[i * 4 + 2] = typeof events === "number" ? events : events[i];
    }
    i32[fds.length * 2] = this.#efd;
    this.#i16[fds.length * 4 + 2] = POLLIN;
  }

  /** Changes the interest mask of fd `i` (e.g. add POLLOUT after a send hit EAGAIN). */
  setEvents(i: number, events: number): void {
    if (!(i >= 0 && i < this.size)) throw new RangeError(`Poller.setEvents: no fd #${i}`);
    this.#i16[i * 4 + 2] = events;
  }

  /** `revents` of fd `i` from the last poll (POLLIN, POLLOUT, POLLERR, POLLHUP, POLLNVAL). */
  revents(i: number): number {
    return this.#i16[i * 4 + 3];
  }

  /** Whether the last poll returned because of {@link wake} (the eventfd is drained already). */
  get woken(): boolean {
    return this.#woken;
  }

  /** Synchronous poll(…, 0): how many watched fds have events now. Not while a wait() is pending. */
  pollNow(): number {
    return this.block(0);
  }

  /**
   * poll(…, timeoutMs) on this thread: returns when an fd is ready, {@link wake} was called (by
   * another thread: this one is blocked) or the timeout passed. No worker thread, no promise, so
   * no hand-off between threads when the fd becomes ready (~0.3 ms per wake-up measured on a busy
   * 2-CPU VM), but nothing else in the program runs meanwhile: keep `timeoutMs` short.
   */
  block(timeoutMs: number): number {
    if (this.#busy) throw new Error("Poller.block() while wait() is pending");
    const r = libc().poll(this.#pfd8, this.#n, timeoutMs);
    if (r < 0) {
      const e = errno();
      if (e === EAGAIN || e === EINTR) return this.#finish(0, true);
      throw new SyscallError("poll", e);
    }
    return this.#finish(r, false);
  }

  /**
   * poll(…, timeoutMs) on a worker thread (`-1` = no timeout). Resolves to how many watched fds
   * have events (0 on timeout or when only woken; check {@link woken}). One pending wait at a time.
   */
  async wait(timeoutMs: number): Promise<number> {
    if (this.#busy) throw new Error("Poller.wait() already pending");
    if (this.#efd < 0) throw new Error("Poller is closed");
    this.#busy = true;
    let r: number;
    try {
      r = await libc().poll_nonblocking(this.#pfd8, this.#n, timeoutMs);
    } finally {
      this.#busy = false;
    }
    if (this.#closing) {
      this.#closeNow();
      return 0;
    }
    // errno belongs to the worker thread and means nothing here: ask again, synchronously.
    if (r < 0) return this.pollNow();
    return this.#finish(r, false);
  }

  #finish(r: number, none: boolean): number {
    if (none) {
      this.#woken = false;
      return 0;
    }
    const w = this.#i16[this.size * 4 + 3];
    this.#woken = w !== 0;
    if (w !== 0) {
      // Drain the eventfd counter (one read resets it); EAGAIN if already drained.
      libc().read(this.#efd, this.#drain, 8n);
      return r - 1;
    }
    return r;
  }

  /** Makes a pending (or the next) wait() return now, with {@link woken} set. */
  wake(): void {
    if (this.#efd < 0) return;
    // Fails only with EAGAIN when the counter would overflow, i.e. a wakeup is pending anyway.
    libc().write(this.#efd, this.#one, 8n);
  }

  /** Closes the eventfd; a pending wait() is woken and the close completes when it returns. */
  close(): void {
    if (this.#efd < 0 || this.#closing) return;
    if (this.#busy) {
      this.#closing = true;
      this.wake();
      return;
    }
    this.#closeNow();
  }

  #closeNow(): void {
    libc().close(this.#efd);
    this.#efd = -1;
    this.#closing = false;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
