/**
 * Two devices talk over in-memory I/O (tests/fixtures/memory_io.ts): no root, no network, no
 * kernel TUN device. Each `Device` is the real one (its own pool, i.e. its own module instance,
 * its handshake plane, peer table and data path), created with `DeviceOptions.io` and driven by
 * `Device.step()` under an injected clock; only the TUN's kernel side and the wire are
 * simulated, byte-exact at the places readv/writev and recvmmsg/sendmmsg would touch.
 *
 * Every test ends with both pools back at 0 slots in use. tests/unprivileged_test.ts runs this
 * file as uid 65534.
 */
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { HANDSHAKE_BURST } from "../src/device/handshake_plane.ts";
import { Device, type DeviceStats } from "../src/device/device.ts";
import { parseConfig } from "../src/wg/config.ts";
import { encodeBase64Key, generatePrivateKey, publicKey } from "../src/wg/keys.ts";
import { type Packet, PoolExhaustedError } from "../src/wasm/slab.ts";
import { memoryIo, MemoryNetwork, type MemoryTun, type MemoryUdp } from "./fixtures/memory_io.ts";
import { fold, sum16 } from "./fixtures/inet_checksum.ts";

console.log(`data_path_test: running as uid ${Deno.uid()}`);

const A_UNDERLAY = "192.0.2.1:51820", B_UNDERLAY = "192.0.2.2:51820";
const A_INNER = [10, 0, 0, 1], B_INNER = [10, 0, 0, 2];
const MTU = 1420;

interface Side {
  dev: Device;
  tun: MemoryTun;
  udp: MemoryUdp;
  routes: Set<string>;
}

interface Pair extends Disposable {
  net: MemoryNetwork;
  a: Side;
  b: Side;
  /** Steps both devices until nothing moves; returns the packets moved. */
  settle(): number;
  /** Moves the clock on by `ms` in 100 ms steps, settling after each. */
  advance(ms: number): void;
}

interface PairOptions {
  /** TUN offloads (vnet header, TSO reads, coalesced writes) on A / B. */
  offloadA?: boolean;
  offloadB?: boolean;
  refuseGsoWritesB?: boolean;
  /** UDP_SEGMENT / UDP_GRO on both sockets. */
  udpOffload?: boolean;
  poolA?: { chunkSlots: number; maxSlots: number };
  keepaliveA?: number;
}

function config(
  priv: Uint8Array,
  peerPub: Uint8Array,
  inner: number[],
  peerInner: number[],
  listen: string,
  peerEndpoint: string,
  allowed: string[],
  keepalive = 0,
): string {
  return [
    "[Interface]",
    `PrivateKey = ${encodeBase64Key(priv)}`,
    `ListenPort = ${listen.split(":")[1]}`,
    `Address = ${inner.join(".")}/24`,
    `MTU = ${MTU}`,
    "",
    "[Peer]",
    `PublicKey = ${encodeBase64Key(peerPub)}`,
    `AllowedIPs = ${[`${peerInner.join(".")}/32`, ...allowed].join(", ")}`,
    `Endpoint = ${peerEndpoint}`,
    ...(keepalive > 0 ? [`PersistentKeepalive = ${keepalive}`] : []),
    "",
  ].join("\n");
}

