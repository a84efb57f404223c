// UdpSocket on loopback only: 127.0.0.1 and ::1, kernel-chosen ports.
import { deepStrictEqual, equal, ok, throws } from "node:assert/strict";
import { encodeEndpoint, endpointToString, SOCKADDR_IN6_LEN } from "../src/endpoint.ts";
import { EINVAL } from "../src/ffi/errno.ts";
import { AF_INET, AF_INET6 } from "../src/ffi/libc.ts";
import { SyscallError } from "../src/ffi/syscall_error.ts";
import { Poller } from "../src/poller.ts";
import { SlabPool } from "../src/wasm/slab.ts";
import { TRUNCATED, UdpSocket } from "../src/udp_socket.ts";

const STRIDE = 32;

/** Scratch regions for one batch of `n`: offsets, lengths, names. Views are rebuilt on demand. */
function batch(pool: SlabPool, n: number) {
  const p = {
    offs: pool.scratch(4 * n),
    lens: pool.scratch(4 * n),
    nameOffs: pool.scratch(4 * n),
    nameLens: pool.scratch(4 * n),
    names: pool.scratch(STRIDE * n),
  };
  return {
    p,
    offs: (from = 0) => pool.u32At(p.offs + 4 * from, n - from),
    lens: (from = 0) => pool.u32At(p.lens + 4 * from, n - from),
    nameOffs: () => pool.u32At(p.nameOffs, n),
    nameLens: () => pool.u32At(p.nameLens, n),
  };
}

/** Deterministic content for datagram i of length len. */
function fill(u8: Uint8Array, at: number, i: number, len: number): void {
  for (let k = 0; k < len; k++) u8[at + k] = (i * 31 + k * 7 + 3) & 0xff;
}

/** recvBatch until `want` datagrams arrived (or 2 s passed), into rx slots from index 0. */
async function receiveAll(
  pool: SlabPool,
  sock: UdpSocket,
  rx: ReturnType<typeof batch>,
  want: number,
): Promise<number> {
  using poller = new Poller([sock.fd]);
  let got = 0;
  const deadline = Date.now() + 2000;
  while (got < want && Date.now() < deadline) {
    const n = sock.recvBatch(
      pool,
      rx.offs(got),
      rx.lens(got),
      rx.p.names + got * STRIDE,
      STRIDE,
      want - got,
    );
    got += n;
    if (n === 0) await poller.wait(100);
  }
  return got;
}

async function roundTrip(host: string): Promise<void> {
  const N = 64;
  using pool = SlabPool.create({ chunkSlots: 32, maxSlots: 256 });
  using a = UdpSocket.bind({ port: 0, host });
  using b = UdpSocket.bind({ port: 0, host });
  equal(a.family, AF_INET6);
  ok(a.port > 0 && b.port > 0 && a.port !== b.port);
  const tx = batch(pool, N), rx = batch(pool, N);
  equal(pool.allocBatch(tx.p.offs, N), N); // may grow memory: views are taken after
  equal(pool.allocBatch(rx.p.offs, N), N);
  const dst = pool.scratch(SOCKADDR_IN6_LEN);
  const bracket = host.includes(":") ? `[${host}]` : host;
  equal(encodeEndpoint(pool.u8, dst, `${bracket}:${b.port}`), 28);
  const offs = tx.offs(), lens = tx.lens(), nameOffs = tx.nameOffs(), nameLens = tx.nameLens();
  for (let i = 0; i < N; i++) {
    // lengths 0 (empty datagram) and 2048 (a full slot) included
    lens[i] = i === 0 ? 0 : i === 1 ? pool.slotSize : (i * 97) % 1500 + 1;
    fill(pool.u8, offs[i], i, lens[i]);
    nameOffs[i] = dst;
    nameLens[i] = SOCKADDR_IN6_LEN;
  }
  equal(a.sendBatch(pool, offs, lens, nameOffs, nameLens, N), N);
  equal(a.sendErrors, 0);
  equal(await receiveAll(pool, b, rx, N), N);
  const rOffs = rx.offs(), rLens = rx.lens(), u8 = pool.u8;
  for (let i = 0; i < N; i++) {
    equal(rLens[i], lens[i], `datagram ${i} length`);
    const want = u8.slice(offs[i], offs[i] + lens[i]);
    deepStrictEqual(u8.slice(rOffs[i], rOffs[i] + rLens[i]), want, `datagram ${i} bytes`);
    const name = rx.p.names + i * STRIDE;
    equal(u8[name] | (u8[name + 1] << 8), AF_INET6, "source is a sockaddr_in6");
    equal(endpointToString(u8, name), `${bracket}:${a.port}`);
  }
  equal(b.recvBatch(pool, rOffs, rLens, rx.p.names, STRIDE, N), 0, "drained: EAGAIN → 0");
  equal(pool.freeBatch(tx.p.offs, N), N);
  equal(pool.freeBatch(rx.p.offs, N), N);
  equal(pool.stats().inUse, 0);
}

