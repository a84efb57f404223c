/**
 * The device side of UAPI sets over memory I/O: an AllowedIPs list sent again unchanged (what
 * `wg syncconf` and reload do for every peer) leaves the peer as it is, a changed one is applied
 * as wireguard-go applies it (replace, then add in order); kernel routes follow in batches.
 */
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { ROUTE_CHUNK } from "../src/device/peer_table.ts";
import { Device } from "../src/device/device.ts";
import { uapiFor } from "../src/device/device_uapi.ts";
import { parseConfig } from "../src/wg/config.ts";
import { parseSetRequest } from "../src/uapi/uapi_protocol.ts";
import { encodeBase64Key, generatePrivateKey } from "../src/wg/keys.ts";
import { memoryIo, MemoryNetwork } from "./fixtures/memory_io.ts";

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

Deno.test("UAPI set: an unchanged AllowedIPs list is no change; a changed one replaces in order", async () => {
  const io = memoryIo(new MemoryNetwork(), "tsu0", "10.0.0.1:51820");
  const text = `[Interface]\nPrivateKey = ${encodeBase64Key(generatePrivateKey())}\n`;
  const dev = await Device.create({ name: "tsu0", config: parseConfig(text), io, now: () => 0 });
  try {
    const u = uapiFor(dev);
    const key = hex(crypto.getRandomValues(new Uint8Array(32)));
    const set = async (...ips: string[]) =>
      equal(
        await u.uapiSet(parseSetRequest(
          `public_key=${key}\nreplace_allowed_ips=true\n${
            ips.map((ip) => `allowed_ip=${ip}\n`).join("")
          }`,
        )),
        0,
      );
    const list = async () =>
      [...(await u.uapiGet()).peers][0].allowedIps.map((c) => c.bytes.join("."));
    await set("10.1.0.0/24", "10.2.0.0/24");
    const before = dev.peers()[0].allowedIps;
    await set("10.1.0.0/24", "10.2.0.0/24");
    equal(dev.peers()[0].allowedIps, before, "the same list object: nothing was redone");
    await set("10.2.0.0/24", "10.1.0.0/24");
    deepStrictEqual(await list(), ["10.2.0.0", "10.1.0.0"]);
    await set("10.2.0.0/24");
    deepStrictEqual(await list(), ["10.2.0.0"]);
    await set();
    deepStrictEqual(await list(), []);
  } finally {
    dev.close();
  }
});

Deno.test("UAPI set: kernel routes of 1,000 peers go in streams of ROUTE_CHUNK, all of them, and all go", async () => {
  const io = memoryIo(new MemoryNetwork(), "tsu1", "10.0.0.1:51820");
  const text = `[Interface]\nPrivateKey = ${encodeBase64Key(generatePrivateKey())}\n`;
  const dev = await Device.create({ name: "tsu1", config: parseConfig(text), io, now: () => 0 });
  try {
    const u = uapiFor(dev);
    const keys = Array.from(
      { length: 1000 },
      () => hex(crypto.getRandomValues(new Uint8Array(32))),
    );
    const add = keys.map((k, i) => `public_key=${k}\nallowed_ip=10.${i >> 8}.${i & 255}.0/24\n`);
    equal(await u.uapiSet(parseSetRequest(add.join(""))), 0);
    equal(io.routes.prefixes.size, 1000);
    ok(io.routes.prefixes.has("10.3.231.0/24"));
    deepStrictEqual(io.routes.batches, [256, 256, 256, 232]);
    equal(
      await u.uapiSet(parseSetRequest(keys.map((k) => `public_key=${k}\nremove=true\n`).join(""))),
      0,
    );
    equal(io.routes.prefixes.size, 0, "every route removed");
    ok(io.routes.batches.slice(4).every((n) => n <= ROUTE_CHUNK));
    equal(dev.peers().length, 0);
  } finally {
    dev.close();
  }
});
