//! Transport keypairs: slots chosen by TypeScript (below the limit, `DEFAULT_MAX_KEYPAIRS`
//! unless set), plus an open-addressing hash from the local (receiver) index to the slot, so
//! a received packet finds its keys in O(1). Slots grow by the page, for the slots asked for.
//! The hash keeps at least twice as many buckets as indices: when it would pass half full it
//! moves to one twice the size (its old pages go back for reuse); it uses backward-shift
//! deletion (no tombstones), so probes stay short however often keypairs rotate.

use crate::consts::{DEFAULT_MAX_KEYPAIRS, KEYPAIR_INFO_LEN, KEYS_LEN, MAX_KEYPAIRS};
use crate::crypto::chacha20::key_words;
use crate::errors::*;
use crate::tables::chunked::Chunked;
use crate::tables::replay::Replay;
use crate::tables::{Pages, PAGE};

#[derive(Clone, Copy)]
pub struct Keypair {
    pub live: bool,
    pub expired: bool,
    pub peer: u32,
    pub local_index: u32,
    pub remote_index: u32,
    pub send_key: [u32; 8],
    pub recv_key: [u32; 8],
    pub send_counter: u64,
    pub received_packets: u64,
    pub replay: Replay,
}

impl Keypair {
    pub const ZERO: Keypair = Keypair {
        live: false,
        expired: false,
        peer: 0,
        local_index: 0,
        remote_index: 0,
        send_key: [0; 8],
        recv_key: [0; 8],
        send_counter: 0,
        received_packets: 0,
        replay: Replay::ZERO,
    };
}

/// A hash bucket: local index and slot + 1 (0 = empty).
#[derive(Clone, Copy)]
struct Bucket {
    key: u32,
    val: u32,
}

const EMPTY: Bucket = Bucket { key: 0, val: 0 };
/// Keypairs per chunk (one page).
const CHUNK: usize = PAGE / core::mem::size_of::<Keypair>();
/// Buckets per page; the smallest hash is one page.
const BUCKET_CHUNK: usize = PAGE / core::mem::size_of::<Bucket>();
/// Most buckets: twice the largest limit.
const MAX_BUCKETS: usize = 2 * MAX_KEYPAIRS;

type Slots = Chunked<'static, Keypair, CHUNK, { (MAX_KEYPAIRS + CHUNK - 1) / CHUNK }>;
type Buckets = Chunked<'static, Bucket, BUCKET_CHUNK, { MAX_BUCKETS / BUCKET_CHUNK }>;

pub struct Keypairs {
    slots: Slots,
    table: Buckets,
    /// Buckets of `table` (a power of two, at least `BUCKET_CHUNK`), 0 before the first index.
    buckets: u32,
    /// Indices in the hash (= live slots).
    entries: u32,
    /// Slots are below this; 0 = `DEFAULT_MAX_KEYPAIRS`.
    limit: u32,
}

/// Bucket of `index` in a hash of `2^bits` buckets (Fibonacci hashing: TypeScript picks
/// indices at random, but be robust to sequences).
#[inline]
fn home(index: u32, bits: u32) -> usize {
    (index.wrapping_mul(0x9e37_79b9) >> (32 - bits)) as usize
}

impl Keypairs {
    pub const ZERO: Keypairs =
        Keypairs { slots: Chunked::EMPTY, table: Chunked::EMPTY, buckets: 0, entries: 0, limit: 0 };

    /// Slots are below this.
    pub fn limit(&self) -> u32 {
        if self.limit == 0 {
            DEFAULT_MAX_KEYPAIRS as u32
        } else {
            self.limit
        }
    }

    /// Sets the limit (`1 ..= MAX_KEYPAIRS`) while no slot exists. 0 or E_BAD_ARG.
    pub fn set_limit(&mut self, limit: u32) -> i32 {
        if limit == 0 || limit as usize > MAX_KEYPAIRS || self.pages() > 0 {
            return E_BAD_ARG;
        }
        self.limit = limit;
        0
    }

    /// Pages the slots and the hash hold.
    pub fn pages(&self) -> usize {
        self.slots.chunks() + self.table.chunks()
    }

