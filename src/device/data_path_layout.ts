/**
 * The data path's batch sizes and its arrays in the module's scratch area: one declarative table,
 * {@link LAYOUT}, that src/wasm/scratch_arrays.ts lays out (offsets, and views rebuilt when the
 * memory grows); {@link PathExports}, the exports the data path is handed, and
 * {@link DataPathOptions}, all it is given.
 *
 * @example
 * ```ts
 * import { BATCH, LAYOUT } from "./data_path_layout.ts";
 * import { ScratchArrays } from "../wasm/scratch_arrays.ts";
 * import { SlabPool } from "../wasm/slab.ts";
 * using pool = SlabPool.create({ chunkSlots: 128, maxSlots: 128 });
 * const a = new ScratchArrays(pool, LAYOUT);
 * console.log(pool.allocBatch(a.ptr.offs, BATCH), a.v.offs.length); // 128 2048
 * pool.freeBatch(a.ptr.offs, BATCH);
 * ```
 * @module
 */

import {
  MAX_PLAN,
  OFFLOAD_STATS_LEN,
  PIECE_STRIDE,
  UNIT_HDR_STRIDE,
  UNIT_STRIDE,
  VNET_STRIDE,
} from "../wasm/abi.ts";
import type { TunslabExports } from "../wasm/module.ts";
import { alias, f64, i32, u32, u8 } from "../wasm/scratch_arrays.ts";
import type { SlabPool } from "../wasm/slab.ts";
import type { DataHooks } from "./data_hooks.ts";
import type { TunIo, UdpIo } from "./packet_io.ts";

/** Most packets moved per batch and direction (recvmmsg/sendmmsg vector). */
export const BATCH = 128;
/** Bytes reserved per source sockaddr in the receive batch. */
export const NAME_STRIDE = 32;
/** Most packets one TUN → UDP batch holds once super-packets are cut into segments. */
export const TX_CAP = 2048;
/**
 * Segments one TUN read may add at worst: a 64 KiB super-packet cut at the smallest MSS Linux
 * sends (48 bytes). A batch stops reading before it could overflow {@link TX_CAP}.
 */
export const TX_RESERVE = 1400;
/** Jumbo buffers for TUN super-packet tails (the first half of the module's jumbo area). */
export const TX_JUMBOS = 8;
/** Jumbo buffers (messages) per UDP_GRO receive (the second half). */
export const RX_JUMBOS = 8;
/** Datagrams decrypted and written per step of a GRO receive: what one `ts_tun_plan` takes. */
export const RX_CAP = MAX_PLAN;

/**
 * The data path's arrays in the scratch area. Receive (UDP → TUN) and send (TUN → UDP) sides
 * have their own, so a hook that sends (a handshake completing flushes staged packets) never
 * clobbers the receive batch being walked.
 */
export const LAYOUT = {
  // UDP → TUN: datagram i at rxOffs[i], rxLens[i] bytes (after decryption: length or code).
  rxOffs: u32(RX_CAP),
  rxLens: u32(RX_CAP),
  rxLensI: alias("i32", "rxLens"),
  rxPeers: i32(RX_CAP),
  kps: i32(RX_CAP),
  /** Source sockaddr pointer per datagram (GRO: shared by a message's datagrams). */
  rxNames: u32(RX_CAP),
  /** Source sockaddrs of one receive, NAME_STRIDE bytes each. */
  names: u8(BATCH * NAME_STRIDE),
  // The packets to write to the TUN, and ts_tun_plan's units, pieces and unit headers.
  tunOffs: u32(RX_CAP),
  tunLens: u32(RX_CAP),
  units: u32(RX_CAP * UNIT_STRIDE / 4),
  pieces: u32(RX_CAP * PIECE_STRIDE / 4),
  unitHdrs: u8(RX_CAP * UNIT_HDR_STRIDE),
  // TUN reads with offloads: slots, lengths, jumbo tails, virtio headers.
  readOffs: u32(BATCH),
  readLens: u32(BATCH),
  tails: u32(BATCH),
  hdrs: u8(BATCH * VNET_STRIDE),
  // TUN → UDP: packet i at offs[i] + headroom (after encryption: wire length or code).
  offs: u32(TX_CAP),
  lens: u32(TX_CAP),
  lensI: alias("i32", "lens"),
  peers: i32(TX_CAP),
  sendOffs: u32(TX_CAP),
  sendLens: u32(TX_CAP),
  nameOffs: u32(TX_CAP),
  nameLens: u32(TX_CAP),
  free: u32(TX_CAP),
  stats: f64(OFFLOAD_STATS_LEN),
};

/** The exports the data path calls (the hot loops' and, once, the endpoint and jumbo pointers). */
export type PathExports = Pick<
  TunslabExports,
  | "ts_encrypt_batch"
  | "ts_decrypt_batch"
  | "ts_decrypt_batch_names"
  | "ts_tun_ingest"
  | "ts_tun_plan"
  | "ts_offload_stats"
  | "ts_peer_endpoint_len"
  | "ts_peer_endpoint_ptr"
  | "ts_jumbo_ptr"
  | "ts_jumbo_len"
  | "ts_drop_count"
>;

/** What the data path (src/device/data_path.ts) works with. */
export interface DataPathOptions {
  pool: SlabPool;
  /** The pool's module instance (the exports the data path calls). */
  wasm: PathExports;
  tun: TunIo;
  udp: UdpIo;
  hooks: DataHooks;
  mtu: number;
}
