//! ABI.md "Pool": the slot pool (`tables/pool.rs`), the scratch region and the drop
//! counters (`tables/drops.rs`).

use super::{parts, written, LinearMemory};
use crate::consts::{HEADROOM, SCRATCH_LEN, SLOT_SIZE};
use crate::errors::{E_BAD_ARG, N_CODES};
use crate::tables::pool::SMALL;

/// Once per instance; grows the first chunk. 0, E_BAD_ARG (twice, a zero, or limits
/// exceeded) or E_EXHAUSTED (memory could not grow; the pool stays uninitialized).
#[no_mangle]
pub extern "C" fn ts_pool_init(chunk_slots: u32, max_slots: u32) -> i32 {
    parts().tunnel.pool.init(chunk_slots, max_slots, &mut LinearMemory)
}

/// A small (class 0) slot offset, or 0 at the cap (counted as refused). May grow memory.
#[no_mangle]
pub extern "C" fn ts_pool_alloc() -> u32 {
    parts().tunnel.pool.alloc(SMALL, &mut LinearMemory)
}

/// Writes up to `n` small slot offsets (u32) at `out_ptr`; returns how many. Each one
/// missing because of the cap is counted as refused. A bad `out_ptr` range allocates nothing.
#[no_mangle]
pub extern "C" fn ts_pool_alloc_batch(out_ptr: u32, n: u32) -> u32 {
    ts_pool_alloc_batch_class(out_ptr, n, SMALL as u32)
}

/// A slot of class `class` (0 small, 1 large), or 0 at the cap (counted as refused) or for
/// another class (not counted). May grow memory.
#[no_mangle]
pub extern "C" fn ts_pool_alloc_class(class: u32) -> u32 {
    parts().tunnel.pool.alloc(class as usize, &mut LinearMemory)
}

/// `ts_pool_alloc_batch` for slots of class `class` (another class: nothing, 0).
#[no_mangle]
pub extern "C" fn ts_pool_alloc_batch_class(out_ptr: u32, n: u32, class: u32) -> u32 {
    let p = parts();
    let out = match p.mem.words(out_ptr, n) {
        Some(w) => w,
        None => return 0,
    };
    p.tunnel.pool.alloc_batch(class as usize, &mut LinearMemory, out.count(), |i, off| out.set(i, off)) as u32
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

/// Writes f64[POOL_CLASS_STATS_LEN] for class `class` (see `Pool::class_stats`); 0, or
/// E_BAD_ARG for another class or a bad `out_ptr` (nothing written).
#[no_mangle]
pub extern "C" fn ts_pool_class_stats(class: u32, out_ptr: u32) -> i32 {
    let p = parts();
    match p.tunnel.pool.class_stats(class as usize) {
        Some(s) => written(p.mem.write_f64s(out_ptr, &s)),
        None => E_BAD_ARG,
    }
}

/// Bytes of the slot starting at `off` (SLOT_SIZE or LARGE_SLOT_SIZE, live or free), or 0
/// if `off` is not a slot start.
#[no_mangle]
pub extern "C" fn ts_slot_size_at(off: u32) -> u32 {
    parts().tunnel.pool.slot_size_at(off).map_or(0, |s| s as u32)
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

/// Counts `n` packets dropped with `code` for a drop TypeScript decided (a read or datagram
/// it had no slot for). 0, or E_BAD_ARG if `code` is not a drop code (`-N_CODES < code < 0`).
#[no_mangle]
pub extern "C" fn ts_drop_count(code: i32, n: u32) -> i32 {
    if code >= 0 || code <= -(N_CODES as i32) {
        return E_BAD_ARG;
    }
    parts().tunnel.drops.add(code, n as u64);
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consts::{LARGE_CHUNK_SLOTS, LARGE_SLOT_SIZE};
    use crate::consts::{MAX_CHUNKS, MAX_SLOTS};
    use crate::errors::*;
    use crate::exports::host::*;
    use crate::mem;
    fn stats() -> [f64; 12] {
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
        assert_eq!((s[10], s[11]), (64.0 * 2048.0, 100.0 * 2048.0));
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

    #[test]
    fn large_class_exports() {
        fresh();
        // A 4 MiB cap: 2048 small slots' worth.
        assert_eq!(ts_pool_init(256, 2048), 0);
        let out = ts_scratch_ptr();
        assert_eq!(ts_pool_class_stats(1, out), 0);
        assert_eq!(m().read::<8>(out + 8).unwrap(), 0f64.to_le_bytes()); // no large slot yet
        let size = mem::size();
        let l = ts_pool_alloc_class(1);
        assert_ne!(l, 0);
        assert_eq!(l as usize % 65536, 0);
        assert_eq!(mem::size(), size + LARGE_CHUNK_SLOTS * LARGE_SLOT_SIZE);
        assert!(m().bytes_mut(l, LARGE_SLOT_SIZE).is_some());
        assert_eq!(ts_slot_size_at(l), LARGE_SLOT_SIZE as u32);
        assert_eq!(ts_slot_size_at(l + 16), 0);
        let s0 = ts_pool_alloc();
        assert_eq!(ts_slot_size_at(s0), SLOT_SIZE as u32);
        assert_eq!(ts_slot_size_at(out), 0);
        assert_eq!(ts_pool_alloc_class(2), 0);
        // A batch of large slots into the scratch area: 3 more from the same chunk.
        assert_eq!(ts_pool_alloc_batch_class(out, 3, 1), 3);
        assert_eq!(ts_pool_alloc_batch_class(out + 64, 3, 7), 0);
        assert_eq!(ts_pool_class_stats(1, out + 128), 0);
        let f = |i: u32| f64::from_le_bytes(m().read::<8>(out + 128 + 8 * i).unwrap());
        assert_eq!((f(0), f(1), f(2), f(7)), (65536.0, 8.0, 4.0, 1.0));
        assert_eq!(ts_pool_class_stats(2, out + 128), E_BAD_ARG);
        assert_eq!(ts_pool_class_stats(0, 0), E_BAD_ARG);
        // One free call for both classes.
        assert_eq!(ts_pool_free_batch(out, 3), 3);
        assert_eq!(ts_pool_free(l), 0);
        assert_eq!(ts_pool_free(s0), 0);
        assert_eq!(stats()[2], 0.0);
        assert_eq!(stats()[10], (256 * 2048 + 8 * 65536) as f64);
    }

    #[test]
    fn drop_count() {
        fresh();
        assert_eq!(ts_drop_count(E_EXHAUSTED, 3), 0);
        assert_eq!(ts_drop_count(E_TRUNCATED, 1), 0);
        assert_eq!(ts_drop_count(0, 1), E_BAD_ARG);
        assert_eq!(ts_drop_count(HANDSHAKE, 1), E_BAD_ARG);
        assert_eq!(ts_drop_count(-(N_CODES as i32), 1), E_BAD_ARG);
        assert_eq!(tunnel().drops.get(E_EXHAUSTED), 3);
        assert_eq!(tunnel().drops.counts_total(), 4);
    }
}
