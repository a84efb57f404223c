/**
 * What the UAPI server needs from a device: a snapshot for `get=1` and an
 * apply function for a parsed `set=1`. The device implements {@link UapiDevice};
 * the server ({@link ./uapi_server.ts}) and the protocol
 * ({@link ./uapi_protocol.ts}) do the text.
 *
 * Semantics a device must keep so stock `wg` sees wireguard-go's behaviour:
 *
 * - `uapiSet` applies in this order: `privateKey`, `listenPort`, `fwmark`,
 *   `replacePeers`, then `peers` one after another in array order (the same
 *   public key may appear in several entries; each sees the previous ones'
 *   effects). Return the first failure as a negative errno; wireguard-go stops
 *   at the failing line and keeps what it applied before it.
 * - `privateKey`: all-zero clears it (the device then has no public key and
 *   `get` omits `private_key`). Any other value arrives already clamped, as
 *   wireguard-go stores it. Setting it removes an existing peer whose public key
 *   equals the new public key.
 * - `listenPort`: 0 = pick a random port; the port in use is what `uapiGet`
 *   reports. Bind failure → `-98` (EADDRINUSE). `fwmark`: 0 = off; failure to
 *   set it → `-98` too (wireguard-go's choice).
 * - A peer entry whose public key equals the device's own public key (after
 *   this request's `privateKey`) is ignored entirely.
 * - `remove`: delete the peer if it exists; the parser leaves every other field
 *   of such an entry empty. `updateOnly`: apply the entry only if the peer
 *   already exists, never create it.
 * - `presharedKey` all-zero = no preshared key. `endpoint` is normalized text
 *   that `parseEndpoint` in `src/endpoint.ts` accepts (`1.2.3.4:51820`,
 *   `[fd00::1]:51820`, `[fe80::1%3]:51820` with a numeric scope id).
 * - `persistentKeepaliveInterval`: seconds, 0 = off. If it goes from 0 to
 *   non-zero while the device is up, send a keepalive at once.
 * - `allowedIpOps` are applied in order (order matters: an `add` followed by a
 *   `replace` takes the prefix from whichever peer had it and leaves it with no
 *   peer, exactly like wireguard-go). `add` inserts the (already masked) prefix
 *   for this peer, moving it from another peer; `remove` deletes it only if this
 *   peer owns it; `replace` deletes all of this peer's prefixes.
 * - After a peer entry, if the device is up: start the peer (timers, staged
 *   packets), as wireguard-go's `handlePostConfig`.
 * - `uapiGet` lists peers in any stable order and each peer's prefixes in
 *   insertion order (wireguard-go's order), masked.
 *
 * @example
 * ```ts
 * import type { UapiDevice, UapiSetRequest, UapiState } from "./uapi_types.ts";
 * const state: UapiState = { privateKey: null, listenPort: 0, fwmark: 0, peers: [] };
 * const device: UapiDevice = {
 *   uapiGet: () => state,
 *   uapiSet(req: UapiSetRequest): number {
 *     if (req.listenPort !== undefined) state.listenPort = req.listenPort;
 *     return 0;
 *   },
 * };
 * console.log((await device.uapiGet()).listenPort); // 0
 * ```
 * @module
 */

import type { Cidr } from "../wg/cidr.ts";

/** One peer as `get=1` reports it. */
export interface UapiPeerState {
  publicKey: Uint8Array;
  /** `null` (or all-zero) = none; printed as 64 zeros. */
  presharedKey: Uint8Array | null;
  /** `"1.2.3.4:51820"` or `"[fd00::1]:51820"`; `null` = not known yet (line omitted). */
  endpoint: string | null;
  /** Wall-clock time of the last completed handshake; 0/0 = never. */
  lastHandshakeTimeSec: number;
  lastHandshakeTimeNsec: number;
  txBytes: number;
  rxBytes: number;
  /** Seconds, 0 = off. */
  persistentKeepaliveInterval: number;
  /** In insertion order; host bits are masked when formatted. */
  allowedIps: Cidr[];
}

/** The whole device as `get=1` reports it. */
export interface UapiState extends UapiGetState {
  peers: UapiPeerState[];
}

/** {@link UapiState} as a device hands it out: its peers may come one by one while it is written. */
export interface UapiGetState {
  /** `null` (or all-zero) = no key: the `private_key` line is omitted. */
  privateKey: Uint8Array | null;
  /** The bound port; 0 = not bound (line omitted). */
  listenPort: number;
  /** 0 = off (line omitted). */
  fwmark: number;
  peers: Iterable<UapiPeerState>;
}

/** One allowed-IP edit in a peer entry; applied in order. */
export type UapiAllowedIpOp =
  /** `replace_allowed_ips=true`: drop every prefix of this peer. */
  | { kind: "replace" }
  /** `allowed_ip=P`: insert P (masked) for this peer, moving it from another peer. */
  | { kind: "add"; cidr: Cidr }
  /** `allowed_ip=-P` (newer wg/wireguard-go): remove P if this peer owns it. */
  | { kind: "remove"; cidr: Cidr };

/** One `public_key=` section of a `set=1`. Absent fields are left unchanged. */
export interface UapiPeerChange {
  publicKey: Uint8Array;
  /** `remove=true`: delete the peer; every other field is empty. */
  remove: boolean;
  /** `update_only=true`: apply only if the peer already exists. */
  updateOnly: boolean;
  /** All-zero = no preshared key. */
  presharedKey?: Uint8Array;
  /** Normalized, see the module doc. */
  endpoint?: string;
  /** Seconds, 0..65535, 0 = off. */
  persistentKeepaliveInterval?: number;
  /** Ordered edits of this peer's allowed IPs; see {@link UapiAllowedIpOp}. */
  allowedIpOps: UapiAllowedIpOp[];
}

/** A parsed `set=1` request. Absent fields are left unchanged. */
export interface UapiSetRequest {
  /** Clamped; all-zero = clear the key. */
  privateKey?: Uint8Array;
  /** 0..65535, 0 = random. */
  listenPort?: number;
  /** 0..2^32-1, 0 = off. */
  fwmark?: number;
  /** `replace_peers=true`: remove every peer before applying `peers`. */
  replacePeers: boolean;
  /** In request order. */
  peers: UapiPeerChange[];
}

/** The device side of the UAPI. */
export interface UapiDevice {
  /**
   * The device's state (called with no other UAPI operation running); its peers may be produced
   * lazily as the reply is written, the loop turning in between.
   */
  uapiGet(): UapiGetState | Promise<UapiGetState>;
  /**
   * Applies a validated request, atomically as far as possible. Returns 0 or a
   * negative errno (e.g. `-98` EADDRINUSE when `listenPort` cannot be bound).
   * Never called concurrently with another `uapiSet` or `uapiGet`.
   */
  uapiSet(req: UapiSetRequest): number | Promise<number>;
  /**
   * tunslab's own `tsl=1` request (stock `wg` never sends it; wireguard-go closes the connection
   * on it): `key=value` facts about the process serving the socket (program, pid, reloads), so
   * `tunslab down`/`reload` can tell a tunslab interface from another and find its process.
   */
  uapiInfo?(): Record<string, string | number>;
}
