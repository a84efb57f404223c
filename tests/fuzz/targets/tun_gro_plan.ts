/**
 * tun_gro_plan: streams of TCP segments from a few flows (in order, out of
 * order, with gaps and retransmissions, other flags, options, changed
 * ACK/TTL/TOS, bad checksums, IPv4 options and fragments, padding), mixed
 * with UDP, ICMP, IPv6 and garbage, through `ts_tun_plan` — wireguard-go
 * fuzzes its handleGRO the same way.
 *
 * Checked: every packet that may have a unit is in exactly one unit's pieces
 * and no other; units come in the order of their first packet; each flow's
 * packets are written in their order; a merged unit obeys every merge rule of
 * ABI.md and its virtio header and rewritten header describe exactly the
 * concatenation (the super-packet built in TypeScript has a valid IPv4 header
 * checksum, and its TCP checksum verifies once completed from the partial
 * sum as the kernel does); no input packet is modified; and the units are
 * exactly those of a model of ABI.md's rules (16 flows followed at once).
 * @module
 */
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import {
  codeEq,
  E_BAD_ARG,
  HEADROOM,
  MAX_PLAN,
  MAX_UNIT_SEGS,
  SLOT_SIZE,
  UNIT_HDR_STRIDE,
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
  setIpv4Checksum,
  splitBlobs,
  sum16,
  Writer,
} from "../bytes.ts";
import { ipModel, randomIp } from "../ip_model.ts";
import { ACK, buildL4, CWR, ECE, FIN, PSH, RST, SYN, URG } from "../l4_gen.ts";
import { dropDelta, PoolCtx } from "../pool_ctx.ts";
import type { Rng } from "../rng.ts";
import type { Target } from "../harness.ts";

const N_MAX = MAX_PLAN + 8;
const MAX_OPEN = 16;
const MAX_UNIT_LEN = 65535;
const MAX_LEN = SLOT_SIZE - HEADROOM;
const MAX_PACKET_LEN = 65535;

interface Ctx {
  c: PoolCtx;
  offs: number;
  lens: number;
  units: number;
  pieces: number;
  hdrs: number;
}

// ---------------------------------------------------------------- the model

interface Seg {
  key: string;
  ipHl: number;
  tcpHl: number;
  payload: number;
  seq: number;
  ack: number;
  psh: boolean;
}

/** A TCP packet's flow (valid IP, TCP as protocol, a TCP header inside the packet) and, if it may merge, its segment. */
export function classify(pkt: Uint8Array): { key?: string; seg?: Seg } {
  const m = ipModel(pkt);
  if (m.code < 0 || m.proto !== 6) return {};
  const ipHl = m.hdrLen;
  if (m.total - ipHl < 20) return {};
  const tcpHl = (pkt[ipHl + 12] >> 4) * 4;
  if (tcpHl < 20 || ipHl + tcpHl > m.total) return {};
  const v6 = m.code === 6;
  const key = `${m.code}|${hex(m.src)}|${hex(m.dst)}|${be32(pkt, ipHl)}`;
  const payload = m.total - ipHl - tcpHl;
  const flags = pkt[ipHl + 13];
  const plainIp = v6 || (ipHl === 20 && (pkt[6] & 0x3f) === 0 && pkt[7] === 0);
  // ABI.md: exactly ACK or ACK|PSH, a payload, no IPv4 options or fragment, and (the packet
  // being the whole buffer) nothing after its IP length.
  if (
    !plainIp || payload === 0 || (flags !== ACK && flags !== (ACK | PSH)) || m.total !== pkt.length
  ) return { key };
  return {
    key,
    seg: {
      key,
      ipHl,
      tcpHl,
      payload,
      seq: be32(pkt, ipHl + 4),
      ack: be32(pkt, ipHl + 8),
      psh: (flags & PSH) !== 0,
    },
  };
}

function tcpChecksumOk(pkt: Uint8Array, s: Seg): boolean {
  return l4ChecksumOk(pkt, pkt[0] >> 4 === 6, 6, s.ipHl);
}

function ipFieldsMatch(a: Uint8Array, b: Uint8Array): boolean {
  if (a[0] >> 4 === 6) return be32(a, 0) === be32(b, 0) && a[7] === b[7];
  return a[1] === b[1] && a[6] >> 5 === b[6] >> 5 && a[8] === b[8];
}

interface Unit {
  pieces: number[];
  seg?: Seg;
  payload: number;
  nextSeq: number;
  psh: boolean;
  firstOk: boolean;
}

