/**
 * The hot path: batches of packets between the TUN device and the UDP socket,
 * in place in pool slots. One batch in either direction is a handful of
 * calls: one `alloc_batch`, the reads (TUN per packet until EAGAIN, UDP one
 * `recvmmsg`), one `encrypt_batch`/`decrypt_batch` into WASM, the writes (one
 * `sendmmsg`, TUN per packet), one `free_batch`.
 *
 * With offloads (the TUN device opened with `offload`, the socket bound with
 * it) the same batches carry far fewer system calls:
 * - TUN → UDP: a read returns a TCP/UDP super-packet of up to 64 KiB, head in
 *   a slot, rest in a jumbo buffer; one `ts_tun_ingest` per batch cuts every
 *   super-packet into MSS-sized segments, each in its own slot (the one copy
 *   of the send side: a segment needs its own headers in front of its payload
 *   and room for the tag after it, so the payload cannot stay where it was
 *   read). Then the usual `ts_encrypt_batch`, and `sendGso` hands runs of
 *   equal-sized datagrams to the kernel as one UDP_SEGMENT message each.
 * - UDP → TUN: UDP_GRO receives runs of datagrams into jumbo buffers; each
 *   datagram is decrypted where it landed (no copy: a run owns its jumbo
 *   buffer from the receive to the TUN write, as a packet owns its slot), and
 *   `ts_tun_plan` groups in-order TCP segments of a flow into units written as
 *   one super-packet each (virtio header + rewritten headers + the payloads
 *   where they lie, one `writev`).
 * When the kernel refuses an offload the path logs it once and carries on per
 * packet; no packet is dropped for it.
 *
 * Nothing here allocates per packet: offsets, lengths, peer ids and sockaddrs
 * live in typed arrays over the module's scratch area, built once (and again
 * only when the pool's memory grows). Per-packet events go to {@link DataHooks}
 * as plain numbers.
 *
 * @example
 * ```ts
 * // const path = new DataPath(pool, tun, udp, hooks, { mtu: 1420 });
 * // while (path.pumpUdp() + path.pumpTun() > 0) {}
 * ```
 * @module
 */

import { E_KEY_EXPIRED, E_NO_KEY, HANDSHAKE } from "../wasm/abi.ts";
import { errnoName } from "../ffi/errno.ts";
import { logger } from "../log.ts";
import type { SlabPool } from "../wasm/slab.ts";
import type { TunslabExports } from "../wasm/module.ts";
import {
  TRUNCATED as TUN_TRUNCATED,
  TUN_UDP_OFFLOADS,
  TunDevice,
  VNET_STRIDE,
} from "../tun_device.ts";
import { TRUNCATED as UDP_TRUNCATED, type UdpSocket } from "../udp_socket.ts";

/** Most packets moved per batch and direction (recvmmsg/sendmmsg vector). */
export const BATCH = 128;
/** Bytes reserved per source sockaddr in the receive batch. */
export const NAME_STRIDE = 32;
/** Most packets one TUN → UDP batch holds once super-packets are cut into segments. */
export const TX_CAP = 2048;
/**
 * Segments one TUN read may add at worst: a 64 KiB super-packet cut at the smallest MSS Linux
 * sends (48 bytes). A batch stops reading before it could overflow {@link TX_CAP}.
 */
export const TX_RESERVE = 1400;
/** Jumbo buffers for TUN super-packet tails (the first half of the module's jumbo area). */
export const TX_JUMBOS = 8;
/** Jumbo buffers (messages) per UDP_GRO receive (the second half). */
export const RX_JUMBOS = 8;
/** Datagrams decrypted and written per step of a GRO receive (wasm `MAX_PLAN`). */
export const RX_CAP = 1024;
/** Bytes of a unit's header in `ts_tun_plan`'s header area (wasm `UNIT_HDR_STRIDE`). */
const UNIT_HDR_STRIDE = 160;
/** f64 counters `ts_offload_stats` writes. */
const OFFLOAD_STATS = 6;

