/**
 * tun_segment: TUN reads with a virtio header through `ts_tun_ingest`. TCP/IPv4,
 * TCP/IPv6 (with and without a hop-by-hop header) and UDP super-packets of
 * up to 64 KiB (any gso_size, IP and TCP options, every TCP flag) are cut
 * into segments; plain packets get their partial checksum completed; headers
 * that disagree (GSO type vs version/protocol, csum_start, gso_size 0,
 * truncated reads, lengths) are dropped with the code ABI.md names.
 *
 * Model: every segment's bytes are built in TypeScript from the super-packet
 * (lengths, IPv4 ID + k and header checksum, TCP seq + k·gso_size, FIN/PSH
 * on the last only, CWR on the first only, UDP length, L4 checksum over the
 * pseudo-header, 0 sent as ffff) and compared byte for byte; their payloads
 * concatenated give the original, every checksum verifies; segments past
 * out_cap or the pool's cap are counted E_EXHAUSTED; every dropped read's
 * slot is back in the pool.
 * @module
 */
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import {
  codeName,
  E_BAD_GSO,
  E_BAD_HEADER_LEN,
  E_BAD_TOTAL_LEN,
  E_BAD_VERSION,
  E_EXHAUSTED,
  E_TOO_BIG,
  E_TRUNCATED,
  HEADROOM,
  JUMBO_LEN,
  LARGE_CHUNK_SLOTS,
  LARGE_MAX_PLAINTEXT,
  LARGE_SLOT_SIZE,
  MAX_HDR_LEN,
  MAX_PLAINTEXT,
  SLOT_SIZE,
} from "../abi.ts";
import {
  be16,
  be32,
  bytesEqual,
  fold,
  hex,
  ipv4HeaderOk,
  joinBlobs,
  l4ChecksumOk,
  pseudoSum,
  Reader,
  setBe16,
  setBe32,
  setIpv4Checksum,
  setL4Checksum,
  splitBlobs,
  sum16,
  Writer,
} from "../bytes.ts";
import { ipModel, validIp } from "../ip_model.ts";
import { ACK, buildL4, CWR, FIN, PSH } from "../l4_gen.ts";
import { dropDelta, PoolCtx } from "../pool_ctx.ts";
import type { Rng } from "../rng.ts";
import type { Target } from "../harness.ts";

const GSO_NONE = 0, GSO_TCPV4 = 1, GSO_TCPV6 = 4, GSO_UDP_L4 = 5, GSO_ECN = 0x80;
const NEEDS_CSUM = 1;
const MAX_READS = 6;
const MAX_SLOTS = 16384;
const CHUNK_SLOTS = 256;
const OUT_MAX = 2048;
const HEAD_MAX = SLOT_SIZE - HEADROOM;

interface Ctx {
  c: PoolCtx;
  offs: number;
  lens: number;
  tails: number;
  hdrs: number;
  outOffs: number;
  outLens: number;
  ballast: number;
}

interface Read {
  vnet: Uint8Array;
  bytes: Uint8Array;
}

function vnetHeader(
  flags: number,
  type: number,
  hdrLen: number,
  gso: number,
  start: number,
  off: number,
): Uint8Array {
  const h = new Uint8Array(10);
  const dv = new DataView(h.buffer);
  h[0] = flags;
  h[1] = type;
  dv.setUint16(2, hdrLen, true);
  dv.setUint16(4, gso, true);
  dv.setUint16(6, start, true);
  dv.setUint16(8, off, true);
  return h;
}

