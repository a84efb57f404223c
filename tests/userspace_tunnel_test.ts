/**
 * Two userspace tunnels in one process over loopback UDP, no root and no TUN device: the real
 * device loop (poll, the stack's eventfd and timer), WireGuard between them, TCP through their
 * stacks as `Deno.Conn`s: the name resolved through the tunnel (a DNS server on the other stack),
 * 1 MiB one way and 100 KiB back, byte for byte, then both closed with no slot left in either pool.
 */
import { equal, ok } from "node:assert/strict";
import { UserspaceTunnel } from "../src/netstack/userspace_tunnel.ts";
import { HEADROOM } from "../src/wasm/abi.ts";
import { parseConfig } from "../src/wg/config.ts";
import { encodeBase64Key, generatePrivateKey, publicKey } from "../src/wg/keys.ts";

function conf(me: number, keys: Uint8Array[], ports: number[]): string {
  const peer = 1 - me;
  return `[Interface]
PrivateKey = ${encodeBase64Key(keys[me])}
ListenPort = ${ports[me]}
Address = 10.77.0.${me + 1}/24
${me === 0 ? "DNS = 10.77.0.2" : ""}

[Peer]
PublicKey = ${encodeBase64Key(publicKey(keys[peer]))}
AllowedIPs = 10.77.0.${peer + 1}/32
Endpoint = 127.0.0.1:${ports[peer]}
`;
}

function random(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(b.subarray(i, i + 65536));
  return b;
}

async function readAll(conn: Deno.Conn): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const p of conn.readable) parts.push(p);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) (out.set(p, at), at += p.length);
  return out;
}

const same = (a: Uint8Array, b: Uint8Array) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

Deno.test("userspace tunnel: TCP both ways between two stacks over loopback WireGuard, no root", async () => {
  const keys = [generatePrivateKey(), generatePrivateKey()];
  const base = 40000 + Math.floor(Math.random() * 20000);
  const ports = [base, base + 1];
  const a = await UserspaceTunnel.start(parseConfig(conf(0, keys, ports)), { name: "usta" });
  const b = await UserspaceTunnel.start(parseConfig(conf(1, keys, ports)), { name: "ustb" });
  try {
    const up = random(1 << 20), down = random(100 * 1024);
    const listener = b.listen({ port: 7 });
    const served = (async () => {
      const c = await listener.accept();
      ok(c !== null);
      equal(c.remoteAddr.hostname, "10.77.0.1");
      const got = await readAll(c);
      await c.write(down);
      c.close();
      return got;
    })();
    serveDns(b, "b.test", [10, 77, 0, 2]);
    const conn = await a.connect({ hostname: "b.test", port: 7 }); // resolved through the tunnel
    equal(conn.localAddr.hostname, "10.77.0.1");
    equal(conn.remoteAddr.port, 7);
    const back = (async () => await readAll(conn))();
    await conn.write(up);
    await conn.closeWrite();
    ok(same(await served, up), "1 MiB a→b intact");
    ok(same(await back, down), "100 KiB b→a intact");
    // The stack's segments leave in UDP_SEGMENT batches (sends only: every datagram received
    // stays in its own slot for the stack).
    ok(a.device.path.counters.udpGsoSends > 0, "a sent with UDP GSO");
    equal(a.device.path.counters.udpGroReceived, 0, "a received without UDP GRO");
    conn.close();
    listener.close();
    await assertRefused(a);
    // Nothing answers an address outside AllowedIPs (the data path drops it): a timeout.
    let late: unknown;
    await a.connect({ hostname: "10.77.0.99", port: 7, timeoutMs: 300 }).catch((e) => late = e);
    ok(late instanceof Deno.errors.TimedOut, `timed out: ${late}`);
  } finally {
    await a.close();
    await b.close();
  }
  equal(a.pool.stats().inUse, 0, "a: slots in use after close");
  equal(b.pool.stats().inUse, 0, "b: slots in use after close");
});

/** A DNS server on b's stack (UDP port 53 of its tunnel address): `name` → `ip`, TTL 60. */
function serveDns(t: UserspaceTunnel, name: string, ip: number[]): void {
  const h = t.stack.udpBind("0.0.0.0", 53);
  t.onUdp(h, () => {
    t.stack.udpRecv(h, (q, from) => {
      const r = new Uint8Array(q.length + 16);
      r.set(q);
      r[2] = 0x81;
      r[3] = 0x80;
      r[7] = 1;
      r.set([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, ...ip], q.length);
      ok(new TextDecoder().decode(q.subarray(13, 13 + q[12])) === name.split(".")[0]);
      const slot = t.pool.allocSlot();
      t.pool.u8.set(r, slot + HEADROOM + 64);
      equal(t.stack.udpSend(h, slot, HEADROOM + 64, r.length, from.hostname, from.port), 0);
      t.kick();
    });
  });
}

/** A port nobody listens on: the peer's stack answers RST, connect throws ConnectionRefused. */
async function assertRefused(t: UserspaceTunnel): Promise<void> {
  let err: unknown;
  try {
    await t.connect({ hostname: "10.77.0.2", port: 9 });
  } catch (e) {
    err = e;
  }
  ok(err instanceof Deno.errors.ConnectionRefused, `refused: ${err}`);
}
