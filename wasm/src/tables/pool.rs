//! The slot pool: packet slots of two classes in chunks grown from linear memory. Class 0
//! slots are `SLOT_SIZE` (2048) bytes, every packet of a common MTU; class 1 (large) slots
//! are `LARGE_SLOT_SIZE` (64 KiB), for packets longer than a small slot holds. Each class
//! grows its own chunks, lazily (no large chunk exists until a large slot is asked for); one
//! cap bounds the bytes of slots both classes together may grow to.
//!
//! Free slots are a LIFO stack of offsets per class (the most recently freed slot is
//! cache-warm); a live bitmap indexed by the class's slot number refuses double, foreign and
//! misaligned frees before anything is touched. Chunk bases only ever increase (memory only
//! grows), so an offset is mapped to its chunk by binary search, and a free needs no class:
//! the chunks say which class an offset belongs to.
//!
//! The pool never touches a slot's bytes: it hands out offsets. Where chunks come from is
//! a [`Grow`] the caller passes (`memory.grow` in the module, a fake in tests).

use crate::consts::{
    LARGE_CHUNK_SLOTS, LARGE_SLOT_SIZE, MAX_CHUNKS, MAX_LARGE_SLOTS, MAX_SLOTS, POOL_CLASS_STATS_LEN, POOL_STATS_LEN,
    SLOT_SIZE,
};
use crate::errors::*;

/// Class 0: `SLOT_SIZE` slots.
pub const SMALL: usize = 0;
/// Class 1: `LARGE_SLOT_SIZE` slots.
pub const LARGE: usize = 1;

/// Linear memory as the pool sees it: it can only grow.
pub trait Grow {
    /// Grows memory by at least `bytes` (whole 64 KiB pages, so the new region is
    /// page-aligned); returns the byte offset of the new region, or `None` if it cannot.
    fn grow(&mut self, bytes: usize) -> Option<usize>;
}

/// The slots of one size: `SIZE` bytes each, at most `SLOTS` of them (`WORDS` = SLOTS / 64).
struct Class<const SIZE: usize, const SLOTS: usize, const WORDS: usize> {
    chunk_slots: u32,
    /// Slots that exist (sum over chunks).
    capacity: u32,
    n_chunks: u32,
    chunk_base: [u32; MAX_CHUNKS],
    /// Class slot number of each chunk's first slot.
    chunk_first: [u32; MAX_CHUNKS],
    free_len: u32,
    free: [u32; SLOTS],
    live: [u64; WORDS],
    in_use: u32,
    high_water: u32,
    allocs: u64,
    frees: u64,
    refused_allocs: u64,
}

type Small = Class<SLOT_SIZE, MAX_SLOTS, { MAX_SLOTS / 64 }>;
type Large = Class<LARGE_SLOT_SIZE, MAX_LARGE_SLOTS, { MAX_LARGE_SLOTS / 64 }>;

impl<const SIZE: usize, const SLOTS: usize, const WORDS: usize> Class<SIZE, SLOTS, WORDS> {
    const ZERO: Self = Class {
        chunk_slots: 0,
        capacity: 0,
        n_chunks: 0,
        chunk_base: [0; MAX_CHUNKS],
        chunk_first: [0; MAX_CHUNKS],
        free_len: 0,
        free: [0; SLOTS],
        live: [0; WORDS],
        in_use: 0,
        high_water: 0,
        allocs: 0,
        frees: 0,
        refused_allocs: 0,
    };