/** A valid super-packet: TCP/UDP over v4/v6, maybe options or an extension header. */
function superPacket(rng: Rng): Read {
  const v6 = rng.chance(0.45);
  const udp = rng.chance(0.25);
  const proto = udp ? 17 : 6;
  const ipExtra = v6
    ? rng.chance(0.15) ? new Uint8Array(8 * rng.int(1, 3)) : undefined
    : rng.chance(0.2)
    ? rng.bytes(4 * rng.int(1, 10))
    : undefined;
  const tcpOpts = !udp && rng.chance(0.4) ? rng.bytes(4 * rng.int(1, 10)) : undefined;
  const ipHl = (v6 ? 40 : 20) + (ipExtra?.length ?? 0);
  const hdrLen = ipHl + (udp ? 8 : 20 + (tcpOpts?.length ?? 0));
  const gsoMax = MAX_PLAINTEXT - hdrLen;
  const gso = rng.chance(0.2) ? rng.int(1, 64) : rng.chance(0.15)
    ? rng.int(gsoMax + 1, 9000) // longer than a small slot: large slots (an MTU above ~2,000)
    : rng.chance(0.5)
    ? rng.int(500, gsoMax)
    : rng.int(1, gsoMax);
  const maxSegs = rng.chance(0.05) ? 600 : 64;
  const room = 65535 - hdrLen;
  const payloadLen = Math.min(room, rng.chance(0.1) ? rng.int(0, gso) : rng.int(0, gso * maxSegs));
  const pkt = buildL4({
    v6,
    proto,
    src: rng.bytes(v6 ? 16 : 4),
    dst: rng.bytes(v6 ? 16 : 4),
    sport: rng.int(0, 65535),
    dport: rng.int(0, 65535),
    ipExtra,
    tcpOpts,
    seq: rng.u32(),
    ack: rng.u32(),
    flags: rng.chance(0.5)
      ? rng.int(0, 255)
      : rng.pick([ACK, ACK | PSH, ACK | FIN | PSH, ACK | CWR, ACK | CWR | PSH | FIN]),
    id: rng.int(0, 65535),
    tos: rng.int(0, 255),
    ttl: rng.int(1, 255),
    payload: rng.bytes(payloadLen),
    l4Checksum: rng.int(0, 65535), // partial or stale: segmentation recomputes it
  });
  const type = (udp ? GSO_UDP_L4 : v6 ? GSO_TCPV6 : GSO_TCPV4) |
    (!udp && rng.chance(0.1) ? GSO_ECN : 0);
  const trailer = rng.chance(0.05) ? rng.bytes(rng.int(1, 30)) : new Uint8Array(0);
  const bytes = new Uint8Array(Math.min(pkt.length + trailer.length, 65535 + 2 * 0));
  bytes.set(pkt);
  bytes.set(trailer.subarray(0, bytes.length - pkt.length), pkt.length);
  const kernelHdrLen = rng.chance(0.8) ? hdrLen : rng.int(0, 65535); // not trusted
  return { vnet: vnetHeader(NEEDS_CSUM, type, kernelHdrLen, gso, ipHl, udp ? 6 : 16), bytes };
}

/** A plain packet (gso_type NONE), with a partial checksum to complete or not. */
function plainPacket(rng: Rng): Read {
  const v6 = rng.chance(0.4);
  const udp = rng.chance(0.5);
  const pkt = buildL4({
    v6,
    proto: udp ? 17 : 6,
    src: rng.bytes(v6 ? 16 : 4),
    dst: rng.bytes(v6 ? 16 : 4),
    sport: rng.int(0, 65535),
    dport: rng.int(0, 65535),
    seq: rng.u32(),
    flags: rng.int(0, 255),
    payload: rng.bytes(rng.chance(0.15) ? rng.int(2000, 9000) : rng.size(200, 1400)),
  });
  const ipHl = v6 ? 40 : 20;
  const at = udp ? 6 : 16;
  const partial = rng.chance(0.7);
  if (partial) {
    // As the kernel leaves it: the field holds the folded pseudo-header sum.
    setBe16(pkt, ipHl + at, fold(pseudoSum(pkt, v6, udp ? 17 : 6, pkt.length - ipHl)));
  }
  const pad = rng.chance(0.1) ? rng.bytes(rng.int(1, 20)) : new Uint8Array(0);
  const bytes = new Uint8Array([...pkt, ...pad]);
  return {
    vnet: vnetHeader(
      partial ? NEEDS_CSUM : 0,
      GSO_NONE | (rng.chance(0.05) ? GSO_ECN : 0),
      0,
      0,
      partial ? ipHl : 0,
      partial ? at : 0,
    ),
    bytes,
  };
}

