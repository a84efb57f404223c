//! Level 2: bounds-checked access to linear memory, the only place where a `u32` pointer
//! from TypeScript becomes a Rust slice (and, with the one static in `exports/`, the only
//! `unsafe` in the crate), and the tables' page allocator ([`pages`]).
//!
//! TypeScript may point into exactly two regions:
//! - the [`Shared`] region (the scratch area and the jumbo buffers for offloaded
//!   super-packets), the first part of the one static, and
//! - `[__heap_base, memory size)`: the slab chunks, the peers' sockaddr pages and anything
//!   else grown at run time, **except the private pages** the tables took for themselves.
//!
//! Everything else (Rust's stack, the private tunnel that follows the shared region in the
//! static, and the tables' private pages) is refused, so a pointer from TypeScript can never
//! alias memory Rust holds references to. A zero-length range is always accepted (as an empty
//! slice, whatever the pointer) so `aad = 0, aad_len = 0` works.
//!
//! A [`Mem`] is this rule as a value: it knows where the shared region lies and where the
//! page map is. The exports make one per call; nothing below them does.
//!
//! On the host (`cfg(test)`) "linear memory" is a per-thread, 64 KiB-aligned zeroed
//! allocation with the same layout rules (the instance static sits at [`HOST_SHARED`]), so
//! pool, transport and offload logic are unit-tested with the same offset checks.

use crate::consts::{JUMBO_COUNT, JUMBO_LEN, JUMBO_SLACK, SCRATCH_LEN};

pub mod pages;

pub use pages::PageMap;

/// The wasm page size.
pub const PAGE: usize = 65536;
const JUMBO_AREA: usize = JUMBO_LEN * JUMBO_COUNT + JUMBO_SLACK;

/// The region TypeScript may read and write directly (the first field of the one static).
#[repr(C, align(16))]
pub struct Shared {
    scratch: [u8; SCRATCH_LEN],
    /// Untouched (so not resident) unless offloads are on.
    jumbo: [u8; JUMBO_AREA],
}

impl Shared {
    /// All zero, so the static lives in `.bss` and costs nothing in the file.
    pub const ZERO: Shared = Shared { scratch: [0; SCRATCH_LEN], jumbo: [0; JUMBO_AREA] };
}

const SHARED_LEN: usize = core::mem::size_of::<Shared>();
const JUMBO_OFF: usize = SCRATCH_LEN;
// A compile-time check, not the runtime `assert!(true)` clippy 1.63 takes it for.
#[allow(clippy::assertions_on_constants)]
const _: () = assert!(SHARED_LEN == JUMBO_OFF + JUMBO_AREA);

#[cfg(not(test))]
mod backend {
    use super::PAGE;
    use core::arch::wasm32;

    extern "C" {
        // Synthesized by wasm-ld: first byte after Rust's stack, data and .bss.
        static __heap_base: u8;
    }

    pub fn heap_base() -> usize {
        // SAFETY: only the address is taken; no reference to the symbol is created.
        unsafe { core::ptr::addr_of!(__heap_base) as usize }
    }
    pub fn size() -> usize {
        wasm32::memory_size(0) * PAGE
    }
    /// Grows memory by `pages`; returns the byte offset of the new region.
    pub fn grow(pages: usize) -> Option<usize> {
        let old = wasm32::memory_grow(0, pages);
        if old == usize::MAX {
            None
        } else {
            Some(old * PAGE)
        }
    }
    pub fn at(off: usize) -> *mut u8 {
        off as *mut u8
    }
    pub fn offset_of(p: *const u8) -> usize {
        p as usize
    }
}

/// Grows memory by `pages` pages; the byte offset of the new region (`memory.grow`).
pub fn grow(pages: usize) -> Option<usize> {
    backend::grow(pages)
}

/// Current size of linear memory in bytes.
pub fn size() -> usize {
    backend::size()
}

/// Linear memory as TypeScript may address it: the shared region at a known place and the
/// heap without the tables' private pages. Copy it freely; every view it hands out is checked
/// against all three. It is also the tables' page allocator ([`pages`]).
#[derive(Clone, Copy)]
pub struct Mem {
    shared: usize,
    pages: *mut PageMap,
}

