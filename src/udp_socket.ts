/**
 * The tunnel's UDP socket: dual-stack (AF_INET6, IPV6_V6ONLY=0) unless IPv6 is unavailable, non-blocking,
 * batched with `recvmmsg`/`sendmmsg` straight from and into slab slots.
 *
 * The `mmsghdr[256]` and `iovec[256]` arrays are built once in a JS `ArrayBuffer` (stable address);
 * `msg_iov`/`msg_iovlen` never change. Per datagram only u32 fields are rewritten: `msg_name`
 * (two halves), `msg_namelen`, `iov_base` (two halves), `iov_len`. No BigInt, no object, no boxed
 * number per packet (src/ffi/libc.ts explains why pointers do not go through `usize` parameters).
 *
 * Endpoints: the device stores them as 28-byte `sockaddr_in6`, IPv4 as v4-mapped `::ffff:a.b.c.d`,
 * which is what a dual-stack socket reports as the source of IPv4 datagrams too. Linux also accepts
 * a 16-byte `sockaddr_in` destination on a dual-stack socket. On an AF_INET-only socket (IPv6
 * disabled, or `family: "ipv4"`) names are `sockaddr_in` both ways; converting is the caller's job
 * (see {@link writeSockaddr} with `AF_INET`).
 *
 * @example
 * ```ts ignore
 * import { UdpSocket } from "./udp_socket.ts";
 * using sock = UdpSocket.bind({ port: 0 });
 * console.log(sock.port); // kernel-chosen
 * const n = sock.recvBatch(pool, offs, lens, namesOff, 32, got); // datagram i at offs[i]
 * ```
 * @module
 */

import { parseIp, SOCKADDR_IN6_LEN, SOCKADDR_IN_LEN, writeSockaddr } from "./endpoint.ts";
import { EAFNOSUPPORT, EAGAIN, EBADF, EFAULT, EINTR, ENOTSOCK, EPERM } from "./ffi/errno.ts";
import {
  AF_INET,
  AF_INET6,
  check,
  checkSetup,
  errno,
  libc,
  putAddress,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  SOCK_NONBLOCK,
} from "./ffi/libc.ts";
import { checkBatch, checkRange, type PoolMemory } from "./ffi/pool_memory.ts";
import { SyscallError } from "./ffi/syscall_error.ts";

/** Most datagrams one `recvBatch`/`sendBatch` call moves (larger `n` is clamped). */
export const MAX_BATCH = 256;
/** `lens[i]` from {@link UdpSocket.recvBatch} for a datagram longer than a slot (MSG_TRUNC). */
export const TRUNCATED = 0xffffffff;
export const MSG_TRUNC = 0x20;
export const SOL_SOCKET = 1;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SO_SNDBUFFORCE = 32;
export const SO_RCVBUFFORCE = 33;
export const IPPROTO_IPV6 = 41;
export const IPV6_V6ONLY = 26;

const MMSGHDR = 64; // sizeof(struct mmsghdr) on LP64
const IOVEC = 16;
// u32 indexes inside one mmsghdr
const M_NAME = 0, M_NAMELEN = 2, M_IOV = 4, M_IOVLEN = 6, M_FLAGS = 12, M_LEN = 14;

/** Options for {@link UdpSocket.bind}. */
export interface UdpBindOptions {
  /** Local port; 0 lets the kernel pick (read it back from {@link UdpSocket.port}). */
  readonly port: number;
  /** Local address; default all (`::`, or `0.0.0.0` for an IPv4-only socket). */
  readonly host?: string;
  /**
   * `"dual"` (default): AF_INET6 with IPV6_V6ONLY=0, falling back to AF_INET when the kernel has no
   * IPv6 (EAFNOSUPPORT) and `host` is not IPv6. `"ipv4"`: AF_INET only.
   */
  readonly family?: "dual" | "ipv4";
  /** SO_RCVBUF/SO_SNDBUF wish (SO_*BUFFORCE first, capped by net.core.*mem_max without privilege). Default 4 MiB. */
  readonly bufferBytes?: number;
}

