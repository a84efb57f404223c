/**
 * Tables that grow (issue 13, item 1), on real devices over in-memory I/O
 * (tests/fixtures/memory_io.ts; no root): the data plane's peer, keypair, index and AllowedIPs
 * tables grow by pages as peers and prefixes come, far past the old fixed 1,024 peers and 65,536
 * prefixes, and shrink back to empty (their pages kept for reuse) when they go.
 *
 * - 10,000 peers through one UAPI `set` (each with a /32, a /128 and an endpoint): `get` lists
 *   all of them with their prefixes; packets to addresses of peers spread over the whole id range
 *   are routed to exactly those peers (staged there, no key yet); removing every peer leaves the
 *   tables empty and no slot in use. The RSS the peers cost is printed.
 * - One peer with 130,560 allowed IPs (wireguard-go's netns.sh: `$a.$b.0.0/16` and `$a::$b/128`
 *   for a in 1..255, b in 0..255) and another 130,560 /32s and /128s added by `wg set`-style
 *   requests, across a real handshake: packets to addresses inside them go through the tunnel,
 *   packets from the other side with sources inside them are accepted, others are not.
 * - `MaxPeers` bounds the peers: one more is refused as wireguard-go refuses a peer it cannot make.
 * @module
 */
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { Device } from "../src/device/device.ts";
import { uapiFor } from "../src/device/device_uapi.ts";
import { formatGetResponse, parseGetResponse, parseSetRequest } from "../src/uapi/uapi_protocol.ts";
import { parseConfig, unconfigured } from "../src/wg/config.ts";
import { encodeBase64Key, generatePrivateKey, publicKey } from "../src/wg/keys.ts";
import { DEFAULT_MAX_PEERS, DEFAULT_MAX_PREFIXES } from "../src/wasm/abi.ts";
import { memoryIo, MemoryNetwork } from "./fixtures/memory_io.ts";
import { fold, sum16 } from "./fixtures/inet_checksum.ts";

const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
const MIB = 1 << 20;

/** A UDP datagram `src` → `dst` (4- or 16-byte addresses) with a few payload bytes, checksummed. */
function udpPacket(src: number[], dst: number[], tag: number): Uint8Array {
  const v6 = src.length === 16;
  const hl = v6 ? 40 : 20, body = 8 + 4;
  const p = new Uint8Array(hl + body);
  const dv = new DataView(p.buffer);
  if (v6) {
    p[0] = 0x60;
    dv.setUint16(4, body);
    p[6] = 17;
    p[7] = 64;
    p.set(src, 8);
    p.set(dst, 24);
  } else {
    p.set([0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0]);
    dv.setUint16(2, p.length);
    p.set(src, 12);
    p.set(dst, 16);
    dv.setUint16(10, ~fold(sum16(p.subarray(0, 20))) & 0xffff);
  }
  dv.setUint16(hl, 4000);
  dv.setUint16(hl + 2, 5000);
  dv.setUint16(hl + 4, body);
  dv.setUint32(hl + 8, tag);
  const pseudo = sum16(p.subarray(v6 ? 8 : 12, v6 ? 40 : 20)) + 17 + body;
  dv.setUint16(hl + 6, ~fold(sum16(p.subarray(hl), pseudo)) & 0xffff || 0xffff);
  return p;
}

/** Peer i's addresses: 10.(i >> 8).(i & 255).1 and fd00::i:1. */
function v4Of(i: number): number[] {
  return [10, i >> 8, i & 255, 1];
}
function v6Of(i: number): number[] {
  return [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, i >> 8, i & 255, 0, 1];
}

function rssMiB(): number {
  return Deno.memoryUsage().rss / MIB;
}