    /// Slots that exist, live keypairs (= indices in the hash), buckets.
    pub fn counts(&self) -> (usize, usize, usize) {
        (self.slots.chunks() * CHUNK, self.entries as usize, self.buckets as usize)
    }

    /// Slot `kp`, if it exists (one below the limit that does not is empty).
    #[inline]
    pub fn slot(&self, kp: usize) -> Option<&Keypair> {
        if kp >= self.limit() as usize {
            return None;
        }
        self.slots.get(kp)
    }

    #[inline]
    pub fn slot_mut(&mut self, kp: usize) -> Option<&mut Keypair> {
        if kp >= self.limit() as usize {
            return None;
        }
        self.slots.get_mut(kp)
    }

    #[inline]
    fn bits(&self) -> u32 {
        self.buckets.trailing_zeros()
    }

    #[inline]
    fn bucket_at(&self, b: usize) -> Bucket {
        self.table.get(b).copied().unwrap_or(EMPTY)
    }

    /// Bucket holding `index`, if any.
    #[inline]
    fn bucket(&self, index: u32) -> Option<usize> {
        let n = self.buckets as usize;
        if n == 0 {
            return None;
        }
        let mut b = home(index, self.bits());
        for _ in 0..n {
            let e = self.bucket_at(b);
            if e.val == 0 {
                return None;
            }
            if e.key == index {
                return Some(b);
            }
            b = (b + 1) & (n - 1);
        }
        None
    }

    /// Slot of the live keypair with this local index.
    #[inline]
    pub fn lookup(&self, index: u32) -> Option<usize> {
        let b = self.bucket(index)?;
        Some(self.bucket_at(b).val as usize - 1)
    }

    /// Puts `(index, slot + 1)` in the first empty bucket of its probe sequence.
    fn place(table: &mut Buckets, n: usize, index: u32, val: u32) -> bool {
        let mut b = home(index, n.trailing_zeros());
        for _ in 0..n {
            match table.get_mut(b) {
                Some(e) if e.val == 0 => {
                    *e = Bucket { key: index, val };
                    return true;
                }
                Some(_) => b = (b + 1) & (n - 1),
                None => return false,
            }
        }
        false
    }