Deno.test("UdpSocket moves 64 slot-resident datagrams byte-exact over 127.0.0.1 (v4-mapped)", () =>
  roundTrip("127.0.0.1"));

Deno.test("UdpSocket moves 64 slot-resident datagrams byte-exact over ::1", () => roundTrip("::1"));

Deno.test("recvBatch marks a datagram longer than a slot with TRUNCATED (MSG_TRUNC)", async () => {
  using pool = SlabPool.create({ chunkSlots: 8, maxSlots: 64 });
  using a = UdpSocket.bind({ port: 0, host: "127.0.0.1" });
  using b = UdpSocket.bind({ port: 0, host: "127.0.0.1" });
  const dst = pool.scratch(SOCKADDR_IN6_LEN);
  encodeEndpoint(pool.u8, dst, `127.0.0.1:${b.port}`);
  const big = pool.scratch(3000); // outside the slab: a datagram no slot can hold
  fill(pool.u8, big, 9, 3000);
  equal(a.sendTo(pool, big, 100, dst, 28), 100);
  equal(a.sendTo(pool, big, 3000, dst, 28), 3000);
  equal(a.sendTo(pool, big, pool.slotSize + 1, dst, 28), pool.slotSize + 1);
  equal(a.sendTo(pool, big, 5, dst, 28), 5);
  const rx = batch(pool, 4);
  equal(pool.allocBatch(rx.p.offs, 4), 4);
  equal(await receiveAll(pool, b, rx, 4), 4);
  deepStrictEqual([...rx.lens()], [100, TRUNCATED, TRUNCATED, 5]);
  equal(b.truncated, 2);
  deepStrictEqual(
    pool.u8.slice(rx.offs()[1], rx.offs()[1] + pool.slotSize),
    pool.u8.slice(big, big + pool.slotSize),
    "the part that fit is there",
  );
  equal(pool.freeBatch(rx.p.offs, 4), 4);
  equal(pool.stats().inUse, 0);
});

Deno.test("sendBatch skips a datagram the kernel refuses (EINVAL) and sends the rest", async () => {
  using pool = SlabPool.create({ chunkSlots: 8, maxSlots: 64 });
  using a = UdpSocket.bind({ port: 0, host: "::1" });
  using b = UdpSocket.bind({ port: 0, host: "::1" });
  const dst = pool.scratch(SOCKADDR_IN6_LEN);
  encodeEndpoint(pool.u8, dst, `[::1]:${b.port}`);
  const tx = batch(pool, 3), rx = batch(pool, 3);
  equal(pool.allocBatch(tx.p.offs, 3), 3);
  equal(pool.allocBatch(rx.p.offs, 3), 3);
  const offs = tx.offs(), lens = tx.lens(), nameOffs = tx.nameOffs(), nameLens = tx.nameLens();
  for (let i = 0; i < 3; i++) {
    lens[i] = 10 + i;
    fill(pool.u8, offs[i], i, lens[i]);
    nameOffs[i] = dst;
    nameLens[i] = i === 1 ? 8 : SOCKADDR_IN6_LEN; // 8 < SIN6_LEN_RFC2133: EINVAL
  }
  equal(a.sendBatch(pool, offs, lens, nameOffs, nameLens, 3), 2);
  equal(a.sendErrors, 1);
  equal(a.lastSendErrno, EINVAL);
  equal(await receiveAll(pool, b, rx, 2), 2);
  deepStrictEqual([...rx.lens().subarray(0, 2)], [10, 12]);
  equal(a.sendTo(pool, offs[0], 10, dst, 8), -EINVAL);
  pool.freeBatch(tx.p.offs, 3);
  pool.freeBatch(rx.p.offs, 3);
  equal(pool.stats().inUse, 0);
});

