/**
 * A Linux TUN device (IFF_TUN | IFF_NO_PI) read and written straight into slab slots.
 *
 * The fd is O_NONBLOCK: the data path drains it synchronously until EAGAIN and only awaits a
 * {@link Poller} when idle. Each packet read costs one synchronous `readv` whose single iovec
 * (two with `vnetHdr`) lives in a preallocated `ArrayBuffer`; per packet only its u32 fields are
 * rewritten, so no object, BigInt or boxed number is created (see src/ffi/libc.ts). Without
 * `vnetHdr`, a batch of writes is one io_uring submission ({@link IoUring}) where the kernel
 * allows io_uring, else one `writev` per packet.
 *
 * With `offload`, the device also has IFF_VNET_HDR and `TUNSETOFFLOAD` (checksum, TSO4/6 and,
 * where the kernel has them, USO4/6): a read may then return a TCP or UDP super-packet of up to
 * 64 KiB ({@link TunDevice.readOffloadBatch} puts its head in the slot and the rest in a jumbo
 * buffer), and {@link TunDevice.writeUnits} writes coalesced super-packets as one `writev` of a
 * virtio header and the scattered payloads. The refusal of an offload is recorded, not thrown.
 *
 * @example
 * ```ts ignore
 * import { SlabPool } from "./wasm/slab.ts";
 * import { TunDevice } from "./tun_device.ts";
 * using pool = SlabPool.create();
 * using tun = TunDevice.open("tsl0"); // needs CAP_NET_ADMIN
 * const offs = new Uint32Array(64), lens = new Uint32Array(64);
 * const got = pool.allocBatch(offsPtr, 64); // offsets land in offs (a u32 view at offsPtr)
 * const n = tun.readBatch(pool, offs, lens, got); // packet i at offs[i] + pool.headroom
 * ```
 * @module
 */

