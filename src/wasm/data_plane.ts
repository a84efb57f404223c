/**
 * The control plane's one door into the data plane: every `ts_*` call that is not the pool's
 * (src/wasm/slab.ts) or the hot path's (src/device/data_path.ts) goes through {@link DataPlane}:
 * the tables' limits, peers (endpoints, counters, send keypair), keypairs, AllowedIPs routes and
 * stats.
 *
 * The tables grow by pages as peers, keypairs and prefixes come (`memory.grow`, which detaches
 * `memory.buffer`): every call that may grow refreshes the pool's views before it returns, so the
 * callers' typed arrays (rebuilt in `SlabPool.onRemap`) are never stale.
 *
 * Each kind of call has its own scratch: the key buffer ({@link KEYS_LEN} bytes) holds keys only,
 * is lent out by {@link DataPlane.installKeypair} for exactly one `ts_keypair_set` and wiped right
 * after, whatever happened; addresses, peer counters and keypair counters have their own areas.
 *
 * @example
 * ```ts
 * import { DataPlane } from "./data_plane.ts";
 * import { instantiate } from "./module.ts";
 * import { SlabPool } from "./slab.ts";
 * import { parseCidr } from "../wg/cidr.ts";
 * const wasm = instantiate();
 * const plane = new DataPlane(wasm, SlabPool.create({ chunkSlots: 16, maxSlots: 16 }, wasm));
 * plane.resetPeer(0);
 * plane.insertRoute(parseCidr("10.0.0.0/24"), 0);
 * console.log(plane.lookupRoute(parseCidr("10.0.0.7/32"))); // 0
 * plane.installKeypair(() => null); // declined: nothing installed, the key buffer wiped
 * ```
 * @module
 */

import type { Cidr } from "../wg/cidr.ts";
import { decodeEndpoint, type Endpoint, writeSockaddr } from "../endpoint.ts";
import {
  DEFAULT_MAX_PEERS,
  DEFAULT_MAX_PREFIXES,
  DROP_REASONS,
  dropReasonName,
  E_BAD_ARG,
  KEYPAIR_INFO_LEN,
  KEYS_LEN,
  PEER_STATS_LEN,
  TABLE_STATS_LEN,
} from "./abi.ts";
import type { TunslabExports } from "./module.ts";
import { f64, ScratchArrays, u8 } from "./scratch_arrays.ts";
import type { SlabPool } from "./slab.ts";

/** A peer's counters as `ts_peer_stats` reports them. */
export interface PeerCounters {
  /** Wire bytes of whole transport messages (32-byte overhead included). */
  rxBytes: number;
  txBytes: number;
  /** Transport messages, keepalives included. */
  rxPackets: number;
  txPackets: number;
  /** Times an authenticated datagram moved the endpoint (roaming). */
  endpointChanges: number;
  /** 0 = nothing yet, 1 = keepalive, 2 = data. */
  lastRxKind: number;
}

/** A keypair slot's counters as `ts_keypair_info` reports them. */
export interface KeypairCounters {
  /** The next counter to send (= messages sent). */
  sendCounter: number;
  highestReceived: number;
  /** Authenticated, replay-accepted messages. */
  received: number;
  peer: number;
}

/** The tables' limits (`ts_tables_init`); 0 or absent: the module's default. */
export interface TableLimits {
  maxPeers?: number;
  maxKeypairs?: number;
  maxPrefixes?: number;
}

/**
 * The limits a device gives its tables: `given`, else `maxPeers` (a config's `MaxPeers`) or
 * `DEFAULT_MAX_PEERS` peers, four keypair slots per peer, `DEFAULT_MAX_PREFIXES` prefixes.
 */
export function tableLimits(given: TableLimits, maxPeers?: number | null): Required<TableLimits> {
  const peers = given.maxPeers ?? maxPeers ?? DEFAULT_MAX_PEERS;
  return {
    maxPeers: peers,
    maxKeypairs: given.maxKeypairs ?? 4 * peers,
    maxPrefixes: given.maxPrefixes ?? DEFAULT_MAX_PREFIXES,
  };
}

/** The tables' limits and sizes as `ts_tables_stats` reports them. */
export interface TableStats {
  maxPeers: number;
  /** Peer slots that exist (pages of them, possibly sparse). */
  peerSlots: number;
  maxKeypairs: number;
  keypairSlots: number;
  /** Live keypairs = local indices in the index hash. */
  keypairs: number;
  indexBuckets: number;
  maxPrefixes: number;
  prefixes: number;
  /** AllowedIPs trie nodes in use (prefixes and branches), and that exist. */
  nodes: number;
  nodeSlots: number;
  /** 64 KiB pages the tables hold: private ones in use and free (kept for reuse), public ones. */
  privatePages: number;
  freePages: number;
  publicPages: number;
}