async function pair(opts: PairOptions = {}): Promise<Pair> {
  const net = new MemoryNetwork();
  const clock = { t: 1_000_000 };
  const now = () => clock.t;
  const ka = generatePrivateKey(), kb = generatePrivateKey();
  const udpOpts = { gso: opts.udpOffload, gro: opts.udpOffload };
  const ioA = memoryIo(net, "tsa0", A_UNDERLAY, {
    offload: opts.offloadA,
    ...udpOpts,
  });
  const ioB = memoryIo(net, "tsb0", B_UNDERLAY, {
    offload: opts.offloadB,
    refuseGsoWrites: opts.refuseGsoWritesB,
    ...udpOpts,
  });
  const cfgA = config(ka, publicKey(kb), A_INNER, B_INNER, A_UNDERLAY, B_UNDERLAY, [
    "10.9.0.0/16",
  ], opts.keepaliveA);
  const cfgB = config(kb, publicKey(ka), B_INNER, A_INNER, B_UNDERLAY, A_UNDERLAY, []);
  const a = await Device.create({
    name: "tsa0",
    config: parseConfig(cfgA),
    io: ioA,
    now,
    pool: opts.poolA,
  });
  const b = await Device.create({ name: "tsb0", config: parseConfig(cfgB), io: ioB, now });
  const settle = (): number => {
    let total = 0;
    for (let round = 0; round < 100; round++) {
      const moved = a.step() + b.step();
      total += moved;
      if (moved === 0) return total;
    }
    throw new Error("the devices never went quiet");
  };
  return {
    net,
    a: { dev: a, tun: ioA.tun, udp: ioA.udp, routes: ioA.routes.prefixes },
    b: { dev: b, tun: ioB.tun, udp: ioB.udp, routes: ioB.routes.prefixes },
    settle,
    advance(ms: number): void {
      for (let left = ms; left > 0; left -= 100) {
        clock.t += Math.min(100, left);
        settle();
      }
    },
    [Symbol.dispose](): void {
      // Every test ends with no slot in use, before and after close.
      settle();
      equal(a.pool.stats().inUse, 0, "A: slots in use at the end");
      equal(b.pool.stats().inUse, 0, "B: slots in use at the end");
      a.close();
      b.close();
      equal(a.pool.stats().inUse, 0, "A: slots in use after close");
      equal(b.pool.stats().inUse, 0, "B: slots in use after close");
    },
  };
}

// --- Packets ---------------------------------------------------------------------------------

/** Writes the IPv4 header checksum of `p` (20-byte header). */
function ipChecksum(p: Uint8Array): void {
  p[10] = p[11] = 0;
  const c = ~fold(sum16(p.subarray(0, 20))) & 0xffff;
  p[10] = c >> 8;
  p[11] = c & 0xff;
}

/** An ICMP echo request (type 8) or reply (type 0) `src` → `dst` with `payload` bytes. */
function icmpEcho(src: number[], dst: number[], seq: number, payload = 56, type = 8): Uint8Array {
  const p = new Uint8Array(28 + payload);
  const dv = new DataView(p.buffer);
  p.set([0x45, 0, 0, 0, 0, seq & 0xff, 0x40, 0, 64, 1, 0, 0, ...src, ...dst]);
  dv.setUint16(2, p.length);
  p[20] = type;
  dv.setUint16(24, 0x7a11); // identifier
  dv.setUint16(26, seq);
  for (let i = 28; i < p.length; i++) p[i] = (i * 7 + seq) & 0xff;
  ipChecksum(p);
  dv.setUint16(22, ~fold(sum16(p.subarray(20))) & 0xffff);
  return p;
}

/** The reply a host would send to the echo request `req`. */
function echoReply(req: Uint8Array): Uint8Array {
  const seq = (req[26] << 8) | req[27];
  const r = icmpEcho([...req.subarray(16, 20)], [...req.subarray(12, 16)], seq, req.length - 28, 0);
  r.set(req.subarray(28), 28); // the same payload
  const dv = new DataView(r.buffer);
  dv.setUint16(22, 0);
  dv.setUint16(22, ~fold(sum16(r.subarray(20))) & 0xffff);
  return r;
}

/** True when the IPv4 header checksum and the TCP/UDP/ICMP checksum of `p` verify. */
function checksumsOk(p: Uint8Array): boolean {
  const hl = (p[0] & 15) * 4, l4 = p.subarray(hl, (p[2] << 8) | p[3]);
  const pseudo = p[9] === 1 ? 0 : sum16(p.subarray(12, 20)) + p[9] + l4.length;
  return fold(sum16(p.subarray(0, hl))) === 0xffff && fold(sum16(l4, pseudo)) === 0xffff;
}

