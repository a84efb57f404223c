import { equal, ok, rejects, throws } from "node:assert/strict";
import { encodeEndpoint } from "../src/endpoint.ts";
import { Poller, POLLIN, POLLNVAL, POLLOUT } from "../src/poller.ts";
import { SlabPool } from "../src/wasm/slab.ts";
import { UdpSocket } from "../src/udp_socket.ts";

Deno.test("Poller: pollNow sees a datagram, wait() resolves on one, times out without", async () => {
  using pool = SlabPool.create({ chunkSlots: 8, maxSlots: 16 });
  using a = UdpSocket.bind({ port: 0, host: "127.0.0.1" });
  using b = UdpSocket.bind({ port: 0, host: "127.0.0.1" });
  using poller = new Poller([b.fd, a.fd], [POLLIN, POLLIN | POLLOUT]);
  equal(poller.size, 2);
  equal(poller.pollNow(), 1, "only a is ready (writable)");
  equal(poller.revents(0), 0);
  ok(poller.revents(1) & POLLOUT);
  poller.setEvents(1, POLLIN);
  const t0 = performance.now();
  equal(await poller.wait(30), 0, "timeout");
  ok(performance.now() - t0 >= 25, "waited for the timeout");
  equal(poller.woken, false);

  const dst = pool.scratch(32);
  encodeEndpoint(pool.u8, dst, `127.0.0.1:${b.port}`);
  using slot = pool.alloc();
  const pending = poller.wait(2000);
  equal(a.sendTo(pool, slot.off, 4, dst, 28), 4);
  equal(await pending, 1);
  ok(poller.revents(0) & POLLIN);
  equal(poller.pollNow(), 1, "still readable until drained");
});

Deno.test("Poller.wake() interrupts a wait(-1); pollNow is refused while it is pending", async () => {
  using poller = new Poller([]);
  const pending = poller.wait(-1);
  throws(() => poller.pollNow(), /while wait\(\) is pending/);
  await rejects(poller.wait(0), /already pending/);
  setTimeout(() => poller.wake(), 10);
  equal(await pending, 0);
  equal(poller.woken, true);
  equal(poller.pollNow(), 0, "the eventfd was drained");
  equal(poller.woken, false);
  poller.wake();
  poller.wake();
  equal(await poller.wait(1000), 0);
  equal(poller.woken, true, "two wakes, one wakeup");
  equal(await poller.wait(0), 0);
  equal(poller.woken, false);
});

Deno.test("Poller: close() during a wait completes when it returns; closed fds show POLLNVAL", async () => {
  using bad = new Poller([1_000_000]);
  equal(bad.pollNow(), 1);
  ok(bad.revents(0) & POLLNVAL);
  const poller = new Poller([]);
  const pending = poller.wait(-1);
  poller.close();
  equal(await pending, 0);
  await rejects(poller.wait(0), /closed/);
  poller.close();
});
