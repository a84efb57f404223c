/**
 * The offload paths of {@link UdpSocket}: UDP_SEGMENT sends ({@link GsoSender}) and UDP_GRO
 * receives ({@link GroReceiver}), each with its own message-header area, allocated on first use
 * (only with offloads).
 *
 * - Send: a run of consecutive datagrams to the same sockaddr, all the size of the first but a
 *   shorter last one, up to {@link GSO_MAX_SEGMENTS} and {@link GSO_MAX_BYTES}, becomes one
 *   message whose iovecs point at the slots; a cmsg carries the size and the kernel cuts the
 *   message back into datagrams. Many messages go in one `sendmmsg`.
 * - Receive: each message lands in a 64 KiB buffer; the UDP_GRO cmsg says the size of the
 *   datagrams coalesced into it.
 *
 * @example
 * ```ts
 * import { UdpSocket } from "./udp_socket.ts";
 * import type { PoolMemory } from "./ffi/pool_memory.ts";
 * declare const pool: PoolMemory; // a SlabPool
 * declare const offs: Uint32Array, lens: Uint32Array, nameOffs: Uint32Array, nameLens: Uint32Array;
 * using sock = UdpSocket.bind({ port: 0, offload: true });
 * const sent = sock.sendGso(pool, offs, lens, nameOffs, nameLens, offs.length); // a GsoSender
 * ```
 * @module
 */

import {
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
} from "./ffi/errno.ts";
import { errno, libc, putAddress } from "./ffi/libc.ts";
import {
  IOVEC,
  M_CONTROL,
  M_CONTROLLEN,
  M_FLAGS,
  M_IOVLEN,
  M_NAME,
  M_NAMELEN,
  MMSGHDR,
  MsgArea,
  receivedLen,
  recvmmsg,
} from "./ffi/mmsghdr.ts";
import { checkBatch, checkRange, type PoolMemory } from "./ffi/pool_memory.ts";
import { SyscallError } from "./ffi/syscall_error.ts";
import { TRUNCATED } from "./device/packet_io.ts";
import { MAX_BATCH } from "./wasm/abi.ts";

export const SOL_UDP = 17;
export const UDP_SEGMENT = 103;
export const UDP_GRO = 104;
/** Most datagrams in one UDP_SEGMENT message (the kernel's `UDP_MAX_SEGMENTS`, 64 before 6.11). */
export const GSO_MAX_SEGMENTS = 64;
/** Most payload bytes in one UDP_SEGMENT message (IPv6: 65535 − 40 − 8, rounded down). */
export const GSO_MAX_BYTES = 65000;
/** Below this datagram size a refused UDP_SEGMENT message switches GSO off instead of limiting it. */
export const GSO_MIN_SIZE = 576;
/** Most messages one {@link GroReceiver.recv} call takes. */
export const GRO_MAX_MESSAGES = 64;

/** Messages and iovecs one sendmmsg of {@link GsoSender.send} carries at most. */
const GSO_MSGS = 256, GSO_IOVS = 1024;
/** CMSG_SPACE(sizeof(u16)) for UDP_SEGMENT; the receive side leaves room for CMSG_SPACE(int) + 8. */
const CMSG_GSO = 24, CMSG_GRO = 32;

/** What the offload paths read and update on their socket (the counters are the socket's). */
export interface OffloadSocket {
  readonly fd: number;
  /** Bytes a source name needs. */
  readonly nameLen: number;
  gso: boolean;
  gsoErrno: number;
  /**
   * Largest datagram sent in UDP_SEGMENT messages (Infinity until the kernel refuses a size: it
   * refuses datagrams larger than the route MTU, which an inner MTU above ~1,450 makes).
   */
  gsoMaxSize: number;
  /** errno of the refusal that lowered {@link gsoMaxSize}. */
  gsoSizeErrno: number;
  gsoMessages: number;
  gsoDatagrams: number;
  groMessages: number;
  groDatagrams: number;
  sendErrors: number;
  lastSendErrno: number;
  truncated: number;
  sendBatch(
    pool: PoolMemory,
    offs: Uint32Array,
    lens: Uint32Array,
    nameOffs: Uint32Array,
    nameLens: Uint32Array,
    n: number,
    from?: number,
  ): number;
}

/** `sendBatch` over datagrams `[from, n)` in chunks; returns how many were sent. */
export function sendPlain(
  sock: OffloadSocket,
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
    sent += sock.sendBatch(pool, offs, lens, nameOffs, nameLens, k, i);
  }
  return sent;
}

/** UDP_SEGMENT sends: mmsghdr[GSO_MSGS], iovec[GSO_IOVS], cmsg[GSO_MSGS]. */
export class GsoSender {
  readonly #area = new MsgArea(GSO_MSGS, GSO_MSGS * (MMSGHDR + CMSG_GSO) + GSO_IOVS * IOVEC);