/** virtio_net_hdr fields (little-endian). */
function vnetHdr(
  flags: number,
  gsoType: number,
  hdrLen: number,
  gsoSize: number,
  csumStart: number,
  csumOffset: number,
): Uint8Array {
  const h = new Uint8Array(10);
  const dv = new DataView(h.buffer);
  h[0] = flags;
  h[1] = gsoType;
  dv.setUint16(2, hdrLen, true);
  dv.setUint16(4, gsoSize, true);
  dv.setUint16(6, csumStart, true);
  dv.setUint16(8, csumOffset, true);
  return h;
}

const NEEDS_CSUM = 1, GSO_TCPV4 = 1;

/**
 * A TCP segment A → B (10.0.0.1:40000 → 10.0.0.2:5201) as the kernel hands it to a TUN device
 * with IFF_VNET_HDR: the TCP checksum field holds only the pseudo-header sum (NEEDS_CSUM); with
 * `mss` it is a TSO super-packet (`gso_type` TCPV4, `gso_size` = mss) the device must cut.
 */
function tcpFromKernel(
  seq: number,
  payload: Uint8Array,
  mss = 0,
): { vnet: Uint8Array; packet: Uint8Array } {
  const p = new Uint8Array(40 + payload.length);
  const dv = new DataView(p.buffer);
  p.set([0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0, ...A_INNER, ...B_INNER]);
  dv.setUint16(2, p.length);
  ipChecksum(p);
  dv.setUint16(20, 40000);
  dv.setUint16(22, 5201);
  dv.setUint32(24, seq >>> 0);
  dv.setUint32(28, 0x01020304);
  p[32] = 5 << 4;
  p[33] = 0x18; // ACK | PSH
  dv.setUint16(34, 65535);
  p.set(payload, 40);
  dv.setUint16(36, fold(sum16(p.subarray(12, 20)) + 6 + (p.length - 20)));
  const vnet = mss > 0
    ? vnetHdr(NEEDS_CSUM, GSO_TCPV4, 40, mss, 20, 16)
    : vnetHdr(NEEDS_CSUM, 0, 0, 0, 20, 16);
  return { vnet, packet: p };
}

function bytes(n: number, seed: number): Uint8Array {
  return new Uint8Array(n).map((_, i) => (i * 31 + seed * 7 + (i >> 8)) & 0xff);
}

/** A ping A → B and its reply, both checked byte for byte; establishes the keys if needed. */
function pingAB(p: Pair, seq: number): void {
  const req = icmpEcho(A_INNER, B_INNER, seq);
  p.a.tun.inject(req);
  p.settle();
  const atB = p.b.tun.take();
  equal(atB.length, 1, `ping ${seq}: one packet out of B's TUN`);
  deepStrictEqual(atB[0].packet, req, `ping ${seq}: the request arrives unchanged`);
  p.b.tun.inject(echoReply(req));
  p.settle();
  const atA = p.a.tun.take();
  equal(atA.length, 1, `ping ${seq}: one reply out of A's TUN`);
  deepStrictEqual(atA[0].packet, echoReply(req), `ping ${seq}: the reply arrives unchanged`);
}

function peerStats(dev: Device): DeviceStats["peers"][number] {
  return dev.stats().peers[0];
}

// --- Tests -----------------------------------------------------------------------------------

