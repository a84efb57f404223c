/**
 * The forwards' joins with no copy in JavaScript: a local TCP socket opened through libc
 * (src/proxy/local_tcp.ts) and a connection of the module's stack, bytes moving between the kernel
 * and the pool's slots. Local → tunnel: `recvmsg` scatters into up to 16 fresh slots at once,
 * each slot then handed to `tcpSend` as it is (the stack keeps it until acknowledged). Tunnel →
 * local: the pieces the stack lists (views into its segments' slots) gather into one `sendmsg`
 * (`MSG_NOSIGNAL | MSG_DONTWAIT`) straight from the module's memory, then `tcpConsume` of what the
 * kernel took. The one copy left is the kernel's, at the local socket.
 *
 * Readiness: the local fds are in the device loop's epoll set (src/netstack/fd_reactor.ts), the
 * stack's events come through the tunnel ({@link UserspaceTunnel.attach}); every call is a
 * synchronous FFI call, no promise per packet or per batch.
 *
 * Backpressure both ways: when the stack's send buffer is full (`E_AGAIN`) the slots already read
 * wait in the join (at most one batch) and the local socket is not read (EPOLLIN off) until the
 * stack says WRITABLE; when the local socket would block, the stack is not drained (its window
 * closes) until EPOLLOUT. An end of data is passed on as a half close (`tcpShutdown` /
 * `shutdown(SHUT_WR)`); a RST or error on either side resets the other (a local RST is SO_LINGER
 * 0); a join with nothing moving for its idle time is closed; every slot it held is freed.
 *
 * @example
 * ```ts ignore
 * const pump = SlotPump.of(tunnel);
 * const remote = await tunnel.connect({ hostname: "10.0.0.1", port: 80 });
 * await pump.join(localFd, remote).done;
 * ```
 * @module
 */

import { EAGAIN, EINTR } from "../ffi/errno.ts";
import { errno, libc, putAddress } from "../ffi/libc.ts";
import { IOVEC, M_IOV, M_IOVLEN } from "../ffi/mmsghdr.ts";
import { SyscallError } from "../ffi/syscall_error.ts";
import { logger } from "../log.ts";
import { EPOLLERR, EPOLLHUP, EPOLLIN, EPOLLOUT, EPOLLRDHUP } from "../netstack/fd_reactor.ts";
import type { FdReactor } from "../netstack/fd_reactor.ts";
import { CLOSED, EOF, ERROR, type Netstack, READABLE, WRITABLE } from "../netstack/netstack.ts";
import type { TcpConn } from "../netstack/tcp_conn.ts";
import type { TcpUser } from "../netstack/userspace_tunnel.ts";
import { E_AGAIN, HEADROOM, NET_SEG_LEN } from "../wasm/abi.ts";
import type { SlabPool } from "../wasm/slab.ts";
import {
  acceptedPeer,
  acceptLocal,
  closeFd,
  connectLocal,
  resetFd,
  SHUT_WR,
  socketError,
} from "./local_tcp.ts";

const log = logger("proxy");

/** Where data goes in a slot: behind room for the headers the stack writes in front. */
const DATA_OFF = HEADROOM + 64;
/** Slots one recvmsg fills at most. */
const BATCH = 16;
/** Pieces one sendmsg takes at most. */
const SEGS = 64;
/** recvmsg / sendmsg calls per readiness at most (the loop's other work goes on in between). */
const ROUNDS = 8;
const MSG_DONTWAIT = 0x40, MSG_NOSIGNAL = 0x4000;
const MSGHDR = 56;
const EMFILE = 24, ENFILE = 23;

// A join's state bits.
/** The local side's end of data was read (and passed on as a FIN). */
const IN_EOF = 1;
/** The stack's end of data was passed on (SHUT_WR). */
const OUT_EOF = 2;
/** The stack's send buffer was full: slots wait, the local socket is not read. */
const PAUSED = 4;
/** The local socket would block: the stack is not drained until EPOLLOUT. */
const BLOCKED = 8;
/** The pool was at its cap: reading resumes after a short wait. */
const WAIT_POOL = 16;
const DONE = 32;