/** One of the things that must be refused, applied to a valid read. */
function mutate(rng: Rng, r: Read): Read {
  const vnet = r.vnet.slice();
  let bytes = r.bytes.slice();
  const dv = new DataView(vnet.buffer);
  const v6 = bytes[0] >> 4 === 6;
  const ipHl = dv.getUint16(6, true);
  switch (rng.below(12)) {
    case 0: // wrong GSO type
      vnet[1] = rng.pick([GSO_TCPV4, GSO_TCPV6, GSO_UDP_L4, 2, 3, 6, 0x7f, 0x81, 0x84]);
      break;
    case 1: // csum_start elsewhere
      dv.setUint16(
        6,
        rng.pick([0, 20, 39, ipHl - 4, ipHl + 4, 41, 44, bytes.length, 65535, rng.int(0, 200)]),
        true,
      );
      break;
    case 2:
      dv.setUint16(4, 0, true);
      break;
    case 3: // a segment too big for a slot
      dv.setUint16(4, rng.int(MAX_PLAINTEXT - 80, 65535), true);
      break;
    case 4: // truncated read
      bytes = bytes.slice(0, rng.chance(0.5) ? rng.int(0, 70) : rng.int(0, bytes.length - 1));
      break;
    case 5: // total / payload length field off
      setBe16(
        bytes,
        v6 ? 4 : 2,
        rng.pick([0, 1, 19, 20, bytes.length + 1, 65535, rng.int(0, 65535)]),
      );
      break;
    case 6: // TCP data offset
      if (ipHl + 12 < bytes.length) {
        bytes[ipHl + 12] = (rng.int(0, 15) << 4) | (bytes[ipHl + 12] & 15);
      }
      break;
    case 7: // version nibble
      bytes[0] = (rng.pick([0, 5, 7, 15, 4, 6]) << 4) | (bytes[0] & 15);
      break;
    case 8: // IPv4 IHL
      if (!v6) bytes[0] = 0x40 | rng.int(0, 15);
      break;
    case 9: // protocol byte
      bytes[v6 ? 6 : 9] = rng.pick([0, 1, 6, 17, 41, 58, 255]);
      break;
    case 10: // checksum offsets of a plain packet past the end
      dv.setUint16(8, rng.int(0, 70000) & 0xffff, true);
      vnet[0] |= NEEDS_CSUM;
      break;
    default: // random virtio header
      vnet.set(rng.bytes(10));
  }
  return { vnet, bytes };
}

// ---------------------------------------------------------------- the model

type Expect =
  | { ok: false; codes: number[] }
  | {
    ok: true;
    segments: Uint8Array[];
    gso: boolean;
    csum: boolean;
    hdrLen: number;
    payload: Uint8Array;
    /** The packets go to large slots (the read's slot goes back), not the read's slot. */
    large: boolean;
  };

/**
 * The pool as ABI.md describes it, as far as which takes succeed: free slots of each class and
 * the bytes the cap leaves; a class without a free slot grows a chunk (small: `CHUNK_SLOTS`,
 * large: `LARGE_CHUNK_SLOTS`, fewer at the cap).
 */
class PoolModel {
  readonly free: [number, number];
  room: number;
  constructor(c: PoolCtx) {
    const s = c.pool.stats();
    this.free = [s.small.capacity - s.small.inUse, s.large.capacity - s.large.inUse];
    this.room = s.maxBytes - s.bytes;
  }
  take(large: boolean): boolean {
    const k = large ? 1 : 0, size = large ? LARGE_SLOT_SIZE : SLOT_SIZE;
    if (this.free[k] === 0) {
      const n = Math.min(large ? LARGE_CHUNK_SLOTS : CHUNK_SLOTS, Math.floor(this.room / size));
      if (n === 0) return false;
      this.room -= n * size;
      this.free[k] += n;
    }
    this.free[k]--;
    return true;
  }
  give(large: boolean): void {
    this.free[large ? 1 : 0]++;
  }
}

