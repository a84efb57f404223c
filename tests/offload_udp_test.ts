// UdpSocket offloads on loopback: UDP_SEGMENT sends from scattered slots, UDP_GRO receives into
// jumbo buffers, and the fallback when the kernel refuses a GSO send. No root needed.
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { encodeEndpoint, SOCKADDR_IN6_LEN } from "../src/endpoint.ts";
import { EINVAL } from "../src/ffi/errno.ts";
import { libc } from "../src/ffi/libc.ts";
import { Poller } from "../src/poller.ts";
import { SlabPool } from "../src/wasm/slab.ts";
import { instantiate, type TunslabExports } from "../src/wasm/module.ts";
import { SOL_SOCKET, UdpSocket } from "../src/udp_socket.ts";

const SO_NO_CHECK = 11;
const STRIDE = 32;

/** Deterministic content for datagram i of length len. */
function fill(u8: Uint8Array, at: number, i: number, len: number): void {
  for (let k = 0; k < len; k++) u8[at + k] = (i * 131 + k * 7 + 1) & 0xff;
}

/** Datagram sizes: runs of equal sizes (each may end in a shorter one), then odd ones. */
function sizes(): number[] {
  const out: number[] = [];
  for (let i = 0; i < 100; i++) out.push(1452); // two messages: 44 + 44 (65000-byte cap), + 12
  out.push(700); // ends the run
  for (let i = 0; i < 70; i++) out.push(96); // one message of 64 (the segment cap), then 6
  out.push(1452, 32, 1452); // a longer one after a shorter one starts a new message
  return out;
}

interface Rig extends Disposable {
  wasm: TunslabExports;
  pool: SlabPool;
  a: UdpSocket;
  b: UdpSocket;
  offs: Uint32Array;
  lens: Uint32Array;
  nameOffs: Uint32Array;
  nameLens: Uint32Array;
  want: number[];
}

function rig(bOffload: boolean): Rig {
  const wasm = instantiate();
  const pool = SlabPool.create({ chunkSlots: 256, maxSlots: 1024 }, wasm);
  const a = UdpSocket.bind({ port: 0, host: "127.0.0.1", offload: true });
  const b = UdpSocket.bind({ port: 0, host: "127.0.0.1", offload: bOffload });
  const want = sizes();
  const n = want.length;
  const p = { offs: pool.scratch(4 * n), lens: pool.scratch(4 * n) };
  const names = { offs: pool.scratch(4 * n), lens: pool.scratch(4 * n) };
  equal(pool.allocBatch(p.offs, n), n);
  const dst = pool.scratch(SOCKADDR_IN6_LEN);
  equal(encodeEndpoint(pool.u8, dst, `127.0.0.1:${b.port}`), SOCKADDR_IN6_LEN);
  const offs = pool.u32At(p.offs, n), lens = pool.u32At(p.lens, n);
  const nameOffs = pool.u32At(names.offs, n), nameLens = pool.u32At(names.lens, n);
  for (let i = 0; i < n; i++) {
    lens[i] = want[i];
    fill(pool.u8, offs[i], i, want[i]);
    nameOffs[i] = dst;
    nameLens[i] = SOCKADDR_IN6_LEN;
  }
  return {
    wasm,
    pool,
    a,
    b,
    offs,
    lens,
    nameOffs,
    nameLens,
    want,
    [Symbol.dispose]() {
      a.close();
      b.close();
    },
  };
}

/** Receives with recvGro until `want.length` datagrams arrived; checks each byte-exact. */
async function receiveGro(r: Rig): Promise<{ messages: number; datagrams: number }> {
  const { wasm, pool, b, want } = r;
  using poller = new Poller([b.fd]);
  const jumbo = wasm.ts_jumbo_ptr(), jl = wasm.ts_jumbo_len();
  const names = pool.scratch(8 * STRIDE);
  const msgLens = new Uint32Array(8), gso = new Uint32Array(8);
  let i = 0, messages = 0;
  const deadline = Date.now() + 3000;
  while (i < want.length && Date.now() < deadline) {
    const m = b.recvGro(pool, jumbo, jl, 8, msgLens, gso, names, STRIDE);
    if (m === 0) {
      await poller.wait(100);
      continue;
    }
    for (let k = 0; k < m; k++) {
      messages++;
      const size = gso[k] > 0 ? gso[k] : msgLens[k];
      let at = 0;
      do {
        const len = Math.min(size, msgLens[k] - at);
        equal(len, want[i], `datagram ${i} length`);
        const expect = new Uint8Array(len);
        fill(expect, 0, i, len);
        const base = jumbo + k * jl + at;
        deepStrictEqual(pool.u8.slice(base, base + len), expect, `datagram ${i} bytes`);
        i++;
        at += size;
      } while (at < msgLens[k]);
    }
  }
  return { messages, datagrams: i };
}

