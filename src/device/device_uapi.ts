/**
 * The device side of the cross-platform UAPI: a `get=1` snapshot and the
 * application of a parsed `set=1` (semantics in src/uapi/uapi_types.ts, as
 * wireguard-go's `IpcSetOperation`), over {@link Device}'s reconfiguration
 * methods. A `set` of thousands of peers is applied in slices of at most {@link SLICE_MS}, the
 * loop turning in between, so the data path never waits long for a reconfiguration.
 *
 * @example
 * ```ts
 * // const server = await UapiServer.start(dev.name, uapiFor(dev));
 * ```
 * @module
 */

import { formatCidr, maskCidr } from "../wg/cidr.ts";
import type {
  UapiDevice,
  UapiGetState,
  UapiPeerChange,
  UapiPeerState,
  UapiSetRequest,
} from "../uapi/uapi_types.ts";
import type { Device } from "./device.ts";
import type { DevicePeer } from "./device_peer.ts";
import { logger } from "../log.ts";
import { Pacer, SLICE_MS } from "../pacer.ts";

export { SLICE_MS };

const log = logger("device");

const EINVAL = -22, EIO = -5;

/** Adapts a running device to the UAPI server. */
export function uapiFor(dev: Device): UapiDevice {
  return {
    uapiGet: () => snapshot(dev),
    uapiSet: (req) => serialized(dev, () => apply(dev, req)),
  };
}

/** The set in progress per device: sets (UAPI, reload) run one after another, never interleaved. */
const running = new WeakMap<Device, Promise<unknown>>();

function serialized<T>(dev: Device, fn: () => Promise<T>): Promise<T> {
  const run = (running.get(dev) ?? Promise.resolve()).then(fn, fn);
  running.set(dev, run.catch(() => {}));
  return run;
}

/**
 * The device's state for `get`, its peers produced one by one as the reply is written (the UAPI
 * server paces it): a snapshot of 10,000 peers held whole survived into V8's young-generation
 * collections, which copied it, pausing the loop 50-70 ms. A peer removed meanwhile (a reload
 * between two slices) is left out.
 */
function snapshot(dev: Device): UapiGetState {
  return {
    privateKey: dev.privateKey,
    listenPort: dev.listenPort,
    fwmark: dev.fwmark,
    peers: peersOf(dev),
  };
}

function* peersOf(dev: Device): Generator<UapiPeerState> {
  for (const peer of dev.peers()) {
    if (dev.closed) return;
    if (!dev.holds(peer)) continue; // removed while the loop ran
    // The prefixes as they are (peerLines masks them): no text round trip, little garbage.
    const p = dev.peerStats(peer, false);
    const ms = p.lastHandshakeWallMs;
    yield {
      publicKey: peer.publicKey,
      presharedKey: peer.handshake.presharedKey,
      endpoint: p.endpoint,
      lastHandshakeTimeSec: Math.floor(ms / 1000),
      lastHandshakeTimeNsec: Math.round((ms % 1000) * 1e6),
      txBytes: p.txBytes,
      rxBytes: p.rxBytes,
      persistentKeepaliveInterval: p.persistentKeepalive,
      allowedIps: peer.allowedIps,
    };
  }
}

/** More peers than this changed by one request: one summary line instead of one per peer. */
export const BULK_PEERS = 10;

/** Peers one request added, removed and changed (for its log lines). */
interface Tally {
  added: string[];
  removed: string[];
  changed: number;
}

