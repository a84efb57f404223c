/**
 * What the data path calls on the TUN device and on the UDP socket, and nothing more:
 * {@link TunIo} and {@link UdpIo}. The production classes (`TunDevice` in src/tun_device.ts,
 * `UdpSocket` in src/udp_socket.ts) implement them, and a process holds one class of each, so the
 * calls in the hot loops stay monomorphic; tests/fixtures/memory_io.ts implements both in memory
 * so that two data paths can talk without root or a network.
 *
 * The contract is the real devices': every call moves bytes between the kernel (or the fixture)
 * and pool slots addressed by offsets in linear memory; `lens[i]` = {@link TRUNCATED} marks a
 * packet or datagram that did not fit. Counters are plain numeric fields the data path reads
 * before and after a call.
 *
 * @example
 * ```ts
 * import type { TunIo, UdpIo } from "./packet_io.ts";
 * const describe = (tun: TunIo, udp: UdpIo): string =>
 *   `${tun.name}: vnet ${tun.vnetHdr}, UDP GSO ${udp.gso}, GRO ${udp.gro}`;
 * ```
 * @module
 */

import type { PoolMemory } from "../ffi/pool_memory.ts";

/** `lens[i]` for a packet or datagram longer than its buffer could hold (dropped and counted). */
export const TRUNCATED = 0xffffffff;

/** Where super-packet tails go: `count` jumbo buffers of `len` bytes from wasm offset `off`. */
export interface JumboArea {
  off: number;
  len: number;
  count: number;
}

/** The TUN side of the data path (see `TunDevice` for the full contract of each call). */
export interface TunIo {
  /** Interface name, for logs. */
  readonly name: string;
  /** Packets carry a virtio_net_hdr on the fd (IFF_VNET_HDR): coalesced writes are possible. */
  readonly vnetHdr: boolean;
  /** TUN_F_* flags the kernel accepted; non-zero: reads may be TSO/USO super-packets. */
  readonly offloads: number;
  /** errno of a refused `TUNSETOFFLOAD` (0 if accepted or not asked for). */
  readonly offloadErrno: number;
  /** Reads {@link readOffloadBatch} found to be GSO super-packets. */
  readonly gsoReads: number;
  /** Units {@link writeUnits} wrote as super-packets, and the packets in them. */
  readonly gsoWrites: number;
  readonly gsoWritePackets: number;
  /** errno of the first super-packet write refused (0 if none); sticky. */
  readonly gsoWriteErrno: number;

  /**
   * Reads a packet into `offs[i] + headroom` for `from <= i < n` until none is left; `lens[i]` =
   * length. With `overflowLen` > 0 a packet longer than a slot holds continues at wasm offset
   * `overflowOff` (`overflowLen` bytes) and ends the call, so the caller can move it before the
   * next read lands there. Returns the index after the last read.
   */
  readBatch(
    pool: PoolMemory,
    offs: Uint32Array,
    lens: Uint32Array,
    n: number,
    from?: number,
    overflowOff?: number,
    overflowLen?: number,
  ): number;

  /** The interface's MTU now, or null when it cannot be known here (moved to another namespace). */
  mtu(): number | null;

  /**
   * Reads with offloads on: read i's virtio header at `hdrsOff + VNET_STRIDE*i`, its first `cap`
   * bytes at `offs[i] + headroom`, the rest in the next jumbo buffer of `tail` (`tails[i]`, 0 =
   * none). Stops after `n` reads, when the jumbo buffers are used up, or before a read could push
   * the segments counted so far plus `reserve` past `segBudget`.
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
  ): number;

  /**
   * {@link writeBatch} keeps the slots it is given (a userspace stack queues them) and puts a
   * fresh slot in `offs[i]` for each one kept: the caller frees those instead. Default false.
   */
  readonly keepsWrites?: boolean;

  /** Writes packet i from `offs[i] + headroom`, `lens[i]` bytes; returns how many were written. */
  writeBatch(pool: PoolMemory, offs: Uint32Array, lens: Uint32Array, n: number): number;

  /**
   * Writes units as `ts_tun_plan` lays them out (header, then pieces, one write each). Returns the
   * units handled; `written.packets` gets the packets written. A refused super-packet stops the
   * batch with {@link gsoWriteErrno} set and nothing of it written.
   */
  writeUnits(
    pool: PoolMemory,
    units: Uint32Array,
    pieces: Uint32Array,
    n: number,
    written: { packets: number },
  ): number;
}

/** The UDP side of the data path (see `UdpSocket` for the full contract of each call). */
export interface UdpIo {
  /** UDP_SEGMENT sends on; the socket switches it off when the kernel refuses one. */
  readonly gso: boolean;
  /** UDP_GRO receives on (use {@link recvGro}). */
  readonly gro: boolean;
  /** errno that turned UDP_SEGMENT off or kept it off, and that of a refused UDP_GRO. */
  readonly gsoErrno: number;
  readonly groErrno: number;
  /**
   * Largest datagram sent in UDP_SEGMENT messages (Infinity until the kernel refuses a size;
   * larger ones go one by one), and the errno of that refusal.
   */
  readonly gsoMaxSize: number;
  readonly gsoSizeErrno: number;
  /** UDP_SEGMENT messages sent and the datagrams in them. */
  readonly gsoMessages: number;
  readonly gsoDatagrams: number;
  /** Coalesced messages received and the datagrams in them. */
  readonly groMessages: number;
  readonly groDatagrams: number;

  /**
   * Receives up to `n` datagrams, datagram i into the slot at `offs[i]` (its start), its source
   * sockaddr at `namesOff + i * nameStride`; `lens[i]` = length. With `overflowLen` > 0 a datagram
   * longer than a slot continues at wasm offset `overflowOff`, the same place for every datagram
   * of the call (so only the last such datagram's rest is still there). Returns how many (0: none
   * left).
   */
  recvBatch(
    pool: PoolMemory,
    offs: Uint32Array,
    lens: Uint32Array,
    namesOff: number,
    nameStride: number,
    n: number,
    overflowOff?: number,
    overflowLen?: number,
  ): number;

  /**
   * Receives up to `m` coalesced messages, message i into `bufOff + i * bufLen`, `lens[i]` bytes,
   * `gsoSizes[i]` = the size of each datagram in it (0: one plain datagram).
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
  ): number;

  /**
   * Sends datagrams `[from, from + n)`: datagram i is `lens[i]` bytes from the slot start
   * `offs[i]` to the sockaddr at `nameOffs[i]` (`nameLens[i]` bytes). Returns how many were sent.
   */
  sendBatch(
    pool: PoolMemory,
    offs: Uint32Array,
    lens: Uint32Array,
    nameOffs: Uint32Array,
    nameLens: Uint32Array,
    n: number,
    from?: number,
  ): number;

  /**
   * {@link sendBatch} of `[0, n)`, with each run of equal-sized datagrams to one address as one
   * UDP_SEGMENT message.
   */
  sendGso(
    pool: PoolMemory,
    offs: Uint32Array,
    lens: Uint32Array,
    nameOffs: Uint32Array,
    nameLens: Uint32Array,
    n: number,
  ): number;

  /** One datagram: `len` bytes from `off` to the sockaddr at `nameOff`. Returns `len` or `-errno`. */
  sendTo(pool: PoolMemory, off: number, len: number, nameOff: number, nameLen: number): number;
}
