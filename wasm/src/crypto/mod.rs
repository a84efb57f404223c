//! Level 1: ChaCha20, Poly1305 and their AEAD; X25519 over its field; BLAKE2s with the
//! HMAC and KDF WireGuard builds on it. Pure functions over slices.

pub mod aead;
pub mod u32x4;
pub mod chacha20;
pub mod poly1305;
pub mod poly1305_limbs;
pub mod poly1305x4;
pub mod field25519;
pub mod field25519x2;
pub mod edwards25519;
pub mod x25519;
pub mod blake2s;
