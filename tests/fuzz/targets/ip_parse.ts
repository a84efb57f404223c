/**
 * ip_parse: random, mutated and garbage IPv4/IPv6 packets through
 * `ts_ip_parse_batch` (slots, drop counters) and `ts_ip_info` (any pointer:
 * the jumbo area holds packets up to 64 KiB), against {@link ipModel}.
 * @module
 */
import { deepStrictEqual, equal } from "node:assert/strict";
import {
  BAD_PTR,
  codeEq,
  codeName,
  E_BAD_ARG,
  E_TOO_BIG,
  E_TRUNCATED,
  HEADROOM,
  SLOT_SIZE,
} from "../abi.ts";
import { hex, joinBlobs, Reader, splitBlobs, Writer } from "../bytes.ts";
import { ipModel, randomIp } from "../ip_model.ts";
import { countCodes, dropDelta, PoolCtx } from "../pool_ctx.ts";
import type { Target } from "../harness.ts";

const MAX_N = 64;
/** Record flags. */
const BAD_PTR_BATCH = 1, BAD_PTR_INFO = 2, BAD_OUT = 4;

interface Ctx {
  c: PoolCtx;
  offs: number;
  lens: number;
  res: number;
  out: number;
}

export const ipParse: Target<Ctx> = {
  name: "ip_parse",
  maxStepMs: 2000,
  setup() {
    const c = new PoolCtx({ chunkSlots: 64, maxSlots: 256 });
    const s = (n: number) => c.pool.scratch(n);
    return { c, offs: s(4 * MAX_N), lens: s(4 * MAX_N), res: s(4 * MAX_N), out: s(64) };
  },
  inUse: (ctx) => ctx.c.inUse(),
  generate(rng) {
    const n = rng.int(1, MAX_N);
    const recs: Uint8Array[] = [];
    for (let i = 0; i < n; i++) {
      const flags = rng.chance(0.05) ? rng.int(1, 7) : 0;
      recs.push(new Writer().u8(flags).bytes(randomIp(rng, true)).done());
    }
    return joinBlobs(new Uint8Array(0), recs);
  },
  split: splitBlobs,
  join: joinBlobs,
  check(ctx, input) {
    const { c } = ctx;
    const recs = splitBlobs(input).records.slice(0, MAX_N).map((r) => {
      const rd = new Reader(r);
      return { flags: rd.u8(), pkt: r.slice(1) };
    });
    const n = recs.length;
    if (n === 0) return;
    const slots = c.alloc(ctx.offs, n);
    try {
      const u8 = c.u8;
      const offs = new Uint32Array(c.wasm.memory.buffer, ctx.offs, n);
      const lens = new Uint32Array(c.wasm.memory.buffer, ctx.lens, n);
      const want: number[] = [];
      recs.forEach(({ flags, pkt }, i) => {
        u8.set(pkt.subarray(0, SLOT_SIZE - HEADROOM), slots[i] + HEADROOM);
        lens[i] = pkt.length;
        if (flags & BAD_PTR_BATCH) offs[i] = BAD_PTR - HEADROOM;
        // ABI.md: E_TOO_BIG first, then an inaccessible range (a zero-length one is always fine).
        want.push(
          pkt.length > SLOT_SIZE - HEADROOM
            ? E_TOO_BIG
            : flags & BAD_PTR_BATCH && pkt.length > 0
            ? E_BAD_ARG
            : ipModel(pkt).code,
        );
      });
      const before = c.drops();
      const valid = c.wasm.ts_ip_parse_batch(ctx.offs, ctx.lens, ctx.res, n);
      const res = [...new Int32Array(c.wasm.memory.buffer, ctx.res, n)];
      for (let i = 0; i < n; i++) {
        codeEq(
          res[i],
          want[i],
          `batch packet ${i} (${recs[i].pkt.length} B, flags ${recs[i].flags}): ${
            hex(recs[i].pkt)
          }`,
        );
      }
      equal(valid, want.filter((x) => x > 0).length, "ts_ip_parse_batch return value");
      deepStrictEqual(dropDelta(before, c.drops()), countCodes(want), "drop counters per code");

      // ts_ip_info on the same bytes at an arbitrary pointer: the jumbo area.
      const jumbo = c.wasm.ts_jumbo_ptr();
      for (let i = 0; i < n; i++) {
        const { flags, pkt } = recs[i];
        const m = ipModel(pkt);
        c.u8.set(pkt, jumbo);
        c.u8.fill(0xa5, ctx.out, ctx.out + 40);
        const ptr = flags & BAD_PTR_INFO ? BAD_PTR : jumbo;
        const out = flags & BAD_OUT ? BAD_PTR : ctx.out;
        const got = c.wasm.ts_ip_info(ptr, pkt.length, out);
        const at = `ts_ip_info packet ${i} (${pkt.length} B, flags ${flags}): ${hex(pkt)}`;
        let expect = [m.code];
        if (flags & BAD_PTR_INFO) expect = [pkt.length === 0 ? E_TRUNCATED : E_BAD_ARG];
        else if (flags & BAD_OUT) expect = m.code > 0 ? [E_BAD_ARG] : [m.code, E_BAD_ARG];
        equal(
          expect.map(codeName).includes(codeName(got)),
          true,
          `${at}: got ${codeName(got)}, want ${expect.map(codeName)}`,
        );
        const o = c.u8.slice(ctx.out, ctx.out + 40);
        if (got < 0 || out !== ctx.out) {
          deepStrictEqual(o, new Uint8Array(40).fill(0xa5), `${at}: written on error`);
          continue;
        }
        const dv = new DataView(o.buffer);
        const addr = (a: Uint8Array) => {
          const x = new Uint8Array(16);
          x.set(a);
          return x;
        };
        deepStrictEqual(
          {
            version: o[0],
            proto: o[1],
            hdrLen: dv.getUint16(2, true),
            total: dv.getUint32(4, true),
            src: o.slice(8, 24),
            dst: o.slice(24, 40),
          },
          {
            version: m.code,
            proto: m.proto,
            hdrLen: m.hdrLen,
            total: m.total,
            src: addr(m.src),
            dst: addr(m.dst),
          },
          at,
        );
      }
    } finally {
      equal(c.free(ctx.offs, slots), n, "every slot freed once");
    }
  },
};
