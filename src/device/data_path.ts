/**
 * The hot path: batches of packets between the TUN device and the UDP socket, in place in pool
 * slots. A batch either way is a handful of calls: one `alloc_batch`, the reads (TUN per packet
 * until EAGAIN, UDP one `recvmmsg`), one `encrypt_batch`/`decrypt_batch`, the writes (one
 * `sendmmsg`, TUN per packet), one `free_batch`.
 *
 * With offloads the same batches take far fewer system calls. TUN → UDP: a read returns a
 * super-packet of up to 64 KiB (head in a slot, rest in a jumbo buffer); `ts_tun_ingest` cuts it
 * into MSS-sized segments, a slot each (the send side's one copy: each segment needs its own
 * headers before and room for the tag after), and `sendGso` hands runs of equal-sized datagrams
 * to the kernel as one UDP_SEGMENT message. UDP → TUN: UDP_GRO receives runs into jumbo buffers,
 * each datagram is decrypted where it landed (a run owns its buffer until the TUN write, as a
 * packet owns its slot), and `ts_tun_plan` groups in-order TCP segments of a flow into one
 * super-packet `writev` each. A refused offload is logged once and the path goes on per packet,
 * dropping nothing. Packets longer than a small slot: src/device/large_packets.ts.
 * Nothing allocates per packet: offsets, lengths, peer ids and sockaddrs live in typed arrays over
 * the module's scratch area (`LAYOUT` in data_path_layout.ts, rebuilt only when memory grows);
 * per-packet events go to `DataHooks` as plain numbers. The TUN device and socket are reached
 * through {@link TunIo} and {@link UdpIo}: in production a `TunDevice` (or the proxy's netstack)
 * and a `UdpSocket`; tests run two paths against each other over tests/fixtures/memory_io.ts.
 *
 * @example
 * ```ts
 * import { DataPath } from "./data_path.ts";
 * import type { DataHooks } from "./data_hooks.ts";
 * import type { TunIo, UdpIo } from "./packet_io.ts";
 * import { instantiate } from "../wasm/module.ts";
 * import { SlabPool } from "../wasm/slab.ts";
 * declare const tun: TunIo, udp: UdpIo, hooks: DataHooks; // in a device: TUN, socket, handshakes
 * const wasm = instantiate();
 * const pool = SlabPool.create({}, wasm);
 * const path = new DataPath({ pool, wasm, tun, udp, hooks, mtu: 1420 });
 * let moved = 1;
 * while (moved > 0) moved = path.pumpUdp() + path.pumpTun(); // drain both sides
 * ```
 * @module
 */

import {
  dropReasonName,
  E_KEY_EXPIRED,
  E_NO_KEY,
  E_TRUNCATED,
  HANDSHAKE,
  N_CODES,
  packetCapacity,
} from "../wasm/abi.ts";
import { ScratchArrays } from "../wasm/scratch_arrays.ts";
import type { SlabPool } from "../wasm/slab.ts";
import { GsoWatch, logOffloads, logRefusedOffload } from "./offload_log.ts";
import { type JumboArea, TRUNCATED, type TunIo, type UdpIo } from "./packet_io.ts";
import { LargePackets } from "./large_packets.ts";
import { EndpointPointers } from "./endpoint_pointers.ts";
import type { DataHooks } from "./data_hooks.ts";
import { type DataPathCounters, namedCounts, newDataPathCounters } from "./data_path_counters.ts";
import {
  BATCH,
  type DataPathOptions,
  LAYOUT,
  NAME_STRIDE,
  type PathExports,
  RX_CAP,
  RX_JUMBOS,
  TX_CAP,
  TX_JUMBOS,
  TX_RESERVE,
} from "./data_path_layout.ts";

/** Moves batches between a TUN device and a UDP socket through the pool. */
export class DataPath {
  readonly counters: DataPathCounters = newDataPathCounters();
  /**
   * Received datagrams dropped, by code (index = −code): with `counters.rxAccepted` and
   * `rxHandshake` they account for every datagram received (the WASM drop counters mix both
   * directions).
   */
  readonly rxDrops: Float64Array = new Float64Array(N_CODES);

