//! Per-peer data-plane state: the send keypair, endpoint length (the sockaddr bytes live
//! in the shared static so `sendmmsg` can point at them) and traffic counters.
//! Peer ids are `0 .. MAX_PEERS-1`, chosen by TypeScript.

use crate::errors::*;
pub use crate::consts::MAX_PEERS;
use crate::consts::MAX_KEYPAIRS;
use crate::{mem, state};


/// `last_rx_kind` values.
pub const RX_NONE: u32 = 0;
pub const RX_KEEPALIVE: u32 = 1;
pub const RX_DATA: u32 = 2;

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
    const ZERO: Peer = Peer {
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
}

/// Lengths a stored endpoint may have: none, sockaddr_in, sockaddr_in6.
pub fn endpoint_len_ok(len: u32) -> bool {
    matches!(len, 0 | 16 | 28)
}

/// Records the source sockaddr `sa` (16 or 28 bytes) as `peer`'s endpoint if it differs
/// (roaming). Returns whether it changed.
pub fn roam(p: &mut Peer, peer: u32, sa: &[u8]) -> bool {
    let dst = match mem::bytes_mut(mem::endpoint_ptr(peer as usize), mem::ENDPOINT_LEN) {
        Some(d) if (peer as usize) < MAX_PEERS && sa.len() <= d.len() => d,
        _ => return false,
    };
    if p.endpoint_len as usize == sa.len() && dst.get(..sa.len()) == Some(sa) {
        return false;
    }
    for (i, b) in dst.iter_mut().enumerate() {
        *b = sa.get(i).copied().unwrap_or(0);
    }
    p.endpoint_len = sa.len() as u32;
    p.endpoint_changes += 1;
    true
}

/// Clears endpoint, counters and send keypair; routes stay. 0 or E_BAD_ARG.
#[no_mangle]
pub extern "C" fn ts_peer_reset(peer: u32) -> i32 {
    match state::state().peers.get_mut(peer) {
        Some(p) => {
            *p = Peer::ZERO;
            if let Some(ep) = mem::bytes_mut(mem::endpoint_ptr(peer as usize), mem::ENDPOINT_LEN) {
                ep.fill(0);
            }
            0
        }
        None => E_BAD_ARG,
    }
}

/// Pointer to the peer's 32-byte sockaddr storage, or 0 for a bad peer id.
#[no_mangle]
pub extern "C" fn ts_peer_endpoint_ptr(peer: u32) -> u32 {
    if (peer as usize) < MAX_PEERS {
        mem::endpoint_ptr(peer as usize)
    } else {
        0
    }
}

/// Stored endpoint length (0 = none, 16, 28); 0 for a bad peer id.
#[no_mangle]
pub extern "C" fn ts_peer_endpoint_len(peer: u32) -> u32 {
    match state::state().peers.get(peer) {
        Some(p) => p.endpoint_len,
        None => 0,
    }
}

/// Sets the endpoint length after TypeScript wrote the sockaddr (0 = none, 16 or 28).
/// Does not count as an endpoint change. 0 or E_BAD_ARG.
#[no_mangle]
pub extern "C" fn ts_peer_set_endpoint_len(peer: u32, len: u32) -> i32 {
    match state::state().peers.get_mut(peer) {
        Some(p) if endpoint_len_ok(len) => {
            p.endpoint_len = len;
            0
        }
        _ => E_BAD_ARG,
    }
}

/// Writes f64[6]: rx_bytes, tx_bytes, rx_packets, tx_packets, endpoint_changes,
/// last_rx_kind. 0 or E_BAD_ARG.
#[no_mangle]
pub extern "C" fn ts_peer_stats(peer: u32, out: u32) -> i32 {
    let p = match state::state().peers.get(peer) {
        Some(p) => *p,
        None => return E_BAD_ARG,
    };
    let v = [
        p.rx_bytes as f64,
        p.tx_bytes as f64,
        p.rx_packets as f64,
        p.tx_packets as f64,
        p.endpoint_changes as f64,
        p.last_rx_kind as f64,
    ];
    if mem::write_f64s(out, &v) {
        0
    } else {
        E_BAD_ARG
    }
}

