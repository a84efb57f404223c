//! WireGuard transport data in place in the slots (brief §1, §2, §6, §7):
//! `ts_encrypt_batch` turns IP packets at `off + HEADROOM` into transport messages at
//! `off`; `ts_decrypt_batch` turns received datagrams at `off` back into IP packets at
//! `off + HEADROOM` (the plaintext lands there because the header is exactly 16 bytes).

use crate::crypto::aead::{self, counter_nonce, TAG_LEN};
use crate::allowed_ips::key_of;
use crate::errors::*;
use crate::wire::ip;
use crate::mem::{self, Words};
use crate::wire::message::{Message, TRANSPORT_HEADER_LEN, TRANSPORT_MIN_LEN};
use crate::peers::{self, MAX_PEERS, RX_DATA, RX_KEEPALIVE};
use crate::replay::REJECT_AFTER_MESSAGES;
use crate::slab::{HEADROOM, SLOT_SIZE};
use crate::state::{self, State};

pub use crate::consts::{MAX_BATCH, MAX_PLAINTEXT};

const NONE: u32 = u32::MAX; // -1 as i32

/// Padded plaintext length: zeros up to a multiple of 16, capped at the MTU, never
/// shorter than the packet; a keepalive stays empty.
pub fn padded_len(len: usize, mtu: usize) -> usize {
    if len == 0 {
        return 0;
    }
    let p = (len + 15) & !15;
    p.min(mtu).max(len)
}

/// For packet i at `offs[i] + HEADROOM`, `lens[i]` bytes (0 = keepalive for `peers[i]`):
/// route, pad, write the header at `offs[i]` and seal in place. `lens[i]` becomes the wire
/// length or a negative code; `peers[i]` the destination peer (-1 if unknown). Returns
/// the number ready to send.
#[no_mangle]
pub extern "C" fn ts_encrypt_batch(offs: u32, lens: u32, peers: u32, n: u32, mtu: u32) -> u32 {
    let (o, l, p) = match (mem::words(offs, n), mem::words(lens, n), mem::words(peers, n)) {
        (Some(o), Some(l), Some(p)) => (o, l, p),
        _ => return 0,
    };
    let st = state::state();
    let mut ready = 0;
    for i in 0..o.len() {
        match encrypt_one(st, &p, i, o.get(i), l.get(i) as usize, mtu as usize) {
            Ok(wire) => {
                l.set(i, wire as u32);
                ready += 1;
            }
            Err(code) => {
                l.set(i, code as u32);
                // No key yet: TypeScript queues the untouched packet, so not a drop.
                if code != E_NO_KEY && code != E_KEY_EXPIRED {
                    st.drops.count(code);
                }
            }
        }
    }
    ready
}

fn encrypt_one(st: &mut State, peers: &Words, i: usize, off: u32, len: usize, mtu: usize) -> Result<usize, i32> {
    if len == 0 {
        if peers.get(i) as usize >= MAX_PEERS {
            peers.set(i, NONE);
            return Err(E_BAD_ARG);
        }
    } else {
        peers.set(i, NONE);
    }
    let slot = mem::bytes_mut(off, SLOT_SIZE).ok_or(E_BAD_ARG)?;
    let peer = if len == 0 {
        peers.get(i)
    } else {
        if len > MAX_PLAINTEXT {
            return Err(E_TOO_BIG);
        }
        let pkt = ip::Packet::new_checked(slot.get(HEADROOM..HEADROOM + len).ok_or(E_TOO_BIG)?)?;
        let peer = st.routes.lookup(pkt.family(), key_of(pkt.dst_addr())).ok_or(E_NO_ROUTE)? as u32;
        peers.set(i, peer);
        peer
    };
    let pe = st.peers.get_mut(peer).ok_or(E_BAD_ARG)?;
    let kp = pe.send_keypair().and_then(|k| st.keypairs.slot_mut(k)).ok_or(E_NO_KEY)?;
    if !kp.live || kp.peer != peer {
        return Err(E_NO_KEY);
    }
    if kp.expired || kp.send_counter >= REJECT_AFTER_MESSAGES {
        return Err(E_KEY_EXPIRED);
    }
    let padded = padded_len(len, mtu);
    let wire = TRANSPORT_MIN_LEN + padded;
    let msg = slot.get_mut(..wire).ok_or(E_TOO_BIG)?;
    let (head, body) = msg.split_at_mut(TRANSPORT_HEADER_LEN);
    let (pt, tag_out) = body.split_at_mut(padded);
    if let Some(pad) = pt.get_mut(len..) {
        pad.fill(0);
    }
    let counter = kp.send_counter;
    let tag = aead::seal_in_place(&kp.send_key, &counter_nonce(counter), &[], pt);
    tag_out.copy_from_slice(&tag);
    Message::new_unchecked(head).set_transport_header(kp.remote_index, counter);
    kp.send_counter += 1;
    pe.tx_bytes += wire as u64;
    pe.tx_packets += 1;
    Ok(wire)
}

