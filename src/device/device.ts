/**
 * A WireGuard device: one TUN interface, one UDP socket, a slab pool and its peers. This file
 * holds the lifecycle (create, close), the event loop and its timer tick, the listen port and
 * fwmark, and stats; the parts it wires together each hold one concern: src/device/data_path.ts
 * (the hot path, batches between TUN and UDP in place in pool slots), handshake_plane.ts
 * (handshake and cookie messages, key installation, staged packets, timers), peer_table.ts
 * (peers, lookups, AllowedIPs, kernel routes) and src/wasm/data_plane.ts (the control plane's
 * calls into the module).
 *
 * The loop drains both file descriptors with synchronous FFI calls batch by batch (~0.5 µs a
 * call) and awaits a nonblocking `poll` only when both are idle (one promise per wake-up,
 * ~65 µs), so under load no promise is created per batch, let alone per packet. With
 * {@link DeviceOptions.io} a device runs over other I/O (tests/fixtures/memory_io.ts): nothing
 * is set up in the kernel, and {@link Device.step} drives it without a poll.
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { parseConfigFile } from "../wg/config.ts";
 * const { config } = await parseConfigFile("wg0.conf");
 * const dev = await Device.create({ name: "wg0", config }); // needs CAP_NET_ADMIN to run
 * Deno.addSignalListener("SIGINT", () => dev.stop());
 * await dev.run();
 * dev.close();
 * ```
 * @module
 */

import { type Cidr, formatCidr } from "../wg/cidr.ts";
import type { Config, Peer as ConfigPeer } from "../wg/config.ts";
import { logger } from "../log.ts";
import { instantiate, type TunslabExports } from "../wasm/module.ts";
import { DataPlane, type TableLimits, tableLimits } from "../wasm/data_plane.ts";
import { SlabPool } from "../wasm/slab.ts";
import { Poller } from "../poller.ts";
import { registerLoop } from "../pacer.ts";
import { LoopWait } from "./loop_wait.ts";
import type { Endpoint } from "../endpoint.ts";
import { resolveHost } from "../resolve/getaddrinfo.ts";
import { envRetries, type Resolve, resolveEndpoints } from "../resolve/endpoint_resolution.ts";
import { DataPath } from "./data_path.ts";
import type { DeviceStats, PeerStats } from "./device_stats.ts";
import type { DevicePeer } from "./device_peer.ts";
import { HandshakePlane } from "./handshake_plane.ts";
import type { TunIo, UdpIo } from "./packet_io.ts";
import { kernelIo, setMark } from "./kernel_io.ts";
import { TrafficLog } from "./traffic_log.ts";
import { type KernelRoutes, PeerTable } from "./peer_table.ts";

export { type HandshakeCounters, UNDER_LOAD_PER_SECOND } from "./handshake_plane.ts";
export type { DeviceStats, PeerStats, ReceivedStats } from "./device_stats.ts";
export { TUN_TX_QUEUE_LEN } from "./kernel_io.ts";

/** The TUN side of a device: what the data path calls, and its fd and close. */
export interface DeviceTun extends TunIo {
  /** For the poll (-1: nothing to poll). */
  readonly fd: number;
  /** The interface was deleted from outside (`ip link del`): the device shuts down. */
  readonly gone: boolean;
  close(): void;
}

/** The UDP side of a device: what the data path calls, its fd, port and close. */
export interface DeviceUdp extends UdpIo {
  /** For the poll and SO_MARK (-1: nothing to poll). */
  readonly fd: number;
  readonly port: number;
  close(): void;
}

/** I/O a device runs over instead of a kernel TUN device and UDP socket. */
export interface DeviceIo {
  tun: DeviceTun;
  udp: DeviceUdp;
  /** Binds the socket a listen-port change swaps in; without it such a change fails (EIO). */
  bindUdp?: (port: number) => DeviceUdp;
  /** Kernel routes to keep in step with AllowedIPs; default none. */
  routes?: KernelRoutes;
}