/**
 * Callbacks of the data path; called with numbers only. Transport packets are reported per
 * run of consecutive packets of one peer (and keypair) in a batch, not one by one: they share
 * one instant, so a timer needs to hear of them once.
 */
export interface DataHooks {
  /** A handshake or cookie message sits at `off` (datagram from `nameOff`). The slot is freed after. */
  onHandshakeMessage(off: number, len: number, nameOff: number): void;
  /** Authenticated transport packets from `peer` on keypair slot `kp`, `data` of them not keepalives. */
  onReceived(peer: number, kp: number, data: number): void;
  /** Transport packets went out to `peer`, `data` of them not keepalives. */
  onSent(peer: number, data: number): void;
  /** No send keypair for `peer`: keep the packet? Return true to take slot `off` (IP length `len`). */
  onNoKey(peer: number, off: number, len: number): boolean;
}

/** Counters of the data path (besides the WASM drop counters). */
export interface DataPathCounters {
  tunRead: number;
  tunWritten: number;
  udpReceived: number;
  udpSent: number;
  /** Datagrams dropped because they did not fit a slot (MSG_TRUNC). */
  truncated: number;
  /** Packets for a peer without a known endpoint. */
  noEndpoint: number;
  /** sendmmsg could not take them (EAGAIN). */
  sendDropped: number;
  /** TUN write refused them (EAGAIN). */
  tunDropped: number;
  /** Allocations the pool refused (packets left in the kernel). */
  poolRefused: number;
  /** TUN reads that were GSO super-packets, and the segments cut from them. */
  tunSuperRead: number;
  tunSegments: number;
  /** TUN packets whose partial checksum (NEEDS_CSUM) was completed. */
  tunChecksums: number;
  /** Super-packets written to the TUN, and the received packets coalesced into them. */
  tunSuperWritten: number;
  tunCoalesced: number;
  /** UDP_SEGMENT messages sent, and the datagrams in them. */
  udpGsoSends: number;
  udpGsoDatagrams: number;
  /** Coalesced (UDP_GRO) messages received, and the datagrams in them. */
  udpGroReceived: number;
  udpGroDatagrams: number;
  /** Offloads the kernel refused at run time (each switched off, logged once). */
  offloadFallbacks: number;
}

const log = logger("offload");