Deno.test("a handshake, then pings both ways: ICMP echo bytes arrive unchanged", async () => {
  using p = await pair();
  pingAB(p, 1);
  const sa = p.a.dev.stats(), sb = p.b.dev.stats();
  equal(sa.handshake.initiationsSent, 1);
  equal(sb.handshake.initiationsReceived, 1);
  equal(sb.handshake.responsesSent, 1);
  equal(sa.handshake.responsesReceived, 1);
  equal(sa.peers[0].handshakes, 1);
  equal(sb.peers[0].handshakes, 1);
  deepStrictEqual(sa.handshake.rejected, {});
  deepStrictEqual(sa.dropped, {});
  deepStrictEqual(sb.dropped, {});

  // And B → A on the same keys.
  const req = icmpEcho(B_INNER, A_INNER, 2, 1000);
  p.b.tun.inject(req);
  p.settle();
  deepStrictEqual(p.a.tun.take().map((w) => w.packet), [req]);
  p.a.tun.inject(echoReply(req));
  p.settle();
  deepStrictEqual(p.b.tun.take().map((w) => w.packet), [echoReply(req)]);
  equal(p.a.dev.stats().handshake.initiationsSent, 1, "no second handshake");
  equal(p.b.dev.stats().handshake.initiationsSent, 0);

  // Wire accounting: 4 data messages each way at most, the initiator's confirmation counted.
  const a = peerStats(p.a.dev), b = peerStats(p.b.dev);
  equal(a.txPackets, b.rxPackets, "A sent what B received");
  equal(b.txPackets, a.rxPackets, "B sent what A received");
  ok(a.rxBytes > 0 && a.txBytes > 0);
  // Kernel routes follow AllowedIPs not covered by the interface address (10.0.0.0/24).
  deepStrictEqual([...p.a.routes], ["10.9.0.0/16"]);
  deepStrictEqual([...p.b.routes], []);
});

Deno.test("packets wait in the staged queue while there is no key and go out once there is", async () => {
  using p = await pair();
  const reqs = [1, 2, 3].map((s) => icmpEcho(A_INNER, B_INNER, s, 100 * s));
  for (const r of reqs) p.a.tun.inject(r);
  p.a.dev.step(); // A alone: reads the packets, has no key, stages them and initiates
  equal(peerStats(p.a.dev).staged, 3, "three packets staged");
  equal(p.a.dev.stats().handshake.initiationsSent, 1);
  equal(p.b.udp.inbox.length, 1, "only the initiation is on the wire");
  equal(p.b.udp.inbox[0].bytes[0], 1, "message type 1");
  equal(p.b.tun.written.length, 0);
  ok(p.a.dev.pool.stats().inUse >= 3, "the staged packets hold their slots");
  p.settle();
  equal(peerStats(p.a.dev).staged, 0, "the queue is empty once the keys are there");
  deepStrictEqual(p.b.tun.take().map((w) => w.packet), reqs, "in order, unchanged");
});

Deno.test("keepalives: a passive one answers data after 10 s, persistent ones every N s", async () => {
  using p = await pair();
  const req = icmpEcho(A_INNER, B_INNER, 1);
  p.a.tun.inject(req);
  p.settle();
  equal(p.b.tun.take().length, 1);
  const rx0 = peerStats(p.a.dev).rxPackets, bTx0 = peerStats(p.b.dev).txPackets;
  // B received data and sent nothing back: its passive keepalive goes out after 10 s.
  p.advance(9_000);
  equal(peerStats(p.b.dev).txPackets, bTx0, "nothing before KEEPALIVE_TIMEOUT");
  p.advance(2_000);
  equal(peerStats(p.b.dev).txPackets, bTx0 + 1, "one keepalive from B");
  equal(peerStats(p.a.dev).rxPackets, rx0 + 1, "A received it");
  equal(p.a.tun.written.length, 0, "a keepalive writes nothing to the TUN");
  equal(p.a.dev.stats().handshake.initiationsSent, 1, "the keepalive kept A from rekeying");

  // Persistent keepalive on A: one at once when it is turned on, then every 25 s.
  const peer = p.a.dev.peers()[0];
  const bRx0 = peerStats(p.b.dev).rxPackets;
  p.a.dev.setPersistentKeepalive(peer, 25);
  p.settle();
  equal(peerStats(p.b.dev).rxPackets, bRx0 + 1, "one at once");
  p.advance(25_000 * 3 + 500);
  equal(peerStats(p.b.dev).rxPackets, bRx0 + 4, "then one every 25 s");
  equal(p.b.tun.written.length, 0);
  deepStrictEqual(p.b.dev.stats().dropped, {});
});

