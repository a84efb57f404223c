/**
 * Loads `wasm/tunslab.wasm`, the data plane, and describes its exports
 * (contract: `wasm/ABI.md`). The module is compiled once per process; every
 * {@link instantiate} call yields a fresh instance with its own memory, i.e.
 * its own slab pool.
 *
 * The export table is one runtime value, {@link EXPORT_TYPES} (each export's
 * parameter and result types as the module's type section spells them), and
 * the TypeScript type {@link TunslabExports} is derived from it, so the two
 * cannot drift apart and a test can hold the table against the binary.
 *
 * The bytes are read from `wasm/` of the checkout, which also works inside a
 * `deno compile` binary because the compile task passes `--include wasm/tunslab.wasm`.
 *
 * @example
 * ```ts
 * import { EXPORT_TYPES, instantiate } from "./module.ts";
 * const wasm = instantiate();
 * console.log(wasm.ts_slot_size()); // 2048
 * console.log(EXPORT_TYPES.ts_pool_stats); // [["i32"], ["i32"]]
 * ```
 * @module
 */

/** A WebAssembly value type as it appears in a function type. */
export type WasmValType = "i32" | "i64" | "f32" | "f64";

/** Parameter types, then result types, of one export. */
export type WasmFuncType = readonly [readonly WasmValType[], readonly WasmValType[]];

/**
 * Every function the module exports, in the order of `wasm/ABI.md`, with its type. All values
 * are `i32` on the ABI (u32 offsets and lengths come back as JavaScript numbers; no i64).
 * The comment after each entry names the parameters and what the result means.
 */
