/**
 * Packets longer than a small slot, between two devices over in-memory I/O
 * (tests/fixtures/memory_io.ts; no root): MTU 9,000 and 34,736 set in the config, TUN offloads and
 * UDP GSO/GRO on and off, the MTU changed from outside (and the interface moved where it cannot
 * be read), a peer whose MTU is larger than ours, and a pool cap that large slots count against.
 * Every test ends with both pools at 0 slots in use, and every drop has a name.
 */
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { Device, type DeviceStats } from "../src/device/device.ts";
import { parseConfig } from "../src/wg/config.ts";
import { encodeBase64Key, generatePrivateKey, publicKey } from "../src/wg/keys.ts";
import { DROP_REASONS } from "../src/wasm/abi.ts";
import { memoryIo, MemoryNetwork, type MemoryTun, type MemoryUdp } from "./fixtures/memory_io.ts";
import { fold, sum16 } from "./fixtures/inet_checksum.ts";

const A_INNER = [10, 0, 0, 1], B_INNER = [10, 0, 0, 2];
const A_UNDERLAY = "192.0.2.1:51820", B_UNDERLAY = "192.0.2.2:51820";

interface Side {
  dev: Device;
  tun: MemoryTun;
  udp: MemoryUdp;
}

interface Pair extends Disposable {
  net: MemoryNetwork;
  a: Side;
  b: Side;
  settle(): void;
  advance(ms: number): void;
}

interface PairOptions {
  mtuA?: number;
  mtuB?: number;
  /** TUN offloads (TSO reads, coalesced writes) and UDP GSO/GRO on both. */
  offload?: boolean;
  poolA?: { chunkSlots: number; maxSlots: number };
}

function config(
  priv: Uint8Array,
  peer: Uint8Array,
  inner: number[],
  peerInner: number[],
  listen: string,
  endpoint: string,
  mtu: number,
): string {
  return [
    "[Interface]",
    `PrivateKey = ${encodeBase64Key(priv)}`,
    `ListenPort = ${listen.split(":")[1]}`,
    `Address = ${inner.join(".")}/24`,
    `MTU = ${mtu}`,
    "[Peer]",
    `PublicKey = ${encodeBase64Key(peer)}`,
    `AllowedIPs = ${peerInner.join(".")}/32`,
    `Endpoint = ${endpoint}`,
  ].join("\n");
}

/** Every dropped packet is counted under a name of DROP_REASONS. */
function assertNamedDrops(s: DeviceStats, who: string): void {
  for (const k of Object.keys(s.dropped)) ok(DROP_REASONS.includes(k), `${who}: drop reason ${k}`);
}

async function pair(opts: PairOptions = {}): Promise<Pair> {
  const net = new MemoryNetwork();
  const clock = { t: 5_000_000 };
  const now = () => clock.t;
  const ka = generatePrivateKey(), kb = generatePrivateKey();
  const io = { offload: opts.offload, gso: opts.offload, gro: opts.offload };
  const ioA = memoryIo(net, "tsa0", A_UNDERLAY, io), ioB = memoryIo(net, "tsb0", B_UNDERLAY, io);
  const mtuA = opts.mtuA ?? 1420, mtuB = opts.mtuB ?? 1420;
  const cfgA = config(ka, publicKey(kb), A_INNER, B_INNER, A_UNDERLAY, B_UNDERLAY, mtuA);
  const cfgB = config(kb, publicKey(ka), B_INNER, A_INNER, B_UNDERLAY, A_UNDERLAY, mtuB);
  const a = await Device.create({
    name: "tsa0",
    config: parseConfig(cfgA),
    io: ioA,
    now,
    pool: opts.poolA,
  });
  const b = await Device.create({ name: "tsb0", config: parseConfig(cfgB), io: ioB, now });
  const settle = (): void => {
    for (let round = 0; round < 200; round++) if (a.step() + b.step() === 0) return;
    throw new Error("the devices never went quiet");
  };
  return {
    net,
    a: { dev: a, tun: ioA.tun, udp: ioA.udp },
    b: { dev: b, tun: ioB.tun, udp: ioB.udp },
    settle,
    advance(ms: number): void {
      for (let left = ms; left > 0; left -= 100) {
        clock.t += Math.min(100, left);
        settle();
      }
    },
    [Symbol.dispose](): void {
      settle();
      for (const [who, d] of [["A", a], ["B", b]] as const) {
        const s = d.stats();
        equal(s.pool.inUse, 0, `${who}: slots in use at the end`);
        equal(s.pool.large.inUse, 0, `${who}: large slots in use at the end`);
        assertNamedDrops(s, who);
        d.close();
        equal(d.pool.stats().inUse, 0, `${who}: slots in use after close`);
      }
    },
  };
}

