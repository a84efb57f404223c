/**
 * The memory floor under tunslab for the network benchmark: a Deno process that
 * loads what every tunnel loads — LogTape configured as `up` configures it,
 * @noble/curves, @noble/hashes and @noble/ciphers, the libc FFI symbol table,
 * the compiled WASM data plane — and runs one X25519 public key and one shared
 * secret, then prints "ready" and sleeps (at most 10 minutes) until killed. No
 * device, socket, handshake state or traffic. Its RSS above an idle Deno is the
 * part of tunslab's that the runtime and the dependencies cost.
 *
 * @example
 * ```sh
 * deno run -A bench/deps_floor.ts
 * ```
 * @module
 */

import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { hmac } from "@noble/hashes/hmac.js";
import { blake2s } from "@noble/hashes/blake2.js";
import { libc } from "../src/ffi/libc.ts";
import { setupLogging } from "../src/log.ts";
import { instantiate } from "../src/wasm/module.ts";
import { dh } from "../src/wg/primitives.ts";
import { generatePrivateKey, publicKey } from "../src/wg/keys.ts";

await setupLogging("info", "json");
const lib = libc();
const wasm = instantiate();
const a = generatePrivateKey(), b = generatePrivateKey();
const shared = dh(a, publicKey(b));
const mac = hmac(blake2s, shared ?? new Uint8Array(32), new Uint8Array(32));
const sealed = chacha20poly1305(mac, new Uint8Array(12)).encrypt(new Uint8Array(32));
console.log("ready", lib.close(-1), wasm.ts_slot_size(), sealed.length);
await new Promise((resolve) => setTimeout(resolve, 600_000));
