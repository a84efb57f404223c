/**
 * The forwards' joins over slots (src/proxy/slot_join.ts), between two userspace tunnels in one
 * process over loopback WireGuard, no root: a `[TCPClientTunnel]` and a `[TCPServerTunnel]` carry
 * bytes both ways intact (SHA-256) with half closes; a local peer that stops reading holds the
 * pool and the process's memory to a bound until it reads again, and the same the other way (a
 * tunnel peer that stops reading); a RST on either side resets the other; an idle join is closed;
 * no slot is left in either pool.
 */
import { TCP_TUNING } from "../src/proxy/tuning.ts";
import { equal, ok } from "node:assert/strict";
import { UserspaceTunnel } from "../src/netstack/userspace_tunnel.ts";
import type { TcpConn } from "../src/netstack/tcp_conn.ts";
import { startClientTunnel, startServerTunnel } from "../src/proxy/forwards.ts";
import { SlotPump } from "../src/proxy/slot_join.ts";
import { parseConfig } from "../src/wg/config.ts";
import { encodeBase64Key, generatePrivateKey, publicKey } from "../src/wg/keys.ts";
import { closeFd, connectLocal, listenLocalTcp, resetFd } from "../src/proxy/local_tcp.ts";

function conf(me: number, keys: Uint8Array[], ports: number[]): string {
  const peer = 1 - me;
  return `[Interface]
PrivateKey = ${encodeBase64Key(keys[me])}
ListenPort = ${ports[me]}
Address = 10.78.0.${me + 1}/24

[Peer]
PublicKey = ${encodeBase64Key(publicKey(keys[peer]))}
AllowedIPs = 10.78.0.${peer + 1}/32
Endpoint = 127.0.0.1:${ports[peer]}
`;
}

function random(n: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(b.subarray(i, i + 65536));
  return b;
}

async function sha(b: Uint8Array<ArrayBuffer>): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", b));
  return Array.from(d, (x) => x.toString(16).padStart(2, "0")).join("");
}

async function readAll(conn: Deno.Conn): Promise<Uint8Array<ArrayBuffer>> {
  const parts: Uint8Array[] = [];
  const buf = new Uint8Array(64 * 1024);
  for (let n; (n = await conn.read(buf)) !== null;) parts.push(buf.slice(0, n));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) (out.set(p, at), at += p.length);
  return out;
}

async function writeAll(conn: Deno.Conn, b: Uint8Array): Promise<void> {
  for (let off = 0; off < b.length;) off += await conn.write(b.subarray(off, off + 256 * 1024));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A free local port (bound and closed again). */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const p = (l.addr as Deno.NetAddr).port;
  l.close();
  return p;
}

/** Two tunnels a (10.78.0.1) and b (10.78.0.2); `fn` runs with them; both closed, pools checked. */
async function withTunnels(
  fn: (a: UserspaceTunnel, b: UserspaceTunnel) => Promise<void>,
): Promise<void> {
  const keys = [generatePrivateKey(), generatePrivateKey()];
  const base = 20000 + Math.floor(Math.random() * 20000);
  const ports = [base, base + 1];
  const a = await UserspaceTunnel.start(parseConfig(conf(0, keys, ports)), { name: "sja" });
  const b = await UserspaceTunnel.start(parseConfig(conf(1, keys, ports)), { name: "sjb" });
  try {
    await fn(a, b);
    equal(SlotPump.of(a).joins.size, 0, "a: every join ended");
    equal(SlotPump.of(b).joins.size, 0, "b: every join ended");
  } finally {
    await a.close();
    await b.close();
  }
  equal(a.pool.stats().inUse, 0, "a: slots in use after close");
  equal(b.pool.stats().inUse, 0, "b: slots in use after close");
}

/** One connection accepted on b's port `port`, handed to `serve`. */
function serveOnce(b: UserspaceTunnel, port: number, serve: (c: TcpConn) => Promise<void>) {
  const l = b.listen({ port });
  return (async () => {
    const c = await l.accept();
    l.close();
    ok(c !== null);
    try {
      await serve(c);
    } finally {
      c.close();
    }
  })();
}

