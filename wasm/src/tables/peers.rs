//! Per-peer data-plane state: the send keypair, endpoint length and traffic counters, and
//! where each peer's sockaddr bytes are (in public pages, so `sendmmsg` can point at them;
//! the bytes themselves are passed in where needed). Peer ids are below the limit
//! (`DEFAULT_MAX_PEERS` unless set), chosen by TypeScript; both tables grow by a page at a
//! time, for the ids asked for: a peer whose chunk does not exist yet is a zeroed peer.

use crate::consts::{DEFAULT_MAX_PEERS, ENDPOINT_LEN, MAX_PEERS, PEER_STATS_LEN};
use crate::errors::*;
use crate::tables::chunked::Chunked;
use crate::tables::keypairs::Keypairs;
use crate::tables::{Pages, PAGE};

/// `last_rx_kind` values.
pub const RX_NONE: u32 = 0;
pub const RX_KEEPALIVE: u32 = 1;
pub const RX_DATA: u32 = 2;

/// Linux address families, as the first (little-endian) u16 of a sockaddr.
const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;

#[derive(Clone, Copy)]
pub struct Peer {
    /// Send keypair slot + 1; 0 = none (so a zeroed peer has none).
    send_kp: u32,
    pub endpoint_len: u32,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub endpoint_changes: u64,
    pub last_rx_kind: u32,
}

impl Peer {
    pub const ZERO: Peer = Peer {
        send_kp: 0,
        endpoint_len: 0,
        rx_bytes: 0,
        tx_bytes: 0,
        rx_packets: 0,
        tx_packets: 0,
        endpoint_changes: 0,
        last_rx_kind: RX_NONE,
    };

    pub fn send_keypair(&self) -> Option<usize> {
        if self.send_kp == 0 {
            None
        } else {
            Some(self.send_kp as usize - 1)
        }
    }

    /// Records the source sockaddr `sa` (16 or 28 bytes) in `endpoint` (this peer's storage)
    /// if it differs (roaming). Returns whether it changed.
    pub fn roam(&mut self, endpoint: &mut [u8; ENDPOINT_LEN], sa: &[u8]) -> bool {
        let mut padded = [0u8; ENDPOINT_LEN];
        match padded.get_mut(..sa.len()) {
            Some(head) => head.copy_from_slice(sa),
            None => return false,
        }
        // Every received packet asks: compared as four words of zero-padded copies, not
        // through the byte-wise `memcmp` a slice comparison calls in wasm (roam and memcmp
        // were 1 % of a receiver's samples). The storage's tail is not trusted to be zero:
        // `learnEndpoint` writes a 16-byte name over a longer one.
        let mut stored = *endpoint;
        if let Some(tail) = stored.get_mut(sa.len()..) {
            tail.fill(0);
        }
        if self.endpoint_len as usize == sa.len() && same_words(&stored, &padded) {
            return false;
        }
        *endpoint = padded;
        self.endpoint_len = sa.len() as u32;
        self.endpoint_changes += 1;
        true
    }

    /// rx_bytes, tx_bytes, rx_packets, tx_packets, endpoint_changes, last_rx_kind.
    pub fn stats(&self) -> [f64; PEER_STATS_LEN] {
        [
            self.rx_bytes as f64,
            self.tx_bytes as f64,
            self.rx_packets as f64,
            self.tx_packets as f64,
            self.endpoint_changes as f64,
            self.last_rx_kind as f64,
        ]
    }
}

/// Peers per chunk (one page).
const CHUNK: usize = PAGE / core::mem::size_of::<Peer>();
/// Sockaddrs per public page.
const ENDPOINT_CHUNK: usize = PAGE / ENDPOINT_LEN;

pub struct Peers {
    list: Chunked<'static, Peer, CHUNK, { (MAX_PEERS + CHUNK - 1) / CHUNK }>,
    /// Offset of each public page of sockaddrs (`ENDPOINT_CHUNK` peers each); 0 = none yet.
    endpoints: [u32; MAX_PEERS / ENDPOINT_CHUNK],
    /// Peer ids are below this; 0 = `DEFAULT_MAX_PEERS`.
    limit: u32,
}

impl Peers {
    pub const ZERO: Peers = Peers { list: Chunked::EMPTY, endpoints: [0; MAX_PEERS / ENDPOINT_CHUNK], limit: 0 };

