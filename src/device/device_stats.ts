/**
 * What {@link DeviceStats} (`Device.stats()`, the final stats line, `show --json`) carries: the
 * pool, the data path's counters, where every received datagram went, the handshake counters,
 * the data plane's tables, drops by reason and per-peer figures.
 *
 * @example
 * ```ts
 * import type { DeviceStats } from "./device_stats.ts";
 * const accounted = (s: DeviceStats) =>
 *   s.received.accepted + s.received.handshake +
 *   Object.values(s.received.dropped).reduce((a, b) => a + b, 0) === s.received.datagrams;
 * console.log(typeof accounted); // "function"
 * ```
 * @module
 */
import type { PoolStats } from "../wasm/slab.ts";
import type { TableStats } from "../wasm/data_plane.ts";
import type { DataPathCounters } from "./data_path_counters.ts";
import type { HandshakeCounters } from "./handshake_plane.ts";

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

/**
 * Where every received datagram went: exactly one of accepted (authenticated data and
 * keepalives), handed to the handshake plane, or dropped under a named reason.
 */
export interface ReceivedStats {
  datagrams: number;
  accepted: number;
  handshake: number;
  dropped: Record<string, number>;
}

/** Everything `Device.stats()` reports. */
export interface DeviceStats {
  interface: string;
  listenPort: number;
  pool: PoolStats;
  data: DataPathCounters;
  received: ReceivedStats;
  handshake: HandshakeCounters;
  /** Initiations and responses waiting for their Noise work now (src/device/handshake_backlog.ts). */
  handshakeBacklog: number;
  /** The data plane's tables: limits, sizes and the pages they hold. */
  tables: TableStats;
  dropped: Record<string, number>;
  peers: PeerStats[];
}