/** A `[TCPClientTunnel]` on a's side: 127.0.0.1:`port` → port 7 of b's tunnel address. */
const clientTunnel = (a: UserspaceTunnel, port: number) =>
  startClientTunnel(a, {
    bind: { hostname: "127.0.0.1", port },
    target: { hostname: "10.78.0.2", port: 7 },
    tuning: TCP_TUNING,
    line: 1,
  });

Deno.test("slot join: TCPClientTunnel carries 4 MiB up and 3 MiB down intact, with half closes", async () => {
  await withTunnels(async (a, b) => {
    const up = random(4 << 20), down = random(3 << 20);
    let got: Uint8Array<ArrayBuffer> = new Uint8Array();
    const served = serveOnce(b, 7, async (c) => {
      got = await readAll(c); // the local client's FIN arrives as the end
      await writeAll(c, down);
      await c.closeWrite();
    });
    const port = freePort();
    const fwd = clientTunnel(a, port);
    try {
      const local = await Deno.connect({ hostname: "127.0.0.1", port });
      await writeAll(local, up);
      await local.closeWrite();
      const back = await readAll(local);
      local.close();
      await served;
      equal(got.length, up.length);
      equal(await sha(got), await sha(up), "up: SHA-256");
      equal(back.length, down.length);
      equal(await sha(back), await sha(down), "down: SHA-256");
      for (let i = 0; i < 100 && fwd.stats.open > 0; i++) await sleep(20);
      equal(fwd.stats.open, 0, "the join ended with both directions");
      equal(fwd.stats.failed, 0);
    } finally {
      await fwd.close();
    }
  });
});

Deno.test("slot join: TCPServerTunnel carries both ways to a local target, by name too", async () => {
  await withTunnels(async (a, b) => {
    const up = random(2 << 20), down = random(1 << 20);
    const port = freePort();
    const local = Deno.listen({ hostname: "127.0.0.1", port });
    const target = (async () => {
      const c = await local.accept();
      const got = await readAll(c);
      await writeAll(c, down);
      c.close();
      return got;
    })();
    const fwd = startServerTunnel(b, {
      listenPort: 9000,
      target: { hostname: "localhost", port },
      tuning: TCP_TUNING,
      line: 1,
    });
    try {
      const c = await a.connect({ hostname: "10.78.0.2", port: 9000 });
      const back = (async () => await readAll(c))();
      await writeAll(c, up);
      await c.closeWrite();
      equal(await sha(await target), await sha(up), "up: SHA-256");
      equal(await sha(await back), await sha(down), "down: SHA-256");
      c.close();
      // A target nobody listens on: the tunnel side is closed, counted as failed.
      local.close();
      const c2 = await a.connect({ hostname: "10.78.0.2", port: 9000 });
      const r = await c2.read(new Uint8Array(10)).catch((e) => e);
      ok(r === null || r instanceof Deno.errors.ConnectionReset, `closed: ${r}`);
      c2.close();
      equal(fwd.stats.failed, 1);
    } finally {
      await fwd.close();
    }
  });
});

Deno.test("slot join: a local peer that stops reading holds the pool to a bound, then gets it all", async () => {
  await withTunnels(async (a, b) => {
    const down = random(24 << 20);
    const served = serveOnce(b, 7, async (c) => {
      await writeAll(c, down);
      await c.closeWrite();
    });
    const port = freePort();
    const fwd = clientTunnel(a, port);
    try {
      const local = await Deno.connect({ hostname: "127.0.0.1", port });
      // Not reading for 1.5 s: the kernel's buffers fill, then the join stops draining the
      // stack (EAGAIN), its window closes, and b's writes wait.
      await sleep(1500);
      const inUse = a.pool.stats().inUse, rss = Deno.memoryUsage().rss;
      // 256 KiB of receive buffer in 2 KiB slots (twice the bytes plus 32, ABI.md) and the
      // loop's batches: far below the 24 MiB waiting at b.
      ok(inUse < 1024, `a's pool in use while the reader waits: ${inUse} slots`);
      const bUse = b.pool.stats().inUse;
      ok(bUse < 1024, `b's pool in use while the reader waits: ${bUse} slots`);
      const back = await readAll(local);
      local.close();
      await served;
      equal(back.length, down.length);
      equal(await sha(back), await sha(down), "SHA-256 after the pause");
      ok(
        Deno.memoryUsage().rss - rss < 256 << 20,
        "the process did not buffer the transfer",
      );
    } finally {
      await fwd.close();
    }
  });
});

