/**
 * Slots versus fresh buffers.
 *   deno bench -A bench/slab_bench.ts
 * Groups: `alloc` — a slot alloc+free per packet (batched by 64, as the data
 * path does) against `new Uint8Array(1500)` per packet; `read64` — 64 UDP
 * datagrams read by one recvmmsg straight into slots against 64 recvfrom
 * calls into fresh buffers, each then copied into WASM memory.
 * @module
 */
import { libc } from "../src/ffi/libc.ts";
import { SlabPool } from "../src/wasm/slab.ts";
import { UdpSocket } from "../src/udp_socket.ts";
import { encodeEndpoint } from "../src/endpoint.ts";

const N = 64;
const pool = SlabPool.create({ chunkSlots: 256, maxSlots: 4096 });
const offsPtr = pool.scratch(N * 4);
let sink = 0;

Deno.bench({
  name: "new Uint8Array(1500) per packet ×64",
  group: "alloc",
  baseline: true,
  fn() {
    for (let i = 0; i < N; i++) {
      const b = new Uint8Array(1500);
      b[0] = 0x45;
      sink += b[0];
    }
  },
});

Deno.bench({
  name: "slot alloc+free, batch of 64",
  group: "alloc",
  fn() {
    const got = pool.allocBatch(offsPtr, N);
    const u8 = pool.u8;
    const offs = pool.u32At(offsPtr, got);
    for (let i = 0; i < got; i++) u8[offs[i] + 16] = 0x45;
    pool.freeBatch(offsPtr, got);
  },
});

// read64: a sender fills the receiver's queue with 64 datagrams of 1420 B before each run.
const rx = UdpSocket.bind({ port: 0, host: "127.0.0.1", family: "ipv4" });
const tx = UdpSocket.bind({ port: 0, host: "127.0.0.1", family: "ipv4" });
const names = pool.scratch(N * 32);
const dst = pool.scratch(32);
const dstLen = encodeEndpoint(pool.u8, dst, `127.0.0.1:${rx.port}`, 2);
const txOffs = pool.scratch(N * 4);
pool.allocBatch(txOffs, N);
const lensPtr = pool.scratch(N * 4);
const nameOffsPtr = pool.scratch(N * 4);
const nameLensPtr = pool.scratch(N * 4);
const rxOffsPtr = pool.scratch(N * 4);
const txLens = pool.u32At(lensPtr, N).fill(1420);
pool.u32At(nameOffsPtr, N).fill(dst);
pool.u32At(nameLensPtr, N).fill(dstLen);

function fill(): void {
  const sent = tx.sendBatch(
    pool,
    pool.u32At(txOffs, N),
    txLens,
    pool.u32At(nameOffsPtr, N),
    pool.u32At(nameLensPtr, N),
    N,
  );
  if (sent !== N) throw new Error(`sent ${sent}`);
}

const rxLens = new Uint32Array(N);
Deno.bench({
  name: "64 × recvfrom into a fresh buffer + copy into WASM memory",
  group: "read64",
  baseline: true,
  fn(b) {
    fill();
    const L = libc();
    b.start();
    const got = pool.allocBatch(rxOffsPtr, N);
    const offs = pool.u32At(rxOffsPtr, got);
    for (let i = 0; i < got; i++) {
      const buf = new Uint8Array(2048);
      const n = L.read(rx.fd, buf, BigInt(buf.length));
      pool.u8.set(buf.subarray(0, n), offs[i]);
    }
    pool.freeBatch(rxOffsPtr, got);
    b.end();
  },
});

Deno.bench({
  name: "one recvmmsg of 64 straight into slots",
  group: "read64",
  fn(b) {
    fill();
    b.start();
    const got = pool.allocBatch(rxOffsPtr, N);
    const n = rx.recvBatch(pool, pool.u32At(rxOffsPtr, got), rxLens, names, 32, got);
    if (n !== N) throw new Error(`received ${n}`);
    pool.freeBatch(rxOffsPtr, got);
    b.end();
  },
});

globalThis.addEventListener("unload", () => {
  if (sink < 0) console.log(sink);
  rx.close();
  tx.close();
});
