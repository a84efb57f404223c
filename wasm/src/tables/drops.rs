//! Drop counters: one per error code, so TypeScript can report why packets died
//! without any per-packet logging.

use crate::errors::N_CODES;

pub struct Drops {
    counts: [u64; N_CODES],
}

impl Drops {
    pub const ZERO: Drops = Drops { counts: [0; N_CODES] };

    /// Counts one packet dropped with `code`; anything that is not a drop code
    /// (success, HANDSHAKE) is ignored.
    pub fn count(&mut self, code: i32) {
        if code < 0 {
            if let Some(c) = self.counts.get_mut(code.unsigned_abs() as usize) {
                *c += 1;
            }
        }
    }

    /// Counts `n` packets dropped with `code` (ignored like `count` for a non-drop code).
    pub fn add(&mut self, code: i32, n: u64) {
        if code < 0 {
            if let Some(c) = self.counts.get_mut(code.unsigned_abs() as usize) {
                *c += n;
            }
        }
    }

    /// Sum over all codes (for tests and summaries).
    pub fn counts_total(&self) -> u64 {
        self.counts.iter().sum()
    }

    pub fn get(&self, code: i32) -> u64 {
        match self.counts.get(code.unsigned_abs() as usize) {
            Some(c) if code < 0 => *c,
            _ => 0,
        }
    }

    /// Every counter as f64 (what `ts_drop_stats` writes): index k = drops with code -k.
    pub fn to_f64s(&self) -> [f64; N_CODES] {
        let mut vals = [0f64; N_CODES];
        for (v, c) in vals.iter_mut().zip(self.counts.iter()) {
            *v = *c as f64;
        }
        vals
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::*;

    #[test]
    fn counts_by_code() {
        let mut d = Drops::ZERO;
        d.count(E_AUTH);
        d.count(E_AUTH);
        d.count(HANDSHAKE);
        d.count(0);
        d.count(-31);
        d.count(-32);
        assert_eq!(d.get(E_AUTH), 2);
        assert_eq!(d.get(HANDSHAKE), 0);
        assert_eq!(d.get(-31), 1);
        assert_eq!(d.counts.iter().sum::<u64>(), 3);
        assert_eq!(d.to_f64s()[9], 2.0);
        assert_eq!(d.counts_total(), 3);
    }
}