  readonly #pool: SlabPool;
  readonly #wasm: PathExports;
  readonly #tun: TunIo;
  #udp: UdpIo;
  readonly #hooks: DataHooks;
  /** TUN reads may be super-packets (TSO/USO accepted). */
  readonly #tso: boolean;
  /** Received TCP segments are coalesced into super-packet writes (vnet header, not refused). */
  #coalesce: boolean;
  /** What was said about UDP_SEGMENT refusals at run time (once each). */
  readonly #gsoWatch = new GsoWatch();
  /** Largest IP packet a slot takes (what a TUN read may put in one). */
  readonly #cap: number;
  /** The scratch arrays: offsets in `.ptr` (stable), views in `.v` (rebuilt after growth). */
  readonly #a: ScratchArrays<typeof LAYOUT>;
  /** Per-peer sockaddr location in WASM memory. */
  readonly #names: EndpointPointers;
  // Offload buffers: jumbo buffers for TUN tails and GRO receives, GRO message lengths and
  // segment sizes, packets to rewrite one by one after a refused super-packet write.
  readonly #jumboLen: number;
  readonly #txTail: JumboArea;
  readonly #rxJumbo: number;
  readonly #msgLens = new Uint32Array(RX_JUMBOS);
  readonly #msgGso = new Uint32Array(RX_JUMBOS);
  readonly #retryOffs = new Uint32Array(RX_CAP);
  readonly #retryLens = new Uint32Array(RX_CAP);
  readonly #written = { packets: 0 };
  /** Packets longer than a small slot: spare large slot, receive mode, MTU. */
  readonly #large: LargePackets;