/** Where {@link DataPlane.installKeypair} puts the keys written into its buffer. */
export interface KeypairPlace {
  kp: number;
  peer: number;
  localIndex: number;
  remoteIndex: number;
}

/** The data plane's scratch: one area per kind of call. */
const LAYOUT = {
  /** Send key, then receive key; wiped after every install. */
  keys: u8(KEYS_LEN),
  /** One address (4 or 16 bytes) for the route calls. */
  addr: u8(16),
  peerStats: f64(PEER_STATS_LEN),
  keypairInfo: f64(KEYPAIR_INFO_LEN),
  tableStats: f64(TABLE_STATS_LEN),
};

/** Peers, keypairs, routes and stats of one module instance. */
export class DataPlane {
  readonly #wasm: TunslabExports;
  readonly #pool: SlabPool;
  readonly #a: ScratchArrays<typeof LAYOUT>;

  /** `limits`: set them now ({@link setLimits}); without, the module's defaults hold. */
  constructor(wasm: TunslabExports, pool: SlabPool, limits?: TableLimits) {
    this.#wasm = wasm;
    this.#pool = pool;
    this.#a = new ScratchArrays(pool, LAYOUT);
    if (limits !== undefined) this.setLimits(limits);
  }

  // --- Tables -------------------------------------------------------------------------------

  /**
   * Sets the tables' limits, before any peer, keypair or route was set (else, or for a limit
   * above the module's largest, it throws a RangeError and nothing changes).
   */
  setLimits(limits: TableLimits): void {
    const { maxPeers = 0, maxKeypairs = 0, maxPrefixes = 0 } = limits;
    const rc = this.#wasm.ts_tables_init(maxPeers, maxKeypairs, maxPrefixes);
    if (rc < 0) {
      throw new RangeError(
        `ts_tables_init(${maxPeers}, ${maxKeypairs}, ${maxPrefixes}) failed: ${dropReasonName(rc)}`,
      );
    }
  }

