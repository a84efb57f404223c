//! The slot pool: fixed 2048-byte packet slots in chunks grown from linear memory.
//!
//! Free slots are a LIFO stack of offsets (the most recently freed slot is cache-warm);
//! a live bitmap indexed by global slot number refuses double, foreign and misaligned
//! frees before anything is touched. Chunk bases only ever increase (memory only grows),
//! so an offset is mapped to its chunk by binary search.
//!
//! The pool never touches a slot's bytes: it hands out offsets. Where chunks come from is
//! a [`Grow`] the caller passes (`memory.grow` in the module, a fake in tests).

use crate::consts::{MAX_CHUNKS, MAX_SLOTS, POOL_STATS_LEN, SLOT_SIZE};
use crate::errors::*;

/// Linear memory as the pool sees it: it can only grow.
pub trait Grow {
    /// Grows memory by at least `bytes` (whole 64 KiB pages, so the new region is
    /// page-aligned); returns the byte offset of the new region, or `None` if it cannot.
    fn grow(&mut self, bytes: usize) -> Option<usize>;
}

pub struct Pool {
    inited: bool,
    chunk_slots: u32,
    max_slots: u32,
    /// Slots that exist (sum over chunks).
    capacity: u32,
    n_chunks: u32,
    chunk_base: [u32; MAX_CHUNKS],
    free_len: u32,
    free: [u32; MAX_SLOTS],
    live: [u64; MAX_SLOTS / 64],
    in_use: u32,
    high_water: u32,
    allocs: u64,
    frees: u64,
    refused_allocs: u64,
    refused_frees: u64,
}

impl Pool {
    pub const ZERO: Pool = Pool {
        inited: false,
        chunk_slots: 0,
        max_slots: 0,
        capacity: 0,
        n_chunks: 0,
        chunk_base: [0; MAX_CHUNKS],
        free_len: 0,
        free: [0; MAX_SLOTS],
        live: [0; MAX_SLOTS / 64],
        in_use: 0,
        high_water: 0,
        allocs: 0,
        frees: 0,
        refused_allocs: 0,
        refused_frees: 0,
    };

    /// Sets the geometry and grows the first chunk, so TypeScript can derive its slot
    /// pointers right after init.
    pub fn init<G: Grow>(&mut self, chunk_slots: u32, max_slots: u32, mem: &mut G) -> i32 {
        if self.inited || chunk_slots == 0 || max_slots == 0 || max_slots as usize > MAX_SLOTS {
            return E_BAD_ARG;
        }
        let chunk_slots = chunk_slots.min(max_slots);
        let chunks = (max_slots as usize + chunk_slots as usize - 1) / chunk_slots as usize;
        if chunks > MAX_CHUNKS {
            return E_BAD_ARG;
        }
        self.chunk_slots = chunk_slots;
        self.max_slots = max_slots;
        if !self.grow(mem) {
            self.chunk_slots = 0;
            self.max_slots = 0;
            return E_EXHAUSTED;
        }
        self.inited = true;
        0
    }

    /// Adds one chunk of `min(chunk_slots, max_slots - capacity)` slots.
    fn grow<G: Grow>(&mut self, mem: &mut G) -> bool {
        let n = self.chunk_slots.min(self.max_slots - self.capacity) as usize;
        if n == 0 || self.n_chunks as usize >= MAX_CHUNKS {
            return false;
        }
        let bytes = n * SLOT_SIZE;
        let base = match mem.grow(bytes) {
            Some(b) => b,
            None => return false,
        };
        // Page-aligned (so 16-aligned) and never 0: static data sits below it.
        if base == 0 || base as u64 + bytes as u64 > u32::MAX as u64 + 1 {
            return false;
        }
        if let Some(b) = self.chunk_base.get_mut(self.n_chunks as usize) {
            *b = base as u32;
        }
        self.n_chunks += 1;
        self.capacity += n as u32;
        // Push in reverse so the chunk is handed out in ascending order.
        for k in (0..n).rev() {
            if let Some(f) = self.free.get_mut(self.free_len as usize) {
                *f = (base + k * SLOT_SIZE) as u32;
                self.free_len += 1;
            }
        }
        true
    }