impl Mem {
    /// # Safety
    /// `shared` must be the linear-memory address of the one [`Shared`] region, the part of
    /// the static no Rust reference covers, and every other static Rust data must lie below
    /// the heap base. `pages` must point at the instance's one [`PageMap`], which nothing but
    /// `Mem` ever references (its methods take short-lived references, never two at once).
    pub unsafe fn new(shared: usize, pages: *mut PageMap) -> Mem {
        Mem { shared, pages }
    }

    /// Start of `(ptr, len)` if the whole range is accessible to TypeScript.
    #[inline]
    fn check(self, ptr: u32, len: usize) -> Option<usize> {
        let start = ptr as usize;
        let end = start.checked_add(len)?;
        let sh = self.shared;
        if start >= sh && end <= sh + SHARED_LEN {
            return Some(start);
        }
        // SAFETY: a short-lived shared view of the page map (`new`'s contract).
        if start >= backend::heap_base() && end <= backend::size() && !unsafe { &*self.pages }.overlaps(start, end) {
            return Some(start);
        }
        None
    }

    /// A page of `N` values of `T`, each `init`, that TypeScript cannot reach (every range
    /// touching it is refused from now on) and that is Rust's for good, unless given back with
    /// [`Mem::release_private`]. A free private page is reused first, else memory grows by one
    /// page (so **this may detach `memory.buffer`**). `None` if `[T; N]` does not fit a page
    /// or memory cannot grow.
    pub fn private_page<'p, T: Copy, const N: usize>(self, init: T) -> Option<&'p mut [T; N]> {
        if core::mem::size_of::<[T; N]>() > PAGE || core::mem::align_of::<T>() > PAGE {
            return None;
        }
        // SAFETY: the only reference to the page map for the duration of this call.
        let map = unsafe { &mut *self.pages };
        let page = match map.free_head() {
            Some(p) => {
                // SAFETY: a free private page: its first 4 bytes hold the link `push` wrote.
                let next = unsafe { core::ptr::read_unaligned(backend::at(p * PAGE) as *const u32) };
                map.pop(next);
                p
            }
            None => {
                let off = backend::grow(1)?;
                map.mark(off / PAGE);
                off / PAGE
            }
        };
        let ptr = backend::at(page * PAGE) as *mut T;
        // SAFETY: the page is private (no TypeScript view can reach it), page-aligned (so
        // aligned for `T`), at least `size_of::<[T; N]>()` bytes, and referenced by nothing
        // else: a fresh page, or a free one whose last reference `release_private` consumed.
        unsafe {
            for i in 0..N {
                ptr.add(i).write(init);
            }
            Some(&mut *(ptr as *mut [T; N]))
        }
    }

    /// Gives a page from [`Mem::private_page`] back: it stays private and is handed out again
    /// before memory grows. A reference that is not such a page is ignored.
    ///
    /// # Safety
    /// `page` is the page's only reference, and neither it nor anything derived from it is
    /// used afterwards (the tables pass their `'static` reference by value).
    pub unsafe fn release_private<T: Copy, const N: usize>(self, page: &mut [T; N]) {
        let off = backend::offset_of(page.as_ptr() as *const u8);
        // SAFETY: the only reference to the page map for the duration of this call.
        let map = &mut *self.pages;
        if off % PAGE != 0 || !map.is_private(off / PAGE) {
            return;
        }
        let next = map.push(off / PAGE);
        // `page` was the page's only reference (the contract); it is private, so nobody else
        // reads these bytes until `private_page` pops it.
        core::ptr::write_unaligned(backend::at(off) as *mut u32, next);
    }

    /// A new zeroed page TypeScript may address, like a slab chunk (memory grows by one page:
    /// **this may detach `memory.buffer`**); its offset, or `None` if memory cannot grow.
    pub fn public_page(self) -> Option<u32> {
        let off = backend::grow(1)?;
        // SAFETY: the only reference to the page map for the duration of this call.
        unsafe { &mut *self.pages }.count_public();
        Some(off as u32)
    }

    /// Private pages in use, private pages free, public pages.
    pub fn page_counts(self) -> (u32, u32, u32) {
        // SAFETY: a short-lived shared view of the page map.
        unsafe { &*self.pages }.counts()
    }

