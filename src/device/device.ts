/**
 * A WireGuard device: one TUN interface, one UDP socket, a slab pool and its
 * peers. The event loop drains both file descriptors with synchronous FFI
 * calls batch by batch (a call costs ~0.5 µs here) and awaits a nonblocking
 * `poll` only when both are idle (one promise per wake-up, ~65 µs), so under
 * load no promise is created per batch, let alone per packet.
 *
 * Transport packets never leave WASM memory: see {@link DataPath}. Handshake
 * and cookie messages are rare and handled here in TypeScript.
 *
 * @example
 * ```ts
 * // const dev = await Device.create({ name: "wg0", config });
 * // Deno.addSignalListener("SIGINT", () => dev.stop());
 * // await dev.run(); dev.close();
 * ```
 * @module
 */

import { type Cidr, cidrContains, formatCidr, maskCidr } from "../wg/cidr.ts";
import type { Config, Peer as ConfigPeer } from "../wg/config.ts";
import { CookieChecker, CookieVerdict } from "../wg/cookie_checker.ts";
import {
  consumeInitiation,
  consumeResponse,
  createInitiation,
  createResponse,
  deriveTransportKeys,
  type Handshake,
  type IndexAllocator,
  type LocalStatic,
} from "../wg/handshake.ts";
import type { KeypairInfo, KeypairSlotAllocator } from "../wg/keypair_rotation.ts";
import {
  MESSAGE_COOKIE_REPLY,
  MESSAGE_INITIATION,
  MESSAGE_RESPONSE,
  readU32LE,
} from "../wg/messages.ts";
import { REJECT_AFTER_TIME_MS, TimerAction } from "../wg/timers.ts";
import { wipe } from "../wg/primitives.ts";
import { logger } from "../log.ts";
import { type PoolStats, SlabPool } from "../wasm/slab.ts";
import { instantiate, type TunslabExports } from "../wasm/module.ts";
import { TunDevice } from "../tun_device.ts";
import { UdpSocket } from "../udp_socket.ts";
import { Poller } from "../poller.ts";
import { addAddress, addRoute, deleteRoute, setMtu, setTxQueueLen, setUp } from "../net_config.ts";
import { errno, libc } from "../ffi/libc.ts";
import {
  decodeEndpoint,
  type Endpoint,
  formatEndpoint,
  parseEndpoint,
  writeSockaddr,
} from "../endpoint.ts";
import { encodeBase64Key, publicKey } from "../wg/keys.ts";
import { DROP_REASONS } from "../wasm/abi.ts";
import { type DataHooks, DataPath, type DataPathCounters } from "./data_path.ts";
import { DevicePeer } from "./device_peer.ts";
import { IndexTable } from "./index_table.ts";
import { STAGED_MAX } from "./staged_queue.ts";

/** Most peers one device holds (WASM `MAX_PEERS`). */
export const MAX_PEERS = 1024;
/** Keypair slots in WASM (`MAX_KEYPAIRS`). */
export const MAX_KEYPAIRS = 4096;
/** Handshake messages per second above which the device is "under load" (wireguard-go: queue ≥ 128). */
export const UNDER_LOAD_PER_SECOND = 128;
/**
 * Packets the TUN ring holds for us to read (the kernel's default is 500). It is the
 * tunnel's only outbound queue: the kernel drops what does not fit while the one loop is
 * busy or descheduled. At 500 a saturated `--no-offload` tunnel on 2 busy CPUs lost ~13%
 * of its TCP segments to the full ring (1.33 Gbit/s, 8 streams); at 2048 none (1.47).
 * wireguard-go queues about as much (1024 before encryption + 1024 being encrypted).
 */
export const TUN_TX_QUEUE_LEN = 2048;
/** Longest the loop runs without giving the event loop a turn (signals, UAPI), ms. */
const YIELD_MS = 50;

/** Options of {@link Device.create}. */
export interface DeviceOptions {
  /** TUN interface name (≤ 15 bytes). */
  name: string;
  config: Config;
  /** Slab pool sizing. */
  pool?: { chunkSlots?: number; maxSlots?: number };
  /** Monotonic clock (ms); default `performance.now()`. */
  now?: () => number;
  /** Resolves an endpoint host name to an IP literal; default Deno.resolveDns (A, then AAAA). */
  resolve?: (host: string) => Promise<string>;
  /** TUN TSO/USO + UDP GSO/GRO where the kernel has them; default `config.interface.offload`. */
  offload?: boolean;
}

/** Handshake-path counters (the data path keeps its own). */
export interface HandshakeCounters {
  initiationsSent: number;
  initiationsReceived: number;
  responsesSent: number;
  responsesReceived: number;
  cookiesSent: number;
  cookiesReceived: number;
  /** Rejected handshake messages by reason. */
  rejected: Record<string, number>;
}