Deno.test("AF_INET-only socket talks sockaddr_in; a dual-stack socket accepts a 16-byte sockaddr_in", async () => {
  using pool = SlabPool.create({ chunkSlots: 8, maxSlots: 64 });
  using v4 = UdpSocket.bind({ port: 0, host: "127.0.0.1", family: "ipv4" });
  using dual = UdpSocket.bind({ port: 0, host: "127.0.0.1" });
  equal(v4.family, AF_INET);
  equal(v4.nameLen, 16);
  const to4 = pool.scratch(32), toDual = pool.scratch(32);
  equal(encodeEndpoint(pool.u8, to4, `127.0.0.1:${v4.port}`), 28); // v4-mapped, for the dual socket
  equal(encodeEndpoint(pool.u8, toDual, `127.0.0.1:${dual.port}`, AF_INET), 16);
  const rx = batch(pool, 1);
  equal(pool.allocBatch(rx.p.offs, 1), 1);
  using slot = pool.alloc();
  fill(pool.u8, slot.off, 1, 20);
  equal(v4.sendTo(pool, slot.off, 20, toDual, 16), 20); // AF_INET → dual-stack
  equal(await receiveAll(pool, dual, rx, 1), 1);
  equal(endpointToString(pool.u8, rx.p.names), `127.0.0.1:${v4.port}`);
  equal(dual.sendTo(pool, slot.off, 20, to4, 28), 20); // dual-stack, v4-mapped → AF_INET
  equal(await receiveAll(pool, v4, rx, 1), 1);
  equal(pool.u8[rx.p.names], AF_INET, "AF_INET socket reports sockaddr_in");
  equal(endpointToString(pool.u8, rx.p.names), `127.0.0.1:${dual.port}`);
  encodeEndpoint(pool.u8, toDual, `127.0.0.1:${dual.port}`, AF_INET);
  equal(dual.sendTo(pool, slot.off, 20, toDual, 16), 20, "sockaddr_in on a dual-stack socket");
  equal(await receiveAll(pool, dual, rx, 1), 1);
  equal(rx.lens()[0], 20);
  pool.freeBatch(rx.p.offs, 1);
});

Deno.test("bind reports EADDRINUSE naming the address; buffers are raised", () => {
  using a = UdpSocket.bind({ port: 0, host: "127.0.0.1", bufferBytes: 1 << 20 });
  ok(a.recvBufferBytes >= 1 << 20, `SO_RCVBUF ${a.recvBufferBytes}`);
  ok(a.sendBufferBytes >= 1 << 20, `SO_SNDBUF ${a.sendBufferBytes}`);
  throws(() => UdpSocket.bind({ port: a.port, host: "127.0.0.1" }), (e: unknown) => {
    ok(e instanceof SyscallError);
    equal(e.message, `bind(127.0.0.1:${a.port}) failed: EADDRINUSE (Address already in use)`);
    return true;
  });
  throws(() => UdpSocket.bind({ port: 70000 }), RangeError);
  throws(() => UdpSocket.bind({ port: 0, host: "::1", family: "ipv4" }), RangeError);
  a.close();
  equal(a.fd, -1);
  a.close();
});

Deno.test("ranges outside linear memory are RangeErrors, never handed to the kernel", () => {
  using pool = SlabPool.create({ chunkSlots: 8, maxSlots: 16 });
  using a = UdpSocket.bind({ port: 0, host: "127.0.0.1" });
  const rx = batch(pool, 2);
  equal(pool.allocBatch(rx.p.offs, 2), 2);
  const end = pool.u8.length;
  throws(() => a.recvBatch(pool, rx.offs(), rx.lens(), end - 16, STRIDE, 2), RangeError);
  throws(() => a.recvBatch(pool, rx.offs(), rx.lens(), rx.p.names, 16, 2), /nameStride 16/);
  throws(
    () => a.recvBatch(pool, new Uint32Array([end - 100]), rx.lens(), rx.p.names, 32, 1),
    RangeError,
  );
  throws(() => a.recvBatch(pool, rx.offs(), rx.lens(), rx.p.names, STRIDE, 3), /batch of 3/);
  throws(() => a.sendTo(pool, end - 10, 20, rx.p.names, 28), RangeError);
  throws(() => a.sendTo(pool, rx.offs()[0], 20, end, 28), RangeError);
  const one = new Uint32Array([28]);
  throws(
    () =>
      a.sendBatch(pool, new Uint32Array([end]), new Uint32Array([1]), new Uint32Array([0]), one, 1),
    RangeError,
  );
  pool.freeBatch(rx.p.offs, 2);
  equal(pool.stats().inUse, 0);
});
