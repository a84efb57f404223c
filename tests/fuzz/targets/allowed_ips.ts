/**
 * allowed_ips: random inserts, moves, removals, per-peer removals, lookups
 * and lists through `ts_route_*`, IPv4 and IPv6, against {@link RouteModel}
 * (a hash per prefix length). The target's instance has the limits
 * {@link PEERS} and {@link PREFIXES} (`ts_tables_init`): peer ids past it are
 * refused, and iteration 0 (and 2% of the others) fills the table, which
 * grows page by page, to 140,000 prefixes (beyond netns.sh's 130,560 on one
 * peer and twice the old fixed 65,536), checks E_TABLE_FULL beyond it and
 * that moving an existing prefix still works. Every step ends by removing
 * every peer: then every lookup is E_NO_ROUTE and every list is empty.
 * @module
 */
import { deepStrictEqual, equal } from "node:assert/strict";
import { BAD_PTR, codeEq, E_BAD_ARG, E_NO_ROUTE } from "../abi.ts";
import { bytesEqual, joinBlobs, Reader, splitBlobs, Writer } from "../bytes.ts";
import { keyBytes, type Prefix, RouteModel } from "../route_model.ts";
import { PoolCtx } from "../pool_ctx.ts";
import { Rng } from "../rng.ts";
import type { Target } from "../harness.ts";

const OP_INSERT = 0, OP_REMOVE = 1, OP_REMOVE_PEER = 2, OP_LOOKUP = 3, OP_LIST = 4;
const OP_FILL = 5, OP_PROBE = 6, OP_LIST_ALL = 7, OP_CHURN = 8;
const N_OPS = 9;
/** Peer limit of the target's instance: twice the old fixed 1,024 (u16 ids past it are refused). */
export const PEERS = 2048;
/** Prefix limit of the target's instance. */
export const PREFIXES = 140_000;
/** Entries read back per ts_route_list call (the scratch area holds 1 MiB). */
const LIST_CAP = 16384;
const ENTRY = 20;

/** A per-peer choice that does not depend on call order. */
function seedOf(peer: number): number {
  return (peer * 0x9e3779b1) >>> 7;
}

interface Ctx {
  c: PoolCtx;
  addr: number;
  list: number;
}

/** A prefix drawn so that many share leading bits (deep tries, many moves). */
function randomPrefix(rng: Rng): { family: 4 | 6; addr: Uint8Array; cidr: number } {
  const family: 4 | 6 = rng.chance(0.55) ? 4 : 6;
  const addr = rng.bytes(16);
  if (family === 4) {
    addr.fill(0, 4);
    if (rng.chance(0.7)) addr.set(rng.pick([[10, 0], [10, 1], [192, 168], [172, 16]]));
    const cidr = rng.chance(0.1) ? rng.int(0, 32) : rng.pick([8, 16, 24, 32, rng.int(12, 32)]);
    return { family, addr, cidr };
  }
  if (rng.chance(0.7)) addr.set(rng.pick([[0xfd, 0], [0xfd, 0, 0, 1], [0x20, 1, 0x0d, 0xb8]]));
  const cidr = rng.chance(0.1)
    ? rng.int(0, 128)
    : rng.pick([32, 48, 64, 96, 128, rng.int(40, 128)]);
  return { family, addr, cidr };
}

/** An address inside `p` (random host bits), or anywhere. */
function addrNear(rng: Rng, p: Prefix | undefined): { family: 4 | 6; addr: Uint8Array } {
  if (p === undefined || rng.chance(0.15)) {
    const r = randomPrefix(rng);
    return { family: r.family, addr: r.addr };
  }
  const base = keyBytes(p.family, p.key);
  const host = rng.bytes(16);
  const bits = p.family === 4 ? 32 : 128;
  for (let b = p.cidr; b < bits; b++) {
    const byte = b >> 3, bit = 0x80 >> (b & 7);
    base[byte] = (base[byte] & ~bit) | (host[byte] & bit);
  }
  return { family: p.family, addr: base };
}

function op(
  code: number,
  family: number,
  cidr: number,
  peer: number,
  addr: Uint8Array,
  flags = 0,
): Uint8Array {
  return new Writer().u8(code).u8(family).u8(cidr).u16(peer).u8(flags).bytes(addr.subarray(0, 16))
    .done();
}