Deno.test("10,000 peers: one UAPI set, get lists them all, packets find each, removal empties the tables", async () => {
  const net = new MemoryNetwork();
  const io = memoryIo(net, "tst0", "192.0.2.1:51820");
  const dev = await Device.create({ name: "tst0", config: unconfigured(), io });
  const uapi = uapiFor(dev);
  try {
    const N = 10_000;
    const keys = Array.from({ length: N }, () => crypto.getRandomValues(new Uint8Array(32)));
    let body = "";
    for (let i = 0; i < N; i++) {
      body += `public_key=${hex(keys[i])}\nendpoint=198.51.${i >> 8}.${i & 255}:${40000 + i}\n`;
      body += `allowed_ip=${v4Of(i).join(".")}/32\nallowed_ip=fd00::${i.toString(16)}:1/128\n`;
    }
    const rss0 = rssMiB();
    const t0 = performance.now();
    equal(await uapi.uapiSet(parseSetRequest(body + "\n")), 0);
    const setMs = performance.now() - t0;
    const rss1 = rssMiB();

    // get: every peer, with its two prefixes and endpoint, in the order they came.
    const t1 = performance.now();
    const got = parseGetResponse(formatGetResponse(await uapi.uapiGet()));
    const getMs = performance.now() - t1;
    equal(got.peers.length, N);
    for (const i of [0, 1, 1023, 1024, 4095, 4096, 9998, 9999]) {
      const p = got.peers[i];
      deepStrictEqual(p.publicKey, keys[i]);
      equal(p.endpoint, `198.51.${i >> 8}.${i & 255}:${40000 + i}`);
      equal(p.allowedIps.length, 2);
    }
    equal(got.peers.reduce((n, p) => n + p.allowedIps.length, 0), 2 * N);

    const t = dev.stats(false).tables;
    equal(t.maxPeers, DEFAULT_MAX_PEERS);
    equal(t.maxPrefixes, DEFAULT_MAX_PREFIXES);
    equal(t.prefixes, 2 * N);
    ok(t.peerSlots >= N && t.peerSlots < N + 1170, `peer slots ${t.peerSlots}`);
    equal(t.publicPages, Math.ceil(N / 2048), "sockaddr pages");

    // Packets to peers all over the id range are routed to exactly those peers: with no private
    // key there is no handshake, so each waits in its peer's staged queue.
    const sample = [0, 1, 1024, 2047, 2048, 5000, 8191, 9999];
    for (const [k, i] of sample.entries()) {
      io.tun.inject(udpPacket([10, 0, 0, 9], v4Of(i), k));
      io.tun.inject(udpPacket(v6Of(40000), v6Of(i), k));
    }
    while (dev.step() > 0);
    const staged = dev.stats().peers.map((p) => p.staged);
    for (const i of sample) equal(staged[i], 2, `peer ${i}: its v4 and v6 packet`);
    equal(staged.reduce((a, b) => a + b, 0), 2 * sample.length, "nowhere else");
    ok(dev.pool.stats().inUse >= 2 * sample.length);

    // Removing every peer: empty tables (pages kept for reuse), no slot in use.
    const t2 = performance.now();
    equal(await uapi.uapiSet(parseSetRequest("replace_peers=true\n\n")), 0);
    const removeMs = performance.now() - t2;
    equal(dev.peers().length, 0);
    const e = dev.stats(false).tables;
    deepStrictEqual(
      [e.prefixes, e.nodes, e.keypairs],
      [0, 0, 0],
      "no prefix, trie node or keypair left",
    );
    ok(e.peerSlots >= N, "the pages stay");
    while (dev.step() > 0);
    equal(dev.pool.stats().inUse, 0, "no slot in use");
    equal(parseGetResponse(formatGetResponse(await uapi.uapiGet())).peers.length, 0);
    // And again: the same ids and pages serve a new set of peers.
    const again = body.split("public_key=").slice(1, 101).map((p) => "public_key=" + p).join("");
    equal(await uapi.uapiSet(parseSetRequest(again + "\n")), 0);
    equal(dev.peers().length, 100);
    deepStrictEqual([dev.stats(false).tables.peerSlots, dev.stats(false).tables.prefixes], [
      e.peerSlots,
      200,
    ]);
    console.log(
      `10,000 peers: set ${setMs.toFixed(0)} ms, get ${getMs.toFixed(0)} ms, removal ${
        removeMs.toFixed(0)
      } ms; RSS +${(rss1 - rss0).toFixed(1)} MiB (${
        ((rss1 - rss0) * 1024 / N).toFixed(1)
      } KiB/peer, ` +
        `JS and WASM; tables: ${t.privatePages} private + ${t.publicPages} public pages of 64 KiB)`,
    );
  } finally {
    dev.close();
  }
});

