/**
 * The ABI between the crate and TypeScript, checked from both sources and the committed binary:
 * - every constant and result code of `wasm/src/consts.rs` and `errors.rs` is mirrored in
 *   `src/wasm/abi.ts` with the same name and value, and abi.ts has no ABI constant the crate lacks;
 * - the TypeScript export table (`EXPORT_TYPES`) is exactly the module's function exports with
 *   their types, read from the binary's type, function and export sections;
 * - `wasm/ABI.md` names exactly those exports;
 * - `mod.ts` exports exactly the names it always has (a snapshot).
 *
 * @module
 */
import { deepStrictEqual, throws } from "node:assert/strict";
import * as abi from "../src/wasm/abi.ts";
import { EXPORT_TYPES } from "../src/wasm/module.ts";
import { rustConsts } from "./fixtures/rust_consts.ts";
import { functionExports } from "./fixtures/wasm_sections.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const read = (p: string) => Deno.readTextFileSync(`${ROOT}${p}`);

Deno.test("abi: the const reader reads what the crate writes and refuses what it cannot", () => {
  const env = new Map<string, bigint>();
  const c = rustConsts(
    "pub const A: usize = 1 << 4;\n// pub const Z: u8 = 9;\npub const B: i32 = -(A as i32) + 0x1_0;\n" +
      "pub const C: u64 = (1u64 << 63) - (1 << 13) - 1;\n#[cfg(test)]\npub const T: u8 = 1;",
    env,
  );
  deepStrictEqual([...c], [["A", 16n], ["B", 0n], ["C", 2n ** 63n - 2n ** 13n - 1n]]);
  throws(() => rustConsts("pub const S: usize = core::mem::size_of::<u8>();"), /S: /);
  throws(() => rustConsts("pub const U: usize = V + 1;"), /unknown name V/);
});

Deno.test("abi: abi.ts mirrors every constant and result code of consts.rs and errors.rs", () => {
  const env = new Map<string, bigint>();
  const rust = new Map([
    ...rustConsts(read("wasm/src/consts.rs"), env),
    ...rustConsts(read("wasm/src/errors.rs"), env),
  ]);
  const ts = new Map<string, number>();
  for (const [k, v] of Object.entries(abi)) {
    if (/^[A-Z][A-Z0-9_]*$/.test(k) && typeof v === "number") ts.set(k, v);
  }
  const missing = [...rust.keys()].filter((k) => !ts.has(k));
  deepStrictEqual(missing, [], "crate constants abi.ts does not mirror");
  const extra = [...ts.keys()].filter((k) => !rust.has(k));
  deepStrictEqual(extra, [], "abi.ts constants the crate does not define");
  const differ = [...rust].filter(([k, v]) => BigInt(ts.get(k)!) !== v)
    .map(([k, v]) => `${k}: crate ${v}, abi.ts ${ts.get(k)}`);
  deepStrictEqual(differ, []);
  // Sanity: the reader saw the central ones.
  deepStrictEqual([rust.get("SLOT_SIZE"), rust.get("E_AUTH")], [2048n, -9n]);
});

Deno.test("abi: EXPORT_TYPES is exactly the module's function exports with their types", () => {
  const bin = functionExports(Deno.readFileSync(`${ROOT}wasm/tunslab.wasm`));
  const fromBinary = [...bin].filter(([n]) => n.startsWith("ts_"))
    .map(([n, t]) => [n, t.params, t.results]).sort();
  const declared = Object.entries(EXPORT_TYPES)
    .map(([n, [p, r]]) => [n, [...p], [...r]]).sort();
  deepStrictEqual(declared, fromBinary);
  const others = [...bin.keys()].filter((n) => !n.startsWith("ts_"));
  deepStrictEqual(others, [], "function exports outside the ts_ namespace");
});

Deno.test("abi: wasm/ABI.md names exactly the exports", () => {
  const bin = functionExports(Deno.readFileSync(`${ROOT}wasm/tunslab.wasm`));
  const documented = new Set(read("wasm/ABI.md").match(/\bts_[a-z0-9_]+\b/g) ?? []);
  deepStrictEqual([...documented].sort(), [...bin.keys()].sort());
});

Deno.test("abi: mod.ts exports the names it always has", async () => {
  const text = read("mod.ts");
  const names = [...text.matchAll(/export\s*\{([^}]*)\}/g)]
    .flatMap((m) => m[1].split(","))
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .sort();
  deepStrictEqual(names, [
    "ConfigError",
    "Device",
    "Packet",
    "PoolExhaustedError",
    "SlabPool",
    "SyscallError",
    "TcpConn",
    "TcpListener",
    "TunDevice",
    "UdpSocket",
    "UserspaceTunnel",
    "decodeBase64Key",
    "encodeBase64Key",
    "generatePresharedKey",
    "generatePrivateKey",
    "parseConfig",
    "parseConfigFile",
    "publicKey",
    "type Config",
    "type DeviceOptions",
    "type DeviceStats",
    "type PoolStats",
    "type UserspaceTunnelOptions",
  ]);
  const runtime = Object.keys(await import("../mod.ts")).sort();
  deepStrictEqual(runtime, names.filter((n) => !n.startsWith("type ")));
});