function countOp(code: number, count: number, seed: number, peers = PEERS): Uint8Array {
  return new Writer().u8(code).u8(0).u8(0).u16(peers).u8(0).u32(count).u32(seed).bytes(
    new Uint8Array(8),
  ).done();
}

export const allowedIps: Target<Ctx> = {
  name: "allowed_ips",
  maxStepMs: 20000,
  setup() {
    const c = new PoolCtx({ chunkSlots: 16, maxSlots: 64 });
    equal(c.wasm.ts_tables_init(PEERS, 0, PREFIXES), 0, "ts_tables_init");
    return { c, addr: c.pool.scratch(16), list: c.pool.scratch(LIST_CAP * ENTRY) };
  },
  inUse: (ctx) => ctx.c.inUse(),
  generate(rng, i) {
    const ops: Uint8Array[] = [];
    const full = i === 0 || rng.chance(0.02);
    const peers = rng.pick([1, 4, 64, PEERS]);
    if (full) {
      ops.push(countOp(OP_FILL, PREFIXES + 40, rng.u32(), peers));
      ops.push(countOp(OP_PROBE, 4000, rng.u32()));
      ops.push(countOp(OP_CHURN, 2000, rng.u32(), peers));
      ops.push(countOp(OP_LIST_ALL, 0, rng.u32()));
    }
    const n = rng.int(1, full ? 200 : 400);
    const mine: Prefix[] = [];
    const model = new RouteModel(PEERS, PREFIXES);
    for (let k = 0; k < n; k++) {
      const kind = rng.weighted([30, 8, 2, 30, 4, 1, 3, 1, 1]);
      const peer = rng.chance(0.02) ? rng.int(PEERS, 0xffff) : rng.below(peers);
      const flags = rng.chance(0.01) ? 1 : 0;
      if (kind === OP_INSERT) {
        const old = rng.chance(0.3) && mine.length > 0 ? rng.pick(mine) : undefined;
        const r = old
          ? { family: old.family, cidr: old.cidr, addr: keyBytes(old.family, old.key) }
          : randomPrefix(rng);
        let { family, cidr } = r;
        if (rng.chance(0.02)) family = rng.pick([0, 5, 7, 46]) as 4;
        if (rng.chance(0.02)) cidr = rng.int(family === 4 ? 33 : 129, 255);
        ops.push(op(OP_INSERT, family, cidr, peer, r.addr, flags));
        if (RouteModel.valid(family, cidr)) mine.push(model.prefix(family as 4 | 6, r.addr, cidr));
      } else if (kind === OP_REMOVE) {
        const p = mine.length > 0 && rng.chance(0.8) ? rng.pick(mine) : undefined;
        const a = addrNear(rng, p);
        const cidr = p?.cidr ?? rng.int(0, a.family === 4 ? 32 : 128);
        ops.push(op(OP_REMOVE, rng.chance(0.02) ? 9 : a.family, cidr, 0, a.addr, flags));
      } else if (kind === OP_REMOVE_PEER) {
        ops.push(op(OP_REMOVE_PEER, 0, 0, peer, new Uint8Array(16)));
      } else if (kind === OP_LOOKUP) {
        const a = addrNear(rng, mine.length > 0 ? rng.pick(mine) : undefined);
        ops.push(op(OP_LOOKUP, rng.chance(0.01) ? 5 : a.family, 0, 0, a.addr, flags));
      } else if (kind === OP_LIST) {
        ops.push(op(OP_LIST, 0, 0, peer, new Uint8Array(16), flags));
      } else if (kind === OP_FILL) {
        ops.push(countOp(OP_FILL, rng.int(1, 3000), rng.u32(), peers));
      } else if (kind === OP_PROBE) {
        ops.push(countOp(OP_PROBE, rng.int(1, 500), rng.u32()));
      } else if (kind === OP_LIST_ALL) {
        ops.push(countOp(OP_LIST_ALL, 0, rng.u32()));
      } else {
        ops.push(countOp(OP_CHURN, rng.int(1, 500), rng.u32(), peers));
      }
    }
    return joinBlobs(new Uint8Array(0), ops);
  },
  split: splitBlobs,
  join: joinBlobs,
  check(ctx, input) {
    const { c } = ctx;
    const w = c.wasm;
    const model = new RouteModel(PEERS, PREFIXES);
    /** Every prefix this step inserted (lookup targets; checked again once the table is empty). */
    const seen: Prefix[] = [];
    const put = (a: Uint8Array): void => c.u8.set(a.subarray(0, 16), ctx.addr);
    const insert = (
      family: number,
      addr: Uint8Array,
      cidr: number,
      peer: number,
      bad: boolean,
      at: string,
    ) => {
      put(addr);
      const want = bad && RouteModel.valid(family, cidr, peer, PEERS)
        ? E_BAD_ARG
        : model.insert(family, addr, cidr, peer);
      const got = w.ts_route_insert(family, bad ? BAD_PTR : ctx.addr, cidr, peer);
      codeEq(
        got,
        want,
        `${at}: insert family ${family} /${cidr} peer ${peer} (${model.size} prefixes)`,
      );
      if (got === 0) seen.push(model.prefix(family as 4 | 6, addr, cidr));
    };
    const lookup = (family: number, addr: Uint8Array, bad: boolean, at: string) => {
      put(addr);
      const want = bad && (family === 4 || family === 6) ? E_BAD_ARG : model.lookup(family, addr);
      const got = w.ts_route_lookup(family, bad ? BAD_PTR : ctx.addr);
      codeEq(
        got,
        want,
        `${at}: lookup family ${family} ${[...addr.subarray(0, family === 4 ? 4 : 16)]}`,
      );
    };
    const list = (peer: number, bad: boolean, at: string) => {
      if (bad) {
        codeEq(w.ts_route_list(peer, BAD_PTR, 1), E_BAD_ARG, `${at}: list to a bad pointer`);
        return;
      }
      const total = w.ts_route_list(peer, ctx.list, 0);
      if (peer >= PEERS) {
        codeEq(total, E_BAD_ARG, `${at}: list of peer ${peer}`);
        return;
      }
      const want = model.list(peer);
      equal(total, want.length, `${at}: number of prefixes of peer ${peer}`);
      if (total === 0) return;
      // A max below the total writes only `max` entries and still returns the total.
      const max = total > LIST_CAP
        ? LIST_CAP
        : total > 1 && (seedOf(peer) & 3) === 0
        ? total - 1
        : total;
      c.u8.fill(0xee, ctx.list, ctx.list + ENTRY * Math.min(total, LIST_CAP));
      equal(w.ts_route_list(peer, ctx.list, max), total, `${at}: list total with max ${max}`);
      const got = c.u8.slice(ctx.list, ctx.list + ENTRY * Math.min(total, LIST_CAP));
      const exp = new Uint8Array(ENTRY * Math.min(total, LIST_CAP)).fill(0xee);
      exp.fill(0, 0, ENTRY * max);
      want.slice(0, max).forEach((p, k) => {
        exp[k * ENTRY] = p.family;
        exp[k * ENTRY + 1] = p.cidr;
        exp.set(keyBytes(p.family, p.key), k * ENTRY + 4);
      });
      if (bytesEqual(got, exp)) return;
      for (let k = 0; k * ENTRY < exp.length; k++) {
        deepStrictEqual(
          got.subarray(k * ENTRY, (k + 1) * ENTRY),
          exp.subarray(k * ENTRY, (k + 1) * ENTRY),
          `${at}: entry ${k} of peer ${peer}'s list (family, cidr, 0, 0, address; max ${max} of ${total})`,
        );
      }
    };
    const probe = (rng: Rng, count: number, at: string) => {
      for (let k = 0; k < count; k++) {
        const a = addrNear(rng, seen.length > 0 ? seen[rng.below(seen.length)] : undefined);
        lookup(a.family, a.addr, false, `${at}, probe ${k}`);
      }
    };

    const ops = splitBlobs(input).records;
    for (let k = 0; k < ops.length; k++) {
      const r = new Reader(ops[k]);
      const code = r.u8() % N_OPS,
        family = r.u8(),
        cidr = r.u8(),
        peer = r.u16(),
        bad = (r.u8() & 1) === 1;
      const addr = r.bytes(16);
      const at = `op ${k}`;
      const rd = new Reader(addr);
      const count = rd.u32(), seed = rd.u32();
      const peers = Math.max(1, Math.min(peer, PEERS));
      switch (code) {
        case OP_INSERT:
          insert(family, addr, cidr, peer, bad, at);
          break;
        case OP_REMOVE: {
          put(addr);
          const want = bad && RouteModel.valid(family, cidr)
            ? E_BAD_ARG
            : model.remove(family, addr, cidr);
          const got = w.ts_route_remove(family, bad ? BAD_PTR : ctx.addr, cidr);
          codeEq(got, want, `${at}: remove family ${family} /${cidr}`);
          break;
        }
        case OP_REMOVE_PEER:
          codeEq(
            w.ts_route_remove_peer(peer),
            model.removePeer(peer),
            `${at}: remove peer ${peer}`,
          );
          break;
        case OP_LOOKUP:
          lookup(family, addr, bad, at);
          break;
        case OP_LIST:
          list(peer, bad, at);
          break;
        case OP_FILL: {
          // New prefixes until the model holds `count` (moves on the way; E_TABLE_FULL past PREFIXES).
          const rng = new Rng(seed);
          const target = Math.min(count, PREFIXES + 1000);
          let tries = 0;
          while (model.size < Math.min(target, PREFIXES) && tries++ < 4 * target) {
            const p = randomPrefix(rng);
            insert(p.family, p.addr, p.cidr, rng.below(peers), false, `${at} (fill ${tries})`);
          }
          for (let extra = model.size; extra < target; extra++) {
            const p = randomPrefix(rng);
            p.cidr = p.family === 4 ? 32 : 128; // mostly new: full-length random addresses
            insert(p.family, p.addr, p.cidr, rng.below(peers), false, `${at} (beyond the limit)`);
          }
          break;
        }
        case OP_PROBE:
          probe(new Rng(seed), Math.min(count, 20000), at);
          break;
        case OP_LIST_ALL: {
          // A list walks the table: every peer while it is small, a sample of 64 when large.
          const rng = new Rng(seed);
          const every = model.size <= 8192;
          for (let p = 0; p < (every ? PEERS : 64); p++) {
            list(
              every ? p : rng.below(PEERS),
              false,
              `${at} (${every ? "all" : "sampled"} peers)`,
            );
          }
          break;
        }
        case OP_CHURN: {
          // Remove and re-insert, move between peers, look up: at whatever fill the table has.
          const rng = new Rng(seed);
          for (let j = 0; j < Math.min(count, 5000); j++) {
            const p = seen.length > 0 ? seen[rng.below(seen.length)] : undefined;
            const x = rng.below(4);
            if (p !== undefined && x === 0) {
              const a = keyBytes(p.family, p.key);
              put(a);
              codeEq(
                w.ts_route_remove(p.family, ctx.addr, p.cidr),
                model.remove(p.family, a, p.cidr),
                `${at}: churn remove`,
              );
            } else if (p !== undefined && x === 1) {
              insert(
                p.family,
                keyBytes(p.family, p.key),
                p.cidr,
                rng.below(peers),
                false,
                `${at}: churn move`,
              );
            } else if (x === 2) {
              const q = randomPrefix(rng);
              insert(q.family, q.addr, q.cidr, rng.below(peers), false, `${at}: churn insert`);
            } else probe(rng, 1, `${at}: churn`);
          }
          break;
        }
      }
    }

    // Removing every peer empties the table.
    for (let p = 0; p < PEERS; p++) {
      equal(w.ts_route_remove_peer(p), model.removePeer(p), `final removal of peer ${p}`);
    }
    equal(model.size, 0);
    for (let p = 0; p < PEERS; p++) {
      equal(w.ts_route_list(p, ctx.list, 0), 0, `peer ${p} lists nothing`);
    }
    const rng = new Rng(ops.length);
    for (const [k, p] of seen.entries()) {
      const a = addrNear(rng, p);
      put(a.addr);
      codeEq(w.ts_route_lookup(a.family, ctx.addr), E_NO_ROUTE, `empty table, lookup ${k}`);
    }
  },
};
