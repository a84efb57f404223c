//! Level 1: ChaCha20, Poly1305 and their AEAD, as pure functions over slices.

pub mod aead;
pub mod chacha20;
pub mod poly1305;
