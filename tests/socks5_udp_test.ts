/**
 * SOCKS5 UDP ASSOCIATE (src/proxy/socks5_udp.ts) between two userspace tunnels over loopback UDP,
 * no root: a `[Socks5]` on tunnel a; on b's stack a UDP echo (IPv4 and IPv6) and a DNS server.
 * Datagrams by IPv4, IPv6 and name come back with their source's header, the name asked once;
 * the relay is on the address the client came in on (127.0.0.1, ::1); FRAG ≠ 0, a bad header and
 * foreign sources are dropped and counted; the request's DST.ADDR/PORT fixes the source; login,
 * BIND 0x07, the per-client limit; the control connection's end, the idle timeout and the front
 * end's close each end the association with every stack socket and slot back.
 */
import { TCP_TUNING } from "../src/proxy/tuning.ts";
import { deepStrictEqual, equal, ok, rejects } from "node:assert/strict";
import dgram from "node:dgram";
import { UserspaceTunnel } from "../src/netstack/userspace_tunnel.ts";
import { join } from "../src/proxy/forwards.ts";
import { startSocks5 } from "../src/proxy/socks5.ts";
import {
  HDR_ATYP,
  HDR_FRAG,
  HDR_SHORT,
  socks5UdpStats,
  udpAssociate,
  udpHeaderLen,
} from "../src/proxy/socks5_udp.ts";
import { HEADROOM } from "../src/wasm/abi.ts";
import { parseConfig } from "../src/wg/config.ts";
import { encodeBase64Key, generatePrivateKey, publicKey } from "../src/wg/keys.ts";
import {
  greet,
  request,
  Socks5UdpClient,
  SocksError,
  take,
  udpHeader,
} from "./fixtures/socks5_udp_client.ts";

function conf(me: number, keys: Uint8Array[], ports: number[]): string {
  const peer = 1 - me;
  return `[Interface]
PrivateKey = ${encodeBase64Key(keys[me])}
ListenPort = ${ports[me]}
Address = 10.78.0.${me + 1}/24, fd78::${me + 1}/64
${me === 0 ? "DNS = 10.78.0.2" : ""}

[Peer]
PublicKey = ${encodeBase64Key(publicKey(keys[peer]))}
AllowedIPs = 10.78.0.${peer + 1}/32, fd78::${peer + 1}/128
Endpoint = 127.0.0.1:${ports[peer]}
`;
}

/** Sends `bytes` from UDP socket `h` of `t`'s stack to `to` (a fresh slot). */
function reply(t: UserspaceTunnel, h: number, bytes: Uint8Array, to: Deno.NetAddr): void {
  const slot = t.pool.allocSlot();
  ok(slot !== 0);
  t.pool.u8.set(bytes, slot + HEADROOM + 64);
  equal(t.stack.udpSend(h, slot, HEADROOM + 64, bytes.length, to.hostname, to.port), 0);
  t.kick();
}

/**
 * On `t`'s stack: UDP echo on port 7 (IPv4 and IPv6); DNS on 53, `name` → `ip` (TTL 60), any
 * other name NXDOMAIN.
 */
function serveEchoAndDns(t: UserspaceTunnel, name: string, ip: number[]): { queries: number } {
  const seen = { queries: 0 };
  for (const any of ["0.0.0.0", "::"]) {
    const h = t.stack.udpBind(any, 7);
    t.onUdp(h, () => void t.stack.udpRecv(h, (p, from) => reply(t, h, p.slice(), from)));
  }
  const h = t.stack.udpBind("0.0.0.0", 53);
  t.onUdp(h, () => {
    t.stack.udpRecv(h, (q, from) => {
      seen.queries++;
      const known = new TextDecoder().decode(q.subarray(13, 13 + q[12])) === name.split(".")[0];
      const r = new Uint8Array(q.length + (known ? 16 : 0));
      r.set(q);
      r[2] = 0x81;
      r[3] = known ? 0x80 : 0x83; // NOERROR, or NXDOMAIN for any other name
      r[7] = known ? 1 : 0;
      if (known) r.set([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, ...ip], q.length);
      reply(t, h, r, from);
    });
  });
  return seen;
}