export interface PlanModel {
  units: Unit[];
  skipped: number;
  badChecksum: number;
}

/** ABI.md's grouping of `pkts` (null = no unit: length 0, too long). */
export function planModel(pkts: (Uint8Array | null)[], coalesce: boolean): PlanModel {
  const units: Unit[] = [];
  const open: number[] = [];
  let skipped = 0, badChecksum = 0;
  const canAppend = (u: Unit, s: Seg, pkt: Uint8Array): boolean => {
    const f = u.seg!;
    const first = pkts[u.pieces[0]]!;
    const hl = s.ipHl + s.tcpHl;
    const fits = u.pieces.length < MAX_UNIT_SEGS && hl + u.payload + s.payload <= MAX_UNIT_LEN &&
      s.payload <= f.payload && u.payload % f.payload === 0 && !u.psh && s.seq === u.nextSeq &&
      s.ack === f.ack && s.ipHl === f.ipHl && s.tcpHl === f.tcpHl &&
      bytesEqual(first.subarray(f.ipHl + 20, hl), pkt.subarray(s.ipHl + 20, hl)) &&
      ipFieldsMatch(first, pkt);
    if (!fits) return false;
    if (!u.firstOk) {
      if (!tcpChecksumOk(first, f)) {
        badChecksum++;
        return false;
      }
      u.firstOk = true;
    }
    if (!tcpChecksumOk(pkt, s)) {
      badChecksum++;
      return false;
    }
    return true;
  };
  for (let i = 0; i < pkts.length; i++) {
    const pkt = pkts[i];
    if (pkt === null) {
      skipped++;
      continue;
    }
    const { key, seg } = coalesce ? classify(pkt) : {};
    if (key !== undefined) {
      const k = open.findIndex((u) => units[u].seg!.key === key);
      if (k >= 0 && seg && canAppend(units[open[k]], seg, pkt)) {
        const u = units[open[k]];
        u.pieces.push(i);
        u.payload += seg.payload;
        u.nextSeq = (u.nextSeq + seg.payload) >>> 0;
        u.psh = seg.psh;
        if (seg.payload < u.seg!.payload || seg.psh) open.splice(k, 1);
        continue;
      }
      if (k >= 0) open.splice(k, 1);
    }
    const u: Unit = {
      pieces: [i],
      seg,
      payload: seg?.payload ?? 0,
      nextSeq: seg ? (seg.seq + seg.payload) >>> 0 : 0,
      psh: seg?.psh ?? false,
      firstOk: false,
    };
    units.push(u);
    if (seg && !seg.psh) {
      if (open.length === MAX_OPEN) open.shift();
      open.push(units.length - 1);
    }
  }
  return { units, skipped, badChecksum };
}

/** The header area a merged unit must have: virtio header + the first packet's rewritten IP+TCP header. */
function unitHeader(u: Unit, first: Uint8Array): Uint8Array {
  const s = u.seg!;
  const hl = s.ipHl + s.tcpHl;
  const total = hl + u.payload;
  const v6 = first[0] >> 4 === 6;
  const out = new Uint8Array(10 + hl);
  const dv = new DataView(out.buffer);
  out[0] = 1; // NEEDS_CSUM
  out[1] = v6 ? 4 : 1; // GSO_TCPV6 / GSO_TCPV4
  dv.setUint16(2, hl, true);
  dv.setUint16(4, s.payload, true);
  dv.setUint16(6, s.ipHl, true);
  dv.setUint16(8, 16, true);
  const h = out.subarray(10);
  h.set(first.subarray(0, hl));
  if (v6) setBe16(h, 4, total - 40);
  else {
    setBe16(h, 2, total);
    setIpv4Checksum(h, s.ipHl);
  }
  if (u.psh) h[s.ipHl + 13] |= PSH;
  setBe16(h, s.ipHl + 16, fold(pseudoSum(h, v6, 6, total - s.ipHl)));
  return out;
}

// ---------------------------------------------------------------- the generator

interface Flow {
  v6: boolean;
  src: Uint8Array;
  dst: Uint8Array;
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  mss: number;
  ttl: number;
  tos: number;
  flow: number;
  opts?: Uint8Array;
  sent: number[];
  /** IPv4 DF bit of the flow's packets. */
  df: number;
  /** Scales the chance of every irregularity (1 = as drawn, small = long clean runs). */
  noise: number;
}