/** Moves batches between a TUN device and a UDP socket through the pool. */
export class DataPath {
  readonly counters: DataPathCounters = {
    tunRead: 0,
    tunWritten: 0,
    udpReceived: 0,
    udpSent: 0,
    truncated: 0,
    noEndpoint: 0,
    sendDropped: 0,
    tunDropped: 0,
    poolRefused: 0,
    tunSuperRead: 0,
    tunSegments: 0,
    tunChecksums: 0,
    tunSuperWritten: 0,
    tunCoalesced: 0,
    udpGsoSends: 0,
    udpGsoDatagrams: 0,
    udpGroReceived: 0,
    udpGroDatagrams: 0,
    offloadFallbacks: 0,
  };
  mtu: number;
  readonly #pool: SlabPool;
  readonly #wasm: TunslabExports;
  readonly #tun: TunDevice;
  #udp: UdpSocket;
  readonly #hooks: DataHooks;
  /** TUN reads may be super-packets (TSO/USO accepted). */
  readonly #tso: boolean;
  /** Received TCP segments are coalesced into super-packet writes (vnet header, not refused). */
  #coalesce: boolean;
  /** UDP socket whose GSO refusal was already logged. */
  #gsoLogged: UdpSocket | undefined;
  // Scratch offsets (stable) and views over them (rebuilt after growth).
  // Receive (UDP→TUN) and send (TUN→UDP) sides have their own arrays, so a
  // hook that sends (a handshake completing flushes staged packets) never
  // clobbers the receive batch being walked.
  readonly #p = {
    rxOffs: 0,
    rxLens: 0,
    rxPeers: 0,
    kps: 0,
    rxNames: 0,
    names: 0,
    tunOffs: 0,
    tunLens: 0,
    units: 0,
    pieces: 0,
    unitHdrs: 0,
    readOffs: 0,
    readLens: 0,
    tails: 0,
    hdrs: 0,
    offs: 0,
    lens: 0,
    peers: 0,
    sendOffs: 0,
    sendLens: 0,
    nameOffs: 0,
    nameLens: 0,
    free: 0,
    stats: 0,
  };
  #rxOffs!: Uint32Array;
  #rxLens!: Uint32Array;
  #rxLensI!: Int32Array;
  #rxPeers!: Int32Array;
  #kps!: Int32Array;
  #rxNames!: Uint32Array;
  #tunOffs!: Uint32Array;
  #tunLens!: Uint32Array;
  #units!: Uint32Array;
  #pieces!: Uint32Array;
  #readOffs!: Uint32Array;
  #readLens!: Uint32Array;
  #tails!: Uint32Array;
  #offs!: Uint32Array;
  #lens!: Uint32Array;
  #lensI!: Int32Array;
  #peers!: Int32Array;
  #sendOffs!: Uint32Array;
  #sendLens!: Uint32Array;
  #nameOffs!: Uint32Array;
  #nameLens!: Uint32Array;
  #free!: Uint32Array;
  #stats!: Float64Array;
  /** Per-peer sockaddr location and length in WASM memory. */
  #endpointPtr: Uint32Array;
  // Offload buffers: jumbo buffers for TUN tails and GRO receives, GRO message lengths and
  // segment sizes, packets to rewrite one by one after a refused super-packet write.
  readonly #jumboLen: number;
  readonly #txTail: { off: number; len: number; count: number };
  readonly #rxJumbo: number;
  readonly #msgLens = new Uint32Array(RX_JUMBOS);
  readonly #msgGso = new Uint32Array(RX_JUMBOS);
  readonly #retryOffs = new Uint32Array(RX_CAP);
  readonly #retryLens = new Uint32Array(RX_CAP);
  readonly #written = { packets: 0 };

  constructor(
    pool: SlabPool,
    wasm: TunslabExports,
    tun: TunDevice,
    udp: UdpSocket,
    hooks: DataHooks,
    opts: { mtu: number; maxPeers: number },
  ) {
    this.#pool = pool;
    this.#wasm = wasm;
    this.#tun = tun;
    this.#udp = udp;
    this.#hooks = hooks;
    this.mtu = opts.mtu;
    this.#tso = tun.offloads !== 0;
    this.#coalesce = tun.vnetHdr;
    const p = this.#p;
    const size: Record<keyof typeof p, number> = {
      rxOffs: RX_CAP * 4,
      rxLens: RX_CAP * 4,
      rxPeers: RX_CAP * 4,
      kps: RX_CAP * 4,
      rxNames: RX_CAP * 4,
      names: BATCH * NAME_STRIDE,
      tunOffs: RX_CAP * 4,
      tunLens: RX_CAP * 4,
      units: RX_CAP * 16,
      pieces: RX_CAP * 12,
      unitHdrs: RX_CAP * UNIT_HDR_STRIDE,
      readOffs: BATCH * 4,
      readLens: BATCH * 4,
      tails: BATCH * 4,
      hdrs: BATCH * VNET_STRIDE,
      offs: TX_CAP * 4,
      lens: TX_CAP * 4,
      peers: TX_CAP * 4,
      sendOffs: TX_CAP * 4,
      sendLens: TX_CAP * 4,
      nameOffs: TX_CAP * 4,
      nameLens: TX_CAP * 4,
      free: TX_CAP * 4,
      stats: OFFLOAD_STATS * 8,
    };
    for (const k of Object.keys(p) as (keyof typeof p)[]) p[k] = pool.scratch(size[k]);
    this.#endpointPtr = new Uint32Array(opts.maxPeers);
    for (let i = 0; i < opts.maxPeers; i++) {
      this.#endpointPtr[i] = this.#wasm.ts_peer_endpoint_ptr(i);
    }
    const jumbo = this.#wasm.ts_jumbo_ptr();
    this.#jumboLen = this.#wasm.ts_jumbo_len();
    this.#txTail = { off: jumbo, len: this.#jumboLen, count: TX_JUMBOS };
    this.#rxJumbo = jumbo + TX_JUMBOS * this.#jumboLen;
    this.#views();
    pool.onRemap(() => this.#views());
    this.#logOffloads();
  }

  /** Swaps the UDP socket (listen port change). */
  set udp(udp: UdpSocket) {
    this.#udp = udp;
  }

  #views(): void {
    const pool = this.#pool;
    const p = this.#p;
    this.#rxOffs = pool.u32At(p.rxOffs, RX_CAP);
    this.#rxLens = pool.u32At(p.rxLens, RX_CAP);
    this.#rxLensI = pool.i32At(p.rxLens, RX_CAP);
    this.#rxPeers = pool.i32At(p.rxPeers, RX_CAP);
    this.#kps = pool.i32At(p.kps, RX_CAP);
    this.#rxNames = pool.u32At(p.rxNames, RX_CAP);
    this.#tunOffs = pool.u32At(p.tunOffs, RX_CAP);
    this.#tunLens = pool.u32At(p.tunLens, RX_CAP);
    this.#units = pool.u32At(p.units, RX_CAP * 4);
    this.#pieces = pool.u32At(p.pieces, RX_CAP * 3);
    this.#readOffs = pool.u32At(p.readOffs, BATCH);
    this.#readLens = pool.u32At(p.readLens, BATCH);
    this.#tails = pool.u32At(p.tails, BATCH);
    this.#offs = pool.u32At(p.offs, TX_CAP);
    this.#lens = pool.u32At(p.lens, TX_CAP);
    this.#lensI = pool.i32At(p.lens, TX_CAP);
    this.#peers = pool.i32At(p.peers, TX_CAP);
    this.#sendOffs = pool.u32At(p.sendOffs, TX_CAP);
    this.#sendLens = pool.u32At(p.sendLens, TX_CAP);
    this.#nameOffs = pool.u32At(p.nameOffs, TX_CAP);
    this.#nameLens = pool.u32At(p.nameLens, TX_CAP);
    this.#free = pool.u32At(p.free, TX_CAP);
    this.#stats = new Float64Array(pool.memory.buffer, p.stats, OFFLOAD_STATS);
  }

  /** One line at start-up saying which offloads are on; one warning per refused one. */
  #logOffloads(): void {
    const tun = this.#tun, udp = this.#udp;
    if (!tun.vnetHdr && !udp.gso && !udp.gro && udp.gsoErrno === 0 && udp.groErrno === 0) return;
    log.info(
      "Offloads on {interface}: TSO {tso}, USO {uso}, coalesced TUN writes {coalesce}, UDP GSO {gso}, UDP GRO {gro}",
      {
        interface: tun.name,
        tso: this.#tso,
        uso: (tun.offloads & TUN_UDP_OFFLOADS) !== 0,
        coalesce: this.#coalesce,
        gso: udp.gso,
        gro: udp.gro,
      },
    );
    if (tun.offloadErrno !== 0) this.#refused("TUNSETOFFLOAD", tun.offloadErrno);
    if (udp.gsoErrno !== 0) {
      this.#refused("UDP_SEGMENT", udp.gsoErrno);
      this.#gsoLogged = udp;
    }
    if (udp.groErrno !== 0) this.#refused("UDP_GRO", udp.groErrno);
  }

  #refused(what: string, errno: number): void {
    log.warning("The kernel refused {offload} ({errno}); using per-packet I/O for it", {
      offload: what,
      errno: errnoName(errno),
    });
  }

  /** Takes up to `n` slots into the u32 array at `ptr`; returns how many. */
  #alloc(ptr: number, n: number): number {
    const got = this.#pool.allocBatch(ptr, n);
    if (got < n) this.counters.poolRefused += n - got;
    return got;
  }

  /** Returns the slots at `ptr[from..n)` to the pool. */
  #freeTail(ptr: number, from: number, n: number): void {
    if (n > from) this.#pool.freeBatch(ptr + from * 4, n - from);
  }

  /** One batch UDP → decrypt → TUN. Returns datagrams received (0 = socket drained). */
  pumpUdp(): number {
    if (this.#udp.gro) return this.#pumpUdpGro();
    const p = this.#p;
    const got0 = this.#alloc(p.rxOffs, BATCH);
    if (got0 === 0) return 0;
    const n = this.#udp.recvBatch(
      this.#pool,
      this.#rxOffs,
      this.#rxLens,
      p.names,
      NAME_STRIDE,
      got0,
    );
    this.#freeTail(p.rxOffs, n, got0);
    if (n === 0) return 0;
    this.counters.udpReceived += n;
    for (let i = 0; i < n; i++) {
      // recvBatch marks datagrams that did not fit a slot; length 0 makes
      // decrypt drop and count them as truncated.
      if (this.#rxLens[i] === UDP_TRUNCATED) {
        this.counters.truncated++;
        this.#rxLens[i] = 0;
      }
      this.#rxNames[i] = p.names + i * NAME_STRIDE;
    }
    this.#wasm.ts_decrypt_batch(p.rxOffs, p.rxLens, p.rxPeers, p.kps, p.names, NAME_STRIDE, n);
    this.#deliver(n);
    this.#pool.freeBatch(p.rxOffs, n);
    return n;
  }

  /**
   * UDP_GRO receive: up to {@link RX_JUMBOS} messages, each a run of datagrams of one size in a
   * jumbo buffer; datagrams are decrypted where they are, {@link RX_CAP} at a time.
   */
  #pumpUdpGro(): number {
    const p = this.#p, udp = this.#udp, jl = this.#jumboLen, slot = this.#pool.slotSize;
    const groMsgs = udp.groMessages, groDgrams = udp.groDatagrams;
    const m = udp.recvGro(
      this.#pool,
      this.#rxJumbo,
      jl,
      RX_JUMBOS,
      this.#msgLens,
      this.#msgGso,
      p.names,
      NAME_STRIDE,
    );
    if (m === 0) return 0;
    this.counters.udpGroReceived += udp.groMessages - groMsgs;
    this.counters.udpGroDatagrams += udp.groDatagrams - groDgrams;
    const offs = this.#rxOffs, lens = this.#rxLens, names = this.#rxNames;
    let total = 0, msg = 0, at = 0;
    while (msg < m) {
      let n = 0;
      while (msg < m && n < RX_CAP) {
        const len = this.#msgLens[msg];
        if (len === UDP_TRUNCATED) {
          this.counters.truncated++;
          msg++;
          continue;
        }
        const gso = this.#msgGso[msg];
        const size = gso > 0 ? gso : len > 0 ? len : 1;
        const base = this.#rxJumbo + msg * jl, name = p.names + msg * NAME_STRIDE;
        do {
          offs[n] = base + at;
          lens[n] = Math.min(size, len - at);
          // Longer than a slot: what recvBatch would have cut (MSG_TRUNC); length 0 makes
          // decrypt drop and count it as truncated, as there.
          if (lens[n] > slot) {
            this.counters.truncated++;
            lens[n] = 0;
          }
          names[n] = name;
          n++;
          at += size;
        } while (at < len && n < RX_CAP);
        if (at >= len) {
          msg++;
          at = 0;
        }
      }
      total += n;
      this.#wasm.ts_decrypt_batch_names(p.rxOffs, p.rxLens, p.rxPeers, p.kps, p.rxNames, n);
      this.#deliver(n);
    }
    this.counters.udpReceived += total;
    return total;
  }

  /** After decryption: hooks for handshakes and authenticated packets, then the TUN writes. */
  #deliver(n: number): void {
    const hooks = this.#hooks;
    let w = 0;
    // The run of packets from one peer on one keypair not yet reported (peer -1: none).
    let runPeer = -1, runKp = -1, runData = 0;
    // No views are cached across hooks: a hook may allocate, grow the memory
    // and so replace every view (onRemap rebuilds the fields read here).
    for (let i = 0; i < n; i++) {
      const len = this.#rxLensI[i];
      if (len === HANDSHAKE) {
        if (runPeer >= 0) hooks.onReceived(runPeer, runKp, runData);
        runPeer = -1;
        // decrypt only says HANDSHAKE for the exact size of types 1, 2, 3.
        const type = this.#pool.u8[this.#rxOffs[i]];
        const size = type === 1 ? 148 : type === 2 ? 92 : 64;
        hooks.onHandshakeMessage(this.#rxOffs[i], size, this.#rxNames[i]);
        continue;
      }
      const peer = this.#rxPeers[i];
      if (peer >= 0) {
        const kp = this.#kps[i];
        if (peer !== runPeer || kp !== runKp) {
          if (runPeer >= 0) hooks.onReceived(runPeer, runKp, runData);
          runPeer = peer;
          runKp = kp;
          runData = 0;
        }
        if (len > 0) runData++;
      }
      if (len > 0) {
        this.#tunOffs[w] = this.#rxOffs[i];
        this.#tunLens[w] = len;
        w++;
      }
    }
    if (runPeer >= 0) hooks.onReceived(runPeer, runKp, runData);
    if (w === 0) return;
    if (!this.#coalesce) {
      const wrote = this.#tun.writeBatch(this.#pool, this.#tunOffs, this.#tunLens, w);
      this.counters.tunWritten += wrote;
      this.counters.tunDropped += w - wrote;
      return;
    }
    this.#writeUnits(w);
  }

  /** Writes packets `tunOffs/tunLens[0..w)` as coalesced units. */
  #writeUnits(w: number): void {
    const p = this.#p, pool = this.#pool, tun = this.#tun;
    const units = this.#wasm.ts_tun_plan(p.tunOffs, p.tunLens, w, p.units, p.pieces, p.unitHdrs, 1);
    if (units < 0) throw new RangeError(`ts_tun_plan(${w}) failed: code ${units}`);
    const superW = tun.gsoWrites, coalesced = tun.gsoWritePackets;
    const done = tun.writeUnits(pool, this.#units, this.#pieces, units, this.#written);
    this.counters.tunSuperWritten += tun.gsoWrites - superW;
    this.counters.tunCoalesced += tun.gsoWritePackets - coalesced;
    let wrote = this.#written.packets;
    if (done < units && tun.gsoWriteErrno !== 0) {
      // The kernel refused a super-packet: no more coalescing; this unit's packets and
      // everything after it are still untouched, so write them one by one.
      this.#coalesce = false;
      this.counters.offloadFallbacks++;
      this.#refused("a coalesced TUN write", tun.gsoWriteErrno);
      const first = this.#units[4 * done + 2];
      const end = this.#units[4 * (units - 1) + 2] + this.#units[4 * (units - 1) + 3];
      const pieces = this.#pieces;
      let k = 0;
      for (let piece = first; piece < end; piece++) {
        const pkt = pieces[3 * piece + 2];
        this.#retryOffs[k] = this.#tunOffs[pkt];
        this.#retryLens[k] = this.#tunLens[pkt];
        k++;
      }
      wrote += tun.writeBatch(pool, this.#retryOffs, this.#retryLens, k);
    }
    this.counters.tunWritten += wrote;
    this.counters.tunDropped += w - wrote;
  }

  /** One batch TUN → encrypt → UDP. Returns packets read (0 = TUN drained). */
  pumpTun(): number {
    if (this.#tso) return this.#pumpTunTso();
    const p = this.#p;
    const got0 = this.#alloc(p.offs, BATCH);
    if (got0 === 0) return 0;
    const n = this.#tun.readBatch(this.#pool, this.#offs, this.#lens, got0);
    this.#freeTail(p.offs, n, got0);
    if (n === 0) return 0;
    this.counters.tunRead += n;
    this.#sealAndSend(n);
    return n;
  }

  /** TSO: reads (super-)packets, cuts them into segments in WASM, then encrypts and sends. */
  #pumpTunTso(): number {
    const p = this.#p, pool = this.#pool, tun = this.#tun;
    const got0 = this.#alloc(p.readOffs, BATCH);
    if (got0 === 0) return 0;
    const cap = TunDevice.capacity(pool);
    const gsoReads = tun.gsoReads;
    const n = tun.readOffloadBatch(
      pool,
      this.#readOffs,
      this.#readLens,
      this.#tails,
      got0,
      cap,
      p.hdrs,
      this.#txTail,
      TX_CAP,
      TX_RESERVE,
    );
    this.#freeTail(p.readOffs, n, got0);
    if (n === 0) return 0;
    this.counters.tunRead += n;
    for (let i = 0; i < n; i++) {
      if (this.#readLens[i] === TUN_TRUNCATED) this.counters.truncated++;
    }
    const k = this.#wasm.ts_tun_ingest(
      p.readOffs,
      p.readLens,
      p.tails,
      p.hdrs,
      n,
      cap,
      p.offs,
      p.lens,
      TX_CAP,
    );
    pool.refresh(); // segment slots may have grown the pool
    this.counters.tunSuperRead += tun.gsoReads - gsoReads;
    this.#wasm.ts_offload_stats(p.stats);
    const s = this.#stats;
    this.counters.tunSegments = s[1];
    this.counters.tunChecksums = s[2];
    if (k > 0) this.#sealAndSend(k);
    return n;
  }

  /**
   * Encrypts `offs/lens[0..n)` (IP packets at off+headroom; length 0 = keepalive
   * for `peers[i]`) and sends them; frees every slot not kept by `onNoKey`.
   */
  #sealAndSend(n: number): void {
    const p = this.#p;
    const pool = this.#pool;
    this.#wasm.ts_encrypt_batch(p.offs, p.lens, p.peers, n, this.mtu);
    let s = 0;
    let f = 0;
    // The run of packets to one peer not yet reported (peer -1: none).
    let runPeer = -1, runData = 0;
    // Views are read through the fields each time: onNoKey may start a
    // handshake, whose allocation can grow the memory and replace them.
    for (let i = 0; i < n; i++) {
      const len = this.#lensI[i];
      const peer = this.#peers[i];
      const off = this.#offs[i];
      if (len > 0) {
        const nameLen = this.#wasm.ts_peer_endpoint_len(peer);
        if (nameLen === 0) {
          this.counters.noEndpoint++;
          this.#free[f++] = off;
          continue;
        }
        this.#sendOffs[s] = off;
        this.#sendLens[s] = len;
        this.#nameOffs[s] = this.#endpointPtr[peer];
        this.#nameLens[s] = nameLen;
        s++;
        if (peer !== runPeer) {
          if (runPeer >= 0) this.#hooks.onSent(runPeer, runData);
          runPeer = peer;
          runData = 0;
        }
        if (len > 32) runData++; // 32 = header + tag: a keepalive
      } else if (
        (len === E_NO_KEY || len === E_KEY_EXPIRED) &&
        this.#hooks.onNoKey(peer, off, this.#stagedLen(off))
      ) {
        // kept by the peer's staged queue until a handshake completes
      } else {
        this.#free[f++] = off;
      }
    }
    if (runPeer >= 0) this.#hooks.onSent(runPeer, runData);
    if (s > 0) {
      const udp = this.#udp;
      let sent: number;
      if (udp.gso) {
        const msgs = udp.gsoMessages, dgrams = udp.gsoDatagrams;
        sent = udp.sendGso(pool, this.#sendOffs, this.#sendLens, this.#nameOffs, this.#nameLens, s);
        this.counters.udpGsoSends += udp.gsoMessages - msgs;
        this.counters.udpGsoDatagrams += udp.gsoDatagrams - dgrams;
        if (!udp.gso && this.#gsoLogged !== udp) {
          this.#gsoLogged = udp;
          this.counters.offloadFallbacks++;
          this.#refused("UDP_SEGMENT", udp.gsoErrno);
        }
      } else {
        sent = 0;
        for (let i = 0; i < s; i += BATCH) {
          sent += udp.sendBatch(
            pool,
            this.#sendOffs,
            this.#sendLens,
            this.#nameOffs,
            this.#nameLens,
            Math.min(BATCH, s - i),
            i,
          );
        }
      }
      this.counters.udpSent += sent;
      this.counters.sendDropped += s - sent;
      pool.freeBatch(p.sendOffs, s);
    }
    if (f > 0) pool.freeBatch(p.free, f);
  }

  /** IP length of the untouched packet in slot `off` (E_NO_KEY leaves it as read). */
  #stagedLen(off: number): number {
    const u8 = this.#pool.u8;
    const at = off + this.#pool.headroom;
    const v = u8[at] >> 4;
    return v === 4 ? (u8[at + 2] << 8) | u8[at + 3] : 40 + ((u8[at + 4] << 8) | u8[at + 5]);
  }

  /**
   * Encrypts and sends slots the caller owns: staged packets (`lens[i]` = IP
   * length) or keepalives (`lens[i]` = 0) for `peer`. Up to BATCH at a time;
   * the slots are consumed (sent, dropped, or staged again by `onNoKey`).
   */
  sendOwned(peer: number, offs: ArrayLike<number>, lens: ArrayLike<number>, n: number): void {
    for (let start = 0; start < n; start += BATCH) {
      const k = Math.min(BATCH, n - start);
      for (let i = 0; i < k; i++) {
        this.#offs[i] = offs[start + i];
        this.#lens[i] = lens[start + i];
        this.#peers[i] = peer;
      }
      this.#sealAndSend(k);
    }
  }

  /** Sends a keepalive (empty transport message) to `peer` now. */
  sendKeepalive(peer: number): void {
    const off = this.#wasm.ts_pool_alloc();
    this.#pool.refresh();
    if (off === 0) {
      this.counters.poolRefused++;
      return;
    }
    this.#offs[0] = off;
    this.#lens[0] = 0;
    this.#peers[0] = peer;
    this.#sealAndSend(1);
  }

  /**
   * Sends `len` bytes from slot `off` (a handshake message written at the slot
   * start) to `peer`'s endpoint; frees the slot. Returns false without endpoint.
   */
  sendRaw(peer: number, off: number, len: number): boolean {
    const nameLen = this.#wasm.ts_peer_endpoint_len(peer);
    let ok = false;
    if (nameLen > 0) {
      ok = this.#udp.sendTo(this.#pool, off, len, this.#endpointPtr[peer], nameLen) === len;
      if (ok) this.counters.udpSent++;
      else this.counters.sendDropped++;
    } else {
      this.counters.noEndpoint++;
    }
    this.#pool.tryFree(off);
    return ok;
  }

  /** Sends `len` bytes from slot `off` to the sockaddr at `nameOff` (a reply to its source); frees the slot. */
  replyRaw(off: number, len: number, nameOff: number, nameLen: number): void {
    if (this.#udp.sendTo(this.#pool, off, len, nameOff, nameLen) === len) this.counters.udpSent++;
    else this.counters.sendDropped++;
    this.#pool.tryFree(off);
  }
}
