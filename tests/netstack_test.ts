/**
 * The netstack through the module's exports (wasm/ABI.md "Netstack"), as the proxy will use
 * them: a fresh instance with a pool and a stack at 10.0.0.1 and fd00::1; packets built by hand
 * go in with `ts_netstack_input` and what it sends comes out of `ts_netstack_output`. A peer pings
 * it (both families), a UDP datagram makes an event, is taken as a slot and answered from that
 * slot, a SYN to a listener gets a SYN-ACK and one to a closed port a RST, a bad checksum is
 * counted, and every slot goes back to the pool.
 *
 * @module
 */
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import {
  DROP_REASONS,
  E_AGAIN,
  HEADROOM,
  NET_ADDR_LEN,
  NET_DGRAM_LEN,
  NET_EVENT_LEN,
  NET_SECRET_LEN,
  NET_STATS_LEN,
} from "../src/wasm/abi.ts";
import { instantiate, type TunslabExports } from "../src/wasm/module.ts";
import { SlabPool } from "../src/wasm/slab.ts";
import { checksumsOk, echoRequest, tcp, udp } from "./fixtures/ip_packets.ts";

const A4 = [10, 0, 0, 1];
const B4 = [10, 0, 0, 2];
const A6 = [0xfd, ...new Array(14).fill(0), 1];
const B6 = [0xfd, ...new Array(14).fill(0), 2];

/** An address record (wasm/ABI.md): family, 0, port u16 LE, addr[16]. */
function record(addr: number[], port: number): Uint8Array {
  const r = new Uint8Array(NET_ADDR_LEN);
  r[0] = addr.length === 16 ? 6 : 4;
  new DataView(r.buffer).setUint16(2, port, true);
  r.set(addr, 4);
  return r;
}

class Stack {
  readonly wasm: TunslabExports = instantiate();
  readonly pool: SlabPool = SlabPool.create({ chunkSlots: 64, maxSlots: 256 }, this.wasm);
  readonly offs: number = this.pool.scratch(4 * 64);
  readonly lens: number = this.pool.scratch(4 * 64);
  readonly buf: number = this.pool.scratch(1024);
  now = 0;

  constructor() {
    const secret = this.pool.scratch(NET_SECRET_LEN);
    this.pool.u8.set(crypto.getRandomValues(new Uint8Array(NET_SECRET_LEN)), secret);
    equal(this.wasm.ts_netstack_init(secret, 1420, 1 << 18, 1 << 18), 0);
    for (const a of [A4, A6]) {
      this.pool.u8.set(a, this.buf);
      equal(this.wasm.ts_netstack_add_address(a.length === 16 ? 6 : 4, this.buf), 0);
    }
  }

  /** Writes `bytes` at the scratch buffer; returns its pointer. */
  put(bytes: Uint8Array, at = 0): number {
    this.pool.u8.set(bytes, this.buf + at);
    return this.buf + at;
  }

  /** One packet in (copied into a fresh slot); returns whether it was accepted. */
  input(pkt: Uint8Array): boolean {
    const off = this.pool.allocSlot();
    ok(off !== 0);
    this.pool.u8.set(pkt, off + HEADROOM);
    this.pool.u32At(this.offs, 1)[0] = off;
    this.pool.u32At(this.lens, 1)[0] = pkt.length;
    return this.wasm.ts_netstack_input(this.offs, this.lens, 1, this.now) === 1;
  }

  /** What the stack sends now: [slot, packet copy]; the slots are still the caller's. */
  output(): [number, Uint8Array][] {
    const n = this.wasm.ts_netstack_output(this.now, this.offs, this.lens, 64);
    this.pool.refresh();
    const offs = this.pool.u32At(this.offs, n);
    const lens = this.pool.u32At(this.lens, n);
    return [...offs].map((
      off,
      i,
    ) => [off, this.pool.u8.slice(off + HEADROOM, off + HEADROOM + lens[i])]);
  }

  /** What it sends now, the slots freed. */
  sent(): Uint8Array[] {
    return this.output().map(([off, p]) => {
      this.pool.free(off);
      return p;
    });
  }

  dropped(name: string): number {
    return this.pool.dropCounts()[DROP_REASONS.indexOf(name)];
  }
}