/** Options of {@link Device.create}. */
export interface DeviceOptions {
  /** TUN interface name (≤ 15 bytes). */
  name: string;
  config: Config;
  /** Slab pool sizing. */
  pool?: { chunkSlots?: number; maxSlots?: number };
  /** Table limits; default `MaxPeers` or 65,536 peers, 4 keypair slots each, 2^20 prefixes. */
  tables?: TableLimits;
  /** Monotonic clock (ms); default `performance.now()`. */
  now?: () => number;
  /**
   * Resolves an endpoint host name and port to endpoint text; default the system resolver
   * (`getaddrinfo`, as `wg`: /etc/hosts and nsswitch apply). Names are resolved at start (with
   * wg's retries) and again while handshakes go unanswered (src/resolve/endpoint_resolution.ts).
   */
  resolve?: Resolve;
  /** Transient resolver failures retried at start (default `WG_ENDPOINT_RESOLUTION_RETRIES` or 15). */
  resolutionRetries?: number;
  /** The config file's path, for messages that name a line. */
  source?: string;
  /** TUN TSO/USO + UDP GSO/GRO where the kernel has them; default `config.interface.offload`. */
  offload?: boolean;
  /** Called on every tick of the loop (at least every 10 ms under load, every second idle). */
  onTick?: (now: number) => void;
  /**
   * For a second after packets moved, wait for the next ones on the loop's own thread
   * (src/device/loop_wait.ts): a lower round-trip time, but the event loop gets a turn only every 50 ms
   * meanwhile, as under full load. For a process that is the tunnel (`tunslab up` sets it);
   * off by default, since an embedding program's own sockets and timers would wait too.
   */
  hotWait?: boolean;
  /**
   * Created as `wireguard-go NAME` creates an interface: the link is not brought up and no
   * address or route is set; kernel routes never follow AllowedIPs (as with wireguard-go,
   * that is `ip`'s or wg-quick's job). With an unconfigured `config`, `wg` and `ip`
   * configure everything (`unconfigured()` of src/wg/config.ts).
   */
  bare?: boolean;
  /**
   * Run over this I/O instead of opening a TUN device and binding a UDP socket: no interface,
   * address, MTU or route is set in the kernel (`name` only labels logs and stats). For tests
   * (tests/fixtures/memory_io.ts), embedding and the proxy (a function: I/O over the device's
   * module and pool, src/netstack/netstack_tun.ts).
   */
  io?: DeviceIo | ((wasm: TunslabExports, pool: SlabPool) => DeviceIo);
  /** Kernel routes through the interface `ifname` (src/host/policy_routing.ts); default: main table. */
  kernelRoutes?: (ifname: string) => KernelRoutes;
  /** The MTU for these resolved endpoints when the config sets none (src/host/auto_mtu.ts). */
  chooseMtu?: (endpoints: readonly string[]) => number;
}

const log = logger("device");

/** A running WireGuard interface. */
export class Device {
  readonly name: string;
  readonly pool: SlabPool;
  readonly tun: DeviceTun;
  readonly path: DataPath;
  #udp: DeviceUdp;
  #poller: Poller;
  /** A socket bound by a listen-port change, swapped in by the loop (never under a pending poll). */
  #pendingUdp: DeviceUdp | undefined;
  readonly #bindUdp: ((port: number) => DeviceUdp) | undefined;
  #fwmark = 0;
  readonly #now: () => number;
  readonly #plane: DataPlane;
  readonly #peers: PeerTable;
  readonly #handshake: HandshakePlane;
  #stopping = false;
  #closed = false;
  #removed = false;
  #onTick: ((now: number) => void) | undefined;
  /** Waits between turns (hot with `hotWait`). */
  #waits!: LoopWait;
  #running: Promise<void> | undefined;
  #lastTick = 0;
  #lastSummary = 0;
  readonly #traffic: TrafficLog;
  #turns = 0;
  #maxTurnMs = 0;
  #lastTurnAt = -Infinity;