    /// `true` if `(ptr, len)` is accessible; `len` is u64 so `n * stride` products cannot wrap.
    pub fn valid(self, ptr: u32, len: u64) -> bool {
        len == 0 || (len <= u32::MAX as u64 && self.check(ptr, len as usize).is_some())
    }

    /// Read-only view of `(ptr, len)`, for as long as the caller likes (`'m`: linear memory
    /// never shrinks). Callers hold at most one view of a range at a time and never across
    /// another call that could hand out an overlapping mutable view.
    #[inline]
    pub fn bytes<'m>(self, ptr: u32, len: usize) -> Option<&'m [u8]> {
        if len == 0 {
            return Some(&[]);
        }
        let start = self.check(ptr, len)?;
        // SAFETY: the range lies inside linear memory that TypeScript owns (see module doc),
        // so it is not any Rust object; wasm memory never shrinks, so it stays valid.
        Some(unsafe { core::slice::from_raw_parts(backend::at(start), len) })
    }

    /// Mutable view of `(ptr, len)`; same rules as [`Mem::bytes`].
    #[inline]
    pub fn bytes_mut<'m>(self, ptr: u32, len: usize) -> Option<&'m mut [u8]> {
        if len == 0 {
            return Some(&mut []);
        }
        let start = self.check(ptr, len)?;
        // SAFETY: as in `bytes`.
        Some(unsafe { core::slice::from_raw_parts_mut(backend::at(start), len) })
    }

    /// Copies `N` bytes at `ptr` out (keys, nonces: copied so they may overlap the buffer).
    pub fn read<const N: usize>(self, ptr: u32) -> Option<[u8; N]> {
        let src = self.bytes(ptr, N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(src);
        Some(out)
    }

    /// Copies `data` to `ptr`; `false` (nothing written) if out of bounds.
    pub fn write(self, ptr: u32, data: &[u8]) -> bool {
        match self.bytes_mut(ptr, data.len()) {
            Some(dst) => {
                dst.copy_from_slice(data);
                true
            }
            None => false,
        }
    }

    /// Writes `vals` as little-endian f64s (how 64-bit counters cross the ABI).
    pub fn write_f64s(self, ptr: u32, vals: &[f64]) -> bool {
        let dst = match self.bytes_mut(ptr, vals.len() * 8) {
            Some(d) => d,
            None => return false,
        };
        for (d, v) in dst.chunks_exact_mut(8).zip(vals) {
            d.copy_from_slice(&v.to_le_bytes());
        }
        true
    }

    /// Validates `n` u32s at `ptr` (no alignment needed: wasm loads are unaligned-safe).
    pub fn words(self, ptr: u32, n: u32) -> Option<Words> {
        if n == 0 {
            return Some(Words { start: 0, n: 0 });
        }
        let len = (n as usize).checked_mul(4)?;
        let start = self.check(ptr, len)?;
        Some(Words { start, n: n as usize })
    }

    /// Pointer to the scratch region.
    pub fn scratch_ptr(self) -> u32 {
        self.shared as u32
    }

    /// Pointer to the first jumbo buffer; buffer `i` is at `+ i * JUMBO_LEN` (16-aligned).
    pub fn jumbo_ptr(self) -> u32 {
        (self.shared + JUMBO_OFF) as u32
    }

    /// True if `(ptr, len)` lies inside the jumbo area (slack included): such a range can
    /// never alias a pool slot.
    pub fn in_jumbo(self, ptr: u32, len: usize) -> bool {
        let start = self.shared + JUMBO_OFF;
        let p = ptr as usize;
        p >= start && p.checked_add(len).map_or(false, |end| end <= start + JUMBO_AREA)
    }
}

/// A validated array of `n` u32s (offset lists, lengths, result codes). Elements are read
/// and written one at a time through raw pointers, never as a long-lived slice, so the
/// arrays may sit anywhere (even overlapping each other) without aliasing a slot view.
#[derive(Clone, Copy)]
pub struct Words {
    start: usize,
    n: usize,
}

impl Words {
    /// Number of elements.
    pub fn count(&self) -> usize {
        self.n
    }
    /// Element `i`, or 0 if `i` is out of range.
    #[inline]
    pub fn get(&self, i: usize) -> u32 {
        if i >= self.n {
            return 0;
        }
        // SAFETY: `start + 4n` was bounds-checked by `words`; memory never shrinks.
        unsafe { core::ptr::read_unaligned(backend::at(self.start + 4 * i) as *const u32) }
    }
    /// Sets element `i`; ignored if `i` is out of range.
    #[inline]
    pub fn set(&self, i: usize, v: u32) {
        if i >= self.n {
            return;
        }
        // SAFETY: as in `get`.
        unsafe { core::ptr::write_unaligned(backend::at(self.start + 4 * i) as *mut u32, v) }
    }
}

// ---------------------------------------------------------------- the host's fake memory

#[cfg(test)]
mod backend {
    use super::PAGE;
    use std::alloc::{alloc_zeroed, dealloc, Layout};
    use std::cell::Cell;

