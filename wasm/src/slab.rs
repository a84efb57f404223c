//! The slot pool: fixed 2048-byte packet slots in chunks grown with `memory.grow`.
//!
//! Free slots are a LIFO stack of offsets (the most recently freed slot is cache-warm);
//! a live bitmap indexed by global slot number refuses double, foreign and misaligned
//! frees before anything is touched. Chunk bases only ever increase (memory only grows),
//! so an offset is mapped to its chunk by binary search.

use crate::errors::*;
use crate::{mem, state};

pub use crate::consts::{HEADROOM, MAX_CHUNKS, MAX_SLOTS, SLOT_SIZE};

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
    pub fn init(&mut self, chunk_slots: u32, max_slots: u32) -> i32 {
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
        if !self.grow() {
            self.chunk_slots = 0;
            self.max_slots = 0;
            return E_EXHAUSTED;
        }
        self.inited = true;
        0
    }

    /// Adds one chunk of `min(chunk_slots, max_slots - capacity)` slots.
    fn grow(&mut self) -> bool {
        let n = self.chunk_slots.min(self.max_slots - self.capacity) as usize;
        if n == 0 || self.n_chunks as usize >= MAX_CHUNKS {
            return false;
        }
        let bytes = n * SLOT_SIZE;
        let base = match mem::grow((bytes + mem::PAGE - 1) / mem::PAGE) {
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
    pub fn alloc(&mut self) -> u32 {
        if self.free_len == 0 && !(self.inited && self.grow()) {
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
    pub fn stats(&self) -> [f64; 10] {
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

/// Once per instance; grows the first chunk. 0, E_BAD_ARG (twice, a zero, or limits
/// exceeded) or E_EXHAUSTED (memory could not grow; the pool stays uninitialized).
#[no_mangle]
pub extern "C" fn ts_pool_init(chunk_slots: u32, max_slots: u32) -> i32 {
    state::state().pool.init(chunk_slots, max_slots)
}

/// A slot offset, or 0 at the cap (counted as refused). May grow memory.
#[no_mangle]
pub extern "C" fn ts_pool_alloc() -> u32 {
    state::state().pool.alloc()
}

/// Writes up to `n` offsets (u32) at `out_ptr`; returns how many. Each one missing
/// because of the cap is counted as refused. A bad `out_ptr` range allocates nothing.
#[no_mangle]
pub extern "C" fn ts_pool_alloc_batch(out_ptr: u32, n: u32) -> u32 {
    let out = match mem::words(out_ptr, n) {
        Some(w) => w,
        None => return 0,
    };
    let pool = &mut state::state().pool;
    let mut got = 0;
    while got < out.len() {
        let off = pool.alloc();
        if off == 0 {
            // `alloc` counted this one; count the rest too.
            pool.refused_allocs += (out.len() - got - 1) as u64;
            break;
        }
        out.set(got, off);
        got += 1;
    }
    got as u32
}

/// 0, or E_NOT_LIVE / E_MISALIGNED / E_FOREIGN (only `refused_frees` changes).
#[no_mangle]
pub extern "C" fn ts_pool_free(off: u32) -> i32 {
    state::state().pool.free(off)
}

/// Frees each of `n` offsets at `in_ptr`; returns how many were freed.
#[no_mangle]
pub extern "C" fn ts_pool_free_batch(in_ptr: u32, n: u32) -> u32 {
    let inp = match mem::words(in_ptr, n) {
        Some(w) => w,
        None => return 0,
    };
    let pool = &mut state::state().pool;
    let mut freed = 0;
    for i in 0..inp.len() {
        if pool.free(inp.get(i)) == 0 {
            freed += 1;
        }
    }
    freed
}

/// Writes f64[10] (see `Pool::stats`); 0 or E_BAD_ARG.
#[no_mangle]
pub extern "C" fn ts_pool_stats(out_ptr: u32) -> i32 {
    if mem::write_f64s(out_ptr, &state::state().pool.stats()) {
        0
    } else {
        E_BAD_ARG
    }
}

#[no_mangle]
pub extern "C" fn ts_scratch_ptr() -> u32 {
    mem::scratch_ptr()
}

#[no_mangle]
pub extern "C" fn ts_scratch_len() -> u32 {
    mem::SCRATCH_LEN as u32
}

#[no_mangle]
pub extern "C" fn ts_slot_size() -> u32 {
    SLOT_SIZE as u32
}

#[no_mangle]
pub extern "C" fn ts_headroom() -> u32 {
    HEADROOM as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::fresh;

    fn stats() -> [f64; 10] {
        state::state().pool.stats()
    }

    #[test]
    fn init_rules() {
        fresh();
        assert_eq!(ts_pool_alloc(), 0); // before init: refused
        assert_eq!(stats()[6], 1.0);
        assert_eq!(ts_pool_init(0, 10), E_BAD_ARG);
        assert_eq!(ts_pool_init(10, 0), E_BAD_ARG);
        assert_eq!(ts_pool_init(1, MAX_SLOTS as u32 + 1), E_BAD_ARG);
        assert_eq!(ts_pool_init(1, MAX_CHUNKS as u32 + 1), E_BAD_ARG);
        assert_eq!(ts_pool_init(64, 100), 0);
        assert_eq!(ts_pool_init(64, 100), E_BAD_ARG);
        let s = stats();
        assert_eq!((s[0], s[1], s[8], s[9]), (2048.0, 64.0, 1.0, 100.0));
        assert_eq!(ts_slot_size(), 2048);
        assert_eq!(ts_headroom(), 16);
        assert_eq!(ts_scratch_ptr() % 16, 0);
        assert_eq!(ts_scratch_len(), 1 << 20);
    }

    #[test]
    fn init_without_memory() {
        fresh();
        mem::host_set_limit(mem::size());
        assert_eq!(ts_pool_init(4, 8), E_EXHAUSTED);
        mem::host_set_limit(usize::MAX);
        assert_eq!(ts_pool_init(4, 8), 0);
    }

    #[test]
    fn exhaustion_and_growth_to_cap() {
        fresh();
        assert_eq!(ts_pool_init(4, 10), 0);
        let mut offs = Vec::new();
        for i in 0..10 {
            let off = ts_pool_alloc();
            assert_ne!(off, 0, "alloc {}", i);
            assert_eq!(off as usize % 16, 0);
            assert!(mem::bytes_mut(off, SLOT_SIZE).is_some());
            offs.push(off);
        }
        let s = stats();
        assert_eq!((s[1], s[2], s[3], s[8]), (10.0, 10.0, 10.0, 3.0));
        // First chunk is handed out in ascending order.
        assert_eq!(offs[1] - offs[0], SLOT_SIZE as u32);
        assert_eq!(ts_pool_alloc(), 0);
        assert_eq!(ts_pool_alloc(), 0);
        assert_eq!(stats()[6], 2.0);
        // LIFO: the last freed slot comes back first.
        assert_eq!(ts_pool_free(offs[3]), 0);
        assert_eq!(ts_pool_free(offs[7]), 0);
        assert_eq!(ts_pool_alloc(), offs[7]);
        assert_eq!(ts_pool_alloc(), offs[3]);
        let s = stats();
        assert_eq!((s[2], s[3], s[4], s[5]), (10.0, 10.0, 12.0, 2.0));
    }

    #[test]
    fn memory_grow_failure_is_a_refusal() {
        fresh();
        assert_eq!(ts_pool_init(32, 64), 0); // 32 slots = 1 page
        mem::host_set_limit(mem::size());
        for _ in 0..32 {
            assert_ne!(ts_pool_alloc(), 0);
        }
        assert_eq!(ts_pool_alloc(), 0);
        assert_eq!(stats()[1], 32.0);
        assert_eq!(stats()[6], 1.0);
        mem::host_set_limit(usize::MAX);
        assert_ne!(ts_pool_alloc(), 0);
        assert_eq!(stats()[8], 2.0);
    }

    #[test]
    fn batches() {
        fresh();
        assert_eq!(ts_pool_init(8, 20), 0);
        let list = ts_scratch_ptr();
        assert_eq!(ts_pool_alloc_batch(list, 16), 16);
        assert_eq!(ts_pool_alloc_batch(list + 64, 10), 4);
        assert_eq!(stats()[6], 6.0);
        assert_eq!(ts_pool_alloc_batch(0, 5), 0); // bad pointer: nothing allocated
        assert_eq!(stats()[2], 20.0);
        // The second batch's 4 slots sit at list+64..list+80: free them twice.
        assert_eq!(ts_pool_free_batch(list + 64, 4), 4);
        assert_eq!(ts_pool_free_batch(list + 64, 4), 0);
        assert_eq!(stats()[7], 4.0);
        assert_eq!(ts_pool_free_batch(list, 16), 16);
        assert_eq!(stats()[2], 0.0);
        assert_eq!(ts_pool_free_batch(u32::MAX - 3, 2), 0);
    }

    #[test]
    fn refused_frees_change_nothing_else() {
        fresh();
        assert_eq!(ts_pool_init(8, 16), 0);
        let a = ts_pool_alloc();
        let b = ts_pool_alloc();
        assert_eq!(ts_pool_free(b), 0);
        let before = stats();
        let free_len = state::state().pool.free_len;
        let live = state::state().pool.live[0];
        assert_eq!(ts_pool_free(b), E_NOT_LIVE); // double free
        assert_eq!(ts_pool_free(a + 1), E_MISALIGNED);
        assert_eq!(ts_pool_free(a + 16), E_MISALIGNED);
        assert_eq!(ts_pool_free(0), E_FOREIGN);
        assert_eq!(ts_pool_free(a - SLOT_SIZE as u32), E_FOREIGN); // below the first chunk
        assert_eq!(ts_pool_free(a + 8 * SLOT_SIZE as u32), E_FOREIGN); // past the chunk
        assert_eq!(ts_pool_free(ts_scratch_ptr()), E_FOREIGN);
        assert_eq!(ts_pool_free(u32::MAX), E_FOREIGN);
        let mut after = stats();
        assert_eq!(after[7], before[7] + 8.0);
        after[7] = before[7];
        assert_eq!(after, before);
        assert_eq!(state::state().pool.free_len, free_len);
        assert_eq!(state::state().pool.live[0], live);
        assert_eq!(ts_pool_free(a), 0);
    }

    #[test]
    fn randomized_alloc_free() {
        fresh();
        let max = 700u32;
        assert_eq!(ts_pool_init(96, max), 0); // last chunk partial: 7*96 + 28
        let mut x: u32 = 0x9e37_79b9;
        let mut rng = move || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        let mut held: Vec<u32> = Vec::new();
        let mut set = std::collections::HashSet::new();
        let (mut allocs, mut frees, mut refused_a, mut refused_f) = (0u64, 0u64, 0u64, 0u64);
        for _ in 0..20_000 {
            let r = rng();
            if r % 100 < 55 {
                let off = ts_pool_alloc();
                if off == 0 {
                    assert_eq!(held.len() as u32, max);
                    refused_a += 1;
                } else {
                    assert!(set.insert(off), "slot {} handed out twice", off);
                    held.push(off);
                    allocs += 1;
                }
            } else if r % 100 < 95 && !held.is_empty() {
                let i = rng() as usize % held.len();
                let off = held.swap_remove(i);
                set.remove(&off);
                assert_eq!(ts_pool_free(off), 0);
                frees += 1;
            } else {
                // A bogus free: already-free slot or an interior offset.
                let bogus = match held.first() {
                    Some(&o) => o + 1 + rng() % (SLOT_SIZE as u32 - 1),
                    None => 12345,
                };
                assert!(ts_pool_free(bogus) < 0);
                refused_f += 1;
            }
            let s = stats();
            assert_eq!(s[2], held.len() as f64);
            assert!(s[2] <= s[3] && s[3] <= s[1] && s[1] <= s[9]);
            assert_eq!(s[4] - s[5], s[2]);
        }
        let s = stats();
        assert_eq!((s[4], s[5], s[6], s[7]), (allocs as f64, frees as f64, refused_a as f64, refused_f as f64));
        assert!(refused_a > 0, "the sequence should reach the cap");
        // Everything is freeable exactly once.
        for off in held.drain(..) {
            assert_eq!(ts_pool_free(off), 0);
            assert_eq!(ts_pool_free(off), E_NOT_LIVE);
        }
        assert_eq!(stats()[2], 0.0);
    }
}
