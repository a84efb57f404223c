//! Path MTUs learnt from ICMP (RFC 1191 §6.3, RFC 8201 §5.3), as the send MSS they allow, per
//! destination address: a small table (the oldest entry gives way), so a connection opened to
//! an address after a Packet Too Big starts with the lower MSS instead of losing its first
//! full-sized segments again. An estimate is forgotten after 10 minutes (RFC 1191 §6.3: the
//! path may have grown; the next too-big segment teaches it again).

use super::before;

/// Destinations remembered.
pub const ENTRIES: usize = 64;
/// How long an estimate holds, ms.
pub const AGE_MS: u32 = 600_000;

#[derive(Clone, Copy)]
struct Entry {
    used: bool,
    family: u8,
    addr: [u8; 16],
    mss: u16,
    at: u32,
}

pub struct PathMtus {
    entries: [Entry; ENTRIES],
    /// Where a new destination goes (round robin: the oldest entry).
    next: usize,
}

impl PathMtus {
    pub const ZERO: PathMtus =
        PathMtus { entries: [Entry { used: false, family: 0, addr: [0; 16], mss: 0, at: 0 }; ENTRIES], next: 0 };

    fn find(&self, family: u8, addr: &[u8; 16], now: u32) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| e.used && e.family == family && e.addr == *addr && before(now, e.at.wrapping_add(AGE_MS)))
    }

    /// The send MSS for `addr` if one was learnt in the last 10 minutes.
    pub fn mss(&self, family: u8, addr: &[u8; 16], now: u32) -> Option<u16> {
        self.find(family, addr, now).map(|k| self.entries[k].mss)
    }

    /// `addr`'s path takes segments of at most `mss`. Returns whether that lowered (or set)
    /// the estimate; a higher value than the one held changes nothing (never up).
    pub fn learn(&mut self, family: u8, addr: &[u8; 16], mss: u16, now: u32) -> bool {
        match self.find(family, addr, now) {
            Some(k) if self.entries[k].mss <= mss => false,
            Some(k) => {
                self.entries[k].mss = mss;
                self.entries[k].at = now;
                true
            }
            None => {
                self.entries[self.next] = Entry { used: true, family, addr: *addr, mss, at: now };
                self.next = (self.next + 1) % ENTRIES;
                true
            }
        }
    }
}
