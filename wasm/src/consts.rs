//! Every constant of the ABI (`../ABI.md`, "Constants"), mirrored under the same names in
//! TypeScript's `src/wasm/abi.ts`. Result codes are in `errors.rs`.
//!
//! Each is `pub const NAME: usize = <simple integer expression>;` (literals, `1 << n`,
//! `+ - * /`, other names) so a test on the TypeScript side can read this file and compare.
//! The `const _: () = assert!(..)` lines tie the constants together at compile time.

// Clippy 1.63 takes a `const _: () = assert!(..)` for a runtime `assert!(true)`; in a const
// item it is a compile-time check (newer clippy no longer lints it).
#![allow(clippy::assertions_on_constants)]

// ---------------------------------------------------------------- slots

/// Bytes per slot: 16-byte WireGuard header + an MTU up to 1500 padded to 16 + 16-byte tag,
/// rounded up to a power of two.
pub const SLOT_SIZE: usize = 2048;
/// An IP packet in a slot starts at `off + HEADROOM`, so the transport header fits in front.
pub const HEADROOM: usize = 16;
/// Bytes a slot keeps free after a packet: padding (at most 15) + the 16-byte tag, rounded.
pub const SLOT_TAILROOM: usize = 32;
/// Transport message header: type, receiver index, counter.
pub const TRANSPORT_HEADER_LEN: usize = 16;
/// Poly1305 tag.
pub const TAG_LEN: usize = 16;
/// Largest padded plaintext a slot holds together with header and tag.
pub const MAX_PLAINTEXT: usize = SLOT_SIZE - TRANSPORT_HEADER_LEN - TAG_LEN;

const _: () = assert!(SLOT_SIZE % 16 == 0);
const _: () = assert!(HEADROOM == TRANSPORT_HEADER_LEN);
const _: () = assert!(MAX_PLAINTEXT == SLOT_SIZE - 32);
const _: () = assert!(SLOT_TAILROOM >= 15 + TAG_LEN && SLOT_TAILROOM % 16 == 0);
const _: () = assert!(HEADROOM + 1500 + SLOT_TAILROOM <= SLOT_SIZE);

/// Bytes per large slot (class 1), for packets longer than a slot holds: an IP packet of up to
/// `LARGE_SLOT_SIZE - HEADROOM - SLOT_TAILROOM` = 65488 bytes, with headroom, padding and tag.
/// A UDP datagram carries at most 65527 bytes (IPv6; 65507 over IPv4), i.e. an IP packet of
/// 65495 as a transport message: every packet a tunnel can carry at its MTU fits, up to the
/// last few sizes below 65535 (those are refused as E_TOO_BIG, counted).
pub const LARGE_SLOT_SIZE: usize = 1 << 16;
/// Largest padded plaintext a large slot holds together with header and tag.
pub const LARGE_MAX_PLAINTEXT: usize = LARGE_SLOT_SIZE - TRANSPORT_HEADER_LEN - TAG_LEN;
/// Largest IP packet or UDP datagram (both lengths are 16 bits).
pub const MAX_PACKET_LEN: usize = 65535;

const _: () = assert!(LARGE_SLOT_SIZE % 65536 == 0); // large chunks are whole pages, no waste
const _: () = assert!(LARGE_SLOT_SIZE >= MAX_PACKET_LEN); // any datagram fits one
const _: () = assert!(LARGE_MAX_PLAINTEXT == LARGE_SLOT_SIZE - 32);

// ---------------------------------------------------------------- the pool

/// Most slots a pool may have (512 MiB of slots).
pub const MAX_SLOTS: usize = 1 << 18;
/// Most chunks a pool may have: `ceil(max_slots / chunk_slots)` must not exceed it.
pub const MAX_CHUNKS: usize = 1024;
/// f64s `ts_pool_stats` writes.
pub const POOL_STATS_LEN: usize = 12;
/// Slot classes: 0 = `SLOT_SIZE` slots, 1 = `LARGE_SLOT_SIZE` slots.
pub const SLOT_CLASSES: usize = 2;
/// Large slots added per growth step (one `memory.grow` of 8 pages).
pub const LARGE_CHUNK_SLOTS: usize = 8;
/// Most large slots a pool may have: the whole cap (`MAX_SLOTS * SLOT_SIZE` bytes) in them.
pub const MAX_LARGE_SLOTS: usize = MAX_SLOTS * SLOT_SIZE / LARGE_SLOT_SIZE;
/// f64s `ts_pool_class_stats` writes.
pub const POOL_CLASS_STATS_LEN: usize = 8;

