//! The one private, mutable static: every table the exports share. All fields are valid
//! when zeroed, so the static is `.bss` (no file size) and a fresh instance needs no init.
//!
//! A wasm instance is single-threaded and no export re-enters another, so each export
//! takes `state()` once at the top and passes `&mut` pieces down; nothing else touches it.
//! TypeScript pointers can never reach it (`mem.rs` refuses every range outside the
//! shared static and the heap), so those `&mut` are never aliased.

use crate::allowed_ips::AllowedIps;
use crate::keypairs::Keypairs;
use crate::offload::{OffloadStats, Plan};
use crate::peers::Peers;
use crate::slab::Pool;
use crate::stats::Drops;

pub struct State {
    pub pool: Pool,
    pub drops: Drops,
    pub peers: Peers,
    pub keypairs: Keypairs,
    pub routes: AllowedIps,
    pub offload: OffloadStats,
    pub plan: Plan,
}

#[cfg(not(test))]
mod backend {
    use super::*;

    static mut STATE: State = State {
        pool: Pool::ZERO,
        drops: Drops::ZERO,
        peers: Peers::ZERO,
        keypairs: Keypairs::ZERO,
        routes: AllowedIps::ZERO,
        offload: OffloadStats::ZERO,
        plan: Plan::ZERO,
    };

    pub fn state() -> &'static mut State {
        // SAFETY: single-threaded instance; each export calls this once (module doc).
        unsafe { &mut *core::ptr::addr_of_mut!(STATE) }
    }
}

#[cfg(test)]
mod backend {
    use super::State;
    use std::alloc::{alloc_zeroed, dealloc, Layout};
    use std::cell::Cell;

    // One State per test thread ("one instance per test"), zero-allocated on the heap
    // because it is far too big for a test thread's stack.
    thread_local! {
        static STATE: Cell<*mut State> = Cell::new(core::ptr::null_mut());
    }

    pub fn state() -> &'static mut State {
        STATE.with(|s| {
            if s.get().is_null() {
                // SAFETY: State is valid all-zero (module doc); non-zero size.
                let p = unsafe { alloc_zeroed(Layout::new::<State>()) } as *mut State;
                assert!(!p.is_null(), "host state");
                s.set(p);
            }
            // SAFETY: thread-local, leaked until `reset`; tests follow the one-`state()`-
            // per-export rule too.
            unsafe { &mut *s.get() }
        })
    }

    pub fn reset() {
        STATE.with(|s| {
            if !s.get().is_null() {
                // SAFETY: allocated above with the same layout; no reference outlives a test step.
                unsafe { dealloc(s.get() as *mut u8, Layout::new::<State>()) };
                s.set(core::ptr::null_mut());
            }
        });
    }
}

pub use backend::state;

/// A fresh instance for the calling test thread: zeroed state and zeroed memory.
#[cfg(test)]
pub fn fresh() {
    backend::reset();
    crate::mem::host_reset();
}
