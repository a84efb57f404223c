//! tunslab data plane: a slab pool of packet slots in linear memory, IP parsing,
//! ChaCha20-Poly1305 and WireGuard transport, TUN offloads, all in place in the slots.
//! The ABI is described in `../ABI.md`, the layout of the crate in its last part.
//!
//! A module imports only from the levels below it:
//!
//! | level | modules |
//! | --- | --- |
//! | 0 | `consts`, `errors` |
//! | 1 | `wire`, `crypto` |
//! | 2 | `mem`, `tables` |
//! | 3 | `path` |
//! | 4 | `tunnel` |
//! | 5 | `exports` |
#![cfg_attr(not(test), no_std)]

pub mod consts;
pub mod errors;
pub mod wire;
pub mod crypto;
pub mod mem;
pub mod tables;
pub mod path;
pub mod tunnel;
pub mod exports;

#[cfg(all(not(test), target_arch = "wasm32"))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

/// Helpers for the host tests.
#[cfg(test)]
pub mod testing {
    /// `make()` on the heap. The tables are megabytes, far more than a test thread's stack
    /// holds, and a debug build puts a value on the stack before boxing it: so the value is
    /// made and boxed on a thread with a stack big enough.
    pub fn boxed<T: Send + 'static>(make: fn() -> T) -> Box<T> {
        let worker = std::thread::Builder::new().stack_size(256 << 20).spawn(move || Box::new(make()));
        match worker.map(|w| w.join()) {
            Ok(Ok(b)) => b,
            _ => panic!("boxed: the worker thread failed"),
        }
    }

    /// Pages for the tables' tests from the heap (leaked): at most `limit` in use at once;
    /// public pages are made-up offsets (nothing behind them).
    pub struct HeapPages {
        pub limit: usize,
        pub taken: usize,
        pub released: usize,
        pub public: u32,
    }

    impl HeapPages {
        pub fn new(limit: usize) -> HeapPages {
            HeapPages { limit, taken: 0, released: 0, public: 0 }
        }
        pub fn unlimited() -> HeapPages {
            HeapPages::new(usize::MAX)
        }
        /// Pages in use.
        pub fn in_use(&self) -> usize {
            self.taken - self.released
        }
    }

    impl<'a> crate::tables::Pages<'a> for HeapPages {
        fn private<T: Copy, const N: usize>(&mut self, init: T) -> Option<&'a mut [T; N]> {
            if self.in_use() >= self.limit || core::mem::size_of::<[T; N]>() > crate::tables::PAGE {
                return None;
            }
            let b: Box<[T; N]> = vec![init; N].into_boxed_slice().try_into().ok()?;
            self.taken += 1;
            Some(Box::leak(b))
        }
        fn release<T: Copy, const N: usize>(&mut self, _page: &'a mut [T; N]) {
            self.released += 1;
        }
        fn public(&mut self) -> Option<u32> {
            self.public += 1;
            Some(0x1000_0000 + self.public * crate::tables::PAGE as u32)
        }
    }
}
