/**
 * The `struct mmsghdr` layout (LP64) that `recvmmsg`/`sendmmsg` read, as u32 indexes, and
 * {@link MsgArea}: a JS-owned buffer of message headers (plus the iovecs and control buffers they
 * point at) with a stable address, built once. The UDP socket rewrites only u32 fields of it per
 * datagram: no BigInt, object or boxed number per packet (src/ffi/libc.ts explains why pointers
 * do not go through `usize` parameters).
 *
 * @example
 * ```ts
 * import { IOVEC, M_IOV, MMSGHDR, MsgArea } from "./mmsghdr.ts";
 * const area = new MsgArea(4, 4 * (MMSGHDR + IOVEC)); // 4 headers, then 4 iovecs
 * console.log(area.at[1].byteLength, area.h32[M_IOV]); // 192 0
 * ```
 * @module
 */

import { EAGAIN, EINTR } from "./errno.ts";
import { errno, libc, putAddress } from "./libc.ts";
import { SyscallError } from "./syscall_error.ts";

/** `sizeof(struct mmsghdr)` on LP64. */
export const MMSGHDR = 64;
/** `sizeof(struct iovec)`. */
export const IOVEC = 16;
// u32 indexes inside one mmsghdr
/** `msg_name` (two u32 halves). */
export const M_NAME = 0;
export const M_NAMELEN = 2;
/** `msg_iov` (two u32 halves). */
export const M_IOV = 4;
export const M_IOVLEN = 6;
/** `msg_control` (two u32 halves). */
export const M_CONTROL = 8;
export const M_CONTROLLEN = 10;
export const M_FLAGS = 12;
/** `msg_len`: bytes received / sent for this message. */
export const M_LEN = 14;
/** `msg_flags` bit: the datagram was longer than the buffer. */
export const MSG_TRUNC = 0x20;

/**
 * `bytes` of JS memory that start with `msgs` message headers; `at[i]` is the header array from
 * entry i on (so a `sendmmsg` can resume at i without a `subarray()`), `addr` the numeric address
 * of byte 0 (for pointers from one header to the iovecs and control buffers behind them).
 */
export class MsgArea {
  readonly buf: ArrayBuffer;
  readonly h8: Uint8Array;
  readonly h32: Uint32Array;
  readonly addr: number;
  readonly at: readonly Uint8Array[];

  constructor(msgs: number, bytes: number) {
    this.buf = new ArrayBuffer(bytes);
    this.h8 = new Uint8Array(this.buf);
    this.h32 = new Uint32Array(this.buf);
    this.addr = Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(this.buf)));
    const at: Uint8Array[] = [];
    for (let i = 0; i < msgs; i++) {
      at.push(new Uint8Array(this.buf, i * MMSGHDR, (msgs - i) * MMSGHDR));
    }
    this.at = at;
  }

  /** Points header i's `msg_iov` at the byte `off` of this area, with `count` entries. */
  setIov(i: number, off: number, count: number): void {
    const m = i * (MMSGHDR / 4);
    putAddress(this.h32, m + M_IOV, this.addr + off);
    this.h32[m + M_IOVLEN] = count;
    this.h32[m + M_IOVLEN + 1] = 0;
  }
}

/**
 * Length of message `i` of the last `recvmmsg` into the headers `h32`, or `truncated` when the
 * kernel cut it (MSG_TRUNC).
 */
export function receivedLen(h32: Uint32Array, i: number, truncated: number): number {
  const m = i * (MMSGHDR / 4);
  return (h32[m + M_FLAGS] & MSG_TRUNC) === 0 ? h32[m + M_LEN] : truncated;
}

/** `recvmmsg` into the headers `hdrs`, retried on EINTR; 0 when nothing is queued (EAGAIN). */
export function recvmmsg(fd: number, hdrs: Uint8Array, n: number): number {
  for (;;) {
    const r = libc().recvmmsg(fd, hdrs, n, 0, null);
    if (r >= 0) return r;
    const e = errno();
    if (e === EAGAIN) return 0;
    if (e !== EINTR) throw new SyscallError("recvmmsg", e);
  }
}