  /** The tables' limits and sizes. */
  tableStats(): TableStats {
    const a = this.#a;
    const f = a.v.tableStats;
    if (this.#wasm.ts_tables_stats(a.ptr.tableStats) < 0) f.fill(0);
    return {
      maxPeers: f[0],
      peerSlots: f[1],
      maxKeypairs: f[2],
      keypairSlots: f[3],
      keypairs: f[4],
      indexBuckets: f[5],
      maxPrefixes: f[6],
      prefixes: f[7],
      nodes: f[8],
      nodeSlots: f[9],
      privatePages: f[10],
      freePages: f[11],
      publicPages: f[12],
    };
  }

  // --- Peers --------------------------------------------------------------------------------

  /**
   * Clears a peer's endpoint, counters and send keypair (its routes stay), making its storage
   * exist; 0, `E_BAD_ARG` (id at or beyond the limit) or `E_TABLE_FULL` (memory cannot grow).
   */
  resetPeer(peer: number): number {
    const rc = this.#wasm.ts_peer_reset(peer);
    this.#pool.refresh();
    return rc;
  }

  /** Where the peer's sockaddr lives in linear memory (stable), or 0 for a bad id. */
  endpointPtr(peer: number): number {
    const ptr = this.#wasm.ts_peer_endpoint_ptr(peer);
    this.#pool.refresh();
    return ptr;
  }

  /** Bytes of the peer's sockaddr (0: no endpoint). */
  endpointLen(peer: number): number {
    return this.#wasm.ts_peer_endpoint_len(peer);
  }

  /** The peer's endpoint, or null. */
  endpoint(peer: number): Endpoint | null {
    if (this.#wasm.ts_peer_endpoint_len(peer) === 0) return null;
    const ptr = this.endpointPtr(peer);
    return decodeEndpoint(this.#pool.u8, ptr);
  }

  /** Sets the peer's endpoint (a 28-byte sockaddr_in6, IPv4 as v4-mapped); 0 or `E_BAD_ARG`. */
  setEndpoint(peer: number, ep: Endpoint): number {
    const ptr = this.endpointPtr(peer);
    if (ptr === 0) return E_BAD_ARG; // a bad id, or no memory for its sockaddr page
    const len = writeSockaddr(this.#pool.u8, ptr, ep);
    return this.#wasm.ts_peer_set_endpoint_len(peer, len);
  }

  /**
   * Copies `name`, a received datagram's source sockaddr (16 or 28 bytes, copied out of the
   * receive scratch), into the peer's endpoint; 0 or `E_BAD_ARG`.
   */
  learnEndpoint(peer: number, name: Uint8Array): number {
    const ptr = this.endpointPtr(peer);
    if (ptr === 0) return E_BAD_ARG;
    this.#pool.u8.set(name, ptr);
    return this.#wasm.ts_peer_set_endpoint_len(peer, name.length);
  }

  /** The peer's counters (all 0 for a bad id). */
  peerStats(peer: number): PeerCounters {
    const a = this.#a;
    const f = a.v.peerStats;
    if (this.#wasm.ts_peer_stats(peer, a.ptr.peerStats) < 0) f.fill(0);
    return {
      rxBytes: f[0],
      txBytes: f[1],
      rxPackets: f[2],
      txPackets: f[3],
      endpointChanges: f[4],
      lastRxKind: f[5],
    };
  }

  /**
   * The keypair slot the peer sends with (−1: none); 0, or `E_BAD_ARG` when the slot holds no live
   * keypair of this peer (nothing changes then).
   */
  setSendKeypair(peer: number, kp: number): number {
    const rc = this.#wasm.ts_peer_set_send_keypair(peer, kp);
    this.#pool.refresh();
    return rc;
  }

  // --- Keypairs -----------------------------------------------------------------------------

  /**
   * Lends the key buffer to `fill`, which writes the send key and the receive key into it
   * ({@link KEYS_LEN} bytes) and says where they go, or returns null to install nothing; then
   * `ts_keypair_set`. The buffer is wiped afterwards in every case (also when `fill` throws).
   * Returns `ts_keypair_set`'s result (0 or a negative code), or null when `fill` declined.
   */
  installKeypair(fill: (keys: Uint8Array) => KeypairPlace | null): number | null {
    const a = this.#a;
    try {
      const at = fill(a.v.keys);
      if (at === null) return null;
      return this.#wasm.ts_keypair_set(at.kp, at.peer, at.localIndex, at.remoteIndex, a.ptr.keys);
    } finally {
      this.#pool.refresh(); // the keypair's page or a bigger index hash may have grown memory
      a.v.keys.fill(0);
    }
  }

  /** Zeroes a keypair slot and removes its index. Idempotent: 0 (or `E_BAD_ARG` for a bad slot). */
  clearKeypair(kp: number): number {
    return this.#wasm.ts_keypair_clear(kp);
  }

  /** Makes a live keypair refuse sending and receiving (REJECT_AFTER_TIME); 0 or a code. */
  expireKeypair(kp: number): number {
    return this.#wasm.ts_keypair_expire(kp);
  }

  /** A keypair slot's counters, or null for an empty slot. */
  keypairInfo(kp: number): KeypairCounters | null {
    const a = this.#a;
    if (this.#wasm.ts_keypair_info(kp, a.ptr.keypairInfo) <= 0) return null;
    const f = a.v.keypairInfo;
    return { sendCounter: f[0], highestReceived: f[1], received: f[2], peer: f[3] };
  }

  /** Messages sent with a keypair slot (0 for an empty or bad one). */
  sendCounter(kp: number): number {
    const a = this.#a;
    return this.#wasm.ts_keypair_info(kp, a.ptr.keypairInfo) < 0 ? 0 : a.v.keypairInfo[0];
  }

  // --- AllowedIPs ---------------------------------------------------------------------------

  /** Routes the prefix to `peer` (moving it from another peer); 0, or a negative code. */
  insertRoute(c: Cidr, peer: number): number {
    const addr = this.#addr(c.bytes);
    const rc = this.#wasm.ts_route_insert(c.family, addr, c.cidr, peer);
    this.#pool.refresh();
    return rc;
  }

  /** Removes the prefix; 0, or `E_NO_ROUTE`. */
  removeRoute(c: Cidr): number {
    const addr = this.#addr(c.bytes);
    return this.#wasm.ts_route_remove(c.family, addr, c.cidr);
  }

  /** Removes every prefix of `peer`; returns how many. */
  removePeerRoutes(peer: number): number {
    return this.#wasm.ts_route_remove_peer(peer);
  }

  /** The peer an address routes to (longest prefix), or `E_NO_ROUTE`. */
  lookupRoute(c: Cidr): number {
    return this.#wasm.ts_route_lookup(c.family, this.#addr(c.bytes));
  }

  #addr(bytes: Uint8Array): number {
    const a = this.#a;
    a.v.addr.fill(0);
    a.v.addr.set(bytes);
    return a.ptr.addr;
  }

  // --- Stats --------------------------------------------------------------------------------

  /** Packets the data plane dropped, by reason name (only reasons that occurred). */
  dropped(): Record<string, number> {
    const out: Record<string, number> = {};
    this.#pool.dropCounts().forEach((v, k) => {
      if (k > 0 && v > 0) out[DROP_REASONS[k] ?? "unknown_code"] = v;
    });
    return out;
  }
}
