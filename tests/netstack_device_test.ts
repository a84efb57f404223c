/**
 * A device whose TUN is the module's TCP/IP stack (src/netstack/netstack_tun.ts), over memory
 * I/O: a WireGuard peer pings the stack through the tunnel and gets its reply; two such devices
 * move 300 KB over TCP through their tunnel, byte for byte, and close. Slots change hands between
 * the data path and the stack without a copy; every slot goes back to the pool.
 */
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { Device } from "../src/device/device.ts";
import { parseConfig } from "../src/wg/config.ts";
import { encodeBase64Key, generatePrivateKey, publicKey } from "../src/wg/keys.ts";
import { NetstackTun } from "../src/netstack/netstack_tun.ts";
import { CLOSED, CONNECTED } from "../src/netstack/netstack.ts";
import { E_AGAIN, HEADROOM } from "../src/wasm/abi.ts";
import { memoryIo, MemoryNetwork } from "./fixtures/memory_io.ts";
import { checksumsOk, echoRequest } from "./fixtures/ip_packets.ts";

const UNDER = ["192.0.2.1:51820", "192.0.2.2:51820"];
const INNER = ["10.0.0.1", "10.0.0.2"];

function conf(me: number, keys: Uint8Array[]): string {
  const peer = 1 - me;
  return [
    "[Interface]",
    `PrivateKey = ${encodeBase64Key(keys[me])}`,
    `ListenPort = 51820`,
    `Address = ${INNER[me]}/24`,
    "",
    "[Peer]",
    `PublicKey = ${encodeBase64Key(publicKey(keys[peer]))}`,
    `AllowedIPs = ${INNER[peer]}/32`,
    `Endpoint = ${UNDER[peer]}`,
    "",
  ].join("\n");
}

/** Device `me` over a memory TUN. */
async function memoryDevice(net: MemoryNetwork, me: number, keys: Uint8Array[], now: () => number) {
  const io = memoryIo(net, `tsn${me}`, UNDER[me]);
  const config = parseConfig(conf(me, keys));
  return { dev: await Device.create({ name: `tsn${me}`, config, io, now }), io };
}

/** Device `me` with the netstack as its TUN. */
async function stackDevice(net: MemoryNetwork, me: number, keys: Uint8Array[], now: () => number) {
  let tun: NetstackTun | undefined;
  const dev = await Device.create({
    name: `tsn${me}`,
    config: parseConfig(conf(me, keys)),
    now,
    io: (wasm, pool) => {
      tun = new NetstackTun(`tsn${me}`, wasm, pool, { mtu: 1420, addresses: [INNER[me]], now });
      return { tun, udp: net.bind(UNDER[me]) };
    },
  });
  return { dev, tun: tun! };
}

function settle(devs: Device[], rounds = 100): void {
  for (let r = 0; r < rounds; r++) {
    let moved = 0;
    for (const d of devs) moved += d.step();
    if (moved === 0) return;
  }
}

Deno.test("netstack device: a WireGuard peer pings the stack; the echo reply comes back through the tunnel", async () => {
  const net = new MemoryNetwork();
  const clock = { t: 1_000_000 };
  const now = () => clock.t;
  const keys = [generatePrivateKey(), generatePrivateKey()];
  const client = await memoryDevice(net, 0, keys, now);
  const proxy = await stackDevice(net, 1, keys, now);
  try {
    const req = echoRequest([10, 0, 0, 1], [10, 0, 0, 2], [1, 2, 3, 4, 5, 6, 7, 8]);
    client.io.tun.inject(req);
    settle([client.dev, proxy.dev]);
    const got = client.io.tun.take().map((w) => w.packet);
    equal(got.length, 1, "one packet back");
    const rep = got[0];
    ok(checksumsOk(rep), "checksums of the reply");
    deepStrictEqual([...rep.subarray(12, 16)], [10, 0, 0, 2]);
    deepStrictEqual([...rep.subarray(16, 20)], [10, 0, 0, 1]);
    equal(rep[20], 0, "an echo reply");
    deepStrictEqual([...rep.subarray(28)], [1, 2, 3, 4, 5, 6, 7, 8]);
    equal(proxy.tun.stack.stats().echoReplies, 1);
    equal(proxy.tun.refused, 0);
    equal(proxy.dev.pool.stats().inUse, 0, "the proxy holds no slot");
  } finally {
    client.dev.close();
    proxy.dev.close();
  }
  equal(client.dev.pool.stats().inUse, 0);
  equal(proxy.dev.pool.stats().inUse, 0);
});

