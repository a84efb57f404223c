//! Level 2: the tunnel's tables, plain structs with methods. They hold no static and
//! never see linear memory: slot offsets are numbers to them, and the memory they grow by
//! comes from a [`Pages`] their caller passes (the exports' page allocator over linear memory,
//! the heap in tests), in chunks of one page ([`chunked`]).

pub mod allowed_ips;
pub mod chunked;
pub mod drops;
pub mod keypairs;
pub mod peers;
pub mod pool;
pub mod replay;
pub mod sockets;
pub mod tcb;

/// Bytes of one page the tables grow by (the wasm page).
pub const PAGE: usize = 1 << 16;

/// Where the tables get memory: whole pages, valid for `'a` (the instance's life: the tables
/// live in the one static, so `'static`) unless given back.
pub trait Pages<'a> {
    /// A page of `N` values `init` that only Rust reaches; `None` if memory cannot grow (or
    /// `[T; N]` does not fit a page).
    fn private<T: Copy, const N: usize>(&mut self, init: T) -> Option<&'a mut [T; N]>;
    /// Gives a page from [`Pages::private`] back for reuse.
    fn release<T: Copy, const N: usize>(&mut self, page: &'a mut [T; N]);
    /// A new zeroed page TypeScript may address (the peers' sockaddrs): its offset in linear
    /// memory, or `None` if memory cannot grow.
    fn public(&mut self) -> Option<u32>;
}
