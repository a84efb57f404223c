/**
 * The hot path: batches of packets between the TUN device and the UDP socket,
 * in place in pool slots. One batch in either direction is a handful of
 * calls: one `alloc_batch`, the reads (TUN per packet until EAGAIN, UDP one
 * `recvmmsg`), one `encrypt_batch`/`decrypt_batch` into WASM, the writes (one
 * `sendmmsg`, TUN per packet), one `free_batch`.
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

import { E_KEY_EXPIRED, E_NO_KEY, HANDSHAKE } from "../drop_reason.ts";
import type { SlabPool } from "../slab.ts";
import type { TunDevice } from "../tun_device.ts";
import type { UdpSocket } from "../udp_socket.ts";

/** Most packets moved per batch and direction (recvmmsg/sendmmsg vector). */
export const BATCH = 128;
/** Bytes reserved per source sockaddr in the receive batch. */
export const NAME_STRIDE = 32;

/** Per-packet callbacks; called with numbers only. */
export interface DataHooks {
  /** A handshake or cookie message sits in slot `off` (datagram from `nameOff`). The slot is freed after. */
  onHandshakeMessage(off: number, len: number, nameOff: number): void;
  /** An authenticated transport packet from `peer` on keypair slot `kp`; `len` 0 = keepalive. */
  onReceived(peer: number, kp: number, len: number): void;
  /** A transport packet (keepalive when `len` is 0) went out to `peer`. */
  onSent(peer: number, len: number): void;
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
}

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
  };
  mtu: number;
  readonly #pool: SlabPool;
  readonly #tun: TunDevice;
  #udp: UdpSocket;
  readonly #hooks: DataHooks;
  // Scratch offsets (stable) and views over them (rebuilt after growth).
  // Receive (UDP→TUN) and send (TUN→UDP) sides have their own arrays, so a
  // hook that sends (a handshake completing flushes staged packets) never
  // clobbers the receive batch being walked.
  readonly #p = {
    rxOffs: 0,
    rxLens: 0,
    rxPeers: 0,
    kps: 0,
    names: 0,
    tunOffs: 0,
    tunLens: 0,
    offs: 0,
    lens: 0,
    peers: 0,
    sendOffs: 0,
    sendLens: 0,
    nameOffs: 0,
    nameLens: 0,
    free: 0,
  };
  #rxOffs!: Uint32Array;
  #rxLens!: Uint32Array;
  #rxLensI!: Int32Array;
  #rxPeers!: Int32Array;
  #kps!: Int32Array;
  #tunOffs!: Uint32Array;
  #tunLens!: Uint32Array;
  #offs!: Uint32Array;
  #lens!: Uint32Array;
  #lensI!: Int32Array;
  #peers!: Int32Array;
  #sendOffs!: Uint32Array;
  #sendLens!: Uint32Array;
  #nameOffs!: Uint32Array;
  #nameLens!: Uint32Array;
  #free!: Uint32Array;
  /** Per-peer sockaddr location and length in WASM memory. */
  #endpointPtr: Uint32Array;

  constructor(
    pool: SlabPool,
    tun: TunDevice,
    udp: UdpSocket,
    hooks: DataHooks,
    opts: { mtu: number; maxPeers: number },
  ) {
    this.#pool = pool;
    this.#tun = tun;
    this.#udp = udp;
    this.#hooks = hooks;
    this.mtu = opts.mtu;
    const p = this.#p;
    for (const k of Object.keys(p) as (keyof typeof p)[]) {
      p[k] = pool.scratch(BATCH * (k === "names" ? NAME_STRIDE : 4));
    }
    this.#endpointPtr = new Uint32Array(opts.maxPeers);
    for (let i = 0; i < opts.maxPeers; i++) {
      this.#endpointPtr[i] = pool.wasm.ts_peer_endpoint_ptr(i);
    }
    this.#views();
    pool.onRemap(() => this.#views());
  }

  /** Swaps the UDP socket (listen port change). */
  set udp(udp: UdpSocket) {
    this.#udp = udp;
  }

  #views(): void {
    const pool = this.#pool;
    const p = this.#p;
    this.#rxOffs = pool.u32At(p.rxOffs, BATCH);
    this.#rxLens = pool.u32At(p.rxLens, BATCH);
    this.#rxLensI = pool.i32At(p.rxLens, BATCH);
    this.#rxPeers = pool.i32At(p.rxPeers, BATCH);
    this.#kps = pool.i32At(p.kps, BATCH);
    this.#tunOffs = pool.u32At(p.tunOffs, BATCH);
    this.#tunLens = pool.u32At(p.tunLens, BATCH);
    this.#offs = pool.u32At(p.offs, BATCH);
    this.#lens = pool.u32At(p.lens, BATCH);
    this.#lensI = pool.i32At(p.lens, BATCH);
    this.#peers = pool.i32At(p.peers, BATCH);
    this.#sendOffs = pool.u32At(p.sendOffs, BATCH);
    this.#sendLens = pool.u32At(p.sendLens, BATCH);
    this.#nameOffs = pool.u32At(p.nameOffs, BATCH);
    this.#nameLens = pool.u32At(p.nameLens, BATCH);
    this.#free = pool.u32At(p.free, BATCH);
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
    const lens = this.#rxLensI;
    for (let i = 0; i < n; i++) {
      // recvBatch marks datagrams that did not fit a slot; length 0 makes
      // decrypt drop and count them as truncated.
      if (this.#rxLens[i] === 0xffffffff) {
        this.counters.truncated++;
        this.#rxLens[i] = 0;
      }
    }
    this.#pool.wasm.ts_decrypt_batch(p.rxOffs, p.rxLens, p.rxPeers, p.kps, p.names, NAME_STRIDE, n);
    let w = 0;
    const hooks = this.#hooks;
    const u8 = this.#pool.u8;
    for (let i = 0; i < n; i++) {
      const len = lens[i];
      if (len === HANDSHAKE) {
        // decrypt only says HANDSHAKE for the exact size of types 1, 2, 3.
        const type = u8[this.#rxOffs[i]];
        const size = type === 1 ? 148 : type === 2 ? 92 : 64;
        hooks.onHandshakeMessage(this.#rxOffs[i], size, p.names + i * NAME_STRIDE);
        continue;
      }
      const peer = this.#rxPeers[i];
      if (peer >= 0) hooks.onReceived(peer, this.#kps[i], len > 0 ? len : 0);
      if (len > 0) {
        this.#tunOffs[w] = this.#rxOffs[i];
        this.#tunLens[w] = len;
        w++;
      }
    }
    if (w > 0) {
      const wrote = this.#tun.writeBatch(this.#pool, this.#tunOffs, this.#tunLens, w);
      this.counters.tunWritten += wrote;
      this.counters.tunDropped += w - wrote;
    }
    this.#pool.freeBatch(p.rxOffs, n);
    return n;
  }

  /** One batch TUN → encrypt → UDP. Returns packets read (0 = TUN drained). */
  pumpTun(): number {
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

  /**
   * Encrypts `offs/lens[0..n)` (IP packets at off+headroom; length 0 = keepalive
   * for `peers[i]`) and sends them; frees every slot not kept by `onNoKey`.
   */
  #sealAndSend(n: number): void {
    const p = this.#p;
    const pool = this.#pool;
    pool.wasm.ts_encrypt_batch(p.offs, p.lens, p.peers, n, this.mtu);
    const lens = this.#lensI;
    let s = 0;
    let f = 0;
    for (let i = 0; i < n; i++) {
      const len = lens[i];
      const peer = this.#peers[i];
      const off = this.#offs[i];
      if (len > 0) {
        const nameLen = pool.wasm.ts_peer_endpoint_len(peer);
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
        this.#hooks.onSent(peer, len - 32);
      } else if (
        (len === E_NO_KEY || len === E_KEY_EXPIRED) &&
        this.#hooks.onNoKey(peer, off, this.#stagedLen(off))
      ) {
        // kept by the peer's staged queue until a handshake completes
      } else {
        this.#free[f++] = off;
      }
    }
    if (s > 0) {
      const sent = this.#udp.sendBatch(
        pool,
        this.#sendOffs,
        this.#sendLens,
        this.#nameOffs,
        this.#nameLens,
        s,
      );
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
    const off = this.#pool.wasm.ts_pool_alloc();
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
    const nameLen = this.#pool.wasm.ts_peer_endpoint_len(peer);
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