const _: () = assert!(MAX_SLOTS % 64 == 0); // the live bitmap is whole u64 words
const _: () = assert!(MAX_LARGE_SLOTS % 64 == 0);
const _: () = assert!(MAX_SLOTS * SLOT_SIZE <= 1 << 31); // offsets stay far below u32::MAX
                                                         // Large chunks fit the chunk table: only the last chunk of a class can be partial.
const _: () = assert!(MAX_LARGE_SLOTS / LARGE_CHUNK_SLOTS <= MAX_CHUNKS);

// ---------------------------------------------------------------- the shared region

/// Static 16-aligned scratch region TypeScript lays its own typed arrays in.
pub const SCRATCH_LEN: usize = 1 << 20;
/// Bytes of one peer's sockaddr storage (sockaddr_in6 is 28; 32 keeps entries 16-aligned).
pub const ENDPOINT_LEN: usize = 32;
/// One jumbo buffer: the largest TUN super-packet tail or coalesced UDP receive (64 KiB).
pub const JUMBO_LEN: usize = 1 << 16;
/// Jumbo buffers (TypeScript splits them between TUN reads and UDP GRO receives).
pub const JUMBO_COUNT: usize = 16;
/// Accessible bytes after the last jumbo buffer (a margin: decryption needs only a
/// datagram's own bytes).
pub const JUMBO_SLACK: usize = 2048;

const _: () = assert!(SCRATCH_LEN % 16 == 0);
const _: () = assert!(ENDPOINT_LEN >= 28 && ENDPOINT_LEN % 16 == 0);
const _: () = assert!(JUMBO_LEN % 16 == 0);
const _: () = assert!(JUMBO_LEN >= MAX_PACKET_LEN); // a jumbo buffer holds any datagram

// ---------------------------------------------------------------- batches and tables

/// Batch size TypeScript sizes its arrays for (exports accept any `n` whose arrays are in bounds).
pub const MAX_BATCH: usize = 256;
/// Largest peer limit `ts_tables_init` takes: peer ids are below the limit (the Linux
/// module's MAX_PEERS_PER_DEVICE).
pub const MAX_PEERS: usize = 1 << 20;
/// Peer limit when none is set.
pub const DEFAULT_MAX_PEERS: usize = 1 << 16;
/// Largest keypair limit: keypair slots, chosen by TypeScript, are below the limit.
pub const MAX_KEYPAIRS: usize = 4 * MAX_PEERS;
/// Keypair limit when none is set: four per peer (current, previous, next, one being replaced).
pub const DEFAULT_MAX_KEYPAIRS: usize = 4 * DEFAULT_MAX_PEERS;
/// Largest prefix limit: AllowedIPs entries, both families together.
pub const MAX_PREFIXES: usize = 1 << 22;
/// Prefix limit when none is set (wireguard-go's netns.sh puts 130,560 on one peer).
pub const DEFAULT_MAX_PREFIXES: usize = 1 << 20;
/// Bytes per `ts_route_list` entry: family u8, cidr u8, 2 zero bytes, addr[16].
pub const ROUTE_ENTRY_LEN: usize = 20;
/// Bytes `ts_ip_info` writes.
pub const IP_INFO_LEN: usize = 40;
/// Bytes `ts_keypair_set` reads: send key, then receive key.
pub const KEYS_LEN: usize = 64;
/// f64s `ts_peer_stats` writes.
pub const PEER_STATS_LEN: usize = 6;
/// f64s `ts_keypair_info` writes.
pub const KEYPAIR_INFO_LEN: usize = 4;
/// f64s `ts_tables_stats` writes.
pub const TABLE_STATS_LEN: usize = 13;

const _: () = assert!(MAX_PEERS <= 1 << 20); // the AllowedIPs trie packs peer ids in 20 bits
const _: () = assert!(DEFAULT_MAX_PEERS <= MAX_PEERS && DEFAULT_MAX_KEYPAIRS <= MAX_KEYPAIRS);
const _: () = assert!(DEFAULT_MAX_PREFIXES <= MAX_PREFIXES);
const _: () = assert!(MAX_KEYPAIRS & (MAX_KEYPAIRS - 1) == 0); // the index hash has 2^k buckets
const _: () = assert!(KEYS_LEN == 2 * 32);
const _: () = assert!(ROUTE_ENTRY_LEN == 4 + 16);
const _: () = assert!(IP_INFO_LEN == 8 + 2 * 16);

// ---------------------------------------------------------------- offloads

