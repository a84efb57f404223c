//! Replay window exactly as wireguard-go's replay/replay.go (RFC 6479): a ring of 128
//! 64-bit blocks; the window is (128 - 1) × 64 = 8128 counters behind the highest seen.

const BLOCK_BITS_LOG: u32 = 6;
const BLOCK_BITS: u64 = 1 << BLOCK_BITS_LOG;
const RING_BLOCKS: u64 = 1 << 7;
pub const WINDOW_SIZE: u64 = (RING_BLOCKS - 1) * BLOCK_BITS;
/// 2^64 - 2^13 - 1: counters at or above this are never accepted (nor sent).
pub const REJECT_AFTER_MESSAGES: u64 = u64::MAX - (1 << 13);

#[derive(Clone, Copy)]
pub struct Replay {
    last: u64,
    ring: [u64; RING_BLOCKS as usize],
}

impl Replay {
    pub const ZERO: Replay = Replay { last: 0, ring: [0; RING_BLOCKS as usize] };

    /// wireguard-go resets only `last` and block 0; clearing everything is equivalent
    /// (stale blocks are zeroed before use) and keeps old keypairs' bits out of sight.
    pub fn reset(&mut self) {
        *self = Replay::ZERO;
    }

    /// Highest counter accepted so far (0 before any).
    pub fn last(&self) -> u64 {
        self.last
    }

    /// Would `validate` accept `counter`? No state change: lets the receive path drop
    /// stale counters before paying for decryption. Agrees with `validate` exactly.
    pub fn check(&self, counter: u64, limit: u64) -> bool {
        if counter >= limit {
            return false;
        }
        if counter > self.last {
            // Blocks above `last` are zeroed by `validate` before the bit is tested.
            return true;
        }
        if self.last - counter > WINDOW_SIZE {
            return false;
        }
        let idx = ((counter >> BLOCK_BITS_LOG) & (RING_BLOCKS - 1)) as usize;
        let bit = 1u64 << (counter & (BLOCK_BITS - 1));
        match self.ring.get(idx) {
            Some(b) => b & bit == 0,
            None => false,
        }
    }

    /// Accepts `counter` (and records it) iff it is below `limit`, not older than the
    /// window and not seen before. Call only after the AEAD tag verified.
    pub fn validate(&mut self, counter: u64, limit: u64) -> bool {
        if counter >= limit {
            return false;
        }
        let index = counter >> BLOCK_BITS_LOG;
        if counter > self.last {
            let current = self.last >> BLOCK_BITS_LOG;
            let diff = (index - current).min(RING_BLOCKS);
            for i in current + 1..=current + diff {
                if let Some(b) = self.ring.get_mut((i & (RING_BLOCKS - 1)) as usize) {
                    *b = 0;
                }
            }
            self.last = counter;
        } else if self.last - counter > WINDOW_SIZE {
            return false;
        }
        let bit = 1u64 << (counter & (BLOCK_BITS - 1));
        match self.ring.get_mut((index & (RING_BLOCKS - 1)) as usize) {
            Some(b) => {
                let old = *b;
                *b |= bit;
                old & bit == 0
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: u64 = REJECT_AFTER_MESSAGES;

    /// Every validate is preceded by a check that must agree with it.
    fn v(r: &mut Replay, c: u64) -> bool {
        let pre = r.check(c, L);
        let got = r.validate(c, L);
        assert_eq!(pre, got, "check/validate disagree at {}", c);
        got
    }

    #[test]
    fn constants() {
        assert_eq!(WINDOW_SIZE, 8128);
        assert_eq!(REJECT_AFTER_MESSAGES, 18446744073709543423);
    }

    #[test]
    fn zero_and_duplicates() {
        let mut r = Replay::ZERO;
        assert!(v(&mut r, 0));
        assert!(!v(&mut r, 0));
        assert!(v(&mut r, 1));
        assert!(!v(&mut r, 1));
        assert!(!v(&mut r, 0));
        assert_eq!(r.last(), 1);
    }

    #[test]
    fn reordered() {
        let mut r = Replay::ZERO;
        for c in [5u64, 3, 9, 4, 0, 1, 2, 8, 7, 6] {
            assert!(v(&mut r, c), "{}", c);
        }
        for c in 0..10 {
            assert!(!v(&mut r, c));
        }
        assert!(v(&mut r, 10));
    }

    #[test]
    fn window_boundary() {
        let mut r = Replay::ZERO;
        assert!(v(&mut r, WINDOW_SIZE + 100));
        // last - c == 8128 is still inside; 8129 behind is too old.
        assert!(v(&mut r, 100));
        assert!(!v(&mut r, 99));
        assert!(!v(&mut r, 100));
        assert!(v(&mut r, 101));
        // Exactly at the window from 0.
        let mut r = Replay::ZERO;
        assert!(v(&mut r, 0));
        assert!(v(&mut r, WINDOW_SIZE));
        assert!(!v(&mut r, 0)); // seen
        let mut r = Replay::ZERO;
        assert!(v(&mut r, WINDOW_SIZE));
        assert!(v(&mut r, 0)); // 8128 behind: in window, unseen
        assert!(v(&mut r, WINDOW_SIZE + 1));
        assert!(!v(&mut r, 0)); // seen, and now 8129 behind
        assert!(v(&mut r, 1)); // 8128 behind, unseen
    }

    #[test]
    fn ring_reuse_after_advancing() {
        // Bits from one lap must not leak into the next lap of the ring.
        let mut r = Replay::ZERO;
        for c in 0..64 {
            assert!(v(&mut r, c));
        }
        let lap = RING_BLOCKS * BLOCK_BITS; // same ring block as 0..64
        assert!(v(&mut r, lap + 5));
        for c in lap..lap + 64 {
            assert_eq!(v(&mut r, c), c != lap + 5, "{}", c);
        }
        // Step one block at a time for several laps.
        let mut r = Replay::ZERO;
        let mut c = 0;
        while c < 5 * lap {
            assert!(v(&mut r, c));
            assert!(!v(&mut r, c));
            c += 63;
        }
    }

    #[test]
    fn far_jump() {
        let mut r = Replay::ZERO;
        for c in 0..200 {
            assert!(v(&mut r, c));
        }
        assert!(v(&mut r, 1_000_000));
        assert!(!v(&mut r, 199));
        assert!(v(&mut r, 1_000_000 - WINDOW_SIZE));
        assert!(!v(&mut r, 1_000_000 - WINDOW_SIZE - 1));
        // Everything in the window after a jump is fresh except what was seen.
        for c in 1_000_000 - 500..1_000_000 {
            assert!(v(&mut r, c));
        }
        assert!(v(&mut r, u64::MAX / 2));
        assert!(!v(&mut r, 1_000_000));
    }

    #[test]
    fn reject_limit() {
        let mut r = Replay::ZERO;
        assert!(!v(&mut r, L));
        assert!(!v(&mut r, u64::MAX));
        assert!(v(&mut r, L - 1));
        assert!(!v(&mut r, L - 1));
        assert!(v(&mut r, L - 2));
        assert_eq!(r.last(), L - 1);
        // A smaller limit applies too.
        let mut r = Replay::ZERO;
        assert!(!r.validate(10, 10));
        assert!(r.validate(9, 10));
        r.reset();
        assert_eq!(r.last(), 0);
        assert!(r.validate(9, 10));
    }
}
