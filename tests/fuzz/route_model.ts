/**
 * AllowedIPs as ABI.md describes them, modelled with one hash map per prefix
 * length and family (key = the masked address): a lookup probes the 33 (IPv4)
 * or 129 (IPv6) maps longest first, never a scan over the prefixes.
 * @module
 */
import {
  DEFAULT_MAX_PEERS,
  DEFAULT_MAX_PREFIXES,
  E_BAD_ARG,
  E_NO_ROUTE,
  E_TABLE_FULL,
} from "./abi.ts";

export interface Prefix {
  family: 4 | 6;
  cidr: number;
  /** The masked address: a u32 for IPv4, a 128-bit bigint for IPv6. */
  key: number | bigint;
}

const MASK6: bigint[] = [];
for (let c = 0; c <= 128; c++) {
  MASK6.push(c === 0 ? 0n : ((1n << BigInt(c)) - 1n) << BigInt(128 - c));
}

export function mask4(a: number, cidr: number): number {
  return cidr === 0 ? 0 : (a & (0xffffffff << (32 - cidr))) >>> 0;
}

export function mask6(a: bigint, cidr: number): bigint {
  return a & MASK6[cidr];
}

const M64 = 0xffff_ffff_ffff_ffffn;

/**
 * The key an IPv6 prefix is stored under in its map: the masked address with its halves
 * swapped. V8 hashes a BigInt by its low 64 bits only, and masked prefixes up to /64 have
 * those all zero: unswapped, every probe of a /≤64 map would walk one long collision chain.
 */
function slot6(k: bigint): bigint {
  return ((k & M64) << 64n) | (k >> 64n);
}

export function v4Key(b: Uint8Array): number {
  return ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
}

export function v6Key(b: Uint8Array): bigint {
  const dv = new DataView(b.buffer, b.byteOffset, 16);
  return (dv.getBigUint64(0) << 64n) | dv.getBigUint64(8);
}

export function keyBytes(family: 4 | 6, key: number | bigint): Uint8Array {
  const b = new Uint8Array(16);
  const dv = new DataView(b.buffer);
  if (family === 4) dv.setUint32(0, key as number);
  else {
    dv.setBigUint64(0, (key as bigint) >> 64n);
    dv.setBigUint64(8, (key as bigint) & 0xffffffffffffffffn);
  }
  return b;
}

/** A prefix's identity: a number for IPv4 (cidr · 2^32 + key), a bigint for IPv6 (swapped key · 256 + cidr). */
function id(p: Prefix): number | bigint {
  return p.family === 4
    ? p.cidr * 0x1_0000_0000 + (p.key as number)
    : (slot6(p.key as bigint) << 8n) | BigInt(p.cidr);
}

export class RouteModel {
  /** The limits the table was given (`ts_tables_init`): peer ids below `peers`, at most `prefixes`. */
  constructor(readonly peers = DEFAULT_MAX_PEERS, readonly prefixes = DEFAULT_MAX_PREFIXES) {}
  readonly v4: Map<number, number>[] = Array.from({ length: 33 }, () => new Map());
  readonly v6: Map<bigint, number>[] = Array.from({ length: 129 }, () => new Map());
  /** Per peer: its prefixes by id. */
  readonly byPeer = new Map<number, Map<number | bigint, Prefix>>();
  size = 0;

  static valid(family: number, cidr: number, peer = 0, peers = DEFAULT_MAX_PEERS): boolean {
    return (family === 4 || family === 6) && cidr <= (family === 4 ? 32 : 128) && peer < peers;
  }

  prefix(family: 4 | 6, addr: Uint8Array, cidr: number): Prefix {
    return family === 4
      ? { family, cidr, key: mask4(v4Key(addr), cidr) }
      : { family, cidr, key: mask6(v6Key(addr), cidr) };
  }

  #map(p: Prefix): Map<number | bigint, number> {
    return (p.family === 4 ? this.v4[p.cidr] : this.v6[p.cidr]) as Map<number | bigint, number>;
  }

  #slot(p: Prefix): number | bigint {
    return p.family === 4 ? p.key : slot6(p.key as bigint);
  }

  get(p: Prefix): number | undefined {
    return this.#map(p).get(this.#slot(p));
  }

  insert(family: number, addr: Uint8Array, cidr: number, peer: number): number {
    if (!RouteModel.valid(family, cidr, peer, this.peers)) return E_BAD_ARG;
    const p = this.prefix(family as 4 | 6, addr, cidr);
    const m = this.#map(p);
    const old = m.get(this.#slot(p));
    if (old === undefined) {
      if (this.size >= this.prefixes) return E_TABLE_FULL;
      this.size++;
    } else this.byPeer.get(old)!.delete(id(p));
    m.set(this.#slot(p), peer);
    let set = this.byPeer.get(peer);
    if (set === undefined) this.byPeer.set(peer, set = new Map());
    set.set(id(p), p);
    return 0;
  }

  remove(family: number, addr: Uint8Array, cidr: number): number {
    if (!RouteModel.valid(family, cidr)) return E_BAD_ARG;
    const p = this.prefix(family as 4 | 6, addr, cidr);
    const m = this.#map(p);
    const old = m.get(this.#slot(p));
    if (old === undefined) return E_NO_ROUTE;
    m.delete(this.#slot(p));
    this.byPeer.get(old)!.delete(id(p));
    this.size--;
    return 0;
  }

  removePeer(peer: number): number {
    if (peer >= this.peers) return E_BAD_ARG;
    const set = this.byPeer.get(peer);
    if (set === undefined) return 0;
    for (const p of set.values()) this.#map(p).delete(this.#slot(p));
    this.size -= set.size;
    this.byPeer.delete(peer);
    return set.size;
  }

  /** Longest match: one probe per prefix length, longest first. */
  lookup(family: number, addr: Uint8Array): number {
    if (family === 4) {
      const a = v4Key(addr);
      for (let c = 32; c >= 0; c--) {
        const peer = this.v4[c].get(mask4(a, c));
        if (peer !== undefined) return peer;
      }
      return E_NO_ROUTE;
    }
    if (family !== 6) return E_BAD_ARG;
    const a = v6Key(addr);
    for (let c = 128; c >= 0; c--) {
      const peer = this.v6[c].get(slot6(mask6(a, c)));
      if (peer !== undefined) return peer;
    }
    return E_NO_ROUTE;
  }

  /** ABI.md's ts_route_list order: IPv4 first, address order, a prefix before longer ones inside it. */
  list(peer: number): Prefix[] {
    const set = this.byPeer.get(peer);
    if (set === undefined) return [];
    return [...set.values()].sort((a, b) => {
      if (a.family !== b.family) return a.family - b.family;
      if (a.key !== b.key) return a.key < b.key ? -1 : 1;
      return a.cidr - b.cidr;
    });
  }
}