/** An ICMP echo request (type 8) or reply (0) of `size` bytes in all, checksums set. */
function echo(src: number[], dst: number[], seq: number, size: number, type = 8): Uint8Array {
  const p = new Uint8Array(size);
  const dv = new DataView(p.buffer);
  p.set([0x45, 0, 0, 0, 0, seq & 0xff, 0x40, 0, 64, 1, 0, 0, ...src, ...dst]);
  dv.setUint16(2, size);
  dv.setUint16(10, ~fold(sum16(p.subarray(0, 20))) & 0xffff);
  p[20] = type;
  dv.setUint16(24, 0x7a11);
  dv.setUint16(26, seq);
  for (let i = 28; i < size; i++) p[i] = (i * 7 + seq + (i >> 8)) & 0xff;
  dv.setUint16(22, ~fold(sum16(p.subarray(20))) & 0xffff);
  return p;
}

/** A ping of `size` bytes from `from` to the other side and its reply, byte for byte. */
function ping(p: Pair, from: "a" | "b", seq: number, size: number): void {
  const to = from === "a" ? "b" : "a";
  const [src, dst] = from === "a" ? [A_INNER, B_INNER] : [B_INNER, A_INNER];
  const req = echo(src, dst, seq, size);
  p[from].tun.inject(req);
  p.settle();
  deepStrictEqual(p[to].tun.take().map((w) => w.packet), [req], `ping ${seq}: request`);
  const rep = echo(dst, src, seq, size, 0);
  p[to].tun.inject(rep);
  p.settle();
  deepStrictEqual(p[from].tun.take().map((w) => w.packet), [rep], `ping ${seq}: reply`);
}

/** The wire length of the last transport message `from`'s socket sent. */
function lastWireLen(p: Pair, from: Side): number {
  const own = from.udp.address.addr;
  const sent = p.net.log.filter((d) => d.from.addr.join() === own.join() && d.bytes[0] === 4);
  return sent[sent.length - 1].bytes.length;
}

for (const mtu of [9000, 34736]) {
  Deno.test(`MTU ${mtu}, no offloads: ${mtu}-byte pings cross both ways unchanged, in large slots`, async () => {
    using p = await pair({ mtuA: mtu, mtuB: mtu });
    ping(p, "a", 1, mtu); // the first one waits for the handshake in the staged queue
    ping(p, "b", 2, mtu);
    // Eight at once: a batch of reads, each moved into its large slot, in order.
    const reqs = [3, 4, 5, 6, 7, 8, 9, 10].map((s) => echo(A_INNER, B_INNER, s, mtu - s));
    for (const r of reqs) p.a.tun.inject(r);
    p.settle();
    deepStrictEqual(p.b.tun.take().map((w) => w.packet), reqs);
    ping(p, "a", 11, 100); // and small ones still go in small slots
    const a = p.a.dev.stats(), b = p.b.dev.stats();
    equal(a.data.tunBigRead, 10);
    equal(b.data.udpBigReceived, 10);
    equal(a.data.truncated + b.data.truncated, 0);
    deepStrictEqual([a.dropped, b.dropped], [{}, {}]);
    ok(a.pool.large.highWater >= 2, "large slots were used");
    equal(lastWireLen(p, p.a), 16 + 112 + 16, "a 100-byte packet is padded to 112");
  });
}