/** A config for one side of the two-device tunnel. */
function side(
  priv: Uint8Array,
  peerPub: Uint8Array,
  listen: string,
  peer: string,
  allowed: string,
) {
  return parseConfig([
    "[Interface]",
    `PrivateKey = ${encodeBase64Key(priv)}`,
    `ListenPort = ${listen.split(":")[1]}`,
    "[Peer]",
    `PublicKey = ${encodeBase64Key(peerPub)}`,
    `AllowedIPs = ${allowed}`,
    `Endpoint = ${peer}`,
    "",
  ].join("\n"));
}

Deno.test("one peer with 130,560 allowed IPs (netns.sh) and 130,560 more /32s and /128s: routed both ways", async () => {
  const net = new MemoryNetwork();
  const [ka, kb] = [generatePrivateKey(), generatePrivateKey()];
  const ioA = memoryIo(net, "tsa0", "192.0.2.1:51820");
  const ioB = memoryIo(net, "tsb0", "192.0.2.2:51820");
  const clock = 1000; // the handshakes and packets all happen at one instant
  const now = () => clock;
  // A: B's prefixes come by UAPI; B: A is 10.0.0.1 and every source inside A's big set.
  const a = await Device.create({
    name: "tsa0",
    config: side(ka, publicKey(kb), "192.0.2.1:51820", "192.0.2.2:51820", "10.0.0.2/32"),
    io: ioA,
    now,
  });
  const b = await Device.create({
    name: "tsb0",
    config: side(kb, publicKey(ka), "192.0.2.2:51820", "192.0.2.1:51820", "0.0.0.0/0, ::/0"),
    io: ioB,
    now,
  });
  const settle = () => {
    for (let r = 0; r < 100 && a.step() + b.step() > 0; r++);
  };
  try {
    const ua = uapiFor(a), pubB = hex(publicKey(kb));
    // netns.sh: one setconf of 130,560 prefixes on one peer.
    let body = `public_key=${pubB}\nreplace_allowed_ips=true\n`;
    for (let x = 1; x <= 255; x++) {
      for (let y = 0; y <= 255; y++) {
        body += `allowed_ip=${x}.${y}.0.0/16\nallowed_ip=${x.toString(16)}::${
          y.toString(16)
        }/128\n`;
      }
    }
    const t0 = performance.now();
    equal(await ua.uapiSet(parseSetRequest(body + "\n")), 0);
    const setMs = performance.now() - t0;
    equal(a.stats(false).tables.prefixes, 130_560);
    let got = parseGetResponse(formatGetResponse(await ua.uapiGet()));
    equal(got.peers[0].allowedIps.length, 130_560);
    // `wg set wg0 peer B allowed-ips ...` of /32s and /128s, added to them (16 requests).
    for (let part = 0; part < 16; part++) {
      let s = `public_key=${pubB}\n`;
      for (let k = part * 4080; k < (part + 1) * 4080; k++) {
        s += `allowed_ip=172.${16 + (k >> 16)}.${(k >> 8) & 255}.${k & 255}/32\n`;
        s += `allowed_ip=2001:db8::${k.toString(16)}/128\n`;
      }
      equal(await ua.uapiSet(parseSetRequest(s + "\n")), 0);
    }
    got = parseGetResponse(formatGetResponse(await ua.uapiGet()));
    equal(got.peers[0].allowedIps.length, 2 * 130_560);
    equal(a.stats(false).tables.prefixes, 2 * 130_560);

    // A → B to addresses inside the prefixes: a handshake, then each arrives unchanged.
    const inside = [
      [1, 0, 0, 1],
      [200, 17, 9, 3],
      [255, 255, 255, 254],
      [172, 16, 0, 0], // the first /32 (inside 172.16.0.0/16 too)
      [172, 16, 254, 255], // the last
      [0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00], // 1::0/128
      [0x00, 0xc8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x11], // c8::11/128
      [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfe, 0xff], // the last /128
    ];
    const sent: Uint8Array[] = [];
    for (const [k, dst] of inside.entries()) {
      const src = dst.length === 4 ? [10, 0, 0, 1] : v6Of(1);
      sent.push(udpPacket(src, dst, k));
      ioA.tun.inject(sent[k]);
      settle();
    }
    deepStrictEqual(ioB.tun.take().map((w) => w.packet), sent, "in order, unchanged");
    // Outside every prefix (the /16s cover all IPv4 but 0.0.0.0/8): no route, dropped, counted.
    ioA.tun.inject(udpPacket([10, 0, 0, 1], [0, 1, 2, 3], 99));
    ioA.tun.inject(udpPacket(v6Of(1), [0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0], 99)); // 1::100
    ioA.tun.inject(
      udpPacket(v6Of(1), [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0], 9),
    );
    settle();
    equal(ioB.tun.take().length, 0);
    equal(a.stats().dropped.no_route, 3);

    // B → A with sources inside the prefixes: accepted (A's source check walks the same trie).
    const back = inside.map((src, k) =>
      udpPacket(src, src.length === 4 ? [10, 0, 0, 1] : v6Of(1), 100 + k)
    );
    for (const p of back) ioB.tun.inject(p);
    settle();
    deepStrictEqual(ioA.tun.take().map((w) => w.packet), back);
    // A source outside them is refused as not allowed.
    ioB.tun.inject(udpPacket([0, 9, 9, 9], [10, 0, 0, 1], 7));
    settle();
    equal(ioA.tun.take().length, 0);
    equal(a.stats().dropped.not_allowed, 1);

    // Dropping them all (replace_allowed_ips) leaves an empty trie, the pages kept.
    const t1 = performance.now();
    equal(await ua.uapiSet(parseSetRequest(`public_key=${pubB}\nreplace_allowed_ips=true\n\n`)), 0);
    const dropMs = performance.now() - t1;
    const e = a.stats(false).tables;
    deepStrictEqual([e.prefixes, e.nodes], [0, 0]);
    ok(e.nodeSlots >= 2 * 130_560, `${e.nodeSlots} node slots`);
    settle();
    equal(a.pool.stats().inUse, 0);
    equal(b.pool.stats().inUse, 0);
    console.log(
      `130,560 prefixes on one peer: setconf ${setMs.toFixed(0)} ms; 261,120 removed in ${
        dropMs.toFixed(0)
      } ms; ${e.privatePages} private pages (${(e.privatePages / 16).toFixed(1)} MiB)`,
    );
  } finally {
    a.close();
    b.close();
  }
});