async function apply(dev: Device, req: UapiSetRequest): Promise<number> {
  const tally: Tally = { added: [], removed: [], changed: 0 };
  const pacer = new Pacer();
  /** False if the device closed while the loop ran. */
  const pace = async (): Promise<boolean> => {
    await pacer.maybeYield();
    return !dev.closed;
  };
  try {
    if (req.privateKey !== undefined) dev.setPrivateKey(req.privateKey);
    if (req.listenPort !== undefined) {
      const rc = dev.setListenPort(req.listenPort);
      if (rc < 0) return rc;
    }
    if (req.fwmark !== undefined && dev.setFwmark(req.fwmark) < 0) return -98;
    if (req.replacePeers) {
      for (const p of dev.peers()) {
        if (dev.peerByKey(p.publicKey) !== p) continue; // already gone (the loop ran)
        dev.removePeer(p, true, false);
        tally.removed.push(p.name);
        if (!await pace()) return EIO;
      }
    }
    for (const change of req.peers) {
      const rc = applyPeer(dev, change, tally);
      if (rc < 0) return rc;
      if (!await pace()) return EIO;
    }
    return 0;
  } finally {
    // Kernel routes once per request, not per peer (each sync compares every prefix).
    const routesAt = performance.now();
    try {
      if (!dev.closed) await dev.syncRoutes(pace);
    } catch (e) {
      log.warning("Routes of {interface} not synced: {error}", {
        interface: dev.name,
        error: (e as Error).message,
      });
    }
    const routesMs = performance.now() - routesAt;
    pacer.finish();
    report(dev, tally);
    log.debug(
      "Set of {interface} applied in {slices} slices, longest {longestMs} ms, routes {routesMs} ms",
      () => ({
        interface: dev.name,
        slices: pacer.slices,
        longestMs: Math.round(pacer.longest),
        routesMs: Math.round(routesMs),
      }),
    );
  }
}

/** One line per added or removed peer, or one summary line for a bulk change. */
function report(dev: Device, t: Tally): void {
  if (t.added.length + t.removed.length + t.changed > BULK_PEERS) {
    log.info("Peers of {interface} changed: {added} added, {removed} removed, {changed} changed", {
      interface: dev.name,
      added: t.added.length,
      removed: t.removed.length,
      changed: t.changed,
    });
    return;
  }
  for (const peer of t.removed) log.info("Peer {peer} removed", { peer });
  for (const peer of t.added) log.info("Peer {peer} added", { peer });
}

function applyPeer(dev: Device, change: UapiPeerChange, tally: Tally): number {
  const own = dev.publicKey;
  if (own !== null && own.every((b, i) => b === change.publicKey[i])) return 0;
  let peer: DevicePeer | undefined = dev.peerByKey(change.publicKey);
  if (change.remove) {
    if (peer !== undefined) {
      dev.removePeer(peer, true, false);
      tally.removed.push(peer.name);
    }
    return 0;
  }
  if (peer === undefined) {
    if (change.updateOnly) return 0;
    try {
      dev.addPeer({
        publicKey: change.publicKey,
        presharedKey: null,
        allowedIps: [],
        endpoint: null,
        persistentKeepalive: 0,
        line: 0,
      }, null);
    } catch {
      return -55; // wireguard-go: "failed to create new peer" is a generic IPC error
    }
    peer = dev.peerByKey(change.publicKey)!;
    tally.added.push(peer.name);
  } else tally.changed++;
  if (change.presharedKey !== undefined) dev.setPresharedKey(peer, change.presharedKey);
  if (change.endpoint !== undefined) {
    try {
      dev.setEndpoint(peer, change.endpoint);
    } catch {
      return EINVAL;
    }
  }
  // `wg syncconf` (and reload) sends every peer's whole list again: the same list is no change.
  const ops = unchangedList(peer, change.allowedIpOps) ? [] : change.allowedIpOps;
  for (const op of ops) {
    if (op.kind === "replace") dev.updateAllowedIps(peer, true, [], [], false);
    else if (op.kind === "add") dev.updateAllowedIps(peer, false, [op.cidr], [], false);
    else dev.updateAllowedIps(peer, false, [], [op.cidr], false);
  }
  if (change.persistentKeepaliveInterval !== undefined) {
    dev.setPersistentKeepalive(peer, change.persistentKeepaliveInterval);
  }
  return 0;
}

/** Whether `ops` is "replace, then add" of exactly the prefixes `peer` has, in its order. */
function unchangedList(peer: DevicePeer, ops: UapiPeerChange["allowedIpOps"]): boolean {
  if (ops.length === 0 || ops[0].kind !== "replace" || ops.length - 1 !== peer.allowedIps.length) {
    return false;
  }
  for (let i = 1; i < ops.length; i++) {
    const op = ops[i];
    if (op.kind !== "add") return false;
    if (formatCidr(maskCidr(op.cidr)) !== formatCidr(maskCidr(peer.allowedIps[i - 1]))) {
      return false;
    }
  }
  return true;
}
