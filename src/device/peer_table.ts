/**
 * The device's peers: ids (the data plane's peer slots), lookups by public key and by local
 * index, keypair slots, AllowedIPs and the kernel routes that follow them.
 *
 * Ids and keypair slots are handed out lowest-free-first (ids) and last-freed-first (slots), up
 * to the data plane's limits (`DataPlane.tableStats`), and the data plane's tables grow with
 * them; nothing here is sized in advance.
 *
 * A peer's AllowedIPs live twice: in JavaScript (`peer.allowedIps`, for `wg show` and the UAPI)
 * and in the data plane's routing trie (through src/wasm/data_plane.ts); every change here keeps
 * both equal. The kernel routes (as wg-quick makes them) follow the union of all AllowedIPs not
 * covered by an interface address, through a {@link KernelRoutes} (none when a device runs over
 * in-memory I/O). Which peer owns a prefix is one map lookup, and a sync changes the kernel routes
 * only for the prefixes that came or went since the last one (so a setconf of 10,000 peers, or of
 * 130,560 prefixes on one peer, is linear, not quadratic).
 *
 * @example
 * ```ts
 * import { PeerTable } from "./peer_table.ts";
 * import { DataPlane } from "../wasm/data_plane.ts";
 * import { instantiate } from "../wasm/module.ts";
 * import { SlabPool } from "../wasm/slab.ts";
 * import { parseCidr } from "../wg/cidr.ts";
 * import { generatePrivateKey, publicKey } from "../wg/keys.ts";
 * const wasm = instantiate();
 * const plane = new DataPlane(wasm, SlabPool.create({ chunkSlots: 16, maxSlots: 16 }, wasm));
 * const now = () => performance.now();
 * const peers = new PeerTable(plane, { addresses: [], kernel: null, now });
 * const peer = peers.add({
 *   publicKey: publicKey(generatePrivateKey()),
 *   presharedKey: null,
 *   allowedIps: [parseCidr("10.0.0.2/32")],
 *   persistentKeepalive: 0,
 * }, null, "192.0.2.1:51820");
 * console.log(peer.id, plane.lookupRoute(parseCidr("10.0.0.2/32"))); // 0 0
 * ```
 * @module
 */

import { type Cidr, cidrContains, formatCidr, maskCidr } from "../wg/cidr.ts";
import type { Handshake, IndexAllocator, LocalStatic } from "../wg/handshake.ts";
import type { KeypairInfo, KeypairSlotAllocator } from "../wg/keypair_rotation.ts";
import { encodeBase64Key } from "../wg/keys.ts";
import { type Endpoint, formatEndpoint, parseEndpoint } from "../endpoint.ts";
import { logger } from "../log.ts";
import { dropReasonName } from "../wasm/abi.ts";
import type { DataPlane } from "../wasm/data_plane.ts";
import { DevicePeer, type PeerConfig } from "./device_peer.ts";
import { IndexTable } from "./index_table.ts";

/** Kernel routes through the device's interface, by prefix text (`10.0.0.0/24`). */
export interface KernelRoutes {
  add(prefix: string): void;
  remove(prefix: string): void;
  /** Many changes at once (one rtnetlink stream); returns the ones that failed. */
  apply?(add: readonly string[], remove: readonly string[]): RouteFailure[];
  /** Routes also for prefixes an interface address covers (a table other than main: `Table = N`). */
  readonly everyPrefix?: boolean;
}

/** A kernel route change that failed. */
export interface RouteFailure {
  prefix: string;
  error: Error;
}

/** Options of {@link PeerTable}. */
export interface PeerTableOptions {
  /** Interface addresses: AllowedIPs they cover get no kernel route. */
  addresses: readonly Cidr[];
  /** Where kernel routes go; null: none. */
  kernel: KernelRoutes | null;
  /** Monotonic clock (ms) for the peers' timers and keypairs. */
  now: () => number;
}

/** The identity of a prefix: its masked text (`10.0.0.0/24` for `10.0.0.7/24`), as the trie keys it. */
function prefixKey(c: Cidr): string {
  return formatCidr(maskCidr(c));
}