/** What a pump needs of its tunnel ({@link UserspaceTunnel} has it all). */
export interface SlotHost {
  readonly stack: Netstack;
  readonly pool: SlabPool;
  readonly reactor: FdReactor;
  kick(): void;
  now(): number;
  forget(handle: number): void;
  attach(handle: number, user: TcpUser): void;
}

const pumps = new WeakMap<SlotHost, SlotPump>();

/** The shared scratch of one tunnel's joins, and its idle watch. */
export class SlotPump {
  readonly host: SlotHost;
  readonly chunk: number;
  /** Module scratch: slot offsets of a batch, the stack's pieces. */
  readonly slotsOff: number;
  readonly segsOff: number;
  /** JS memory at a fixed address: one msghdr, then its iovecs. */
  readonly hdr: Uint8Array<ArrayBuffer>;
  readonly iov32: Uint32Array;
  readonly offs = new Uint32Array(BATCH);
  readonly joins = new Set<SlotJoin>();
  #mem32: Uint32Array;
  #watch: ReturnType<typeof setInterval> | undefined;
  #watchMs = 0;

  private constructor(host: SlotHost) {
    this.host = host;
    const pool = host.pool;
    this.chunk = pool.slotSize - DATA_OFF;
    this.slotsOff = pool.scratch(4 * BATCH);
    this.segsOff = pool.scratch(NET_SEG_LEN * SEGS);
    const buf = new ArrayBuffer(MSGHDR + 8 + IOVEC * SEGS);
    this.hdr = new Uint8Array(buf);
    this.iov32 = new Uint32Array(buf);
    const addr = Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf)));
    putAddress(this.iov32, M_IOV, addr + MSGHDR + 8);
    this.#mem32 = new Uint32Array(pool.u8.buffer);
  }

  /** The pump of `host` (made on first use). */
  static of(host: SlotHost): SlotPump {
    let p = pumps.get(host);
    if (p === undefined) pumps.set(host, p = new SlotPump(host));
    return p;
  }

  /** A u32 view of the module's memory, current (the memory may have grown). */
  mem32(): Uint32Array {
    const buf = this.host.pool.u8.buffer;
    if (this.#mem32.buffer !== buf) this.#mem32 = new Uint32Array(buf);
    return this.#mem32;
  }

  /** iovec `i` of the area: `len` bytes at the numeric address `at`. */
  iov(i: number, at: number, len: number): void {
    const k = (MSGHDR + 8) / 4 + 4 * i;
    putAddress(this.iov32, k, at);
    this.iov32[k + 2] = len;
    this.iov32[k + 3] = 0;
  }

  /** The msghdr names `n` iovecs. */
  iovs(n: number): void {
    this.iov32[M_IOVLEN] = n;
    this.iov32[M_IOVLEN + 1] = 0;
  }

  /**
   * Joins local socket `fd` (connected, nonblocking; the join owns it now) to `conn` (established;
   * its events come to the join from now on). `idleMs` without a byte either way closes both.
   */
  join(fd: number, conn: TcpConn, idleMs: number): SlotJoin {
    const j = new SlotJoin(this, fd, conn.handle, idleMs);
    this.host.attach(conn.handle, j);
    this.joins.add(j);
    this.#watchIdle(idleMs);
    this.host.reactor.schedule(j); // data may be waiting on either side already
    this.host.kick();
    return j;
  }

  /** A nonblocking connect to `ip:port`, completed in the loop; TimedOut after `ms`. */
  connect(ip: Uint8Array, port: number, ms: number): Promise<number> {
    const fd = connectLocal(ip, port);
    const reactor = this.host.reactor;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reactor.remove(fd);
        closeFd(fd);
        reject(new Deno.errors.TimedOut(`connect: no answer in ${ms / 1000} s`));
      }, ms);
      reactor.add(fd, EPOLLOUT, {
        ready: () => {
          clearTimeout(timer);
          reactor.remove(fd);
          const e = socketError(fd);
          if (e === 0) return resolve(fd);
          closeFd(fd);
          reject(new SyscallError("connect", e));
        },
      });
      this.host.kick();
    });
  }

  /**
   * Accepts the connections of listening socket `fd` in the loop: `onAccept(fd, client)` for each.
   * Returns what stops it (the listener's fd is the caller's to close).
   */
  listen(fd: number, onAccept: (conn: number, client: string) => void): () => void {
    const reactor = this.host.reactor;
    let stopped = false, pause: ReturnType<typeof setTimeout> | undefined;
    const handler = {
      ready: () => {
        for (let i = 0; i < 64; i++) {
          const c = acceptLocal(fd);
          if (c === -EAGAIN) return;
          if (c === -EMFILE || c === -ENFILE) {
            // Out of fds: the listener stays readable; look again in a while, not at once.
            log.warning("Local listener: out of file descriptors; accepting again in 100 ms");
            reactor.remove(fd);
            pause = setTimeout(() => {
              if (!stopped) reactor.add(fd, EPOLLIN, handler);
            }, 100);
            return;
          }
          if (c < 0) continue; // that connection failed (ECONNABORTED, ...)
          const client = acceptedPeer();
          // Not inside the loop's dispatch: the handler connects through the stack.
          queueMicrotask(() => onAccept(c, client));
        }
      },
    };
    reactor.add(fd, EPOLLIN, handler);
    this.host.kick();
    return () => {
      stopped = true;
      clearTimeout(pause);
      reactor.remove(fd);
    };
  }

  /** Drops a finished join. */
  ended(j: SlotJoin): void {
    this.joins.delete(j);
    if (this.joins.size === 0 && this.#watch !== undefined) {
      clearInterval(this.#watch);
      this.#watch = undefined;
    }
  }

  /** One interval checks every join for idleness, at the finest period asked for. */
  #watchIdle(idleMs: number): void {
    const period = Math.max(10, Math.min(idleMs / 2, 10_000));
    if (this.#watch !== undefined && period >= this.#watchMs) return;
    if (this.#watch !== undefined) clearInterval(this.#watch);
    this.#watchMs = period;
    this.#watch = setInterval(() => {
      const now = performance.now();
      for (const j of this.joins) j.checkIdle(now);
    }, period);
  }
}

