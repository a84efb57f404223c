//! ABI.md "Pool": the slot pool (`tables/pool.rs`), the scratch region and the drop
//! counters (`tables/drops.rs`).

use super::{parts, written, LinearMemory};
use crate::consts::{HEADROOM, SCRATCH_LEN, SLOT_SIZE};

/// Once per instance; grows the first chunk. 0, E_BAD_ARG (twice, a zero, or limits
/// exceeded) or E_EXHAUSTED (memory could not grow; the pool stays uninitialized).
#[no_mangle]
pub extern "C" fn ts_pool_init(chunk_slots: u32, max_slots: u32) -> i32 {
    parts().tunnel.pool.init(chunk_slots, max_slots, &mut LinearMemory)
}

/// A slot offset, or 0 at the cap (counted as refused). May grow memory.
#[no_mangle]
pub extern "C" fn ts_pool_alloc() -> u32 {
    parts().tunnel.pool.alloc(&mut LinearMemory)
}

/// Writes up to `n` offsets (u32) at `out_ptr`; returns how many. Each one missing
/// because of the cap is counted as refused. A bad `out_ptr` range allocates nothing.
#[no_mangle]
pub extern "C" fn ts_pool_alloc_batch(out_ptr: u32, n: u32) -> u32 {
    let p = parts();
    let out = match p.mem.words(out_ptr, n) {
        Some(w) => w,
        None => return 0,
    };
    p.tunnel.pool.alloc_batch(&mut LinearMemory, out.count(), |i, off| out.set(i, off)) as u32
}

/// 0, or E_NOT_LIVE / E_MISALIGNED / E_FOREIGN (only `refused_frees` changes).
#[no_mangle]
pub extern "C" fn ts_pool_free(off: u32) -> i32 {
    parts().tunnel.pool.free(off)
}

/// Frees each of `n` offsets at `in_ptr`; returns how many were freed.
#[no_mangle]
pub extern "C" fn ts_pool_free_batch(in_ptr: u32, n: u32) -> u32 {
    let p = parts();
    let inp = match p.mem.words(in_ptr, n) {
        Some(w) => w,
        None => return 0,
    };
    (0..inp.count()).filter(|&i| p.tunnel.pool.free(inp.get(i)) == 0).count() as u32
}

/// Writes f64[POOL_STATS_LEN] (see `Pool::stats`); 0 or E_BAD_ARG.
#[no_mangle]
pub extern "C" fn ts_pool_stats(out_ptr: u32) -> i32 {
    let p = parts();
    written(p.mem.write_f64s(out_ptr, &p.tunnel.pool.stats()))
}

#[no_mangle]
pub extern "C" fn ts_scratch_ptr() -> u32 {
    parts().mem.scratch_ptr()
}

#[no_mangle]
pub extern "C" fn ts_scratch_len() -> u32 {
    SCRATCH_LEN as u32
}

#[no_mangle]
pub extern "C" fn ts_slot_size() -> u32 {
    SLOT_SIZE as u32
}

#[no_mangle]
pub extern "C" fn ts_headroom() -> u32 {
    HEADROOM as u32
}

/// Writes f64[N_CODES]: index k = packets dropped with code -k (index 0 is always 0).
/// Returns 0, or E_BAD_ARG if `out_ptr` cannot hold the array.
#[no_mangle]
pub extern "C" fn ts_drop_stats(out_ptr: u32) -> i32 {
    let p = parts();
    written(p.mem.write_f64s(out_ptr, &p.tunnel.drops.to_f64s()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consts::{MAX_CHUNKS, MAX_SLOTS};
    use crate::errors::*;
    use crate::exports::host::*;
    use crate::mem;
    fn stats() -> [f64; 10] {
        tunnel().pool.stats()
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
            assert!(m().bytes_mut(off, SLOT_SIZE).is_some());
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
        let free_len = tunnel().pool.free_len();
        let live = tunnel().pool.live_word(0);
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
        assert_eq!(tunnel().pool.free_len(), free_len);
        assert_eq!(tunnel().pool.live_word(0), live);
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
