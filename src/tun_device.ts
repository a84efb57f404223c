/**
 * A Linux TUN device (IFF_TUN | IFF_NO_PI) read and written straight into slab slots.
 *
 * The fd is O_NONBLOCK: the data path drains it synchronously until EAGAIN and only awaits a
 * {@link Poller} when idle. Each packet costs one synchronous `readv`/`writev` whose single iovec
 * (two with `vnetHdr`) lives in a preallocated `ArrayBuffer`; per packet only its u32 fields are
 * rewritten, so no object, BigInt or boxed number is created (see src/ffi/libc.ts).
 *
 * @example
 * ```ts ignore
 * import { SlabPool } from "./slab.ts";
 * import { TunDevice } from "./tun_device.ts";
 * using pool = SlabPool.create();
 * using tun = TunDevice.open("tsl0"); // needs CAP_NET_ADMIN
 * const offs = new Uint32Array(64), lens = new Uint32Array(64);
 * const got = pool.allocBatch(offsPtr, 64); // offsets land in offs (a u32 view at offsPtr)
 * const n = tun.readBatch(pool, offs, lens, got); // packet i at offs[i] + pool.headroom
 * ```
 * @module
 */

import { EAGAIN, EBADF, EBADFD, EFAULT, EINTR } from "./ffi/errno.ts";
import { ifreq, ifreqName, IFRU } from "./ffi/ifreq.ts";
import {
  checkSetup,
  cString,
  errno,
  libc,
  O_CLOEXEC,
  O_NONBLOCK,
  O_RDWR,
  putAddress,
} from "./ffi/libc.ts";
import { checkBatch, checkRange, type PoolMemory } from "./ffi/pool_memory.ts";
import { capNetAdminHint, SyscallError } from "./ffi/syscall_error.ts";

/** `_IOW('T', 202, int)` */
export const TUNSETIFF = 0x400454ca;
/** `_IOW('T', 216, int)` */
export const TUNSETVNETHDRSZ = 0x400454d8;
export const IFF_TUN = 0x0001;
export const IFF_NO_PI = 0x1000;
export const IFF_VNET_HDR = 0x4000;
/** `sizeof(struct virtio_net_hdr)`: prepended to every packet when `vnetHdr` is on. */
export const VNET_HDR_LEN = 10;
/** Bytes a slot keeps free after the packet: WireGuard padding (up to 15) and the 16-byte tag. */
export const SLOT_TAILROOM = 32;
/** `lens[i]` for a packet longer than the slot could hold (MTU above the slot capacity). */
export const TRUNCATED = 0xffffffff;

/** Options for {@link TunDevice.open}. */
export interface TunOptions {
  /**
   * IFF_VNET_HDR: the kernel prepends a 10-byte virtio_net_hdr. It is read into / written from a
   * private buffer (second iovec), so slots look the same either way. Offloads stay off
   * (no TUNSETOFFLOAD), hence the header is always "no GSO, checksum complete".
   */
  readonly vnetHdr?: boolean;
}

let tunPath: Uint8Array<ArrayBuffer> | undefined;

/** An open TUN interface; closing the fd deletes the (non-persistent) interface. */
export class TunDevice implements Disposable {
  #fd: number;
  /** Interface name the kernel assigned (a `%d` pattern or `""` gets expanded). */
  readonly name: string;
  /** Whether packets carry a virtio_net_hdr on the fd. */
  readonly vnetHdr: boolean;
  /** Packets `writeBatch`/`write` skipped because the kernel refused them (EINVAL, EIO, ...). */
  writeErrors = 0;
  /** errno of the last refused write, 0 if none. */
  lastWriteErrno = 0;
  /** Packets `readBatch` marked {@link TRUNCATED}. */
  truncated = 0;

