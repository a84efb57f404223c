/**
 * The stack's ICMP and keepalive between tunnels in one process over loopback WireGuard, no root:
 * - a connect the peer's side answers with an ICMP destination unreachable (the peer here is a
 *   device whose TUN plays the kernel of a router: it answers SYNs to some addresses with ICMP
 *   errors, quoting them as a router does) fails at once with the error the code names, and
 *   SOCKS5 answers it with 0x04 / 0x03 / 0x02 / 0x05, the HTTP proxy with 502; an error quoting a
 *   sequence number we never sent is not believed (the connect times out);
 * - CheckAlive is ready against a live peer's stack (it answers the pings) and not against an
 *   address nobody answers;
 * - keepalive keeps an idle connection while the peer answers its probes and ends it TimedOut
 *   once the peer goes silent.
 */
import { TCP_TUNING } from "../src/proxy/tuning.ts";
import { equal, ok } from "node:assert/strict";
import { Device } from "../src/device/device.ts";
import { EFD_CLOEXEC, EFD_NONBLOCK, libc } from "../src/ffi/libc.ts";
import type { PoolMemory } from "../src/ffi/pool_memory.ts";
import { ConnectionNotAllowed, HostUnreachable } from "../src/netstack/tcp_conn.ts";
import { UserspaceTunnel } from "../src/netstack/userspace_tunnel.ts";
import { CheckAlive } from "../src/proxy/check_alive.ts";
import { startHttpProxy } from "../src/proxy/http_proxy.ts";
import { startSocks5 } from "../src/proxy/socks5.ts";
import { UdpSocket } from "../src/udp_socket.ts";
import { parseConfig } from "../src/wg/config.ts";
import { encodeBase64Key, generatePrivateKey, publicKey } from "../src/wg/keys.ts";
import { ip } from "./fixtures/ip_packets.ts";
import { MemoryTun } from "./fixtures/memory_io.ts";

function conf(me: number, keys: Uint8Array[], ports: number[], allowed: string): string {
  const peer = 1 - me;
  return `[Interface]
PrivateKey = ${encodeBase64Key(keys[me])}
ListenPort = ${ports[me]}
Address = 10.77.0.${me + 1}/24

[Peer]
PublicKey = ${encodeBase64Key(publicKey(keys[peer]))}
AllowedIPs = ${allowed}
Endpoint = 127.0.0.1:${ports[peer]}
`;
}

function setup(): { keys: Uint8Array[]; ports: number[] } {
  const base = 20000 + Math.floor(Math.random() * 20000);
  return { keys: [generatePrivateKey(), generatePrivateKey()], ports: [base, base + 1] };
}

/** ICMP code a router answers a SYN to 10.77.0.N with; the quoted sequence number is forged for .54. */
const CODES: Record<number, number> = { 50: 1, 51: 0, 52: 13, 53: 3, 54: 1 };

/**
 * The kernel of a router behind the peer: what the data path writes (decrypted packets) is looked
 * at, and a TCP SYN to an address of {@link CODES} is answered with an ICMP destination
 * unreachable from 10.77.0.2 quoting its IP header and 8 bytes, which the device then reads and
 * sends back through the tunnel. The fd is an eventfd, readable while answers wait.
 */
class RouterTun extends MemoryTun {
  override readonly fd = libc().eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  answered = 0;
  readonly #one = new Uint8Array(new BigUint64Array([1n]).buffer);
  readonly #buf = new Uint8Array(8);

