//! Transport keypairs: slots chosen by TypeScript, plus an open-addressing hash from the
//! local (receiver) index to the slot, so a received packet finds its keys in O(1).
//! The hash has twice as many buckets as slots and uses backward-shift deletion (no
//! tombstones), so probes stay short however often keypairs rotate.

use crate::consts::{KEYPAIR_INFO_LEN, KEYS_LEN, MAX_KEYPAIRS, MAX_PEERS};
use crate::crypto::chacha20::key_words;
use crate::errors::*;
use crate::tables::replay::Replay;

const BUCKETS: usize = 2 * MAX_KEYPAIRS;

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

pub struct Keypairs {
    slots: [Keypair; MAX_KEYPAIRS],
    /// Bucket → (local index, slot + 1); slot 0 = empty bucket.
    keys: [u32; BUCKETS],
    vals: [u32; BUCKETS],
}

fn home(index: u32) -> usize {
    // Fibonacci hashing: TypeScript picks indices at random, but be robust to sequences.
    (index.wrapping_mul(0x9e37_79b9) >> (32 - BUCKETS.trailing_zeros())) as usize
}

impl Keypairs {
    pub const ZERO: Keypairs =
        Keypairs { slots: [Keypair::ZERO; MAX_KEYPAIRS], keys: [0; BUCKETS], vals: [0; BUCKETS] };

    pub fn slot(&self, kp: usize) -> Option<&Keypair> {
        self.slots.get(kp)
    }

    pub fn slot_mut(&mut self, kp: usize) -> Option<&mut Keypair> {
        self.slots.get_mut(kp)
    }

    /// Bucket holding `index`, if any.
    fn bucket(&self, index: u32) -> Option<usize> {
        let mut b = home(index);
        for _ in 0..BUCKETS {
            match (self.vals.get(b), self.keys.get(b)) {
                (Some(0), _) | (None, _) => return None,
                (Some(_), Some(&k)) if k == index => return Some(b),
                _ => b = (b + 1) % BUCKETS,
            }
        }
        None
    }

    /// Slot of the live keypair with this local index.
    pub fn lookup(&self, index: u32) -> Option<usize> {
        let b = self.bucket(index)?;
        self.vals.get(b).map(|v| *v as usize - 1)
    }

    fn hash_insert(&mut self, index: u32, kp: usize) -> Result<(), i32> {
        let mut b = home(index);
        for _ in 0..BUCKETS {
            if self.vals.get(b) == Some(&0) {
                self.keys[b] = index;
                self.vals[b] = kp as u32 + 1;
                return Ok(());
            }
            b = (b + 1) % BUCKETS;
        }
        Err(E_TABLE_FULL)
    }

    fn hash_remove(&mut self, index: u32) {
        let mut hole = match self.bucket(index) {
            Some(b) => b,
            None => return,
        };
        // Backward shift: pull later entries of the cluster into the hole unless their
        // home lies cyclically in (hole, j].
        let mut j = hole;
        loop {
            j = (j + 1) % BUCKETS;
            if self.vals.get(j).map_or(true, |&v| v == 0) {
                break;
            }
            let k = home(self.keys[j]);
            let stays = if hole <= j { hole < k && k <= j } else { hole < k || k <= j };
            if stays {
                continue;
            }
            self.keys[hole] = self.keys[j];
            self.vals[hole] = self.vals[j];
            hole = j;
        }
        if let Some(v) = self.vals.get_mut(hole) {
            *v = 0;
        }
        if let Some(k) = self.keys.get_mut(hole) {
            *k = 0;
        }
    }

    /// Installs keys in slot `kp` (replacing whatever it held).
    pub fn set(&mut self, kp: usize, peer: u32, local: u32, remote: u32, keys: &[u8; KEYS_LEN]) -> Result<(), i32> {
        if kp >= MAX_KEYPAIRS || peer as usize >= MAX_PEERS {
            return Err(E_BAD_ARG);
        }
        // A local index names one keypair: refuse one held by another slot.
        if let Some(other) = self.lookup(local) {
            if other != kp {
                return Err(E_BAD_ARG);
            }
        }
        self.clear(kp);
        self.hash_insert(local, kp)?;
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
        match self.slots.get_mut(kp) {
            Some(s) if s.live => {
                s.expired = true;
                0
            }
            _ => E_BAD_ARG,
        }
    }

    /// Whether slot `kp` is live and its send_counter (next counter to send),
    /// highest_recv_counter, received_packets and peer (0, 0, 0, -1 for an empty slot);
    /// `None` for a slot out of range.
    pub fn info(&self, kp: usize) -> Option<(bool, [f64; KEYPAIR_INFO_LEN])> {
        let s = self.slots.get(kp)?;
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

    #[test]
    fn index_hash_survives_churn() {
        let mut table = crate::testing::boxed(|| Keypairs::ZERO);
        let t = &mut *table;
        let mut x: u32 = 12345;
        let mut rng = move || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        let mut idx = vec![0u32; MAX_KEYPAIRS];
        let mut live = vec![false; MAX_KEYPAIRS];
        for round in 0..40_000 {
            let kp = rng() as usize % MAX_KEYPAIRS;
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
                t.set(kp, 1, i, 0, &[0; 64]).unwrap();
                if live[kp] && idx[kp] != i {
                    assert_eq!(t.lookup(idx[kp]), None);
                }
                idx[kp] = i;
                live[kp] = true;
            }
            if round % 1000 == 0 {
                for k in 0..MAX_KEYPAIRS {
                    if live[k] {
                        assert_eq!(t.lookup(idx[k]), Some(k));
                    }
                }
            }
        }
        // Fill every slot: still fits.
        for k in 0..MAX_KEYPAIRS {
            if !live[k] {
                let mut i = rng();
                while t.lookup(i).is_some() {
                    i = rng();
                }
                t.set(k, 2, i, 0, &[0; 64]).unwrap();
                idx[k] = i;
            }
        }
        for (k, &i) in idx.iter().enumerate() {
            assert_eq!(t.lookup(i), Some(k));
        }
    }
}