Deno.test("MaxPeers bounds the peers: the one past it is refused, the others stay", async () => {
  const net = new MemoryNetwork();
  const io = memoryIo(net, "tsm0", "192.0.2.1:51820");
  const text = `[Interface]\nPrivateKey = ${encodeBase64Key(generatePrivateKey())}\nMaxPeers = 3\n`;
  equal(parseConfig(text).interface.maxPeers, 3);
  const config = unconfigured();
  config.interface.maxPeers = 3;
  const dev = await Device.create({ name: "tsm0", config, io });
  try {
    const uapi = uapiFor(dev);
    const peer = (i: number) => `public_key=${hex(new Uint8Array(32).fill(i + 1))}\n`;
    equal(await uapi.uapiSet(parseSetRequest(peer(0) + peer(1) + peer(2) + "\n")), 0);
    equal(await uapi.uapiSet(parseSetRequest(peer(3) + "\n")), -55);
    equal(dev.peers().length, 3);
    equal(dev.stats(false).tables.maxPeers, 3);
    equal(dev.stats(false).tables.maxKeypairs, 12, "four keypair slots per peer");
    // A freed id is used again.
    equal(await uapi.uapiSet(parseSetRequest(peer(1) + "remove=true\n" + peer(3) + "\n")), 0);
    deepStrictEqual(dev.peers().map((p) => p.id), [0, 1, 2]);
  } finally {
    dev.close();
  }
});