const probe = UdpSocket.bind({ port: 0, host: "127.0.0.1", offload: true });
const HAVE = probe.gso && probe.gro;
probe.close();
if (!HAVE) console.warn("offload_udp_test: kernel without UDP_SEGMENT/UDP_GRO; tests IGNORED");

Deno.test({
  name: "sendGso batches runs into UDP_SEGMENT messages; recvGro gets them back coalesced",
  ignore: !HAVE,
  async fn() {
    using r = rig(true);
    const n = r.want.length;
    equal(r.a.sendGso(r.pool, r.offs, r.lens, r.nameOffs, r.nameLens, n), n);
    equal(r.a.sendErrors, 0);
    // 1452 × 44, × 44, × 12 + 700; 96 × 64, × 6; then 1452 + 32, and 1452 on its own.
    equal(r.a.gsoMessages, 6);
    equal(r.a.gsoDatagrams, 44 + 44 + 13 + 64 + 6 + 2);
    ok(r.a.gso);
    const got = await receiveGro(r);
    equal(got.datagrams, n);
    ok(got.messages < n / 4, `coalesced: ${got.messages} messages for ${n} datagrams`);
    ok(r.b.groMessages >= 6 && r.b.groDatagrams >= 100, `gro ${r.b.groMessages}`);
  },
});

Deno.test({
  name: "a GSO train reaches a socket without UDP_GRO as single datagrams",
  ignore: !HAVE,
  async fn() {
    using r = rig(false);
    const n = r.want.length;
    equal(r.a.sendGso(r.pool, r.offs, r.lens, r.nameOffs, r.nameLens, n), n);
    ok(!r.b.gro);
    using poller = new Poller([r.b.fd]);
    const rxp = r.pool.scratch(4 * 256), rxl = r.pool.scratch(4 * 256);
    const names = r.pool.scratch(256 * STRIDE);
    equal(r.pool.allocBatch(rxp, 256), 256);
    const rOffs = r.pool.u32At(rxp, 256), rLens = r.pool.u32At(rxl, 256);
    let i = 0;
    const deadline = Date.now() + 3000;
    while (i < n && Date.now() < deadline) {
      const m = r.b.recvBatch(r.pool, rOffs, rLens, names, STRIDE, 256);
      if (m === 0) await poller.wait(100);
      for (let k = 0; k < m; k++, i++) {
        equal(rLens[k], r.want[i], `datagram ${i} length`);
        const expect = new Uint8Array(rLens[k]);
        fill(expect, 0, i, rLens[k]);
        deepStrictEqual(r.pool.u8.slice(rOffs[k], rOffs[k] + rLens[k]), expect);
      }
    }
    equal(i, n);
  },
});

Deno.test({
  name: "a refused GSO send (EINVAL: SO_NO_CHECK) switches UDP_SEGMENT off and sends one by one",
  ignore: !HAVE,
  async fn() {
    using r = rig(true);
    const one = new Uint8Array(new Int32Array([1]).buffer);
    equal(libc().setsockopt(r.a.fd, SOL_SOCKET, SO_NO_CHECK, one, 4), 0);
    const n = r.want.length;
    equal(r.a.sendGso(r.pool, r.offs, r.lens, r.nameOffs, r.nameLens, n), n);
    ok(!r.a.gso, "UDP_SEGMENT is off");
    equal(r.a.gsoErrno, EINVAL);
    equal(r.a.gsoMessages, 0);
    const got = await receiveGro(r);
    equal(got.datagrams, n, "nothing lost");
    // Later batches go out one by one without trying again.
    equal(r.a.sendGso(r.pool, r.offs, r.lens, r.nameOffs, r.nameLens, 10), 10);
    equal(r.a.gsoMessages, 0);
  },
});
