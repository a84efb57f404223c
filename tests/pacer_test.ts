/**
 * Work in slices: a slice ends after SLICE_MS, and the yield between two waits for a registered
 * loop's turn (it wakes the loop first), or at most TURN_WAIT_MS for a loop that does not turn.
 */
import { equal, ok } from "node:assert/strict";
import { Pacer, registerLoop, SLICE_MS, TURN_WAIT_MS, yieldToLoop } from "../src/pacer.ts";

Deno.test("pacer: slices of SLICE_MS; longest and slices say what the work held", async () => {
  const pace = new Pacer();
  const t0 = performance.now();
  let yields = 0;
  while (performance.now() - t0 < 3 * SLICE_MS + 5) {
    const before = pace.slices;
    await pace.maybeYield();
    if (pace.slices > before) yields++;
  }
  pace.finish();
  ok(yields >= 1, `${yields} yields over ${3 * SLICE_MS + 5} ms`);
  equal(pace.slices, yields + 1);
  ok(pace.longest >= SLICE_MS, `longest ${pace.longest}`);
});

Deno.test("pacer: a yield wakes a registered loop and waits for its turn", async () => {
  let woken = 0;
  const loop = registerLoop(() => {
    woken++;
    setTimeout(() => loop.turned(), 5); // the loop's poll returns, it turns
  });
  try {
    let done = false;
    const y = yieldToLoop().then(() => done = true);
    equal(woken, 1, "woken at once");
    await new Promise((r) => setTimeout(r, 1));
    ok(!done, "not before the loop turned");
    await y;
    ok(done);
  } finally {
    loop.unregister();
  }
});

Deno.test("pacer: a loop that does not turn holds a yield TURN_WAIT_MS at most", async () => {
  let woken = 0;
  const loop = registerLoop(() => woken++);
  try {
    const t0 = performance.now();
    await yieldToLoop();
    const ms = performance.now() - t0;
    ok(ms >= TURN_WAIT_MS - 1, `resolved after ${ms.toFixed(1)} ms, before the fallback`);
  } finally {
    loop.unregister();
  }
  equal(woken, 1);
  await yieldToLoop(); // unregistered: a plain macrotask, nobody woken
  equal(woken, 1);
});