function newFlow(rng: Rng, flows: Flow[], noise: number): Flow {
  const v6 = rng.chance(0.4);
  // Some flows share addresses with another and differ only in a port.
  const twin = flows.length > 0 && rng.chance(0.3) ? rng.pick(flows) : undefined;
  const f: Flow = {
    v6: twin?.v6 ?? v6,
    src: twin?.src ?? rng.bytes(twin?.v6 ?? v6 ? 16 : 4),
    dst: twin?.dst ?? rng.bytes(twin?.v6 ?? v6 ? 16 : 4),
    sport: rng.int(1, 65535),
    dport: twin ? twin.dport : rng.int(1, 65535),
    seq: rng.chance(0.1) ? 0xffffffff - rng.int(0, 5000) : rng.u32(),
    ack: rng.u32(),
    mss: rng.chance(0.2) ? rng.int(1, 200) : rng.int(500, 1400),
    ttl: 64,
    tos: 0,
    flow: rng.int(0, 0xfffff),
    opts: rng.chance(0.3) ? new Uint8Array([1, 1, 8, 10, ...[0, 0, 0, 1, 0, 0, 0, 2]]) : undefined,
    sent: [],
    df: rng.chance(0.7) ? 0x4000 : 0,
    noise,
  };
  return f;
}

function tcpSegment(rng: Rng, f: Flow, padding: boolean): Uint8Array {
  // Irregularities (flags, gaps, changed fields, bad checksums) are rarer in a bulk stream.
  const q = f.noise;
  let flags = ACK;
  const r = rng.float() / q;
  if (r < 0.08) flags = ACK | PSH;
  else if (r < 0.1) {
    flags = rng.pick([
      SYN,
      SYN | ACK,
      FIN | ACK,
      RST,
      RST | ACK,
      ACK | URG,
      ACK | ECE,
      ACK | CWR,
      0,
      ACK | FIN | PSH,
    ]);
  }
  const hl = (f.v6 ? 40 : 20) + 20 + (f.opts?.length ?? 0);
  let payload = rng.chance(1 - 0.15 * q) ? f.mss : rng.int(0, f.mss);
  if (rng.chance(0.03 * q)) payload = 0;
  payload = Math.min(payload, MAX_LEN - hl);
  let seq = f.seq;
  const s = rng.float() / q;
  if (s < 0.04) seq = (seq + rng.int(1, 3000)) >>> 0; // a gap
  else if (s < 0.07 && f.sent.length > 0) seq = rng.pick(f.sent); // a retransmission
  if (rng.chance(0.03 * q)) f.ack = (f.ack + rng.int(1, 1000)) >>> 0;
  if (rng.chance(0.02 * q)) f.ttl = rng.int(1, 255);
  if (rng.chance(0.02 * q)) f.tos = rng.int(0, 255);
  if (rng.chance(0.01 * q)) f.flow = rng.int(0, 0xfffff);
  if (rng.chance(0.01 * q)) f.opts = f.opts ? undefined : rng.bytes(4 * rng.int(1, 10));
  const ipExtra = !f.v6 && rng.chance(0.02 * q) ? new Uint8Array(4).fill(1) : undefined;
  const pkt = buildL4({
    v6: f.v6,
    proto: 6,
    src: f.src,
    dst: f.dst,
    sport: f.sport,
    dport: f.dport,
    seq,
    ack: f.ack,
    flags,
    tcpOpts: f.opts,
    ipExtra,
    id: rng.int(0, 65535),
    ttl: f.ttl,
    tos: f.tos,
    flow: f.flow << 0 | (f.tos << 20),
    frag: rng.chance(0.02 * q)
      ? rng.pick([0x2000, 0x0001, 0x6000, 0x0010])
      : rng.chance(0.01 * q)
      ? f.df ^ 0x4000
      : f.df,
    payload: rng.bytes(payload),
  });
  f.sent.push(seq);
  if (seq === f.seq) f.seq = (f.seq + payload) >>> 0;
  if (rng.chance(0.03 * q)) {
    pkt[rng.int(pkt.length - Math.max(1, payload), pkt.length - 1)] ^= 1 << rng.below(8); // bad checksum
  }
  if (rng.chance(0.01 * q)) pkt[(f.v6 ? 40 : 20) + 16] ^= 0x80;
  if (padding && rng.chance(0.05 * q)) {
    return new Uint8Array([...pkt, ...rng.bytes(rng.int(1, 16))].slice(0, MAX_LEN));
  }
  return pkt;
}

