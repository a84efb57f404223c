//! Level 3: per-packet logic over explicit borrows of the tables. A path module never
//! sees linear memory or the static: it asks small traits (implemented by the exports)
//! for slots and packet bytes and hands them its results. The traits are generic
//! parameters, so every loop is monomorphic, as fast as if it were written inline.
//!
//! - `transport`: WireGuard transport data, encrypt and decrypt in place.
//! - `gso`: cutting TUN super-packets into packets (`ts_tun_ingest`).
//! - `gro`: planning coalesced writes to the TUN device (`ts_tun_plan`).
//! - `netstack/`: a TCP/IP stack at the tunnel's own addresses (`ts_netstack_*`).

pub mod gro;
pub mod gso;
pub mod netstack;
pub mod transport;

/// Longest IP + L4 header a segment or unit may have (IPv4 60 + TCP 60; IPv6 40 + 60
/// leaves 28 bytes of extension headers).
pub const MAX_HDR_LEN: usize = 128;

// A compile-time check, not the runtime `assert!(true)` clippy 1.63 takes it for.
#[allow(clippy::assertions_on_constants)]
const _: () = assert!(crate::consts::VNET_HDR_LEN + MAX_HDR_LEN <= crate::consts::UNIT_HDR_STRIDE);
