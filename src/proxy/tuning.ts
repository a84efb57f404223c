/**
 * A front end's limits and timeouts, config keys of its section (tunslab's; wireproxy has none):
 * `MaxConnections` (at once, in all), `MaxConnectionsPerClient` (at once, per client address),
 * `ConnectTimeout` (a connect through the tunnel, or a server tunnel's to its local target) and
 * `IdleTimeout` (a joined pair, or a UDP client, with no byte either way). Durations are seconds
 * (`10`) or with a unit: `500ms`, `10s`, `15m`, `1h`.
 * @module
 */
import { ConfigError } from "../wg/config_error.ts";

/** What a front end may hold and wait for. */
export interface Tuning {
  maxConnections: number;
  maxPerClient: number;
  connectTimeoutMs: number;
  idleTimeoutMs: number;
}

/** TCP front ends: 4,096 connections, 256 per client, connects 10 s, idle 15 min. */
export const TCP_TUNING: Tuning = {
  maxConnections: 4096,
  maxPerClient: 256,
  connectTimeoutMs: 10_000,
  idleTimeoutMs: 15 * 60_000,
};

/** `[UDPProxyTunnel]`: 256 clients (each its own socket on the stack), idle after 60 s. */
export const UDP_TUNING: Tuning = {
  maxConnections: 256,
  maxPerClient: 256,
  connectTimeoutMs: 10_000,
  idleTimeoutMs: 60_000,
};

/** The keys, lower-cased as the parser keeps them. */
export const TUNING_KEYS = [
  "maxconnections",
  "maxconnectionsperclient",
  "connecttimeout",
  "idletimeout",
] as const;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `10`, `10s`, `500ms`, `15m`, `1h` → ms; null if it is none of these or not above 0. */
export function parseDuration(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (m === null) return null;
  const ms = Math.round(Number(m[1]) * UNIT_MS[m[2] ?? "s"]);
  return ms > 0 && ms <= 7 * 24 * 3_600_000 ? ms : null;
}

/** The section's tuning keys over `base`; a bad value is a ConfigError naming file, line, key. */
export function parseTuning(
  keys: Map<string, { value: string; line: number }>,
  path: string,
  base: Tuning,
): Tuning {
  const t = { ...base };
  const count = (key: string, name: string): number | undefined => {
    const k = keys.get(key);
    if (k === undefined) return undefined;
    if (!/^\d{1,6}$/.test(k.value) || Number(k.value) < 1 || Number(k.value) > 100_000) {
      throw new ConfigError(path, k.line, `${name} "${k.value}" is not a count (1..100000)`);
    }
    return Number(k.value);
  };
  const duration = (key: string, name: string): number | undefined => {
    const k = keys.get(key);
    if (k === undefined) return undefined;
    const ms = parseDuration(k.value);
    if (ms === null) {
      throw new ConfigError(
        path,
        k.line,
        `${name} "${k.value}" is not a duration (seconds, or 500ms, 10s, 15m, 1h; at most a week)`,
      );
    }
    return ms;
  };
  t.maxConnections = count("maxconnections", "MaxConnections") ?? t.maxConnections;
  t.maxPerClient = count("maxconnectionsperclient", "MaxConnectionsPerClient") ?? t.maxPerClient;
  t.connectTimeoutMs = duration("connecttimeout", "ConnectTimeout") ?? t.connectTimeoutMs;
  t.idleTimeoutMs = duration("idletimeout", "IdleTimeout") ?? t.idleTimeoutMs;
  return t;
}
