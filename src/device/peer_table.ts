/**
 * The device's peers: ids (the data plane's peer slots), lookups by public key and by local
 * index, keypair slots, AllowedIPs and the kernel routes that follow them.
 *
 * Ids and keypair slots are handed out lowest-free-first (ids) and last-freed-first (slots), up
 * to the data plane's limits ({@link PeerTableOptions.maxPeers}), and the data plane's tables grow
 * with them; nothing here is sized in advance.
 *
 * A peer's AllowedIPs live twice: in JavaScript (`peer.allowedIps`, for `wg show` and the UAPI)
 * and in the data plane's routing trie (through src/wasm/data_plane.ts); every change here keeps
 * both equal. Which peer owns a prefix is one map lookup, and the kernel routes change only for
 * the prefixes that came or went since the last sync (so a setconf of 10,000 peers or of 130,560
 * prefixes on one peer is linear, not quadratic). The kernel routes (as wg-quick makes them) follow the union of all AllowedIPs not
 * covered by an interface address, through a {@link KernelRoutes} (none when a device runs over
 * in-memory I/O).
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
import { DEFAULT_MAX_KEYPAIRS, DEFAULT_MAX_PEERS, dropReasonName } from "../wasm/abi.ts";
import type { DataPlane } from "../wasm/data_plane.ts";
import { DevicePeer, type PeerConfig } from "./device_peer.ts";
import { IndexTable } from "./index_table.ts";

/** Kernel routes through the device's interface, by prefix text (`10.0.0.0/24`). */
export interface KernelRoutes {
  add(prefix: string): void;
  remove(prefix: string): void;
  /** Routes also for prefixes an interface address covers (a table other than main: `Table = N`). */
  readonly everyPrefix?: boolean;
}

/** Options of {@link PeerTable}. */
export interface PeerTableOptions {
  /** Interface addresses: AllowedIPs they cover get no kernel route. */
  addresses: readonly Cidr[];
  /** Where kernel routes go; null: none. */
  kernel: KernelRoutes | null;
  /** Monotonic clock (ms) for the peers' timers and keypairs. */
  now: () => number;
  /** Peer ids are below this: the data plane's peer limit (default `DEFAULT_MAX_PEERS`). */
  maxPeers?: number;
  /** Keypair slots are below this: the data plane's limit (default `DEFAULT_MAX_KEYPAIRS`). */
  maxKeypairs?: number;
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
  /** Which peer each prefix ({@link prefixKey}) belongs to. */
  readonly #owner = new Map<string, DevicePeer>();
  /** Keypair slots given back (reused last-freed-first), and the next never-used one. */
  readonly #kpFree: number[] = [];
  #kpNext = 0;
  readonly #maxKeypairs: number;
  readonly #slots: KeypairSlotAllocator;
  readonly #plane: DataPlane;
  readonly #addresses: readonly Cidr[];
  readonly #kernel: KernelRoutes | null;
  readonly #now: () => number;
  /** Kernel routes installed, by prefix text. */
  readonly #routes = new Set<string>();
  /** Prefixes that came or went since the last {@link syncRoutes}, with their Cidr. */
  readonly #changed = new Map<string, Cidr>();
  readonly #allocator: PeerIndexAllocator;

