/**
 * The IP validation rules of wasm/ABI.md ("IP parsing") as a model, and a
 * generator of valid, mutated and garbage IPv4/IPv6 packets.
 * @module
 */
import { E_BAD_HEADER_LEN, E_BAD_TOTAL_LEN, E_BAD_VERSION, E_TRUNCATED } from "./abi.ts";
import { be16, setBe16, setIpv4Checksum } from "./bytes.ts";
import type { Rng } from "./rng.ts";

export interface IpInfo {
  /** 4 or 6, or the negative code. */
  code: number;
  proto: number;
  hdrLen: number;
  total: number;
  src: Uint8Array;
  dst: Uint8Array;
}

/** ABI.md: 0 bytes → E_TRUNCATED; version; v4 < 20, IHL, total; v6 < 40, payload + 40. */
export function ipModel(b: Uint8Array): IpInfo {
  const bad = (code: number): IpInfo => ({
    code,
    proto: 0,
    hdrLen: 0,
    total: 0,
    src: new Uint8Array(0),
    dst: new Uint8Array(0),
  });
  if (b.length === 0) return bad(E_TRUNCATED);
  const v = b[0] >> 4;
  if (v === 4) {
    if (b.length < 20) return bad(E_TRUNCATED);
    const ihl = (b[0] & 15) * 4;
    if (ihl < 20 || ihl > b.length) return bad(E_BAD_HEADER_LEN);
    const total = be16(b, 2);
    if (total > b.length || total < ihl) return bad(E_BAD_TOTAL_LEN);
    return { code: 4, proto: b[9], hdrLen: ihl, total, src: b.slice(12, 16), dst: b.slice(16, 20) };
  }
  if (v === 6) {
    if (b.length < 40) return bad(E_TRUNCATED);
    const total = be16(b, 4) + 40;
    if (total > b.length) return bad(E_BAD_TOTAL_LEN);
    return { code: 6, proto: b[6], hdrLen: 40, total, src: b.slice(8, 24), dst: b.slice(24, 40) };
  }
  return bad(E_BAD_VERSION);
}

export interface IpOptions {
  v6?: boolean;
  proto?: number;
  src?: Uint8Array;
  dst?: Uint8Array;
  payload?: number;
  ihl?: number;
  pad?: number;
}

/** A valid IPv4 or IPv6 packet (random header fields, payload and padding unless given). */
export function validIp(rng: Rng, o: IpOptions = {}): Uint8Array {
  const v6 = o.v6 ?? rng.chance(0.5);
  const payload = o.payload ?? rng.size(200, 1400);
  const pad = o.pad ?? (rng.chance(0.2) ? rng.int(1, 40) : 0);
  if (v6) {
    const p = rng.bytes(40 + payload + pad);
    p[0] = 0x60 | (p[0] & 15);
    setBe16(p, 4, payload);
    p[6] = o.proto ?? rng.pick([6, 17, 58, 0, 43, 59, rng.int(0, 255)]);
    if (o.src) p.set(o.src, 8);
    if (o.dst) p.set(o.dst, 24);
    return p;
  }
  const ihl = o.ihl ?? (rng.chance(0.8) ? 5 : rng.int(5, 15));
  const p = rng.bytes(ihl * 4 + payload + pad);
  p[0] = 0x40 | ihl;
  setBe16(p, 2, ihl * 4 + payload);
  p[9] = o.proto ?? rng.pick([6, 17, 1, 47, rng.int(0, 255)]);
  if (o.src) p.set(o.src, 12);
  if (o.dst) p.set(o.dst, 16);
  setIpv4Checksum(p, ihl * 4);
  return p;
}

/** A packet that is valid, slightly broken, or garbage. */
export function randomIp(rng: Rng, big = false): Uint8Array {
  const kind = rng.weighted([30, 30, 10, 10, 8, 6, 4, 2]);
  switch (kind) {
    case 0:
      return validIp(rng, {
        v6: false,
        payload: big && rng.chance(0.1) ? rng.int(0, 65515) : undefined,
      });
    case 1:
      return validIp(rng, {
        v6: true,
        payload: big && rng.chance(0.1) ? rng.int(0, 65000) : undefined,
      });
    case 2: {
      // A length field at and around its limits.
      const p = validIp(rng);
      const v6 = p[0] >> 4 === 6;
      const at = v6 ? 4 : 2;
      const bytes = p.length;
      const base = v6 ? bytes - 40 : bytes;
      const ihl = v6 ? 40 : (p[0] & 15) * 4;
      const cands = [base, base + 1, base - 1, 0, 0xffff, v6 ? 0 : ihl, v6 ? 0 : ihl - 1];
      setBe16(p, at, Math.max(0, Math.min(0xffff, rng.pick(cands))));
      return p;
    }
    case 3: {
      // IHL anywhere 0..15, bytes possibly shorter than it.
      const p = validIp(rng, { v6: false, payload: rng.int(0, 60), pad: 0 });
      p[0] = 0x40 | rng.int(0, 15);
      return rng.chance(0.5) ? p.slice(0, rng.int(0, p.length)) : p;
    }
    case 4: {
      // Truncated anywhere in the header.
      const p = validIp(rng);
      return p.slice(0, rng.int(0, Math.min(p.length, 64)));
    }
    case 5: {
      // Bit flips in the first bytes.
      const p = validIp(rng);
      for (let k = rng.int(1, 4); k > 0; k--) {
        p[rng.below(Math.min(p.length, 44))] ^= 1 << rng.below(8);
      }
      return p;
    }
    case 6: {
      const p = rng.bytes(rng.size(64, 2100));
      if (p.length > 0 && rng.chance(0.5)) p[0] = (rng.pick([4, 6]) << 4) | (p[0] & 15);
      return p;
    }
    default:
      return new Uint8Array(0);
  }
}
