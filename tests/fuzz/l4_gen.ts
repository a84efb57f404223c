/**
 * TCP and UDP packets over IPv4/IPv6 built byte by byte in TypeScript, with
 * valid IPv4 header and L4 checksums, for the offload targets.
 * @module
 */
import { setBe16, setBe32, setIpv4Checksum, setL4Checksum } from "./bytes.ts";

export const FIN = 0x01,
  SYN = 0x02,
  RST = 0x04,
  PSH = 0x08,
  ACK = 0x10,
  URG = 0x20,
  ECE = 0x40,
  CWR = 0x80;

export interface L4Spec {
  v6: boolean;
  /** 6 (TCP) or 17 (UDP). */
  proto: number;
  src: Uint8Array;
  dst: Uint8Array;
  sport: number;
  dport: number;
  /** IPv4 options (multiple of 4, ≤ 40) or IPv6 extension header bytes (multiple of 8). */
  ipExtra?: Uint8Array;
  tcpOpts?: Uint8Array;
  seq?: number;
  ack?: number;
  flags?: number;
  window?: number;
  id?: number;
  tos?: number;
  ttl?: number;
  /** IPv4 flags/fragment word (DF = 0x4000). */
  frag?: number;
  /** IPv6 traffic class and flow label (the low 28 bits of the first word). */
  flow?: number;
  payload: Uint8Array;
  /** Leave the L4 checksum field as this value instead of computing it. */
  l4Checksum?: number;
}

/** IP header length of a spec (IPv4 IHL × 4, or 40 + extension bytes). */
export function ipHeaderLen(s: L4Spec): number {
  return (s.v6 ? 40 : 20) + (s.ipExtra?.length ?? 0);
}

/** The packet, total length = its byte length. */
export function buildL4(s: L4Spec): Uint8Array {
  const ipHl = ipHeaderLen(s);
  const l4Hl = s.proto === 6 ? 20 + (s.tcpOpts?.length ?? 0) : 8;
  const total = ipHl + l4Hl + s.payload.length;
  const p = new Uint8Array(total);
  if (s.v6) {
    const first = 0x60000000 | ((s.flow ?? 0) & 0x0fffffff);
    setBe32(p, 0, first >>> 0);
    setBe16(p, 4, total - 40);
    if (s.ipExtra && s.ipExtra.length > 0) {
      // Hop-by-hop options: next header = the L4 protocol, length in 8-byte units − 1, PadN.
      p[6] = 0;
      const e = s.ipExtra;
      p.set(e, 40);
      p[40] = s.proto;
      p[41] = e.length / 8 - 1;
      p[42] = 1; // PadN
      p[43] = e.length - 4;
      p.fill(0, 44, 40 + e.length);
    } else p[6] = s.proto;
    p[7] = s.ttl ?? 64;
    p.set(s.src, 8);
    p.set(s.dst, 24);
  } else {
    p[0] = 0x40 | (ipHl / 4);
    p[1] = s.tos ?? 0;
    setBe16(p, 2, total);
    setBe16(p, 4, s.id ?? 0);
    setBe16(p, 6, s.frag ?? 0x4000);
    p[8] = s.ttl ?? 64;
    p[9] = s.proto;
    p.set(s.src, 12);
    p.set(s.dst, 16);
    if (s.ipExtra) p.set(s.ipExtra, 20);
    setIpv4Checksum(p, ipHl);
  }
  const l4 = ipHl;
  setBe16(p, l4, s.sport);
  setBe16(p, l4 + 2, s.dport);
  if (s.proto === 6) {
    setBe32(p, l4 + 4, (s.seq ?? 0) >>> 0);
    setBe32(p, l4 + 8, (s.ack ?? 0) >>> 0);
    p[l4 + 12] = (l4Hl / 4) << 4;
    p[l4 + 13] = s.flags ?? ACK;
    setBe16(p, l4 + 14, s.window ?? 65535);
    if (s.tcpOpts) p.set(s.tcpOpts, l4 + 20);
  } else {
    setBe16(p, l4 + 4, total - ipHl);
  }
  p.set(s.payload, l4 + l4Hl);
  const at = s.proto === 6 ? 16 : 6;
  if (s.l4Checksum !== undefined) setBe16(p, l4 + at, s.l4Checksum);
  else setL4Checksum(p, s.v6, s.proto, l4, at);
  return p;
}

/** Random TCP option bytes (NOPs, MSS, timestamps, garbage), padded to a multiple of 4. */
export function tcpOptions(bytes: Uint8Array, len: number): Uint8Array {
  const o = new Uint8Array(len);
  o.set(bytes.subarray(0, len));
  return o;
}