  constructor(plane: DataPlane, opts: PeerTableOptions) {
    this.byId = this.#byId;
    this.#plane = plane;
    this.#addresses = [...opts.addresses];
    this.#kernel = opts.kernel;
    this.#now = opts.now;
    this.#maxPeers = opts.maxPeers ?? DEFAULT_MAX_PEERS;
    this.#maxKeypairs = opts.maxKeypairs ?? DEFAULT_MAX_KEYPAIRS;
    this.#slots = {
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
    if (id >= this.#maxPeers) {
      throw new RangeError(`more than ${this.#maxPeers} peers (MaxPeers)`);
    }
    const rc = this.#plane.resetPeer(id);
    if (rc < 0) throw new RangeError(`peer ${id}: ts_peer_reset failed (${dropReasonName(rc)})`);
    this.#lowFree = id + 1;
    const peer = new DevicePeer(id, local, { ...cfg, allowedIps: [] }, this.#slots, this.#now);
    this.#byId[id] = peer;
    this.#byKey.set(peer.name, peer);
    this.#hsOwner.set(peer.handshake, peer);
    for (const c of cfg.allowedIps) this.#claim(peer, c);
    if (endpoint !== null) this.setEndpoint(peer, endpoint);
    return peer;
  }

  /** Peers in the table. */
  get size(): number {
    return this.#byKey.size;
  }

  /**
   * Removes a peer whose protocol state is already cleared: its routes (data plane and kernel)
   * and its data-plane slot. Returns false if it was not in the table.
   */
  remove(peer: DevicePeer): boolean {
    if (this.#byId[peer.id] !== peer) return false;
    this.#dropRoutes(peer);
    this.#plane.resetPeer(peer.id);
    this.#byId[peer.id] = undefined;
    if (peer.id < this.#lowFree) this.#lowFree = peer.id;
    this.#byKey.delete(peer.name);
    this.#hsOwner.delete(peer.handshake);
    this.syncRoutes();
    return true;
  }

  /** Removes all of a peer's prefixes from the trie and from its list. */
  #dropRoutes(peer: DevicePeer): void {
    this.#plane.removePeerRoutes(peer.id); // the trie keeps each peer's list: O(its prefixes)
    for (const c of peer.allowedIps) this.#disown(c);
    peer.allowedIps = [];
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
    if (replace) this.#dropRoutes(peer);
    for (const c of remove) {
      const k = prefixKey(c);
      if (this.#owner.get(k) !== peer) continue;
      this.#plane.removeRoute(c);
      this.#disown(c);
      peer.allowedIps = peer.allowedIps.filter((x) => prefixKey(x) !== k);
    }
    for (const c of add) this.#claim(peer, c);
    if (syncKernel) this.syncRoutes();
  }

  /** Routes `c` to `peer`, moving it away from the peer that had it (as wireguard-go). */
  #claim(peer: DevicePeer, c: Cidr): void {
    const rc = this.#plane.insertRoute(c, peer.id);
    if (rc < 0) {
      throw new RangeError(
        `AllowedIPs ${formatCidr(c)}: ts_route_insert failed (${dropReasonName(rc)})`,
      );
    }
    const k = prefixKey(c);
    const prev = this.#owner.get(k);
    if (prev === peer) return;
    if (prev !== undefined) prev.allowedIps = prev.allowedIps.filter((x) => prefixKey(x) !== k);
    else this.#changed.set(k, c);
    peer.allowedIps.push(c);
    this.#owner.set(k, peer);
  }

  /** `c` belongs to no peer any more. */
  #disown(c: Cidr): void {
    const k = prefixKey(c);
    this.#owner.delete(k);
    this.#changed.set(k, c);
  }

  /**
   * Kernel routes follow the union of AllowedIPs not covered by an interface address (as
   * wg-quick): for each prefix that came or went since the last call, one route added or removed.
   */
  syncRoutes(): void {
    const kernel = this.#kernel, routes = this.#routes;
    if (kernel === null) return this.#changed.clear();
    for (const [k, c] of this.#changed) {
      const want = this.#owner.has(k) &&
        (kernel.everyPrefix || !this.#addresses.some((a) => covers(a, c)));
      if (want === routes.has(k)) continue;
      try {
        if (want) kernel.add(k);
        else kernel.remove(k);
      } catch (e) {
        const error = (e as Error).message;
        if (want) log.warning("Cannot add route {route}: {error}", { route: k, error });
        else log.warning("Cannot remove route {route}: {error}", { route: k, error });
      }
      if (want) routes.add(k);
      else routes.delete(k);
    }
    this.#changed.clear();
  }
}

/** True when the interface address prefix `a` covers all of `c` (same family, shorter or equal, contains). */
function covers(a: Cidr, c: Cidr): boolean {
  return a.family === c.family && a.cidr <= c.cidr && cidrContains(maskCidr(a), c.bytes);
}
