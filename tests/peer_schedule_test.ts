import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { PeerSchedule } from "../src/device/peer_schedule.ts";

Deno.test("peer schedule: due peers come out in deadline order, each once, the earlier of two kept", () => {
  const s = new PeerSchedule();
  s.schedule(5, 300);
  s.schedule(2, 100);
  s.schedule(9, 200);
  s.schedule(5, 50); // earlier: replaces 300
  s.schedule(2, 400); // later: ignored (the entry at 100 stays; it reschedules when it fires)
  equal(s.earliest(), 50);
  const out: number[] = [];
  for (let id = s.popDue(250); id >= 0; id = s.popDue(250)) out.push(id);
  deepStrictEqual(out, [5, 2, 9]);
  equal(s.earliest(), Infinity, "the stale entry of 5 at 300 is no deadline");
  s.schedule(7, 10);
  s.forget(7);
  equal(s.popDue(1000), -1);
});

Deno.test("peer schedule: against a model over 200,000 random operations; stale entries stay bounded", () => {
  const s = new PeerSchedule();
  const model = new Map<number, number>();
  let seed = 7;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  let now = 0;
  for (let i = 0; i < 200_000; i++) {
    const op = rnd(10);
    if (op < 6) {
      const id = rnd(5000), d = now + 1 + rnd(100_000);
      s.schedule(id, d);
      if (!(d >= (model.get(id) ?? Infinity))) model.set(id, d);
    } else if (op < 7) {
      const id = rnd(5000);
      s.forget(id);
      model.delete(id);
    } else {
      now += rnd(2000);
      const got: number[] = [];
      for (let id = s.popDue(now); id >= 0; id = s.popDue(now)) got.push(id);
      const want = [...model].filter(([, d]) => d <= now).sort((a, b) =>
        a[1] - b[1] || a[0] - b[0]
      );
      deepStrictEqual(
        got.slice().sort((a, b) => a - b),
        want.map(([id]) => id).sort((a, b) => a - b),
      );
      for (const [id] of want) model.delete(id);
    }
    const min = Math.min(...model.values());
    if (i % 1000 === 0) equal(s.earliest(), model.size === 0 ? Infinity : min);
    ok(s.size <= 2 * model.size + 1025, `heap ${s.size} for ${model.size} live`);
  }
});

Deno.test("peer schedule: touched peers come out first in, first out, each once; later touches wait", () => {
  const s = new PeerSchedule();
  for (const id of [4, 1, 4, 9]) s.touch(id);
  equal(s.touchedCount, 3);
  const out: number[] = [];
  for (let k = s.touchedCount; k > 0; k--) {
    const id = s.takeTouched();
    out.push(id);
    if (id === 1) s.touch(1); // touched again while taken: the next round's
  }
  deepStrictEqual(out, [4, 1, 9]);
  equal(s.takeTouched(), 1);
  equal(s.takeTouched(), -1);
  s.touch(70_000); // grows
  equal(s.takeTouched(), 70_000);
});

Deno.test("peer schedule: a touched queue that is never empty at a take stays bounded", () => {
  const s = new PeerSchedule();
  s.touch(0);
  s.touch(1);
  // Each round takes the one waiting longest and touches it again: one is always pending.
  for (let i = 0; i < 1_000_000; i++) s.touch(s.takeTouched());
  equal(s.touchedCount, 2);
  const grown = s.touchedCapacity;
  ok(grown <= 64, `capacity ${grown} after a million touches of two peers`);
});
