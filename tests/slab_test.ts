import { deepStrictEqual, equal, notEqual, ok, throws } from "node:assert/strict";
import { E_FOREIGN, E_MISALIGNED, E_NOT_LIVE } from "../src/wasm/abi.ts";
import { PoolExhaustedError, SlabPool, SlotFreeError } from "../src/wasm/slab.ts";
import { instantiate } from "../src/wasm/module.ts";

Deno.test("Packet returns its slot at scope end (using)", () => {
  using pool = SlabPool.create({ chunkSlots: 8, maxSlots: 64 });
  let off = 0;
  {
    using pkt = pool.alloc();
    off = pkt.off;
    pkt.bytes(4).set([0x45, 0, 0, 20]);
    equal(pool.stats().inUse, 1);
    // The view is the slot itself: bytes land at off + headroom in linear memory.
    deepStrictEqual([...pool.u8.subarray(off + pool.headroom, off + pool.headroom + 4)], [
      0x45,
      0,
      0,
      20,
    ]);
  }
  equal(pool.stats().inUse, 0);
  equal(pool.stats().frees, 1);
  ok(off > 0 && off % 16 === 0, `slot offset ${off} is 16-aligned and non-zero`);
});

Deno.test("slots are big enough for MTU 1500 plus header, padding and tag", () => {
  using pool = SlabPool.create({ chunkSlots: 4, maxSlots: 4 });
  ok(pool.slotSize >= 16 + 1504 + 16, `slot size ${pool.slotSize}`);
  equal(pool.slotSize % 16, 0);
  equal(pool.headroom, 16);
});

Deno.test("pool grows by whole chunks up to its cap, then refuses", () => {
  const wasm = instantiate();
  using pool = SlabPool.create({ chunkSlots: 4, maxSlots: 10 }, wasm);
  let remaps = 0;
  pool.onRemap(() => remaps++);
  ok(pool.stats().capacity <= 4, "at most one chunk before the first allocation");
  const offs: number[] = [];
  for (let i = 0; i < 10; i++) offs.push(wasm.ts_pool_alloc());
  pool.refresh();
  ok(offs.every((o) => o > 0), "ten slots under a cap of ten");
  equal(new Set(offs).size, 10);
  const s = pool.stats();
  equal(s.capacity, 10);
  equal(s.inUse, 10);
  equal(s.highWater, 10);
  equal(s.chunks, 3, "chunks of 4, 4 and the 2 left under the cap");
  ok(remaps >= 1, "growing replaced memory.buffer and listeners rebuilt their views");
  equal(wasm.ts_pool_alloc(), 0, "the eleventh is refused");
  throws(() => pool.alloc(), PoolExhaustedError);
  equal(pool.stats().refusedAllocs, 2);
  for (const o of offs) pool.free(o);
  const after = pool.stats();
  equal(after.inUse, 0);
  equal(after.capacity, 10, "memory is kept for reuse, not shrunk");
});

Deno.test("batch alloc fills a u32 array in linear memory and stops at the cap", () => {
  using pool = SlabPool.create({ chunkSlots: 16, maxSlots: 40 });
  const ptr = pool.scratch(64 * 4);
  const got = pool.allocBatch(ptr, 64);
  equal(got, 40);
  const offs = pool.u32At(ptr, got);
  equal(new Set(offs).size, 40);
  equal(pool.stats().refusedAllocs, 24, "each missing slot counts as a refused allocation");
  equal(pool.freeBatch(ptr, got), 40);
  equal(pool.stats().inUse, 0);
});

Deno.test("refused frees (double, foreign, misaligned) change nothing but their counter", () => {
  const wasm = instantiate();
  using pool = SlabPool.create({ chunkSlots: 8, maxSlots: 16 }, wasm);
  const a = wasm.ts_pool_alloc();
  const b = wasm.ts_pool_alloc();
  pool.free(b);
  const before = pool.stats();
  const bad: [number, number][] = [
    [b, E_NOT_LIVE], // double free
    [a + 1, E_MISALIGNED],
    [a + pool.slotSize / 2, E_MISALIGNED],
    [0, E_FOREIGN],
    [16, E_FOREIGN],
    [0xfffffff0, E_FOREIGN],
  ];
  for (const [off, code] of bad) {
    equal(pool.tryFree(off), code, `free(${off})`);
    throws(() => pool.free(off), SlotFreeError);
  }
  const after = pool.stats();
  deepStrictEqual({ ...after, refusedFrees: 0 }, { ...before, refusedFrees: 0 });
  equal(after.refusedFrees, before.refusedFrees + bad.length * 2);
  // The pool still works: the freed slot comes back, the live one is not handed out.
  const c = wasm.ts_pool_alloc();
  notEqual(c, a);
  pool.free(a);
  pool.free(c);
  equal(pool.stats().inUse, 0);
});

Deno.test("randomized alloc/free never hands out a live slot twice", () => {
  using pool = SlabPool.create({ chunkSlots: 32, maxSlots: 500 });
  const ptr = pool.scratch(128 * 4);
  const live = new Set<number>();
  let seed = 0x9e3779b9;
  const rnd = (n: number): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  let high = 0;
  for (let round = 0; round < 3000; round++) {
    const op = rnd(4);
    if (op < 2) {
      const want = 1 + rnd(64);
      const got = pool.allocBatch(ptr, want);
      equal(got, Math.min(want, 500 - live.size));
      const offs = pool.u32At(ptr, got);
      for (const o of offs) {
        ok(!live.has(o), `slot ${o} handed out while live`);
        equal(o % 16, 0);
        live.add(o);
      }
    } else if (op === 2 && live.size > 0) {
      const k = 1 + rnd(Math.min(64, live.size));
      const view = pool.u32At(ptr, k);
      const arr = [...live];
      for (let i = 0; i < k; i++) {
        const j = rnd(arr.length);
        view[i] = arr[j];
        arr.splice(j, 1);
      }
      equal(pool.freeBatch(ptr, k), k);
      for (const o of view) live.delete(o);
    } else if (live.size > 0) {
      // A double free in a batch: the live one is freed, the repeat refused.
      const o = live.values().next().value!;
      const view = pool.u32At(ptr, 2);
      view[0] = o;
      view[1] = o;
      equal(pool.freeBatch(ptr, 2), 1);
      live.delete(o);
    }
    high = Math.max(high, live.size);
    const s = pool.stats();
    equal(s.inUse, live.size);
    equal(s.allocs - s.frees, live.size);
    ok(s.capacity <= 500 && s.capacity >= live.size);
    equal(s.highWater, high);
  }
  for (const o of live) pool.free(o);
  equal(pool.stats().inUse, 0);
});