    /// Adds one chunk of `n` slots (n > 0).
    fn grow<G: Grow>(&mut self, n: usize, mem: &mut G) -> bool {
        if n == 0 || self.n_chunks as usize >= MAX_CHUNKS || self.capacity as usize + n > SLOTS {
            return false;
        }
        let bytes = n * SIZE;
        let base = match mem.grow(bytes) {
            Some(b) => b,
            None => return false,
        };
        // Page-aligned (so 16-aligned) and never 0: static data sits below it.
        if base == 0 || base as u64 + bytes as u64 > u32::MAX as u64 + 1 {
            return false;
        }
        let c = self.n_chunks as usize;
        if let (Some(b), Some(f)) = (self.chunk_base.get_mut(c), self.chunk_first.get_mut(c)) {
            *b = base as u32;
            *f = self.capacity;
        }
        self.n_chunks += 1;
        self.capacity += n as u32;
        // Push in reverse so the chunk is handed out in ascending order.
        for k in (0..n).rev() {
            if let Some(f) = self.free.get_mut(self.free_len as usize) {
                *f = (base + k * SIZE) as u32;
                self.free_len += 1;
            }
        }
        true
    }

    /// A free slot's offset, marked live; 0 if none is free (not counted here).
    fn pop(&mut self) -> u32 {
        let off = match self.free_len.checked_sub(1).and_then(|i| self.free.get(i as usize)) {
            Some(&o) => o,
            None => return 0,
        };
        let g = match self.locate(off) {
            Ok(g) => g,
            Err(_) => return 0, // unreachable: every free-stack entry is a slot start
        };
        self.free_len -= 1;
        if let Some(w) = self.live.get_mut(g / 64) {
            *w |= 1 << (g % 64);
        }
        self.in_use += 1;
        self.high_water = self.high_water.max(self.in_use);
        self.allocs += 1;
        off
    }

    fn try_free(&mut self, off: u32) -> i32 {
        let g = match self.locate(off) {
            Ok(g) => g,
            Err(e) => return e,
        };
        let w = match self.live.get_mut(g / 64) {
            Some(w) => w,
            None => return E_FOREIGN,
        };
        let bit = 1u64 << (g % 64);
        if *w & bit == 0 {
            return E_NOT_LIVE;
        }
        let slot = match self.free.get_mut(self.free_len as usize) {
            Some(s) => s,
            None => return E_NOT_LIVE, // unreachable: live slots fit the stack
        };
        *w &= !bit;
        *slot = off;
        self.free_len += 1;
        self.in_use -= 1;
        self.frees += 1;
        0
    }

    /// Class slot number of `off`, or why it is not a slot start of this class.
    #[inline]
    fn locate(&self, off: u32) -> Result<usize, i32> {
        let n = self.n_chunks as usize;
        let bases = match self.chunk_base.get(..n) {
            Some(b) => b,
            None => return Err(E_FOREIGN),
        };
        // Number of chunks starting at or below `off`.
        let c = bases.partition_point(|&b| b <= off);
        if c == 0 {
            return Err(E_FOREIGN);
        }
        let c = c - 1;
        let first = self.chunk_first[c] as usize;
        let end = if c + 1 < n { self.chunk_first[c + 1] as usize } else { self.capacity as usize };
        let rel = (off - bases[c]) as usize;
        if rel >= (end - first) * SIZE {
            return Err(E_FOREIGN);
        }
        if rel % SIZE != 0 {
            return Err(E_MISALIGNED);
        }
        Ok(first + rel / SIZE)
    }

    /// slot_size, capacity, in_use, high_water, allocs, frees, refused_allocs, chunks.
    fn stats(&self) -> [f64; POOL_CLASS_STATS_LEN] {
        [
            SIZE as f64,
            self.capacity as f64,
            self.in_use as f64,
            self.high_water as f64,
            self.allocs as f64,
            self.frees as f64,
            self.refused_allocs as f64,
            self.n_chunks as f64,
        ]
    }
}

pub struct Pool {
    inited: bool,
    max_slots: u32,
    /// The cap: bytes of slots both classes together may have (`max_slots * SLOT_SIZE`).
    max_bytes: u64,
    small: Small,
    large: Large,
    /// Slots in use, both classes, and its highest value.
    high_water: u32,
    refused_frees: u64,
}

impl Pool {
    pub const ZERO: Pool = Pool {
        inited: false,
        max_slots: 0,
        max_bytes: 0,
        small: Small::ZERO,
        large: Large::ZERO,
        high_water: 0,
        refused_frees: 0,
    };