Deno.test("MTU 9000 with TSO, coalesced writes and UDP GSO/GRO: 9000-byte segments in large slots, one unit", async () => {
  using p = await pair({ mtuA: 9000, mtuB: 9000, offload: true });
  ping(p, "a", 1, 9000);
  // A TCP super-packet as the kernel hands it to the TUN with TSO: 5 segments of 8960 bytes.
  const mss = 8960, payload = new Uint8Array(5 * mss).map((_, i) => (i * 13 + (i >> 9)) & 0xff);
  const pkt = new Uint8Array(40 + payload.length);
  const dv = new DataView(pkt.buffer);
  pkt.set([0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0, ...A_INNER, ...B_INNER]);
  dv.setUint16(2, pkt.length);
  dv.setUint16(10, ~fold(sum16(pkt.subarray(0, 20))) & 0xffff);
  dv.setUint16(20, 40000);
  dv.setUint16(22, 5201);
  dv.setUint32(24, 1_000_000);
  dv.setUint32(28, 7);
  pkt[32] = 5 << 4;
  pkt[33] = 0x18; // ACK | PSH
  dv.setUint16(34, 65535);
  pkt.set(payload, 40);
  dv.setUint16(36, fold(sum16(pkt.subarray(12, 20)) + 6 + pkt.length - 20)); // partial (NEEDS_CSUM)
  const vnet = new Uint8Array(10);
  const vd = new DataView(vnet.buffer);
  vnet[0] = 1; // NEEDS_CSUM
  vnet[1] = 1; // GSO_TCPV4
  vd.setUint16(2, 40, true);
  vd.setUint16(4, mss, true);
  vd.setUint16(6, 20, true);
  vd.setUint16(8, 16, true);
  p.a.tun.inject(pkt, vnet);
  p.settle();
  const a = p.a.dev.stats().data, b = p.b.dev.stats().data;
  equal(a.tunSegments, 5, "cut into 5 segments");
  equal(a.udpGsoDatagrams, 5, "sent as one UDP_SEGMENT message");
  equal(b.udpGroDatagrams, 5, "received as one coalesced message");
  const out = p.b.tun.take();
  equal(out.length, 1, "written as one super-packet");
  equal(new DataView(out[0].vnet!.buffer).getUint16(4, true), mss, "gso_size of the unit");
  deepStrictEqual(out[0].packet.subarray(40), payload, "payload bytes equal");
  deepStrictEqual([p.a.dev.stats().dropped, p.b.dev.stats().dropped], [{}, {}]);
});

Deno.test("MTU set from outside: padding follows it within a second; moved away, big packets are still carried", async () => {
  using p = await pair();
  ping(p, "a", 1, 1419);
  equal(lastWireLen(p, p.b), 16 + 1420 + 16, "MTU 1420: 1419 bytes padded to 1420");
  // `ip link set mtu 9000` on both interfaces: read back on the next tick (about once a second).
  p.a.tun.currentMtu = p.b.tun.currentMtu = 9000;
  p.advance(1100);
  ping(p, "a", 2, 1419);
  equal(lastWireLen(p, p.b), 16 + 1424 + 16, "MTU 9000: padded to 1424 now");
  ping(p, "a", 3, 9000);
  ping(p, "b", 4, 9000);
  // The interfaces moved to another namespace (netns.sh): the MTU cannot be read; the last one
  // known stays, and whatever size arrives is carried.
  p.a.tun.currentMtu = p.b.tun.currentMtu = null;
  p.advance(1100);
  ping(p, "b", 5, 1419);
  equal(lastWireLen(p, p.a), 16 + 1424 + 16, "the last MTU known still pads");
  ping(p, "a", 6, 34736);
  // Back to 1420 from outside: padding follows, big packets are still carried.
  p.a.tun.currentMtu = p.b.tun.currentMtu = 1420;
  p.advance(11_000);
  ping(p, "a", 7, 1419);
  equal(lastWireLen(p, p.b), 16 + 1420 + 16);
  ping(p, "b", 8, 9000);
  deepStrictEqual([p.a.dev.stats().dropped, p.b.dev.stats().dropped], [{}, {}]);
});

