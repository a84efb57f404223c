/**
 * The tunnel's UDP socket: dual-stack (AF_INET6, IPV6_V6ONLY=0) unless IPv6 is unavailable, non-blocking,
 * batched with `recvmmsg`/`sendmmsg` straight from and into slab slots.
 *
 * The `mmsghdr[256]` and `iovec[256]` arrays are built once in a JS `ArrayBuffer` (stable address;
 * layout in src/ffi/mmsghdr.ts); `msg_iov`/`msg_iovlen` never change. Per datagram only u32 fields are rewritten: `msg_name`
 * (two halves), `msg_namelen`, `iov_base` (two halves), `iov_len`. No BigInt, no object, no boxed
 * number per packet (src/ffi/libc.ts explains why pointers do not go through `usize` parameters).
 *
 * Endpoints: the device stores them as 28-byte `sockaddr_in6`, IPv4 as v4-mapped `::ffff:a.b.c.d`,
 * which is what a dual-stack socket reports as the source of IPv4 datagrams too. Linux also accepts
 * a 16-byte `sockaddr_in` destination on a dual-stack socket. On an AF_INET-only socket (IPv6
 * disabled, or `family: "ipv4"`) names are `sockaddr_in` both ways; converting is the caller's job
 * (see {@link writeSockaddr} with `AF_INET`).
 *
 * Offloads (`offload: true`): `UDP_SEGMENT` (probed with getsockopt) lets {@link UdpSocket.sendGso}
 * hand the kernel runs of equal-sized datagrams to one destination as one message (a cmsg carries
 * the size; the iovecs point at the slots, one datagram each); `UDP_GRO` makes
 * {@link UdpSocket.recvGro} receive coalesced runs into 64 KiB buffers, with their segment size.
 * A refusal (ENOPROTOOPT, or EIO/EINVAL on a GSO send) switches the offload off and is recorded;
 * the datagrams go out one by one instead. Both offload paths live in src/udp_offload.ts.
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
import {
  EAFNOSUPPORT,
  EAGAIN,
  EBADF,
  EFAULT,
  EINTR,
  EINVAL,
  ENOPROTOOPT,
  ENOTSOCK,
  EOPNOTSUPP,
  EPERM,
} from "./ffi/errno.ts";
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
import {
  IOVEC,
  M_FLAGS,
  M_NAME,
  M_NAMELEN,
  MMSGHDR,
  MsgArea,
  receivedLen,
  recvmmsg,
} from "./ffi/mmsghdr.ts";
import { checkBatch, checkRange, type PoolMemory } from "./ffi/pool_memory.ts";
import { SyscallError } from "./ffi/syscall_error.ts";
import { TRUNCATED, type UdpIo } from "./device/packet_io.ts";
import {
  GroReceiver,
  GsoSender,
  type OffloadSocket,
  SOL_UDP,
  UDP_GRO,
  UDP_SEGMENT,
} from "./udp_offload.ts";
import { MAX_BATCH } from "./wasm/abi.ts";

/** `lens[i]` from {@link UdpSocket.recvBatch} for a datagram longer than a slot (MSG_TRUNC). */
export { TRUNCATED };
export const SOL_SOCKET = 1;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SO_SNDBUFFORCE = 32;
export const SO_RCVBUFFORCE = 33;
export const IPPROTO_IPV6 = 41;
export const IPV6_V6ONLY = 26;

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
  /**
   * Turn on UDP_SEGMENT sends and UDP_GRO receives where the kernel has them; `"send"`: only
   * UDP_SEGMENT (for a receiver that needs each datagram in a slot of its own: the proxy's stack).
   */
  readonly offload?: boolean | "send";
}

/** A non-blocking UDP socket doing batched I/O on slab slots. */
export class UdpSocket implements UdpIo, OffloadSocket, Disposable {
  #fd: number;
  /** AF_INET6 (dual-stack) or AF_INET. */
  readonly family: number;
  /** Datagrams `sendBatch`/`sendTo` skipped because the kernel refused them (ENETUNREACH, EMSGSIZE, ...). */
  sendErrors = 0;
  /** errno of the last refused datagram, 0 if none. */
  lastSendErrno = 0;
  /** Datagrams `recvBatch` marked {@link TRUNCATED}. */
  truncated = 0;
  /** UDP_SEGMENT sends on; switched off (with {@link gsoErrno}) when the kernel refuses one. */
  gso = false;
  /** UDP_GRO receives on (use {@link recvGro}). */
  gro = false;
  /** errno that turned UDP_SEGMENT off or kept it off (0: on, or not asked for). */
  gsoErrno = 0;
  /** Largest datagram {@link sendGso} segments (lowered when the kernel refuses a size). */
  gsoMaxSize = Infinity;
  /** errno of the refusal that lowered {@link gsoMaxSize} (0: none). */
  gsoSizeErrno = 0;
  /** errno of a refused UDP_GRO (0: on, or not asked for). */
  groErrno = 0;
  /** UDP_SEGMENT messages sent and the datagrams in them. */
  gsoMessages = 0;
  gsoDatagrams = 0;
  /** Coalesced messages {@link recvGro} received (more than one datagram) and their datagrams. */
  groMessages = 0;
  groDatagrams = 0;