    /// Sets the geometry and grows the first chunk of small slots, so TypeScript can derive
    /// its slot pointers right after init. `max_slots * SLOT_SIZE` is the cap in bytes for
    /// both classes together.
    pub fn init<G: Grow>(&mut self, chunk_slots: u32, max_slots: u32, mem: &mut G) -> i32 {
        if self.inited || chunk_slots == 0 || max_slots == 0 || max_slots as usize > MAX_SLOTS {
            return E_BAD_ARG;
        }
        let chunk_slots = chunk_slots.min(max_slots);
        let chunks = (max_slots as usize + chunk_slots as usize - 1) / chunk_slots as usize;
        if chunks > MAX_CHUNKS {
            return E_BAD_ARG;
        }
        self.small.chunk_slots = chunk_slots;
        self.large.chunk_slots = LARGE_CHUNK_SLOTS as u32;
        self.max_slots = max_slots;
        self.max_bytes = max_slots as u64 * SLOT_SIZE as u64;
        if !self.small.grow(chunk_slots as usize, mem) {
            self.small.chunk_slots = 0;
            self.max_slots = 0;
            self.max_bytes = 0;
            return E_EXHAUSTED;
        }
        self.inited = true;
        0
    }

    /// Bytes of slots that exist, both classes.
    pub fn bytes(&self) -> u64 {
        self.small.capacity as u64 * SLOT_SIZE as u64 + self.large.capacity as u64 * LARGE_SLOT_SIZE as u64
    }

    /// Slots of `size` bytes the cap still allows.
    fn room(&self, size: usize) -> usize {
        (self.max_bytes.saturating_sub(self.bytes()) / size as u64) as usize
    }

    /// A slot of class `class` (`SMALL` or `LARGE`), growing a chunk of that class when none
    /// is free and the cap allows; 0 when at the cap or memory cannot grow (counted as refused),
    /// or for an unknown class (not counted).
    pub fn alloc<G: Grow>(&mut self, class: usize, mem: &mut G) -> u32 {
        let off = match class {
            SMALL => {
                if self.small.free_len == 0 && self.inited {
                    let n = (self.small.chunk_slots as usize)
                        .min(self.max_slots as usize - self.small.capacity as usize)
                        .min(self.room(SLOT_SIZE));
                    self.small.grow(n, mem);
                }
                let off = self.small.pop();
                if off == 0 {
                    self.small.refused_allocs += 1;
                }
                off
            }
            LARGE => {
                if self.large.free_len == 0 && self.inited {
                    let n = (self.large.chunk_slots as usize).min(self.room(LARGE_SLOT_SIZE));
                    self.large.grow(n, mem);
                }
                let off = self.large.pop();
                if off == 0 {
                    self.large.refused_allocs += 1;
                }
                off
            }
            _ => 0,
        };
        if off != 0 {
            self.high_water = self.high_water.max(self.in_use());
        }
        off
    }

    /// Slots in use, both classes.
    pub fn in_use(&self) -> u32 {
        self.small.in_use + self.large.in_use
    }

    /// Frees a live slot of either class; a refused free changes nothing but `refused_frees`.
    pub fn free(&mut self, off: u32) -> i32 {
        let r = match self.small.try_free(off) {
            E_FOREIGN if self.large.n_chunks > 0 => self.large.try_free(off),
            r => r,
        };
        if r < 0 {
            self.refused_frees += 1;
        }
        r
    }

    /// Bytes of the slot starting at `off` (`SLOT_SIZE` or `LARGE_SLOT_SIZE`), free or live;
    /// `None` if `off` is not a slot start.
    #[inline]
    pub fn slot_size_at(&self, off: u32) -> Option<usize> {
        if self.large.n_chunks > 0 && self.large.locate(off).is_ok() {
            return Some(LARGE_SLOT_SIZE);
        }
        self.small.locate(off).ok().map(|_| SLOT_SIZE)
    }

