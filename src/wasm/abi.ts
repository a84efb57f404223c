/**
 * The data plane's ABI constants and result codes, mirrored from the crate
 * (`wasm/src/consts.rs`, `wasm/src/errors.rs`) under the same names and with
 * the same values; tests/abi_test.ts holds every one against the crate's
 * source. Only constants of the crate are exported here in capitals: a value
 * TypeScript chooses for itself (batch sizes, scratch layouts) lives with the
 * code that chooses it.
 *
 * Each negative result code is also the index (`-code`) of a drop counter,
 * so {@link DROP_REASONS} names the "dropped" section of stats and logs.
 *
 * @example
 * ```ts
 * import { dropReasonName, E_AUTH, SLOT_SIZE } from "./abi.ts";
 * console.log(SLOT_SIZE, dropReasonName(E_AUTH)); // 2048 "auth"
 * ```
 * @module
 */

// --- Slots and the pool ---------------------------------------------------------------------

/** Bytes per slot: 16-byte WireGuard header + MTU up to 1500 padded to 16 + 16-byte tag, 16-aligned. */
export const SLOT_SIZE = 2048;
/** An IP packet in a slot starts at `off + HEADROOM`, so the transport header fits in front. */
export const HEADROOM = 16;
/** Bytes a slot keeps after a packet: WireGuard padding (up to 15) and the 16-byte tag, rounded. */
export const SLOT_TAILROOM = 32;
/** Type, receiver index and counter in front of a transport message's payload. */
export const TRANSPORT_HEADER_LEN = 16;
/** The Poly1305 tag after a transport message's payload. */
export const TAG_LEN = 16;
/** Largest padded plaintext a slot holds. */
export const MAX_PLAINTEXT = SLOT_SIZE - TRANSPORT_HEADER_LEN - TAG_LEN;
/** Bytes per large (class 1) slot: an IP packet of up to 65488 bytes, headroom, padding, tag. */
export const LARGE_SLOT_SIZE = 1 << 16;
/** Largest padded plaintext a large slot holds. */
export const LARGE_MAX_PLAINTEXT = LARGE_SLOT_SIZE - TRANSPORT_HEADER_LEN - TAG_LEN;
/** Largest IP packet or UDP datagram (16-bit lengths). */
export const MAX_PACKET_LEN = 65535;
/** Largest `max_slots` of `ts_pool_init` (512 MiB of slots). */
export const MAX_SLOTS = 1 << 18;
/** Most chunks a pool grows by, per class. */
export const MAX_CHUNKS = 1024;
/** f64s `ts_pool_stats` writes. */
export const POOL_STATS_LEN = 12;
/** Slot classes: 0 = {@link SLOT_SIZE} slots, 1 = {@link LARGE_SLOT_SIZE} slots. */
export const SLOT_CLASSES = 2;
/** Large slots added per growth step. */
export const LARGE_CHUNK_SLOTS = 8;
/** Most large slots: the whole cap in large slots. */
export const MAX_LARGE_SLOTS = MAX_SLOTS * SLOT_SIZE / LARGE_SLOT_SIZE;
/** f64s `ts_pool_class_stats` writes. */
export const POOL_CLASS_STATS_LEN = 8;

// --- The static shared region ---------------------------------------------------------------

/** Bytes of the static scratch area TypeScript lays its own arrays in. */
export const SCRATCH_LEN = 1 << 20;
/** Bytes of one peer's sockaddr storage (`ts_peer_endpoint_ptr`). */
export const ENDPOINT_LEN = 32;
/** One jumbo buffer: a TUN super-packet's tail, or one UDP GRO message. */
export const JUMBO_LEN = 1 << 16;
/** Jumbo buffers. */
export const JUMBO_COUNT = 16;
/** Accessible bytes after the last jumbo buffer. */
export const JUMBO_SLACK = 2048;

// --- Tables ---------------------------------------------------------------------------------