Deno.test("netstack device: 300 KB over TCP between two stacks through their tunnel, then closed; no slot left", async () => {
  const net = new MemoryNetwork();
  const clock = { t: 1_000_000 };
  const now = () => clock.t;
  const keys = [generatePrivateKey(), generatePrivateKey()];
  const a = await stackDevice(net, 0, keys, now);
  const b = await stackDevice(net, 1, keys, now);
  const devs = [a.dev, b.dev];
  try {
    const sa = a.tun.stack, sb = b.tun.stack;
    const listener = sb.tcpListen("0.0.0.0", 7);
    const conn = sa.tcpConnect(INNER[1], 7, now());
    a.tun.kick();
    const data = new Uint8Array(300_000);
    for (let i = 0; i < data.length; i += 65536) {
      crypto.getRandomValues(data.subarray(i, i + 65536));
    }
    const received: Uint8Array[] = [];
    let sent = 0, accepted = 0, connected = false, eof = false, closedA = false;
    for (let round = 0; round < 20_000 && !(eof && closedA); round++) {
      clock.t += 1;
      settle(devs, 10);
      sa.events((h, r) => {
        if (h === conn && (r & CONNECTED)) connected = true;
        if (h === conn && (r & CLOSED)) closedA = true;
      });
      sb.events(() => {});
      if (accepted === 0) accepted = sb.tcpAccept(listener);
      // Send from a: 1,000 bytes a slot, until the buffer refuses.
      while (sent < data.length) {
        const off = a.dev.pool.allocSlot();
        if (off === 0) break;
        const len = Math.min(1000, data.length - sent);
        a.dev.pool.u8.set(data.subarray(sent, sent + len), off + HEADROOM + 40);
        const rc = sa.tcpSend(conn, off, HEADROOM + 40, len);
        if (rc !== len) {
          a.dev.pool.free(off);
          equal(rc, E_AGAIN);
          break;
        }
        sent += len;
        if (sent === data.length) sa.tcpShutdown(conn);
      }
      a.tun.kick();
      if (accepted > 0 && !eof) {
        const n = sb.tcpRecv(accepted, (piece) => received.push(piece.slice()));
        if (n === 0) eof = true;
        else if (n > 0) sb.tcpConsume(accepted, n);
        b.tun.kick();
      }
      if (eof && !closedA) {
        sb.tcpShutdown(accepted);
        b.tun.kick();
      }
    }
    ok(connected, "a's connection was established");
    ok(accepted > 0, "b accepted it");
    ok(eof, "b saw a's FIN");
    const got = new Uint8Array(received.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of received) (got.set(p, at), at += p.length);
    equal(got.length, data.length);
    ok(got.every((x, i) => x === data[i]), "the bytes arrived in order, unchanged");
    sa.tcpRelease(conn, now());
    sb.tcpRelease(accepted, now());
    sb.tcpUnlisten(listener, now());
    a.tun.kick();
    b.tun.kick();
    for (let i = 0; i < 100; i++) (clock.t += 10, settle(devs));
    equal(a.tun.refused + b.tun.refused, 0);
    equal(a.dev.pool.stats().inUse, 0, "a: the stack holds no slot once the connection is done");
    equal(b.dev.pool.stats().inUse, 0, "b: the stack holds no slot once the connection is done");
    const rx = b.dev.stats().received;
    ok(rx.accepted > 200, `the data crossed the tunnel: ${JSON.stringify(rx)}`);
  } finally {
    a.dev.close();
    b.dev.close();
  }
  equal(a.dev.pool.stats().inUse, 0, "a: slots in use after close");
  equal(b.dev.pool.stats().inUse, 0, "b: slots in use after close");
});