/** One local socket joined to one connection of the stack. */
export class SlotJoin {
  readonly fd: number;
  readonly handle: number;
  /** Resolves once both sides are closed (never rejects). */
  readonly done: Promise<void>;
  /** Bytes moved: local → tunnel, tunnel → local. */
  bytesIn = 0;
  bytesOut = 0;
  readonly #pump: SlotPump;
  readonly #idleMs: number;
  #flags = 0;
  #mask = 0;
  #active = false;
  #idleSince = performance.now();
  /** Slots read but refused by a full send buffer (in order), and their lengths. */
  readonly #held = new Uint32Array(BATCH);
  readonly #heldLen = new Uint32Array(BATCH);
  #heldAt = 0;
  #heldN = 0;
  #poolTimer: ReturnType<typeof setTimeout> | undefined;
  #resolve!: () => void;

  constructor(pump: SlotPump, fd: number, handle: number, idleMs: number) {
    this.#pump = pump;
    this.fd = fd;
    this.handle = handle;
    this.#idleMs = idleMs;
    this.done = new Promise((r) => this.#resolve = r);
    this.#arm();
  }

  /** The local fd's readiness (0: scheduled work: try both ways). */
  ready(ev: number): void {
    if (this.#flags & DONE) return;
    if (ev === 0) {
      this.#flags &= ~WAIT_POOL;
      if (this.#heldN > 0) this.#flush();
      if (!(this.#flags & BLOCKED)) this.#toLocal();
      if (!(this.#flags & (PAUSED | IN_EOF | DONE))) this.#fromLocal();
    } else {
      if (ev & EPOLLOUT) {
        this.#flags &= ~BLOCKED;
        this.#toLocal();
      }
      if ((ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) && !(this.#flags & DONE)) {
        if (!(this.#flags & (IN_EOF | PAUSED | WAIT_POOL))) this.#fromLocal();
        else if (ev & EPOLLERR) this.#localFailed(socketError(this.fd));
      }
    }
    if (!(this.#flags & DONE)) this.#arm();
  }

  /** The stack's readiness for the connection (inside its event dispatch: nothing that allocates). */
  wake(r: number): void {
    if (this.#flags & DONE) return;
    if ((r & (READABLE | EOF | CLOSED)) && !(this.#flags & (BLOCKED | OUT_EOF))) this.#toLocal();
    if (this.#flags & DONE) return;
    if ((r & WRITABLE) && (this.#flags & PAUSED)) {
      this.#pump.host.reactor.schedule(this); // the held slots go on outside the dispatch
      this.#pump.host.kick();
    }
    if (r & ERROR) {
      const { error } = this.#pump.host.stack.tcpState(this.handle);
      if (error !== 0) return this.#finish(true);
    }
    this.#arm();
  }

  /** Ends the join now: the local socket closed, the connection let go (FIN, or RST if unread). */
  close(): void {
    this.#finish(false);
  }

  /** Closes the join if nothing moved for its idle time. */
  checkIdle(now: number): void {
    if (this.#active) {
      this.#active = false;
      this.#idleSince = now;
    } else if (now - this.#idleSince >= this.#idleMs) {
      log.debug("Joined connection idle for {ms} ms: closed", { ms: this.#idleMs });
      this.#finish(false);
    }
  }

  /** Local → stack: recvmsg into fresh slots, each slot to tcpSend. */
  #fromLocal(): void {
    const pump = this.#pump, { pool, stack } = pump.host, chunk = pump.chunk, offs = pump.offs;
    for (let round = 0; round < ROUNDS; round++) {
      const k = pool.allocBatch(pump.slotsOff, BATCH);
      if (k === 0) return this.#waitPool();
      const mem = pump.mem32(), base = pool.base, at = pump.slotsOff >>> 2;
      for (let i = 0; i < k; i++) {
        offs[i] = mem[at + i];
        pump.iov(i, base + offs[i] + DATA_OFF, chunk);
      }
      pump.iovs(k);
      const r = libc().recvmsg(this.fd, pump.hdr, MSG_DONTWAIT);
      if (r <= 0) {
        const e = r < 0 ? errno() : 0;
        pool.freeBatch(pump.slotsOff, k);
        if (r === 0) {
          this.#flags |= IN_EOF;
          stack.tcpShutdown(this.handle);
          pump.host.kick();
          this.#maybeEnd();
          return;
        }
        if (e === EAGAIN || e === EINTR) return;
        return this.#localFailed(e);
      }
      this.#active = true;
      this.bytesIn += r;
      const filled = Math.ceil(r / chunk);
      if (filled < k) pool.freeBatch(pump.slotsOff + 4 * filled, k - filled);
      let sent = 0;
      for (; sent < filled; sent++) {
        const len = sent < filled - 1 ? chunk : r - (filled - 1) * chunk;
        const rc = stack.tcpSend(this.handle, offs[sent], DATA_OFF, len);
        if (rc === len) continue;
        if (rc !== E_AGAIN) {
          for (let i = sent; i < filled; i++) pool.free(offs[i]);
          return this.#stackFailed();
        }
        break;
      }
      pump.host.kick();
      if (sent < filled) {
        // The send buffer is full: the rest waits here (one batch at most), reading stops.
        for (let i = sent; i < filled; i++) {
          this.#held[this.#heldN] = offs[i];
          this.#heldLen[this.#heldN++] = i < filled - 1 ? chunk : r - (filled - 1) * chunk;
        }
        this.#flags |= PAUSED;
        return;
      }
      if (r < k * chunk) return; // the socket is drained (level-triggered: told again otherwise)
    }
  }

  /** The held slots to the stack, in order, as far as the send buffer takes them. */
  #flush(): void {
    const { stack, pool } = this.#pump.host;
    while (this.#heldN > 0) {
      const i = this.#heldAt, len = this.#heldLen[i];
      const rc = stack.tcpSend(this.handle, this.#held[i], DATA_OFF, len);
      if (rc === E_AGAIN) break;
      if (rc !== len) {
        for (let j = i; j < i + this.#heldN; j++) pool.free(this.#held[j]);
        this.#heldN = 0;
        return this.#stackFailed();
      }
      this.#heldAt++;
      this.#heldN--;
    }
    this.#pump.host.kick();
    if (this.#heldN === 0) {
      this.#heldAt = 0;
      this.#flags &= ~PAUSED;
    }
  }

  /** Stack → local: the listed pieces in one sendmsg, consumed as far as the kernel took them. */
  #toLocal(): void {
    const pump = this.#pump, { pool, stack } = pump.host;
    for (let round = 0; round < ROUNDS; round++) {
      const n = stack.tcpRecvList(this.handle, pump.segsOff, SEGS);
      if (n === E_AGAIN) return;
      if (n === 0) {
        if (this.#flags & OUT_EOF) return;
        const { error } = stack.tcpState(this.handle);
        if (error !== 0) return this.#finish(true);
        this.#flags |= OUT_EOF;
        libc().shutdown(this.fd, SHUT_WR);
        this.#maybeEnd();
        return;
      }
      if (n < 0) return this.#stackFailed();
      const mem = pump.mem32(), base = pool.base, at = pump.segsOff >>> 2;
      let total = 0;
      for (let i = 0; i < n; i++) {
        const len = mem[at + 2 * i + 1];
        pump.iov(i, base + mem[at + 2 * i], len);
        total += len;
      }
      pump.iovs(n);
      const w = libc().sendmsg(this.fd, pump.hdr, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w < 0) {
        const e = errno();
        if (e === EAGAIN || e === EINTR) {
          this.#flags |= BLOCKED;
          return;
        }
        return this.#localFailed(e);
      }
      stack.tcpConsume(this.handle, w);
      this.#active = true;
      this.bytesOut += w;
      pump.host.kick(); // the window opened
      if (w < total) {
        this.#flags |= BLOCKED;
        return;
      }
    }
  }

  /** The pool is at its cap: the data already queued frees slots; read again in a while. */
  #waitPool(): void {
    this.#flags |= WAIT_POOL;
    this.#poolTimer ??= setTimeout(() => {
      this.#poolTimer = undefined;
      if (this.#flags & DONE) return;
      this.#pump.host.reactor.schedule(this);
      this.#pump.host.kick();
    }, 5);
  }

  /** The local socket failed (ECONNRESET, EPIPE, ...): a RST through the tunnel. */
  #localFailed(e: number): void {
    log.debug("Local socket of a join: {error}", {
      error: new SyscallError("recv/send", e).message,
    });
    const host = this.#pump.host;
    try {
      host.stack.tcpAbort(this.handle, host.now());
    } catch { /* already over */ }
    this.#finish(false);
  }

  /** The connection refused more data or listing it: reset the local side. */
  #stackFailed(): void {
    this.#finish(true);
  }

  #maybeEnd(): void {
    if ((this.#flags & (IN_EOF | OUT_EOF)) === (IN_EOF | OUT_EOF)) this.#finish(false);
  }

  /** The epoll mask for what the join waits for; off the set while it waits for nothing. */
  #arm(): void {
    const f = this.#flags;
    let mask = 0;
    if (!(f & (IN_EOF | PAUSED | WAIT_POOL))) mask |= EPOLLIN | EPOLLRDHUP;
    if (f & BLOCKED) mask |= EPOLLOUT;
    if (mask === this.#mask) return;
    const reactor = this.#pump.host.reactor;
    if (this.#mask === 0) reactor.add(this.fd, mask, this);
    else if (mask === 0) reactor.remove(this.fd);
    else reactor.set(this.fd, mask);
    this.#mask = mask;
  }

  /** Both sides closed (`rst`: the local one with a RST), every held slot freed. Once. */
  #finish(rst: boolean): void {
    if (this.#flags & DONE) return;
    this.#flags |= DONE;
    const pump = this.#pump, host = pump.host;
    if (this.#mask !== 0) host.reactor.remove(this.fd);
    this.#mask = 0;
    clearTimeout(this.#poolTimer);
    if (rst) resetFd(this.fd);
    else closeFd(this.fd);
    for (let i = this.#heldAt; i < this.#heldAt + this.#heldN; i++) host.pool.free(this.#held[i]);
    this.#heldN = 0;
    try {
      host.stack.tcpRelease(this.handle, host.now());
    } catch { /* the tunnel is closing */ }
    host.forget(this.handle);
    host.kick();
    pump.ended(this);
    this.#resolve();
  }
}
