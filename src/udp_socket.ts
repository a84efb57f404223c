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
 * Offloads (`offload: true`): `UDP_SEGMENT` (probed with getsockopt) lets {@link UdpSocket.sendGso}
 * hand the kernel runs of equal-sized datagrams to one destination as one message (a cmsg carries
 * the size; the iovecs point at the slots, one datagram each); `UDP_GRO` makes
 * {@link UdpSocket.recvGro} receive coalesced runs into 64 KiB buffers, with their segment size.
 * A refusal (ENOPROTOOPT, or EIO/EINVAL on a GSO send) switches the offload off and is recorded;
 * the datagrams go out one by one instead.
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
  EIO,
  EMSGSIZE,
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
export const SOL_UDP = 17;
export const UDP_SEGMENT = 103;
export const UDP_GRO = 104;
/** Most datagrams in one UDP_SEGMENT message (the kernel's `UDP_MAX_SEGMENTS`, 64 before 6.11). */
export const GSO_MAX_SEGMENTS = 64;
/** Most payload bytes in one UDP_SEGMENT message (IPv6: 65535 − 40 − 8, rounded down). */
export const GSO_MAX_BYTES = 65000;
/** Most messages one {@link UdpSocket.recvGro} call takes. */
export const GRO_MAX_MESSAGES = 64;