    /// Moves the hash to `n` buckets (every page of the new one first, so a failure changes
    /// nothing); the old pages go back.
    fn rehash<P: Pages<'static>>(&mut self, n: usize, pages: &mut P) -> bool {
        if n > MAX_BUCKETS {
            return false;
        }
        let mut next = Buckets::EMPTY;
        for c in 0..n / BUCKET_CHUNK {
            if !next.ensure(c * BUCKET_CHUNK, EMPTY, pages) {
                next.release(pages);
                return false;
            }
        }
        for b in 0..self.buckets as usize {
            let e = self.bucket_at(b);
            if e.val != 0 {
                Self::place(&mut next, n, e.key, e.val);
            }
        }
        self.table.release(pages);
        self.table = next;
        self.buckets = n as u32;
        true
    }

    fn hash_insert<P: Pages<'static>>(&mut self, index: u32, kp: usize, pages: &mut P) -> Result<(), i32> {
        let n = self.buckets as usize;
        if (self.entries as usize + 1) * 2 > n {
            let grown = self.rehash((2 * n).max(BUCKET_CHUNK), pages);
            // Without a bigger table the hash runs fuller, up to one empty bucket.
            if !grown && self.entries as usize + 1 >= n {
                return Err(E_TABLE_FULL);
            }
        }
        if Self::place(&mut self.table, self.buckets as usize, index, kp as u32 + 1) {
            self.entries += 1;
            Ok(())
        } else {
            Err(E_TABLE_FULL)
        }
    }

    fn hash_remove(&mut self, index: u32) {
        let mut hole = match self.bucket(index) {
            Some(b) => b,
            None => return,
        };
        let (n, bits) = (self.buckets as usize, self.bits());
        // Backward shift: pull later entries of the cluster into the hole unless their
        // home lies cyclically in (hole, j].
        let mut j = hole;
        loop {
            j = (j + 1) & (n - 1);
            let e = self.bucket_at(j);
            if e.val == 0 {
                break;
            }
            let k = home(e.key, bits);
            let stays = if hole <= j { hole < k && k <= j } else { hole < k || k <= j };
            if stays {
                continue;
            }
            if let Some(h) = self.table.get_mut(hole) {
                *h = e;
            }
            hole = j;
        }
        if let Some(h) = self.table.get_mut(hole) {
            *h = EMPTY;
        }
        self.entries -= 1;
    }

    /// Installs keys in slot `kp` (replacing whatever it held). The caller checked `peer`.
    pub fn set<P: Pages<'static>>(
        &mut self,
        kp: usize,
        peer: u32,
        local: u32,
        remote: u32,
        keys: &[u8; KEYS_LEN],
        pages: &mut P,
    ) -> Result<(), i32> {
        if kp >= self.limit() as usize {
            return Err(E_BAD_ARG);
        }
        // A local index names one keypair: refuse one held by another slot.
        if let Some(other) = self.lookup(local) {
            if other != kp {
                return Err(E_BAD_ARG);
            }
        }
        if !self.slots.ensure(kp, Keypair::ZERO, pages) {
            return Err(E_TABLE_FULL);
        }
        self.clear(kp);
        self.hash_insert(local, kp, pages)?;
        let mut sk = [0u8; 32];
        sk.copy_from_slice(&keys[..32]);
        let mut rk = [0u8; 32];
        rk.copy_from_slice(&keys[32..]);
        if let Some(s) = self.slots.get_mut(kp) {
            *s = Keypair {
                live: true,
                peer,
                local_index: local,
                remote_index: remote,
                send_key: key_words(&sk),
                recv_key: key_words(&rk),
                ..Keypair::ZERO
            };
        }
        Ok(())
    }

    /// Zeroes the slot and forgets its index.
    pub fn clear(&mut self, kp: usize) {
        let (live, index) = match self.slots.get(kp) {
            Some(s) => (s.live, s.local_index),
            None => return,
        };
        if live {
            self.hash_remove(index);
        }
        if let Some(s) = self.slots.get_mut(kp) {
            *s = Keypair::ZERO;
        }
    }

    /// Keeps the index but refuses send and receive (E_KEY_EXPIRED) until set again. 0, or
    /// E_BAD_ARG if the slot is out of range or empty.
    pub fn expire(&mut self, kp: usize) -> i32 {
        match self.slot_mut(kp) {
            Some(s) if s.live => {
                s.expired = true;
                0
            }
            _ => E_BAD_ARG,
        }
    }

    /// Whether slot `kp` is live and its send_counter (next counter to send),
    /// highest_recv_counter, received_packets and peer (0, 0, 0, -1 for an empty slot);
    /// `None` for a slot at or beyond the limit.
    pub fn info(&self, kp: usize) -> Option<(bool, [f64; KEYPAIR_INFO_LEN])> {
        if kp >= self.limit() as usize {
            return None;
        }
        let s = self.slots.get(kp).unwrap_or(&Keypair::ZERO);
        let v = if s.live {
            [s.send_counter as f64, s.replay.last() as f64, s.received_packets as f64, s.peer as f64]
        } else {
            [0.0, 0.0, 0.0, -1.0]
        };
        Some((s.live, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::HeapPages;

    fn churn(t: &mut Keypairs, slots: usize, rounds: usize, pages: &mut HeapPages) {
        let mut x: u32 = 12345;
        let mut rng = move || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        let mut idx = vec![0u32; slots];
        let mut live = vec![false; slots];
        for round in 0..rounds {
            let kp = rng() as usize % slots;
            if live[kp] && round % 3 == 0 {
                t.clear(kp);
                live[kp] = false;
                assert_eq!(t.lookup(idx[kp]), None);
            } else {
                // Sequential indices collide in clusters without good hashing; mix both.
                let i = if round % 2 == 0 { rng() } else { round as u32 };
                if t.lookup(i).map_or(false, |o| o != kp) {
                    continue;
                }
                t.set(kp, 1, i, 0, &[0; 64], pages).unwrap();
                if live[kp] && idx[kp] != i {
                    assert_eq!(t.lookup(idx[kp]), None);
                }
                idx[kp] = i;
                live[kp] = true;
            }
            if round % 1000 == 0 {
                for k in 0..slots {
                    if live[k] {
                        assert_eq!(t.lookup(idx[k]), Some(k));
                    }
                }
            }
        }
        // Fill every slot: the hash grows as it must.
        for k in 0..slots {
            if !live[k] {
                let mut i = rng();
                while t.lookup(i).is_some() {
                    i = rng();
                }
                t.set(k, 2, i, 0, &[0; 64], pages).unwrap();
                idx[k] = i;
            }
        }
        for (k, &i) in idx.iter().enumerate() {
            assert_eq!(t.lookup(i), Some(k));
        }
        let (cap, entries, buckets) = t.counts();
        assert!(cap >= slots && entries == slots && buckets >= 2 * slots && buckets < 4 * slots.max(4096));
        for (k, &i) in idx.iter().enumerate() {
            t.clear(k);
            assert_eq!(t.lookup(i), None);
        }
        assert_eq!(t.counts().1, 0);
    }

    #[test]
    fn index_hash_survives_churn_and_grows() {
        let mut table = crate::testing::boxed(|| Keypairs::ZERO);
        let mut pages = HeapPages::unlimited();
        churn(&mut table, 4096, 40_000, &mut pages);
        // Far beyond the old fixed 4,096 slots: the hash moves four more times.
        churn(&mut table, 40_000, 100_000, &mut pages);
        let (_, _, buckets) = table.counts();
        assert_eq!(buckets, 131072);
        // The old tables' pages went back: in use = slots + the last hash.
        assert_eq!(pages.in_use(), table.pages());
        assert_eq!(table.pages(), (40_000 + CHUNK - 1) / CHUNK + 131072 / BUCKET_CHUNK);
    }

    #[test]
    fn limits_sparse_slots_and_a_hash_that_cannot_grow() {
        let mut t = crate::testing::boxed(|| Keypairs::ZERO);
        assert_eq!(t.limit(), DEFAULT_MAX_KEYPAIRS as u32);
        assert_eq!(t.info(DEFAULT_MAX_KEYPAIRS - 1), Some((false, [0.0, 0.0, 0.0, -1.0])));
        assert_eq!(t.info(DEFAULT_MAX_KEYPAIRS), None);
        let mut one = HeapPages::new(1);
        assert_eq!(t.set(DEFAULT_MAX_KEYPAIRS, 0, 1, 0, &[0; 64], &mut one), Err(E_BAD_ARG));
        // One page of buckets and no second one: the hash runs fuller than half, up to one
        // empty bucket.
        for i in 0..BUCKET_CHUNK - 1 {
            assert_eq!(t.hash_insert(i as u32 * 7919 + 1, i % 50, &mut one), Ok(()), "{}", i);
        }
        assert_eq!(t.hash_insert(0xffff_ffff, 0, &mut one), Err(E_TABLE_FULL));
        for i in (0..BUCKET_CHUNK - 1).step_by(97) {
            assert_eq!(t.lookup(i as u32 * 7919 + 1), Some(i % 50));
        }
        assert_eq!(t.set(0, 0, 1, 0, &[0; 64], &mut one), Err(E_TABLE_FULL), "no page for its slot");
        let mut u = crate::testing::boxed(|| Keypairs::ZERO);
        let mut pages = HeapPages::unlimited();
        assert_eq!(u.set_limit(MAX_KEYPAIRS as u32 + 1), E_BAD_ARG);
        assert_eq!(u.set_limit(10), 0);
        assert_eq!(u.expire(3), E_BAD_ARG);
        assert_eq!(u.set(10, 0, 1, 0, &[0; 64], &mut pages), Err(E_BAD_ARG));
        assert_eq!(u.set(9, 0, 1, 0, &[0; 64], &mut pages), Ok(()));
        assert_eq!(u.set_limit(20), E_BAD_ARG, "slots exist");
        assert_eq!((u.lookup(1), u.expire(9), u.info(9).map(|i| i.0)), (Some(9), 0, Some(true)));
    }
}