function stream(rng: Rng): { pkts: Uint8Array[]; claimed: number[] } {
  const flows: Flow[] = [];
  // A bulk stream: one or two flows, long clean runs (units reach 64 segments or 65535 bytes).
  const bulk = rng.chance(0.15);
  const nFlows = bulk ? rng.int(1, 2) : rng.chance(0.2) ? rng.int(12, 24) : rng.int(1, 5);
  for (let k = 0; k < nFlows; k++) flows.push(newFlow(rng, flows, bulk ? 0.05 : 1));
  const n = rng.chance(0.02)
    ? rng.int(MAX_PLAN - 4, N_MAX)
    : bulk || rng.chance(0.1)
    ? rng.int(80, 400)
    : rng.int(1, 80);
  const pkts: Uint8Array[] = [];
  const claimed: number[] = [];
  // Bytes after the IP length in a fifth of the streams (the others stay free of them).
  const padding = rng.chance(0.2);
  let cur = flows[0];
  for (let i = 0; i < n; i++) {
    const k = bulk ? 0 : rng.weighted([85, 5, 4, 2, 2, 1, 1]);
    if (rng.chance(bulk ? 0.05 : 0.3)) cur = rng.pick(flows);
    let p: Uint8Array;
    let len: number | undefined;
    if (k === 0) p = tcpSegment(rng, cur, padding);
    else if (k === 1) {
      // UDP (or ICMP) between a flow's addresses
      p = buildL4({
        v6: cur.v6,
        proto: 17,
        src: cur.src,
        dst: cur.dst,
        sport: cur.sport,
        dport: cur.dport,
        payload: rng.bytes(rng.int(0, 1200)),
      });
      if (rng.chance(0.3)) p[cur.v6 ? 6 : 9] = cur.v6 ? 58 : 1;
    } else if (k === 2) p = randomIp(rng).slice(0, MAX_LEN);
    else if (k === 3) p = new Uint8Array(0);
    else if (k === 4) {
      p = tcpSegment(rng, cur, padding);
      len = MAX_LEN + rng.int(1, 100); // claimed longer than its slot: runs on past it
    } else if (k === 5 && pkts.length > 0) p = pkts[rng.below(pkts.length)].slice(); // a duplicate
    else {
      // swap with the previous one: out of order
      p = tcpSegment(rng, cur, padding);
      if (pkts.length > 0) {
        [p, pkts[pkts.length - 1]] = [pkts[pkts.length - 1], p];
        [len, claimed[claimed.length - 1]] = [
          claimed[claimed.length - 1],
          pkts[pkts.length - 1].length,
        ];
      }
    }
    pkts.push(p);
    claimed.push(len ?? p.length);
  }
  return { pkts, claimed };
}

// ---------------------------------------------------------------- the target

