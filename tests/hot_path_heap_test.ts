/**
 * The hot path allocates nothing on the JS heap: a million synthetic packets
 * go through the WASM data plane without TUN or UDP, and `heapUsed` stays
 * flat.
 *
 * Two pools (two module instances) are the two peers, with one keypair set
 * crosswise (A's send key is B's receive key and the other way round) and
 * routes for the inner addresses. Each batch takes 128 slots from A, copies a
 * prepared IPv4 packet into each (64 to 1420 bytes, `copyWithin` inside A's
 * memory), runs `ts_encrypt_batch` on A, copies the wire messages into 128
 * slots of B with a word loop (test plumbing; `u8.set(subarray)` would
 * allocate a view per packet), runs `ts_decrypt_batch` on B and frees both
 * batches. This is the loop `DataPath` runs with the I/O taken out.
 *
 * Why `heapUsed` samples and a 256 KiB bound: the loop is synchronous, so
 * no other JS runs while it does, and until a GC runs `heapUsed` grows by
 * every byte allocated. Garbage made per packet would be collected, but only
 * once the young generation (a semi-space of ≥ 1 MiB in V8) fills, so the
 * *maximum* of samples taken every 64 batches (8,192 packets) would climb
 * close to that first: with one `subarray()` per packet (~120 B) the peak
 * rose by 1.5 MiB in a trial, with the loop as written by ~14 KB, which is
 * the ~123 `Deno.memoryUsage()` result objects of the sampling itself (no GC
 * ran during the million packets under `--trace-gc`). The bound sits between
 * the two with a wide margin either way. The warm-up runs the very same
 * function, so V8 has optimized it (compiling allocates) before `before` is
 * taken. `gc()` is called when the runner exposes it
 * (`--v8-flags=--expose-gc`); the test does not need it.
 */
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { instantiate, type TunslabExports } from "../src/wasm/module.ts";
import { SlabPool } from "../src/wasm/slab.ts";

const PACKETS = 1_000_000;
const WARMUP_BATCHES = 256;
const WARMUP_ROUNDS = 4;
const BATCH = 128;
const SAMPLE_EVERY = 64;
const HEAP_BOUND = 256 << 10;
const MTU = 1420;
const SIZES = [64, 128, 576, 1420] as const;
const PEER = 0;
const KP = 0;

/** One side: a pool and its batch arrays in scratch (offs, lens, peers, kps). */
class Side {
  readonly wasm: TunslabExports;
  readonly pool: SlabPool;
  readonly offs: number;
  readonly lens: number;
  readonly peers: number;
  readonly kps: number;
  offsV!: Uint32Array;
  lensV!: Int32Array;
  peersV!: Int32Array;
  u32!: Uint32Array;

  constructor() {
    // One chunk of exactly one batch: the memory never grows during the run.
    this.wasm = instantiate();
    this.pool = SlabPool.create({ chunkSlots: BATCH, maxSlots: BATCH }, this.wasm);
    const pool = this.pool;
    this.offs = pool.scratch(BATCH * 4);
    this.lens = pool.scratch(BATCH * 4);
    this.peers = pool.scratch(BATCH * 4);
    this.kps = pool.scratch(BATCH * 4);
    this.#views();
    pool.onRemap(() => this.#views());
  }

  #views(): void {
    this.offsV = this.pool.u32At(this.offs, BATCH);
    this.lensV = this.pool.i32At(this.lens, BATCH);
    this.peersV = this.pool.i32At(this.peers, BATCH);
    this.u32 = new Uint32Array(this.pool.memory.buffer);
  }

  /** Installs keypair slot KP for PEER (`send ‖ receive` keys) and the inner /24 route. */
  install(send: Uint8Array, recv: Uint8Array, local: number, remote: number): void {
    const { pool } = this;
    const w = this.wasm;
    const keys = pool.scratch(64);
    pool.u8.set(send, keys);
    pool.u8.set(recv, keys + 32);
    equal(w.ts_keypair_set(KP, PEER, local, remote, keys), 0);
    pool.refresh(); // the tables grow by pages: memory.grow detached the old views
    pool.u8.fill(0, keys, keys + 64);
    equal(w.ts_peer_set_send_keypair(PEER, KP), 0);
    const addr = pool.scratch(4);
    pool.u8.set([10, 0, 0, 0], addr);
    equal(w.ts_route_insert(4, addr, 24, PEER), 0);
    pool.refresh();
  }
}

/** IPv4/UDP 10.0.0.1 → 10.0.0.2 of `len` bytes. */
function ipv4(len: number): Uint8Array {
  const p = new Uint8Array(len);
  const dv = new DataView(p.buffer);
  p[0] = 0x45;
  dv.setUint16(2, len);
  p[8] = 64;
  p[9] = 17;
  p.set([10, 0, 0, 1, 10, 0, 0, 2], 12);
  for (let i = 20; i < len; i++) p[i] = i & 0xff;
  return p;
}