  private constructor(
    name: string,
    wasm: TunslabExports,
    pool: SlabPool,
    io: DeviceIo,
    config: Config,
    now: () => number,
    resolve: Resolve,
    limits: TableLimits,
  ) {
    this.name = name;
    this.#traffic = new TrafficLog(name);
    this.pool = pool;
    this.tun = io.tun;
    this.#udp = io.udp;
    this.#bindUdp = io.bindUdp;
    this.#now = now;
    const i = config.interface;
    const plane = this.#plane = new DataPlane(wasm, pool, tableLimits(limits, i.maxPeers));
    const peers = this.#peers = new PeerTable(plane, {
      addresses: i.addresses,
      kernel: io.routes ?? null,
      now,
    });
    // An all-zero private key is none (an unconfigured interface, or `wg set … private-key` to clear).
    const local = i.privateKey.some((b) => b !== 0)
      ? { privateKey: i.privateKey, publicKey: i.publicKey }
      : null;
    this.#handshake = new HandshakePlane({ pool, plane, peers, local, now, resolve });
    this.path = new DataPath({
      pool,
      wasm,
      tun: io.tun,
      udp: io.udp,
      hooks: this.#handshake,
      mtu: i.mtu,
    });
    this.#handshake.connect(this.path);
    this.#poller = new Poller([io.tun.fd, io.udp.fd]);
  }

  /**
   * Creates the TUN interface, sets addresses, MTU and routes, binds the UDP
   * socket and adds the peers (with {@link DeviceOptions.io}: only the peers).
   * On failure everything made so far is closed.
   */
  static async create(opts: DeviceOptions): Promise<Device> {
    const { name } = opts;
    let { config } = opts;
    const now = opts.now ?? (() => performance.now());
    const resolve = opts.resolve ?? resolveHost;
    const retries = opts.resolutionRetries ?? envRetries();
    // Resolve endpoints first: nothing to undo if a name does not resolve.
    const { endpoints, hosts } = await resolveEndpoints(config.peers, {
      resolve,
      retries,
      source: opts.source,
    });
    const wasm = instantiate();
    // Any MTU (68..65535, config.ts): packets longer than a small slot go to large slots.
    const pool = SlabPool.create(
      { maxMiB: config.interface.maxPool ?? undefined, ...opts.pool },
      wasm,
    );
    if (opts.chooseMtu !== undefined && opts.io === undefined) {
      // wg-quick's auto MTU (the underlay route's MTU less 80); any MTU fits (large slots).
      const chosen = opts.chooseMtu(endpoints.filter((e): e is string => e !== null));
      config = { ...config, interface: { ...config.interface, mtu: chosen } };
    }
    const io = typeof opts.io === "function" ? opts.io(wasm, pool) : opts.io ??
      kernelIo(name, config, opts.offload ?? config.interface.offload, opts.bare ?? false, opts);
    try {
      const dev = new Device(io.tun.name, wasm, pool, io, config, now, resolve, opts.tables ?? {});
      dev.#onTick = opts.onTick;
      dev.#waits = new LoopWait(opts.hotWait === true, dev.#now);
      config.peers.forEach((p, k) => {
        const id = dev.addPeer(p, endpoints[k]);
        dev.#peers.byId[id]!.endpointHost = hosts[k];
      });
      dev.#peers.syncRoutes();
      const mark = config.interface.fwMark ?? 0;
      if (mark !== 0 && dev.setFwmark(mark) < 0) {
        throw new Error(`FwMark ${mark}: setsockopt(SO_MARK) refused (needs CAP_NET_ADMIN)`);
      }
      log.info("Interface {interface} up: listen port {listenPort}, {peers} peer(s), MTU {mtu}", {
        interface: dev.name,
        listenPort: io.udp.port,
        peers: config.peers.length,
        mtu: config.interface.mtu,
        addresses: config.interface.addresses.map(formatCidr),
      });
      return dev;
    } catch (e) {
      io.udp.close();
      io.tun.close();
      throw e;
    }
  }

  /** The UDP port in use. */
  get listenPort(): number {
    return (this.#pendingUdp ?? this.#udp).port;
  }

  /** Adds a peer from a config section; returns its id. */
  addPeer(cfg: ConfigPeer, endpoint: string | null): number {
    const peer = this.#peers.add(cfg, this.#handshake.local, endpoint);
    this.#handshake.startPeer(peer);
    return peer.id;
  }

  /** Sets a peer's endpoint from text (`1.2.3.4:51820`, `[fd00::1]:51820`). */
  setEndpoint(peer: DevicePeer, endpoint: string): void {
    this.#peers.setEndpoint(peer, endpoint);
    peer.endpointHost = null; // set by address (wg set): no name to look up again
  }

  /** A peer's current endpoint, or null. */
  endpointOf(peer: DevicePeer): Endpoint | null {
    return this.#peers.endpointOf(peer);
  }

  /** The peers in id order. */
  peers(): DevicePeer[] {
    return this.#peers.list();
  }

  /** Timers of the peers touched or due (peer_schedule.ts, no scan of all); the next deadline. */
  #tick(now: number): number {
    const hs = this.#handshake, s = hs.schedule, byId = this.#peers.byId;
    // Touched before this tick (its own sends touch again: the next tick's); never twice a tick.
    for (let k = s.touchedCount; k > 0; k--) {
      const id = s.takeTouched(), peer = byId[id];
      if (peer !== undefined) s.schedule(id, Math.max(now + 1, hs.tickPeer(peer, now)));
    }
    for (let id = s.popDue(now); id >= 0; id = s.popDue(now)) {
      const peer = byId[id];
      if (peer !== undefined) s.schedule(id, Math.max(now + 1, hs.tickPeer(peer, now)));
    }
    this.path.tick(now); // follows the interface's MTU
    return Math.min(now + 1000, s.earliest());
  }

  /** Up to 64 rounds of both pumps while packets move; returns how many moved. */
  #drain(): number {
    const path = this.path;
    let moved = 0;
    for (let round = 0; round < 64; round++) {
      const m = path.pumpUdp() + path.pumpTun();
      moved += m;
      if (m < 1) break;
    }
    return moved;
  }

  /**
   * One turn of the loop without waiting: drains both sides while packets move, runs the
   * handshake plane's bounded share of queued handshakes, then the due timers. Returns the
   * packets moved plus the handshakes run. For a device over {@link DeviceOptions.io}, where
   * there is nothing to poll (tests call it until it returns 0).
   */
  step(): number {
    if (this.#pendingUdp !== undefined) this.#swapUdp();
    const moved = this.#drain() + this.#handshake.turn();
    if (moved === 0) this.path.release(); // idle: no spare slot held
    if (this.#checkGone()) return moved;
    const now = this.#now();
    this.#lastTick = now;
    this.#tick(now);
    return moved;
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

  /** Turns of the loop and the longest one since the last call (which starts a new interval). */
  loopStats(): { turns: number; maxTurnMs: number } {
    const r = { turns: this.#turns, maxTurnMs: this.#maxTurnMs };
    this.#maxTurnMs = 0;
    return r;
  }

  /** Whether the loop turned within the last `ms` (the metrics' `/healthz`). */
  turnedWithin(ms: number): boolean {
    return this.#now() - this.#lastTurnAt <= ms;
  }

  /** The interface was deleted from outside; the loop has ended (or ends) because of it. */
  get removedFromOutside(): boolean {
    return this.#removed;
  }

  /** Ends the loop if the interface went away under it (one log line). */
  #checkGone(): boolean {
    if (!this.tun.gone || this.#removed) return this.#removed;
    this.#removed = true;
    this.#stopping = true;
    log.warning("Interface {interface} was deleted from outside: shutting down", {
      interface: this.name,
    });
    return true;
  }

  async #loop(): Promise<void> {
    let next = this.#tick(this.#now());
    const slicing = registerLoop(() => this.#poller.wake()); // a turn between slices of work
    while (!this.#stopping) {
      const turnStart = this.#now();
      if (this.#pendingUdp !== undefined) this.#swapUdp();
      // Handshakes waiting count as work: the loop does not sleep on a backlog.
      const moved = this.#drain() + this.#handshake.turn();
      if (this.#checkGone()) break;
      const now = this.#now();
      if (now >= next || now - this.#lastTick >= 10) {
        this.#lastTick = now;
        next = this.#tick(now);
        this.#onTick?.(now);
        // Counters, not per-packet logs: a traffic line a minute while traffic flows, and the
        // whole stats every 10 s at debug level.
        this.#traffic.tick(now, this.path.counters, () => this.pool.stats().inUse);
        if (now - this.#lastSummary >= 10_000 && log.isEnabledFor("debug")) {
          this.#lastSummary = now;
          log.debug("Stats for {interface}", () => ({ ...this.stats() }));
        }
      }
      const turnEnd = this.#now();
      this.#turns++;
      this.#lastTurnAt = turnEnd;
      slicing.turned();
      if (turnEnd - turnStart > this.#maxTurnMs) this.#maxTurnMs = turnEnd - turnStart;
      if (moved === 0) this.path.release(); // idle: the spare large slot goes back meanwhile
      if (this.#stopping) break;
      const w = this.#waits.after(this.#poller, moved, turnEnd, next);
      if (w !== null) await w;
    }
    slicing.unregister();
    this.path.release(); // the final stats see no slot in use
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
    let udp: DeviceUdp;
    try {
      if (this.#bindUdp === undefined) throw new Error("this device's I/O cannot bind a socket");
      udp = this.#bindUdp(port);
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
    const local = this.#handshake.local;
    return local === null ? null : new Uint8Array(local.publicKey);
  }

  /** The private key, or null. */
  get privateKey(): Uint8Array | null {
    const local = this.#handshake.local;
    return local === null ? null : new Uint8Array(local.privateKey);
  }

  /**
   * Changes the static private key (null clears it). As wireguard-go: a peer
   * whose public key equals the new one is removed; every peer's handshake is
   * reset and its current keypairs expire, so new handshakes follow.
   */
  setPrivateKey(key: Uint8Array | null): void {
    for (const peer of this.#handshake.setPrivateKey(key) ?? []) this.removePeer(peer);
  }

  /** The peer with this public key, if any. */
  peerByKey(key: Uint8Array): DevicePeer | undefined {
    return this.#peers.byKey(key);
  }

  /**
   * Removes a peer: its keys, staged packets, routes (WASM and kernel) and counters. `quiet`: the
   * caller logs (a bulk change is one summary line).
   */
  removePeer(peer: DevicePeer, quiet = false, syncKernel = true): void {
    if (this.#peers.byId[peer.id] !== peer) return;
    this.#handshake.stopPeer(peer);
    this.#peers.remove(peer, syncKernel);
    if (!quiet) log.info("Peer {peer} removed", { peer: peer.name });
  }

  /** Sets the preshared key (null or all zero = none). */
  setPresharedKey(peer: DevicePeer, psk: Uint8Array | null): void {
    peer.handshake.setPresharedKey(psk !== null && psk.some((b) => b !== 0) ? psk : null);
  }

  /** Sets the persistent keepalive (s, 0 = off); a keepalive goes out at once when it turns on. */
  setPersistentKeepalive(peer: DevicePeer, seconds: number): void {
    this.#handshake.setPersistentKeepalive(peer, seconds);
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
    this.#peers.updateAllowedIps(peer, replace, add, remove, syncKernel);
  }

  /** Asks the loop to end; {@link run} resolves soon after. */
  stop(): void {
    this.#stopping = true;
    this.#poller.wake();
  }

  /** Counters, pool and (unless `withPeers` is false: see src/device/slices.ts) per-peer figures. */
  stats(withPeers = true): DeviceStats {
    const peers: PeerStats[] = withPeers ? this.#peers.list().map((p) => this.peerStats(p)) : [];
    const counters = this.#handshake.counters;
    return {
      interface: this.name,
      listenPort: this.#udp.port,
      pool: this.pool.stats(),
      data: { ...this.path.counters },
      received: {
        datagrams: this.path.counters.udpReceived,
        accepted: this.path.counters.rxAccepted,
        handshake: this.path.counters.rxHandshake,
        dropped: this.path.receivedDropped(),
      },
      handshake: { ...counters, rejected: { ...counters.rejected } },
      handshakeBacklog: this.#handshake.backlog,
      tables: this.#plane.tableStats(),
      dropped: this.#plane.dropped(),
      peers,
    };
  }

  /** Whether `peer` is (still) one of this device's peers. */
  holds(peer: DevicePeer): boolean {
    return this.#peers.byId[peer.id] === peer;
  }

  /** One peer's figures (what {@link stats} lists; `withPrefixes` false: AllowedIPs left empty). */
  peerStats(p: DevicePeer, withPrefixes = true): PeerStats {
    const f = this.#plane.peerStats(p.id);
    return {
      publicKey: p.name,
      endpoint: this.#peers.endpointText(p),
      allowedIps: withPrefixes ? p.allowedIps.map(formatCidr) : [],
      rxBytes: f.rxBytes,
      txBytes: f.txBytes,
      rxPackets: f.rxPackets,
      txPackets: f.txPackets,
      lastHandshakeWallMs: p.timers.lastHandshakeWallMs,
      handshakes: p.handshakes,
      staged: p.staged.size,
      persistentKeepalive: p.timers.persistentKeepalive,
    };
  }

  /** Kernel routes in step with AllowedIPs after changes made with `syncKernel` false, paced. */
  syncRoutes(pace: () => Promise<boolean>): Promise<void> {
    return this.#peers.syncRoutesInSlices(pace);
  }

  /** Whether {@link close} ran (a reconfiguration applied in slices stops there). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Drops staged packets, wipes keys, closes the socket and the TUN device (the kernel removes it). */

  close(): void {
    this.#closed = true;
    for (const peer of this.#peers.list()) this.#handshake.stopPeer(peer);
    this.path.release();
    this.#poller.close();
    this.#pendingUdp?.close();
    this.#udp.close();
    this.tun.close();
  }
}