Deno.test("netstack: a peer pings the stack over IPv4 and IPv6, the reply in the request's own slot", () => {
  const s = new Stack();
  for (const [src, dst] of [[B4, A4], [B6, A6]]) {
    const req = echoRequest(src, dst, [1, 2, 3, 4, 5]);
    ok(s.input(req));
    const out = s.output();
    equal(out.length, 1);
    const [off, rep] = out[0];
    equal(off, s.pool.u32At(s.offs, 1)[0]);
    const hl = src.length === 16 ? 40 : 20;
    const a = src.length === 16 ? 8 : 12;
    deepStrictEqual([...rep.subarray(a, a + 2 * dst.length)], [...dst, ...src]);
    equal(rep[hl], src.length === 16 ? 129 : 0);
    deepStrictEqual([...rep.subarray(hl + 4)], [...req.subarray(hl + 4)]);
    ok(checksumsOk(rep));
    s.pool.free(off);
  }
  const stats = s.pool.scratch(8 * NET_STATS_LEN);
  equal(s.wasm.ts_netstack_stats(stats), 0);
  equal(new Float64Array(s.pool.memory.buffer, stats, NET_STATS_LEN)[2], 2); // echo replies
  equal(s.pool.stats().inUse, 0);
});

Deno.test("netstack: a UDP round trip through a bound socket, answered from the datagram's slot", () => {
  const s = new Stack();
  const h = s.wasm.ts_netstack_udp_bind(s.put(record([0, 0, 0, 0], 53)));
  ok(h > 0);
  equal(s.wasm.ts_netstack_udp_recv(h, s.buf, 4), E_AGAIN);
  ok(s.input(udp(B4, 40000, A4, 53, new TextEncoder().encode("query"))));
  equal(s.sent().length, 0);
  equal(s.wasm.ts_netstack_events(s.buf, 8), 1);
  const ev = s.pool.u32At(s.buf, NET_EVENT_LEN / 4);
  deepStrictEqual([ev[0], ev[1] & 1], [h, 1]); // READABLE
  equal(s.wasm.ts_netstack_udp_recv(h, s.buf, 4), 1);
  const rec = s.pool.u8.slice(s.buf, s.buf + NET_DGRAM_LEN);
  const dv = new DataView(rec.buffer);
  const [slot, data, len] = [dv.getUint32(0, true), dv.getUint32(4, true), dv.getUint32(8, true)];
  equal(new TextDecoder().decode(s.pool.u8.subarray(data, data + len)), "query");
  deepStrictEqual([...rec.subarray(16)], [...record(B4, 40000)]);
  // The answer: written anywhere in the slot past its headroom, sent from it.
  s.pool.u8.set(new TextEncoder().encode("answer"), slot + 100);
  const to = s.put(rec.subarray(16), 512);
  equal(s.wasm.ts_netstack_udp_send(h, slot, 100, 6, to), 0);
  const out = s.output();
  equal(out.length, 1);
  const [off, p] = out[0];
  equal(off, slot);
  const pdv = new DataView(p.buffer);
  deepStrictEqual([pdv.getUint16(20), pdv.getUint16(22), pdv.getUint16(24)], [53, 40000, 14]);
  deepStrictEqual([...p.subarray(12, 20)], [...A4, ...B4]);
  equal(new TextDecoder().decode(p.subarray(28)), "answer");
  ok(checksumsOk(p));
  s.pool.free(off);
  // A datagram with a bad checksum is dropped and counted.
  const bad = udp(B4, 40000, A4, 53, new Uint8Array([1, 2, 3]));
  bad[bad.length - 1] ^= 0xff;
  const before = s.dropped("checksum");
  ok(!s.input(bad));
  equal(s.dropped("checksum"), before + 1);
  equal(s.wasm.ts_netstack_udp_close(h), 0);
  equal(s.pool.stats().inUse, 0);
});

Deno.test("netstack: a SYN to a listener gets a SYN-ACK, one to a closed port a RST", () => {
  const s = new Stack();
  const l = s.wasm.ts_netstack_tcp_listen(s.put(record([0, 0, 0, 0], 80)), 4);
  ok(l > 0);
  ok(s.input(tcp(B4, 40001, A4, 80, 1000, 0x02)));
  const [synAck] = s.sent();
  const dv = new DataView(synAck.buffer);
  deepStrictEqual([dv.getUint16(20), dv.getUint16(22), dv.getUint32(28), synAck[33]], [
    80,
    40001,
    1001,
    0x12,
  ]);
  deepStrictEqual([synAck[40], synAck[41], dv.getUint16(42)], [2, 4, 1380]); // MSS: the MTU less 40
  ok(checksumsOk(synAck));
  ok(!s.input(tcp(B4, 40002, A4, 81, 5000, 0x02)));
  const [rst] = s.sent();
  const rdv = new DataView(rst.buffer);
  deepStrictEqual([rdv.getUint32(24), rdv.getUint32(28), rst[33]], [0, 5001, 0x14]); // RST|ACK
  equal(s.dropped("no_socket"), 1);
  equal(s.wasm.ts_netstack_tcp_unlisten(l, 0), 0);
  s.sent(); // the RST to the half-open connection
  equal(s.pool.stats().inUse, 0);
});