  // struct iovec[2] each: [iov_base lo, hi, iov_len lo, hi] as u32. Read and write keep their own,
  // so a vnet header read in never leaks into one written out (the write header stays zero).
  readonly #rio = new ArrayBuffer(32);
  readonly #rio8 = new Uint8Array(this.#rio);
  readonly #rio32 = new Uint32Array(this.#rio);
  readonly #wio = new ArrayBuffer(32);
  readonly #wio8 = new Uint8Array(this.#wio);
  readonly #wio32 = new Uint32Array(this.#wio);
  readonly #hdr = new ArrayBuffer(32); // [0,16): header read in; [16,32): zero header written out
  readonly #iovcnt: number;
  readonly #pkt: number; // u32 index of the packet iovec in #rio32/#wio32

  private constructor(fd: number, name: string, vnetHdr: boolean) {
    this.#fd = fd;
    this.name = name;
    this.vnetHdr = vnetHdr;
    this.#iovcnt = vnetHdr ? 2 : 1;
    this.#pkt = vnetHdr ? 4 : 0;
    if (vnetHdr) {
      const h = Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(this.#hdr)));
      putAddress(this.#rio32, 0, h);
      this.#rio32[2] = VNET_HDR_LEN;
      putAddress(this.#wio32, 0, h + 16);
      this.#wio32[2] = VNET_HDR_LEN;
    }
  }

  /**
   * Opens /dev/net/tun (O_RDWR | O_NONBLOCK | O_CLOEXEC) and attaches it to a new or existing
   * TUN interface `name` (at most 15 bytes; `""` or `"tsl%d"` let the kernel pick).
   * Throws {@link SyscallError}; EPERM/EACCES carry the CAP_NET_ADMIN hint.
   */
  static open(name: string, opts: TunOptions = {}): TunDevice {
    const vnetHdr = opts.vnetHdr ?? false;
    const req = ifreq(name, true);
    const L = libc();
    tunPath ??= cString("/dev/net/tun");
    const fd = checkSetup(
      "open(/dev/net/tun)",
      L.open(tunPath, O_RDWR | O_NONBLOCK | O_CLOEXEC, 0),
      { hint: capNetAdminHint },
    );
    try {
      req.view.setUint16(IFRU, IFF_TUN | IFF_NO_PI | (vnetHdr ? IFF_VNET_HDR : 0), true);
      checkSetup("ioctl(TUNSETIFF)", L.ioctl(fd, BigInt(TUNSETIFF), req.bytes), {
        hint: capNetAdminHint,
      });
      if (vnetHdr) {
        const size = new Uint8Array(new Int32Array([VNET_HDR_LEN]).buffer);
        checkSetup("ioctl(TUNSETVNETHDRSZ)", L.ioctl(fd, BigInt(TUNSETVNETHDRSZ), size));
      }
    } catch (e) {
      L.close(fd);
      throw e;
    }
    return new TunDevice(fd, ifreqName(req.bytes), vnetHdr);
  }

  /** The file descriptor (for a {@link Poller}); -1 once closed. */
  get fd(): number {
    return this.#fd;
  }

  /** Largest packet a slot takes: `slotSize - headroom - 32` (room for padding and tag). */
  static capacity(pool: PoolMemory): number {
    return pool.slotSize - pool.headroom - SLOT_TAILROOM;
  }

  /**
   * Reads one packet for each slot `offs[0..n)` into `offs[i] + pool.headroom` until EAGAIN.
   * `lens[i]` = packet length ({@link TRUNCATED} if it did not fit). Returns how many were read.
   */
  readBatch(pool: PoolMemory, offs: Uint32Array, lens: Uint32Array, n: number): number {
    const fd = this.#fd, io32 = this.#rio32, io8 = this.#rio8, cnt = this.#iovcnt, k = this.#pkt;
    const hdr = cnt === 2 ? VNET_HDR_LEN : 0;
    const cap = TunDevice.capacity(pool);
    const at = pool.base + pool.headroom;
    const limit = pool.u8.length - pool.headroom - cap;
    const readv = libc().readv;
    checkBatch(offs, lens, n);
    io32[k + 2] = cap;
    io32[k + 3] = 0;
    let i = 0;
    while (i < n) {
      if (offs[i] > limit) checkRange(pool, "TunDevice.readBatch slot", offs[i], pool.slotSize);
      putAddress(io32, k, at + offs[i]);
      const r = readv(fd, io8, cnt);
      if (r < 0) {
        const e = errno();
        if (e === EAGAIN) break;
        if (e === EINTR) continue;
        throw new SyscallError("readv(tun)", e);
      }
      const len = r - hdr;
      if (len > cap || len < 0) {
        lens[i] = TRUNCATED;
        this.truncated++;
      } else {
        lens[i] = len;
      }
      i++;
    }
    return i;
  }

  /**
   * Reads one packet to wasm offset `ptrOff` (raw: for a slot pass `off + pool.headroom`), at most
   * `cap` bytes. Returns its length (the full length if it was longer than `cap`), or `-EAGAIN`.
   */
  read(pool: PoolMemory, ptrOff: number, cap: number): number {
    checkRange(pool, "TunDevice.read", ptrOff, cap);
    const io32 = this.#rio32, k = this.#pkt;
    putAddress(io32, k, pool.base + ptrOff);
    io32[k + 2] = cap;
    io32[k + 3] = 0;
    for (;;) {
      const r = libc().readv(this.#fd, this.#rio8, this.#iovcnt);
      if (r >= 0) return r - (this.#iovcnt === 2 ? VNET_HDR_LEN : 0);
      const e = errno();
      if (e === EAGAIN) return -EAGAIN;
      if (e !== EINTR) throw new SyscallError("readv(tun)", e);
    }
  }

  /**
   * Writes the packet at wasm offset `ptrOff` (raw: for a slot pass `off + pool.headroom`), `len`
   * bytes. Returns `len`, `-EAGAIN`, or `-errno` when the kernel refused this packet (EINVAL for a
   * non-IP packet, ...). Throws only when the fd itself is unusable (EBADF, EBADFD, EFAULT).
   */
  write(pool: PoolMemory, ptrOff: number, len: number): number {
    checkRange(pool, "TunDevice.write", ptrOff, len);
    const io32 = this.#wio32, k = this.#pkt;
    putAddress(io32, k, pool.base + ptrOff);
    io32[k + 2] = len;
    io32[k + 3] = 0;
    return this.#writev();
  }

  /**
   * Writes packet i from `offs[i] + pool.headroom`, `lens[i]` bytes, for i in `[0, n)`. Stops at
   * EAGAIN; packets the kernel refuses are skipped and counted in {@link writeErrors}. Returns how
   * many were written; the caller still owns (and frees) all n slots.
   */
  writeBatch(pool: PoolMemory, offs: Uint32Array, lens: Uint32Array, n: number): number {
    const io32 = this.#wio32, k = this.#pkt;
    const at = pool.base + pool.headroom;
    const limit = pool.u8.length - pool.headroom;
    checkBatch(offs, lens, n);
    io32[k + 3] = 0;
    let written = 0;
    for (let i = 0; i < n; i++) {
      if (offs[i] + lens[i] > limit) {
        checkRange(pool, "TunDevice.writeBatch packet", offs[i] + pool.headroom, lens[i]);
      }
      putAddress(io32, k, at + offs[i]);
      io32[k + 2] = lens[i];
      const r = this.#writev();
      if (r >= 0) written++;
      else if (r === -EAGAIN) break;
    }
    return written;
  }

  #writev(): number {
    const writev = libc().writev;
    for (;;) {
      const r = writev(this.#fd, this.#wio8, this.#iovcnt);
      if (r >= 0) return r - (this.#iovcnt === 2 ? VNET_HDR_LEN : 0);
      const e = errno();
      if (e === EAGAIN) return -EAGAIN;
      if (e === EINTR) continue;
      if (e === EBADF || e === EBADFD || e === EFAULT) throw new SyscallError("writev(tun)", e);
      this.writeErrors++;
      this.lastWriteErrno = e;
      return -e;
    }
  }

  /** Closes the fd; the kernel removes a non-persistent interface with it. Idempotent. */
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