/** An index allocator for handshakes that can also hand an index on to a keypair. */
export type PeerIndexAllocator = IndexAllocator & { claim(index: number, peer: DevicePeer): void };

const log = logger("device");

/** The peers of one device. */
export class PeerTable {
  /** Peers by id (the data plane's peer slot); undefined where free. */
  readonly byId: readonly (DevicePeer | undefined)[];
  /** Local indices of handshakes and keypairs → their peer. */
  readonly indices: IndexTable<DevicePeer> = new IndexTable<DevicePeer>();
  readonly #byId: (DevicePeer | undefined)[] = [];
  /** No id below this is free. */
  #lowFree = 0;
  readonly #maxPeers: number;
  readonly #byKey = new Map<string, DevicePeer>();
  readonly #hsOwner = new Map<Handshake, DevicePeer>();
  /** Keypair slots given back (reused last-freed-first), and the next never-used one. */
  readonly #kpFree: number[] = [];
  #kpNext = 0;
  readonly #maxKeypairs: number;
  readonly #plane: DataPlane;
  readonly #addresses: readonly Cidr[];
  readonly #kernel: KernelRoutes | null;
  readonly #now: () => number;
  /** Kernel routes installed, by prefix text. */
  readonly #routes = new Set<string>();
  /** Prefixes that came or went since the last {@link syncRoutes}, with their Cidr. */
  readonly #changed = new Map<string, Cidr>();
  /** The peer each AllowedIPs prefix ({@link prefixKey}) belongs to: no scanning of lists. */
  readonly #owner = new Map<string, DevicePeer>();
  readonly #allocator: PeerIndexAllocator;
  /** Keypair slots for every peer (one object, not a pair of closures per peer). */
  readonly #slots: KeypairSlotAllocator = {
    allocate: () => {
      let k = this.#kpFree.pop();
      if (k === undefined && this.#kpNext < this.#maxKeypairs) k = this.#kpNext++;
      if (k === undefined) throw new RangeError(`keypair slots exhausted (${this.#maxKeypairs})`);
      return k;
    },
    release: (kp: KeypairInfo) => {
      this.#plane.clearKeypair(kp.slot);
      this.indices.release(kp.localIndex);
      this.#kpFree.push(kp.slot);
    },
  };