import { EAGAIN, EBADF, EBADFD, EFAULT, EINTR, EINVAL, EIO, EOPNOTSUPP } from "./ffi/errno.ts";
import { ifreq, ifreqName, IFRU } from "./ffi/ifreq.ts";
import {
  check,
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
import { capNetAdminHint, SyscallError, tunOpenHint } from "./ffi/syscall_error.ts";
import { IoUring } from "./io_uring.ts";
import { interfaceIndex, mtuIfStill } from "./net_config.ts";
import type { JumboArea, TunIo } from "./device/packet_io.ts";
import { TRUNCATED } from "./device/packet_io.ts";
import { MAX_UNIT_SEGS, packetCapacity, VNET_HDR_LEN, VNET_STRIDE } from "./wasm/abi.ts";
import { GSO_TYPE_UNDEFINED, testRefusals, TUN_F_UNKNOWN } from "./test_refusals.ts";
import {
  IFF_NO_PI,
  IFF_TUN,
  IFF_VNET_HDR,
  TUN_OFFLOADS,
  TUN_UDP_OFFLOADS,
  TUNSETIFF,
  TUNSETOFFLOAD,
  TUNSETVNETHDRSZ,
} from "./tun_abi.ts";

export * from "./tun_abi.ts";

/** A write failed because of the fd or the buffer, not the packet: no later write can succeed. */
function fdUnusable(e: number): boolean {
  return e === EBADF || e === EBADFD || e === EFAULT;
}

/** Writes one io_uring batch takes (see {@link TunDevice.writeBatch}). */
const RING_ENTRIES = 256;

/** Options for {@link TunDevice.open}. */
export interface TunOptions {
  /**
   * IFF_VNET_HDR: the kernel prepends a 10-byte virtio_net_hdr. {@link TunDevice.readBatch} and
   * {@link TunDevice.writeBatch} read it into / write it from a private buffer (second iovec), so
   * slots look the same either way; without `offload` it is always "no GSO, checksum complete".
   */
  readonly vnetHdr?: boolean;
  /**
   * Implies `vnetHdr`: `TUNSETOFFLOAD` with {@link TUN_OFFLOADS} | {@link TUN_UDP_OFFLOADS}, then
   * without USO. A refusal (EINVAL, EIO, EOPNOTSUPP) is kept in {@link TunDevice.offloadErrno};
   * the device then reads plain packets (and may still try coalesced writes).
   */
  readonly offload?: boolean;
}

let tunPath: Uint8Array<ArrayBuffer> | undefined;

/** An open TUN interface; closing the fd deletes the (non-persistent) interface. */
export class TunDevice implements TunIo, Disposable {
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
  /** TUN_F_* flags the kernel accepted (0: no offloads; reads are never super-packets). */
  readonly offloads: number;
  /** errno of a refused `TUNSETOFFLOAD` (0 if accepted or not asked for). */
  readonly offloadErrno: number;
  /** errno of the first super-packet write the kernel refused (0 if none); sticky. */
  gsoWriteErrno = 0;
  /** Reads {@link readOffloadBatch} found to be GSO super-packets. */
  gsoReads = 0;
  /** Units {@link writeUnits} wrote as super-packets, and the packets in them. */
  gsoWrites = 0;
  gsoWritePackets = 0;

  // struct iovec[3] / [2]: [iov_base lo, hi, iov_len lo, hi] as u32. Read and write keep their own,
  // so a vnet header read in never leaks into one written out (the write header stays zero).
  // A read's iovecs: [vnet header][slot][overflow: where a packet longer than the slot goes on].
  readonly #rio = new ArrayBuffer(48);
  readonly #rio8 = new Uint8Array(this.#rio);
  readonly #rio32 = new Uint32Array(this.#rio);
  readonly #wio = new ArrayBuffer(32);
  readonly #wio8 = new Uint8Array(this.#wio);
  readonly #wio32 = new Uint32Array(this.#wio);
  readonly #hdr = new ArrayBuffer(32); // [0,16): header read in; [16,32): zero header written out
  readonly #iovcnt: number;
  /** The interface's index when it was opened (its MTU is read only while the name still has it). */
  readonly #index: number;
  #ring: IoUring | undefined;
  /** Tests only (src/test_refusals.ts): the next super-packet write gets an undefined gso_type. */
  #refuseGsoWrite = false;
  #gone = false;
  readonly #pkt: number; // u32 index of the packet iovec in #rio32/#wio32
  // readOffloadBatch: [virtio header][slot][jumbo tail]; writeUnits: [header][pieces...].
  readonly #oio = new ArrayBuffer(48);
  readonly #oio8 = new Uint8Array(this.#oio);
  readonly #oio32 = new Uint32Array(this.#oio);
  readonly #uio = new ArrayBuffer((1 + MAX_UNIT_SEGS) * 16);
  readonly #uio8 = new Uint8Array(this.#uio);
  readonly #uio32 = new Uint32Array(this.#uio);

  private constructor(
    fd: number,
    name: string,
    vnetHdr: boolean,
    offloads: number,
    offloadErrno: number,
    index: number,
  ) {
    this.#fd = fd;
    this.name = name;
    this.#index = index;
    this.vnetHdr = vnetHdr;
    this.offloads = offloads;
    this.offloadErrno = offloadErrno;
    this.#iovcnt = vnetHdr ? 2 : 1;
    this.#pkt = vnetHdr ? 4 : 0;
    // Without a virtio header every packet is its own write: batch them through io_uring
    // where the kernel allows it (with offloads, coalesced super-packets already are few).
    this.#ring = vnetHdr ? undefined : IoUring.open(RING_ENTRIES);
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
    const vnetHdr = (opts.vnetHdr ?? false) || (opts.offload ?? false);
    const refusals = testRefusals();
    let offloads = 0;
    let offloadErrno = 0;
    const req = ifreq(name, true);
    const L = libc();
    tunPath ??= cString("/dev/net/tun");
    const fd = checkSetup(
      "open(/dev/net/tun)",
      L.open(tunPath, O_RDWR | O_NONBLOCK | O_CLOEXEC, 0),
      { hint: tunOpenHint },
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
      if (opts.offload) {
        const provoke = refusals.tunSetOffload ? TUN_F_UNKNOWN : 0; // tests only
        for (const flags of [TUN_OFFLOADS | TUN_UDP_OFFLOADS, TUN_OFFLOADS]) {
          const r = check(
            "ioctl(TUNSETOFFLOAD)",
            L.ioctl_value(fd, BigInt(TUNSETOFFLOAD), BigInt(flags | provoke)),
            { tolerate: [EINVAL, EIO, EOPNOTSUPP] },
          );
          if (r >= 0) {
            offloads = flags;
            offloadErrno = 0;
            break;
          }
          offloadErrno = -r;
        }
      }
    } catch (e) {
      L.close(fd);
      throw e;
    }
    const ifname = ifreqName(req.bytes);
    const dev = new TunDevice(fd, ifname, vnetHdr, offloads, offloadErrno, interfaceIndex(ifname));
    dev.#refuseGsoWrite = refusals.tunGsoWrite;
    return dev;
  }

  /** The file descriptor (for a {@link Poller}); -1 once closed. */
  get fd(): number {
    return this.#fd;
  }

  /** Whether {@link writeBatch} submits through io_uring (else one `writev` per packet). */
  get batchedWrites(): boolean {
    return this.#ring !== undefined;
  }

  /** Largest packet a slot takes: `slotSize - headroom - SLOT_TAILROOM` (room for padding and tag). */
  static capacity(pool: PoolMemory): number {
    return packetCapacity(pool);
  }

  /** The interface's MTU now (SIOCGIFMTU), or null once it is not in this namespace by its name. */
  mtu(): number | null {
    return this.#fd < 0 ? null : mtuIfStill(this.name, this.#index);
  }

  /**
   * Reads one packet for each slot `offs[from..n)` into `offs[i] + pool.headroom` until EAGAIN.
   * `lens[i]` = packet length ({@link TRUNCATED} if it did not fit). With `overflowLen` > 0 a
   * second iovec continues the read at wasm offset `overflowOff`: a packet longer than the slot
   * holds (`len > capacity`) has its first `capacity` bytes in the slot and the rest there, and
   * ends the batch (the caller moves it before the next read). Returns the index after the last
   * read.
   */
  readBatch(
    pool: PoolMemory,
    offs: Uint32Array,
    lens: Uint32Array,
    n: number,
    from = 0,
    overflowOff = 0,
    overflowLen = 0,
  ): number {
    const io32 = this.#rio32, io8 = this.#rio8, k = this.#pkt;
    const hdr = this.#iovcnt === 2 ? VNET_HDR_LEN : 0;
    const cap = TunDevice.capacity(pool);
    const at = pool.base + pool.headroom;
    const limit = pool.u8.length - pool.headroom - cap;
    checkBatch(offs, lens, n);
    io32[k + 2] = cap;
    io32[k + 3] = 0;
    let cnt = this.#iovcnt;
    if (overflowLen > 0) {
      checkRange(pool, "TunDevice.readBatch overflow", overflowOff, overflowLen);
      putAddress(io32, k + 4, pool.base + overflowOff);
      io32[k + 6] = overflowLen;
      io32[k + 7] = 0;
      cnt++;
    }
    let i = from;
    while (i < n) {
      if (offs[i] > limit) checkRange(pool, "TunDevice.readBatch slot", offs[i], pool.slotSize);
      putAddress(io32, k, at + offs[i]);
      const r = this.#readv(io8, cnt);
      if (r === -EAGAIN) break;
      const len = r - hdr;
      if (len > cap + overflowLen || len < 0) {
        lens[i] = TRUNCATED;
        this.truncated++;
      } else {
        lens[i] = len;
      }
      i++;
      if (len > cap && overflowLen > 0) break; // into the overflow: the caller moves it first
    }
    return i;
  }

  /**
   * Reads with offloads on (needs `vnetHdr`). Read i puts its virtio header at wasm offset
   * `hdrsOff + 16*i`, its first `cap` bytes at `offs[i] + pool.headroom` and, for a super-packet
   * longer than that, the rest in the next unused jumbo buffer (`tailOff + j * tailLen`, j <
   * `tailCount`), whose offset goes to `tails[i]` (0: none). `lens[i]` = bytes read after the
   * header ({@link TRUNCATED} if more than `cap + tailLen`). Stops at EAGAIN, after `n` reads,
   * when every jumbo buffer holds a tail, or before a read that could overflow `segBudget`:
   * segments read so far (`ceil(len / gso_size)` per super-packet) + `reserve` (the most one
   * read can add) must stay within it. Returns how many were read.
   */
  readOffloadBatch(
    pool: PoolMemory,
    offs: Uint32Array,
    lens: Uint32Array,
    tails: Uint32Array,
    n: number,
    cap: number,
    hdrsOff: number,
    tail: JumboArea,
    segBudget: number,
    reserve: number,
  ): number {
    if (!this.vnetHdr) throw new RangeError("readOffloadBatch needs a vnetHdr device");
    checkBatch(offs, lens, n);
    checkBatch(tails, lens, n);
    checkRange(pool, "TunDevice.readOffloadBatch headers", hdrsOff, n * VNET_STRIDE);
    checkRange(pool, "TunDevice.readOffloadBatch tails", tail.off, tail.count * tail.len);
    const io32 = this.#oio32, io8 = this.#oio8, u8 = pool.u8, base = pool.base;
    const at = base + pool.headroom;
    const limit = u8.length - pool.headroom - cap;
    io32[2] = VNET_HDR_LEN;
    io32[3] = 0;
    io32[6] = cap;
    io32[7] = 0;
    io32[10] = tail.len;
    io32[11] = 0;
    let i = 0, j = 0, segs = 0;
    while (i < n && j < tail.count && segs + reserve <= segBudget) {
      if (offs[i] > limit) {
        checkRange(pool, "TunDevice.readOffloadBatch slot", offs[i], pool.slotSize);
      }
      const h = hdrsOff + i * VNET_STRIDE;
      putAddress(io32, 0, base + h);
      putAddress(io32, 4, at + offs[i]);
      putAddress(io32, 8, base + tail.off + j * tail.len);
      const r = this.#readv(io8, 3);
      if (r === -EAGAIN) break;
      const len = r - VNET_HDR_LEN;
      if (len < 0 || len > cap + tail.len) {
        lens[i] = TRUNCATED;
        this.truncated++;
      } else {
        lens[i] = len;
      }
      if (len > cap) tails[i] = tail.off + j++ * tail.len;
      else tails[i] = 0;
      const gso = u8[h + 4] | (u8[h + 5] << 8);
      if (u8[h + 1] !== 0 && gso > 0) {
        this.gsoReads++;
        segs += Math.ceil(len / gso);
      } else {
        segs++;
      }
      i++;
    }
    return i;
  }

  /**
   * Writes units as `ts_tun_plan` lays them out (needs `vnetHdr`): unit u is `units[4u..4u+4)` =
   * `[hdrOff, hdrLen, firstPiece, pieceCount]`, piece k is `pieces[3k..3k+3)` = `[off, len, pkt]`
   * (wasm offsets); one `writev` of the header (virtio header first) and the pieces per unit.
   * Stops at EAGAIN; a plain unit the kernel refuses is skipped and counted in
   * {@link writeErrors}. A refused super-packet (GSO) unit stops the batch: its errno is kept in
   * {@link gsoWriteErrno} and nothing of it was written, so the caller can write its packets one
   * by one. Returns the units handled (written or skipped); `packets` gets the packets written.
   */
  writeUnits(
    pool: PoolMemory,
    units: Uint32Array,
    pieces: Uint32Array,
    n: number,
    written: { packets: number },
  ): number {
    if (!this.vnetHdr) throw new RangeError("writeUnits needs a vnetHdr device");
    if (!(n >= 0 && 4 * n <= units.length)) {
      throw new RangeError(`writeUnits: ${n} units but room for ${units.length / 4}`);
    }
    const io32 = this.#uio32, u8 = pool.u8, base = pool.base, limit = u8.length;
    const writev = libc().writev;
    let packets = 0, u = 0;
    for (; u < n; u++) {
      const hdr = units[4 * u], hdrLen = units[4 * u + 1];
      const first = units[4 * u + 2], count = units[4 * u + 3];
      if (count > MAX_UNIT_SEGS || 3 * (first + count) > pieces.length) {
        throw new RangeError(`writeUnits: unit ${u} has pieces ${first}+${count}`);
      }
      if (hdr + hdrLen > limit) checkRange(pool, "TunDevice.writeUnits header", hdr, hdrLen);
      putAddress(io32, 0, base + hdr);
      io32[2] = hdrLen;
      io32[3] = 0;
      for (let k = 0; k < count; k++) {
        const p = 3 * (first + k), v = 4 * (k + 1);
        if (pieces[p] + pieces[p + 1] > limit) {
          checkRange(pool, "TunDevice.writeUnits piece", pieces[p], pieces[p + 1]);
        }
        putAddress(io32, v, base + pieces[p]);
        io32[v + 2] = pieces[p + 1];
        io32[v + 3] = 0;
      }
      const gsoType = u8[hdr + 1], gso = gsoType !== 0;
      const provoke = gso && this.#refuseGsoWrite; // tests only: the kernel refuses this write
      if (provoke) u8[hdr + 1] = GSO_TYPE_UNDEFINED;
      let r: number;
      for (;;) {
        r = writev(this.#fd, this.#uio8, 1 + count);
        if (r >= 0) break;
        const e = errno();
        if (e === EINTR) continue;
        if (fdUnusable(e)) {
          this.#unusable("writev(tun)", e);
          r = -EAGAIN;
        } else r = -e;
        break;
      }
      if (provoke) {
        u8[hdr + 1] = gsoType;
        if (r !== -EAGAIN) this.#refuseGsoWrite = false; // provoked once, on a write that ran
      }
      if (r === -EAGAIN) break;
      if (r >= 0) {
        packets += count;
        if (gso) {
          this.gsoWrites++;
          this.gsoWritePackets += count;
        }
      } else if (gso) {
        this.gsoWriteErrno = -r;
        break;
      } else {
        this.writeErrors++;
        this.lastWriteErrno = -r;
      }
    }
    written.packets = packets;
    return u;
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
    const r = this.#readv(this.#rio8, this.#iovcnt);
    return r < 0 ? r : r - (this.#iovcnt === 2 ? VNET_HDR_LEN : 0);
  }

  /** `readv` with the iovecs in `io8`, retried on EINTR: bytes read, or −EAGAIN; throws otherwise. */
  #readv(io8: Uint8Array, cnt: number): number {
    const readv = libc().readv;
    for (;;) {
      const r = readv(this.#fd, io8, cnt);
      if (r >= 0) return r;
      const e = errno();
      if (e === EAGAIN) return -EAGAIN;
      if (e === EINTR) continue;
      this.#unusable("readv(tun)", e);
      return -EAGAIN; // the interface is gone: nothing more to read
    }
  }

  /**
   * True once the kernel said the interface is gone (EBADFD: `ip link del` detached the fd); the
   * device then shuts down instead of failing.
   */
  get gone(): boolean {
    return this.#gone;
  }

  /** A failed call the fd cannot recover from: EBADFD marks the interface gone, the rest throw. */
  #unusable(call: string, e: number): void {
    if (e !== EBADFD) throw new SyscallError(call, e);
    this.#gone = true;
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
    if (this.#ring !== undefined) {
      return this.#writeRing(this.#ring, pool, offs, lens, n, at, limit);
    }
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

  /** {@link writeBatch} as io_uring batches: one system call per {@link RING_ENTRIES} packets. */
  #writeRing(
    ring: IoUring,
    pool: PoolMemory,
    offs: Uint32Array,
    lens: Uint32Array,
    n: number,
    at: number,
    limit: number,
  ): number {
    const res = ring.results, fd = this.#fd;
    let written = 0;
    for (let start = 0; start < n; start += RING_ENTRIES) {
      const m = Math.min(RING_ENTRIES, n - start);
      for (let i = 0; i < m; i++) {
        const off = offs[start + i], len = lens[start + i];
        if (off + len > limit) {
          checkRange(pool, "TunDevice.writeBatch packet", off + pool.headroom, len);
        }
        ring.prepWrite(i, fd, at + off, len);
      }
      ring.submit(m);
      for (let i = 0; i < m; i++) {
        const r = res[i];
        if (r >= 0) {
          written++;
          continue;
        }
        if (fdUnusable(-r)) {
          this.#unusable("write(tun)", -r);
          continue;
        }
        if (r !== -EAGAIN) {
          this.writeErrors++;
          this.lastWriteErrno = -r;
        }
      }
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
      if (fdUnusable(e)) {
        this.#unusable("writev(tun)", e);
        return -EAGAIN;
      }
      this.writeErrors++;
      this.lastWriteErrno = e;
      return -e;
    }
  }

  /** Closes the fd; the kernel removes a non-persistent interface with it. Idempotent. */
  close(): void {
    this.#ring?.close();
    this.#ring = undefined;
    if (this.#fd >= 0) {
      libc().close(this.#fd);
      this.#fd = -1;
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