    /// Where the instance static (the shared region first) sits in the fake memory.
    pub const HOST_SHARED: usize = PAGE;
    /// Where the fake heap starts: above the whole instance (`exports` asserts it fits).
    pub const HOST_HEAP_BASE: usize = 512 * PAGE;
    /// Reserved (lazily zeroed) size of one thread's fake memory.
    pub const HOST_MAX: usize = 4096 * PAGE;

    thread_local! {
        static BASE: Cell<*mut u8> = Cell::new(core::ptr::null_mut());
        static SIZE: Cell<usize> = Cell::new(HOST_HEAP_BASE);
        static LIMIT: Cell<usize> = Cell::new(HOST_MAX);
    }

    fn layout() -> Layout {
        match Layout::from_size_align(HOST_MAX, PAGE) {
            Ok(l) => l,
            Err(_) => panic!("layout"),
        }
    }
    fn base() -> *mut u8 {
        BASE.with(|b| {
            if b.get().is_null() {
                // SAFETY: non-zero size layout; calloc-style lazily zeroed pages.
                let p = unsafe { alloc_zeroed(layout()) };
                assert!(!p.is_null(), "host memory");
                b.set(p);
            }
            b.get()
        })
    }
    /// Fresh, zeroed memory for this thread (a new "instance", its static zeroed too).
    pub fn reset() {
        BASE.with(|b| {
            if !b.get().is_null() {
                // SAFETY: allocated above with the same layout; the caller holds no view.
                unsafe { dealloc(b.get(), layout()) };
                b.set(core::ptr::null_mut());
            }
        });
        SIZE.with(|s| s.set(HOST_HEAP_BASE));
        LIMIT.with(|l| l.set(HOST_MAX));
    }
    /// Caps how far this thread's memory may grow (to test `memory.grow` failure).
    pub fn set_limit(bytes: usize) {
        LIMIT.with(|l| l.set(bytes.min(HOST_MAX)));
    }
    pub fn heap_base() -> usize {
        HOST_HEAP_BASE
    }
    pub fn size() -> usize {
        SIZE.with(|s| s.get())
    }
    pub fn grow(pages: usize) -> Option<usize> {
        let old = size();
        let new = old.checked_add(pages.checked_mul(PAGE)?)?;
        if new > LIMIT.with(|l| l.get()) {
            return None;
        }
        SIZE.with(|s| s.set(new));
        Some(old)
    }
    pub fn at(off: usize) -> *mut u8 {
        base().wrapping_add(off)
    }
    pub fn offset_of(p: *const u8) -> usize {
        (p as usize).wrapping_sub(base() as usize)
    }
}

#[cfg(test)]
pub use backend::{
    at as host_at, offset_of, reset as host_reset, set_limit as host_set_limit, HOST_HEAP_BASE, HOST_SHARED,
};

#[cfg(test)]
mod tests {
    use super::*;

    /// A Mem over this thread's fake memory, with a page map of its own (leaked).
    fn host_mem() -> Mem {
        host_reset();
        let map: &'static mut PageMap = Box::leak(Box::new(PageMap::ZERO));
        // SAFETY: on the host the shared region sits at HOST_SHARED (module doc); the map is
        // referenced by this Mem only.
        unsafe { Mem::new(HOST_SHARED, map) }
    }