Deno.test("a peer with a larger MTU: the last long datagram of a receive is carried, earlier ones counted as truncated, then all", async () => {
  using p = await pair({ mtuA: 1420, mtuB: 9000 });
  ping(p, "b", 1, 1000); // keys
  // Three 9000-byte datagrams reach A (MTU 1420 here, nothing big seen yet) in one receive:
  // they share one overflow area, so only the last one is whole.
  const reqs = [2, 3, 4].map((s) => echo(B_INNER, A_INNER, s, 9000));
  for (const r of reqs) p.b.tun.inject(r);
  p.settle();
  deepStrictEqual(p.a.tun.take().map((w) => w.packet), [reqs[2]]);
  let a = p.a.dev.stats();
  deepStrictEqual(a.dropped, { truncated: 2 }, "the two cut ones, by name");
  equal(a.data.truncated, 2);
  // From then on A receives into jumbo buffers: every one arrives.
  const more = [5, 6, 7, 8].map((s) => echo(B_INNER, A_INNER, s, 9000));
  for (const r of more) p.b.tun.inject(r);
  p.settle();
  deepStrictEqual(p.a.tun.take().map((w) => w.packet), more);
  ping(p, "a", 9, 9000); // A reads big ones from its TUN too (the kernel would not at 1420)
  a = p.a.dev.stats();
  deepStrictEqual(a.dropped, { truncated: 2 });
  equal(a.data.udpBigReceived, 3 + 4 + 1);
});

Deno.test("large slots count against the pool cap: refused ones are dropped as exhausted, nothing leaks, it recovers", async () => {
  // 640 small slots' worth (1.25 MiB) for both classes: small chunks of 128 KiB, large of 512.
  using p = await pair({ mtuA: 9000, mtuB: 9000, poolA: { chunkSlots: 64, maxSlots: 640 } });
  ping(p, "a", 1, 9000);
  const reqs = Array.from({ length: 40 }, (_, k) => echo(A_INNER, B_INNER, 10 + k, 9000));
  for (const r of reqs) p.a.tun.inject(r);
  p.settle();
  const got = p.b.tun.take().map((w) => w.packet);
  const a = p.a.dev.stats();
  ok(got.length >= 10 && got.length < 40, `${got.length} of 40 carried`);
  equal(a.dropped.exhausted, 40 - got.length, "every one not carried is counted as exhausted");
  ok(a.pool.large.capacity >= 8, `${a.pool.large.capacity} large slots`);
  ok(a.pool.bytes <= a.pool.maxBytes && a.pool.maxBytes === 640 * 2048, "within the cap");
  ok(a.pool.large.refusedAllocs > 0, "the cap refused large slots");
  // The ones carried are whole and in order.
  const index = (pkt: Uint8Array) => reqs.findIndex((r) => r[5] === pkt[5]);
  ok(got.every((g, k) => k === 0 || index(g) > index(got[k - 1])), "in order");
  for (const g of got) deepStrictEqual(g, reqs[index(g)]);
  equal(a.pool.inUse, 0, "nothing held");
  // Recovery: a few at a time go through whole.
  for (let k = 0; k < 5; k++) ping(p, "a", 60 + k, 9000);
  equal(p.a.dev.stats().dropped.exhausted, 40 - got.length, "no new drops");
});