    /// Peer ids are below this.
    #[inline]
    pub fn limit(&self) -> u32 {
        if self.limit == 0 {
            DEFAULT_MAX_PEERS as u32
        } else {
            self.limit
        }
    }

    /// Sets the limit (`1 ..= MAX_PEERS`) while no peer exists. 0 or E_BAD_ARG.
    pub fn set_limit(&mut self, limit: u32) -> i32 {
        if limit == 0 || limit as usize > MAX_PEERS || self.pages() > 0 {
            return E_BAD_ARG;
        }
        self.limit = limit;
        0
    }

    /// Pages the table took (private, public).
    pub fn pages(&self) -> usize {
        self.list.chunks() + self.endpoints.iter().filter(|&&b| b != 0).count()
    }

    /// Peer slots that exist.
    pub fn capacity(&self) -> usize {
        self.list.chunks() * CHUNK
    }

    /// The peer, if its chunk exists (a peer below the limit without one is a zeroed peer).
    #[inline]
    pub fn get(&self, peer: u32) -> Option<&Peer> {
        if peer >= self.limit() {
            return None;
        }
        self.list.get(peer as usize)
    }

    #[inline]
    pub fn get_mut(&mut self, peer: u32) -> Option<&mut Peer> {
        if peer >= self.limit() {
            return None;
        }
        self.list.get_mut(peer as usize)
    }

    /// Makes peer `peer` exist: its chunk of counters and its page of sockaddrs. E_BAD_ARG at
    /// or beyond the limit, E_TABLE_FULL if memory cannot grow.
    pub fn ensure<P: Pages<'static>>(&mut self, peer: u32, pages: &mut P) -> Result<(), i32> {
        if peer >= self.limit() {
            return Err(E_BAD_ARG);
        }
        let ep = match self.endpoints.get_mut(peer as usize / ENDPOINT_CHUNK) {
            Some(e) => e,
            None => return Err(E_BAD_ARG),
        };
        if *ep == 0 {
            *ep = pages.public().ok_or(E_TABLE_FULL)?;
        }
        if self.list.ensure(peer as usize, Peer::ZERO, pages) {
            Ok(())
        } else {
            Err(E_TABLE_FULL)
        }
    }

    /// Where peer `peer`'s sockaddr storage is (`ENDPOINT_LEN` bytes, 16-aligned), once it exists.
    #[inline]
    pub fn endpoint_ptr(&self, peer: u32) -> Option<u32> {
        if peer >= self.limit() {
            return None;
        }
        match self.endpoints.get(peer as usize / ENDPOINT_CHUNK) {
            Some(&b) if b != 0 => Some(b + (peer as usize % ENDPOINT_CHUNK * ENDPOINT_LEN) as u32),
            _ => None,
        }
    }

    /// A peer's stats: zeros for one that does not exist yet, `None` at or beyond the limit.
    pub fn stats(&self, peer: u32) -> Option<[f64; PEER_STATS_LEN]> {
        if peer >= self.limit() {
            return None;
        }
        Some(self.list.get(peer as usize).unwrap_or(&Peer::ZERO).stats())
    }

    /// Clears endpoint length, counters and send keypair (routes are another table's); the
    /// peer exists afterwards. The caller clears the sockaddr bytes.
    pub fn reset<P: Pages<'static>>(&mut self, peer: u32, pages: &mut P) -> Result<(), i32> {
        self.ensure(peer, pages)?;
        if let Some(p) = self.list.get_mut(peer as usize) {
            *p = Peer::ZERO;
        }
        Ok(())
    }

    /// Sets the endpoint length after TypeScript wrote the sockaddr (0 = none, 16 or 28).
    /// Not counted as an endpoint change.
    pub fn set_endpoint_len<P: Pages<'static>>(&mut self, peer: u32, len: u32, pages: &mut P) -> Result<(), i32> {
        if !endpoint_len_ok(len) {
            return Err(E_BAD_ARG);
        }
        self.ensure(peer, pages)?;
        if let Some(p) = self.list.get_mut(peer as usize) {
            p.endpoint_len = len;
        }
        Ok(())
    }

    /// Sets the keypair used to send to `peer` (-1 = none). The slot must hold a live
    /// keypair of this peer.
    pub fn set_send_keypair<P: Pages<'static>>(
        &mut self,
        peer: u32,
        kp: i32,
        keypairs: &Keypairs,
        pages: &mut P,
    ) -> Result<(), i32> {
        let ok = kp == -1 || (kp >= 0 && keypairs.slot(kp as usize).map_or(false, |k| k.live && k.peer == peer));
        if !ok {
            return Err(E_BAD_ARG);
        }
        self.ensure(peer, pages)?;
        if let Some(p) = self.list.get_mut(peer as usize) {
            p.send_kp = (kp + 1) as u32;
        }
        Ok(())
    }
}