Deno.test("a million packets through encrypt/decrypt leave the JS heap flat", () => {
  const a = new Side();
  const b = new Side();
  const k1 = crypto.getRandomValues(new Uint8Array(32));
  const k2 = crypto.getRandomValues(new Uint8Array(32));
  a.install(k1, k2, 0x1111, 0x2222);
  b.install(k2, k1, 0x2222, 0x1111);

  // One template per size in A's scratch; slot i gets SIZES[i % 4].
  const tpl = new Uint32Array(SIZES.length);
  SIZES.forEach((len, k) => {
    tpl[k] = a.pool.scratch(len);
    a.pool.u8.set(ipv4(len), tpl[k]);
  });
  const headroom = a.pool.headroom;
  const wa = a.wasm;
  const wb = b.wasm;
  const counts = new Float64Array(4); // sent, authenticated, delivered (right length), batches
  const samples = new Float64Array(Math.ceil(PACKETS / BATCH / SAMPLE_EVERY) + 2);
  let nSamples = 0;

  /** One batch of `n` packets A → B; nothing in here may allocate. */
  function batch(n: number): void {
    if (a.pool.allocBatch(a.offs, n) !== n) throw new Error("pool A refused");
    const aOffs = a.offsV;
    const aLens = a.lensV;
    const u8 = a.pool.u8;
    for (let i = 0; i < n; i++) {
      const k = i & 3;
      const len = SIZES[k];
      u8.copyWithin(aOffs[i] + headroom, tpl[k], tpl[k] + len);
      aLens[i] = len;
    }
    counts[0] += wa.ts_encrypt_batch(a.offs, a.lens, a.peers, n, MTU);
    if (b.pool.allocBatch(b.offs, n) !== n) throw new Error("pool B refused");
    const bOffs = b.offsV;
    const bLens = b.lensV;
    const src = a.u32;
    const dst = b.u32;
    for (let i = 0; i < n; i++) {
      const wire = aLens[i];
      let s = aOffs[i] >>> 2;
      let d = bOffs[i] >>> 2;
      for (const end = s + ((wire + 3) >>> 2); s < end;) dst[d++] = src[s++];
      bLens[i] = wire;
    }
    counts[1] += wb.ts_decrypt_batch(b.offs, b.lens, b.peers, b.kps, 0, 0, n);
    for (let i = 0; i < n; i++) {
      if (bLens[i] === SIZES[i & 3] && b.peersV[i] === PEER) counts[2]++;
    }
    a.pool.freeBatch(a.offs, n);
    b.pool.freeBatch(b.offs, n);
    counts[3]++;
  }

  /** `packets` packets in batches, sampling `heapUsed` every SAMPLE_EVERY batches. */
  function pump(packets: number): void {
    nSamples = 0;
    for (let left = packets; left > 0; left -= BATCH) {
      batch(left < BATCH ? left : BATCH);
      if (counts[3] % SAMPLE_EVERY === 0) samples[nSamples++] = Deno.memoryUsage().heapUsed;
    }
  }

  // Warm-up runs the same code, so V8 has optimized it (compiling allocates) before measuring.
  for (let i = 0; i < WARMUP_ROUNDS; i++) pump(WARMUP_BATCHES * BATCH);
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const before = Deno.memoryUsage().heapUsed;
  const done0 = counts[2];
  pump(PACKETS);
  const after = Deno.memoryUsage().heapUsed;
  samples[nSamples++] = after;

  const warm = WARMUP_ROUNDS * WARMUP_BATCHES * BATCH;
  equal(counts[0], warm + PACKETS, "every packet encrypted");
  equal(counts[1], warm + PACKETS, "every packet authenticated");
  equal(counts[2] - done0, PACKETS, "a million packets decrypted to their original length");
  let peak = before;
  for (let i = 0; i < nSamples; i++) if (samples[i] > peak) peak = samples[i];
  const mib = (x: number) => `${(x / 2 ** 20).toFixed(3)} MiB`;
  console.log(
    `heapUsed after warm-up ${mib(before)}, peak ${mib(peak)} (+${mib(peak - before)}), end ${
      mib(after)
    } (${after >= before ? "+" : ""}${
      mib(after - before)
    }) over ${PACKETS} packets, ${nSamples} samples${gc ? ", gc() before" : ""}`,
  );
  ok(peak - before < HEAP_BOUND, `heap peak grew by ${mib(peak - before)} (bound 256 KiB)`);
  ok(after - before < HEAP_BOUND, `heap grew by ${mib(after - before)} (bound 256 KiB)`);

  // Both pools are empty, nothing was dropped, and B's peer saw every packet.
  equal(a.pool.stats().inUse, 0);
  equal(b.pool.stats().inUse, 0);
  deepStrictEqual([...a.pool.dropCounts()].filter((x) => x > 0), []);
  deepStrictEqual([...b.pool.dropCounts()].filter((x) => x > 0), []);
  const stats = b.pool.scratch(6 * 8);
  equal(wb.ts_peer_stats(PEER, stats), 0);
  equal(new Float64Array(b.pool.memory.buffer, stats, 6)[2], warm + PACKETS, "B rx_packets");
});
