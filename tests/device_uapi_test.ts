/**
 * The device side of UAPI sets over memory I/O: an AllowedIPs list sent again unchanged (what
 * `wg syncconf` and reload do for every peer) leaves the peer as it is, a changed one is applied
 * as wireguard-go applies it (replace, then add in order).
 */
import { deepStrictEqual, equal } from "node:assert/strict";
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
    const list = async () => (await u.uapiGet()).peers[0].allowedIps.map((c) => c.bytes.join("."));
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
