//! Level 1: views over packet bytes (smoltcp-style `Packet<T: AsRef<[u8]>>`):
//! `new_checked` = `new_unchecked` + `check_len`, getters and setters, byte ranges in
//! `mod field`. No other module reads or writes a header field by its offset.

pub mod checksum;
pub mod icmp;
pub mod ip;
pub mod message;
pub mod tcp;
pub mod udp;
pub mod vnet;