/** Per-peer figures for stats and `wg show`. */
export interface PeerStats {
  publicKey: string;
  endpoint: string | null;
  allowedIps: string[];
  rxBytes: number;
  txBytes: number;
  rxPackets: number;
  txPackets: number;
  lastHandshakeWallMs: number;
  handshakes: number;
  staged: number;
  persistentKeepalive: number;
}

/** Everything {@link Device.stats} reports. */
export interface DeviceStats {
  interface: string;
  listenPort: number;
  pool: PoolStats;
  data: DataPathCounters;
  handshake: HandshakeCounters;
  dropped: Record<string, number>;
  peers: PeerStats[];
}

const log = logger("device");

async function defaultResolve(host: string): Promise<string> {
  try {
    const a = await Deno.resolveDns(host, "A");
    if (a.length > 0) return a[0];
  } catch { /* try AAAA */ }
  const aaaa = await Deno.resolveDns(host, "AAAA");
  if (aaaa.length === 0) throw new Error(`cannot resolve endpoint host "${host}"`);
  return aaaa[0];
}

function isIpLiteral(host: string): boolean {
  return /^[0-9.]+$/.test(host) || host.includes(":");
}

/** A running WireGuard interface. */
export class Device {
  readonly name: string;
  readonly pool: SlabPool;
  readonly #wasm: TunslabExports;
  readonly tun: TunDevice;
  #udp: UdpSocket;
  #poller: Poller;
  /** A socket bound by a listen-port change, swapped in by the loop (never under a pending poll). */
  #pendingUdp: UdpSocket | undefined;
  /** Interface addresses: AllowedIPs they cover get no kernel route. */
  readonly #addresses: Cidr[];
  /** Kernel routes this device installed, by prefix text. */
  #routes = new Map<string, Cidr>();
  #fwmark = 0;
  readonly path: DataPath;
  readonly #now: () => number;
  #local: LocalStatic | null;
  readonly #checker: CookieChecker;
  readonly #peers: (DevicePeer | undefined)[] = new Array(MAX_PEERS);
  readonly #byKey = new Map<string, DevicePeer>();
  readonly #indices = new IndexTable<DevicePeer>();
  readonly #hsOwner = new Map<Handshake, DevicePeer>();
  readonly #kpFree: number[] = [];
  readonly #keysPtr: number;
  readonly #keys: () => Uint8Array;
  readonly #flushOffs = new Uint32Array(STAGED_MAX);
  readonly #flushLens = new Uint32Array(STAGED_MAX);
  readonly #mtu: number;
  #stopping = false;
  #running: Promise<void> | undefined;
  #loadWindowStart = 0;
  #loadCount = 0;
  #underLoadUntil = -Infinity;
  #lastTick = 0;
  #lastYield = 0;
  #lastSummary = 0;
  readonly counters: HandshakeCounters = {
    initiationsSent: 0,
    initiationsReceived: 0,
    responsesSent: 0,
    responsesReceived: 0,
    cookiesSent: 0,
    cookiesReceived: 0,
    rejected: {},
  };