async function waitFor(what: string, fn: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const payload = (n: number) => crypto.getRandomValues(new Uint8Array(n));

/** A UDP socket bound to `host`. */
async function udpOn(host: string): Promise<dgram.Socket> {
  const s = dgram.createSocket(host.includes(":") ? "udp6" : "udp4");
  await new Promise<void>((r) => s.bind(0, host, () => r()));
  return s;
}

const closeSock = (s: dgram.Socket) => new Promise<void>((r) => s.close(() => r()));

Deno.test("socks5 UDP header: lengths by ATYP, FRAG, short and unknown ones", () => {
  const h = (...b: number[]) => udpHeaderLen(new Uint8Array(b));
  equal(h(0, 0, 0, 1, 10, 0, 0, 1, 0, 53), 10);
  equal(h(0, 0, 0, 1, 10, 0, 0, 1, 0, 53, 0xaa), 10, "a payload after it");
  equal(h(0, 0, 0, 1, 10, 0, 0, 1, 0), HDR_SHORT);
  equal(h(0, 0, 0, 4, ...new Array(16).fill(0), 0, 53), 22);
  equal(h(0, 0, 0, 4, ...new Array(16).fill(0), 0), HDR_SHORT);
  equal(h(0, 0, 0, 3, 1, 97, 0, 53), 8);
  equal(h(0, 0, 0, 3, 2, 97, 0, 53), HDR_SHORT, "the name runs past the end");
  equal(h(0, 0, 0, 3, 0, 0, 53), HDR_ATYP, "an empty name");
  equal(h(0, 0, 0, 3), HDR_SHORT);
  equal(h(0, 0, 1, 1, 10, 0, 0, 1, 0, 53), HDR_FRAG);
  equal(h(0, 0, 0, 2, 10, 0, 0, 1, 0, 53), HDR_ATYP);
  equal(h(0, 0, 0), HDR_SHORT);
});

Deno.test("socks5 UDP ASSOCIATE between two loopback tunnels, no root", async (t) => {
  const keys = [generatePrivateKey(), generatePrivateKey()];
  const base = 20000 + Math.floor(Math.random() * 20000);
  const a = await UserspaceTunnel.start(parseConfig(conf(0, keys, [base, base + 1])), {
    name: "s5ua",
  });
  const b = await UserspaceTunnel.start(parseConfig(conf(1, keys, [base, base + 1])), {
    name: "s5ub",
  });
  const dns = serveEchoAndDns(b, "echo.test", [10, 78, 0, 2]);
  const sockets0 = a.stack.stats().udpSockets;
  const socks = startSocks5(a, {
    bind: { hostname: "127.0.0.1", port: base + 2 },
    tuning: TCP_TUNING,
    line: 1,
  });
  const socks6 = startSocks5(a, {
    bind: { hostname: "::1", port: base + 3 },
    tuning: TCP_TUNING,
    line: 2,
  });
  const login = startSocks5(a, {
    bind: { hostname: "127.0.0.1", port: base + 4 },
    username: "u",
    password: "p",
    tuning: { ...TCP_TUNING, maxPerClient: 1, maxConnections: 8 },
    line: 3,
  });
  const proxy = { hostname: "127.0.0.1", port: base + 2 };
  const echo4 = { hostname: "10.78.0.2", port: 7 }, echo6 = { hostname: "fd78::2", port: 7 };
  const s = socks5UdpStats;
  try {
    await t.step("by IPv4, IPv6 and name: each back intact with its source's header", async () => {
      const c = await Socks5UdpClient.associate({ proxy });
      equal(c.bound.hostname, "127.0.0.1", "the relay is where the client came in");
      ok(c.relay.port !== proxy.port && c.relay.port !== 0);
      for (
        const [to, n] of [[echo4, 1], [echo6, 700], [
          { ...echo4, hostname: "echo.test" },
          1300,
        ]] as const
      ) {
        for (let i = 0; i < 3; i++) {
          const p = payload(n + i);
          c.send(to, p);
          const got = await c.next(3000);
          ok(got !== null, `no answer from ${to.hostname}`);
          const v6 = to.hostname.includes(":");
          deepStrictEqual(got.from, v6 ? echo6 : echo4);
          equal(got.atyp, v6 ? 4 : 1);
          equal(got.frag, 0);
          deepStrictEqual(got.payload, p);
        }
      }
      equal(dns.queries, 1, "the name asked once through the tunnel, then remembered");
      const unresolved = s.unresolved;
      c.send({ hostname: "nothing.test", port: 7 }, payload(8));
      await waitFor("an unknown name's drop", () => s.unresolved === unresolved + 1);
      c.send({ hostname: "nothing.test", port: 7 }, payload(8));
      await waitFor("the second drop", () => s.unresolved === unresolved + 2);
      equal(dns.queries, 2, "NXDOMAIN remembered too");
      equal(await c.next(200), null, "nothing back for an unknown name");
      equal(a.stack.stats().udpSockets, sockets0 + 2, "one stack socket per family");
      await c.close();
      await waitFor("the association's end", () => s.open === 0);
      equal(a.stack.stats().udpSockets, sockets0, "its stack sockets closed");
      const again = dgram.createSocket("udp4"); // the relay's port is free again
      await new Promise<void>((r) => again.bind(c.relay.port, "127.0.0.1", () => r()));
      await closeSock(again);
    });

    await t.step("FRAG ≠ 0, a bad header and foreign sources: dropped and counted", async () => {
      const c = await Socks5UdpClient.associate({ proxy });
      const p = payload(40);
      const before = { ...s };
      c.send(echo4, p, 1);
      c.sendRaw(new Uint8Array([0, 0, 0, 9, 1, 2, 3, 4, 0, 7])); // ATYP 9
      c.sendRaw(new Uint8Array([0, 0, 0, 1, 10, 78])); // short
      await waitFor(
        "the drops",
        () => s.fragmented > before.fragmented && s.malformed === before.malformed + 2,
      );
      equal(await c.next(300), null, "no answer to a fragment");
      c.send(echo4, p);
      deepStrictEqual((await c.next(3000))?.payload, p, "the client is fixed now");
      for (const host of ["127.0.0.2", "127.0.0.1"]) { // another IP; the same IP, another port
        const other = await udpOn(host);
        const got: Uint8Array[] = [];
        other.on("message", (m: Uint8Array) => void got.push(m));
        const h = udpHeader(echo4), m = new Uint8Array([...h, ...p]);
        other.send(m, c.relay.port, c.relay.hostname);
        await new Promise((r) => setTimeout(r, 300));
        equal(got.length, 0, `${host}: nothing back`);
        await closeSock(other);
      }
      equal(s.foreign, before.foreign + 2);
      equal(s.toTunnel, before.toTunnel + 1);
      equal(await c.next(100), null, "nor to the client");
      await c.close();
      await waitFor("the end", () => s.open === 0);
    });

    await t.step("the request's DST.ADDR/DST.PORT is the only source taken", async () => {
      const c = await Socks5UdpClient.associate({ proxy, announce: true });
      const other = await udpOn("127.0.0.1");
      const before = s.foreign;
      other.send(new Uint8Array([...udpHeader(echo4), 1, 2, 3]), c.relay.port, c.relay.hostname);
      await waitFor("the drop", () => s.foreign === before + 1);
      await closeSock(other);
      const p = payload(10);
      c.send(echo4, p);
      deepStrictEqual((await c.next(3000))?.payload, p);
      await c.close();
      await waitFor("the end", () => s.open === 0);
    });

    await t.step("IPv6 control connection: the relay on ::1", async () => {
      const c = await Socks5UdpClient.associate({ proxy: { hostname: "::1", port: base + 3 } });
      equal(c.bound.hostname, "::1");
      const p = payload(99);
      c.send(echo4, p);
      deepStrictEqual((await c.next(3000))?.payload, p);
      await c.close();
      await waitFor("the end", () => s.open === 0);
    });

    await t.step("login, the per-client limit, BIND 0x07", async () => {
      const lp = { hostname: "127.0.0.1", port: base + 4 };
      await rejects(
        Socks5UdpClient.associate({ proxy: lp, username: "u", password: "x" }),
        (e) => e instanceof SocksError && e.code === 1,
        "a wrong password",
      );
      const c = await Socks5UdpClient.associate({ proxy: lp, username: "u", password: "p" });
      // Over the client's limit of 1 the proxy answers at once, without waiting for the request.
      const second = await Deno.connect(lp);
      await second.write(new Uint8Array([5, 1, 2]));
      deepStrictEqual([...await take(second, 12)].slice(0, 4), [5, 0, 5, 2], "0x02: not allowed");
      second.close();
      const p = payload(5);
      c.send(echo4, p);
      deepStrictEqual((await c.next(3000))?.payload, p);
      await c.close();
      await waitFor("the limit's place back", () => login.stats.open === 0);
      const d = await Socks5UdpClient.associate({ proxy: lp, username: "u", password: "p" });
      await d.close();
      const bind = await Deno.connect(proxy);
      await greet(bind);
      equal((await request(bind, 2, echo4)).code, 7, "BIND: command not supported");
      bind.close();
      await waitFor("the end", () => s.open === 0);
    });

    await t.step(
      "idle: the association and its control connection end; not while datagrams move",
      async () => {
        const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
        const [client, control] = await Promise.all([
          Deno.connect({ hostname: "127.0.0.1", port: l.addr.port }),
          l.accept(),
        ]);
        l.close();
        const assoc = await udpAssociate(a, control, { hostname: "0.0.0.0", port: 0 }, 500);
        // The join's own idle time (1 s) is shorter than 2.5 s of datagrams: the association's
        // reads of 0 bytes keep it open.
        let over = false;
        const joined = join(control, assoc, 1000).catch((e) => e).finally(() => over = true);
        const ans = new Uint8Array(10);
        equal(await client.read(ans), 10);
        equal(ans[1], 0);
        const sock = await udpOn("127.0.0.1");
        const dgram1 = new Uint8Array([...udpHeader(echo4), 1]);
        for (let i = 0; i < 25; i++) {
          sock.send(dgram1, (ans[8] << 8) | ans[9], "127.0.0.1");
          await new Promise((r) => setTimeout(r, 100));
        }
        ok(!over, "open while datagrams move");
        equal(a.stack.stats().udpSockets, sockets0 + 1);
        const t0 = Date.now();
        ok((await joined) instanceof Deno.errors.TimedOut, "ended for idleness");
        ok(Date.now() - t0 < 2000);
        equal(await client.read(new Uint8Array(1)), null, "the control connection is closed");
        equal(a.stack.stats().udpSockets, sockets0);
        equal(s.open, 0);
        client.close();
        await closeSock(sock);
      },
    );

    await t.step("the front end's close ends an open association", async () => {
      const c = await Socks5UdpClient.associate({ proxy });
      c.send(echo6, payload(3));
      ok(await c.next(3000) !== null);
      await socks.close();
      equal(s.open, 0);
      equal(a.stack.stats().udpSockets, sockets0);
      equal(await c.control.read(new Uint8Array(1)), null);
      await c.close();
    });
  } finally {
    await Promise.allSettled([socks.close(), socks6.close(), login.close()]);
    await a.close();
    await b.close();
  }
  equal(a.pool.stats().inUse, 0, "a: slots in use after close");
  equal(b.pool.stats().inUse, 0, "b: slots in use after close");
});