/// For datagram i at `offs[i]`, `lens[i]` bytes, source sockaddr at
/// `names + i * name_stride` (`names` = 0: no roaming): authenticate, decrypt in place,
/// validate the inner packet. See ABI.md for the per-packet results. Returns the number
/// of authenticated packets.
#[no_mangle]
pub extern "C" fn ts_decrypt_batch(
    offs: u32,
    lens: u32,
    peers: u32,
    kps: u32,
    names: u32,
    name_stride: u32,
    n: u32,
) -> u32 {
    let (o, l, p, k) = match (mem::words(offs, n), mem::words(lens, n), mem::words(peers, n), mem::words(kps, n)) {
        (Some(o), Some(l), Some(p), Some(k)) => (o, l, p, k),
        _ => return 0,
    };
    let st = state::state();
    let mut authenticated = 0;
    for i in 0..o.len() {
        let name = if names == 0 {
            None
        } else {
            let at = names as u64 + i as u64 * name_stride as u64;
            if at > u32::MAX as u64 {
                None
            } else {
                Some(at as u32)
            }
        };
        let r = decrypt_one(st, o.get(i), l.get(i) as usize, name);
        if record(st, i, r, &l, &p, &k) {
            authenticated += 1;
        }
    }
    authenticated
}

/// `ts_decrypt_batch` with a sockaddr pointer per datagram (`name_ptrs[i]`, 0 = no
/// roaming for it) instead of a strided array: the datagrams cut from one coalesced (UDP
/// GRO) receive share their message's source. Same results and return value.
#[no_mangle]
pub extern "C" fn ts_decrypt_batch_names(offs: u32, lens: u32, peers: u32, kps: u32, name_ptrs: u32, n: u32) -> u32 {
    let arrays = (mem::words(offs, n), mem::words(lens, n), mem::words(peers, n), mem::words(kps, n), mem::words(name_ptrs, n));
    let (o, l, p, k, np) = match arrays {
        (Some(o), Some(l), Some(p), Some(k), Some(np)) => (o, l, p, k, np),
        _ => return 0,
    };
    let st = state::state();
    let mut authenticated = 0;
    for i in 0..o.len() {
        let name = match np.get(i) {
            0 => None,
            ptr => Some(ptr),
        };
        let r = decrypt_one(st, o.get(i), l.get(i) as usize, name);
        if record(st, i, r, &l, &p, &k) {
            authenticated += 1;
        }
    }
    authenticated
}

/// Stores one `decrypt_one` result; true if the packet was authenticated.
fn record(st: &mut State, i: usize, r: (Auth, Result<u32, i32>), l: &Words, p: &Words, k: &Words) -> bool {
    let (auth, res) = r;
    match auth {
        Some((peer, kp)) => {
            p.set(i, peer);
            k.set(i, kp);
        }
        None => {
            p.set(i, NONE);
            k.set(i, NONE);
        }
    }
    match res {
        Ok(len) => l.set(i, len),
        Err(code) => {
            l.set(i, code as u32);
            st.drops.count(code); // ignores HANDSHAKE
        }
    }
    auth.is_some()
}

/// Reads a source sockaddr: AF_INET (2) → 16 bytes, AF_INET6 (10) → 28 bytes.
fn read_sockaddr(at: u32) -> Option<([u8; 28], usize)> {
    let fam = u16::from_le_bytes(mem::read::<2>(at)?);
    let len = match fam {
        2 => 16,
        10 => 28,
        _ => return None,
    };
    let mut sa = [0u8; 28];
    sa.get_mut(..len)?.copy_from_slice(mem::bytes(at, len)?);
    Some((sa, len))
}

type Auth = Option<(u32, u32)>;

