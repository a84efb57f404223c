/**
 * The handshake plane's bounds (src/device/handshake_backlog.ts), on a real `Device` over in-memory
 * I/O (tests/fixtures/memory_io.ts) driven by `step()`, one loop turn at a time, with peers played
 * by tests/fixtures/initiators.ts:
 *
 * - the Noise work per loop turn: at most HANDSHAKES_PER_TURN queued handshakes, and none more
 *   once HANDSHAKE_TURN_MS have passed;
 * - the cookie mechanism: a backlog of UNDER_LOAD_BACKLOG puts the device under load, initiations
 *   without mac2 then get a cookie reply instead of Noise work; answered with mac2, they complete;
 * - the cheap work per loop turn: at most HANDSHAKE_INTAKE_PER_TURN messages are looked at, the
 *   rest of the turn's are dropped as `overload`.
 *
 * @module
 */
import { equal, ok } from "node:assert/strict";
import { Device } from "../src/device/device.ts";
import {
  HANDSHAKE_INTAKE_PER_TURN,
  HANDSHAKE_TURN_MS,
  HANDSHAKES_PER_TURN,
  UNDER_LOAD_BACKLOG,
} from "../src/device/handshake_backlog.ts";
import { formatEndpoint } from "../src/endpoint.ts";
import { parseConfig } from "../src/wg/config.ts";
import { encodeBase64Key, generatePrivateKey, publicKey } from "../src/wg/keys.ts";
import { MESSAGE_COOKIE_REPLY, MESSAGE_RESPONSE, readU32LE } from "../src/wg/messages.ts";
import { Initiator } from "./fixtures/initiators.ts";
import { memoryIo, MemoryNetwork, type MemoryUdp } from "./fixtures/memory_io.ts";

const SERVER = "192.0.2.1:51820";

interface Server extends Disposable {
  dev: Device;
  net: MemoryNetwork;
  udp: MemoryUdp;
  peers: Initiator[];
  /** Source address of peer `i`: its own IP and port. */
  source(i: number): string;
  clock: { t: number; perRead: number };
}

/** A responder with `n` peers (no endpoints: they come from the handshakes). */
async function server(n: number): Promise<Server> {
  const key = generatePrivateKey(), pub = publicKey(key);
  const peers = Array.from({ length: n }, (_, i) => new Initiator(pub, i + 1));
  const text = [
    "[Interface]",
    `PrivateKey = ${encodeBase64Key(key)}`,
    `ListenPort = 51820`,
    "Address = 10.0.0.1/16",
    "",
    ...peers.flatMap((p, i) => [
      "[Peer]",
      `PublicKey = ${encodeBase64Key(p.local.publicKey)}`,
      `AllowedIPs = 10.0.${1 + (i >> 8)}.${i & 255}/32`,
      "",
    ]),
  ].join("\n");
  const net = new MemoryNetwork();
  const io = memoryIo(net, "tshs0", SERVER);
  // `perRead` > 0: every read of the clock moves it on (a slow machine, seen by the budget).
  const clock = { t: 1_000_000, perRead: 0 };
  const now = () => (clock.t += clock.perRead);
  const dev = await Device.create({ name: "tshs0", config: parseConfig(text), io, now });
  return {
    dev,
    net,
    udp: io.udp,
    peers,
    clock,
    source: (i) => `198.18.${1 + (i >> 8)}.${i & 255}:${20000 + i}`,
    [Symbol.dispose](): void {
      dev.close();
      equal(dev.pool.stats().inUse, 0, "slots in use after close");
    },
  };
}

/** The server's datagrams to peers since `from` in the network log, with the peer they are for. */
function answers(s: Server, from: number): { type: number; peer: number; bytes: Uint8Array }[] {
  const out = [];
  for (const d of s.net.log.slice(from)) {
    if (formatEndpoint(d.from) !== SERVER) continue;
    const type = d.bytes[0];
    const receiver = readU32LE(d.bytes, type === MESSAGE_RESPONSE ? 8 : 4);
    out.push({ type, peer: receiver - 0x1000_0001, bytes: d.bytes });
  }
  return out;
}

/** Steps until nothing moves; checks the Noise work of every turn; returns the turns. */
function settle(s: Server): number {
  for (let turn = 1; turn <= 10_000; turn++) {
    const before = s.dev.stats().handshake;
    const moved = s.dev.step();
    const after = s.dev.stats().handshake;
    const ran = after.initiationsReceived - before.initiationsReceived +
      after.responsesReceived - before.responsesReceived;
    ok(ran <= HANDSHAKES_PER_TURN, `turn ${turn}: ${ran} handshakes`);
    if (moved === 0) return turn;
  }
  throw new Error("the device never went quiet");
}