  /** See `UdpSocket.sendGso`. */
  send(
    sock: OffloadSocket,
    pool: PoolMemory,
    offs: Uint32Array,
    lens: Uint32Array,
    nameOffs: Uint32Array,
    nameLens: Uint32Array,
    n: number,
  ): number {
    checkBatch(offs, lens, n);
    checkBatch(nameOffs, nameLens, n);
    const area = this.#area, h = area.h32, fd = sock.fd;
    let sent = 0, i = 0;
    build: while (i < n) {
      if (!sock.gso) return sent + sendPlain(sock, pool, offs, lens, nameOffs, nameLens, i, n);
      const maxSize = sock.gsoMaxSize;
      const base = pool.base, limit = pool.u8.length;
      const iov0 = GSO_MSGS * (MMSGHDR / 4), cm0 = iov0 + GSO_IOVS * (IOVEC / 4);
      // Build up to GSO_MSGS messages from datagram i on.
      let m = 0, v = 0;
      const start = i;
      while (i < n && m < GSO_MSGS && v < GSO_IOVS) {
        const first = i, size = lens[i], name = nameOffs[i];
        let count = 0, bytes = 0;
        // The first datagram always goes in (so every message has one and the loop advances).
        while (
          i < n && (count === 0 || (
            count < GSO_MAX_SEGMENTS && v + count < GSO_IOVS && nameOffs[i] === name &&
            lens[i] <= size && bytes + lens[i] <= GSO_MAX_BYTES && size <= maxSize
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
        area.setIov(m, (iov0 + v * (IOVEC / 4)) * 4, count);
        if (count > 1) {
          putAddress(h, hm + M_CONTROL, area.addr + hc * 4);
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
        const r = sendmmsg(fd, area.at[k], m - k, 0);
        if (r > 0) {
          for (const end = k + r; k < end; k++) {
            const c = h[k * (MMSGHDR / 4) + M_IOVLEN];
            if (c > 1) {
              sock.gsoMessages++;
              sock.gsoDatagrams += c;
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
        if (c > 1 && (e === EINVAL || e === EMSGSIZE) && lens[d] > GSO_MIN_SIZE) {
          // Datagrams of this size are larger than the route takes in one message (the kernel
          // would fragment each): they go one by one from now on, smaller ones still segmented.
          sock.gsoMaxSize = lens[d] - 1;
          sock.gsoSizeErrno = e;
          i = d;
          continue build;
        }
        if (
          c > 1 &&
          (e === EIO || e === EINVAL || e === EMSGSIZE || e === EOPNOTSUPP || e === ENOPROTOOPT)
        ) {
          // The kernel will not segment for us: everything from this message on goes one by one.
          sock.gso = false;
          sock.gsoErrno = e;
          return sent + sendPlain(sock, pool, offs, lens, nameOffs, nameLens, d, n);
        }
        // Refused on its own (ENETUNREACH, EMSGSIZE, ...): skip the message's datagrams.
        sock.sendErrors += c;
        sock.lastSendErrno = e;
        d += c;
        k++;
      }
    }
    return sent;
  }
}

/** UDP_GRO receives: mmsghdr, iovec and cmsg [GRO_MAX_MESSAGES]. */
export class GroReceiver {
  readonly #area = new MsgArea(
    GRO_MAX_MESSAGES,
    GRO_MAX_MESSAGES * (MMSGHDR + IOVEC + CMSG_GRO),
  );

  /** See `UdpSocket.recvGro`. */
  recv(
    sock: OffloadSocket,
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
    if (nameStride < sock.nameLen) {
      throw new RangeError(`nameStride ${nameStride} < sockaddr size ${sock.nameLen}`);
    }
    const area = this.#area, h = area.h32, base = pool.base;
    const iov0 = GRO_MAX_MESSAGES * (MMSGHDR / 4), cm0 = iov0 + GRO_MAX_MESSAGES * (IOVEC / 4);
    for (let i = 0; i < m; i++) {
      const hm = i * (MMSGHDR / 4), v = iov0 + i * (IOVEC / 4), c = cm0 + i * (CMSG_GRO / 4);
      putAddress(h, hm + M_NAME, base + namesOff + i * nameStride);
      h[hm + M_NAMELEN] = nameStride;
      area.setIov(i, v * 4, 1);
      putAddress(h, hm + M_CONTROL, area.addr + c * 4);
      h[hm + M_CONTROLLEN] = CMSG_GRO;
      h[hm + M_CONTROLLEN + 1] = 0;
      h[hm + M_FLAGS] = 0;
      putAddress(h, v, base + bufOff + i * bufLen);
      h[v + 2] = bufLen;
      h[v + 3] = 0;
    }
    const r = recvmmsg(sock.fd, area.h8, m);
    for (let i = 0; i < r; i++) {
      const hm = i * (MMSGHDR / 4);
      lens[i] = receivedLen(h, i, TRUNCATED);
      if (lens[i] === TRUNCATED) sock.truncated++;
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
        sock.groMessages++;
        sock.groDatagrams += Math.ceil(lens[i] / gso);
      }
    }
    return r;
  }
}