  constructor(opts: DataPathOptions) {
    const { pool, wasm, tun, udp } = opts;
    this.#pool = pool;
    this.#wasm = wasm;
    this.#tun = tun;
    this.#udp = udp;
    this.#hooks = opts.hooks;
    this.#tso = tun.offloads !== 0;
    this.#coalesce = tun.vnetHdr;
    this.#cap = packetCapacity(pool);
    this.#a = new ScratchArrays(pool, LAYOUT);
    this.#names = new EndpointPointers(wasm, pool);
    const jumbo = wasm.ts_jumbo_ptr();
    this.#jumboLen = wasm.ts_jumbo_len();
    this.#txTail = { off: jumbo, len: this.#jumboLen, count: TX_JUMBOS };
    this.#rxJumbo = jumbo + TX_JUMBOS * this.#jumboLen;
    const drop = (code: number, n: number) => wasm.ts_drop_count(code, n);
    const areas = { txJumbo: jumbo, rxJumbo: this.#rxJumbo, jumboLen: this.#jumboLen };
    this.#large = new LargePackets(pool, drop, areas, opts.mtu);
    if (logOffloads(tun, udp, this.#tso, this.#coalesce)) this.#gsoWatch.logged = udp;
  }

  /** The device's tick: the MTU padding uses is re-read about once a second (large_packets.ts). */
  tick(now: number): void {
    this.#large.tick(now, this.#tun);
  }

  /** Returns what the path holds between batches (the spare large slot) to the pool. */
  release(): void {
    this.#large.release();
  }

  /** Swaps the UDP socket (listen port change). */
  set udp(udp: UdpIo) {
    this.#udp = udp;
  }

  /** {@link rxDrops} under their names (only the non-zero ones). */
  receivedDropped(): Record<string, number> {
    return namedCounts(this.rxDrops);
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
    const large = this.#large;
    if (this.#udp.gro || large.bigRx) return this.#pumpUdpGro();
    const a = this.#a, p = a.ptr, slot = this.#pool.slotSize;
    const got0 = this.#alloc(p.rxOffs, BATCH);
    if (got0 === 0) return 0;
    let v = a.v; // the alloc may have grown the memory: views read after it
    const ovOff = large.rxOverflowOff, ovLen = large.rxOverflowLen, pool = this.#pool;
    const n = this.#udp.recvBatch(
      pool,
      v.rxOffs,
      v.rxLens,
      p.names,
      NAME_STRIDE,
      got0,
      ovOff,
      ovLen,
    );
    this.#freeTail(p.rxOffs, n, got0);
    if (n === 0) return 0;
    this.counters.udpReceived += n;
    let big = false;
    for (let i = 0; i < n; i++) {
      // recvBatch marks datagrams that did not fit a slot and its overflow; length 0 makes
      // decrypt drop and count them as truncated.
      const len = v.rxLens[i];
      if (len === TRUNCATED) {
        this.counters.truncated++;
        v.rxLens[i] = 0;
      } else if (len > slot) big = true;
      v.rxNames[i] = p.names + i * NAME_STRIDE;
    }
    if (big) {
      // Longer than a slot: the last one is made whole in a jumbo buffer (large_packets.ts).
      const cut = large.fixReceive(v.rxOffs, v.rxLens, n);
      this.counters.truncated += cut;
      this.counters.udpBigReceived += cut + 1;
    }
    this.#wasm.ts_decrypt_batch(p.rxOffs, p.rxLens, p.rxPeers, p.kps, p.names, NAME_STRIDE, n);
    this.#deliver(n);
    v = a.v; // delivering ran hooks
    if (big) large.restoreReceive(v.rxOffs);
    pool.freeBatch(p.rxOffs, n);
    return n;
  }

  /**
   * UDP_GRO receive: up to {@link RX_JUMBOS} messages, each a run of datagrams of one size in a
   * jumbo buffer; datagrams are decrypted where they are, {@link RX_CAP} at a time.
   */
  #pumpUdpGro(): number {
    const a = this.#a, p = a.ptr, udp = this.#udp, jl = this.#jumboLen;
    const slot = this.#pool.slotSize;
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
    let total = 0, msg = 0, at = 0;
    while (msg < m) {
      // Views read per step: delivering the previous step ran hooks, which may grow the memory.
      const v = a.v, offs = v.rxOffs, lens = v.rxLens, names = v.rxNames;
      let n = 0;
      while (msg < m && n < RX_CAP) {
        const len = this.#msgLens[msg];
        if (len === TRUNCATED) {
          // Counted as one received datagram, dropped as truncated (its size is unknown).
          this.counters.truncated++;
          this.counters.udpReceived++;
          this.rxDrops[-E_TRUNCATED]++;
          msg++;
          continue;
        }
        const gso = this.#msgGso[msg];
        const size = gso > 0 ? gso : len > 0 ? len : 1;
        const base = this.#rxJumbo + msg * jl, name = p.names + msg * NAME_STRIDE;
        do {
          offs[n] = base + at;
          lens[n] = Math.min(size, len - at);
          // Longer than a slot: decrypted where it is all the same (a jumbo buffer holds any).
          if (lens[n] > slot) {
            this.counters.udpBigReceived++;
            this.#large.seen++;
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
    const hooks = this.#hooks, a = this.#a;
    let w = 0;
    // The run of packets from one peer on one keypair not yet reported (peer -1: none).
    let runPeer = -1, runKp = -1, runData = 0;
    // A hook may allocate, grow the memory and so replace every view: `v` is read again after
    // each hook call.
    let v = a.v;
    for (let i = 0; i < n; i++) {
      const len = v.rxLensI[i];
      if (len >= 0) this.counters.rxAccepted++;
      else if (len !== HANDSHAKE) this.rxDrops[-len & (N_CODES - 1)]++;
      if (len === HANDSHAKE) {
        this.counters.rxHandshake++;
        if (runPeer >= 0) hooks.onReceived(runPeer, runKp, runData);
        runPeer = -1;
        v = a.v;
        // decrypt only says HANDSHAKE for the exact size of types 1, 2, 3.
        const off = v.rxOffs[i];
        const type = this.#pool.u8[off];
        const size = type === 1 ? 148 : type === 2 ? 92 : 64;
        hooks.onHandshakeMessage(off, size, v.rxNames[i]);
        v = a.v;
        continue;
      }
      const peer = v.rxPeers[i];
      if (peer >= 0) {
        const kp = v.kps[i];
        if (peer !== runPeer || kp !== runKp) {
          if (runPeer >= 0) {
            hooks.onReceived(runPeer, runKp, runData);
            v = a.v;
          }
          runPeer = peer;
          runKp = kp;
          runData = 0;
        }
        if (len > 0) runData++;
      }
      if (len > 0) {
        v.tunOffs[w] = v.rxOffs[i];
        v.tunLens[w] = len;
        w++;
      }
    }
    if (runPeer >= 0) hooks.onReceived(runPeer, runKp, runData);
    if (w === 0) return;
    if (!this.#coalesce) {
      v = a.v;
      const wrote = this.#tun.writeBatch(this.#pool, v.tunOffs, v.tunLens, w);
      this.counters.tunWritten += wrote;
      this.counters.tunDropped += w - wrote;
      if (this.#tun.keepsWrites) this.#reclaim(n, w);
      return;
    }
    this.#writeUnits(w);
  }

  /** A TUN that keeps the slots it is given (the netstack) put fresh ones in `tunOffs`: free those. */
  #reclaim(n: number, w: number): void {
    const v = this.#a.v; // the write may have grown the memory
    for (let i = 0, k = 0; i < n && k < w; i++) if (v.rxLensI[i] > 0) v.rxOffs[i] = v.tunOffs[k++];
  }

  /** Writes packets `tunOffs/tunLens[0..w)` as coalesced units. */
  #writeUnits(w: number): void {
    const a = this.#a, p = a.ptr, pool = this.#pool, tun = this.#tun;
    const units = this.#wasm.ts_tun_plan(p.tunOffs, p.tunLens, w, p.units, p.pieces, p.unitHdrs, 1);
    if (units < 0) throw new RangeError(`ts_tun_plan(${w}) failed: ${dropReasonName(units)}`);
    const v = a.v;
    const superW = tun.gsoWrites, coalesced = tun.gsoWritePackets;
    const done = tun.writeUnits(pool, v.units, v.pieces, units, this.#written);
    this.counters.tunSuperWritten += tun.gsoWrites - superW;
    this.counters.tunCoalesced += tun.gsoWritePackets - coalesced;
    let wrote = this.#written.packets;
    if (done < units && tun.gsoWriteErrno !== 0) {
      // The kernel refused a super-packet: no more coalescing; this unit's packets and
      // everything after it are still untouched, so write them one by one.
      this.#coalesce = false;
      this.counters.offloadFallbacks++;
      logRefusedOffload("a coalesced TUN write", tun.gsoWriteErrno);
      const first = v.units[4 * done + 2];
      const end = v.units[4 * (units - 1) + 2] + v.units[4 * (units - 1) + 3];
      const pieces = v.pieces;
      let k = 0;
      for (let piece = first; piece < end; piece++) {
        const pkt = pieces[3 * piece + 2];
        this.#retryOffs[k] = v.tunOffs[pkt];
        this.#retryLens[k] = v.tunLens[pkt];
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
    const a = this.#a, p = a.ptr, pool = this.#pool, large = this.#large, cap = this.#cap;
    const got0 = this.#alloc(p.offs, BATCH);
    if (got0 === 0) return 0;
    let v = a.v, n = 0;
    for (;;) {
      // A read longer than a slot goes on into a large slot and ends the readBatch call.
      const from = n, ovOff = large.tunOverflowOff, ovLen = large.tunOverflowLen;
      n = this.#tun.readBatch(pool, v.offs, v.lens, got0, from, ovOff, ovLen);
      v = a.v; // the netstack's output may grow the memory
      if (n === from) break;
      const len = v.lens[n - 1];
      if (len <= cap || len === TRUNCATED) break;
      const small = v.offs[n - 1];
      const big = large.moveTunRead(small, len); // may grow the memory
      v = a.v;
      this.counters.tunBigRead++;
      if (big === 0) n--; // dropped (counted): freed with the unused slots below
      else {
        v.offs[n - 1] = big;
        pool.tryFree(small);
      }
      if (n >= got0) break;
    }
    this.#freeTail(p.offs, n, got0);
    if (n === 0) return 0;
    this.counters.tunRead += n;
    this.#sealAndSend(n);
    return n;
  }

  /** TSO: reads (super-)packets, cuts them into segments in WASM, then encrypts and sends. */
  #pumpTunTso(): number {
    const a = this.#a, p = a.ptr, pool = this.#pool, tun = this.#tun;
    const got0 = this.#alloc(p.readOffs, BATCH);
    if (got0 === 0) return 0;
    const cap = this.#cap;
    const gsoReads = tun.gsoReads;
    let v = a.v;
    const n = tun.readOffloadBatch(
      pool,
      v.readOffs,
      v.readLens,
      v.tails,
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
      if (v.readLens[i] === TRUNCATED) this.counters.truncated++;
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
    v = a.v;
    this.counters.tunSuperRead += tun.gsoReads - gsoReads;
    this.#wasm.ts_offload_stats(p.stats);
    const s = v.stats;
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
    const a = this.#a, p = a.ptr;
    const pool = this.#pool, wasm = this.#wasm, hooks = this.#hooks;
    wasm.ts_encrypt_batch(p.offs, p.lens, p.peers, n, this.#large.mtu);
    let s = 0;
    let f = 0;
    // The run of packets to one peer not yet reported (peer -1: none).
    let runPeer = -1, runData = 0;
    // onNoKey may start a handshake, whose allocation can grow the memory and replace the
    // views (onSent can too): `v` is read again after each hook call.
    let v = a.v;
    for (let i = 0; i < n; i++) {
      const len = v.lensI[i];
      const peer = v.peers[i];
      const off = v.offs[i];
      if (len > 0) {
        const nameLen = wasm.ts_peer_endpoint_len(peer);
        if (nameLen === 0) {
          this.counters.noEndpoint++;
          v.free[f++] = off;
          continue;
        }
        const name = this.#names.of(peer);
        v = a.v; // the first time for a peer id it asks the module (which grows nothing)
        v.sendOffs[s] = off;
        v.sendLens[s] = len;
        v.nameOffs[s] = name;
        v.nameLens[s] = nameLen;
        s++;
        if (peer !== runPeer) {
          if (runPeer >= 0) {
            hooks.onSent(runPeer, runData);
            v = a.v;
          }
          runPeer = peer;
          runData = 0;
        }
        if (len > 32) runData++; // 32 = header + tag: a keepalive
      } else if (len === E_NO_KEY || len === E_KEY_EXPIRED) {
        const kept = hooks.onNoKey(peer, off, this.#stagedLen(off));
        v = a.v;
        // kept: the peer's staged queue holds the slot until a handshake completes
        if (!kept) v.free[f++] = off;
      } else {
        v.free[f++] = off;
      }
    }
    if (runPeer >= 0) hooks.onSent(runPeer, runData);
    v = a.v;
    if (s > 0) {
      const udp = this.#udp;
      let sent: number;
      if (udp.gso) {
        const msgs = udp.gsoMessages, dgrams = udp.gsoDatagrams;
        sent = udp.sendGso(pool, v.sendOffs, v.sendLens, v.nameOffs, v.nameLens, s);
        this.counters.udpGsoSends += udp.gsoMessages - msgs;
        this.counters.udpGsoDatagrams += udp.gsoDatagrams - dgrams;
        this.counters.offloadFallbacks += this.#gsoWatch.afterSend(udp);
      } else {
        sent = 0;
        for (let i = 0; i < s; i += BATCH) {
          sent += udp.sendBatch(
            pool,
            v.sendOffs,
            v.sendLens,
            v.nameOffs,
            v.nameLens,
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
      const v = this.#a.v;
      for (let i = 0; i < k; i++) {
        v.offs[i] = offs[start + i];
        v.lens[i] = lens[start + i];
        v.peers[i] = peer;
      }
      this.#sealAndSend(k);
    }
  }

  /** Sends a keepalive (empty transport message) to `peer` now. */
  sendKeepalive(peer: number): void {
    const off = this.#pool.allocSlot();
    if (off === 0) {
      this.counters.poolRefused++;
      return;
    }
    const v = this.#a.v;
    v.offs[0] = off;
    v.lens[0] = 0;
    v.peers[0] = peer;
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
      ok = this.#udp.sendTo(this.#pool, off, len, this.#names.of(peer), nameLen) === len;
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