/** A non-blocking UDP socket doing batched I/O on slab slots. */
export class UdpSocket implements Disposable {
  #fd: number;
  /** AF_INET6 (dual-stack) or AF_INET. */
  readonly family: number;
  /** Datagrams `sendBatch`/`sendTo` skipped because the kernel refused them (ENETUNREACH, EMSGSIZE, ...). */
  sendErrors = 0;
  /** errno of the last refused datagram, 0 if none. */
  lastSendErrno = 0;
  /** Datagrams `recvBatch` marked {@link TRUNCATED}. */
  truncated = 0;

  readonly #ring = new ArrayBuffer(MAX_BATCH * (MMSGHDR + IOVEC));
  readonly #h32 = new Uint32Array(this.#ring);
  /** `#at[i]`: the mmsghdr array from entry i on, so sendmmsg can resume without a subarray(). */
  readonly #at: Uint8Array[] = [];
  readonly #one = new ArrayBuffer(64 + IOVEC); // msghdr + iovec for sendTo
  readonly #one8 = new Uint8Array(this.#one);
  readonly #one32 = new Uint32Array(this.#one);

  private constructor(fd: number, family: number) {
    this.#fd = fd;
    this.family = family;
    const ringAddr = Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(this.#ring)));
    const iov0 = MAX_BATCH * MMSGHDR;
    for (let i = 0; i < MAX_BATCH; i++) {
      const m = i * (MMSGHDR / 4);
      putAddress(this.#h32, m + M_IOV, ringAddr + iov0 + i * IOVEC);
      this.#h32[m + M_IOVLEN] = 1;
      this.#at.push(new Uint8Array(this.#ring, i * MMSGHDR, (MAX_BATCH - i) * MMSGHDR));
    }
    const oneAddr = Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(this.#one)));
    putAddress(this.#one32, M_IOV, oneAddr + 64);
    this.#one32[M_IOVLEN] = 1;
  }

  /** Creates, configures and binds the socket. Throws {@link SyscallError} (e.g. EADDRINUSE). */
  static bind(opts: UdpBindOptions): UdpSocket {
    const { port } = opts;
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new RangeError(`UDP port must be 0..65535, got ${port}`);
    }
    const host = opts.host === undefined ? undefined : parseIp(opts.host);
    const L = libc();
    const type = SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC;
    let family = AF_INET;
    let fd = -1;
    if ((opts.family ?? "dual") === "dual") {
      fd = check("socket(AF_INET6, SOCK_DGRAM)", L.socket(AF_INET6, type, 0), {
        tolerate: host?.length === 16 ? [] : [EAFNOSUPPORT],
      });
      if (fd >= 0) family = AF_INET6;
    } else if (host?.length === 16) {
      throw new RangeError(`IPv6 host ${opts.host} on an IPv4-only socket`);
    }
    if (fd < 0) fd = checkSetup("socket(AF_INET, SOCK_DGRAM)", L.socket(AF_INET, type, 0));
    const sock = new UdpSocket(fd, family);
    try {
      if (family === AF_INET6) sock.#setInt(IPPROTO_IPV6, IPV6_V6ONLY, 0, "IPV6_V6ONLY", []);
      const bytes = opts.bufferBytes ?? 4 << 20;
      sock.#setBuffer(SO_RCVBUFFORCE, SO_RCVBUF, bytes, "SO_RCVBUF");
      sock.#setBuffer(SO_SNDBUFFORCE, SO_SNDBUF, bytes, "SO_SNDBUF");
      const addr = new Uint8Array(new ArrayBuffer(SOCKADDR_IN6_LEN));
      const len = writeSockaddr(
        addr,
        0,
        { addr: host ?? new Uint8Array(family === AF_INET6 ? 16 : 4), port, scopeId: 0 },
        family,
      );
      const shown = opts.host === undefined ? (family === AF_INET6 ? "::" : "0.0.0.0") : opts.host;
      checkSetup(
        `bind(${shown.includes(":") ? `[${shown}]` : shown}:${port})`,
        L.bind(fd, addr, len),
      );
    } catch (e) {
      sock.close();
      throw e;
    }
    return sock;
  }

  /** setsockopt of an int; returns 0 or `-errno` for a `tolerate`d errno. */
  #setInt(level: number, name: number, value: number, label: string, tolerate: number[]): number {
    const v = new Uint8Array(new Int32Array([value]).buffer);
    return checkSetup(`setsockopt(${label})`, libc().setsockopt(this.#fd, level, name, v, 4), {
      tolerate,
    });
  }

  /** SO_*BUFFORCE needs CAP_NET_ADMIN; without it the plain option, capped by net.core.*mem_max. */
  #setBuffer(force: number, plain: number, bytes: number, label: string): void {
    if (this.#setInt(SOL_SOCKET, force, bytes, `${label}FORCE`, [EPERM]) >= 0) return;
    this.#setInt(SOL_SOCKET, plain, bytes, label, []);
  }

  #getInt(level: number, name: number, label: string): number {
    const v = new Int32Array(2);
    const len = new Uint32Array([4]);
    checkSetup(
      `getsockopt(${label})`,
      libc().getsockopt(
        this.#fd,
        level,
        name,
        new Uint8Array(v.buffer, 0, 4),
        new Uint8Array(len.buffer),
      ),
    );
    return v[0];
  }

  /** The file descriptor (for a {@link Poller}); -1 once closed. */
  get fd(): number {
    return this.#fd;
  }

  /** The bound local port (getsockname). */
  get port(): number {
    const addr = new Uint8Array(SOCKADDR_IN6_LEN);
    const len = new Uint32Array([SOCKADDR_IN6_LEN]);
    checkSetup("getsockname", libc().getsockname(this.#fd, addr, new Uint8Array(len.buffer)));
    return (addr[2] << 8) | addr[3];
  }

  /** SO_RCVBUF as the kernel reports it (twice the effective wish, for bookkeeping). */
  get recvBufferBytes(): number {
    return this.#getInt(SOL_SOCKET, SO_RCVBUF, "SO_RCVBUF");
  }

  /** SO_SNDBUF as the kernel reports it. */
  get sendBufferBytes(): number {
    return this.#getInt(SOL_SOCKET, SO_SNDBUF, "SO_SNDBUF");
  }

  /** Bytes a source name needs: 28 on a dual-stack socket, 16 on AF_INET. */
  get nameLen(): number {
    return this.family === AF_INET6 ? SOCKADDR_IN6_LEN : SOCKADDR_IN_LEN;
  }

  /**
   * One `recvmmsg`: up to `n` (≤ 256) datagrams, datagram i into the slot at `offs[i]` (the slot
   * start, not +headroom) with capacity `pool.slotSize`, its source sockaddr at wasm offset
   * `namesOff + i * nameStride` (`nameStride` ≥ {@link nameLen}). `lens[i]` = its length, or
   * {@link TRUNCATED} when it did not fit (drop and count it). Returns how many; 0 when drained.
   */
  recvBatch(
    pool: PoolMemory,
    offs: Uint32Array,
    lens: Uint32Array,
    namesOff: number,
    nameStride: number,
    n: number,
  ): number {
    if (n > MAX_BATCH) n = MAX_BATCH;
    if (n <= 0) return 0;
    if (nameStride < this.nameLen) {
      throw new RangeError(`nameStride ${nameStride} < sockaddr size ${this.nameLen}`);
    }
    checkBatch(offs, lens, n);
    checkRange(pool, "UdpSocket.recvBatch names", namesOff, n * nameStride);
    const h = this.#h32, base = pool.base, cap = pool.slotSize;
    const names = base + namesOff;
    const limit = pool.u8.length - cap;
    const iov0 = MAX_BATCH * (MMSGHDR / 4);
    for (let i = 0; i < n; i++) {
      const m = i * (MMSGHDR / 4), v = iov0 + i * (IOVEC / 4);
      if (offs[i] > limit) checkRange(pool, "UdpSocket.recvBatch slot", offs[i], cap);
      putAddress(h, m + M_NAME, names + i * nameStride);
      h[m + M_NAMELEN] = nameStride;
      h[m + M_FLAGS] = 0;
      putAddress(h, v, base + offs[i]);
      h[v + 2] = cap;
      h[v + 3] = 0;
    }
    let r: number;
    for (;;) {
      r = libc().recvmmsg(this.#fd, this.#at[0], n, 0, null);
      if (r >= 0) break;
      const e = errno();
      if (e === EAGAIN) return 0;
      if (e !== EINTR) throw new SyscallError("recvmmsg", e);
    }
    for (let i = 0; i < r; i++) {
      const m = i * (MMSGHDR / 4);
      if ((h[m + M_FLAGS] & MSG_TRUNC) !== 0) {
        lens[i] = TRUNCATED;
        this.truncated++;
      } else {
        lens[i] = h[m + M_LEN];
      }
    }
    return r;
  }

  /**
   * `sendmmsg` of datagrams `[0, n)`: datagram i is `lens[i]` bytes from the slot start
   * `offs[i]`, to the sockaddr at wasm offset `nameOffs[i]` of length `nameLens[i]` (28, or 16).
   * Loops until all are sent or EAGAIN (then stops); a datagram the kernel refuses on its own
   * (ENETUNREACH, EMSGSIZE, EINVAL, ...) is skipped and counted in {@link sendErrors}.
   * Returns how many were sent; the caller owns all n slots afterwards.
   */
  sendBatch(
    pool: PoolMemory,
    offs: Uint32Array,
    lens: Uint32Array,
    nameOffs: Uint32Array,
    nameLens: Uint32Array,
    n: number,
  ): number {
    if (n > MAX_BATCH) n = MAX_BATCH;
    checkBatch(offs, lens, n);
    checkBatch(nameOffs, nameLens, n);
    const h = this.#h32, base = pool.base, limit = pool.u8.length;
    const iov0 = MAX_BATCH * (MMSGHDR / 4);
    for (let i = 0; i < n; i++) {
      const m = i * (MMSGHDR / 4), v = iov0 + i * (IOVEC / 4);
      if (offs[i] + lens[i] > limit || nameOffs[i] + nameLens[i] > limit) {
        checkRange(pool, "UdpSocket.sendBatch datagram", offs[i], lens[i]);
        checkRange(pool, "UdpSocket.sendBatch name", nameOffs[i], nameLens[i]);
      }
      putAddress(h, m + M_NAME, base + nameOffs[i]);
      h[m + M_NAMELEN] = nameLens[i];
      putAddress(h, v, base + offs[i]);
      h[v + 2] = lens[i];
      h[v + 3] = 0;
    }
    const sendmmsg = libc().sendmmsg;
    let i = 0, sent = 0;
    while (i < n) {
      const r = sendmmsg(this.#fd, this.#at[i], n - i, 0);
      if (r > 0) {
        sent += r;
        i += r;
        continue;
      }
      const e = r < 0 ? errno() : EAGAIN;
      if (e === EAGAIN) break;
      if (e === EINTR) continue;
      if (e === EBADF || e === ENOTSOCK || e === EFAULT) throw new SyscallError("sendmmsg", e);
      // The kernel reports an error only for the first datagram of a call: skip it.
      this.sendErrors++;
      this.lastSendErrno = e;
      i++;
    }
    return sent;
  }

  /**
   * One datagram (`sendmsg`): `len` bytes from wasm offset `off` to the sockaddr at `nameOff`
   * (`nameLen` bytes). Returns `len`, `-EAGAIN`, or `-errno` when the kernel refused it (counted
   * in {@link sendErrors}). Throws only if the socket itself is unusable (EBADF, ENOTSOCK, EFAULT).
   */
  sendTo(pool: PoolMemory, off: number, len: number, nameOff: number, nameLen: number): number {
    checkRange(pool, "UdpSocket.sendTo datagram", off, len);
    checkRange(pool, "UdpSocket.sendTo name", nameOff, nameLen);
    const h = this.#one32, base = pool.base;
    putAddress(h, M_NAME, base + nameOff);
    h[M_NAMELEN] = nameLen;
    putAddress(h, 16, base + off);
    h[18] = len;
    h[19] = 0;
    for (;;) {
      const r = libc().sendmsg(this.#fd, this.#one8, 0);
      if (r >= 0) return r;
      const e = errno();
      if (e === EAGAIN) return -EAGAIN;
      if (e === EINTR) continue;
      if (e === EBADF || e === ENOTSOCK || e === EFAULT) throw new SyscallError("sendmsg", e);
      this.sendErrors++;
      this.lastSendErrno = e;
      return -e;
    }
  }

  /** Closes the socket. Idempotent. */
  close(): void {
    if (this.#fd >= 0) {
      libc().close(this.#fd);
      this.#fd = -1;
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
