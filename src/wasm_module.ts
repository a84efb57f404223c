/**
 * Loads `wasm/tunslab.wasm`, the data plane, and describes its exports
 * (contract: `wasm/ABI.md`). The module is compiled once per process; every
 * {@link instantiate} call yields a fresh instance with its own memory, i.e.
 * its own slab pool.
 *
 * The bytes are read from next to this file, which also works inside a
 * `deno compile` binary because the compile task passes `--include wasm/tunslab.wasm`.
 *
 * @example
 * ```ts
 * import { instantiate } from "./wasm_module.ts";
 * const wasm = instantiate();
 * console.log(wasm.ts_slot_size()); // 2048
 * ```
 * @module
 */

/** Raw exports of tunslab.wasm; see wasm/ABI.md for every signature. */
export interface TunslabExports {
  readonly memory: WebAssembly.Memory;
  ts_pool_init(chunkSlots: number, maxSlots: number): number;
  ts_pool_alloc(): number;
  ts_pool_alloc_batch(outPtr: number, n: number): number;
  ts_pool_free(off: number): number;
  ts_pool_free_batch(inPtr: number, n: number): number;
  ts_pool_stats(outPtr: number): void;
  ts_scratch_ptr(): number;
  ts_scratch_len(): number;
  ts_slot_size(): number;
  ts_headroom(): number;
  ts_drop_stats(outPtr: number): void;
  ts_ip_parse_batch(offs: number, lens: number, res: number, n: number): number;
  ts_ip_info(ptr: number, len: number, out: number): number;
  ts_chacha20_block(key: number, counter: number, nonce12: number, out64: number): number;
  ts_poly1305(key: number, msg: number, len: number, out16: number): number;
  ts_aead_seal(
    key: number,
    nonce12: number,
    aad: number,
    aadLen: number,
    buf: number,
    len: number,
  ): number;
  ts_aead_open(
    key: number,
    nonce12: number,
    aad: number,
    aadLen: number,
    buf: number,
    len: number,
  ): number;
  ts_peer_reset(peer: number): number;
  ts_peer_endpoint_ptr(peer: number): number;
  ts_peer_endpoint_len(peer: number): number;
  ts_peer_set_endpoint_len(peer: number, len: number): number;
  ts_peer_stats(peer: number, out: number): number;
  ts_peer_set_send_keypair(peer: number, kp: number): number;
  ts_keypair_set(
    kp: number,
    peer: number,
    localIndex: number,
    remoteIndex: number,
    keys: number,
  ): number;
  ts_keypair_clear(kp: number): number;
  ts_keypair_expire(kp: number): number;
  ts_keypair_info(kp: number, out: number): number;
  ts_route_insert(family: number, addr: number, cidr: number, peer: number): number;
  ts_route_remove(family: number, addr: number, cidr: number): number;
  ts_route_remove_peer(peer: number): number;
  ts_route_lookup(family: number, addr: number): number;
  ts_route_list(peer: number, out: number, max: number): number;
  ts_encrypt_batch(offs: number, lens: number, peers: number, n: number, mtu: number): number;
  ts_decrypt_batch(
    offs: number,
    lens: number,
    peers: number,
    kps: number,
    names: number,
    nameStride: number,
    n: number,
  ): number;
  ts_decrypt_batch_names(
    offs: number,
    lens: number,
    peers: number,
    kps: number,
    namePtrs: number,
    n: number,
  ): number;
  ts_tun_ingest(
    offs: number,
    lens: number,
    tails: number,
    hdrs: number,
    n: number,
    headCap: number,
    outOffs: number,
    outLens: number,
    outCap: number,
  ): number;
  ts_tun_plan(
    offs: number,
    lens: number,
    n: number,
    units: number,
    pieces: number,
    hdrArea: number,
    coalesce: number,
  ): number;
  ts_jumbo_ptr(): number;
  ts_jumbo_len(): number;
  ts_jumbo_count(): number;
  ts_offload_stats(out: number): number;
}

const WASM_URL = new URL("../wasm/tunslab.wasm", import.meta.url);

let bytes: Uint8Array | undefined;
let compiled: WebAssembly.Module | undefined;

/** The module's bytes, read once (from the binary itself after `deno compile`). */
export function wasmBytes(): Uint8Array {
  if (bytes === undefined) {
    try {
      bytes = Deno.readFileSync(WASM_URL);
    } catch (e) {
      throw new Error(
        `cannot read the data plane ${WASM_URL.pathname}: run "deno task wasm:build"`,
        { cause: e },
      );
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
