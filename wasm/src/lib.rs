//! tunslab data plane: a slab pool of packet slots in linear memory, IP parsing,
//! ChaCha20-Poly1305 and WireGuard transport, all in place in the slots.
//! The ABI is described in `../ABI.md`.
#![cfg_attr(not(test), no_std)]

pub mod consts;
pub mod errors;
pub mod wire;
pub mod crypto;
pub mod mem;
pub mod state;
pub mod stats;
pub mod slab;
pub mod replay;
pub mod allowed_ips;
pub mod keypairs;
pub mod peers;
pub mod transport;
pub mod offload;

#[cfg(all(not(test), target_arch = "wasm32"))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}