Deno.test("slot join: a tunnel peer that stops reading stops the local reads, then gets it all", async () => {
  await withTunnels(async (a, b) => {
    const up = random(16 << 20);
    let got: Uint8Array<ArrayBuffer> = new Uint8Array();
    const served = serveOnce(b, 7, async (c) => {
      await sleep(1500); // the stack's send buffer fills, then the local socket is not read
      const inUse = a.pool.stats().inUse;
      ok(inUse < 1024, `a's pool in use while the tunnel peer waits: ${inUse} slots`);
      got = await readAll(c);
    });
    const port = freePort();
    const fwd = clientTunnel(a, port);
    try {
      const local = await Deno.connect({ hostname: "127.0.0.1", port });
      await writeAll(local, up);
      await local.closeWrite();
      await served;
      equal(await local.read(new Uint8Array(1)), null, "then the end");
      local.close();
      equal(await sha(got), await sha(up), "SHA-256 after the pause");
    } finally {
      await fwd.close();
    }
  });
});

Deno.test("slot join: a RST from either side resets the other; an idle join is closed", async () => {
  await withTunnels(async (a, b) => {
    const port = freePort();
    const fwd = clientTunnel(a, port);
    try {
      // The tunnel side aborts: the local client sees ECONNRESET.
      const aborted = serveOnce(b, 7, async (c) => {
        await c.read(new Uint8Array(10));
        b.stack.tcpAbort(c.handle, b.now());
        b.kick();
      });
      const l1 = await Deno.connect({ hostname: "127.0.0.1", port });
      await l1.write(new Uint8Array(10));
      const e1 = await l1.read(new Uint8Array(10)).catch((e) => e);
      ok(e1 instanceof Deno.errors.ConnectionReset, `local sees the reset: ${e1}`);
      l1.close();
      await aborted;

      // The local client resets (SO_LINGER 0): the tunnel side is reset.
      let e2: unknown;
      const reset = serveOnce(b, 7, async (c) => {
        e2 = await c.read(new Uint8Array(10)).catch((e) => e);
      });
      const l2 = connectLocal(new Uint8Array([127, 0, 0, 1]), port);
      await sleep(300); // accepted and joined
      resetFd(l2);
      await reset;
      ok(e2 instanceof Deno.errors.ConnectionReset, `tunnel side sees the reset: ${e2}`);
      for (let i = 0; i < 100 && fwd.stats.open > 0; i++) await sleep(20);
      equal(fwd.stats.open, 0);
    } finally {
      await fwd.close();
    }

    // Idle: a join with nothing moving for its idle time is closed (both sides see the end).
    const pump = SlotPump.of(a);
    const held = serveOnce(b, 8, async (c) => {
      equal(await c.read(new Uint8Array(1)), null, "the tunnel side sees the end");
    });
    const l = listenLocalTcp("127.0.0.1", 0);
    const client = Deno.connect({ hostname: "127.0.0.1", port: l.port });
    let fd = -1;
    const stop = pump.listen(l.fd, (c) => fd = c);
    const c = await client;
    for (let i = 0; i < 100 && fd < 0; i++) await sleep(10);
    stop();
    closeFd(l.fd);
    const remote = await a.connect({ hostname: "10.78.0.2", port: 8 });
    const t0 = performance.now();
    const j = pump.join(fd, remote, 300);
    await j.done;
    ok(performance.now() - t0 >= 290, "not before the idle time");
    equal(await c.read(new Uint8Array(1)), null, "the local side sees the end");
    c.close();
    await held;
  });
});
