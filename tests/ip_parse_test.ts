/**
 * IPv4/IPv6 validation in WASM over a batch of slots: good packets pass with
 * their version, malformed ones are dropped and counted per reason.
 */
import { deepStrictEqual, equal } from "node:assert/strict";
import { dropReasonName } from "../src/wasm/abi.ts";
import { SlabPool } from "../src/wasm/slab.ts";
import { instantiate } from "../src/wasm/module.ts";

function v4(total: number, bytes = total, ihl = 5): Uint8Array {
  const p = new Uint8Array(bytes);
  p[0] = 0x40 | ihl;
  p[2] = total >> 8;
  p[3] = total & 0xff;
  p[8] = 64;
  p[9] = 17;
  if (bytes >= 20) p.set([10, 0, 0, 1, 10, 0, 0, 2], 12);
  return p;
}

function v6(payload: number, bytes = payload + 40): Uint8Array {
  const p = new Uint8Array(bytes);
  p[0] = 0x60;
  p[4] = payload >> 8;
  p[5] = payload & 0xff;
  p[6] = 17;
  p[7] = 64;
  if (bytes >= 40) {
    p[23] = 1;
    p[39] = 2;
  }
  return p;
}

Deno.test("ts_ip_parse_batch validates v4/v6 and counts each malformed packet by reason", () => {
  const wasm = instantiate();
  using pool = SlabPool.create({ chunkSlots: 16, maxSlots: 64 }, wasm);
  const cases: [Uint8Array, string][] = [
    [v4(60), "v4"],
    [v6(100), "v6"],
    [v4(60, 80), "v4"], // trailing bytes beyond total length are allowed (trimmed later)
    [new Uint8Array(0), "truncated"],
    [v4(60, 12), "truncated"],
    [new Uint8Array([0x50, 0, 0, 20, ...new Array(16).fill(0)]), "bad_version"],
    [v4(60, 60, 4), "bad_header_len"],
    [v4(40, 40, 15), "bad_header_len"], // a 60-byte header in 40 bytes
    [v4(100, 60), "bad_total_len"],
    [v4(10, 60), "bad_total_len"],
    [v6(100, 60), "bad_total_len"],
    [v6(0, 20), "truncated"],
  ];
  const n = cases.length;
  const offsPtr = pool.scratch(n * 4);
  const lensPtr = pool.scratch(n * 4);
  const resPtr = pool.scratch(n * 4);
  equal(pool.allocBatch(offsPtr, n), n);
  const offs = pool.u32At(offsPtr, n);
  const lens = pool.u32At(lensPtr, n);
  cases.forEach(([bytes], i) => {
    pool.u8.set(bytes, offs[i] + pool.headroom);
    lens[i] = bytes.length;
  });
  const before = pool.dropCounts();
  const valid = wasm.ts_ip_parse_batch(offsPtr, lensPtr, resPtr, n);
  const res = [...pool.i32At(resPtr, n)];
  deepStrictEqual(
    res.map((r) => (r === 4 ? "v4" : r === 6 ? "v6" : dropReasonName(r))),
    cases.map(([, want]) => want),
  );
  equal(valid, 3);
  const after = pool.dropCounts();
  const counted: Record<string, number> = {};
  after.forEach((v, k) => {
    if (v - before[k] > 0) counted[dropReasonName(-k)] = v - before[k];
  });
  deepStrictEqual(counted, { truncated: 3, bad_version: 1, bad_header_len: 2, bad_total_len: 3 });
  equal(pool.freeBatch(offsPtr, n), n);
  equal(pool.stats().inUse, 0);
});