/// `sizeof(struct virtio_net_hdr)`.
pub const VNET_HDR_LEN: usize = 10;
/// Bytes between two virtio headers in `ts_tun_ingest`'s `hdrs` array.
pub const VNET_STRIDE: usize = 16;
/// Most packets one `ts_tun_plan` call takes.
pub const MAX_PLAN: usize = 1024;
/// Bytes per unit in `ts_tun_plan`'s header area: virtio header + IP and TCP header.
pub const UNIT_HDR_STRIDE: usize = 160;
/// Most packets coalesced into one unit (the kernel's TCP GRO merges up to 64 too).
pub const MAX_UNIT_SEGS: usize = 64;
/// Bytes per unit record of `ts_tun_plan` (u32 hdr_ptr, hdr_len, first_piece, n_pieces).
pub const UNIT_STRIDE: usize = 16;
/// Bytes per piece record of `ts_tun_plan` (u32 ptr, len, packet index).
pub const PIECE_STRIDE: usize = 12;
/// f64s `ts_offload_stats` writes.
pub const OFFLOAD_STATS_LEN: usize = 6;

const _: () = assert!(VNET_STRIDE >= VNET_HDR_LEN);
const _: () = assert!(MAX_UNIT_SEGS <= MAX_PLAN);
const _: () = assert!(MAX_PLAN < 1 << 16); // packet indices in a plan are u16
const _: () = assert!(UNIT_STRIDE == 4 * 4 && PIECE_STRIDE == 3 * 4);
const _: () = assert!(UNIT_HDR_STRIDE % 16 == 0);

// ---------------------------------------------------------------- the netstack

/// Bytes of one address record: family u8 (4 or 6), a zero byte, port u16, addr[16] (IPv4 in
/// the first 4 bytes, the rest zero).
pub const NET_ADDR_LEN: usize = 20;
/// Bytes of the secret `ts_netstack_init` reads (initial sequence numbers, ephemeral ports).
pub const NET_SECRET_LEN: usize = 32;
/// Local addresses the stack answers at, both families together.
pub const NET_MAX_ADDRS: usize = 8;
/// UDP sockets.
pub const NET_MAX_UDP: usize = 1024;
/// TCP listeners.
pub const NET_MAX_LISTENERS: usize = 64;
/// TCP connections (TIME_WAIT included: the oldest one is reused when the table is full).
pub const NET_MAX_TCP: usize = 4096;
/// Datagrams queued per UDP socket before more are dropped (E_QUEUE_FULL).
pub const NET_UDP_QUEUE: usize = 64;
/// Bytes per record `ts_netstack_udp_recv` writes: slot u32, data pointer u32, data length
/// u32, a zero u32, the sender's address record.
pub const NET_DGRAM_LEN: usize = 16 + NET_ADDR_LEN;
/// Bytes per record `ts_netstack_events` writes: handle u32, readiness flags u32.
pub const NET_EVENT_LEN: usize = 8;
/// Bytes per record `ts_netstack_tcp_recv` writes: data pointer u32, length u32.
pub const NET_SEG_LEN: usize = 8;
/// f64s `ts_netstack_stats` writes.
pub const NET_STATS_LEN: usize = 21;
/// f64s `ts_netstack_tcp_info` writes.
pub const NET_TCP_INFO_LEN: usize = 16;
/// Echo requests the stack waits for a reply to (`ts_netstack_ping`; the oldest is forgotten
/// when a new one needs room), and replies kept until `ts_netstack_ping_replies` takes them.
pub const NET_MAX_PINGS: usize = 64;
/// Bytes per record `ts_netstack_ping_replies` writes: the address record of the replier, id
/// u16, seq u16, round trip ms u32, arrival (the clock of `ts_netstack_input`) u32.
pub const NET_PING_LEN: usize = NET_ADDR_LEN + 12;

const _: () = assert!(NET_ADDR_LEN == 4 + 16);
const _: () = assert!(NET_MAX_TCP <= 1 << 16 && NET_MAX_UDP <= 1 << 16); // handles hold a 16-bit index
const _: () = assert!(NET_MAX_LISTENERS <= 1 << 16);
const _: () = assert!(NET_DGRAM_LEN % 4 == 0);
const _: () = assert!(NET_PING_LEN % 4 == 0);

#[cfg(test)]
mod tests {
    /// The `pub const` names of this file, in order.
    fn names() -> Vec<String> {
        let src = include_str!("consts.rs");
        let code = src.split("#[cfg(test)]").next().unwrap_or("");
        code.lines()
            .filter_map(|l| l.strip_prefix("pub const "))
            .map(|l| l.split(':').next().unwrap_or("").to_string())
            .collect()
    }

    #[test]
    fn abi_md_lists_exactly_these_constants() {
        let abi = include_str!("../ABI.md");
        let section = abi.split("## Constants").nth(1).and_then(|s| s.split("\n## ").next()).unwrap_or("");
        let listed: Vec<String> = section
            .lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .map(|l| l.split('`').next().unwrap_or("").to_string())
            .collect();
        assert_eq!(listed, names());
        assert_eq!(listed.len(), 56);
    }
}