  private constructor(
    name: string,
    wasm: TunslabExports,
    pool: SlabPool,
    tun: TunDevice,
    udp: UdpSocket,
    config: Config,
    now: () => number,
  ) {
    this.name = name;
    this.#wasm = wasm;
    this.pool = pool;
    this.tun = tun;
    this.#udp = udp;
    this.#now = now;
    this.#mtu = config.interface.mtu;
    this.#addresses = [...config.interface.addresses];
    const i = config.interface;
    this.#local = {
      privateKey: new Uint8Array(i.privateKey),
      publicKey: new Uint8Array(i.publicKey),
    };
    this.#checker = new CookieChecker(this.#local.publicKey);
    for (let k = MAX_KEYPAIRS - 1; k >= 0; k--) this.#kpFree.push(k);
    this.#keysPtr = pool.scratch(64);
    this.#keys = () => new Uint8Array(pool.memory.buffer, this.#keysPtr, 64);
    this.path = new DataPath(pool, wasm, tun, udp, this.#hooks(), {
      mtu: this.#mtu,
      maxPeers: MAX_PEERS,
    });
    this.#poller = new Poller([tun.fd, udp.fd]);
  }

  /**
   * Creates the TUN interface, sets addresses, MTU and routes, binds the UDP
   * socket and adds the peers. On failure everything made so far is closed.
   */
  static async create(opts: DeviceOptions): Promise<Device> {
    const { config, name } = opts;
    const now = opts.now ?? (() => performance.now());
    const resolve = opts.resolve ?? defaultResolve;
    // Resolve endpoints first: nothing to undo if a name does not resolve.
    const endpoints: (string | null)[] = [];
    for (const p of config.peers) {
      if (p.endpoint === null) endpoints.push(null);
      else {
        const host = isIpLiteral(p.endpoint.host)
          ? p.endpoint.host
          : await resolve(p.endpoint.host);
        endpoints.push(
          host.includes(":") ? `[${host}]:${p.endpoint.port}` : `${host}:${p.endpoint.port}`,
        );
      }
    }
    const wasm = instantiate();
    const pool = SlabPool.create(opts.pool, wasm);
    const mtu = config.interface.mtu;
    if (mtu < 576 || mtu > TunDevice.capacity(pool)) {
      throw new RangeError(
        `MTU ${mtu} out of range: 576 to ${TunDevice.capacity(pool)} (a packet must fit one slot)`,
      );
    }
    const offload = opts.offload ?? config.interface.offload;
    const tun = TunDevice.open(name, { offload });
    let udp: UdpSocket | undefined;
    try {
      const ifname = tun.name;
      setMtu(ifname, config.interface.mtu);
      setTxQueueLen(ifname, TUN_TX_QUEUE_LEN);
      let v4 = 0;
      for (const a of config.interface.addresses) {
        addAddress(ifname, formatCidr(a), { label: a.family === 4 ? v4++ : 0 });
      }
      setUp(ifname, true);
      udp = UdpSocket.bind({ port: config.interface.listenPort ?? 0, offload });
      const dev = new Device(ifname, wasm, pool, tun, udp, config, now);
      config.peers.forEach((p, k) => dev.addPeer(p, endpoints[k]));
      dev.#syncRoutes();
      const mark = config.interface.fwMark ?? 0;
      if (mark !== 0 && dev.setFwmark(mark) < 0) {
        throw new Error(`FwMark ${mark}: setsockopt(SO_MARK) refused (needs CAP_NET_ADMIN)`);
      }
      log.info("Interface {interface} up: listen port {listenPort}, {peers} peer(s), MTU {mtu}", {
        interface: ifname,
        listenPort: udp.port,
        peers: config.peers.length,
        mtu: config.interface.mtu,
        addresses: config.interface.addresses.map(formatCidr),
      });
      return dev;
    } catch (e) {
      udp?.close();
      tun.close();
      throw e;
    }
  }

  /** The UDP port in use. */
  get listenPort(): number {
    return (this.#pendingUdp ?? this.#udp).port;
  }

  /** Adds a peer from a config section; returns its id. */
  addPeer(cfg: ConfigPeer, endpoint: string | null): number {
    let id = 0;
    while (id < MAX_PEERS && this.#peers[id] !== undefined) id++;
    if (id === MAX_PEERS) throw new RangeError(`more than ${MAX_PEERS} peers`);
    const slots: KeypairSlotAllocator = {
      allocate: () => {
        const k = this.#kpFree.pop();
        if (k === undefined) throw new RangeError("keypair slots exhausted");
        return k;
      },
      release: (kp: KeypairInfo) => {
        this.#wasm.ts_keypair_clear(kp.slot);
        this.#indices.release(kp.localIndex);
        this.#kpFree.push(kp.slot);
      },
    };
    const peer = new DevicePeer(id, this.#local, cfg, slots, this.#now);
    const wasm = this.#wasm;
    wasm.ts_peer_reset(id);
    this.#peers[id] = peer;
    this.#byKey.set(peer.name, peer);
    this.#hsOwner.set(peer.handshake, peer);
    for (const c of cfg.allowedIps) this.#insertRoute(c, id);
    if (endpoint !== null) this.setEndpoint(peer, endpoint);
    peer.timers.start();
    if (cfg.persistentKeepalive > 0) this.#sendKeepalive(peer);
    return id;
  }

  #insertRoute(c: Cidr, id: number): void {
    this.#writeAddr(c.bytes); // 16 bytes of the key scratch hold an address
    const rc = this.#wasm.ts_route_insert(c.family, this.#keysPtr, c.cidr, id);
    if (rc < 0) throw new RangeError(`AllowedIPs ${formatCidr(c)}: ts_route_insert failed (${rc})`);
  }

  /** Sets a peer's endpoint from text (`1.2.3.4:51820`, `[fd00::1]:51820`). */
  setEndpoint(peer: DevicePeer, endpoint: string): void {
    const ep = parseEndpoint(endpoint);
    const ptr = this.#wasm.ts_peer_endpoint_ptr(peer.id);
    const len = writeSockaddr(this.pool.u8, ptr, ep);
    this.#wasm.ts_peer_set_endpoint_len(peer.id, len);
  }

  /** A peer's current endpoint, or null. */
  endpointOf(peer: DevicePeer): Endpoint | null {
    const len = this.#wasm.ts_peer_endpoint_len(peer.id);
    if (len === 0) return null;
    return decodeEndpoint(this.pool.u8, this.#wasm.ts_peer_endpoint_ptr(peer.id));
  }

  /** The peers in id order. */
  peers(): DevicePeer[] {
    return this.#peers.filter((p): p is DevicePeer => p !== undefined);
  }

  #hooks(): DataHooks {
    return {
      onHandshakeMessage: (off, len, nameOff) => this.#onHandshakeMessage(off, len, nameOff),
      onReceived: (peerId, kp, data) => {
        const peer = this.#peers[peerId];
        if (peer === undefined) return;
        const t = peer.timers;
        t.onAuthenticatedPacketReceived();
        // Twice for two or more, as per packet: the second flags needAnotherKeepalive.
        if (data > 0) t.onDataReceived();
        if (data > 1) t.onDataReceived();
        if (peer.keypairs.next !== null && peer.keypairs.received(kp)) {
          this.#handshakeDone(peer, false);
        }
        const cur = peer.keypairs.current;
        if (cur !== null && cur.slot === kp && t.rekeyAfterReceive(cur.created, cur.isInitiator)) {
          this.#sendInitiation(peer);
        }
      },
      onSent: (peerId, data) => {
        const peer = this.#peers[peerId];
        if (peer === undefined) return;
        peer.timers.onAuthenticatedPacketSent();
        if (data > 0) peer.timers.onDataSent();
        peer.sentSinceTick = true;
      },
      onNoKey: (peerId, off, len) => {
        const peer = this.#peers[peerId];
        if (peer === undefined) return false;
        const evicted = peer.staged.push(off, len);
        if (evicted !== 0) this.pool.tryFree(evicted);
        if (peer.timers.requestInitiation(false)) this.#sendInitiation(peer);
        return true;
      },
    };
  }

  /** Source IP (4 or 16 bytes) and port of the sockaddr at `nameOff`. */
  #source(nameOff: number): Endpoint {
    return decodeEndpoint(this.pool.u8, nameOff);
  }

  #reject(reason: string): void {
    this.counters.rejected[reason] = (this.counters.rejected[reason] ?? 0) + 1;
  }

  #underLoad(now: number): boolean {
    if (now - this.#loadWindowStart >= 1000) {
      this.#loadWindowStart = now;
      this.#loadCount = 0;
    }
    if (++this.#loadCount >= UNDER_LOAD_PER_SECOND) this.#underLoadUntil = now + 1000;
    return now < this.#underLoadUntil;
  }

  #onHandshakeMessage(off: number, len: number, nameOff: number): void {
    const pool = this.pool;
    const msg = new Uint8Array(pool.memory.buffer, off, len);
    const now = this.#now();
    const type = msg[0];
    const src = this.#source(nameOff);
    if (type === MESSAGE_COOKIE_REPLY) {
      const peer = this.#indices.get(readU32LE(msg, 4));
      if (peer === undefined || !peer.cookies.consumeReply(msg, now, len)) {
        return this.#reject("cookie_reply");
      }
      this.counters.cookiesReceived++;
      return;
    }
    const verdict = this.#checker.check(msg, src.addr, src.port, this.#underLoad(now), now, len);
    if (verdict === CookieVerdict.BAD_MAC1) return this.#reject("bad_mac1");
    if (verdict === CookieVerdict.RATE_LIMITED) return this.#reject("rate_limited");
    if (verdict === CookieVerdict.SEND_COOKIE) {
      const slot = this.#wasm.ts_pool_alloc();
      pool.refresh();
      if (slot === 0) return this.#reject("pool_exhausted");
      const out = new Uint8Array(pool.memory.buffer, slot, 64);
      const n = this.#checker.createReply(
        new Uint8Array(pool.memory.buffer, off, len),
        src.addr,
        src.port,
        out,
        now,
      );
      const nameLen = pool.dv.getUint16(nameOff, true) === 2 ? 16 : 28;
      this.path.replyRaw(slot, n, nameOff, nameLen);
      this.counters.cookiesSent++;
      return;
    }
    if (type === MESSAGE_INITIATION) this.#onInitiation(msg, len, nameOff, now);
    else if (type === MESSAGE_RESPONSE) this.#onResponse(msg, len, nameOff, now);
  }

  #onInitiation(msg: Uint8Array, len: number, nameOff: number, now: number): void {
    this.counters.initiationsReceived++;
    const r = consumeInitiation(this.#local, msg, {
      lookup: (key) => this.#byKey.get(encodeBase64Key(key)),
      now,
      length: len,
    });
    if (typeof r === "number") return this.#reject(`initiation_${r}`);
    const peer = r;
    this.#learnEndpoint(peer, nameOff);
    peer.timers.onAuthenticatedPacketReceived();
    const slot = this.#allocSlot();
    if (slot === 0) return;
    const out = new Uint8Array(this.pool.memory.buffer, slot, 92);
    const n = createResponse(peer.handshake, out, { indices: this.#indexAllocator() });
    if (n < 0) {
      this.pool.tryFree(slot);
      return this.#reject(`response_create_${n}`);
    }
    if (!this.#installKeys(peer)) {
      this.pool.tryFree(slot);
      return;
    }
    peer.cookies.addMacs(out, now, n);
    if (this.path.sendRaw(peer.id, slot, n)) {
      this.counters.responsesSent++;
      peer.timers.onAuthenticatedPacketSent();
    }
  }

  #onResponse(msg: Uint8Array, len: number, nameOff: number, now: number): void {
    this.counters.responsesReceived++;
    const r = consumeResponse(this.#local, msg, {
      lookup: (index) => this.#indices.get(index),
      length: len,
    });
    if (typeof r === "number") return this.#reject(`response_${r}`);
    const peer = r;
    this.#learnEndpoint(peer, nameOff);
    peer.timers.onAuthenticatedPacketReceived();
    if (!this.#installKeys(peer)) return;
    this.#handshakeDone(peer, true, now);
  }

  /** Derives the transport keys of a finished handshake into a WASM keypair slot. */
  #installKeys(peer: DevicePeer): boolean {
    const keys = this.#keys();
    const info = deriveTransportKeys(peer.handshake, keys);
    if (typeof info === "number") {
      keys.fill(0);
      this.#reject(`derive_${info}`);
      return false;
    }
    const up = peer.keypairs.add(info);
    const wasm = this.#wasm;
    const rc = wasm.ts_keypair_set(
      up.install.slot,
      peer.id,
      info.localIndex,
      info.remoteIndex,
      this.#keysPtr,
    );
    wipe(this.#keys());
    if (rc < 0) {
      log.error("ts_keypair_set failed ({code}) for peer {peer}", { code: rc, peer: peer.name });
      return false;
    }
    // The handshake's index now names the keypair.
    this.#indices.release(info.localIndex);
    this.#indexAllocator().claim(info.localIndex, peer);
    wasm.ts_peer_set_send_keypair(peer.id, up.sendSlot);
    peer.timers.onKeypairDerived();
    return true;
  }

  /** A handshake completed: send what waited, or a keepalive to confirm the keys. */
  #handshakeDone(peer: DevicePeer, initiator: boolean, now = this.#now()): void {
    const wasm = this.#wasm;
    wasm.ts_peer_set_send_keypair(peer.id, peer.keypairs.sendSlot());
    peer.timers.onHandshakeComplete();
    peer.handshakes++;
    log.info("Handshake complete with {peer} as {role}", {
      peer: peer.name,
      role: initiator ? "initiator" : "responder",
      rttMs: initiator && peer.initiationSentAt > -Infinity
        ? +(now - peer.initiationSentAt).toFixed(3)
        : undefined,
      endpoint: this.#endpointText(peer),
    });
    if (peer.staged.size > 0) this.#flushStaged(peer);
    else if (initiator) this.#sendKeepalive(peer);
  }

  #flushStaged(peer: DevicePeer): void {
    const n = peer.staged.drainInto(this.#flushOffs, this.#flushLens);
    this.path.sendOwned(peer.id, this.#flushOffs, this.#flushLens, n);
  }

  #sendKeepalive(peer: DevicePeer): void {
    if (peer.keypairs.current === null) {
      if (peer.timers.requestInitiation(false)) this.#sendInitiation(peer);
      return;
    }
    this.path.sendKeepalive(peer.id);
  }

  #allocSlot(): number {
    const slot = this.#wasm.ts_pool_alloc();
    this.pool.refresh();
    if (slot === 0) this.#reject("pool_exhausted");
    return slot;
  }

  #sendInitiation(peer: DevicePeer): void {
    if (this.#wasm.ts_peer_endpoint_len(peer.id) === 0) {
      this.#reject("no_endpoint");
      return;
    }
    const slot = this.#allocSlot();
    if (slot === 0) return;
    const out = new Uint8Array(this.pool.memory.buffer, slot, 148);
    const n = createInitiation(peer.handshake, out, { indices: this.#indexAllocator() });
    if (n < 0) {
      this.pool.tryFree(slot);
      return this.#reject(`initiation_create_${n}`);
    }
    const now = this.#now();
    peer.cookies.addMacs(out, now, n);
    if (this.path.sendRaw(peer.id, slot, n)) {
      this.counters.initiationsSent++;
      peer.initiationSentAt = now;
    }
    peer.timers.onInitiationSent();
  }

  #indexAllocator(): IndexAllocator & { claim(index: number, peer: DevicePeer): void } {
    const table = this.#indices;
    const owner = this.#hsOwner;
    return {
      allocate(hs: Handshake): number {
        const peer = owner.get(hs);
        if (peer === undefined) throw new Error("handshake without a peer");
        return table.allocate(peer);
      },
      release(index: number): void {
        table.release(index);
      },
      claim(index: number, peer: DevicePeer): void {
        table.claim(index, peer);
      },
    };
  }

  /** Roaming: the endpoint follows the source of authenticated handshakes. */
  #learnEndpoint(peer: DevicePeer, nameOff: number): void {
    const u8 = this.pool.u8;
    const len = this.pool.dv.getUint16(nameOff, true) === 2 ? 16 : 28;
    const ptr = this.#wasm.ts_peer_endpoint_ptr(peer.id);
    u8.copyWithin(ptr, nameOff, nameOff + len);
    this.#wasm.ts_peer_set_endpoint_len(peer.id, len);
  }

  #endpointText(peer: DevicePeer): string | null {
    const ep = this.endpointOf(peer);
    return ep === null ? null : formatEndpoint(ep);
  }

  /** Runs every due timer; expires keypairs past REJECT_AFTER_TIME. */
  #tick(now: number): number {
    let next = now + 1000;
    for (const peer of this.#peers) {
      if (peer === undefined) continue;
      const t = peer.timers;
      if (t.nextDeadline() <= now) this.#act(peer, t.poll(now));
      const kps = peer.keypairs;
      this.#expire(kps.previous, now);
      this.#expire(kps.current, now);
      this.#expire(kps.next, now);
      // wireguard-go checks key freshness after each send; per tick is the same within 10 ms.
      const cur = kps.current;
      if (peer.sentSinceTick && cur !== null) {
        peer.sentSinceTick = false;
        this.#wasm.ts_keypair_info(cur.slot, this.#keysPtr);
        const sendCounter = this.pool.dv.getFloat64(this.#keysPtr, true);
        if (t.rekeyAfterSend(cur.created, cur.isInitiator, sendCounter)) this.#sendInitiation(peer);
      }
      next = Math.min(next, t.nextDeadline());
    }
    return next;
  }

  /** Past REJECT_AFTER_TIME a keypair neither sends nor receives. */
  #expire(kp: KeypairInfo | null, now: number): void {
    if (kp !== null && now - kp.created >= REJECT_AFTER_TIME_MS) {
      this.#wasm.ts_keypair_expire(kp.slot);
    }
  }

  #act(peer: DevicePeer, actions: number): void {
    if (actions & TimerAction.SEND_INITIATION) this.#sendInitiation(peer);
    if (actions & TimerAction.SEND_KEEPALIVE) {
      if (peer.staged.size > 0) this.#flushStaged(peer);
      else this.#sendKeepalive(peer);
    }
    if (actions & TimerAction.GIVE_UP) {
      this.#dropStaged(peer);
      log.warning("Handshake with {peer} did not complete after {attempts} attempts; giving up", {
        peer: peer.name,
        attempts: peer.timers.handshakeAttempts,
      });
    }
    if (actions & TimerAction.ZERO_KEY_MATERIAL) {
      peer.keypairs.clear();
      peer.handshake.clear(this.#indexAllocator());
      this.#wasm.ts_peer_set_send_keypair(peer.id, -1);
      this.#dropStaged(peer);
    }
  }

  #dropStaged(peer: DevicePeer): void {
    const n = peer.staged.drainInto(this.#flushOffs, this.#flushLens);
    for (let i = 0; i < n; i++) this.pool.tryFree(this.#flushOffs[i]);
  }

  /**
   * The event loop; resolves after {@link stop}. Drains both descriptors
   * synchronously while they have data, runs timers at least every 10 ms
   * under load, and awaits `poll` only when idle.
   */
  run(): Promise<void> {
    this.#running ??= this.#loop();
    return this.#running;
  }

  async #loop(): Promise<void> {
    const path = this.path;
    let next = this.#tick(this.#now());
    while (!this.#stopping) {
      if (this.#pendingUdp !== undefined) this.#swapUdp();
      let moved = 0;
      for (let round = 0; round < 64; round++) {
        const m = path.pumpUdp() + path.pumpTun();
        moved += m;
        if (m < 1) break;
      }
      const now = this.#now();
      if (now >= next || now - this.#lastTick >= 10) {
        this.#lastTick = now;
        next = this.#tick(now);
        // Counters, not per-packet logs: one summary every 10 s at debug level.
        if (now - this.#lastSummary >= 10_000 && log.isEnabledFor("debug")) {
          this.#lastSummary = now;
          log.debug("Stats for {interface}", () => ({ ...this.stats() }));
        }
      }
      if (moved === 0 && !this.#stopping) {
        const timeout = Math.max(0, Math.min(1000, Math.ceil(next - this.#now())));
        await this.#poller.wait(timeout);
        this.#lastYield = this.#now();
      } else if (now - this.#lastYield >= YIELD_MS) {
        // Saturated: the loop never idles, so let the event loop serve signals and
        // UAPI requests (one ~65 µs poll on a worker thread per YIELD_MS).
        this.#lastYield = now;
        await this.#poller.wait(0);
      }
    }
  }

  #swapUdp(): void {
    const udp = this.#pendingUdp!;
    this.#pendingUdp = undefined;
    this.#poller.close();
    this.#udp.close();
    this.#udp = udp;
    this.path.udp = udp;
    this.#poller = new Poller([this.tun.fd, udp.fd]);
    log.info("Listening on UDP port {listenPort}", { listenPort: udp.port });
  }

  /**
   * Binds a new UDP socket on `port` (0 = random) and hands it to the loop.
   * Returns 0, or −98 (EADDRINUSE) / −5 (EIO) as wireguard-go's UAPI does.
   */
  setListenPort(port: number): number {
    if (port !== 0 && port === this.listenPort) return 0;
    let udp: UdpSocket;
    try {
      udp = UdpSocket.bind({ port, offload: this.tun.vnetHdr }); // vnetHdr: offloads were asked for
    } catch (e) {
      log.warning("Cannot listen on UDP port {port}: {error}", {
        port,
        error: (e as Error).message,
      });
      return (e as { errno?: number }).errno === 98 ? -98 : -5;
    }
    if (this.#fwmark !== 0) setMark(udp.fd, this.#fwmark);
    this.#pendingUdp?.close();
    this.#pendingUdp = udp;
    this.#poller.wake();
    return 0;
  }

  /** The socket mark (SO_MARK) of outgoing datagrams; 0 = none. */
  get fwmark(): number {
    return this.#fwmark;
  }

  /** Sets SO_MARK on the UDP socket; returns 0 or a negative errno. */
  setFwmark(mark: number): number {
    const rc = setMark((this.#pendingUdp ?? this.#udp).fd, mark);
    if (rc === 0) this.#fwmark = mark;
    return rc;
  }

  /** The public key of the private key, or null. */
  get publicKey(): Uint8Array | null {
    return this.#local === null ? null : new Uint8Array(this.#local.publicKey);
  }

  /** The private key, or null. */
  get privateKey(): Uint8Array | null {
    return this.#local === null ? null : new Uint8Array(this.#local.privateKey);
  }

  /**
   * Changes the static private key (null clears it). As wireguard-go: a peer
   * whose public key equals the new one is removed; every peer's handshake is
   * reset and its current keypairs expire, so new handshakes follow.
   */
  setPrivateKey(key: Uint8Array | null): void {
    const zero = key === null || key.every((b) => b === 0);
    const local = zero ? null : { privateKey: new Uint8Array(key), publicKey: publicKey(key) };
    const old = this.#local;
    if (old !== null && local !== null && bytesEqual(old.privateKey, local.privateKey)) return;
    this.#local = local;
    this.#checker.setLocalPublic(local === null ? null : local.publicKey);
    for (const peer of this.peers()) {
      if (local !== null && bytesEqual(peer.publicKey, local.publicKey)) {
        this.removePeer(peer);
        continue;
      }
      peer.handshake.clear(this.#indexAllocator());
      peer.handshake.setLocalStatic(local);
      const kps = peer.keypairs;
      for (const kp of [kps.previous, kps.current, kps.next]) {
        if (kp !== null) this.#wasm.ts_keypair_expire(kp.slot);
      }
    }
  }

  /** The peer with this public key, if any. */
  peerByKey(key: Uint8Array): DevicePeer | undefined {
    return this.#byKey.get(encodeBase64Key(key));
  }

  /** Removes a peer: its keys, staged packets, routes (WASM and kernel) and counters. */
  removePeer(peer: DevicePeer): void {
    if (this.#peers[peer.id] !== peer) return;
    this.#dropStaged(peer);
    peer.keypairs.clear();
    peer.handshake.clear(this.#indexAllocator());
    peer.timers.stop();
    const wasm = this.#wasm;
    wasm.ts_route_remove_peer(peer.id);
    wasm.ts_peer_reset(peer.id);
    this.#peers[peer.id] = undefined;
    this.#byKey.delete(peer.name);
    this.#hsOwner.delete(peer.handshake);
    peer.allowedIps = [];
    this.#syncRoutes();
    log.info("Peer {peer} removed", { peer: peer.name });
  }

  /** Sets the preshared key (null or all zero = none). */
  setPresharedKey(peer: DevicePeer, psk: Uint8Array | null): void {
    peer.handshake.setPresharedKey(psk !== null && psk.some((b) => b !== 0) ? psk : null);
  }

  /** Sets the persistent keepalive (s, 0 = off); a keepalive goes out at once when it turns on. */
  setPersistentKeepalive(peer: DevicePeer, seconds: number): void {
    if (peer.timers.setPersistentKeepalive(seconds)) this.#sendKeepalive(peer);
  }

  /**
   * Changes a peer's AllowedIPs: `replace` drops the old ones first; a prefix
   * added here moves away from any other peer. WASM routing and kernel routes follow.
   */
  updateAllowedIps(
    peer: DevicePeer,
    replace: boolean,
    add: Cidr[],
    remove: Cidr[] = [],
    syncKernel = true,
  ): void {
    const wasm = this.#wasm;
    if (replace) {
      wasm.ts_route_remove_peer(peer.id);
      peer.allowedIps = [];
    }
    for (const c of remove) {
      const k = formatCidr(c);
      if (!peer.allowedIps.some((x) => formatCidr(x) === k)) continue;
      this.#writeAddr(c.bytes);
      wasm.ts_route_remove(c.family, this.#keysPtr, c.cidr);
      peer.allowedIps = peer.allowedIps.filter((x) => formatCidr(x) !== k);
    }
    for (const c of add) {
      const k = formatCidr(c);
      for (const other of this.peers()) {
        if (other !== peer) other.allowedIps = other.allowedIps.filter((x) => formatCidr(x) !== k);
      }
      this.#insertRoute(c, peer.id);
      if (!peer.allowedIps.some((x) => formatCidr(x) === k)) peer.allowedIps.push(c);
    }
    if (syncKernel) this.#syncRoutes();
  }

  #writeAddr(bytes: Uint8Array): void {
    new Uint8Array(this.pool.memory.buffer, this.#keysPtr, 16).set(bytes);
  }

  /** Kernel routes follow the union of AllowedIPs not covered by an interface address (as wg-quick). */
  #syncRoutes(): void {
    const want = new Map<string, Cidr>();
    for (const p of this.peers()) {
      for (const c of p.allowedIps) {
        if (!this.#addresses.some((a) => covers(a, c))) want.set(formatCidr(c), c);
      }
    }
    for (const k of this.#routes.keys()) {
      if (want.has(k)) continue;
      try {
        deleteRoute(this.name, k);
      } catch (e) {
        log.warning("Cannot remove route {route}: {error}", {
          route: k,
          error: (e as Error).message,
        });
      }
    }
    for (const k of want.keys()) {
      if (this.#routes.has(k)) continue;
      try {
        addRoute(this.name, k);
      } catch (e) {
        log.warning("Cannot add route {route}: {error}", { route: k, error: (e as Error).message });
      }
    }
    this.#routes = want;
  }

  /** Asks the loop to end; {@link run} resolves soon after. */
  stop(): void {
    this.#stopping = true;
    this.#poller.wake();
  }

  /** Counters, pool and per-peer figures. */
  stats(): DeviceStats {
    const wasm = this.#wasm;
    const out = this.#keysPtr; // 48 bytes of f64 fit the 64-byte key scratch
    const peers: PeerStats[] = this.peers().map((p) => {
      wasm.ts_peer_stats(p.id, out);
      const f = new Float64Array(this.pool.memory.buffer, out, 6);
      return {
        publicKey: p.name,
        endpoint: this.#endpointText(p),
        allowedIps: p.allowedIps.map(formatCidr),
        rxBytes: f[0],
        txBytes: f[1],
        rxPackets: f[2],
        txPackets: f[3],
        lastHandshakeWallMs: p.timers.lastHandshakeWallMs,
        handshakes: p.handshakes,
        staged: p.staged.size,
        persistentKeepalive: p.timers.persistentKeepalive,
      };
    });
    const dropped: Record<string, number> = {};
    this.pool.dropCounts().forEach((v, k) => {
      if (k > 0 && v > 0) dropped[DROP_REASONS[k] ?? `code_${k}`] = v;
    });
    return {
      interface: this.name,
      listenPort: this.#udp.port,
      pool: this.pool.stats(),
      data: { ...this.path.counters },
      handshake: { ...this.counters, rejected: { ...this.counters.rejected } },
      dropped,
      peers,
    };
  }

  /** Drops staged packets, wipes keys, closes the socket and the TUN device (the kernel removes it). */
  close(): void {
    for (const peer of this.peers()) {
      this.#dropStaged(peer);
      peer.keypairs.clear();
      peer.handshake.clear(this.#indexAllocator());
      peer.timers.stop();
    }
    this.#poller.close();
    this.#pendingUdp?.close();
    this.#udp.close();
    this.tun.close();
  }
}

/** True when the interface address prefix `a` covers all of `c` (same family, shorter or equal, contains). */
function covers(a: Cidr, c: Cidr): boolean {
  return a.family === c.family && a.cidr <= c.cidr && cidrContains(maskCidr(a), c.bytes);
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

const SOL_SOCKET = 1;
const SO_MARK = 36;

/** setsockopt(SO_MARK); returns 0 or a negative errno. */
function setMark(fd: number, mark: number): number {
  const v = new Uint8Array(new Uint32Array([mark >>> 0]).buffer);
  const rc = libc().setsockopt(fd, SOL_SOCKET, SO_MARK, v, 4);
  return rc < 0 ? -errno() : 0;
}
