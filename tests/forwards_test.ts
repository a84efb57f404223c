/**
 * The proxy's joins and limits over real loopback TCP: a joined pair carries both ways with half
 * closes, a pair with nothing moving is closed after its idle time, and the limiter counts per
 * client and in total.
 */
import { equal, ok } from "node:assert/strict";
import { join, limiter } from "../src/proxy/forwards.ts";

/** Two connected loopback TCP pairs: [client side, server side]. */
async function pair(): Promise<[Deno.Conn, Deno.Conn]> {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = l.addr as Deno.NetAddr;
  const [c, s] = await Promise.all([Deno.connect({ hostname: "127.0.0.1", port }), l.accept()]);
  l.close();
  return [c, s];
}

async function readAll(c: Deno.Conn): Promise<string> {
  let out = "";
  const buf = new Uint8Array(4096);
  for (let n; (n = await c.read(buf)) !== null;) {
    out += new TextDecoder().decode(buf.subarray(0, n));
  }
  return out;
}

Deno.test("join: both ways with half closes, then both closed", async () => {
  const [x, xs] = await pair(), [ys, y] = await pair();
  const joined = join(xs, ys);
  await x.write(new TextEncoder().encode("to y"));
  await x.closeWrite();
  equal(await readAll(y), "to y");
  await y.write(new TextEncoder().encode("to x"));
  await y.closeWrite();
  equal(await readAll(x), "to x");
  await joined;
  x.close();
  y.close();
});

Deno.test("join: a pair idle for idleMs is closed", async () => {
  const [x, xs] = await pair(), [ys, y] = await pair();
  const t0 = performance.now();
  await join(xs, ys, 200);
  ok(performance.now() - t0 >= 190, "not before the idle time");
  equal(await x.read(new Uint8Array(1)), null, "x sees the end");
  equal(await y.read(new Uint8Array(1)), null, "y sees the end");
  x.close();
  y.close();
});

Deno.test("limiter: per client and in total; a release gives the place back once", () => {
  const lim = limiter({ perClient: 2, total: 3 });
  const a1 = lim.take("a"), a2 = lim.take("a");
  ok(a1 !== null && a2 !== null);
  equal(lim.take("a"), null, "a's limit");
  ok(lim.clientFull("a"));
  const b1 = lim.take("b");
  ok(b1 !== null);
  equal(lim.take("c"), null, "the total");
  a1();
  a1(); // twice: counted once
  ok(!lim.clientFull("a"));
  const c1 = lim.take("c");
  ok(c1 !== null);
  equal(lim.take("c"), null, "the total again");
});