/// Sets the keypair used to send to `peer` (-1 = none). The slot must hold a live
/// keypair of this peer. 0 or E_BAD_ARG.
#[no_mangle]
pub extern "C" fn ts_peer_set_send_keypair(peer: u32, kp: i32) -> i32 {
    let st = state::state();
    let ok = kp == -1
        || (kp >= 0
            && (kp as usize) < MAX_KEYPAIRS
            && st.keypairs.slot(kp as usize).map_or(false, |k| k.live && k.peer == peer));
    match st.peers.get_mut(peer) {
        Some(p) if ok => {
            p.send_kp = (kp + 1) as u32;
            0
        }
        _ => E_BAD_ARG,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_and_stats() {
        state::fresh();
        let p = 7;
        let ep = ts_peer_endpoint_ptr(p);
        assert_eq!(ep % 16, 0);
        assert_eq!(ts_peer_endpoint_ptr(MAX_PEERS as u32), 0);
        assert_eq!(ts_peer_endpoint_ptr(p + 1) - ep, 32);
        let sa = [2u8, 0, 0xca, 0x6c, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
        assert!(mem::write(ep, &sa));
        assert_eq!(ts_peer_set_endpoint_len(p, 16), 0);
        assert_eq!(ts_peer_set_endpoint_len(p, 17), E_BAD_ARG);
        assert_eq!(ts_peer_set_endpoint_len(MAX_PEERS as u32, 16), E_BAD_ARG);
        assert_eq!(ts_peer_endpoint_len(p), 16);
        // Same address: no change; another: change counted.
        let st = state::state();
        let peer = st.peers.get_mut(p).unwrap();
        assert!(!roam(peer, p, &sa));
        let mut sa2 = sa;
        sa2[7] = 2;
        assert!(roam(peer, p, &sa2));
        let sa6 = [10u8; 28];
        assert!(roam(peer, p, &sa6));
        assert_eq!(peer.endpoint_len, 28);
        assert_eq!(&mem::bytes(ep, 32).unwrap()[..28], &sa6);
        assert!(roam(peer, p, &sa));
        assert_eq!(&mem::bytes(ep, 32).unwrap()[16..], &[0; 16]); // tail cleared
        let s = mem::scratch_ptr();
        assert_eq!(ts_peer_stats(p, s), 0);
        assert_eq!(mem::read::<8>(s + 32).unwrap(), 3.0f64.to_le_bytes());
        assert_eq!(ts_peer_stats(p, 0), E_BAD_ARG);
        assert_eq!(ts_peer_stats(MAX_PEERS as u32, s), E_BAD_ARG);
        assert_eq!(ts_peer_reset(p), 0);
        assert_eq!(ts_peer_endpoint_len(p), 0);
        assert_eq!(mem::bytes(ep, 32).unwrap(), &[0; 32]);
        assert_eq!(ts_peer_stats(p, s), 0);
        assert_eq!(mem::bytes(s, 48).unwrap(), &[0; 48]);
        assert_eq!(ts_peer_reset(MAX_PEERS as u32), E_BAD_ARG);
    }

    #[test]
    fn send_keypair_rules() {
        state::fresh();
        let s = mem::scratch_ptr();
        assert_eq!(ts_peer_set_send_keypair(1, 0), E_BAD_ARG); // slot empty
        assert_eq!(crate::keypairs::ts_keypair_set(0, 1, 100, 200, s), 0);
        assert_eq!(ts_peer_set_send_keypair(2, 0), E_BAD_ARG); // another peer's keypair
        assert_eq!(ts_peer_set_send_keypair(1, 0), 0);
        assert_eq!(state::state().peers.get(1).unwrap().send_keypair(), Some(0));
        assert_eq!(ts_peer_set_send_keypair(1, -1), 0);
        assert_eq!(state::state().peers.get(1).unwrap().send_keypair(), None);
        assert_eq!(ts_peer_set_send_keypair(1, -2), E_BAD_ARG);
        assert_eq!(ts_peer_set_send_keypair(1, MAX_KEYPAIRS as i32), E_BAD_ARG);
        assert_eq!(ts_peer_set_send_keypair(MAX_PEERS as u32, -1), E_BAD_ARG);
    }
}