const MMSGHDR = 64; // sizeof(struct mmsghdr) on LP64
const IOVEC = 16;
// u32 indexes inside one mmsghdr
const M_NAME = 0, M_NAMELEN = 2, M_IOV = 4, M_IOVLEN = 6, M_CONTROL = 8, M_CONTROLLEN = 10;
const M_FLAGS = 12, M_LEN = 14;
/** Messages and iovecs one sendmmsg of {@link UdpSocket.sendGso} carries at most. */
const GSO_MSGS = 256, GSO_IOVS = 1024;
/** CMSG_SPACE(sizeof(u16)) for UDP_SEGMENT; the receive side leaves room for CMSG_SPACE(int) + 8. */
const CMSG_GSO = 24, CMSG_GRO = 32;

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
  /** Turn on UDP_SEGMENT sends and UDP_GRO receives where the kernel has them. */
  readonly offload?: boolean;
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
  /** UDP_SEGMENT sends on; switched off (with {@link gsoErrno}) when the kernel refuses one. */
  gso = false;
  /** UDP_GRO receives on (use {@link recvGro}). */
  gro = false;
  /** errno that turned UDP_SEGMENT off or kept it off (0: on, or not asked for). */
  gsoErrno = 0;
  /** errno of a refused UDP_GRO (0: on, or not asked for). */
  groErrno = 0;
  /** UDP_SEGMENT messages sent and the datagrams in them. */
  gsoMessages = 0;
  gsoDatagrams = 0;
  /** Coalesced messages {@link recvGro} received (more than one datagram) and their datagrams. */
  groMessages = 0;
  groDatagrams = 0;

  readonly #ring = new ArrayBuffer(MAX_BATCH * (MMSGHDR + IOVEC));
  readonly #h32 = new Uint32Array(this.#ring);
  /** `#at[i]`: the mmsghdr array from entry i on, so sendmmsg can resume without a subarray(). */
  readonly #at: Uint8Array[] = [];
  readonly #one = new ArrayBuffer(64 + IOVEC); // msghdr + iovec for sendTo
  readonly #one8 = new Uint8Array(this.#one);
  readonly #one32 = new Uint32Array(this.#one);
  // sendGso: mmsghdr[GSO_MSGS], iovec[GSO_IOVS], cmsg[GSO_MSGS]; recvGro: mmsghdr, iovec, cmsg
  // [GRO_MAX_MESSAGES]. Allocated on the first use (only with offloads).
  #g32: Uint32Array | undefined;
  #gAt: Uint8Array[] = [];
  #gAddr = 0;
  #r32: Uint32Array | undefined;
  #r8: Uint8Array | undefined;
  #rAddr = 0;

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
      if (opts.offload) sock.#enableOffloads();
    } catch (e) {
      sock.close();
      throw e;
    }
    return sock;
  }

  /** UDP_SEGMENT is there if getsockopt knows it; UDP_GRO is switched on. Refusals are kept. */
  #enableOffloads(): void {
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
    this.#checkNameStride(nameStride);
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
    const r = this.#recvmmsg(this.#at[0], n);
    for (let i = 0; i < r; i++) lens[i] = this.#received(h, i);
    return r;
  }

  #checkNameStride(nameStride: number): void {
    if (nameStride < this.nameLen) {
      throw new RangeError(`nameStride ${nameStride} < sockaddr size ${this.nameLen}`);
    }
  }

  /** Length of message `i` of the last `recvmmsg` into headers `h`, or {@link TRUNCATED} (counted). */
  #received(h: Uint32Array, i: number): number {
    const m = i * (MMSGHDR / 4);
    if ((h[m + M_FLAGS] & MSG_TRUNC) === 0) return h[m + M_LEN];
    this.truncated++;
    return TRUNCATED;
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
    const h = this.#h32, base = pool.base, limit = pool.u8.length;
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
    checkBatch(offs, lens, n);
    checkBatch(nameOffs, nameLens, n);
    let sent = 0, i = 0;
    while (i < n) {
      if (!this.gso) return sent + this.#sendPlain(pool, offs, lens, nameOffs, nameLens, i, n);
      const h = this.#gsoRing();
      const base = pool.base, limit = pool.u8.length;
      const iov0 = GSO_MSGS * (MMSGHDR / 4), cm0 = iov0 + GSO_IOVS * (IOVEC / 4);
      // Build up to GSO_MSGS messages from datagram i on; first datagram of message k: starts[k].
      let m = 0, v = 0;
      const start = i;
      while (i < n && m < GSO_MSGS && v < GSO_IOVS) {
        const first = i, size = lens[i], name = nameOffs[i];
        let count = 0, bytes = 0;
        // The first datagram always goes in (so every message has one and the loop advances).
        while (
          i < n && (count === 0 || (
            count < GSO_MAX_SEGMENTS && v + count < GSO_IOVS && nameOffs[i] === name &&
            lens[i] <= size && bytes + lens[i] <= GSO_MAX_BYTES
          ))
        ) {
          const d = i, hv = iov0 + (v + count) * (IOVEC / 4);
          if (offs[d] + lens[d] > limit) {
            checkRange(pool, "UdpSocket.sendGso datagram", offs[d], lens[d]);
          }
          putAddress(h, hv, base + offs[d]);
          h[hv + 2] = lens[d];
          h[hv + 3] = 0;
          bytes += lens[d];
          count++;
          i++;
          if (lens[d] < size) break; // a shorter datagram ends the run
        }
        if (name + nameLens[first] > limit) {
          checkRange(pool, "UdpSocket.sendGso name", name, nameLens[first]);
        }
        const hm = m * (MMSGHDR / 4), hc = cm0 + m * (CMSG_GSO / 4);
        putAddress(h, hm + M_NAME, base + name);
        h[hm + M_NAMELEN] = nameLens[first];
        putAddress(h, hm + M_IOV, this.#gAddr + (iov0 + v * (IOVEC / 4)) * 4);
        h[hm + M_IOVLEN] = count;
        h[hm + M_IOVLEN + 1] = 0;
        if (count > 1) {
          putAddress(h, hm + M_CONTROL, this.#gAddr + hc * 4);
          h[hm + M_CONTROLLEN] = CMSG_GSO;
          // struct cmsghdr { size_t len = CMSG_LEN(2); int level; int type; } + u16 gso_size
          h[hc] = 18;
          h[hc + 1] = 0;
          h[hc + 2] = SOL_UDP;
          h[hc + 3] = UDP_SEGMENT;
          h[hc + 4] = size;
        } else {
          h[hm + M_CONTROL] = 0;
          h[hm + M_CONTROL + 1] = 0;
          h[hm + M_CONTROLLEN] = 0;
        }
        h[hm + M_CONTROLLEN + 1] = 0;
        v += count;
        m++;
      }
      // Send messages [k, m); datagram d walks along.
      const sendmmsg = libc().sendmmsg;
      let k = 0, d = start;
      while (k < m) {
        const r = sendmmsg(this.#fd, this.#gAt[k], m - k, 0);
        if (r > 0) {
          for (const end = k + r; k < end; k++) {
            const c = h[k * (MMSGHDR / 4) + M_IOVLEN];
            if (c > 1) {
              this.gsoMessages++;
              this.gsoDatagrams += c;
            }
            sent += c;
            d += c;
          }
          continue;
        }
        const e = r < 0 ? errno() : EAGAIN;
        if (e === EAGAIN) return sent;
        if (e === EINTR) continue;
        if (e === EBADF || e === ENOTSOCK || e === EFAULT) throw new SyscallError("sendmmsg", e);
        const c = h[k * (MMSGHDR / 4) + M_IOVLEN];
        if (
          c > 1 &&
          (e === EIO || e === EINVAL || e === EMSGSIZE || e === EOPNOTSUPP || e === ENOPROTOOPT)
        ) {
          // The kernel will not segment for us: everything from this message on goes one by one.
          this.gso = false;
          this.gsoErrno = e;
          return sent + this.#sendPlain(pool, offs, lens, nameOffs, nameLens, d, n);
        }
        // Refused on its own (ENETUNREACH, EMSGSIZE, ...): skip the message's datagrams.
        this.sendErrors += c;
        this.lastSendErrno = e;
        d += c;
        k++;
      }
    }
    return sent;
  }

  /** {@link sendBatch} over datagrams `[from, n)` in chunks; returns how many were sent. */
  #sendPlain(
    pool: PoolMemory,
    offs: Uint32Array,
    lens: Uint32Array,
    nameOffs: Uint32Array,
    nameLens: Uint32Array,
    from: number,
    n: number,
  ): number {
    let sent = 0;
    for (let i = from; i < n; i += MAX_BATCH) {
      const k = Math.min(MAX_BATCH, n - i);
      sent += this.sendBatch(pool, offs, lens, nameOffs, nameLens, k, i);
    }
    return sent;
  }

  #gsoRing(): Uint32Array {
    if (this.#g32 === undefined) {
      const buf = new ArrayBuffer(GSO_MSGS * (MMSGHDR + CMSG_GSO) + GSO_IOVS * IOVEC);
      this.#g32 = new Uint32Array(buf);
      this.#gAddr = Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf)));
      for (let i = 0; i < GSO_MSGS; i++) {
        this.#gAt.push(new Uint8Array(buf, i * MMSGHDR, (GSO_MSGS - i) * MMSGHDR));
      }
    }
    return this.#g32;
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
    if (m > GRO_MAX_MESSAGES) m = GRO_MAX_MESSAGES;
    if (m <= 0) return 0;
    checkBatch(lens, gsoSizes, m);
    checkRange(pool, "UdpSocket.recvGro buffers", bufOff, m * bufLen);
    checkRange(pool, "UdpSocket.recvGro names", namesOff, m * nameStride);
    this.#checkNameStride(nameStride);
    if (this.#r32 === undefined) {
      const buf = new ArrayBuffer(GRO_MAX_MESSAGES * (MMSGHDR + IOVEC + CMSG_GRO));
      this.#r32 = new Uint32Array(buf);
      this.#r8 = new Uint8Array(buf);
      this.#rAddr = Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf)));
    }
    const h = this.#r32, base = pool.base;
    const iov0 = GRO_MAX_MESSAGES * (MMSGHDR / 4), cm0 = iov0 + GRO_MAX_MESSAGES * (IOVEC / 4);
    for (let i = 0; i < m; i++) {
      const hm = i * (MMSGHDR / 4), v = iov0 + i * (IOVEC / 4), c = cm0 + i * (CMSG_GRO / 4);
      putAddress(h, hm + M_NAME, base + namesOff + i * nameStride);
      h[hm + M_NAMELEN] = nameStride;
      putAddress(h, hm + M_IOV, this.#rAddr + v * 4);
      h[hm + M_IOVLEN] = 1;
      h[hm + M_IOVLEN + 1] = 0;
      putAddress(h, hm + M_CONTROL, this.#rAddr + c * 4);
      h[hm + M_CONTROLLEN] = CMSG_GRO;
      h[hm + M_CONTROLLEN + 1] = 0;
      h[hm + M_FLAGS] = 0;
      putAddress(h, v, base + bufOff + i * bufLen);
      h[v + 2] = bufLen;
      h[v + 3] = 0;
    }
    const r = this.#recvmmsg(this.#r8!, m);
    for (let i = 0; i < r; i++) {
      const hm = i * (MMSGHDR / 4);
      lens[i] = this.#received(h, i);
      // Walk the cmsgs (only UDP_GRO is asked for; at most CMSG_GRO bytes).
      let gso = 0;
      const clen = h[hm + M_CONTROLLEN];
      for (let at = 0; at + 16 <= clen;) {
        const c = cm0 + i * (CMSG_GRO / 4) + at / 4, len = h[c];
        if (len < 16) break;
        if (h[c + 2] === SOL_UDP && h[c + 3] === UDP_GRO && len >= 18) gso = h[c + 4] & 0xffff;
        at += (len + 7) & ~7;
      }
      gsoSizes[i] = gso;
      if (gso > 0 && lens[i] > gso && lens[i] !== TRUNCATED) {
        this.groMessages++;
        this.groDatagrams += Math.ceil(lens[i] / gso);
      }
    }
    return r;
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

  /** recvmmsg into the headers `hdrs`, retried on EINTR; 0 when nothing is queued (EAGAIN). */
  #recvmmsg(hdrs: Uint8Array, n: number): number {
    for (;;) {
      const r = libc().recvmmsg(this.#fd, hdrs, n, 0, null);
      if (r >= 0) return r;
      const e = errno();
      if (e === EAGAIN) return 0;
      if (e !== EINTR) throw new SyscallError("recvmmsg", e);
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
