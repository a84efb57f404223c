/**
 * IP prefixes (`10.0.0.0/8`, `fd00::/64`) as WireGuard config files and the
 * UAPI write them: parsing (strict dotted-quad / RFC 4291 text, no leading
 * zeros, no zone), formatting (RFC 5952, like Go's `netip`), masking and
 * containment.
 *
 * @example
 * ```ts
 * import { cidrContains, formatCidr, maskCidr, parseCidr, parseIp } from "./cidr.ts";
 * const net = maskCidr(parseCidr("10.1.2.3/16"));
 * console.log(formatCidr(net)); // "10.1.0.0/16"
 * console.log(cidrContains(net, parseIp("10.1.200.7")!)); // true
 * ```
 *
 * @module
 */

/** An IP prefix. `bytes` is 4 bytes for IPv4 and 16 for IPv6. */
export interface Cidr {
  family: 4 | 6;
  bytes: Uint8Array;
  cidr: number;
}

/** A malformed address or prefix; the message quotes the input. */
export class CidrError extends Error {
  override name = "CidrError";
  constructor(readonly input: string, detail: string) {
    super(`Invalid IP prefix "${input}": ${detail}`);
  }
}

/** Parses a dotted-quad IPv4 address (4 decimal octets, no leading zeros) or returns null. */
export function parseIpv4(text: string): Uint8Array | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i];
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    out[i] = n;
  }
  return out;
}

/** Parses an IPv6 address (with `::` and an optional trailing dotted quad) or returns null. */
export function parseIpv6(text: string): Uint8Array | null {
  if (text.length < 2 || text.length > 45) return null;
  let head = text;
  let tail = "";
  const dbl = text.indexOf("::");
  if (dbl >= 0) {
    if (text.indexOf("::", dbl + 1) >= 0) return null;
    head = text.slice(0, dbl);
    tail = text.slice(dbl + 2);
  }
  const headGroups = head === "" ? [] : head.split(":");
  const tailGroups = tail === "" ? [] : tail.split(":");
  const words: number[] = [];
  const tailWords: number[] = [];
  const all = [...headGroups, ...tailGroups];
  for (let i = 0; i < all.length; i++) {
    const g = all[i];
    const dst = i < headGroups.length ? words : tailWords;
    const isLast = i === all.length - 1 && (dbl < 0 || tailGroups.length > 0);
    if (isLast && g.includes(".")) {
      const v4 = parseIpv4(g);
      if (v4 === null) return null;
      dst.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      continue;
    }
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
    dst.push(parseInt(g, 16));
  }
  const total = words.length + tailWords.length;
  if (dbl >= 0) {
    if (total > 7) return null;
    while (words.length + tailWords.length < 8) words.push(0);
  } else if (total !== 8) {
    return null;
  }
  words.push(...tailWords);
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = words[i] >> 8;
    out[2 * i + 1] = words[i] & 0xff;
  }
  return out;
}

/** Parses an IPv4 or IPv6 address into 4 or 16 bytes, or returns null. */
export function parseIp(text: string): Uint8Array | null {
  return text.includes(":") ? parseIpv6(text) : parseIpv4(text);
}

/** The eight big-endian 16-bit words of an IPv6 address. */
export function ipv6Words(bytes: Uint8Array): number[] {
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((bytes[2 * i] << 8) | bytes[2 * i + 1]);
  return w;
}

/**
 * `[start, length]` of the longest run of at least two zero words (the first on ties), which
 * RFC 5952 writes as "::"; `[-1, 0]` if there is none.
 */
export function longestZeroRun(w: number[]): [number, number] {
  let best = -1, bestLen = 1;
  for (let i = 0; i < w.length;) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < w.length && w[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  return best < 0 ? [-1, 0] : [best, bestLen];
}

/** Formats 4 bytes as a dotted quad or 16 bytes as RFC 5952 IPv6 (`::ffff:a.b.c.d` for mapped). */
export function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  if (bytes.length !== 16) {
    throw new RangeError(`formatIp() needs 4 or 16 bytes, got ${bytes.length}`);
  }
  const w = ipv6Words(bytes);
  if (w[0] === 0 && w[1] === 0 && w[2] === 0 && w[3] === 0 && w[4] === 0 && w[5] === 0xffff) {
    return `::ffff:${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  }
  const [bestStart, bestLen] = longestZeroRun(w);
  if (bestStart < 0) return w.map((x) => x.toString(16)).join(":");
  const left = w.slice(0, bestStart).map((x) => x.toString(16)).join(":");
  const right = w.slice(bestStart + bestLen).map((x) => x.toString(16)).join(":");
  return `${left}::${right}`;
}

/**
 * Parses `ADDR/N` or a bare `ADDR` (meaning /32 or /128). Host bits are kept
 * as written (an interface Address needs them); {@link maskCidr} clears them.
 * Throws {@link CidrError}.
 */
export function parseCidr(text: string): Cidr {
  const slash = text.indexOf("/");
  const addr = slash < 0 ? text : text.slice(0, slash);
  const bytes = parseIp(addr);
  if (bytes === null) throw new CidrError(text, "not an IPv4 or IPv6 address");
  const family = bytes.length === 4 ? 4 : 6;
  const max = family === 4 ? 32 : 128;
  let cidr = max;
  if (slash >= 0) {
    const n = text.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(n)) {
      throw new CidrError(text, "prefix length is not a number");
    }
    cidr = Number(n);
    if (cidr > max) throw new CidrError(text, `prefix length ${cidr} exceeds ${max}`);
  }
  return { family, bytes, cidr };
}

/** `ADDR/N`. */
export function formatCidr(c: Cidr): string {
  return `${formatIp(c.bytes)}/${c.cidr}`;
}

/** A copy of `c` with the host bits cleared. */
export function maskCidr(c: Cidr): Cidr {
  const bytes = new Uint8Array(c.bytes);
  for (let i = 0; i < bytes.length; i++) {
    const bitsHere = Math.max(0, Math.min(8, c.cidr - 8 * i));
    bytes[i] &= (0xff00 >> bitsHere) & 0xff;
  }
  return { family: c.family, bytes, cidr: c.cidr };
}

/** True iff `addr` (4 or 16 bytes, same family as `c`) lies inside the prefix `c`. */
export function cidrContains(c: Cidr, addr: Uint8Array): boolean {
  if (addr.length !== c.bytes.length) return false;
  for (let i = 0; i < addr.length; i++) {
    const bitsHere = Math.max(0, Math.min(8, c.cidr - 8 * i));
    if (bitsHere === 0) break;
    const m = (0xff00 >> bitsHere) & 0xff;
    if ((addr[i] & m) !== (c.bytes[i] & m)) return false;
  }
  return true;
}

/** True iff both prefixes have the same family, length and (unmasked) bytes. */
export function cidrEqual(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family || a.cidr !== b.cidr) return false;
  for (let i = 0; i < a.bytes.length; i++) if (a.bytes[i] !== b.bytes[i]) return false;
  return true;
}