    /// True if `off` starts a slot of either class that is allocated.
    pub fn is_live(&self, off: u32) -> bool {
        let live = |g: usize, words: &[u64]| words.get(g / 64).map_or(false, |w| w & (1 << (g % 64)) != 0);
        if self.large.n_chunks > 0 {
            if let Ok(g) = self.large.locate(off) {
                return live(g, &self.large.live);
            }
        }
        self.small.locate(off).map_or(false, |g| live(g, &self.small.live))
    }

    /// True if `off` starts a large slot. No search at all while no large chunk exists,
    /// which is every packet of a tunnel whose packets fit small slots.
    #[inline]
    pub fn is_large(&self, off: u32) -> bool {
        self.large.n_chunks > 0 && self.large.locate(off).is_ok()
    }

    /// Bytes of the slot at `off` if it is a pool slot, else `SLOT_SIZE` (what a packet at an
    /// offset TypeScript owns is assumed to have).
    #[inline]
    pub fn span(&self, off: u32) -> usize {
        if self.is_large(off) {
            LARGE_SLOT_SIZE
        } else {
            SLOT_SIZE
        }
    }

    /// slot_size (of class 0), capacity (slots existing), in_use, high_water, allocs, frees,
    /// refused_allocs (both classes), refused_frees, chunks (both classes), max_slots,
    /// bytes (of slots existing, both classes), max_bytes (the cap).
    pub fn stats(&self) -> [f64; POOL_STATS_LEN] {
        let (s, l) = (&self.small, &self.large);
        [
            SLOT_SIZE as f64,
            (s.capacity + l.capacity) as f64,
            self.in_use() as f64,
            self.high_water as f64,
            (s.allocs + l.allocs) as f64,
            (s.frees + l.frees) as f64,
            (s.refused_allocs + l.refused_allocs) as f64,
            self.refused_frees as f64,
            (s.n_chunks + l.n_chunks) as f64,
            self.max_slots as f64,
            self.bytes() as f64,
            self.max_bytes as f64,
        ]
    }

    /// One class's counters (`Class::stats`), or `None` for an unknown class.
    pub fn class_stats(&self, class: usize) -> Option<[f64; POOL_CLASS_STATS_LEN]> {
        match class {
            SMALL => Some(self.small.stats()),
            LARGE => Some(self.large.stats()),
            _ => None,
        }
    }
}

impl Pool {
    /// Allocates up to `n` slots of `class`, handing each to `out(i, off)`; returns how many.
    /// Each one missing because of the cap is counted as refused.
    pub fn alloc_batch<G: Grow>(
        &mut self,
        class: usize,
        mem: &mut G,
        n: usize,
        mut out: impl FnMut(usize, u32),
    ) -> usize {
        let mut got = 0;
        while got < n {
            let off = self.alloc(class, mem);
            if off == 0 {
                // `alloc` counted this one; count the rest too.
                let rest = (n - got - 1) as u64;
                match class {
                    SMALL => self.small.refused_allocs += rest,
                    LARGE => self.large.refused_allocs += rest,
                    _ => {}
                }
                break;
            }
            out(got, off);
            got += 1;
        }
        got
    }
}