/** A plain read; one longer than `headCap` takes a large slot from `pm` first (null: no pool). */
function expectPlain(r: Read, headCap: number, pm: PoolModel | null): Expect {
  const { bytes } = r;
  const dv = new DataView(r.vnet.buffer);
  const large = bytes.length > headCap;
  if (large && pm !== null && !pm.take(true)) return { ok: false, codes: [E_EXHAUSTED] };
  const fail = (codes: number[]): Expect => {
    if (large) pm?.give(true);
    return { ok: false, codes };
  };
  if (large && bytes.length > LARGE_SLOT_SIZE - HEADROOM) return fail([E_TOO_BIG]);
  const m = ipModel(bytes);
  if (m.code < 0) return fail([m.code]);
  const pkt = bytes.slice(0, m.total);
  const csum = (r.vnet[0] & NEEDS_CSUM) !== 0;
  if (csum) {
    const start = dv.getUint16(6, true), at = start + dv.getUint16(8, true);
    if (at + 2 > pkt.length) return fail([E_BAD_GSO]);
    let c = ~fold(sum16(pkt, 0, start, pkt.length)) & 0xffff;
    if (c === 0) c = 0xffff;
    setBe16(pkt, at, c);
  }
  return { ok: true, segments: [pkt], gso: false, csum, hdrLen: 0, payload: pkt, large };
}

/** ABI.md's checks of a GSO read; every violated one is a code the export may answer. */
function expectSuper(r: Read, headCap: number, type: number): Expect {
  const { bytes } = r;
  const dv = new DataView(r.vnet.buffer);
  const head = bytes.subarray(0, Math.min(bytes.length, headCap));
  if (bytes.length === 0) return { ok: false, codes: [E_TRUNCATED] };
  const ver = bytes[0] >> 4;
  if (ver !== 4 && ver !== 6) return { ok: false, codes: [E_BAD_VERSION] };
  const v6 = ver === 6;
  const codes = new Set<number>();
  const proto = type === GSO_UDP_L4 ? 17 : 6;
  if (!(type === GSO_UDP_L4 || (type === GSO_TCPV4 && !v6) || (type === GSO_TCPV6 && v6))) {
    codes.add(E_BAD_GSO);
  }
  if (head.length < (v6 ? 40 : 20)) return { ok: false, codes: [E_TRUNCATED, ...codes] };
  const ipHl = dv.getUint16(6, true);
  if (v6 ? ipHl < 40 : (bytes[0] & 15) * 4 !== ipHl) codes.add(E_BAD_GSO);
  if (ipHl < 20 || ipHl >= head.length) codes.add(E_BAD_GSO);
  if (v6 ? ipHl === 40 && bytes[6] !== proto : bytes[9] !== proto) codes.add(E_BAD_GSO);
  const total = v6 ? 40 + be16(bytes, 4) : be16(bytes, 2);
  if (total > bytes.length || total < ipHl) codes.add(E_BAD_TOTAL_LEN);
  let hdrLen = ipHl + 8;
  const l4 = Math.max(0, head.length - ipHl);
  if (proto === 6) {
    if (l4 < 20) codes.add(E_TRUNCATED);
    else {
      const doff = (head[ipHl + 12] >> 4) * 4;
      if (doff < 20 || doff > l4) codes.add(E_BAD_HEADER_LEN);
      hdrLen = ipHl + doff;
    }
  } else if (l4 < 8) codes.add(E_TRUNCATED);
  const gso = dv.getUint16(4, true);
  if (hdrLen > total || hdrLen > MAX_HDR_LEN || gso === 0) codes.add(E_BAD_GSO);
  else if (hdrLen + gso > LARGE_MAX_PLAINTEXT) codes.add(E_TOO_BIG);
  if (codes.size > 0) return { ok: false, codes: [...codes] };

  // Segments, built from the template header.
  const payload = bytes.subarray(hdrLen, total);
  const nseg = Math.max(1, Math.ceil(payload.length / gso));
  const id0 = v6 ? 0 : be16(bytes, 4);
  const seq0 = be32(bytes, ipHl + 4);
  const flags0 = bytes[ipHl + 13];
  const segments: Uint8Array[] = [];
  for (let k = 0; k < nseg; k++) {
    const chunk = payload.subarray(k * gso, Math.min(payload.length, (k + 1) * gso));
    const s = new Uint8Array(hdrLen + chunk.length);
    s.set(bytes.subarray(0, hdrLen));
    s.set(chunk, hdrLen);
    if (v6) setBe16(s, 4, s.length - 40);
    else {
      setBe16(s, 2, s.length);
      setBe16(s, 4, (id0 + k) & 0xffff);
      setIpv4Checksum(s, ipHl);
    }
    if (proto === 6) {
      setBe32(s, ipHl + 4, (seq0 + k * gso) >>> 0);
      let f = flags0;
      if (k !== nseg - 1) f &= ~(FIN | PSH);
      if (k > 0) f &= ~CWR;
      s[ipHl + 13] = f;
      setL4Checksum(s, v6, proto, ipHl, 16);
    } else {
      setBe16(s, ipHl + 4, s.length - ipHl);
      setL4Checksum(s, v6, proto, ipHl, 6);
    }
    segments.push(s);
  }
  const large = hdrLen + gso > MAX_PLAINTEXT;
  return { ok: true, segments, gso: true, csum: false, hdrLen, payload, large };
}

