//! Per-peer data-plane state: the send keypair, endpoint length (the sockaddr bytes live in
//! the shared region so `sendmmsg` can point at them; they are passed in where needed) and
//! traffic counters. Peer ids are `0 .. MAX_PEERS-1`, chosen by TypeScript.

use crate::consts::{ENDPOINT_LEN, MAX_KEYPAIRS, MAX_PEERS, PEER_STATS_LEN};
use crate::errors::*;
use crate::tables::keypairs::Keypairs;

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
        if sa.len() > endpoint.len() {
            return false;
        }
        if self.endpoint_len as usize == sa.len() && endpoint.get(..sa.len()) == Some(sa) {
            return false;
        }
        for (i, b) in endpoint.iter_mut().enumerate() {
            *b = sa.get(i).copied().unwrap_or(0);
        }
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

pub struct Peers {
    list: [Peer; MAX_PEERS],
}

impl Peers {
    pub const ZERO: Peers = Peers { list: [Peer::ZERO; MAX_PEERS] };

    pub fn get(&self, peer: u32) -> Option<&Peer> {
        self.list.get(peer as usize)
    }

    pub fn get_mut(&mut self, peer: u32) -> Option<&mut Peer> {
        self.list.get_mut(peer as usize)
    }

    /// Clears endpoint length, counters and send keypair (routes are another table's). 0 or
    /// E_BAD_ARG.
    pub fn reset(&mut self, peer: u32) -> i32 {
        match self.get_mut(peer) {
            Some(p) => {
                *p = Peer::ZERO;
                0
            }
            None => E_BAD_ARG,
        }
    }

    /// Sets the endpoint length after TypeScript wrote the sockaddr (0 = none, 16 or 28).
    /// Not counted as an endpoint change. 0 or E_BAD_ARG.
    pub fn set_endpoint_len(&mut self, peer: u32, len: u32) -> i32 {
        match self.get_mut(peer) {
            Some(p) if endpoint_len_ok(len) => {
                p.endpoint_len = len;
                0
            }
            _ => E_BAD_ARG,
        }
    }

    /// Sets the keypair used to send to `peer` (-1 = none). The slot must hold a live
    /// keypair of this peer. 0 or E_BAD_ARG.
    pub fn set_send_keypair(&mut self, peer: u32, kp: i32, keypairs: &Keypairs) -> i32 {
        let ok = kp == -1
            || (kp >= 0
                && (kp as usize) < MAX_KEYPAIRS
                && keypairs.slot(kp as usize).map_or(false, |k| k.live && k.peer == peer));
        match self.get_mut(peer) {
            Some(p) if ok => {
                p.send_kp = (kp + 1) as u32;
                0
            }
            _ => E_BAD_ARG,
        }
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
}
