/**
 * The live pool, drop and handshake counters `show --json` prints (the same figures as the
 * `tunslab_*` metrics), and their wire form in tunslab's `tsl=1` UAPI reply: one
 * `stats.PATH=N` line per number (`stats.pool.in_use=3`, `stats.dropped.no_route=1`,
 * `stats.handshakes.rejected.bad_mac1=2`). Flat `key=value` lines keep the reply a UAPI reply;
 * keys a reader does not know are skipped, so either side may add figures.
 *
 * @example
 * ```ts
 * import { decodeLiveCounters, encodeLiveCounters, emptyLiveCounters } from "./live_counters.ts";
 * const c = emptyLiveCounters();
 * c.pool.inUse = 3;
 * c.dropped.no_route = 1;
 * const lines = new Map(Object.entries(encodeLiveCounters(c)).map(([k, v]) => [k, String(v)]));
 * console.log(decodeLiveCounters(lines)?.dropped); // { no_route: 1 }
 * ```
 * @module
 */
import type { DeviceStats } from "./device_stats.ts";

/** Handshake messages by kind, completions, and rejections by reason. */
export interface HandshakeResults {
  completed: number;
  initiationsSent: number;
  initiationsReceived: number;
  responsesSent: number;
  responsesReceived: number;
  cookiesSent: number;
  cookiesReceived: number;
  rejected: Record<string, number>;
}

/** What `show --json` carries under `tunslab`. */
export interface LiveCounters {
  pool: { capacity: number; inUse: number; highWater: number; refusedAllocations: number };
  /** The data plane's drops by reason (`tunslab_dropped_packets_total`). */
  dropped: Record<string, number>;
  /** Where received datagrams went; `dropped` by reason. */
  received: {
    datagrams: number;
    accepted: number;
    handshake: number;
    dropped: Record<string, number>;
  };
  handshakes: HandshakeResults;
}

const PREFIX = "stats.";
const POOL_KEYS = ["capacity", "inUse", "highWater", "refusedAllocations"] as const;
const RECEIVED_KEYS = ["datagrams", "accepted", "handshake"] as const;
const HANDSHAKE_KEYS = [
  "completed",
  "initiationsSent",
  "initiationsReceived",
  "responsesSent",
  "responsesReceived",
  "cookiesSent",
  "cookiesReceived",
] as const;
/** Reason names as the counters spell them; anything else on the wire is skipped. */
function isReason(s: string | undefined): s is string {
  return s !== undefined && /^[a-z0-9_]{1,64}$/.test(s) && s !== "__proto__";
}

/** All zeros, no reasons. */
export function emptyLiveCounters(): LiveCounters {
  return {
    pool: { capacity: 0, inUse: 0, highWater: 0, refusedAllocations: 0 },
    dropped: {},
    received: { datagrams: 0, accepted: 0, handshake: 0, dropped: {} },
    handshakes: {
      completed: 0,
      initiationsSent: 0,
      initiationsReceived: 0,
      responsesSent: 0,
      responsesReceived: 0,
      cookiesSent: 0,
      cookiesReceived: 0,
      rejected: {},
    },
  };
}

/** The live counters of a device's stats. */
export function liveCounters(
  s: DeviceStats,
  completed: number = s.peers.reduce((a, p) => a + p.handshakes, 0),
): LiveCounters {
  const hs = s.handshake;
  return {
    pool: {
      capacity: s.pool.capacity,
      inUse: s.pool.inUse,
      highWater: s.pool.highWater,
      refusedAllocations: s.pool.refusedAllocs,
    },
    dropped: { ...s.dropped },
    received: {
      datagrams: s.received.datagrams,
      accepted: s.received.accepted,
      handshake: s.received.handshake,
      dropped: { ...s.received.dropped },
    },
    handshakes: {
      completed,
      initiationsSent: hs.initiationsSent,
      initiationsReceived: hs.initiationsReceived,
      responsesSent: hs.responsesSent,
      responsesReceived: hs.responsesReceived,
      cookiesSent: hs.cookiesSent,
      cookiesReceived: hs.cookiesReceived,
      rejected: { ...hs.rejected },
    },
  };
}

/** `camelCase` → `snake_case`, the style of UAPI keys. */
function snake(k: string): string {
  return k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** The `stats.*` keys of the `tsl=1` reply. */
export function encodeLiveCounters(c: LiveCounters): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of POOL_KEYS) out[`${PREFIX}pool.${snake(k)}`] = c.pool[k];
  for (const [r, n] of Object.entries(c.dropped)) out[`${PREFIX}dropped.${r}`] = n;
  for (const k of RECEIVED_KEYS) out[`${PREFIX}received.${k}`] = c.received[k];
  for (const [r, n] of Object.entries(c.received.dropped)) {
    out[`${PREFIX}received.dropped.${r}`] = n;
  }
  for (const k of HANDSHAKE_KEYS) out[`${PREFIX}handshakes.${snake(k)}`] = c.handshakes[k];
  for (const [r, n] of Object.entries(c.handshakes.rejected)) {
    out[`${PREFIX}handshakes.rejected.${r}`] = n;
  }
  return out;
}

/** The counters in a `tsl=1` reply's keys, or null if it has none (an older tunslab). */
export function decodeLiveCounters(kv: ReadonlyMap<string, string>): LiveCounters | null {
  const c = emptyLiveCounters();
  const pool = new Map(POOL_KEYS.map((k) => [snake(k), k]));
  const received = new Map(RECEIVED_KEYS.map((k) => [k as string, k]));
  const handshakes = new Map(HANDSHAKE_KEYS.map((k) => [snake(k), k]));
  let any = false;
  for (const [key, text] of kv) {
    if (!key.startsWith(PREFIX) || !/^[0-9]{1,16}$/.test(text)) continue;
    const n = Number(text);
    const [group, name, reason, ...rest] = key.slice(PREFIX.length).split(".");
    if (rest.length > 0) continue;
    if (group === "pool" && reason === undefined && pool.has(name)) c.pool[pool.get(name)!] = n;
    else if (group === "dropped" && reason === undefined && isReason(name)) c.dropped[name] = n;
    else if (group === "received" && reason === undefined && received.has(name)) {
      c.received[received.get(name)!] = n;
    } else if (group === "received" && name === "dropped" && isReason(reason)) {
      c.received.dropped[reason] = n;
    } else if (group === "handshakes" && reason === undefined && handshakes.has(name)) {
      c.handshakes[handshakes.get(name)!] = n;
    } else if (group === "handshakes" && name === "rejected" && isReason(reason)) {
      c.handshakes.rejected[reason] = n;
    } else continue;
    any = true;
  }
  return any ? c : null;
}
