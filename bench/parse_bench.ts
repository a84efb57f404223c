/**
 * Batch IP parsing: one `ts_ip_parse_batch` call over 64 packets in pool
 * slots against the same validation in JS with a `DataView` over WASM memory
 * (version, IPv4 IHL and total length, IPv6 payload length; result 4, 6 or
 * a negative code written to an `Int32Array`, as the WASM export does).
 *
 *   deno bench -A bench/parse_bench.ts
 *
 * The 64 packets mix IPv4 and IPv6, TCP/UDP-sized, 60 to 1420 bytes, all
 * valid (the common case); both parsers are checked to agree before timing.
 *
 * @example
 * ```sh
 * deno bench -A bench/parse_bench.ts
 * ```
 * @module
 */
import { instantiate } from "../src/wasm/module.ts";
import { SlabPool } from "../src/wasm/slab.ts";

const N = 64;
const E_TRUNCATED = -1;
const E_BAD_VERSION = -2;
const E_BAD_HEADER_LEN = -3;
const E_BAD_TOTAL_LEN = -4;
const E_TOO_BIG = -17;

const wasm = instantiate();
const pool = SlabPool.create({ chunkSlots: 64, maxSlots: 64 }, wasm);
const HEADROOM = pool.headroom;
const offsPtr = pool.scratch(N * 4);
const lensPtr = pool.scratch(N * 4);
const resPtr = pool.scratch(N * 4);
if (pool.allocBatch(offsPtr, N) !== N) throw new Error("pool refused 64 slots");
const offs = pool.u32At(offsPtr, N);
const lens = pool.u32At(lensPtr, N);
const res = pool.i32At(resPtr, N);
const jsRes = new Int32Array(N);
const SIZES = [60, 1420, 576, 1280, 92, 1420, 1420, 200];
for (let i = 0; i < N; i++) {
  const at = offs[i] + pool.headroom;
  const len = SIZES[i % SIZES.length];
  const dv = pool.dv;
  if (i % 4 === 3) {
    dv.setUint8(at, 0x60);
    dv.setUint16(at + 4, len - 40);
    dv.setUint8(at + 6, 17);
    dv.setUint8(at + 7, 64);
    dv.setUint8(at + 23, 1);
    dv.setUint8(at + 39, 2);
  } else {
    dv.setUint8(at, 0x45);
    dv.setUint16(at + 2, len);
    dv.setUint8(at + 8, 64);
    dv.setUint8(at + 9, 6);
    dv.setUint32(at + 12, 0x0a000001);
    dv.setUint32(at + 16, 0x0a000002);
  }
  lens[i] = len;
}

/** The JS version of `ts_ip_parse_batch`'s checks (wasm/ABI.md, "IP parsing"). */
function parseJs(dv: DataView, offs: Uint32Array, lens: Uint32Array, out: Int32Array): number {
  const max = pool.slotSize - pool.headroom;
  let valid = 0;
  for (let i = 0; i < N; i++) {
    const at = offs[i] + HEADROOM;
    const len = lens[i];
    let r: number;
    if (len > max) r = E_TOO_BIG;
    else if (len === 0) r = E_TRUNCATED;
    else {
      const v = dv.getUint8(at) >> 4;
      if (v === 4) {
        if (len < 20) r = E_TRUNCATED;
        else {
          const hl = (dv.getUint8(at) & 15) * 4;
          const total = dv.getUint16(at + 2);
          if (hl < 20 || hl > len) r = E_BAD_HEADER_LEN;
          else if (total > len || total < hl) r = E_BAD_TOTAL_LEN;
          else r = 4;
        }
      } else if (v === 6) {
        if (len < 40) r = E_TRUNCATED;
        else r = dv.getUint16(at + 4) + 40 > len ? E_BAD_TOTAL_LEN : 6;
      } else r = E_BAD_VERSION;
    }
    out[i] = r;
    if (r > 0) valid++;
  }
  return valid;
}

const wasmValid = wasm.ts_ip_parse_batch(offsPtr, lensPtr, resPtr, N);
const jsValid = parseJs(pool.dv, offs, lens, jsRes);
if (wasmValid !== N || jsValid !== N || res.some((r, i) => r !== jsRes[i])) {
  throw new Error(`parsers disagree: wasm ${wasmValid} [${res}], js ${jsValid} [${jsRes}]`);
}

let sink = 0;
Deno.bench({
  name: "JS DataView parse of 64",
  group: "parse64",
  baseline: true,
  fn() {
    sink += parseJs(pool.dv, offs, lens, jsRes);
  },
});
Deno.bench({
  name: "wasm ts_ip_parse_batch of 64",
  group: "parse64",
  fn() {
    sink += wasm.ts_ip_parse_batch(offsPtr, lensPtr, resPtr, N);
  },
});

globalThis.addEventListener("unload", () => {
  if (sink === 0.5) console.log(sink);
  pool.freeBatch(offsPtr, N);
});
