import assert from "node:assert/strict";
import { compareTai64n, tai64n, TAI64N_LEN, writeTai64n } from "../src/wg/tai64n.ts";
import { toHex } from "./python_ref.ts";

Deno.test("TAI64N layout: BE64(2^62 + 10 + secs) ‖ BE32(whitened nanos)", () => {
  assert.equal(toHex(tai64n(0)), "400000000000000a" + "00000000");
  // 1700000000.5 s: 0x6553f100 seconds; 500 000 000 ns = 0x1dcd6500 → whitened 0x1d000000.
  assert.equal(toHex(tai64n(1_700_000_000_500)), "400000006553f10a" + "1d000000");
  // 2^32 s after the epoch (year 2106) carries into the high word.
  assert.equal(toHex(tai64n(2 ** 32 * 1000)), "400000010000000a" + "00000000");
  assert.equal(tai64n().length, TAI64N_LEN);
});

Deno.test("whitening clears the low 24 bits (~16.8 ms granularity)", () => {
  const base = 1_700_000_000_000;
  for (let ms = 0; ms < 1000; ms += 7) {
    const t = tai64n(base + ms);
    assert.equal(t[9] | t[10] | t[11], 0);
  }
  // Within one 16.777216 ms bucket the labels are equal; across buckets they grow.
  assert.deepEqual(tai64n(base + 0.001), tai64n(base + 16.7));
  assert.equal(compareTai64n(tai64n(base + 16.7), tai64n(base + 16.8)), -1);
});

Deno.test("bytewise compare orders labels by time", () => {
  const base = 1_700_000_000_000;
  const times = [0, 17, 34, 999, 1000, 1017, 60_000, 86_400_000];
  for (let i = 0; i < times.length; i++) {
    for (let j = 0; j < times.length; j++) {
      const a = tai64n(base + times[i]);
      const b = tai64n(base + times[j]);
      assert.equal(compareTai64n(a, b), Math.sign(i - j), `${times[i]} vs ${times[j]}`);
    }
  }
  assert.equal(compareTai64n(new Uint8Array(12), tai64n(0)), -1);
});

Deno.test("writeTai64n writes at an offset inside a larger buffer", () => {
  const buf = new Uint8Array(20).fill(0xaa);
  writeTai64n(buf, 4, 1_700_000_000_500);
  assert.deepEqual(buf.subarray(4, 16), tai64n(1_700_000_000_500));
  assert.equal(buf[3], 0xaa);
  assert.equal(buf[16], 0xaa);
});