Deno.test("TUN super-packets: ts_tun_ingest cuts them, ts_tun_plan coalesces them into one unit, payload bytes equal", async () => {
  using p = await pair({ offloadA: true, offloadB: true });
  pingAB(p, 1); // keys first; plain packets cross a vnet-header device too
  const payload = bytes(8 * 1000, 1);
  const sp = tcpFromKernel(1_000_000, payload, 1000);
  p.a.tun.inject(sp.packet, sp.vnet);
  p.settle();
  const da = p.a.dev.stats().data, db = p.b.dev.stats().data;
  equal(da.tunSuperRead, 1, "one super-packet read");
  equal(da.tunSegments, 8, "cut into 8 segments");
  equal(db.tunSuperWritten, 1, "written as one super-packet");
  equal(db.tunCoalesced, 8, "of 8 packets");
  const out = p.b.tun.take();
  equal(out.length, 1, "one write on B's TUN");
  const { vnet, packet } = out[0];
  deepStrictEqual(
    vnet,
    vnetHdr(NEEDS_CSUM, GSO_TCPV4, 40, 1000, 20, 16),
    "the unit's virtio header",
  );
  equal((packet[2] << 8) | packet[3], 40 + payload.length, "IP total length of the unit");
  deepStrictEqual(packet.subarray(40), payload, "payload bytes equal");
  equal(new DataView(packet.buffer, packet.byteOffset).getUint32(24), 1_000_000, "first seq");
  equal(packet[33], 0x18, "ACK|PSH of the last segment");

  // A plain segment whose checksum the kernel left partial: completed on the way in.
  const small = tcpFromKernel(1_008_000, bytes(300, 2));
  p.a.tun.inject(small.packet, small.vnet);
  p.settle();
  equal(p.a.dev.stats().data.tunChecksums, 1, "one partial checksum completed");
  const w = p.b.tun.take();
  equal(w.length, 1);
  deepStrictEqual(w[0].vnet, new Uint8Array(10), "a single packet: zeroed virtio header");
  ok(checksumsOk(w[0].packet), "its TCP checksum verifies");
  deepStrictEqual(w[0].packet.subarray(40), bytes(300, 2));
  deepStrictEqual(p.b.dev.stats().dropped, {});
});

Deno.test("a refused coalesced TUN write falls back to one write per packet, nothing lost", async () => {
  using p = await pair({ offloadA: true, offloadB: true, refuseGsoWritesB: true });
  pingAB(p, 1);
  const payload = bytes(4 * 1200, 3);
  const sp = tcpFromKernel(5000, payload, 1200);
  p.a.tun.inject(sp.packet, sp.vnet);
  p.settle();
  const db = p.b.dev.stats().data;
  equal(db.offloadFallbacks, 1, "the refusal is counted once");
  equal(db.tunSuperWritten, 0);
  const out = p.b.tun.take();
  equal(out.length, 4, "four plain packets");
  out.forEach((w, k) => {
    ok(checksumsOk(w.packet), `segment ${k}: checksums verify`);
    deepStrictEqual(w.packet.subarray(40), payload.subarray(1200 * k, 1200 * (k + 1)));
  });
});

Deno.test("UDP GSO sends and GRO receives carry the segments as one message each way", async () => {
  using p = await pair({ offloadA: true, offloadB: true, udpOffload: true });
  pingAB(p, 1);
  const payload = bytes(16 * 1300, 4);
  const sp = tcpFromKernel(77, payload, 1300);
  p.a.tun.inject(sp.packet, sp.vnet);
  p.settle();
  const da = p.a.dev.stats().data, db = p.b.dev.stats().data;
  equal(da.udpGsoSends, 1, "one UDP_SEGMENT message");
  equal(da.udpGsoDatagrams, 16);
  equal(db.udpGroReceived, 1, "one coalesced receive");
  equal(db.udpGroDatagrams, 16);
  const out = p.b.tun.take();
  equal(out.length, 1);
  deepStrictEqual(out[0].packet.subarray(40), payload);
});

