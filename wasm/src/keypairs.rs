//! Transport keypairs: slots chosen by TypeScript, plus an open-addressing hash from the
//! local (receiver) index to the slot, so a received packet finds its keys in O(1).
//! The hash has twice as many buckets as slots and uses backward-shift deletion (no
//! tombstones), so probes stay short however often keypairs rotate.

use crate::crypto::chacha20::key_words;
use crate::errors::*;
pub use crate::consts::MAX_KEYPAIRS;
use crate::consts::MAX_PEERS;
use crate::replay::Replay;
use crate::{mem, state};

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
    pub const ZERO: Keypairs = Keypairs { slots: [Keypair::ZERO; MAX_KEYPAIRS], keys: [0; BUCKETS], vals: [0; BUCKETS] };

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
    pub fn set(&mut self, kp: usize, peer: u32, local: u32, remote: u32, keys: &[u8; 64]) -> Result<(), i32> {
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
}

/// Installs a keypair: `keys` points at 64 bytes, send key then receive key. Resets the
/// send counter and replay window. 0, E_BAD_ARG (slot/peer out of range, bad pointer, or
/// `local_index` already used by another slot) or E_TABLE_FULL.
#[no_mangle]
pub extern "C" fn ts_keypair_set(kp: u32, peer: u32, local_index: u32, remote_index: u32, keys: u32) -> i32 {
    let k = match mem::read::<64>(keys) {
        Some(k) => k,
        None => return E_BAD_ARG,
    };
    match state::state().keypairs.set(kp as usize, peer, local_index, remote_index, &k) {
        Ok(()) => 0,
        Err(e) => e,
    }
}

/// Zeroes the keys and removes the index (idempotent). 0 or E_BAD_ARG.
#[no_mangle]
pub extern "C" fn ts_keypair_clear(kp: u32) -> i32 {
    if kp as usize >= MAX_KEYPAIRS {
        return E_BAD_ARG;
    }
    state::state().keypairs.clear(kp as usize);
    0
}

/// Keeps the index but refuses send and receive (E_KEY_EXPIRED). 0, or E_BAD_ARG if the
/// slot is out of range or empty.
#[no_mangle]
pub extern "C" fn ts_keypair_expire(kp: u32) -> i32 {
    match state::state().keypairs.slot_mut(kp as usize) {
        Some(s) if s.live => {
            s.expired = true;
            0
        }
        _ => E_BAD_ARG,
    }
}

/// Writes f64[4]: send_counter (next counter to send), highest_recv_counter,
/// received_packets, peer (-1 for an empty slot). Returns 1 for a live slot, 0 for an
/// empty one, E_BAD_ARG for a bad slot or pointer.
#[no_mangle]
pub extern "C" fn ts_keypair_info(kp: u32, out: u32) -> i32 {
    let s = match state::state().keypairs.slot(kp as usize) {
        Some(s) => *s,
        None => return E_BAD_ARG,
    };
    let v = if s.live {
        [s.send_counter as f64, s.replay.last() as f64, s.received_packets as f64, s.peer as f64]
    } else {
        [0.0, 0.0, 0.0, -1.0]
    };
    if !mem::write_f64s(out, &v) {
        return E_BAD_ARG;
    }
    s.live as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_hash_survives_churn() {
        state::fresh();
        let t = &mut state::state().keypairs;
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
        for k in 0..MAX_KEYPAIRS {
            assert_eq!(t.lookup(idx[k]), Some(k));
        }
    }

    #[test]
    fn exports() {
        state::fresh();
        let s = mem::scratch_ptr();
        let keys: Vec<u8> = (0..64).collect();
        assert!(mem::write(s, &keys));
        assert_eq!(ts_keypair_set(3, 9, 0xaabb, 0xccdd, s), 0);
        {
            let k = state::state().keypairs.slot(3).unwrap();
            assert!(k.live && !k.expired);
            assert_eq!((k.peer, k.local_index, k.remote_index), (9, 0xaabb, 0xccdd));
            assert_eq!(k.send_key[0], 0x0302_0100);
            assert_eq!(k.recv_key[0], 0x2322_2120);
        }
        assert_eq!(state::state().keypairs.lookup(0xaabb), Some(3));
        assert_eq!(ts_keypair_set(4, 9, 0xaabb, 0, s), E_BAD_ARG); // index taken
        assert_eq!(ts_keypair_set(MAX_KEYPAIRS as u32, 9, 1, 0, s), E_BAD_ARG);
        assert_eq!(ts_keypair_set(4, MAX_PEERS as u32, 1, 0, s), E_BAD_ARG);
        assert_eq!(ts_keypair_set(4, 9, 1, 0, 0), E_BAD_ARG);
        // Replacing slot 3 with a new index drops the old one.
        state::state().keypairs.slot_mut(3).unwrap().send_counter = 77;
        assert_eq!(ts_keypair_set(3, 9, 0x1234, 0xccdd, s), 0);
        assert_eq!(state::state().keypairs.lookup(0xaabb), None);
        assert_eq!(state::state().keypairs.lookup(0x1234), Some(3));
        assert_eq!(state::state().keypairs.slot(3).unwrap().send_counter, 0);
        let out = s + 128;
        assert_eq!(ts_keypair_info(3, out), 1);
        assert_eq!(mem::read::<8>(out + 24).unwrap(), 9.0f64.to_le_bytes());
        assert_eq!(ts_keypair_expire(3), 0);
        assert!(state::state().keypairs.slot(3).unwrap().expired);
        assert_eq!(state::state().keypairs.lookup(0x1234), Some(3));
        assert_eq!(ts_keypair_expire(5), E_BAD_ARG);
        assert_eq!(ts_keypair_clear(3), 0);
        assert_eq!(ts_keypair_clear(3), 0);
        assert_eq!(ts_keypair_clear(MAX_KEYPAIRS as u32), E_BAD_ARG);
        assert_eq!(state::state().keypairs.lookup(0x1234), None);
        assert_eq!(state::state().keypairs.slot(3).unwrap().send_key, [0; 8]);
        assert_eq!(ts_keypair_info(3, out), 0);
        assert_eq!(mem::read::<8>(out + 24).unwrap(), (-1.0f64).to_le_bytes());
        assert_eq!(ts_keypair_info(MAX_KEYPAIRS as u32, out), E_BAD_ARG);
        assert_eq!(ts_keypair_info(3, 0), E_BAD_ARG);
    }
}
