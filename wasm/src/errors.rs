//! Result codes shared by every export (boringtun-style flat error set, as negative `i32`s).
//! Success is `>= 0`. For every code `c` above -100, `-c` is also the index of its drop
//! counter (see `tables/drops.rs`), so one array counts every reason a packet died. Codes of
//! -100 and below ([`HANDSHAKE`], the netstack's call results) are never drops.

/// Buffer shorter than the header says / than a minimum.
pub const E_TRUNCATED: i32 = -1;
/// IP version not 4 or 6.
pub const E_BAD_VERSION: i32 = -2;
/// IPv4 IHL < 5 or the header is longer than the bytes.
pub const E_BAD_HEADER_LEN: i32 = -3;
/// IPv4 total length / IPv6 payload length + 40 larger than the bytes, or shorter than the header.
pub const E_BAD_TOTAL_LEN: i32 = -4;
/// Free of a slot that is not allocated (double free).
pub const E_NOT_LIVE: i32 = -5;
/// Offset inside a slab chunk but not at a slot start.
pub const E_MISALIGNED: i32 = -6;
/// Offset outside every slab chunk.
pub const E_FOREIGN: i32 = -7;
/// Pool at its cap (or memory could not grow).
pub const E_EXHAUSTED: i32 = -8;
/// AEAD tag mismatch.
pub const E_AUTH: i32 = -9;
/// Counter replayed, too old for the window, or at the reject limit.
pub const E_REPLAY: i32 = -10;
/// No AllowedIPs entry for the inner destination.
pub const E_NO_ROUTE: i32 = -11;
/// Peer has no usable send keypair.
pub const E_NO_KEY: i32 = -12;
/// Transport receiver_index is not a live keypair.
pub const E_UNKNOWN_INDEX: i32 = -13;
/// Inner source address is not in the sending peer's AllowedIPs.
pub const E_NOT_ALLOWED: i32 = -14;
/// Message type not 1..4 or reserved bytes non-zero.
pub const E_BAD_TYPE: i32 = -15;
/// Handshake message of the wrong length, or transport message shorter than 32 bytes.
pub const E_BAD_MSG_LEN: i32 = -16;
/// Does not fit the slot after padding and tag.
pub const E_TOO_BIG: i32 = -17;
/// Argument out of range (peer id, family, cidr, pointer range, ...).
pub const E_BAD_ARG: i32 = -18;
/// Keypair counter at REJECT_AFTER_MESSAGES or marked expired.
pub const E_KEY_EXPIRED: i32 = -19;
/// Prefix or keypair table full.
pub const E_TABLE_FULL: i32 = -20;
/// A checksum did not verify (the netstack's input: IPv4 header, ICMP, UDP, TCP).
pub const E_CHECKSUM: i32 = -21;
/// A TUN super-packet whose virtio header does not match its headers (GSO type vs IP
/// version or protocol, checksum offsets, gso_size 0).
pub const E_BAD_GSO: i32 = -22;
/// Netstack: the destination is not one of the stack's addresses.
pub const E_NOT_LOCAL: i32 = -23;
/// Netstack: an IP fragment, an IPv6 extension header, or a protocol or ICMP type the stack
/// does not handle.
pub const E_UNSUPPORTED: i32 = -24;
/// Netstack: no UDP socket bound to the port, or no TCP connection or listener for the
/// segment (a TCP segment is answered with a RST).
pub const E_NO_SOCKET: i32 = -25;
/// Netstack: a socket's datagram queue, a connection's buffers, a listener's backlog or the
/// output ring is full.
pub const E_QUEUE_FULL: i32 = -26;
/// Netstack: a TCP segment the connection cannot accept in its state (outside the window, an
/// old duplicate, an ACK of nothing sent); answered with an ACK where RFC 9293 says so.
pub const E_OUT_OF_WINDOW: i32 = -27;
/// Not a drop: a handshake/cookie message of exact length, left for TypeScript.
pub const HANDSHAKE: i32 = -100;
/// Not a drop: nothing now (no datagram, data or connection queued; the send buffer or the
/// output ring full); try again after the next event.
pub const E_AGAIN: i32 = -101;
/// Not a drop: the connection is not in a state for this call (not established yet, closed
/// for sending, reset, or already released).
pub const E_NOT_CONNECTED: i32 = -102;
/// Not a drop: the local address and port are taken.
pub const E_ADDR_IN_USE: i32 = -103;

/// Size of the drop-counter array (index 0 unused; 1..31 = codes -1..-31).
pub const N_CODES: usize = 32;