    #[test]
    fn regions() {
        let m = host_mem();
        let sp = m.scratch_ptr();
        assert!(m.bytes(sp, SCRATCH_LEN).is_some());
        assert!(m.bytes(sp, SCRATCH_LEN + 1).is_some()); // runs into the jumbo area: same region
        assert!(m.bytes(sp - 1, 1).is_none()); // private memory below
                                               // The jumbo area follows the scratch area and ends the shared region; the private
                                               // tunnel right after it is refused.
        assert_eq!(m.jumbo_ptr(), sp + SCRATCH_LEN as u32);
        assert_eq!(m.jumbo_ptr() % 16, 0);
        assert!(m.bytes(m.jumbo_ptr(), JUMBO_AREA).is_some());
        assert!(m.bytes(m.jumbo_ptr(), JUMBO_AREA + 1).is_none());
        assert!(m.bytes(m.jumbo_ptr() + JUMBO_AREA as u32, 1).is_none());
        assert!(m.in_jumbo(m.jumbo_ptr(), JUMBO_AREA));
        assert!(!m.in_jumbo(m.jumbo_ptr(), JUMBO_AREA + 1));
        assert!(!m.in_jumbo(m.jumbo_ptr() - 1, 1));
        assert!(!m.in_jumbo(u32::MAX, 2));
        assert!(m.bytes(0, 1).is_none());
        assert!(m.bytes(0, 0).is_some());
        let top = size() as u32;
        assert!(m.bytes(top, 1).is_none());
        assert!(m.bytes(top - 4, 4).is_none()); // fresh host memory: nothing above heap_base yet
        assert!(m.bytes(u32::MAX, 2).is_none());
        let off = grow(1).unwrap() as u32;
        assert_eq!(off, top);
        assert!(m.write(off + PAGE as u32 - 8, &[1; 8]));
        assert_eq!(m.read::<8>(off + PAGE as u32 - 8), Some([1; 8]));
        assert!(m.words(off, (PAGE / 4) as u32).is_some());
        assert!(m.words(off, (PAGE / 4) as u32 + 1).is_none());
        assert!(m.words(off, u32::MAX).is_none());
        let w = m.words(off, 2).unwrap();
        w.set(1, 0xdead_beef);
        assert_eq!(w.get(1), 0xdead_beef);
        assert_eq!(w.get(2), 0);
        assert!(m.write_f64s(off, &[1.5, 2.0]));
        assert_eq!(m.read::<8>(off), Some(1.5f64.to_le_bytes()));
        assert!(!m.valid(off, u64::from(u32::MAX) + 1));
        assert!(m.valid(0, 0));
    }

    #[test]
    fn private_pages_are_refused_public_ones_are_not_and_given_back_pages_come_back() {
        let m = host_mem();
        let a = grow(1).unwrap() as u32; // a slab chunk, say
        let p: &'static mut [u64; 8192] = m.private_page(7u64).unwrap();
        assert!(p.iter().all(|&x| x == 7));
        let poff = offset_of(p.as_ptr() as *const u8) as u32;
        assert_eq!(poff, a + PAGE as u32);
        let b = m.public_page().unwrap();
        assert_eq!(b, poff + PAGE as u32);
        assert!(m.bytes(a, PAGE).is_some());
        assert!(m.bytes(b, PAGE).is_some());
        assert!(m.bytes(poff, 1).is_none());
        assert!(m.bytes(poff + PAGE as u32 - 1, 1).is_none());
        assert!(m.bytes(a + PAGE as u32 - 1, 2).is_none()); // straddles into the private page
        assert!(m.bytes(a, 3 * PAGE).is_none());
        assert!(m.bytes(poff, 0).is_some()); // zero length: always
        assert_eq!(m.page_counts(), (1, 0, 1));
        p[5] = 9;
        // SAFETY: `p` is moved in and not used again.
        unsafe { m.release_private(p) };
        assert_eq!(m.page_counts(), (0, 1, 1));
        assert!(m.bytes(poff, 1).is_none(), "a free private page stays private");
        let q: &'static mut [u32; 10] = m.private_page(3u32).unwrap();
        assert_eq!(offset_of(q.as_ptr() as *const u8) as u32, poff, "reused before growing");
        assert_eq!(q, &[3; 10]);
        assert_eq!(m.page_counts(), (1, 0, 1));
        let too_big: Option<&'static mut [u8; PAGE + 1]> = m.private_page(0u8);
        assert!(too_big.is_none());
        host_set_limit(size());
        let none: Option<&'static mut [u8; 16]> = m.private_page(0u8);
        assert!(none.is_none());
        assert!(m.public_page().is_none());
    }
}