  override writeBatch(pool: PoolMemory, offs: Uint32Array, lens: Uint32Array, n: number): number {
    const r = super.writeBatch(pool, offs, lens, n);
    for (const { packet: p } of this.take()) {
      const syn = p[0] === 0x45 && p[9] === 6 && (p[33] & 0x12) === 0x02;
      const code = CODES[p[19]];
      if (!syn || code === undefined) continue;
      const quoted = p.slice(0, 28);
      if (p[19] === 54) quoted[24] ^= 0x80; // a sequence number we never sent
      const l4 = new Uint8Array([3, code, 0, 0, 0, 0, 0, 0, ...quoted]);
      this.inject(ip([10, 77, 0, 2], [...p.subarray(12, 16)], 1, l4, 2));
      this.answered++;
      libc().write(this.fd, this.#one, 8n);
    }
    return r;
  }

  override readBatch(pool: PoolMemory, offs: Uint32Array, lens: Uint32Array, n: number, from = 0) {
    libc().read(this.fd, this.#buf, 8n);
    const r = super.readBatch(pool, offs, lens, n, from);
    if (this.queued > 0) libc().write(this.fd, this.#one, 8n);
    return r;
  }

  override close(): void {
    if (!this.closed) libc().close(this.fd);
    super.close();
  }
}

/** A SOCKS5 CONNECT to 10.77.0.N:80 through `port`: the reply code. */
async function socksReply(port: number, last: number): Promise<number> {
  using c = await Deno.connect({ hostname: "127.0.0.1", port });
  await c.write(new Uint8Array([5, 1, 0]));
  const buf = new Uint8Array(16);
  await readFull(c, buf.subarray(0, 2));
  await c.write(new Uint8Array([5, 1, 0, 1, 10, 77, 0, last, 0, 80]));
  await readFull(c, buf.subarray(0, 10));
  return buf[1];
}

async function readFull(c: Deno.Conn, b: Uint8Array): Promise<void> {
  for (let at = 0; at < b.length;) {
    const n = await c.read(b.subarray(at));
    if (n === null) throw new Error("closed early");
    at += n;
  }
}

Deno.test("ICMP unreachable from the peer's side ends a connect with its reason (and SOCKS/HTTP say so)", async () => {
  const { keys, ports } = setup();
  const a = await UserspaceTunnel.start(
    parseConfig(conf(0, keys, ports, "10.77.0.0/24")),
    { name: "icmpa" },
  );
  const tun = new RouterTun("icmpr");
  const router = await Device.create({
    name: "icmpr",
    config: parseConfig(conf(1, keys, ports, "10.77.0.1/32")),
    offload: false,
    io: () => ({ tun, udp: UdpSocket.bind({ port: ports[1], offload: false }) }),
  });
  const loop = router.run();
  const socks = startSocks5(a, {
    bind: { hostname: "127.0.0.1", port: ports[0] + 2 },
    tuning: TCP_TUNING,
    line: 1,
  });
  const http = startHttpProxy(a, {
    bind: { hostname: "127.0.0.1", port: ports[0] + 3 },
    tuning: TCP_TUNING,
    line: 2,
  });
  try {
    const fails = async (last: number, timeoutMs = 5000): Promise<unknown> => {
      const t0 = performance.now();
      try {
        await a.connect({ hostname: `10.77.0.${last}`, port: 80, timeoutMs });
      } catch (e) {
        return { e, ms: performance.now() - t0 };
      }
      throw new Error(`connect to .${last} succeeded`);
    };
    const cases: [number, (e: unknown) => boolean][] = [
      [50, (e) => e instanceof HostUnreachable && (e as Error).name === "HostUnreachable"],
      [51, (e) => e instanceof Deno.errors.NetworkUnreachable],
      [52, (e) => e instanceof ConnectionNotAllowed],
      [53, (e) => e instanceof Deno.errors.ConnectionRefused],
    ];
    for (const [last, is] of cases) {
      const { e, ms } = (await fails(last)) as { e: unknown; ms: number };
      ok(is(e), `.${last}: ${e}`);
      ok(ms < 3000, `.${last}: failed at once (${ms.toFixed(0)} ms), not by the timeout`);
    }
    // A forged quote (a sequence number never sent) changes nothing: the connect times out.
    const { e } = (await fails(54, 800)) as { e: unknown };
    ok(e instanceof Deno.errors.TimedOut, `.54: ${e}`);
    ok(a.stack.stats().icmpErrors >= 4);
    // The front ends: SOCKS5's codes, HTTP's 502.
    equal(await socksReply(ports[0] + 2, 50), 0x04);
    equal(await socksReply(ports[0] + 2, 51), 0x03);
    equal(await socksReply(ports[0] + 2, 52), 0x02);
    equal(await socksReply(ports[0] + 2, 53), 0x05);
    {
      using c = await Deno.connect({ hostname: "127.0.0.1", port: ports[0] + 3 });
      await c.write(new TextEncoder().encode("CONNECT 10.77.0.50:80 HTTP/1.1\r\nHost: x\r\n\r\n"));
      const b = new Uint8Array(12);
      await readFull(c, b);
      equal(new TextDecoder().decode(b), "HTTP/1.1 502");
    }
    ok(tun.answered >= 9);
  } finally {
    await socks.close();
    await http.close();
    await a.close();
    router.stop();
    await loop;
    router.close();
  }
  equal(a.pool.stats().inUse, 0, "slots in use after close");
});

Deno.test("CheckAlive: ready against a live peer's stack, not ready against an address nobody answers", async () => {
  const { keys, ports } = setup();
  const a = await UserspaceTunnel.start(
    parseConfig(conf(0, keys, ports, "10.77.0.0/24")),
    { name: "alivea" },
  );
  const b = await UserspaceTunnel.start(
    parseConfig(conf(1, keys, ports, "10.77.0.1/32")),
    { name: "aliveb" },
  );
  const changes: boolean[] = [];
  const live = new CheckAlive(a, {
    targets: ["10.77.0.2"],
    intervalS: 0.3,
    onChange: (r) => changes.push(r),
  });
  try {
    equal(live.ready(), false, "not ready before any answer");
    live.start();
    const t0 = performance.now();
    while (!live.ready() && performance.now() - t0 < 5000) await sleep(50);
    ok(live.ready(), "ready once the peer answers");
    const d = live.detail()["10.77.0.2"] as Record<string, number | string | null>;
    ok((d.received as number) >= 1 && (d.sent as number) >= 1, JSON.stringify(d));
    ok(typeof d.lastReply === "string" && typeof d.rttMs === "number", JSON.stringify(d));
    await sleep(1200);
    ok(live.ready(), "still ready");
    equal(changes[0], true, "the change was heard");
    live.stop();
    // Answers stop (the pings stopped): after the interval and 2 s, not ready any more.
    await sleep(2600);
    equal(live.ready(), false, "not ready when the answers are old");
    // A target nobody answers (in AllowedIPs, not the peer's address) keeps it from being ready.
    using both = new CheckAlive(a, { targets: ["10.77.0.2", "10.77.0.99"], intervalS: 0.3 });
    both.start();
    await sleep(1500);
    equal(both.ready(), false);
    const dd = both.detail();
    ok(((dd["10.77.0.2"] as { received: number }).received) >= 1, JSON.stringify(dd));
    equal((dd["10.77.0.99"] as { received: number }).received, 0);
    equal((dd["10.77.0.99"] as { lastReply: null }).lastReply, null);
    ok(b.stack.stats().echoReplies >= 2);
  } finally {
    live.stop();
    await a.close();
    await b.close();
  }
  equal(a.pool.stats().inUse, 0);
  equal(b.pool.stats().inUse, 0);
});

Deno.test("keepalive: probes keep an idle connection; a silent peer ends it with TimedOut", async () => {
  const { keys, ports } = setup();
  const a = await UserspaceTunnel.start(
    parseConfig(conf(0, keys, ports, "10.77.0.2/32")),
    { name: "kaa" },
  );
  const b = await UserspaceTunnel.start(
    parseConfig(conf(1, keys, ports, "10.77.0.1/32")),
    { name: "kab" },
  );
  try {
    const listener = b.listen({ port: 7 });
    const accepted = listener.accept();
    const conn = await a.connect({ hostname: "10.77.0.2", port: 7 });
    const served = (await accepted)!;
    conn.setKeepAlive(true, { idleMs: 200, intervalMs: 100, count: 3 });
    await sleep(1000);
    const probes = a.stack.stats().keepalives;
    ok(probes >= 2, `probes while idle: ${probes}`);
    // Still a connection: data both ways.
    await conn.write(new Uint8Array([1, 2, 3]));
    const got = new Uint8Array(3);
    await readFull(served, got);
    equal(got[2], 3);
    await sleep(300); // its ACK in (with data in flight the retransmission timer would decide)
    // The peer goes silent: b drops everything from a (its AllowedIPs emptied).
    b.device.updateAllowedIps(b.device.peers()[0], true, [], [], false);
    const t0 = performance.now();
    let err: unknown;
    await conn.read(new Uint8Array(10)).catch((e) => err = e);
    const ms = performance.now() - t0;
    ok(err instanceof Deno.errors.TimedOut, `read: ${err}`);
    ok(ms < 3000, `ended by the probes (${ms.toFixed(0)} ms), not by anything slower`);
    equal(a.stack.stats().keepaliveTimeouts, 1);
    conn.close();
    served.close();
    listener.close();
  } finally {
    await a.close();
    await b.close();
  }
  equal(a.pool.stats().inUse, 0);
  equal(b.pool.stats().inUse, 0);
});

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