  constructor(plane: DataPlane, opts: PeerTableOptions) {
    this.byId = this.#byId;
    this.#plane = plane;
    this.#addresses = [...opts.addresses];
    this.#kernel = opts.kernel;
    this.#now = opts.now;
    // Ids and slots go up to the data plane's limits.
    const limits = plane.tableStats();
    this.#maxPeers = limits.maxPeers;
    this.#maxKeypairs = limits.maxKeypairs;
    const table = this.indices, owner = this.#hsOwner;
    this.#allocator = {
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

  /** The allocator handshakes draw their local indices from. */
  get indexAllocator(): PeerIndexAllocator {
    return this.#allocator;
  }

  /**
   * Adds a peer (lowest free id): its data-plane slot reset, its AllowedIPs routed to it (not yet
   * in the kernel: call {@link syncRoutes}), its endpoint set. Timers are not started here.
   */
  add(cfg: PeerConfig, local: LocalStatic | null, endpoint: string | null): DevicePeer {
    let id = this.#lowFree;
    while (this.#byId[id] !== undefined) id++;
    if (id >= this.#maxPeers) throw new RangeError(`more than ${this.#maxPeers} peers (MaxPeers)`);
    const rc = this.#plane.resetPeer(id);
    if (rc < 0) throw new RangeError(`peer ${id}: ts_peer_reset failed (${dropReasonName(rc)})`);
    this.#lowFree = id + 1;
    const peer = new DevicePeer(id, local, cfg, this.#slots, this.#now);
    this.#byId[id] = peer;
    this.#byKey.set(peer.name, peer);
    this.#hsOwner.set(peer.handshake, peer);
    peer.allowedIps = [];
    for (const c of cfg.allowedIps) this.#addPrefix(peer, c);
    if (endpoint !== null) this.setEndpoint(peer, endpoint);
    return peer;
  }

  /**
   * Removes a peer whose protocol state is already cleared: its routes (data plane and kernel)
   * and its data-plane slot. Returns false if it was not in the table.
   */
  remove(peer: DevicePeer, syncKernel = true): boolean {
    if (this.#byId[peer.id] !== peer) return false;
    this.#plane.removePeerRoutes(peer.id); // the trie keeps each peer's list: O(its prefixes)
    this.#plane.resetPeer(peer.id);
    this.#byId[peer.id] = undefined;
    if (peer.id < this.#lowFree) this.#lowFree = peer.id;
    this.#byKey.delete(peer.name);
    this.#hsOwner.delete(peer.handshake);
    this.#disown(peer);
    if (syncKernel) this.syncRoutes();
    return true;
  }

  /** Drops every prefix of `peer` from {@link #owner} and its list. */
  #disown(peer: DevicePeer): void {
    for (const x of peer.allowedIps) {
      const k = prefixKey(x);
      if (this.#owner.get(k) === peer) {
        this.#owner.delete(k);
        this.#changed.set(k, x);
      }
    }
    peer.allowedIps = [];
  }

  /** Routes `c` to `peer`, taking it from the peer that had it (wireguard-go's semantics). */
  #addPrefix(peer: DevicePeer, c: Cidr): void {
    this.#insertRoute(c, peer.id);
    const k = prefixKey(c);
    const prev = this.#owner.get(k);
    if (prev !== peer) {
      // A prefix moving between peers is rare: one scan of the old owner's list.
      if (prev !== undefined) prev.allowedIps = prev.allowedIps.filter((x) => prefixKey(x) !== k);
      else this.#changed.set(k, c);
      this.#owner.set(k, peer);
      peer.allowedIps.push(c);
    }
  }

  /** The peers in id order. */
  list(): DevicePeer[] {
    return this.#byId.filter((p): p is DevicePeer => p !== undefined);
  }

  /** The peer with this public key, if any. */
  byKey(key: Uint8Array): DevicePeer | undefined {
    return this.#byKey.get(encodeBase64Key(key));
  }

  /** Sets a peer's endpoint from text (`1.2.3.4:51820`, `[fd00::1]:51820`). */
  setEndpoint(peer: DevicePeer, endpoint: string): void {
    this.#plane.setEndpoint(peer.id, parseEndpoint(endpoint));
  }

  /** A peer's current endpoint, or null. */
  endpointOf(peer: DevicePeer): Endpoint | null {
    return this.#plane.endpoint(peer.id);
  }

  /** A peer's current endpoint as `wg show` prints it, or null. */
  endpointText(peer: DevicePeer): string | null {
    const ep = this.endpointOf(peer);
    return ep === null ? null : formatEndpoint(ep);
  }

  /**
   * Changes a peer's AllowedIPs: `replace` drops the old ones first; a prefix added here moves
   * away from any other peer. The data plane's routes and the kernel routes follow.
   */
  updateAllowedIps(
    peer: DevicePeer,
    replace: boolean,
    add: Cidr[],
    remove: Cidr[] = [],
    syncKernel = true,
  ): void {
    const plane = this.#plane;
    if (replace) {
      plane.removePeerRoutes(peer.id);
      this.#disown(peer);
    }
    let gone: Set<string> | undefined;
    for (const c of remove) {
      const k = prefixKey(c);
      if (this.#owner.get(k) !== peer) continue;
      plane.removeRoute(c);
      this.#owner.delete(k);
      this.#changed.set(k, c);
      (gone ??= new Set()).add(k);
    }
    // One pass over the list however many prefixes went (a peer may hold 100,000s).
    if (gone !== undefined) {
      peer.allowedIps = peer.allowedIps.filter((x) => !gone.has(prefixKey(x)));
    }
    for (const c of add) this.#addPrefix(peer, c);
    if (syncKernel) this.syncRoutes();
  }

  #insertRoute(c: Cidr, id: number): void {
    const rc = this.#plane.insertRoute(c, id);
    if (rc < 0) {
      throw new RangeError(
        `AllowedIPs ${formatCidr(c)}: ts_route_insert failed (${dropReasonName(rc)})`,
      );
    }
  }

  /**
   * Kernel routes follow the union of AllowedIPs not covered by an interface address (as
   * wg-quick): the prefixes that came or went since the last call are added or removed.
   */
  syncRoutes(): void {
    const c = this.#takeRouteChanges();
    if (c === null) return;
    const failures: RouteFailure[] = [];
    this.#applyRoutes(c.add, c.remove, c.addCidrs, failures);
    logRouteFailures(failures);
  }

  /**
   * {@link syncRoutes} for thousands of changes: {@link ROUTE_CHUNK} per rtnetlink stream and
   * `pace` between streams (the kernel takes ~30 µs a route: 10,000 were a 214 ms stall).
   * `pace` resolving false (the device closed) ends it.
   */
  async syncRoutesInSlices(pace: () => Promise<boolean>): Promise<void> {
    const c = this.#takeRouteChanges();
    if (c === null) return;
    const failures: RouteFailure[] = [];
    const { add, remove, addCidrs } = c;
    for (let i = 0; i < remove.length; i += ROUTE_CHUNK) {
      this.#applyRoutes([], remove.slice(i, i + ROUTE_CHUNK), [], failures);
      if (!await pace()) return;
    }
    for (let i = 0; i < add.length; i += ROUTE_CHUNK) {
      const j = i + ROUTE_CHUNK;
      this.#applyRoutes(add.slice(i, j), [], addCidrs.slice(i, j), failures);
      if (j < add.length && !await pace()) return;
    }
    logRouteFailures(failures);
  }

  /** The kernel routes to add and remove for the prefixes changed since the last sync. */
  #takeRouteChanges(): { add: string[]; remove: string[]; addCidrs: Cidr[] } | null {
    const kernel = this.#kernel, routes = this.#routes;
    if (kernel === null) {
      this.#changed.clear();
      return null;
    }
    const add: string[] = [], remove: string[] = [], addCidrs: Cidr[] = [];
    for (const [k, c] of this.#changed) {
      const want = this.#owner.has(k) &&
        (kernel.everyPrefix || !this.#addresses.some((a) => covers(a, c)));
      if (want === routes.has(k)) continue;
      if (want) {
        add.push(k);
        addCidrs.push(c);
        routes.add(k);
      } else {
        remove.push(k);
        routes.delete(k);
      }
    }
    this.#changed.clear();
    return { add, remove, addCidrs };
  }

  #applyRoutes(
    add: readonly string[],
    remove: readonly string[],
    addCidrs: readonly Cidr[],
    failures: RouteFailure[],
  ): void {
    const kernel = this.#kernel!;
    if (kernel.apply !== undefined && add.length + remove.length > 1) {
      try {
        failures.push(...kernel.apply(add, remove));
      } catch (e) {
        // The stream itself failed (a send error, no answer in 5 s): the additions are tried
        // again at the next sync; the removals are forgotten as the kernel's own business.
        add.forEach((k, i) => {
          this.#routes.delete(k);
          this.#changed.set(k, addCidrs[i]);
        });
        failures.push({ prefix: `${add.length + remove.length} routes`, error: e as Error });
      }
      return;
    }
    for (const [list, fn] of [[remove, kernel.remove], [add, kernel.add]] as const) {
      for (const prefix of list) {
        try {
          fn.call(kernel, prefix);
        } catch (e) {
          failures.push({ prefix, error: e as Error });
        }
      }
    }
  }
}

/** Route changes per rtnetlink stream between two turns of the loop (a few ms of the kernel's). */
export const ROUTE_CHUNK = 256;

/** One line each for the first few failures; a count for the rest (thousands of peers). */
function logRouteFailures(failures: readonly RouteFailure[]): void {
  for (const f of failures.slice(0, 3)) {
    log.warning("Cannot change route {route}: {error}", {
      route: f.prefix,
      error: f.error.message,
    });
  }
  if (failures.length > 3) {
    log.warning("{count} more route changes failed", { count: failures.length - 3 });
  }
}

/** True when the interface address prefix `a` covers all of `c` (same family, shorter or equal, contains). */
function covers(a: Cidr, c: Cidr): boolean {
  return a.family === c.family && a.cidr <= c.cidr && cidrContains(maskCidr(a), c.bytes);
}
