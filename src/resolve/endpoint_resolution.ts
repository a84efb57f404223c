/**
 * Endpoints given as host names, resolved as `wg` resolves them ({@link resolveHost}) and kept
 * resolved while the tunnel runs, as wireguard-tools' `reresolve-dns.sh` does:
 * - at start, transient failures are retried `WG_ENDPOINT_RESOLUTION_RETRIES` times (default 15,
 *   `infinity` for no limit) with wg's back-off (1 s, growing by 1.2× up to 20 s); permanent ones
 *   (no such name) fail at once; errors name the host and the config line;
 * - once up, {@link EndpointHost.due} says when a peer's name should be looked up again: before
 *   a handshake retry while handshakes go unanswered, or while the latest handshake is older than
 *   135 s, at most every 5 s.
 *
 * @example
 * ```ts
 * import { resolutionRetries } from "./endpoint_resolution.ts";
 * console.log(resolutionRetries(undefined), resolutionRetries("infinity")); // 15 -1
 * ```
 * @module
 */
import { ResolveError, resolveHost } from "./getaddrinfo.ts";
import { parseIp } from "../wg/cidr.ts";
import type { Peer } from "../wg/config.ts";
import { logger } from "../log.ts";

const log = logger("device");

/** wg's default for `WG_ENDPOINT_RESOLUTION_RETRIES`. */
export const DEFAULT_RETRIES = 15;
/** Shortest time between two lookups of one peer's name once up (ms). */
export const RERESOLVE_MIN_MS = 5_000;
/** A latest handshake older than this makes the name worth looking up again (reresolve-dns.sh). */
export const STALE_HANDSHAKE_MS = 135_000;

/** A resolver: host and port to endpoint text (`192.0.2.1:51820`, `[2001:db8::1]:51820`). */
export type Resolve = (host: string, port: number) => Promise<string>;

/** Thrown when an endpoint name cannot be resolved at start: names the host and the config line. */
export class EndpointResolveError extends Error {
  override name = "EndpointResolveError";
  constructor(readonly where: string, readonly host: string, cause: unknown) {
    super(`Endpoint host "${host}" (${where}): ${(cause as Error)?.message ?? cause}`, { cause });
  }
}

/** `WG_ENDPOINT_RESOLUTION_RETRIES` as wg reads it: a count, `infinity` (−1), default 15. */
export function resolutionRetries(value: string | undefined): number {
  if (value === undefined) return DEFAULT_RETRIES;
  if (value === "infinity") return -1;
  if (!/^\d+$/.test(value)) {
    throw new RangeError(`Unable to parse WG_ENDPOINT_RESOLUTION_RETRIES: \`${value}'`);
  }
  return Number(value);
}

/** Options of {@link resolveAtStart}. */
export interface StartOptions {
  resolve?: Resolve;
  retries?: number;
  sleep?: (ms: number) => Promise<void>;
  /** Told of each transient failure before the wait (for a log line). */
  onRetry?: (error: Error, waitMs: number) => void;
}

/**
 * Resolves `host` for a tunnel that is starting: transient failures (a resolver not up yet at
 * boot) are retried as wg retries them. Throws {@link EndpointResolveError} naming `where`.
 */
export async function resolveAtStart(
  host: string,
  port: number,
  where: string,
  opts: StartOptions = {},
): Promise<string> {
  const resolve = opts.resolve ?? resolveHost;
  const sleep = opts.sleep ?? ((ms) => new Promise<void>((r) => setTimeout(r, ms)));
  let retries = opts.retries ?? DEFAULT_RETRIES;
  for (let wait = 1000;; wait = Math.min(20_000, Math.floor(wait * 6 / 5))) {
    try {
      return await resolve(host, port);
    } catch (e) {
      const permanent = e instanceof ResolveError && e.permanent;
      if (permanent || (retries >= 0 && retries-- === 0)) {
        throw new EndpointResolveError(where, host, e);
      }
      opts.onRetry?.(e as Error, wait);
      await sleep(wait);
    }
  }
}

/** A peer's endpoint as a name, kept so it can be looked up again. */
export class EndpointHost {
  #lastLookup = -Infinity;
  #pending = false;

  constructor(readonly host: string, readonly port: number, readonly where: string) {}

  /**
   * Whether to look the name up again now, before a handshake initiation goes out: while
   * handshakes go unanswered (`retry`) or the latest one is older than 135 s, at most every 5 s.
   */
  due(now: number, retry: boolean, lastHandshake: number): boolean {
    if (this.#pending || now - this.#lastLookup < RERESOLVE_MIN_MS) return false;
    return retry || now - lastHandshake > STALE_HANDSHAKE_MS;
  }

  /** Looks the name up (one at a time); resolves to the endpoint text, or rejects. */
  async lookup(now: number, resolve: Resolve): Promise<string> {
    this.#lastLookup = now;
    this.#pending = true;
    try {
      return await resolve(this.host, this.port);
    } finally {
      this.#pending = false;
    }
  }
}

/** Options of {@link resolveEndpoints}. */
export interface EndpointsOptions {
  resolve: Resolve;
  retries: number;
  /** The config file, for messages that name a line. */
  source?: string;
}

/**
 * The endpoints of a config's peers as text, resolved at start (names with wg's retries), and
 * for each peer given by name the {@link EndpointHost} that looks it up again later.
 */
export async function resolveEndpoints(
  peers: readonly Peer[],
  opts: EndpointsOptions,
): Promise<{ endpoints: (string | null)[]; hosts: (EndpointHost | null)[] }> {
  const endpoints: (string | null)[] = [];
  const hosts: (EndpointHost | null)[] = [];
  for (const p of peers) {
    const ep = p.endpoint;
    if (ep === null) {
      endpoints.push(null);
      hosts.push(null);
    } else if (parseIp(ep.host) !== null) {
      endpoints.push(ep.host.includes(":") ? `[${ep.host}]:${ep.port}` : `${ep.host}:${ep.port}`);
      hosts.push(null);
    } else {
      const where = `${opts.source ?? "config"}:${p.endpointLine || p.line}`;
      endpoints.push(
        await resolveAtStart(ep.host, ep.port, where, {
          resolve: opts.resolve,
          retries: opts.retries,
          onRetry: (e, waitMs) =>
            log.warning("Endpoint host {host} ({where}): {error}; trying again in {seconds} s", {
              host: ep.host,
              where,
              error: e.message,
              seconds: waitMs / 1000,
            }),
        }),
      );
      hosts.push(new EndpointHost(ep.host, ep.port, where));
    }
  }
  return { endpoints, hosts };
}

/** {@link resolutionRetries} from `WG_ENDPOINT_RESOLUTION_RETRIES` (the default without env permission). */
export function envRetries(): number {
  try {
    return resolutionRetries(Deno.env.get("WG_ENDPOINT_RESOLUTION_RETRIES"));
  } catch (e) {
    if (e instanceof RangeError) throw e;
    return resolutionRetries(undefined); // no env permission
  }
}