export const tunGroPlan: Target<Ctx> = {
  name: "tun_gro_plan",
  maxStepMs: 4000,
  setup() {
    const c = new PoolCtx({ chunkSlots: 256, maxSlots: 2048 });
    const s = (n: number) => c.pool.scratch(n);
    return {
      c,
      offs: s(4 * N_MAX),
      lens: s(4 * N_MAX),
      units: s(16 * N_MAX),
      pieces: s(12 * N_MAX),
      hdrs: s(UNIT_HDR_STRIDE * N_MAX),
    };
  },
  inUse: (ctx) => ctx.c.inUse(),
  generate(rng) {
    const { pkts, claimed } = stream(rng);
    return joinBlobs(
      new Uint8Array([rng.chance(0.9) ? 1 : 0]),
      pkts.map((p, i) => new Writer().u16(claimed[i]).bytes(p).done()),
    );
  },
  split: splitBlobs,
  join: joinBlobs,
  check(ctx, input) {
    const { c } = ctx;
    const { head, records } = splitBlobs(input);
    const coalesce = (head[0] ?? 1) !== 0;
    const recs = records.slice(0, N_MAX).map((r) => ({
      len: new Reader(r).u16(),
      pkt: r.slice(2, 2 + MAX_LEN),
    }));
    const n = recs.length;
    if (n === 0) return;
    const slots = c.alloc(ctx.offs, n);
    try {
      const u8 = c.u8;
      const lens = new Uint32Array(c.wasm.memory.buffer, ctx.lens, n);
      recs.forEach(({ len, pkt }, i) => {
        // A claimed length beyond the bytes given reads zeros (never a previous step's bytes).
        const o = slots[i] + HEADROOM;
        u8.fill(0, o, o + MAX_LEN);
        u8.set(pkt, o);
        lens[i] = len;
      });
      // A packet is the bytes where it is said to be: one claimed longer than its slot runs on
      // into the memory after it (ABI.md: up to MAX_PACKET_LEN, if accessible).
      const pkts: (Uint8Array | null)[] = recs.map(({ len }, i) => {
        const o = slots[i] + HEADROOM;
        return len === 0 || len > MAX_PACKET_LEN || o + len > u8.length
          ? null
          : u8.slice(o, o + len);
      });
      // Every slot's bytes, to prove nothing was modified.
      const before = [...slots].map((off) => u8.slice(off + HEADROOM, off + HEADROOM + MAX_LEN));
      const dropsBefore = c.drops();
      const offBefore = c.offload();
      const nUnits = c.wasm.ts_tun_plan(
        ctx.offs,
        ctx.lens,
        n,
        ctx.units,
        ctx.pieces,
        ctx.hdrs,
        coalesce ? 1 : 0,
      );
      if (n > MAX_PLAN) {
        codeEq(nUnits, E_BAD_ARG, `n = ${n} > MAX_PLAN`);
        deepStrictEqual(dropDelta(dropsBefore, c.drops()), {}, "nothing counted");
        return;
      }
      const mem = c.u8;
      for (let i = 0; i < n; i++) {
        const o = slots[i] + HEADROOM;
        if (!bytesEqual(mem.subarray(o, o + MAX_LEN), before[i])) {
          ok(false, `packet ${i} was modified`);
        }
      }
      const uw = new Uint32Array(c.wasm.memory.buffer, ctx.units, 4 * Math.max(0, nUnits));
      const pw = new Uint32Array(c.wasm.memory.buffer, ctx.pieces, 3 * n);
      const desc = (i: number) =>
        `packet ${i} (${recs[i].len} B): ${hex(pkts[i] ?? recs[i].pkt, 60)}`;

      // Units as the export wrote them: [hdr_ptr, hdr_len, first_piece, n_pieces], pieces [ptr, len, index].
      const got: { hdr: Uint8Array; pieces: [number, number, number][] }[] = [];
      let nextPiece = 0;
      for (let u = 0; u < nUnits; u++) {
        const [hp, hl, fp, np] = uw.subarray(4 * u, 4 * u + 4);
        equal(hp, ctx.hdrs + UNIT_HDR_STRIDE * u, `unit ${u}: hdr_ptr`);
        ok(hl >= 10 && hl <= UNIT_HDR_STRIDE, `unit ${u}: hdr_len ${hl}`);
        equal(fp, nextPiece, `unit ${u}: its pieces follow the previous unit's`);
        ok(np >= 1 && fp + np <= n, `unit ${u}: ${np} pieces from ${fp}`);
        const pieces: [number, number, number][] = [];
        for (let k = fp; k < fp + np; k++) pieces.push([pw[3 * k], pw[3 * k + 1], pw[3 * k + 2]]);
        got.push({ hdr: mem.slice(hp, hp + hl), pieces });
        nextPiece = fp + np;
      }

      // Invariants first (they name what broke), then the exact model.
      const written = got.flatMap((u) => u.pieces.map((p) => p[2]));
      const wantWritten = pkts.flatMap((p, i) => (p === null ? [] : [i]));
      deepStrictEqual(
        [...written].sort((a, b) => a - b),
        wantWritten,
        "every packet with a length in exactly one unit",
      );
      for (let u = 1; u < got.length; u++) {
        ok(
          got[u].pieces[0][2] > got[u - 1].pieces[0][2],
          `units in the order of their first packet (unit ${u})`,
        );
      }
      const lastOfFlow = new Map<string, number>();
      for (const i of written) {
        const { key } = classify(pkts[i]!);
        if (key === undefined) continue;
        const prev = lastOfFlow.get(key);
        ok(
          prev === undefined || prev < i,
          `flow order: ${desc(i)} written after packet ${prev} of its flow (written order ${
            written.join(",")
          })`,
        );
        lastOfFlow.set(key, i);
      }
      got.forEach((u, ui) => {
        const idx = u.pieces.map((p) => p[2]);
        if (idx.length === 1) {
          const i = idx[0];
          deepStrictEqual(
            u.hdr,
            new Uint8Array(10),
            `unit ${ui} (single ${desc(i)}): a zeroed virtio header`,
          );
          deepStrictEqual(
            u.pieces[0],
            [slots[i] + HEADROOM, recs[i].len, i],
            `unit ${ui}: the whole packet`,
          );
          return;
        }
        // A merged unit: every rule of ABI.md, then the super-packet it describes.
        const segs = idx.map((i) => classify(pkts[i]!).seg);
        const f = segs[0];
        const at = `merged unit ${ui} (packets ${idx.join(",")})`;
        ok(
          f !== undefined && segs.every((s) => s !== undefined && s.key === f.key),
          `${at}: all mergeable segments of one flow`,
        );
        ok(idx.length <= MAX_UNIT_SEGS, `${at}: at most ${MAX_UNIT_SEGS} packets`);
        const hl = f!.ipHl + f!.tcpHl;
        let seq = f!.seq, total = hl;
        segs.forEach((s, k) => {
          const p = pkts[idx[k]]!;
          equal(s!.seq, seq, `${at}: sequence numbers contiguous at ${k}`);
          seq = (seq + s!.payload) >>> 0;
          total += s!.payload;
          equal(s!.ack, f!.ack, `${at}: same ACK number`);
          ok(
            s!.tcpHl === f!.tcpHl &&
              bytesEqual(p.subarray(s!.ipHl + 20, hl), pkts[idx[0]]!.subarray(f!.ipHl + 20, hl)),
            `${at}: same TCP options`,
          );
          ok(
            ipFieldsMatch(pkts[idx[0]]!, p),
            `${at}: same TOS/DF/TTL or traffic class/flow label/hop limit`,
          );
          ok(tcpChecksumOk(p, s!), `${at}: packet ${idx[k]}'s TCP checksum verifies`);
          if (k < segs.length - 1) {
            equal(s!.payload, f!.payload, `${at}: only the last may be shorter`);
            ok(!s!.psh, `${at}: PSH only on the last`);
          } else ok(s!.payload <= f!.payload, `${at}: last not longer than gso_size`);
          deepStrictEqual(u.pieces[k], [
            slots[idx[k]] + HEADROOM + hl,
            recs[idx[k]].len - hl,
            idx[k],
          ], `${at}: piece ${k} = its payload where it lies`);
        });
        ok(total <= MAX_UNIT_LEN, `${at}: ${total} bytes ≤ 65535`);
        const first = pkts[idx[0]]!;
        const model: Unit = {
          pieces: idx,
          seg: f,
          payload: total - hl,
          nextSeq: seq,
          psh: segs[segs.length - 1]!.psh,
          firstOk: true,
        };
        const want = unitHeader(model, first);
        equal(hex(u.hdr, 200), hex(want, 200), `${at}: virtio header + rewritten IP/TCP header`);
        // The super-packet: the kernel completes the checksum from the partial sum; it must verify.
        const sp = new Uint8Array(total);
        sp.set(u.hdr.subarray(10));
        let o = hl;
        for (const [ptr, len] of u.pieces) (sp.set(mem.subarray(ptr, ptr + len), o), o += len);
        const v6 = sp[0] >> 4 === 6;
        if (!v6) ok(ipv4HeaderOk(sp, f!.ipHl), `${at}: IPv4 header checksum of the super-packet`);
        const c16 = f!.ipHl + 16;
        let csum = ~fold(sum16(sp, 0, f!.ipHl, sp.length)) & 0xffff;
        if (csum === 0) csum = 0xffff;
        setBe16(sp, c16, csum);
        ok(l4ChecksumOk(sp, v6, 6, f!.ipHl), `${at}: TCP checksum of the completed super-packet`);
        equal(be16(sp, v6 ? 4 : 2) + (v6 ? 40 : 0), total, `${at}: total length`);
      });

      const m = planModel(pkts, coalesce);
      deepStrictEqual(
        got.map((u) => u.pieces.map((p) => p[2]).join(",")),
        m.units.map((u) => u.pieces.join(",")),
        "units (packet indices) equal the model's",
      );
      equal(nUnits, m.units.length);
      deepStrictEqual(
        dropDelta(dropsBefore, c.drops()),
        m.skipped > 0 ? { [E_BAD_ARG]: m.skipped } : {},
        "E_BAD_ARG per packet without a unit",
      );
      const merged = m.units.filter((u) => u.pieces.length > 1);
      deepStrictEqual(
        c.offload().slice(3).map((v, k) => v - offBefore[3 + k]),
        [merged.length, merged.reduce((a, u) => a + u.pieces.length, 0), m.badChecksum],
        "offload stats: units merged, packets in them, bad TCP checksums",
      );
    } finally {
      c.free(ctx.offs, slots);
    }
  },
};