fn decrypt_one(st: &mut State, off: u32, len: usize, name: Option<u32>) -> (Auth, Result<u32, i32>) {
    if len > SLOT_SIZE {
        return (None, Err(E_TOO_BIG));
    }
    let slot = match mem::bytes_mut(off, SLOT_SIZE) {
        Some(s) => s,
        None => return (None, Err(E_BAD_ARG)),
    };
    let dgram = match slot.get_mut(..len) {
        Some(d) => d,
        None => return (None, Err(E_TOO_BIG)),
    };
    let (index, counter, ct_len) = match Message::new_checked(&dgram[..]) {
        Ok(m) if m.is_handshake() => return (None, Err(HANDSHAKE)),
        Ok(m) => (m.receiver_index(), m.counter(), m.ciphertext_len()),
        Err(e) => return (None, Err(e)),
    };
    let kp_i = match st.keypairs.lookup(index) {
        Some(k) => k,
        None => return (None, Err(E_UNKNOWN_INDEX)),
    };
    let kp = match st.keypairs.slot_mut(kp_i) {
        Some(k) if k.live => k,
        _ => return (None, Err(E_UNKNOWN_INDEX)),
    };
    if kp.expired {
        return (None, Err(E_KEY_EXPIRED));
    }
    // Read-only pre-check: a stale counter is dropped before paying for decryption.
    if !kp.replay.check(counter, REJECT_AFTER_MESSAGES) {
        return (None, Err(E_REPLAY));
    }
    let body = match dgram.get_mut(TRANSPORT_HEADER_LEN..) {
        Some(b) => b,
        None => return (None, Err(E_BAD_MSG_LEN)),
    };
    let (ct, tag_in) = body.split_at_mut(ct_len);
    let mut tag = [0u8; TAG_LEN];
    if tag_in.len() != TAG_LEN {
        return (None, Err(E_BAD_MSG_LEN));
    }
    tag.copy_from_slice(tag_in);
    if !aead::open_in_place(&kp.recv_key, &counter_nonce(counter), &[], ct, &tag) {
        return (None, Err(E_AUTH));
    }
    // The window itself is updated only now that the tag verified (brief §6).
    if !kp.replay.validate(counter, REJECT_AFTER_MESSAGES) {
        return (None, Err(E_REPLAY));
    }
    kp.received_packets += 1;
    let peer = kp.peer;
    let auth = Some((peer, kp_i as u32));
    if let Some(pe) = st.peers.get_mut(peer) {
        pe.rx_bytes += len as u64;
        pe.rx_packets += 1;
        pe.last_rx_kind = if ct_len == 0 { RX_KEEPALIVE } else { RX_DATA };
        if let Some((sa, sa_len)) = name.and_then(read_sockaddr) {
            peers::roam(pe, peer, &sa[..sa_len]);
        }
    }
    if ct_len == 0 {
        return (auth, Ok(0));
    }
    let inner = match ip::Packet::new_checked(&ct[..]) {
        Ok(p) => p,
        Err(e) => return (auth, Err(e)),
    };
    if st.routes.lookup(inner.family(), key_of(inner.src_addr())) != Some(peer as u16) {
        return (auth, Err(E_NOT_ALLOWED));
    }
    (auth, Ok(inner.total_len() as u32))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::allowed_ips::ts_route_insert;
    use crate::wire::ip::tests::{v4, v6};
    use crate::keypairs::{ts_keypair_expire, ts_keypair_info, ts_keypair_set};
    use crate::peers::{ts_peer_endpoint_len, ts_peer_endpoint_ptr, ts_peer_set_send_keypair, ts_peer_stats};
    use crate::slab::{ts_pool_alloc, ts_pool_init, ts_scratch_ptr};

    const A: u32 = 1; // peer we send to (owns 10.0.0.2, fd00::2)
    const B: u32 = 2; // peer we receive from (owns 10.0.0.1, fd00::1)
    const K1: [u8; 32] = [0x11; 32];
    const K2: [u8; 32] = [0x22; 32];

    fn six(last: u8) -> [u8; 16] {
        let mut a = [0u8; 16];
        a[0] = 0xfd;
        a[15] = last;
        a
    }

    /// Keypair 0 (to A): send K1, receive K2, local 100, remote 200.
    /// Keypair 1 (from B): send K2, receive K1, local 200, remote 100 — so what we send
    /// to A comes back in through keypair 1 as if B had sent it.
    fn setup() -> u32 {
        state::fresh();
        assert_eq!(ts_pool_init(64, 512), 0);
        let s = ts_scratch_ptr();
        let keys = s + 4096;
        let mut k = K1.to_vec();
        k.extend_from_slice(&K2);
        assert!(mem::write(keys, &k));
        assert_eq!(ts_keypair_set(0, A, 100, 200, keys), 0);
        let mut k = K2.to_vec();
        k.extend_from_slice(&K1);
        assert!(mem::write(keys, &k));
        assert_eq!(ts_keypair_set(1, B, 200, 100, keys), 0);
        assert_eq!(ts_peer_set_send_keypair(A, 0), 0);
        assert_eq!(ts_peer_set_send_keypair(B, 1), 0);
        let addr = s + 4200;
        for (fam, a, cidr, peer) in [
            (4, vec![10, 0, 0, 2], 32, A),
            (4, vec![10, 0, 0, 1], 32, B),
            (6, six(2).to_vec(), 128, A),
            (6, six(1).to_vec(), 128, B),
            (4, vec![10, 0, 0, 3], 32, 3), // peer 3: a route but no keypair
        ] {
            assert!(mem::write(addr, &a));
            assert_eq!(ts_route_insert(fam, addr, cidr, peer), 0);
        }
        s
    }

    /// Scratch layout for one batch: offs, lens, peers, kps, names.
    struct Batch {
        offs: u32,
        lens: u32,
        peers: u32,
        kps: u32,
        names: u32,
    }

    fn batch(s: u32) -> Batch {
        Batch { offs: s, lens: s + 1024, peers: s + 2048, kps: s + 3072, names: s + 8192 }
    }

    fn get(arr: u32, i: usize) -> i32 {
        i32::from_le_bytes(mem::read::<4>(arr + 4 * i as u32).unwrap())
    }
    fn put(arr: u32, i: usize, v: i32) {
        assert!(mem::write(arr + 4 * i as u32, &v.to_le_bytes()));
    }

    /// Loads `pkts` into fresh slots; returns the slot offsets.
    fn load(b: &Batch, pkts: &[Vec<u8>]) -> Vec<u32> {
        let mut offs = Vec::new();
        for (i, p) in pkts.iter().enumerate() {
            let off = ts_pool_alloc();
            assert_ne!(off, 0);
            assert!(mem::write(off + HEADROOM as u32, p));
            put(b.offs, i, off as i32);
            put(b.lens, i, p.len() as i32);
            offs.push(off);
        }
        offs
    }

    fn drops(code: i32) -> u64 {
        state::state().drops.get(code)
    }

    #[test]
    fn padding_lengths() {
        assert_eq!(padded_len(0, 1420), 0);
        assert_eq!(padded_len(1, 1420), 16);
        assert_eq!(padded_len(16, 1420), 16);
        assert_eq!(padded_len(17, 1420), 32);
        assert_eq!(padded_len(1419, 1420), 1420);
        assert_eq!(padded_len(1420, 1420), 1420);
        assert_eq!(padded_len(1421, 1420), 1421);
        assert_eq!(padded_len(100, 0), 100);
        assert_eq!(padded_len(MAX_PLAINTEXT, 9000), MAX_PLAINTEXT);
    }

    #[test]
    fn round_trip_with_padding() {
        let s = setup();
        let b = batch(s);
        let pkts = vec![
            v4([10, 0, 0, 1], [10, 0, 0, 2], 0),    // 20 → 32
            v4([10, 0, 0, 1], [10, 0, 0, 2], 1),    // 21 → 32
            v4([10, 0, 0, 1], [10, 0, 0, 2], 76),   // 96 → 96
            v4([10, 0, 0, 1], [10, 0, 0, 2], 1399), // 1419 → 1420 (capped by mtu)
            v4([10, 0, 0, 1], [10, 0, 0, 2], 1400), // 1420 → 1420
            v4([10, 0, 0, 1], [10, 0, 0, 2], 1480), // 1500 > mtu → 1500
            v6(six(1), six(2), 9),                  // 49 → 64
            v4([10, 0, 0, 1], [10, 0, 0, 2], 1996), // 2016: the largest that fits
        ];
        let want_wire = [64, 64, 128, 1452, 1452, 1532, 96, 2048];
        let offs = load(&b, &pkts);
        let n = pkts.len() as u32;
        assert_eq!(ts_encrypt_batch(b.offs, b.lens, b.peers, n, 1420), n);
        for i in 0..pkts.len() {
            assert_eq!(get(b.lens, i), want_wire[i], "wire length of packet {}", i);
            assert_eq!(get(b.peers, i), A as i32);
            let h = mem::read::<16>(offs[i]).unwrap();
            assert_eq!(&h[..8], &[4, 0, 0, 0, 200, 0, 0, 0]);
            assert_eq!(u64::from_le_bytes(h[8..].try_into().unwrap()), i as u64);
        }
        let p = state::state().peers.get(A).unwrap();
        assert_eq!((p.tx_packets, p.tx_bytes), (8, want_wire.iter().sum::<i32>() as u64));
        assert_eq!(state::state().keypairs.slot(0).unwrap().send_counter, 8);

        // Receive it all back (lens now hold the wire lengths).
        assert_eq!(ts_decrypt_batch(b.offs, b.lens, b.peers, b.kps, 0, 0, n), n);
        for i in 0..pkts.len() {
            assert_eq!(get(b.lens, i), pkts[i].len() as i32, "inner length of packet {}", i);
            assert_eq!((get(b.peers, i), get(b.kps, i)), (B as i32, 1));
            let off = offs[i] + HEADROOM as u32;
            assert_eq!(mem::bytes(off, pkts[i].len()).unwrap(), &pkts[i][..]);
            let pad = want_wire[i] as usize - 32 - pkts[i].len();
            assert!(mem::bytes(off + pkts[i].len() as u32, pad).unwrap().iter().all(|&x| x == 0));
        }
        let p = state::state().peers.get(B).unwrap();
        assert_eq!((p.rx_packets, p.rx_bytes, p.last_rx_kind), (8, want_wire.iter().sum::<i32>() as u64, RX_DATA));
        let out = s + 9000;
        assert_eq!(ts_keypair_info(1, out), 1);
        assert_eq!(mem::read::<8>(out + 8).unwrap(), 7.0f64.to_le_bytes()); // highest counter
        assert_eq!(mem::read::<8>(out + 16).unwrap(), 8.0f64.to_le_bytes()); // received
        assert_eq!(state::state().drops.counts_total(), 0);
    }

    #[test]
    fn keepalive() {
        let s = setup();
        let b = batch(s);
        let off = ts_pool_alloc();
        put(b.offs, 0, off as i32);
        put(b.lens, 0, 0);
        put(b.peers, 0, A as i32);
        assert_eq!(ts_encrypt_batch(b.offs, b.lens, b.peers, 1, 1420), 1);
        assert_eq!(get(b.lens, 0), 32);
        assert_eq!(get(b.peers, 0), A as i32);
        assert_eq!(ts_decrypt_batch(b.offs, b.lens, b.peers, b.kps, 0, 0, 1), 1);
        assert_eq!((get(b.lens, 0), get(b.peers, 0), get(b.kps, 0)), (0, B as i32, 1));
        assert_eq!(state::state().peers.get(B).unwrap().last_rx_kind, RX_KEEPALIVE);
        // A keepalive for a bad peer id.
        put(b.lens, 0, 0);
        put(b.peers, 0, MAX_PEERS as i32);
        assert_eq!(ts_encrypt_batch(b.offs, b.lens, b.peers, 1, 1420), 0);
        assert_eq!((get(b.lens, 0), get(b.peers, 0)), (E_BAD_ARG, -1));
    }

    #[test]
    fn send_errors() {
        let s = setup();
        let b = batch(s);
        let pkts = vec![
            v4([10, 0, 0, 1], [10, 0, 0, 3], 10), // peer 3 has no keypair
            v4([10, 0, 0, 1], [10, 9, 9, 9], 10), // no route
            vec![0x45, 0, 0],                      // truncated
            vec![0x75; 40],                        // bad version
        ];
        let offs = load(&b, &pkts);
        put(b.lens, 4, (MAX_PLAINTEXT + 1) as i32);
        put(b.offs, 4, offs[0] as i32);
        put(b.offs, 5, 8); // slot pointer into private memory
        put(b.lens, 5, 20);
        assert_eq!(ts_encrypt_batch(b.offs, b.lens, b.peers, 6, 1420), 0);
        let got: Vec<i32> = (0..6).map(|i| get(b.lens, i)).collect();
        assert_eq!(got, vec![E_NO_KEY, E_NO_ROUTE, E_TRUNCATED, E_BAD_VERSION, E_TOO_BIG, E_BAD_ARG]);
        assert_eq!(get(b.peers, 0), 3);
        assert!((1..6).all(|i| get(b.peers, i) == -1));
        // E_NO_KEY leaves the slot untouched for the queue.
        assert_eq!(mem::bytes(offs[0] + 16, pkts[0].len()).unwrap(), &pkts[0][..]);
        assert_eq!(drops(E_NO_KEY), 0);
        for c in [E_NO_ROUTE, E_TRUNCATED, E_BAD_VERSION, E_TOO_BIG, E_BAD_ARG] {
            assert_eq!(drops(c), 1, "code {}", c);
        }
        // Expired keypair, and a counter at the reject limit: untouched, not counted.
        let pkt = v4([10, 0, 0, 1], [10, 0, 0, 2], 10);
        let offs = load(&b, &[pkt.clone()]);
        assert_eq!(ts_keypair_expire(0), 0);
        assert_eq!(ts_encrypt_batch(b.offs, b.lens, b.peers, 1, 1420), 0);
        assert_eq!((get(b.lens, 0), get(b.peers, 0)), (E_KEY_EXPIRED, A as i32));
        state::state().keypairs.slot_mut(0).unwrap().expired = false;
        state::state().keypairs.slot_mut(0).unwrap().send_counter = REJECT_AFTER_MESSAGES - 1;
        put(b.lens, 0, pkt.len() as i32);
        assert_eq!(ts_encrypt_batch(b.offs, b.lens, b.peers, 1, 1420), 1);
        put(b.lens, 0, pkt.len() as i32);
        assert!(mem::write(offs[0] + 16, &pkt));
        assert_eq!(ts_encrypt_batch(b.offs, b.lens, b.peers, 1, 1420), 0);
        assert_eq!(get(b.lens, 0), E_KEY_EXPIRED);
        assert_eq!(mem::bytes(offs[0] + 16, pkt.len()).unwrap(), &pkt[..]);
        assert_eq!(drops(E_KEY_EXPIRED), 0);
        // Send keypair pointing at a slot since reused for another peer.
        let keys = s + 4096;
        assert_eq!(ts_keypair_set(0, B, 300, 1, keys), 0);
        put(b.lens, 0, pkt.len() as i32);
        assert_eq!(ts_encrypt_batch(b.offs, b.lens, b.peers, 1, 1420), 0);
        assert_eq!(get(b.lens, 0), E_NO_KEY);
        // Bad arrays: nothing happens.
        assert_eq!(ts_encrypt_batch(0, b.lens, b.peers, 1, 1420), 0);
    }

    #[test]
    fn receive_errors_and_drop_counters() {
        let s = setup();
        let b = batch(s);
        // Encrypt 4 good packets, then corrupt copies of them in different ways.
        let good = v4([10, 0, 0, 1], [10, 0, 0, 2], 30);
        let spoofed = v4([10, 0, 0, 99], [10, 0, 0, 2], 30); // source not B's
        let from_a = v4([10, 0, 0, 2], [10, 0, 0, 2], 30); // source routes to A, not B
        let offs = load(&b, &[good.clone(), good.clone(), spoofed, from_a]);
        assert_eq!(ts_encrypt_batch(b.offs, b.lens, b.peers, 4, 1420), 4);
        let wire: Vec<Vec<u8>> = (0..4).map(|i| mem::bytes(offs[i], get(b.lens, i) as usize).unwrap().to_vec()).collect();

        let mut dgrams: Vec<Vec<u8>> = Vec::new();
        dgrams.push(wire[0].clone()); // 0: ok
        dgrams.push(wire[0].clone()); // 1: replay of 0 in the same batch
        let mut bad_tag = wire[1].clone();
        let last = bad_tag.len() - 1;
        bad_tag[last] ^= 1;
        dgrams.push(bad_tag); // 2: E_AUTH
        dgrams.push(wire[2].clone()); // 3: E_NOT_ALLOWED (no route for the source)
        dgrams.push(wire[3].clone()); // 4: E_NOT_ALLOWED (source is another peer's)
        let mut unknown = wire[1].clone();
        unknown[4] = 99;
        dgrams.push(unknown); // 5: E_UNKNOWN_INDEX
        let mut init = vec![0u8; 148];
        init[0] = 1;
        dgrams.push(init); // 6: HANDSHAKE
        let mut resp = vec![0u8; 92];
        resp[0] = 2;
        dgrams.push(resp); // 7: HANDSHAKE
        let mut cookie = vec![0u8; 64];
        cookie[0] = 3;
        dgrams.push(cookie); // 8: HANDSHAKE
        let mut short_init = vec![0u8; 147];
        short_init[0] = 1;
        dgrams.push(short_init); // 9: E_BAD_MSG_LEN
        dgrams.push(vec![4, 0, 0, 0, 200, 0, 0, 0]); // 10: transport < 32
        dgrams.push(vec![9, 0, 0, 0, 0, 0, 0, 0]); // 11: E_BAD_TYPE
        let mut reserved = wire[1].clone();
        reserved[1] = 1;
        dgrams.push(reserved); // 12: E_BAD_TYPE (reserved byte)
        dgrams.push(vec![4, 0]); // 13: E_TRUNCATED
        dgrams.push(wire[1].clone()); // 14: ok (counter 1)
        let want = [
            0, E_REPLAY, E_AUTH, E_NOT_ALLOWED, E_NOT_ALLOWED, E_UNKNOWN_INDEX, HANDSHAKE, HANDSHAKE, HANDSHAKE,
            E_BAD_MSG_LEN, E_BAD_MSG_LEN, E_BAD_TYPE, E_BAD_TYPE, E_TRUNCATED, 0,
        ];
        let mut wire_offs = Vec::new();
        for (i, d) in dgrams.iter().enumerate() {
            let off = ts_pool_alloc();
            assert!(mem::write(off, d));
            put(b.offs, i, off as i32);
            put(b.lens, i, d.len() as i32);
            wire_offs.push(off);
        }
        let n = dgrams.len();
        // Packets 3 and 4 are authenticated (peers/kps set) but dropped afterwards.
        assert_eq!(ts_decrypt_batch(b.offs, b.lens, b.peers, b.kps, 0, 0, n as u32), 4);
        for i in 0..n {
            let want_len = if want[i] == 0 { good.len() as i32 } else { want[i] };
            assert_eq!(get(b.lens, i), want_len, "datagram {}", i);
            let authed = matches!(i, 0 | 3 | 4 | 14);
            assert_eq!(get(b.peers, i), if authed { B as i32 } else { -1 }, "peer of {}", i);
            assert_eq!(get(b.kps, i), if authed { 1 } else { -1 }, "kp of {}", i);
        }
        assert_eq!(drops(HANDSHAKE), 0);
        for (c, k) in [
            (E_REPLAY, 1),
            (E_AUTH, 1),
            (E_NOT_ALLOWED, 2),
            (E_UNKNOWN_INDEX, 1),
            (E_BAD_MSG_LEN, 2),
            (E_BAD_TYPE, 2),
            (E_TRUNCATED, 1),
        ] {
            assert_eq!(drops(c), k, "drops for {}", c);
        }
        assert_eq!(state::state().drops.counts_total(), 10);
        // The bad-tag datagram was left as it was.
        assert_eq!(mem::bytes(wire_offs[2], dgrams[2].len()).unwrap(), &dgrams[2][..]);

        // Replay in a later batch, both of an accepted and of a never-seen-but-old one.
        assert!(mem::write(wire_offs[0], &wire[0]));
        put(b.lens, 0, wire[0].len() as i32);
        assert_eq!(ts_decrypt_batch(b.offs, b.lens, b.peers, b.kps, 0, 0, 1), 0);
        assert_eq!(get(b.lens, 0), E_REPLAY);
        // Wrong key: B's receive key replaced.
        let keys = s + 4096;
        assert!(mem::write(keys, &[0x33; 64]));
        assert_eq!(ts_keypair_set(1, B, 200, 100, keys), 0);
        assert!(mem::write(wire_offs[0], &wire[0]));
        put(b.lens, 0, wire[0].len() as i32);
        assert_eq!(ts_decrypt_batch(b.offs, b.lens, b.peers, b.kps, 0, 0, 1), 0);
        assert_eq!(get(b.lens, 0), E_AUTH);
        assert_eq!(drops(E_AUTH), 2);
        // Expired receive keypair.
        assert_eq!(ts_keypair_expire(1), 0);
        put(b.lens, 0, wire[0].len() as i32);
        assert_eq!(ts_decrypt_batch(b.offs, b.lens, b.peers, b.kps, 0, 0, 1), 0);
        assert_eq!(get(b.lens, 0), E_KEY_EXPIRED);
        assert_eq!(drops(E_KEY_EXPIRED), 1);
        // Oversized length and a bad slot pointer.
        put(b.lens, 0, SLOT_SIZE as i32 + 1);
        put(b.offs, 1, 4);
        put(b.lens, 1, 32);
        assert_eq!(ts_decrypt_batch(b.offs, b.lens, b.peers, b.kps, 0, 0, 2), 0);
        assert_eq!((get(b.lens, 0), get(b.lens, 1)), (E_TOO_BIG, E_BAD_ARG));
    }

    #[test]
    fn roaming() {
        let s = setup();
        let b = batch(s);
        let pkts = vec![v4([10, 0, 0, 1], [10, 0, 0, 2], 10); 4];
        load(&b, &pkts);
        assert_eq!(ts_encrypt_batch(b.offs, b.lens, b.peers, 4, 1420), 4);
        put(b.lens, 3, 5); // garbage: not authenticated, must not roam
        // Sources: 10.1.1.1:51820 twice, then [fd00::9]:51820, then garbage.
        let stride = 28;
        let sa4 = [2u8, 0, 0xca, 0x6c, 10, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0];
        let mut sa6 = [0u8; 28];
        sa6[0] = 10;
        sa6[2] = 0xca;
        sa6[3] = 0x6c;
        sa6[8..24].copy_from_slice(&six(9));
        assert!(mem::write(b.names, &sa4));
        assert!(mem::write(b.names + stride, &sa4));
        assert!(mem::write(b.names + 2 * stride, &sa6));
        assert!(mem::write(b.names + 3 * stride, &[2, 0, 9, 9, 9, 9, 9, 9]));
        assert_eq!(ts_decrypt_batch(b.offs, b.lens, b.peers, b.kps, b.names, stride, 4), 3);
        assert_eq!(ts_peer_endpoint_len(B), 28);
        assert_eq!(mem::bytes(ts_peer_endpoint_ptr(B), 28).unwrap(), &sa6);
        let out = s + 9000;
        assert_eq!(ts_peer_stats(B, out), 0);
        assert_eq!(mem::read::<8>(out + 32).unwrap(), 2.0f64.to_le_bytes()); // 2 changes
        // Unknown family: authenticated, endpoint kept.
        load(&b, &pkts[..1]);
        assert_eq!(ts_encrypt_batch(b.offs, b.lens, b.peers, 1, 1420), 1);
        assert!(mem::write(b.names, &[7, 0]));
        assert_eq!(ts_decrypt_batch(b.offs, b.lens, b.peers, b.kps, b.names, stride, 1), 1);
        assert_eq!(ts_peer_endpoint_len(B), 28);
        assert_eq!(get(b.lens, 0), pkts[0].len() as i32);
    }

    #[test]
    fn named_batch_decrypts_a_coalesced_train_in_a_jumbo_buffer() {
        let s = setup();
        let b = batch(s);
        let pkts = vec![v4([10, 0, 0, 1], [10, 0, 0, 2], 1400); 3];
        let offs = load(&b, &pkts);
        assert_eq!(ts_encrypt_batch(b.offs, b.lens, b.peers, 3, 1420), 3);
        // Pack the three 1452-byte datagrams back to back, as UDP GRO delivers them; the
        // last one ends 1452 bytes before the slack after the jumbo area.
        let base = mem::jumbo_ptr() + (mem::JUMBO_LEN * (mem::JUMBO_COUNT - 1)) as u32 + 65536 - 3 * 1452;
        for i in 0..3 {
            let at = base + 1452 * i as u32;
            assert!(mem::write(at, mem::bytes(offs[i], 1452).unwrap()));
            put(b.offs, i, at as i32);
        }
        let sa4 = [2u8, 0, 0xca, 0x6c, 10, 1, 1, 7, 0, 0, 0, 0, 0, 0, 0, 0];
        assert!(mem::write(b.names, &sa4));
        let ptrs = s + 12288;
        for (i, p) in [b.names, 0, b.names].iter().enumerate() {
            put(ptrs, i, *p as i32);
        }
        assert_eq!(ts_decrypt_batch_names(b.offs, b.lens, b.peers, b.kps, ptrs, 3), 3);
        for i in 0..3 {
            assert_eq!((get(b.lens, i), get(b.peers, i), get(b.kps, i)), (1420, B as i32, 1));
            let at = base + 1452 * i as u32 + HEADROOM as u32;
            assert_eq!(mem::bytes(at, 1420).unwrap(), &pkts[i][..]);
        }
        assert_eq!(ts_peer_endpoint_len(B), 16);
        assert_eq!(mem::bytes(ts_peer_endpoint_ptr(B), 16).unwrap(), &sa4);
        // Replayed: refused; a bad array: nothing done.
        assert_eq!(ts_decrypt_batch_names(b.offs, b.lens, b.peers, b.kps, ptrs, 1), 0);
        assert_eq!(ts_decrypt_batch_names(b.offs, b.lens, b.peers, b.kps, 0, 1), 0);
    }

    #[test]
    fn reordered_and_far_counters() {
        let s = setup();
        let b = batch(s);
        // 10 packets, received in a shuffled order, then all replayed.
        let pkts = vec![v4([10, 0, 0, 1], [10, 0, 0, 2], 1); 10];
        let offs = load(&b, &pkts);
        assert_eq!(ts_encrypt_batch(b.offs, b.lens, b.peers, 10, 1420), 10);
        let wire: Vec<Vec<u8>> = (0..10).map(|i| mem::bytes(offs[i], get(b.lens, i) as usize).unwrap().to_vec()).collect();
        let order = [3usize, 0, 9, 1, 2, 8, 4, 7, 5, 6];
        for round in 0..2 {
            for (j, &i) in order.iter().enumerate() {
                assert!(mem::write(offs[j], &wire[i]));
                put(b.offs, j, offs[j] as i32);
                put(b.lens, j, wire[i].len() as i32);
            }
            let want = if round == 0 { 10 } else { 0 };
            assert_eq!(ts_decrypt_batch(b.offs, b.lens, b.peers, b.kps, 0, 0, 10), want);
        }
        assert_eq!(drops(E_REPLAY), 10);
    }
}