export const EXPORT_TYPES = {
  // Pool
  ts_pool_init: [["i32", "i32"], ["i32"]], // (chunk_slots, max_slots) -> 0 | code
  ts_pool_alloc: [[], ["i32"]], // () -> slot offset | 0
  ts_pool_alloc_batch: [["i32", "i32"], ["i32"]], // (out_ptr, n) -> allocated
  ts_pool_alloc_class: [["i32"], ["i32"]], // (class) -> slot offset | 0
  ts_pool_alloc_batch_class: [["i32", "i32", "i32"], ["i32"]], // (out_ptr, n, class) -> allocated
  ts_pool_free: [["i32"], ["i32"]], // (off) -> 0 | code
  ts_pool_free_batch: [["i32", "i32"], ["i32"]], // (in_ptr, n) -> freed
  ts_pool_stats: [["i32"], ["i32"]], // (out_ptr: f64[POOL_STATS_LEN]) -> 0 | E_BAD_ARG
  ts_pool_class_stats: [["i32", "i32"], ["i32"]], // (class, out_ptr: f64[POOL_CLASS_STATS_LEN]) -> 0 | E_BAD_ARG
  ts_slot_size_at: [["i32"], ["i32"]], // (off) -> SLOT_SIZE | LARGE_SLOT_SIZE | 0
  ts_scratch_ptr: [[], ["i32"]],
  ts_scratch_len: [[], ["i32"]],
  ts_slot_size: [[], ["i32"]],
  ts_headroom: [[], ["i32"]],
  ts_drop_stats: [["i32"], ["i32"]], // (out_ptr: f64[N_CODES]) -> 0 | E_BAD_ARG
  ts_drop_count: [["i32", "i32"], ["i32"]], // (code, n) -> 0 | E_BAD_ARG
  // IP parsing
  ts_ip_parse_batch: [["i32", "i32", "i32", "i32"], ["i32"]], // (offs, lens, res, n) -> valid
  ts_ip_info: [["i32", "i32", "i32"], ["i32"]], // (ptr, len, out[IP_INFO_LEN]) -> version | code
  // Crypto
  ts_chacha20_block: [["i32", "i32", "i32", "i32"], ["i32"]], // (key, counter, nonce12, out64)
  ts_chacha20: [["i32", "i32", "i32", "i32", "i32"], ["i32"]], // (key, counter, nonce12, buf, len)
  ts_poly1305: [["i32", "i32", "i32", "i32"], ["i32"]], // (key, msg, len, out16)
  ts_aead_seal: [["i32", "i32", "i32", "i32", "i32", "i32"], ["i32"]], // (key, nonce12, aad, aad_len, buf, len)
  ts_aead_open: [["i32", "i32", "i32", "i32", "i32", "i32"], ["i32"]], // (key, nonce12, aad, aad_len, buf, len)
  ts_x25519: [["i32", "i32", "i32"], ["i32"]], // (scalar, point, out32) -> 0 | 1 all-zero | E_BAD_ARG
  ts_x25519_base: [["i32", "i32"], ["i32"]], // (scalar, out32) -> 0 | E_BAD_ARG
  ts_blake2s: [["i32", "i32", "i32", "i32", "i32", "i32"], ["i32"]], // (key, key_len, msg, len, out, out_len)
  ts_hmac_blake2s: [["i32", "i32", "i32", "i32", "i32"], ["i32"]], // (key, key_len, msg, len, out32)
  ts_kdf: [["i32", "i32", "i32", "i32", "i32"], ["i32"]], // (key32, input, len, n, out[32n])
  // Tables
  ts_tables_init: [["i32", "i32", "i32"], ["i32"]], // (max_peers, max_keypairs, max_prefixes) -> 0 | E_BAD_ARG
  ts_tables_stats: [["i32"], ["i32"]], // (out: f64[TABLE_STATS_LEN]) -> 0 | E_BAD_ARG
  // Peers (the writers may grow memory)
  ts_peer_reset: [["i32"], ["i32"]], // (peer)
  ts_peer_endpoint_ptr: [["i32"], ["i32"]], // (peer) -> sockaddr storage | 0
  ts_peer_endpoint_len: [["i32"], ["i32"]], // (peer) -> 0 | 16 | 28
  ts_peer_set_endpoint_len: [["i32", "i32"], ["i32"]], // (peer, len)
  ts_peer_stats: [["i32", "i32"], ["i32"]], // (peer, out: f64[PEER_STATS_LEN])
  ts_peer_set_send_keypair: [["i32", "i32"], ["i32"]], // (peer, kp | -1)
  // Keypairs
  ts_keypair_set: [["i32", "i32", "i32", "i32", "i32"], ["i32"]], // (kp, peer, local_index, remote_index, keys[KEYS_LEN])
  ts_keypair_clear: [["i32"], ["i32"]], // (kp)
  ts_keypair_expire: [["i32"], ["i32"]], // (kp)
  ts_keypair_info: [["i32", "i32"], ["i32"]], // (kp, out: f64[KEYPAIR_INFO_LEN]) -> 1 live | 0 empty
  // AllowedIPs
  ts_route_insert: [["i32", "i32", "i32", "i32"], ["i32"]], // (family, addr, cidr, peer)
  ts_route_remove: [["i32", "i32", "i32"], ["i32"]], // (family, addr, cidr)
  ts_route_remove_peer: [["i32"], ["i32"]], // (peer) -> removed
  ts_route_lookup: [["i32", "i32"], ["i32"]], // (family, addr) -> peer | E_NO_ROUTE
  ts_route_list: [["i32", "i32", "i32"], ["i32"]], // (peer, out, max) -> total
  // Transport
  ts_encrypt_batch: [["i32", "i32", "i32", "i32", "i32"], ["i32"]], // (offs, lens, peers, n, mtu) -> ready
  ts_decrypt_batch: [["i32", "i32", "i32", "i32", "i32", "i32", "i32"], ["i32"]], // (offs, lens, peers, kps, names, name_stride, n)
  ts_decrypt_batch_names: [["i32", "i32", "i32", "i32", "i32", "i32"], ["i32"]], // (offs, lens, peers, kps, name_ptrs, n)
  // Offloads
  ts_jumbo_ptr: [[], ["i32"]],
  ts_jumbo_len: [[], ["i32"]],
  ts_jumbo_count: [[], ["i32"]],
  ts_tun_ingest: [["i32", "i32", "i32", "i32", "i32", "i32", "i32", "i32", "i32"], ["i32"]], // (offs, lens, tails, hdrs, n, head_cap, out_offs, out_lens, out_cap)
  ts_tun_plan: [["i32", "i32", "i32", "i32", "i32", "i32", "i32"], ["i32"]], // (offs, lens, n, units, pieces, hdr_area, coalesce)
  ts_offload_stats: [["i32"], ["i32"]], // (out: f64[OFFLOAD_STATS_LEN])
  // Netstack
  ts_netstack_init: [["i32", "i32", "i32", "i32"], ["i32"]], // (secret[NET_SECRET_LEN], mtu, rcv_buf, snd_buf)
  ts_netstack_add_address: [["i32", "i32"], ["i32"]], // (family, addr[4|16])
  ts_netstack_input: [["i32", "i32", "i32", "i32"], ["i32"]], // (offs, lens, n, now) -> accepted
  ts_netstack_output: [["i32", "i32", "i32", "i32"], ["i32"]], // (now, offs, lens, cap) -> packets
  ts_netstack_next_timer: [["i32"], ["i32"]], // (now) -> ms | -1
  ts_netstack_close: [["i32"], ["i32"]], // (now) -> 0
  ts_netstack_events: [["i32", "i32"], ["i32"]], // (out[NET_EVENT_LEN * max], max) -> events
  ts_netstack_stats: [["i32"], ["i32"]], // (out: f64[NET_STATS_LEN])
  ts_netstack_ping: [["i32", "i32", "i32", "i32"], ["i32"]], // (to[NET_ADDR_LEN], id, seq, now)
  ts_netstack_ping_replies: [["i32", "i32"], ["i32"]], // (out[NET_PING_LEN * max], max) -> n
  ts_netstack_udp_bind: [["i32"], ["i32"]], // (local[NET_ADDR_LEN]) -> handle | code
  ts_netstack_udp_close: [["i32"], ["i32"]], // (h)
  ts_netstack_udp_recv: [["i32", "i32", "i32"], ["i32"]], // (h, out[NET_DGRAM_LEN * max], max) -> n | E_AGAIN
  ts_netstack_udp_send: [["i32", "i32", "i32", "i32", "i32"], ["i32"]], // (h, off, data_off, len, to[NET_ADDR_LEN])
  ts_netstack_tcp_listen: [["i32", "i32"], ["i32"]], // (local[NET_ADDR_LEN], backlog) -> handle | code
  ts_netstack_tcp_unlisten: [["i32", "i32"], ["i32"]], // (h, now)
  ts_netstack_tcp_accept: [["i32"], ["i32"]], // (h) -> handle | E_AGAIN
  ts_netstack_tcp_connect: [["i32", "i32", "i32"], ["i32"]], // (remote, local | 0, now) -> handle | code
  ts_netstack_tcp_send: [["i32", "i32", "i32", "i32"], ["i32"]], // (h, off, data_off, len) -> len | code
  ts_netstack_tcp_recv: [["i32", "i32", "i32"], ["i32"]], // (h, out[NET_SEG_LEN * max], max) -> n | 0 EOF | E_AGAIN
  ts_netstack_tcp_consume: [["i32", "i32"], ["i32"]], // (h, n) -> consumed
  ts_netstack_tcp_shutdown: [["i32"], ["i32"]], // (h)
  ts_netstack_tcp_abort: [["i32", "i32"], ["i32"]], // (h, now)
  ts_netstack_tcp_release: [["i32", "i32"], ["i32"]], // (h, now)
  ts_netstack_tcp_keepalive: [["i32", "i32", "i32", "i32", "i32"], ["i32"]], // (h, idle_ms, intvl_ms, count, now)
  ts_netstack_tcp_info: [["i32", "i32"], ["i32"]], // (h, out: f64[NET_TCP_INFO_LEN])
  ts_netstack_tcp_endpoints: [["i32", "i32"], ["i32"]], // (h, out[2 * NET_ADDR_LEN])
} as const satisfies Record<string, WasmFuncType>;