/** Batch size TypeScript sizes its arrays for (exports accept any `n` whose arrays are in bounds). */
export const MAX_BATCH = 256;
/** Largest peer limit (`ts_tables_init`): peer ids are below the limit. */
export const MAX_PEERS = 1 << 20;
/** Peer limit when none is set. */
export const DEFAULT_MAX_PEERS = 1 << 16;
/** Largest keypair limit: keypair slots are below the limit. */
export const MAX_KEYPAIRS = 4 * MAX_PEERS;
/** Keypair limit when none is set (four per peer). */
export const DEFAULT_MAX_KEYPAIRS = 4 * DEFAULT_MAX_PEERS;
/** Largest prefix limit: AllowedIPs entries, both families together. */
export const MAX_PREFIXES = 1 << 22;
/** Prefix limit when none is set. */
export const DEFAULT_MAX_PREFIXES = 1 << 20;
/** Bytes per `ts_route_list` entry: family u8, cidr u8, 2 zero bytes, addr[16]. */
export const ROUTE_ENTRY_LEN = 20;
/** Bytes `ts_ip_info` writes. */
export const IP_INFO_LEN = 40;
/** Bytes `ts_keypair_set` reads: send key, then receive key. */
export const KEYS_LEN = 64;
/** f64s `ts_peer_stats` writes. */
export const PEER_STATS_LEN = 6;
/** f64s `ts_keypair_info` writes. */
export const KEYPAIR_INFO_LEN = 4;
/** f64s `ts_tables_stats` writes. */
export const TABLE_STATS_LEN = 13;

// --- Offloads -------------------------------------------------------------------------------

/** `sizeof(struct virtio_net_hdr)`: in front of every packet on a TUN fd with IFF_VNET_HDR. */
export const VNET_HDR_LEN = 10;
/** Bytes between two virtio headers in `ts_tun_ingest`'s `hdrs` array. */
export const VNET_STRIDE = 16;
/** Most packets one `ts_tun_plan` call takes. */
export const MAX_PLAN = 1024;
/** Bytes per unit in `ts_tun_plan`'s header area. */
export const UNIT_HDR_STRIDE = 160;
/** Most packets (pieces) coalesced into one unit of `ts_tun_plan`. */
export const MAX_UNIT_SEGS = 64;
/** Bytes per unit record of `ts_tun_plan`: u32 `[hdr_ptr, hdr_len, first_piece, n_pieces]`. */
export const UNIT_STRIDE = 16;
/** Bytes per piece record of `ts_tun_plan`: u32 `[ptr, len, packet index]`. */
export const PIECE_STRIDE = 12;
/** f64s `ts_offload_stats` writes. */
export const OFFLOAD_STATS_LEN = 6;

// --- The netstack ---------------------------------------------------------------------------

/** Bytes of an address record: family u8 (4 or 6), 0, port u16, addr[16] (IPv4 in the first 4). */
export const NET_ADDR_LEN = 20;
/** Bytes of the secret `ts_netstack_init` reads. */
export const NET_SECRET_LEN = 32;
/** Local addresses the stack answers at. */
export const NET_MAX_ADDRS = 8;
/** UDP sockets. */
export const NET_MAX_UDP = 1024;
/** TCP listeners. */
export const NET_MAX_LISTENERS = 64;
/** TCP connections, TIME_WAIT included. */
export const NET_MAX_TCP = 4096;
/** Datagrams queued per UDP socket before more are dropped. */
export const NET_UDP_QUEUE = 64;
/** Bytes per `ts_netstack_udp_recv` record: slot, data pointer, length, 0 (u32 each), address record. */
export const NET_DGRAM_LEN = 16 + NET_ADDR_LEN;
/** Bytes per `ts_netstack_events` record: handle u32, readiness u32. */
export const NET_EVENT_LEN = 8;
/** Bytes per `ts_netstack_tcp_recv` record: pointer u32, length u32. */
export const NET_SEG_LEN = 8;
/** f64s `ts_netstack_stats` writes. */
export const NET_STATS_LEN = 21;
/** f64s `ts_netstack_tcp_info` writes. */
export const NET_TCP_INFO_LEN = 16;
/** Echo requests waiting for a reply (the oldest forgotten), and replies kept until taken. */
export const NET_MAX_PINGS = 64;
/** Bytes per `ts_netstack_ping_replies` record: address record, id u16, seq u16, rtt u32, at u32. */
export const NET_PING_LEN = NET_ADDR_LEN + 12;

// --- Result codes (errors.rs) ---------------------------------------------------------------