Deno.test("a storm of initiations: Noise work bounded per turn, cookies under load, all complete", async () => {
  const N = 240; // within one turn's intake (HANDSHAKE_INTAKE_PER_TURN)
  ok(N <= HANDSHAKE_INTAKE_PER_TURN);
  using s = await server(N);
  const t0 = s.clock.t;
  const udp = s.udp;
  for (let i = 0; i < N; i++) udp.inject(s.source(i), s.peers[i].initiation(t0));

  // One turn: every initiation is looked at, the first ones queued, then the backlog (or the
  // rate) puts the device under load and the rest get a cookie reply; 8 are answered.
  s.dev.step();
  let st = s.dev.stats();
  equal(st.handshake.responsesSent, HANDSHAKES_PER_TURN, "one turn's worth answered");
  const queued = st.handshakeBacklog + HANDSHAKES_PER_TURN;
  ok(queued <= UNDER_LOAD_BACKLOG, `${queued} queued`);
  equal(st.handshake.cookiesSent, N - queued, "the rest got cookie replies");
  ok(st.handshake.cookiesSent > 0);

  const turns = settle(s);
  ok(turns >= Math.ceil((queued - HANDSHAKES_PER_TURN) / HANDSHAKES_PER_TURN), `${turns} turns`);
  st = s.dev.stats();
  equal(st.handshakeBacklog, 0);
  equal(st.handshake.responsesSent, queued);

  // The peers answer their cookie replies with mac2 (still under load: mac2 is now required).
  let got = answers(s, 0);
  const cookies = got.filter((a) => a.type === MESSAGE_COOKIE_REPLY);
  equal(cookies.length, N - queued);
  for (const c of cookies) {
    ok(s.peers[c.peer].onCookieReply(c.bytes, s.clock.t), `cookie reply for ${c.peer} opens`);
    udp.inject(s.source(c.peer), s.peers[c.peer].initiation(s.clock.t));
  }
  settle(s);
  st = s.dev.stats();
  equal(st.handshake.responsesSent, N, "every initiation answered");
  equal(st.handshake.cookiesSent, N - queued, "no second cookie: mac2 was valid");

  // Each peer takes its response and confirms the keys with a keepalive: all complete.
  got = answers(s, 0).filter((a) => a.type === MESSAGE_RESPONSE);
  equal(got.length, N);
  for (const r of got) ok(s.peers[r.peer].onResponse(r.bytes), `response to ${r.peer}`);
  for (let i = 0; i < N; i++) udp.inject(s.source(i), s.peers[i].seal(new Uint8Array(0)));
  settle(s);
  st = s.dev.stats();
  equal(st.peers.filter((p) => p.handshakes === 1).length, N, "every handshake complete");
  equal(Object.keys(st.handshake.rejected).length, 0, JSON.stringify(st.handshake.rejected));
  equal(st.pool.inUse, 0);
});

Deno.test("a slow clock: no queued handshake starts once HANDSHAKE_TURN_MS have passed", async () => {
  using s = await server(4);
  const udp = s.udp;
  for (let i = 0; i < 4; i++) udp.inject(s.source(i), s.peers[i].initiation(s.clock.t));
  s.clock.perRead = HANDSHAKE_TURN_MS + 1; // each look at the clock: the budget is gone
  for (let turn = 1; turn <= 4; turn++) {
    s.dev.step();
    const st = s.dev.stats();
    equal(st.handshake.responsesSent, turn, `turn ${turn}: one more handshake`);
    equal(st.handshakeBacklog, 4 - turn);
  }
});

Deno.test("the cheap work per turn is bounded too: the turn's excess is dropped as overload", async () => {
  using s = await server(1);
  const udp = s.udp;
  const bad = s.peers[0].initiation(s.clock.t);
  bad[116] ^= 1; // mac1
  const n = HANDSHAKE_INTAKE_PER_TURN + 100;
  for (let i = 0; i < n; i++) udp.inject(s.source(i), bad);
  s.dev.step();
  let r = s.dev.stats().handshake.rejected;
  equal(r.bad_mac1, HANDSHAKE_INTAKE_PER_TURN, "one turn's intake looked at");
  equal(r.overload, 100, "the rest dropped unread");
  // The next turn takes its own share.
  for (let i = 0; i < 10; i++) udp.inject(s.source(i), bad);
  s.dev.step();
  r = s.dev.stats().handshake.rejected;
  equal(r.bad_mac1, HANDSHAKE_INTAKE_PER_TURN + 10);
  equal(r.overload, 100);
});