function expectRead(r: Read, headCap: number, pm: PoolModel | null): Expect {
  if (r.bytes.length - Math.min(r.bytes.length, headCap) > JUMBO_LEN) {
    return { ok: false, codes: [E_TOO_BIG] };
  }
  const type = r.vnet[1] & ~GSO_ECN;
  return type === GSO_NONE ? expectPlain(r, headCap, pm) : expectSuper(r, headCap, type);
}

/** Can each dropped read take one code out of `counts` (which must be used up exactly)? */
function matchCodes(wants: number[][], counts: Record<number, number>): boolean {
  const left: Record<number, number> = { ...counts };
  const go = (k: number): boolean => {
    if (k === wants.length) return Object.values(left).every((v) => v === 0);
    for (const c of new Set(wants[k])) {
      if ((left[c] ?? 0) > 0) {
        left[c]--;
        if (go(k + 1)) return true;
        left[c]++;
      }
    }
    return false;
  };
  return go(0);
}

// ---------------------------------------------------------------- the target

export const tunSegment: Target<Ctx> = {
  name: "tun_segment",
  maxStepMs: 4000,
  setup() {
    const c = new PoolCtx({ chunkSlots: 256, maxSlots: MAX_SLOTS });
    const s = (n: number) => c.pool.scratch(n);
    return {
      c,
      offs: s(4 * MAX_READS),
      lens: s(4 * MAX_READS),
      tails: s(4 * MAX_READS),
      hdrs: s(16 * MAX_READS),
      outOffs: s(4 * OUT_MAX),
      outLens: s(4 * OUT_MAX),
      ballast: s(4 * MAX_SLOTS),
    };
  },
  inUse: (ctx) => ctx.c.inUse(),
  generate(rng) {
    const n = rng.int(1, MAX_READS);
    const reads: Uint8Array[] = [];
    for (let i = 0; i < n; i++) {
      let r = rng.chance(0.2) ? plainPacket(rng) : superPacket(rng);
      if (rng.chance(0.25)) r = mutate(rng, r);
      if (rng.chance(0.02)) r = { vnet: rng.bytes(10), bytes: validIp(rng) };
      reads.push(new Writer().bytes(r.vnet).bytes(r.bytes).done());
    }
    const headCap = rng.chance(0.7) ? HEAD_MAX : rng.int(MAX_HDR_LEN, HEAD_MAX);
    const outCap = rng.chance(0.9) ? OUT_MAX : rng.int(0, 40);
    const free = rng.chance(0.9) ? 0xffff : rng.int(0, 30);
    return joinBlobs(new Writer().u16(headCap).u16(outCap).u16(free).done(), reads);
  },
  split: splitBlobs,
  join: joinBlobs,
  check(ctx, input) {
    const { c } = ctx;
    const { head, records } = splitBlobs(input);
    const hr = new Reader(head);
    const headCap = Math.min(hr.u16(), HEAD_MAX);
    const outCap = Math.min(hr.u16(), OUT_MAX);
    const freeWanted = hr.u16();
    const reads: Read[] = records.slice(0, MAX_READS).map((b) => ({
      vnet: b.slice(0, 10),
      bytes: b.slice(10),
    }))
      .filter((r) => r.bytes.length <= headCap + JUMBO_LEN);
    const n = reads.length;
    if (n === 0) return;
    const slots = c.alloc(ctx.offs, n);
    // Ballast: the pool left with `freeWanted` small slots to give (free or under the cap).
    const left = new PoolModel(c);
    const ballast = freeWanted === 0xffff ? new Uint32Array(0) : c.alloc(
      ctx.ballast,
      Math.max(0, left.free[0] + Math.floor(left.room / SLOT_SIZE) - freeWanted),
    );
    let out: Uint32Array = new Uint32Array(0);
    try {
      const jumbo = c.wasm.ts_jumbo_ptr();
      const u8 = c.u8;
      const mem = c.wasm.memory.buffer;
      const lens = new Uint32Array(mem, ctx.lens, n);
      const tails = new Uint32Array(mem, ctx.tails, n);
      reads.forEach((r, i) => {
        const h = Math.min(r.bytes.length, headCap);
        u8.set(r.bytes.subarray(0, h), slots[i] + HEADROOM);
        u8.set(r.bytes.subarray(h), jumbo + i * JUMBO_LEN);
        lens[i] = r.bytes.length;
        tails[i] = jumbo + i * JUMBO_LEN;
        u8.fill(0, ctx.hdrs + 16 * i, ctx.hdrs + 16 * i + 16);
        u8.set(r.vnet, ctx.hdrs + 16 * i);
      });

      // The model over the reads in order: out_cap and the pool's slots limit segments.
      const pm = new PoolModel(c);
      let at = 0;
      const drops: Record<number, number> = {};
      const stats = [0, 0, 0];
      const plan: { expect: Expect; at: number; produced: number }[] = [];
      for (const r of reads) {
        let e: Expect;
        // No room left in the output: dropped as E_EXHAUSTED (or for what is wrong with it).
        if (at >= outCap) {
          const e0 = expectRead(r, headCap, null);
          e = { ok: false, codes: [E_EXHAUSTED, ...(e0.ok ? [] : e0.codes)] };
        } else e = expectRead(r, headCap, pm);
        if (!e.ok) {
          plan.push({ expect: e, at, produced: 0 });
          pm.give(false); // its slot goes back to the pool
          continue;
        }
        const want = Math.min(e.segments.length, outCap - at);
        let produced: number;
        if (!e.large) {
          produced = 1; // segment 0 in the read's slot, the others in small slots
          while (produced < want && pm.take(false)) produced++;
        } else {
          // A plain packet took its large slot already; segments take theirs, from segment 0.
          produced = e.gso ? 0 : 1;
          while (produced < want && pm.take(true)) produced++;
          pm.give(false);
        }
        if (e.segments.length > produced) {
          drops[E_EXHAUSTED] = (drops[E_EXHAUSTED] ?? 0) + e.segments.length - produced;
        }
        if (e.gso) (stats[0]++, stats[1] += produced);
        if (e.csum) stats[2]++;
        plan.push({ expect: e, at, produced });
        at += produced;
      }

      const dropsBefore = c.drops();
      const offBefore = c.offload();
      const got = c.wasm.ts_tun_ingest(
        ctx.offs,
        ctx.lens,
        ctx.tails,
        ctx.hdrs,
        n,
        headCap,
        ctx.outOffs,
        ctx.outLens,
        outCap,
      );
      out = new Uint32Array(c.wasm.memory.buffer, ctx.outOffs, Math.max(0, Math.min(got, outCap)))
        .slice();
      const outLens = new Uint32Array(c.wasm.memory.buffer, ctx.outLens, out.length).slice();
      const mem2 = c.u8;
      const desc = (i: number) => {
        const r = reads[i];
        return `read ${i} of ${n} (vnet ${
          hex(r.vnet)
        }, ${r.bytes.length} B, head_cap ${headCap}, out_cap ${outCap}): ${hex(r.bytes, 80)}`;
      };

      if (got !== at) {
        const want = plan.map((p, i) =>
          `  ${
            p.expect.ok
              ? `${p.produced} segment(s)`
              : `dropped ${p.expect.codes.map(codeName).join("|")}`
          }: ${desc(i)}`
        );
        equal(got, at, `segments produced (want ${at}, got ${got}) for\n${want.join("\n")}`);
      }
      plan.forEach((p, i) => {
        if (p.expect.ok && !p.expect.large) {
          equal(out[p.at], slots[i], `${desc(i)}: segment 0 stays in the read's slot`);
        }
      });
      const delta = dropDelta(dropsBefore, c.drops());
      // Every dropped read is counted under one of its acceptable codes.
      const seen = { ...delta };
      if (drops[E_EXHAUSTED]) {
        seen[E_EXHAUSTED] = (seen[E_EXHAUSTED] ?? 0) - drops[E_EXHAUSTED];
        if (seen[E_EXHAUSTED] === 0) delete seen[E_EXHAUSTED];
      }
      const dropped = plan.map((p, i) => ({ p, i })).filter(({ p }) => !p.expect.ok);
      const wants = dropped.map(({ p }) => (p.expect.ok ? [] : p.expect.codes));
      ok(
        matchCodes(wants, seen),
        `drop counters moved by ${JSON.stringify(delta)} (${
          drops[E_EXHAUSTED] ?? 0
        } E_EXHAUSTED segments), want one of each for:\n${
          dropped.map(({ i }, k) => `  ${wants[k].map(codeName).join(" or ")}: ${desc(i)}`).join(
            "\n",
          )
        }`,
      );
      deepStrictEqual(
        c.offload().slice(0, 3).map((v, k) => v - offBefore[k]),
        stats,
        "offload stats: super-packets, segments, checksums completed",
      );

      plan.forEach((p, i) => {
        if (!p.expect.ok) return;
        const segs = p.expect.segments;
        for (let k = 0; k < p.produced; k++) {
          const off = out[p.at + k], len = outLens[p.at + k];
          const seg = mem2.slice(off + HEADROOM, off + HEADROOM + len);
          if (!bytesEqual(seg, segs[k])) {
            deepStrictEqual(
              { len, bytes: hex(seg, 200) },
              { len: segs[k].length, bytes: hex(segs[k], 200) },
              `${desc(i)}: segment ${k} of ${segs.length}`,
            );
            ok(false, `${desc(i)}: segment ${k} differs beyond the first 200 bytes`);
          }
          if (p.expect.gso) {
            const v6 = seg[0] >> 4 === 6;
            const ipHl = new DataView(reads[i].vnet.buffer).getUint16(6, true);
            if (!v6) ok(ipv4HeaderOk(seg, ipHl), `${desc(i)}: segment ${k} IPv4 header checksum`);
            const proto = (reads[i].vnet[1] & ~GSO_ECN) === GSO_UDP_L4 ? 17 : 6;
            ok(l4ChecksumOk(seg, v6, proto, ipHl), `${desc(i)}: segment ${k} L4 checksum`);
          }
        }
        if (p.expect.gso && p.produced === segs.length) {
          // The segments' payloads, read back from the slots, concatenated = the super-packet's.
          const { hdrLen, payload } = p.expect;
          const parts = new Uint8Array(payload.length);
          let o = 0;
          for (let k = 0; k < segs.length; k++) {
            const off = out[p.at + k] + HEADROOM;
            parts.set(mem2.subarray(off + hdrLen, off + outLens[p.at + k]), o);
            o += outLens[p.at + k] - hdrLen;
          }
          ok(
            o === payload.length && bytesEqual(parts, payload),
            `${desc(i)}: payloads concatenated`,
          );
        }
      });
      equal(
        new Set([...out, ...ballast]).size,
        out.length + ballast.length,
        "outputs are distinct slots",
      );
      equal(
        c.inUse(),
        out.length + ballast.length,
        "in use = outputs + ballast: every dropped read's slot was freed",
      );
    } finally {
      c.free(ctx.outOffs, out);
      c.free(ctx.ballast, ballast);
    }
  },
};