/** Buffer shorter than the header says / than a minimum. */
export const E_TRUNCATED = -1;
/** IP version not 4 or 6. */
export const E_BAD_VERSION = -2;
/** IPv4 IHL < 5 or header longer than the bytes. */
export const E_BAD_HEADER_LEN = -3;
/** IPv4 total length / IPv6 payload length + 40 beyond the bytes, or below the header. */
export const E_BAD_TOTAL_LEN = -4;
/** Free of a slot that is not allocated (double free). */
export const E_NOT_LIVE = -5;
/** Offset inside the slab but not at a slot start. */
export const E_MISALIGNED = -6;
/** Offset outside every slab chunk. */
export const E_FOREIGN = -7;
/** Pool at its cap. */
export const E_EXHAUSTED = -8;
/** AEAD tag mismatch. */
export const E_AUTH = -9;
/** Counter replayed, too old, or at the limit. */
export const E_REPLAY = -10;
/** No AllowedIPs entry for the inner destination. */
export const E_NO_ROUTE = -11;
/** The peer has no usable send keypair. */
export const E_NO_KEY = -12;
/** Transport receiver index not a live keypair. */
export const E_UNKNOWN_INDEX = -13;
/** Inner source not in the sending peer's AllowedIPs. */
export const E_NOT_ALLOWED = -14;
/** Message type not 1..4 or reserved bytes not zero. */
export const E_BAD_TYPE = -15;
/** Handshake message of the wrong length, transport message below 32 bytes. */
export const E_BAD_MSG_LEN = -16;
/** Does not fit the slot after padding and tag. */
export const E_TOO_BIG = -17;
/** Argument out of range (peer id, family, cidr, pointer not accessible). */
export const E_BAD_ARG = -18;
/** Keypair counter at the limit or marked expired. */
export const E_KEY_EXPIRED = -19;
/** A table at its limit, or memory could not grow for it. */
export const E_TABLE_FULL = -20;
/** A checksum did not verify (netstack input). */
export const E_CHECKSUM = -21;
/** TUN super-packet whose virtio header disagrees with its headers. */
export const E_BAD_GSO = -22;
/** Netstack: the destination is not one of the stack's addresses. */
export const E_NOT_LOCAL = -23;
/** Netstack: a fragment, an IPv6 extension header, a protocol or ICMP type not handled. */
export const E_UNSUPPORTED = -24;
/** Netstack: no socket for the datagram, no connection or listener for the segment. */
export const E_NO_SOCKET = -25;
/** Netstack: a socket's queue, a connection's buffers, a backlog or the output ring full. */
export const E_QUEUE_FULL = -26;
/** Netstack: a TCP segment the connection cannot take in its state. */
export const E_OUT_OF_WINDOW = -27;
/** Not a drop: a handshake or cookie message for the TypeScript side. */
export const HANDSHAKE = -100;
/** Not a drop: nothing now (nothing queued, a buffer full); try after the next event. */
export const E_AGAIN = -101;
/** Not a drop: the connection is not in a state for the call. */
export const E_NOT_CONNECTED = -102;
/** Not a drop: the local address and port are taken. */
export const E_ADDR_IN_USE = -103;
/** Drop counters the data plane keeps (index = −code; 0 unused). */
export const N_CODES = 32;

/** Drop-counter names, index = −code (the strings stats and logs use). */
export const DROP_REASONS: readonly string[] = [
  "none",
  "truncated",
  "bad_version",
  "bad_header_len",
  "bad_total_len",
  "not_live",
  "misaligned",
  "foreign",
  "exhausted",
  "auth",
  "replay",
  "no_route",
  "no_key",
  "unknown_index",
  "not_allowed",
  "bad_type",
  "bad_msg_len",
  "too_big",
  "bad_arg",
  "key_expired",
  "table_full",
  "checksum",
  "bad_gso",
  "not_local",
  "unsupported",
  "no_socket",
  "queue_full",
  "out_of_window",
];

/**
 * Short name of a negative code, e.g. `-9` → `"auth"`. Every code of errors.rs has one (the
 * name is the constant's without `E_`, in lower case); anything else is `"unknown_code"`.
 */
export function dropReasonName(code: number): string {
  return DROP_REASONS[-code] ?? "unknown_code";
}

/** Largest IP packet a slot takes: what is left after the headroom and the tailroom. */
export function packetCapacity(
  pool: { readonly slotSize: number; readonly headroom: number },
): number {
  return pool.slotSize - pool.headroom - SLOT_TAILROOM;
}
