/**
 * UDP endpoints as text (`1.2.3.4:51820`, `[fd00::1]:51820`) and as the sockaddr bytes the kernel
 * and the wasm data plane use. The device stores every endpoint as a 28-byte `sockaddr_in6`
 * (IPv4 as `::ffff:a.b.c.d`), which a dual-stack socket sends to and receives from directly.
 *
 * @example
 * ```ts
 * import { encodeEndpoint, endpointToString } from "./endpoint.ts";
 * const mem = new Uint8Array(64);
 * const len = encodeEndpoint(mem, 0, "192.0.2.1:51820"); // 28: sockaddr_in6, v4-mapped
 * console.log(len, endpointToString(mem, 0)); // 28 "192.0.2.1:51820"
 * ```
 * @module
 */

import { formatIp as formatIpText, parseIp as parseIpOrNull } from "./wg/cidr.ts";

import { AF_INET, AF_INET6 } from "./ffi/libc.ts";

export const SOCKADDR_IN_LEN = 16;
export const SOCKADDR_IN6_LEN = 28;

/** Text that is not an IP address, CIDR or endpoint. */
export class EndpointError extends Error {
  override name = "EndpointError";
  constructor(readonly input: string, detail: string) {
    super(`Invalid address ${JSON.stringify(input)}: ${detail}`);
  }
}

/** A parsed endpoint. `addr` is 4 bytes for IPv4 (also when it came as v4-mapped), else 16. */
export interface Endpoint {
  readonly addr: Uint8Array;
  readonly port: number;
  /** sin6_scope_id (IPv6 link-local `%N`), 0 otherwise. */
  readonly scopeId: number;
}

/** Parses an IPv4 or IPv6 address into 4 or 16 bytes. */
export function parseIp(s: string): Uint8Array {
  const out = parseIpOrNull(s);
  if (out === null) throw new EndpointError(s, "not an IPv4 or IPv6 address");
  return out;
}

/** Parses `addr/prefix` (prefix defaults to the full length when omitted). */
export function parseCidr(s: string): { addr: Uint8Array; prefix: number } {
  const slash = s.indexOf("/");
  const addr = parseIp(slash < 0 ? s : s.slice(0, slash));
  const bits = addr.length * 8;
  if (slash < 0) return { addr, prefix: bits };
  const p = s.slice(slash + 1);
  if (!/^\d{1,3}$/.test(p) || Number(p) > bits) {
    throw new EndpointError(s, `prefix must be 0..${bits}`);
  }
  return { addr, prefix: Number(p) };
}

/** True for `::ffff:a.b.c.d`. */
export function isV4Mapped(a16: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (a16[i] !== 0) return false;
  return a16[10] === 0xff && a16[11] === 0xff;
}

/** Formats 4 bytes as dotted quad, 16 bytes per RFC 5952 (the one formatter, in wg/cidr.ts). */
export const formatIp: (a: Uint8Array) => string = formatIpText;

/** Parses `1.2.3.4:51820`, `[fd00::1]:51820` or `[fe80::1%3]:51820` (numeric scope id). */
export function parseEndpoint(s: string): Endpoint {
  let host: string, port: string, scopeId = 0;
  if (s.startsWith("[")) {
    const close = s.indexOf("]");
    if (close < 0 || s[close + 1] !== ":") throw new EndpointError(s, "expected [addr]:port");
    host = s.slice(1, close);
    port = s.slice(close + 2);
    const pct = host.indexOf("%");
    if (pct >= 0) {
      const z = host.slice(pct + 1);
      if (!/^\d{1,10}$/.test(z) || Number(z) > 0xffffffff) {
        throw new EndpointError(s, "scope id must be numeric");
      }
      scopeId = Number(z);
      host = host.slice(0, pct);
    }
    if (!host.includes(":")) throw new EndpointError(s, "brackets are for IPv6");
  } else {
    const colon = s.lastIndexOf(":");
    if (colon < 0) throw new EndpointError(s, "missing :port");
    host = s.slice(0, colon);
    port = s.slice(colon + 1);
    if (host.includes(":")) throw new EndpointError(s, "IPv6 endpoints need [brackets]");
  }
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) {
    throw new EndpointError(s, "port must be 0..65535");
  }
  let addr = parseIp(host);
  if (addr.length === 16 && isV4Mapped(addr)) addr = addr.slice(12);
  return { addr, port: Number(port), scopeId };
}

/**
 * Writes `ep` as a sockaddr at `u8[off]`: `sockaddr_in6` (v4 as v4-mapped) for `family` AF_INET6,
 * `sockaddr_in` for AF_INET (IPv4 only). Returns the length (28 or 16).
 */
export function writeSockaddr(
  u8: Uint8Array,
  off: number,
  ep: Endpoint,
  family: number = AF_INET6,
): number {
  const dv = new DataView(u8.buffer, u8.byteOffset);
  if (family === AF_INET) {
    if (ep.addr.length !== 4) {
      throw new EndpointError(formatEndpoint(ep), "IPv6 endpoint on an IPv4-only socket");
    }
    u8.fill(0, off, off + SOCKADDR_IN_LEN);
    dv.setUint16(off, AF_INET, true);
    dv.setUint16(off + 2, ep.port, false);
    u8.set(ep.addr, off + 4);
    return SOCKADDR_IN_LEN;
  }
  u8.fill(0, off, off + SOCKADDR_IN6_LEN);
  dv.setUint16(off, AF_INET6, true);
  dv.setUint16(off + 2, ep.port, false);
  if (ep.addr.length === 4) {
    u8[off + 18] = 0xff;
    u8[off + 19] = 0xff;
    u8.set(ep.addr, off + 20);
  } else {
    u8.set(ep.addr, off + 8);
    dv.setUint32(off + 24, ep.scopeId, true);
  }
  return SOCKADDR_IN6_LEN;
}

/** {@link parseEndpoint} then {@link writeSockaddr}; returns the sockaddr length. */
export function encodeEndpoint(
  u8: Uint8Array,
  off: number,
  endpoint: string,
  family: number = AF_INET6,
): number {
  return writeSockaddr(u8, off, parseEndpoint(endpoint), family);
}

/** Reads the sockaddr_in / sockaddr_in6 at `u8[off]`; v4-mapped comes back as 4 bytes. */
export function decodeEndpoint(u8: Uint8Array, off: number): Endpoint {
  const dv = new DataView(u8.buffer, u8.byteOffset);
  const family = dv.getUint16(off, true);
  const port = dv.getUint16(off + 2, false);
  if (family === AF_INET) return { addr: u8.slice(off + 4, off + 8), port, scopeId: 0 };
  if (family !== AF_INET6) throw new TypeError(`decodeEndpoint: sockaddr family ${family}`);
  const a = u8.slice(off + 8, off + 24);
  if (isV4Mapped(a)) return { addr: a.slice(12), port, scopeId: 0 };
  return { addr: a, port, scopeId: dv.getUint32(off + 24, true) };
}

/** Formats like `wg show`: `1.2.3.4:51820`, `[fd00::1]:51820`, `[fe80::1%3]:51820`. */
export function formatEndpoint(ep: Endpoint): string {
  if (ep.addr.length === 4) return `${formatIp(ep.addr)}:${ep.port}`;
  return `[${formatIp(ep.addr)}${ep.scopeId ? `%${ep.scopeId}` : ""}]:${ep.port}`;
}

/** The sockaddr at `u8[off]` as text, see {@link formatEndpoint}. */
export function endpointToString(u8: Uint8Array, off: number): string {
  return formatEndpoint(decodeEndpoint(u8, off));
}