Deno.test("malformed, replayed, tampered and foreign datagrams are dropped and counted under their names", async () => {
  using p = await pair();
  pingAB(p, 1);
  const fromB = p.net.log.filter((d) =>
    d.to.port === 51820 && d.bytes[0] === 4 && d.to.addr[3] === 1
  );
  const transport = fromB[fromB.length - 1].bytes; // B's last data message to A (already received)
  const initiation = p.net.log.find((d) => d.bytes[0] === 1)!.bytes; // A's initiation to B

  const before = p.a.dev.stats();
  const inject = (bytes: Uint8Array, from = B_UNDERLAY) => p.a.udp.inject(from, bytes);
  inject(new Uint8Array([4, 0, 0])); // shorter than a type word
  inject(new Uint8Array(40).fill(9)); // type 9
  inject(new Uint8Array(100).fill(0).map((_, i) => (i === 0 ? 1 : 0))); // type 1, 100 bytes
  const foreign = new Uint8Array(64);
  foreign.set([4, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef]);
  inject(foreign, "203.0.113.9:4242"); // a receiver index nobody has
  inject(transport); // replayed
  const tampered = transport.slice();
  tampered[8] ^= 0x40; // an unseen counter: passes the replay check, fails the tag
  inject(tampered);
  inject(new Uint8Array(3000).fill(4)); // longer than a slot: carried whole, then refused
  p.settle();
  const after = p.a.dev.stats();
  deepStrictEqual(after.dropped, {
    truncated: 1,
    bad_type: 2,
    bad_msg_len: 1,
    unknown_index: 1,
    replay: 1,
    auth: 1,
  });
  equal(after.data.truncated, before.data.truncated, "nothing was cut");
  equal(after.data.udpBigReceived, 1, "the long datagram went on past its slot");
  equal(p.a.tun.written.length, 0, "nothing reached the TUN");
  equal(peerStats(p.a.dev).endpoint, B_UNDERLAY, "no datagram moved the endpoint");

  // Handshake messages: a replayed initiation and one with a bad mac1.
  p.b.udp.inject(A_UNDERLAY, initiation);
  const forged = initiation.slice();
  forged[120] ^= 1; // inside mac1
  p.b.udp.inject(A_UNDERLAY, forged);
  p.settle();
  deepStrictEqual(p.b.dev.stats().handshake.rejected, { initiation_replayed: 1, bad_mac1: 1 });
  equal(p.b.dev.stats().handshake.responsesSent, 1, "no response to either");
  pingAB(p, 2); // the tunnel is unharmed
});

Deno.test("roaming: the endpoint follows an authenticated datagram from a new source, not a forged one", async () => {
  using p = await pair();
  pingAB(p, 1);
  const fromB = p.net.log.filter((d) => d.bytes[0] === 4 && d.to.addr[3] === 1);
  const old = fromB[fromB.length - 1].bytes;
  // Forged and replayed datagrams from elsewhere: dropped, the endpoint stays.
  const junk = old.slice();
  junk[20] ^= 0xff;
  p.a.udp.inject("203.0.113.9:1", junk);
  p.a.udp.inject("203.0.113.9:1", old);
  p.settle();
  equal(peerStats(p.a.dev).endpoint, B_UNDERLAY);
  // B moves; its next datagram comes from the new address and A follows it.
  p.b.udp.moveTo("198.51.100.7:40001");
  const req = icmpEcho(B_INNER, A_INNER, 9);
  p.b.tun.inject(req);
  p.settle();
  deepStrictEqual(p.a.tun.take().map((w) => w.packet), [req]);
  equal(peerStats(p.a.dev).endpoint, "198.51.100.7:40001", "A's endpoint for B moved");
  p.a.tun.inject(echoReply(req));
  p.settle();
  deepStrictEqual(
    p.b.tun.take().map((w) => w.packet),
    [echoReply(req)],
    "the reply reaches B there",
  );
  equal(p.net.lost, 0, "nothing went to the old address");
});