/// Lengths a stored endpoint may have: none, sockaddr_in, sockaddr_in6.
pub fn endpoint_len_ok(len: u32) -> bool {
    matches!(len, 0 | 16 | 28)
}

/// Length of a sockaddr by its family: AF_INET → 16 bytes, AF_INET6 → 28; others `None`.
pub fn sockaddr_len(family: u16) -> Option<usize> {
    match family {
        AF_INET => Some(16),
        AF_INET6 => Some(28),
        _ => None,
    }
}

/// `a == b`, eight bytes at a time.
#[inline(always)]
fn same_words(a: &[u8; ENDPOINT_LEN], b: &[u8; ENDPOINT_LEN]) -> bool {
    let mut diff = 0u64;
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        let w = |c: &[u8]| c.try_into().map_or(0, u64::from_ne_bytes);
        diff |= w(x) ^ w(y);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roaming_rewrites_the_endpoint_only_when_it_differs() {
        let mut p = Peer::ZERO;
        let mut ep = [0xeeu8; ENDPOINT_LEN];
        let sa = [2u8, 0, 0xca, 0x6c, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
        assert!(p.roam(&mut ep, &sa));
        assert_eq!(&ep[..16], &sa);
        assert_eq!(&ep[16..], &[0; 16]); // the rest cleared
        assert!(!p.roam(&mut ep, &sa));
        assert!(p.roam(&mut ep, &[10; 28]));
        assert_eq!((p.endpoint_len, p.endpoint_changes), (28, 2));
        assert!(!p.roam(&mut ep, &[1; 33]));
        assert_eq!((sockaddr_len(2), sockaddr_len(10), sockaddr_len(7)), (Some(16), Some(28), None));
        assert!(endpoint_len_ok(0) && endpoint_len_ok(16) && endpoint_len_ok(28) && !endpoint_len_ok(17));
        assert_eq!(p.stats()[4], 2.0);
    }

    #[test]
    fn peers_grow_by_the_page_for_the_ids_asked_for() {
        let mut t = crate::testing::boxed(|| Peers::ZERO);
        let mut pages = crate::testing::HeapPages::unlimited();
        assert_eq!(t.limit(), DEFAULT_MAX_PEERS as u32);
        assert_eq!(t.stats(65535), Some([0.0; PEER_STATS_LEN]), "not there yet: a zeroed peer");
        assert_eq!(t.stats(65536), None);
        assert_eq!(t.endpoint_ptr(3), None);
        assert_eq!(t.ensure(65536, &mut pages), Err(E_BAD_ARG));
        assert_eq!(t.set_endpoint_len(9999, 16, &mut pages), Ok(()));
        assert_eq!(t.get(9999).map(|p| p.endpoint_len), Some(16));
        assert_eq!(t.capacity(), CHUNK);
        assert_eq!((pages.in_use(), pages.public), (1, 1));
        // Sockaddrs: 16-aligned, 32 apart within a page.
        let a = t.endpoint_ptr(9999).unwrap();
        assert_eq!(t.endpoint_ptr(10000), Some(a + 32));
        assert_eq!(a % 16, 0);
        assert!(t.get(0).is_none() && t.endpoint_ptr(0).is_none(), "sparse");
        assert_eq!(t.set_limit(2048), E_BAD_ARG, "peers exist");
        let mut u = crate::testing::boxed(|| Peers::ZERO);
        assert_eq!(u.set_limit(0), E_BAD_ARG);
        assert_eq!(u.set_limit(MAX_PEERS as u32 + 1), E_BAD_ARG);
        assert_eq!(u.set_limit(MAX_PEERS as u32), 0);
        assert_eq!(u.reset(MAX_PEERS as u32 - 1, &mut pages), Ok(()));
        assert!(u.get(MAX_PEERS as u32 - 1).is_some());
        let mut none = crate::testing::HeapPages::new(0);
        assert_eq!(u.reset(0, &mut none), Err(E_TABLE_FULL));
    }
}
