/**
 * Where `--metrics` / `MetricsAddress` listens: `host:port` or `[v6]:port`. Checked before
 * anything is created, so a bad value is a usage (or config) error and not a half-started tunnel.
 * The host is an IPv4 address, a bracketed IPv6 address or a host name (resolved when bound);
 * the port is 1 to 65535 (0 would be a port nobody can scrape).
 *
 * @example
 * ```ts
 * import { parseListenAddress } from "./listen_address.ts";
 * console.log(parseListenAddress("[fd00::1]:9586")); // { hostname: "fd00::1", port: 9586 }
 * ```
 * @module
 */
import { parseIp } from "../wg/cidr.ts";

/** A bad `--metrics` / `MetricsAddress` value; the message says what is wrong with it. */
export class ListenAddressError extends Error {
  override name = "ListenAddressError";
  constructor(readonly value: string, readonly detail: string) {
    super(`metrics address "${value}" ${detail}`);
  }
}

/** `host:port` / `[v6]:port` → the hostname (no brackets) and port; throws {@link ListenAddressError}. */
export function parseListenAddress(value: string): { hostname: string; port: number } {
  const m = /^\[([^\]]*)\]:([^:]*)$/.exec(value) ?? /^([^:\[\]]*):([^:]*)$/.exec(value);
  if (m === null) throw new ListenAddressError(value, "is not host:port or [v6]:port");
  const [, hostname, portText] = m;
  const bracketed = value.startsWith("[");
  if (bracketed ? parseIp(hostname)?.length !== 16 : !validHost(hostname)) {
    throw new ListenAddressError(
      value,
      bracketed ? "has no IPv6 address in brackets" : `has a bad host "${hostname}"`,
    );
  }
  const port = /^[0-9]{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!(port >= 1 && port <= 65535)) {
    throw new ListenAddressError(value, `has a bad port "${portText}" (1 to 65535)`);
  }
  return { hostname, port };
}

/** An IPv4 address, or a DNS name (letters, digits, `-`, dots); all-digit-and-dot text must be IPv4. */
function validHost(h: string): boolean {
  if (/^[0-9.]+$/.test(h)) return parseIp(h)?.length === 4;
  return /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/
    .test(h);
}