    /// A slot offset, or 0 when at the cap or memory cannot grow (counted as refused).
    pub fn alloc<G: Grow>(&mut self, mem: &mut G) -> u32 {
        if self.free_len == 0 && !(self.inited && self.grow(mem)) {
            self.refused_allocs += 1;
            return 0;
        }
        let off = match self.free.get(self.free_len as usize - 1) {
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

    /// Frees a live slot; a refused free changes nothing but `refused_frees`.
    pub fn free(&mut self, off: u32) -> i32 {
        let r = self.try_free(off);
        if r < 0 {
            self.refused_frees += 1;
        }
        r
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

    /// Global slot number of `off`, or why it is not a slot start.
    fn locate(&self, off: u32) -> Result<usize, i32> {
        let bases = match self.chunk_base.get(..self.n_chunks as usize) {
            Some(b) => b,
            None => return Err(E_FOREIGN),
        };
        // Number of chunks starting at or below `off`.
        let c = bases.partition_point(|&b| b <= off);
        if c == 0 {
            return Err(E_FOREIGN);
        }
        let c = c - 1;
        let first = c * self.chunk_slots as usize;
        let slots = (self.capacity as usize - first).min(self.chunk_slots as usize);
        let rel = (off - bases[c]) as usize;
        if rel >= slots * SLOT_SIZE {
            return Err(E_FOREIGN);
        }
        if rel % SLOT_SIZE != 0 {
            return Err(E_MISALIGNED);
        }
        Ok(first + rel / SLOT_SIZE)
    }

    /// slot_size, capacity, in_use, high_water, allocs, frees, refused_allocs,
    /// refused_frees, chunks, max_slots.
    pub fn stats(&self) -> [f64; POOL_STATS_LEN] {
        [
            SLOT_SIZE as f64,
            self.capacity as f64,
            self.in_use as f64,
            self.high_water as f64,
            self.allocs as f64,
            self.frees as f64,
            self.refused_allocs as f64,
            self.refused_frees as f64,
            self.n_chunks as f64,
            self.max_slots as f64,
        ]
    }
}

impl Pool {
    /// Allocates up to `n` slots, handing each to `out(i, off)`; returns how many. Each one
    /// missing because of the cap is counted as refused.
    pub fn alloc_batch<G: Grow>(&mut self, mem: &mut G, n: usize, mut out: impl FnMut(usize, u32)) -> usize {
        let mut got = 0;
        while got < n {
            let off = self.alloc(mem);
            if off == 0 {
                // `alloc` counted this one; count the rest too.
                self.refused_allocs += (n - got - 1) as u64;
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
        self.free_len
    }
    pub fn live_word(&self, w: usize) -> u64 {
        self.live[w]
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
        assert_eq!(pool.alloc(&mut m), 0); // before init: refused
        assert_eq!(pool.init(40, 100, &mut m), 0); // 40 slots = 80 KiB = 2 pages
        assert_eq!(m.size, 3 * 65536);
        let offs: Vec<u32> = (0..40).map(|_| pool.alloc(&mut m)).collect();
        assert_eq!(offs[0], 65536);
        assert!(offs.windows(2).all(|w| w[1] == w[0] + SLOT_SIZE as u32));
        // The next chunk needs 2 more pages but only 1 is left: refused, nothing changes.
        assert_eq!(pool.alloc(&mut m), 0);
        assert_eq!(pool.stats()[1], 40.0);
        m.limit = usize::MAX;
        let next = pool.alloc(&mut m);
        assert_eq!(next, 3 * 65536);
        assert_eq!(pool.free(next + 1), E_MISALIGNED);
        assert_eq!(pool.free(offs[0] - 16), E_FOREIGN);
        assert_eq!(pool.free(next), 0);
        assert_eq!(pool.free(next), E_NOT_LIVE);
        let s = pool.stats();
        assert_eq!((s[1], s[2], s[6], s[7], s[8]), (80.0, 40.0, 2.0, 3.0, 2.0));
    }
}