Deno.test("pool exhaustion: refusals and dropped segments are counted, nothing leaks, the tunnel recovers", async () => {
  using p = await pair({ offloadA: true, offloadB: true, poolA: { chunkSlots: 16, maxSlots: 32 } });
  pingAB(p, 1);
  const pool = p.a.dev.pool;

  // Every slot taken: A cannot read its TUN; the packets wait in the kernel's queue.
  const held: Packet[] = [];
  try {
    for (;;) held.push(pool.alloc());
  } catch (e) {
    ok(e instanceof PoolExhaustedError);
  }
  equal(held.length, 32);
  const refused0 = p.a.dev.stats().data.poolRefused;
  const reqs = [2, 3, 4, 5].map((s) => icmpEcho(A_INNER, B_INNER, s));
  for (const r of reqs) p.a.tun.inject(r);
  p.settle();
  ok(p.a.dev.stats().data.poolRefused > refused0, "refused allocations are counted");
  equal(p.a.tun.queued, 4, "the packets are still queued");
  equal(p.b.tun.written.length, 0);
  for (const pkt of held) pkt[Symbol.dispose]();
  p.settle();
  deepStrictEqual(p.b.tun.take().map((w) => w.packet), reqs, "all four once slots are free");

  // A super-packet of 48 segments with 32 slots: the segments that find no slot are dropped.
  const payload = bytes(48 * 1000, 5);
  const sp = tcpFromKernel(1, payload, 1000);
  p.a.tun.inject(sp.packet, sp.vnet);
  p.settle();
  const exhausted = p.a.dev.stats().dropped.exhausted ?? 0;
  equal(exhausted, 16, "16 segments dropped as exhausted");
  const got = p.b.tun.take();
  const delivered = got.reduce((n, w) => n + w.packet.length - 40, 0);
  equal(delivered, 32 * 1000, "the 32 that had a slot arrive");
  deepStrictEqual(got[0].packet.subarray(40, 1040), payload.subarray(0, 1000));
  equal(pool.stats().inUse, 0, "nothing leaked");

  // Recovery: the next super-packet goes through whole.
  const again = bytes(8 * 1000, 6);
  const sp2 = tcpFromKernel(48_001, again, 1000);
  p.a.tun.inject(sp2.packet, sp2.vnet);
  p.settle();
  const w = p.b.tun.take();
  equal(w.length, 1);
  deepStrictEqual(w[0].packet.subarray(40), again);
  equal(p.a.dev.stats().dropped.exhausted, exhausted, "no new drops");
});

Deno.test("a flood of handshake-shaped datagrams: the budget drops the excess as overload, every datagram is accounted for", async () => {
  using p = await pair();
  pingAB(p, 1);
  const before = p.b.dev.stats();
  const initiation = p.net.log.find((d) => d.bytes[0] === 1)!.bytes;
  // More handshake messages at one instant than the budget's burst, then garbage.
  const n = HANDSHAKE_BURST + 500;
  for (let i = 0; i < n; i++) {
    const m = initiation.slice();
    m[120] ^= 1 + (i & 7); // bad mac1: cheap to refuse, but still handshake work
    p.b.udp.inject(`198.51.100.${1 + (i & 127)}:${1024 + i}`, m);
  }
  for (let i = 0; i < 300; i++) p.b.udp.inject("198.51.100.200:9", new Uint8Array(40).fill(9));
  p.settle();
  const after = p.b.dev.stats();
  const rejected = after.handshake.rejected;
  equal((rejected.overload ?? 0) + (rejected.bad_mac1 ?? 0), n);
  ok((rejected.overload ?? 0) >= n - HANDSHAKE_BURST, JSON.stringify(rejected));
  const r = after.received, r0 = before.received;
  const dropped = (s: typeof r) => Object.values(s.dropped).reduce((x, y) => x + y, 0);
  equal(r.datagrams - r0.datagrams, n + 300);
  equal(r.handshake - r0.handshake, n);
  equal(dropped(r) - dropped(r0), 300);
  equal(r.datagrams, r.accepted + r.handshake + dropped(r), "every datagram in one bucket");
  // A second later the budget has refilled: the tunnel's own handshakes go through.
  p.advance(1000);
  pingAB(p, 2);
});
