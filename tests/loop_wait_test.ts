/**
 * src/device/loop_wait.ts's policy on a recording fake poller (the real poll(2) waits are in
 * tests/hot_wait_test.ts): when a turn yields, waits on a worker thread or blocks on its own.
 */
import { deepStrictEqual, equal } from "node:assert/strict";
import { HOT_MS, LoopWait, YIELD_MS } from "../src/device/loop_wait.ts";
import type { Poller } from "../src/poller.ts";

function fake(): { poller: Poller; calls: string[] } {
  const calls: string[] = [];
  const poller = {
    wait: (ms: number) => (calls.push(`wait ${ms}`), Promise.resolve(0)),
    block: (ms: number) => (calls.push(`block ${ms}`), 0),
  } as unknown as Poller;
  return { poller, calls };
}

Deno.test("saturated: no wait, one wait(0) per YIELD_MS", async () => {
  let t = 1000;
  const { poller, calls } = fake();
  const w = new LoopWait(true, () => t);
  equal(w.after(poller, 5, t, t + 500)?.constructor, Promise); // first turn: yield is due
  for (let i = 0; i < 10; i++) equal(w.after(poller, 5, t += 1, t + 500), null);
  t += YIELD_MS;
  await w.after(poller, 5, t, t + 500);
  deepStrictEqual(calls, ["wait 0", "wait 0"]);
});

Deno.test("hot: blocks on its own thread until the yield is due, then yields; cold past HOT_MS", async () => {
  let t = 1000;
  const { poller, calls } = fake();
  const w = new LoopWait(true, () => t);
  await w.after(poller, 1, t, t + 800); // moved: yields (first turn)
  equal(w.after(poller, 0, t += 10, t + 800), null);
  equal(w.after(poller, 0, t += YIELD_MS - 10, t + 800)?.constructor, Promise);
  equal(w.after(poller, 0, t += 1, t + 30), null); // slice ends at the timer
  t += HOT_MS;
  await w.after(poller, 0, t, t + 700);
  deepStrictEqual(calls, ["wait 0", `block ${YIELD_MS - 10}`, "wait 0", "block 30", "wait 700"]);
});

Deno.test("not hot (the default for embedders): an idle turn always waits on the worker", async () => {
  let t = 1000;
  const { poller, calls } = fake();
  const w = new LoopWait(false, () => t);
  await w.after(poller, 3, t, t + 100);
  await w.after(poller, 0, t += 1, t + 250);
  await w.after(poller, 0, t += 1, t - 5); // timer overdue: no sleep
  deepStrictEqual(calls, ["wait 0", "wait 250", "wait 0"]);
});