  /** mmsghdr[MAX_BATCH] then iovec[MAX_BATCH] for sendBatch; msg_iov never changes. */
  readonly #ring = new MsgArea(MAX_BATCH, MAX_BATCH * (MMSGHDR + IOVEC));
  /** mmsghdr[MAX_BATCH] then iovec[2][MAX_BATCH] for recvBatch: the slot, then the overflow. */
  readonly #rx = new MsgArea(MAX_BATCH, MAX_BATCH * (MMSGHDR + 2 * IOVEC));
  /** msghdr + iovec for sendTo. */
  readonly #one = new MsgArea(1, 64 + IOVEC);
  /** The offload paths, made on first use (only with offloads). */
  #gsoSender: GsoSender | undefined;
  #groReceiver: GroReceiver | undefined;
  private constructor(fd: number, family: number) {
    this.#fd = fd;
    this.family = family;
    const iov0 = MAX_BATCH * MMSGHDR;
    for (let i = 0; i < MAX_BATCH; i++) {
      this.#ring.setIov(i, iov0 + i * IOVEC, 1);
      this.#rx.setIov(i, iov0 + 2 * i * IOVEC, 2);
    }
    this.#one.setIov(0, 64, 1);
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
      if (opts.offload) sock.#enableOffloads(opts.offload === true);
    } catch (e) {
      sock.close();
      throw e;
    }
    return sock;
  }

  /** UDP_SEGMENT is there if getsockopt knows it; UDP_GRO is switched on. Refusals are kept. */
  #enableOffloads(gro: boolean): void {
    const v = new Int32Array(2);
    const len = new Uint32Array([4]);
    const r = check(
      "getsockopt(UDP_SEGMENT)",
      libc().getsockopt(
        this.#fd,
        SOL_UDP,
        UDP_SEGMENT,
        new Uint8Array(v.buffer, 0, 4),
        new Uint8Array(len.buffer),
      ),
      { tolerate: [ENOPROTOOPT, EOPNOTSUPP, EINVAL] },
    );
    this.gso = r >= 0;
    this.gsoErrno = r < 0 ? -r : 0;
    if (!gro) return;
    const g = this.#setInt(SOL_UDP, UDP_GRO, 1, "UDP_GRO", [ENOPROTOOPT, EOPNOTSUPP, EINVAL]);
    this.gro = g >= 0;
    this.groErrno = g < 0 ? -g : 0;
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
   * {@link TRUNCATED} when it did not fit (drop and count it). With `overflowLen` > 0 each
   * datagram's second iovec is wasm `[overflowOff, +overflowLen)`, shared: a datagram longer
   * than a slot (`lens[i] > slotSize`) continues there, and only the last such one of the call
   * still has its rest there. Returns how many; 0 when drained.
   */
  recvBatch(
    pool: PoolMemory,
    offs: Uint32Array,
    lens: Uint32Array,
    namesOff: number,
    nameStride: number,
    n: number,
    overflowOff = 0,
    overflowLen = 0,
  ): number {
    if (n > MAX_BATCH) n = MAX_BATCH;
    if (n <= 0) return 0;
    this.#checkNameStride(nameStride);
    checkBatch(offs, lens, n);
    checkRange(pool, "UdpSocket.recvBatch names", namesOff, n * nameStride);
    if (overflowLen > 0) checkRange(pool, "UdpSocket.recvBatch overflow", overflowOff, overflowLen);
    const ring = this.#rx, h = ring.h32, base = pool.base, cap = pool.slotSize;
    const names = base + namesOff, over = base + overflowOff;
    const limit = pool.u8.length - cap;
    const iov0 = MAX_BATCH * (MMSGHDR / 4);
    for (let i = 0; i < n; i++) {
      const m = i * (MMSGHDR / 4), v = iov0 + 2 * i * (IOVEC / 4);
      if (offs[i] > limit) checkRange(pool, "UdpSocket.recvBatch slot", offs[i], cap);
      putAddress(h, m + M_NAME, names + i * nameStride);
      h[m + M_NAMELEN] = nameStride;
      h[m + M_FLAGS] = 0;
      putAddress(h, v, base + offs[i]);
      h[v + 2] = cap;
      h[v + 3] = 0;
      putAddress(h, v + 4, over);
      h[v + 6] = overflowLen;
      h[v + 7] = 0;
    }
    const r = recvmmsg(this.#fd, ring.at[0], n);
    for (let i = 0; i < r; i++) {
      const len = receivedLen(h, i, TRUNCATED);
      if (len === TRUNCATED) this.truncated++;
      lens[i] = len;
    }
    return r;
  }

  #checkNameStride(nameStride: number): void {
    if (nameStride < this.nameLen) {
      throw new RangeError(`nameStride ${nameStride} < sockaddr size ${this.nameLen}`);
    }
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
    from = 0,
  ): number {
    if (n > MAX_BATCH) n = MAX_BATCH;
    checkBatch(offs, lens, from + n);
    checkBatch(nameOffs, nameLens, from + n);
    const ring = this.#ring, h = ring.h32, base = pool.base, limit = pool.u8.length;
    const iov0 = MAX_BATCH * (MMSGHDR / 4);
    for (let i = 0; i < n; i++) {
      const m = i * (MMSGHDR / 4), v = iov0 + i * (IOVEC / 4), d = from + i;
      if (offs[d] + lens[d] > limit || nameOffs[d] + nameLens[d] > limit) {
        checkRange(pool, "UdpSocket.sendBatch datagram", offs[d], lens[d]);
        checkRange(pool, "UdpSocket.sendBatch name", nameOffs[d], nameLens[d]);
      }
      putAddress(h, m + M_NAME, base + nameOffs[d]);
      h[m + M_NAMELEN] = nameLens[d];
      putAddress(h, v, base + offs[d]);
      h[v + 2] = lens[d];
      h[v + 3] = 0;
    }
    const sendmmsg = libc().sendmmsg;
    let i = 0, sent = 0;
    while (i < n) {
      const r = sendmmsg(this.#fd, ring.at[i], n - i, 0);
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
   * Sends datagrams `[0, n)` like {@link sendBatch} (datagram i: `lens[i]` bytes from the slot
   * start `offs[i]` to the sockaddr at `nameOffs[i]`), with UDP_SEGMENT when {@link gso} is on: a
   * run of consecutive datagrams to the same sockaddr, all `lens[first]` bytes but a shorter last
   * one, up to {@link GSO_MAX_SEGMENTS} and {@link GSO_MAX_BYTES}, becomes one message whose
   * iovecs point at the slots; the kernel cuts it back into datagrams. Many messages go in one
   * `sendmmsg`. When the kernel refuses a GSO message (EIO: no checksum offload on the route;
   * EMSGSIZE or, before 6.x, EINVAL: datagrams larger than the route MTU, which it would fragment
   * one by one; EOPNOTSUPP, ENOPROTOOPT), {@link gso} goes off ({@link gsoErrno} says why) and that
   * message and the rest are sent with {@link sendBatch}. Returns the datagrams sent.
   */
  sendGso(
    pool: PoolMemory,
    offs: Uint32Array,
    lens: Uint32Array,
    nameOffs: Uint32Array,
    nameLens: Uint32Array,
    n: number,
  ): number {
    this.#gsoSender ??= new GsoSender();
    return this.#gsoSender.send(this, pool, offs, lens, nameOffs, nameLens, n);
  }

  /**
   * One `recvmmsg` with UDP_GRO (needs {@link gro}): up to `m` (≤ {@link GRO_MAX_MESSAGES})
   * messages, message i into wasm offset `bufOff + i * bufLen` (`bufLen` bytes: 64 KiB holds any
   * coalesced run), its source at `namesOff + i * nameStride`. `lens[i]` = bytes received
   * ({@link TRUNCATED} if more than `bufLen`), `gsoSizes[i]` = the size of each datagram in it
   * but a shorter last one (from the UDP_GRO cmsg; 0 = one plain datagram). Returns how many.
   */
  recvGro(
    pool: PoolMemory,
    bufOff: number,
    bufLen: number,
    m: number,
    lens: Uint32Array,
    gsoSizes: Uint32Array,
    namesOff: number,
    nameStride: number,
  ): number {
    this.#groReceiver ??= new GroReceiver();
    return this.#groReceiver.recv(
      this,
      pool,
      bufOff,
      bufLen,
      m,
      lens,
      gsoSizes,
      namesOff,
      nameStride,
    );
  }

  /**
   * One datagram (`sendmsg`): `len` bytes from wasm offset `off` to the sockaddr at `nameOff`
   * (`nameLen` bytes). Returns `len`, `-EAGAIN`, or `-errno` when the kernel refused it (counted
   * in {@link sendErrors}). Throws only if the socket itself is unusable (EBADF, ENOTSOCK, EFAULT).
   */
  sendTo(pool: PoolMemory, off: number, len: number, nameOff: number, nameLen: number): number {
    checkRange(pool, "UdpSocket.sendTo datagram", off, len);
    checkRange(pool, "UdpSocket.sendTo name", nameOff, nameLen);
    const h = this.#one.h32, base = pool.base;
    putAddress(h, M_NAME, base + nameOff);
    h[M_NAMELEN] = nameLen;
    putAddress(h, 16, base + off);
    h[18] = len;
    h[19] = 0;
    for (;;) {
      const r = libc().sendmsg(this.#fd, this.#one.h8, 0);
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