#[cfg(test)]
impl Pool {
    pub fn free_len(&self) -> u32 {
        self.small.free_len + self.large.free_len
    }
    pub fn live_word(&self, w: usize) -> u64 {
        self.small.live[w]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Memory that grows from 64 KiB up to `limit` bytes, without bytes behind it.
    pub struct FakeMemory {
        pub size: usize,
        pub limit: usize,
    }

    impl Grow for FakeMemory {
        fn grow(&mut self, bytes: usize) -> Option<usize> {
            let old = self.size;
            let new = old + (bytes + 65535) / 65536 * 65536;
            if new > self.limit {
                return None;
            }
            self.size = new;
            Some(old)
        }
    }

    #[test]
    fn chunks_come_from_grow_page_aligned_and_in_order() {
        let mut pool = crate::testing::boxed(|| Pool::ZERO);
        let mut m = FakeMemory { size: 65536, limit: 65536 + 3 * 65536 };
        assert_eq!(pool.alloc(SMALL, &mut m), 0); // before init: refused
        assert_eq!(pool.init(40, 100, &mut m), 0); // 40 slots = 80 KiB = 2 pages
        assert_eq!(m.size, 3 * 65536);
        let offs: Vec<u32> = (0..40).map(|_| pool.alloc(SMALL, &mut m)).collect();
        assert_eq!(offs[0], 65536);
        assert!(offs.windows(2).all(|w| w[1] == w[0] + SLOT_SIZE as u32));
        // The next chunk needs 2 more pages but only 1 is left: refused, nothing changes.
        assert_eq!(pool.alloc(SMALL, &mut m), 0);
        assert_eq!(pool.stats()[1], 40.0);
        m.limit = usize::MAX;
        let next = pool.alloc(SMALL, &mut m);
        assert_eq!(next, 3 * 65536);
        assert_eq!(pool.free(next + 1), E_MISALIGNED);
        assert_eq!(pool.free(offs[0] - 16), E_FOREIGN);
        assert_eq!(pool.free(next), 0);
        assert_eq!(pool.free(next), E_NOT_LIVE);
        let s = pool.stats();
        assert_eq!((s[1], s[2], s[6], s[7], s[8]), (80.0, 40.0, 2.0, 3.0, 2.0));
    }

    #[test]
    fn large_slots_grow_lazily_share_the_cap_and_free_like_small_ones() {
        let mut pool = crate::testing::boxed(|| Pool::ZERO);
        let mut m = FakeMemory { size: 65536, limit: usize::MAX };
        // Cap: 1024 small slots = 2 MiB; the first chunk is 256 small slots (512 KiB).
        assert_eq!(pool.init(256, 1024, &mut m), 0);
        assert_eq!(pool.class_stats(LARGE).unwrap()[1], 0.0); // no large slot until asked
        assert_eq!(m.size, 65536 + 512 * 1024);
        assert_eq!(pool.slot_size_at(65536), Some(SLOT_SIZE));
        assert!(!pool.is_large(65536));
        // The first large slot grows a chunk of LARGE_CHUNK_SLOTS (8 x 64 KiB, page-aligned).
        let l0 = pool.alloc(LARGE, &mut m);
        assert_eq!(l0 as usize, 65536 + 512 * 1024);
        assert_eq!(m.size, l0 as usize + LARGE_CHUNK_SLOTS * LARGE_SLOT_SIZE);
        assert!(pool.is_large(l0) && !pool.is_large(l0 + 16));
        assert_eq!(pool.slot_size_at(l0), Some(LARGE_SLOT_SIZE));
        assert_eq!(pool.span(l0), LARGE_SLOT_SIZE);
        assert_eq!(pool.span(65536), SLOT_SIZE);
        assert_eq!(pool.slot_size_at(l0 + 1), None);
        let mut large = vec![l0];
        for _ in 1..LARGE_CHUNK_SLOTS {
            large.push(pool.alloc(LARGE, &mut m));
        }
        assert!(large.windows(2).all(|w| w[1] == w[0] + LARGE_SLOT_SIZE as u32));
        // 512 KiB small + 512 KiB large exist; 1 MiB of the cap is left: 16 more large slots
        // (two more chunks), then the cap refuses (counted per class), and small slots are
        // refused past it too once their first chunk is used up.
        for _ in 0..2 * LARGE_CHUNK_SLOTS {
            large.push(pool.alloc(LARGE, &mut m));
        }
        assert!(large.iter().all(|&o| o != 0));
        assert_eq!(large.len(), 24);
        assert_eq!(pool.alloc(LARGE, &mut m), 0);
        let small: Vec<u32> = (0..256).map(|_| pool.alloc(SMALL, &mut m)).collect();
        assert!(small.iter().all(|&o| o != 0));
        assert_eq!(pool.alloc(SMALL, &mut m), 0, "the cap counts both classes");
        let s = pool.stats();
        // capacity, in_use, high_water, refused_allocs, chunks, bytes, max_bytes
        assert_eq!((s[1], s[2], s[3], s[6], s[8]), (280.0, 280.0, 280.0, 2.0, 4.0));
        assert_eq!((s[10], s[11]), (2.0 * 1048576.0, 2.0 * 1048576.0));
        let ls = pool.class_stats(LARGE).unwrap();
        assert_eq!((ls[0], ls[1], ls[2], ls[6], ls[7]), (65536.0, 24.0, 24.0, 1.0, 3.0));
        assert_eq!(pool.class_stats(SMALL).unwrap()[6], 1.0);
        assert_eq!(pool.class_stats(2), None);
        assert_eq!(pool.alloc(2, &mut m), 0);
        // Frees need no class; the checks hold for large slots too.
        assert_eq!(pool.free(large[3] + 2048), E_MISALIGNED);
        assert_eq!(pool.free(large[3]), 0);
        assert_eq!(pool.free(large[3]), E_NOT_LIVE);
        assert_eq!(pool.free(large[23] + LARGE_SLOT_SIZE as u32), E_FOREIGN);
        assert_eq!(pool.alloc(LARGE, &mut m), large[3], "LIFO per class");
        for &o in large.iter().chain(small.iter()) {
            assert_eq!(pool.free(o), 0);
        }
        let s = pool.stats();
        assert_eq!((s[2], s[3], s[7]), (0.0, 280.0, 3.0));
        let ls = pool.class_stats(LARGE).unwrap();
        assert_eq!((ls[2], ls[3], ls[4], ls[5]), (0.0, 24.0, 25.0, 25.0));
        // The freed slots are reused: no growth past the cap.
        let size = m.size;
        assert_ne!(pool.alloc(LARGE, &mut m), 0);
        assert_eq!(m.size, size);
    }

    #[test]
    fn a_partial_large_chunk_at_the_cap_and_growth_failure() {
        let mut pool = crate::testing::boxed(|| Pool::ZERO);
        let mut m = FakeMemory { size: 65536, limit: 65536 + 65536 + 3 * 65536 };
        // Cap: 200 small slots' worth (400 KiB): one small chunk of 32 (1 page), then room for
        // 5 large slots (320 KiB): a partial chunk, once memory allows it.
        assert_eq!(pool.init(32, 200, &mut m), 0);
        assert_eq!(pool.alloc(LARGE, &mut m), 0, "5 pages do not fit the 3 left");
        assert_eq!(pool.class_stats(LARGE).unwrap()[6], 1.0);
        m.limit = usize::MAX;
        let l: Vec<u32> = (0..5).map(|_| pool.alloc(LARGE, &mut m)).collect();
        assert!(l.iter().all(|&o| o != 0));
        assert_eq!(pool.alloc(LARGE, &mut m), 0);
        assert_eq!(pool.class_stats(LARGE).unwrap()[1], 5.0);
        // 32 + 5 * 32 = 192 slots' worth exist; 8 small slots are left.
        let small: Vec<u32> = (0..40).map(|_| pool.alloc(SMALL, &mut m)).collect();
        assert_eq!(small.iter().filter(|&&o| o != 0).count(), 40);
        assert_eq!(pool.alloc(SMALL, &mut m), 0);
        assert_eq!(pool.stats()[10], 200.0 * 2048.0);
        for &o in l.iter().chain(small.iter()) {
            assert_eq!(pool.free(o), 0);
        }
        assert_eq!(pool.in_use(), 0);
    }

    #[test]
    fn is_live_follows_alloc_and_free() {
        let mut pool = crate::testing::boxed(|| Pool::ZERO);
        let mut m = FakeMemory { size: 65536, limit: 64 << 20 };
        assert_eq!(pool.init(32, 256, &mut m), 0);
        let (a, l) = (pool.alloc(SMALL, &mut m), pool.alloc(LARGE, &mut m));
        assert!(pool.is_live(a) && pool.is_live(l));
        assert!(!pool.is_live(a + 1) && !pool.is_live(a + SLOT_SIZE as u32) && !pool.is_live(1));
        assert_eq!((pool.free(a), pool.free(l)), (0, 0));
        assert!(!pool.is_live(a) && !pool.is_live(l));
    }
}