/** JavaScript value of one WebAssembly value type (`i64` is a BigInt). */
type ValueOf<T extends WasmValType> = T extends "i64" ? bigint : number;

/** The parameter list of an export, as JavaScript values. */
type ParamsOf<P extends readonly WasmValType[]> = { -readonly [K in keyof P]: ValueOf<P[K]> };

/** No result → void, one → its value. */
type ResultOf<R extends readonly WasmValType[]> = R extends readonly [] ? void
  : R extends readonly [infer T extends WasmValType] ? ValueOf<T>
  : never;

/** Raw exports of tunslab.wasm, typed from {@link EXPORT_TYPES}; see wasm/ABI.md for each. */
export type TunslabExports =
  & { readonly memory: WebAssembly.Memory }
  & {
    readonly [K in keyof typeof EXPORT_TYPES]: (
      ...args: ParamsOf<typeof EXPORT_TYPES[K][0]>
    ) => ResultOf<typeof EXPORT_TYPES[K][1]>;
  };

/** Names of the exported functions. */
export type ExportName = keyof typeof EXPORT_TYPES;

const WASM_URL = new URL("../../wasm/tunslab.wasm", import.meta.url);

let bytes: Uint8Array | undefined;
let compiled: WebAssembly.Module | undefined;

/**
 * `TUNSLAB_WASM`, when set (and readable without a permission prompt): another build of the
 * module read in place of the committed one, e.g. a profiling build with a name section or an
 * older build to benchmark against. Outside the reproducibility check; the exports must match.
 */
export const WASM_ENV = "TUNSLAB_WASM";

function wasmPath(): string | URL {
  try {
    if (Deno.permissions.querySync({ name: "env", variable: WASM_ENV }).state === "granted") {
      const p = Deno.env.get(WASM_ENV);
      if (p) return p;
    }
  } catch {
    // No permission API (or no env): the committed module.
  }
  return WASM_URL;
}

/** The module's bytes, read once (from the binary itself after `deno compile`). */
export function wasmBytes(): Uint8Array {
  if (bytes === undefined) {
    const path = wasmPath();
    try {
      bytes = Deno.readFileSync(path);
    } catch (e) {
      const name = path instanceof URL ? path.pathname : `${path} (${WASM_ENV})`;
      throw new Error(`cannot read the data plane ${name}: run "deno task wasm:build"`, {
        cause: e,
      });
    }
  }
  return bytes;
}

/** The compiled module, compiled on first use. */
export function wasmModule(): WebAssembly.Module {
  compiled ??= new WebAssembly.Module(wasmBytes() as Uint8Array<ArrayBuffer>);
  return compiled;
}

/** A fresh instance: its own linear memory, hence its own pool and tables. */
export function instantiate(): TunslabExports {
  const instance = new WebAssembly.Instance(wasmModule(), {});
  return instance.exports as unknown as TunslabExports;
}
