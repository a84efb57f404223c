//! ABI.md "WireGuard data plane": peers (`tables/peers.rs`), keypairs
//! (`tables/keypairs.rs`, `tables/replay.rs`), AllowedIPs (`tables/allowed_ips.rs`) and
//! the transport batches (`path/transport.rs`).

use super::{parts, written, TablePages};
use crate::consts::{ENDPOINT_LEN, KEYS_LEN, MAX_PACKET_LEN, ROUTE_ENTRY_LEN, SLOT_SIZE, TABLE_STATS_LEN};
use crate::errors::*;
use crate::mem::{Mem, Words};
use crate::path::transport::{self, Auth, RecvBatch, SendBatch, NONE, SOCKADDR_MAX};
use crate::tables::allowed_ips::{family, key_of, max_bits, route_entry};
use crate::tables::peers::sockaddr_len;
use crate::tables::pool::Pool;

/// 0 for `Ok`, the code for `Err`.
fn code(r: Result<(), i32>) -> i32 {
    match r {
        Ok(()) => 0,
        Err(e) => e,
    }
}

// ---------------------------------------------------------------- tables

/// Sets the limits of the peer, keypair and prefix tables (0 = the default), before any of
/// them grew. 0 or E_BAD_ARG (nothing changed).
#[no_mangle]
pub extern "C" fn ts_tables_init(max_peers: u32, max_keypairs: u32, max_prefixes: u32) -> i32 {
    parts().tunnel.set_limits(max_peers, max_keypairs, max_prefixes)
}

/// Writes f64[TABLE_STATS_LEN]: the tables' limits and sizes and the pages they hold. 0 or
/// E_BAD_ARG.
#[no_mangle]
pub extern "C" fn ts_tables_stats(out: u32) -> i32 {
    let p = parts();
    let t = p.tunnel.table_stats();
    let (private, free, public) = p.mem.page_counts();
    let mut v = [0f64; TABLE_STATS_LEN];
    v[..10].copy_from_slice(&t);
    v[10..].copy_from_slice(&[private as f64, free as f64, public as f64]);
    written(p.mem.write_f64s(out, &v))
}

// ---------------------------------------------------------------- peers

/// Clears endpoint (length and bytes), counters and send keypair; routes stay. The peer's
/// storage grows if needed (**may grow memory**). 0, E_BAD_ARG or E_TABLE_FULL.
#[no_mangle]
pub extern "C" fn ts_peer_reset(peer: u32) -> i32 {
    let p = parts();
    if let Err(e) = p.tunnel.peers.reset(peer, &mut TablePages(p.mem)) {
        return e;
    }
    if let Some(ep) = p.tunnel.peers.endpoint_ptr(peer).and_then(|at| p.mem.bytes_mut(at, ENDPOINT_LEN)) {
        ep.fill(0);
    }
    0
}

/// Pointer to the peer's 32-byte sockaddr storage (grown if needed: **may grow memory**),
/// or 0 for a bad peer id or when memory cannot grow.
#[no_mangle]
pub extern "C" fn ts_peer_endpoint_ptr(peer: u32) -> u32 {
    let p = parts();
    match p.tunnel.peers.ensure(peer, &mut TablePages(p.mem)) {
        Ok(()) => p.tunnel.peers.endpoint_ptr(peer).unwrap_or(0),
        Err(_) => 0,
    }
}

/// Stored endpoint length (0 = none, 16, 28); 0 for a bad peer id.
#[no_mangle]
pub extern "C" fn ts_peer_endpoint_len(peer: u32) -> u32 {
    parts().tunnel.peers.get(peer).map_or(0, |p| p.endpoint_len)
}

/// Sets the endpoint length after TypeScript wrote the sockaddr (0 = none, 16 or 28).
/// Does not count as an endpoint change. 0, E_BAD_ARG or E_TABLE_FULL.
#[no_mangle]
pub extern "C" fn ts_peer_set_endpoint_len(peer: u32, len: u32) -> i32 {
    let p = parts();
    code(p.tunnel.peers.set_endpoint_len(peer, len, &mut TablePages(p.mem)))
}

/// Writes f64[PEER_STATS_LEN]: rx_bytes, tx_bytes, rx_packets, tx_packets,
/// endpoint_changes, last_rx_kind. 0 or E_BAD_ARG.
#[no_mangle]
pub extern "C" fn ts_peer_stats(peer: u32, out: u32) -> i32 {
    let p = parts();
    match p.tunnel.peers.stats(peer) {
        Some(v) => written(p.mem.write_f64s(out, &v)),
        None => E_BAD_ARG,
    }
}

/// Sets the keypair used to send to `peer` (-1 = none). The slot must hold a live
/// keypair of this peer. 0, E_BAD_ARG or E_TABLE_FULL.
#[no_mangle]
pub extern "C" fn ts_peer_set_send_keypair(peer: u32, kp: i32) -> i32 {
    let p = parts();
    let t = p.tunnel;
    code(t.peers.set_send_keypair(peer, kp, &t.keypairs, &mut TablePages(p.mem)))
}

// ---------------------------------------------------------------- keypairs

/// Installs a keypair: `keys` points at KEYS_LEN bytes, send key then receive key.
/// Resets the send counter and replay window. 0, E_BAD_ARG (slot/peer out of range, bad
/// pointer, or `local_index` already used by another slot) or E_TABLE_FULL (memory could not
/// grow). **May grow memory.**
#[no_mangle]
pub extern "C" fn ts_keypair_set(kp: u32, peer: u32, local_index: u32, remote_index: u32, keys: u32) -> i32 {
    let p = parts();
    let k = match p.mem.read::<KEYS_LEN>(keys) {
        Some(k) => k,
        None => return E_BAD_ARG,
    };
    if kp >= p.tunnel.keypairs.limit() {
        return E_BAD_ARG;
    }
    let mut pages = TablePages(p.mem);
    if let Err(e) = p.tunnel.peers.ensure(peer, &mut pages) {
        return e;
    }
    code(p.tunnel.keypairs.set(kp as usize, peer, local_index, remote_index, &k, &mut pages))
}

/// Zeroes the keys and removes the index (idempotent). 0 or E_BAD_ARG.
#[no_mangle]
pub extern "C" fn ts_keypair_clear(kp: u32) -> i32 {
    let t = parts().tunnel;
    if kp >= t.keypairs.limit() {
        return E_BAD_ARG;
    }
    t.keypairs.clear(kp as usize);
    0
}

/// Keeps the index but refuses send and receive (E_KEY_EXPIRED). 0, or E_BAD_ARG if the
/// slot is out of range or empty.
#[no_mangle]
pub extern "C" fn ts_keypair_expire(kp: u32) -> i32 {
    parts().tunnel.keypairs.expire(kp as usize)
}

/// Writes f64[KEYPAIR_INFO_LEN]: send_counter (next counter to send), highest_recv_counter,
/// received_packets, peer (-1 for an empty slot). Returns 1 for a live slot, 0 for an
/// empty one, E_BAD_ARG for a bad slot or pointer.
#[no_mangle]
pub extern "C" fn ts_keypair_info(kp: u32, out: u32) -> i32 {
    let p = parts();
    match p.tunnel.keypairs.info(kp as usize) {
        Some((live, v)) if p.mem.write_f64s(out, &v) => live as i32,
        _ => E_BAD_ARG,
    }
}

// ---------------------------------------------------------------- AllowedIPs

/// Family 4 or 6 and the address at `addr` (4 or 16 bytes) as (trie index, key).
fn route_key(m: Mem, family_: u32, addr: u32) -> Result<(usize, u128), i32> {
    let (fam, alen) = family(family_).ok_or(E_BAD_ARG)?;
    let key = m.bytes(addr, alen).map(key_of).ok_or(E_BAD_ARG)?;
    Ok((fam, key))
}

/// Inserts `addr/cidr` (family 4 or 6; `addr` points at 4 or 16 bytes) for `peer`.
/// Re-inserting a prefix for another peer moves it. 0, E_BAD_ARG or E_TABLE_FULL (the prefix
/// limit, or memory could not grow). **May grow memory.**
#[no_mangle]
pub extern "C" fn ts_route_insert(family_: u32, addr: u32, cidr: u32, peer: u32) -> i32 {
    let p = parts();
    let (fam, _) = match family(family_) {
        Some(f) => f,
        None => return E_BAD_ARG,
    };
    if peer >= p.tunnel.peers.limit() || cidr > max_bits(fam) as u32 {
        return E_BAD_ARG;
    }
    let key = match route_key(p.mem, family_, addr) {
        Ok((_, key)) => key,
        Err(e) => return e,
    };
    let mut pages = TablePages(p.mem);
    // The peer a route names exists, so encryption finds its (zeroed) slot.
    if let Err(e) = p.tunnel.peers.ensure(peer, &mut pages) {
        return e;
    }
    code(p.tunnel.routes.insert(fam, key, cidr as u8, peer, &mut pages))
}

/// Removes `addr/cidr` (host bits ignored). 0, E_NO_ROUTE or E_BAD_ARG.
#[no_mangle]
pub extern "C" fn ts_route_remove(family_: u32, addr: u32, cidr: u32) -> i32 {
    let p = parts();
    let (fam, _) = match family(family_) {
        Some(f) => f,
        None => return E_BAD_ARG,
    };
    if cidr > max_bits(fam) as u32 {
        return E_BAD_ARG;
    }
    match route_key(p.mem, family_, addr).and_then(|(fam, key)| p.tunnel.routes.remove(fam, key, cidr as u8)) {
        Ok(()) => 0,
        Err(e) => e,
    }
}

/// Removes all of `peer`'s prefixes; returns how many (or E_BAD_ARG).
#[no_mangle]
pub extern "C" fn ts_route_remove_peer(peer: u32) -> i32 {
    let t = parts().tunnel;
    if peer >= t.peers.limit() {
        return E_BAD_ARG;
    }
    t.routes.remove_peer(peer) as i32
}

/// Longest-prefix match: the peer id, E_NO_ROUTE, or E_BAD_ARG.
#[no_mangle]
pub extern "C" fn ts_route_lookup(family_: u32, addr: u32) -> i32 {
    let p = parts();
    match route_key(p.mem, family_, addr) {
        Ok((fam, key)) => p.tunnel.routes.lookup(fam, key).map_or(E_NO_ROUTE, |peer| peer as i32),
        Err(e) => e,
    }
}

/// Writes up to `max` ROUTE_ENTRY_LEN-byte entries (`route_entry`) for `peer`'s prefixes
/// at `out`, IPv4 first, in address order. Returns the peer's total number of prefixes
/// (may exceed `max`: call with max = 0 to size the buffer), or E_BAD_ARG.
#[no_mangle]
pub extern "C" fn ts_route_list(peer: u32, out: u32, max: u32) -> i32 {
    let p = parts();
    if peer >= p.tunnel.peers.limit() || !p.mem.valid(out, max as u64 * ROUTE_ENTRY_LEN as u64) {
        return E_BAD_ARG;
    }
    let mut count = 0u32;
    p.tunnel.routes.for_each(peer, |fam, key, cidr| {
        if count < max {
            p.mem.write(out + count * ROUTE_ENTRY_LEN as u32, &route_entry(fam, key, cidr));
        }
        count += 1;
    });
    count as i32
}

// ---------------------------------------------------------------- transport

/// `ts_encrypt_batch`'s arrays, and the pool that says how big each slot is.
struct SendArrays<'a> {
    mem: Mem,
    pool: &'a Pool,
    offs: Words,
    lens: Words,
    peers: Words,
}

impl SendBatch<'static> for SendArrays<'_> {
    #[inline]
    fn count(&self) -> usize {
        self.offs.count()
    }
    #[inline]
    fn packet(&self, i: usize) -> (Option<&'static mut [u8]>, usize, u32) {
        let off = self.offs.get(i);
        (self.mem.bytes_mut(off, self.pool.span(off)), self.lens.get(i) as usize, self.peers.get(i))
    }
    #[inline]
    fn done(&self, i: usize, peer: u32, len: u32) {
        self.peers.set(i, peer);
        self.lens.set(i, len);
    }
}

/// For packet i at `offs[i] + HEADROOM`, `lens[i]` bytes (0 = keepalive for `peers[i]`):
/// route, pad, write the header at `offs[i]` and seal in place. `lens[i]` becomes the wire
/// length or a negative code; `peers[i]` the destination peer (-1 if unknown). Returns
/// the number ready to send.
#[no_mangle]
pub extern "C" fn ts_encrypt_batch(offs: u32, lens: u32, peers: u32, n: u32, mtu: u32) -> u32 {
    let p = parts();
    let m = p.mem;
    let (mut cx, pool) = p.tunnel.send_ctx();
    let batch = match (m.words(offs, n), m.words(lens, n), m.words(peers, n)) {
        (Some(offs), Some(lens), Some(peers)) => SendArrays { mem: m, pool, offs, lens, peers },
        _ => return 0,
    };
    transport::encrypt_batch(&mut cx, &batch, mtu as usize)
}

/// Where a received datagram's source sockaddr is.
trait Sources {
    fn at(&self, i: usize) -> Option<u32>;
}

/// `ts_decrypt_batch`: `names + i * stride` (`names` = 0: none).
struct Strided {
    names: u32,
    stride: u32,
}

impl Sources for Strided {
    #[inline]
    fn at(&self, i: usize) -> Option<u32> {
        if self.names == 0 {
            return None;
        }
        let at = self.names as u64 + i as u64 * self.stride as u64;
        if at > u32::MAX as u64 {
            None
        } else {
            Some(at as u32)
        }
    }
}

/// `ts_decrypt_batch_names`: one pointer per datagram (0: none).
struct Pointers(Words);

impl Sources for Pointers {
    #[inline]
    fn at(&self, i: usize) -> Option<u32> {
        match self.0.get(i) {
            0 => None,
            ptr => Some(ptr),
        }
    }
}

/// The decrypt batches' arrays, and the pool that says how big each slot is.
struct RecvArrays<'a, S> {
    mem: Mem,
    pool: &'a Pool,
    offs: Words,
    lens: Words,
    peers: Words,
    kps: Words,
    sources: S,
}

impl<S: Sources> RecvBatch<'static> for RecvArrays<'_, S> {
    #[inline]
    fn count(&self) -> usize {
        self.offs.count()
    }
    /// The datagram's own bytes. Longer than a small slot: only if it is not in one (a large
    /// slot, a jumbo buffer); never longer than a datagram can be.
    #[inline]
    fn datagram(&self, i: usize) -> Result<&'static mut [u8], i32> {
        let (off, len) = (self.offs.get(i), self.lens.get(i) as usize);
        if len > MAX_PACKET_LEN || (len > SLOT_SIZE && self.pool.slot_size_at(off) == Some(SLOT_SIZE)) {
            return Err(E_TOO_BIG);
        }
        self.mem.bytes_mut(off, len).ok_or(E_BAD_ARG)
    }
    /// AF_INET (2) → 16 bytes, AF_INET6 (10) → 28 bytes; anything else or an inaccessible
    /// sockaddr: none.
    fn source(&self, i: usize) -> Option<([u8; SOCKADDR_MAX], usize)> {
        let at = self.sources.at(i)?;
        let len = sockaddr_len(u16::from_le_bytes(self.mem.read::<2>(at)?))?;
        let mut sa = [0u8; SOCKADDR_MAX];
        sa.get_mut(..len)?.copy_from_slice(self.mem.bytes(at, len)?);
        Some((sa, len))
    }
    fn endpoint(&self, ptr: u32) -> Option<&'static mut [u8; ENDPOINT_LEN]> {
        self.mem.bytes_mut(ptr, ENDPOINT_LEN).and_then(|b| b.try_into().ok())
    }
    #[inline]
    fn done(&self, i: usize, auth: Auth, len: u32) {
        let (peer, kp) = auth.unwrap_or((NONE, NONE));
        self.peers.set(i, peer);
        self.kps.set(i, kp);
        self.lens.set(i, len);
    }
}

/// The four result arrays, or `None` if one is out of bounds.
#[allow(clippy::too_many_arguments)] // the export's arrays, passed on as they came
fn recv_arrays<S>(
    m: Mem,
    pool: &Pool,
    offs: u32,
    lens: u32,
    peers: u32,
    kps: u32,
    n: u32,
    sources: S,
) -> Option<RecvArrays<'_, S>> {
    Some(RecvArrays {
        mem: m,
        pool,
        offs: m.words(offs, n)?,
        lens: m.words(lens, n)?,
        peers: m.words(peers, n)?,
        kps: m.words(kps, n)?,
        sources,
    })
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
    let p = parts();
    let (mut cx, pool) = p.tunnel.recv_ctx();
    match recv_arrays(p.mem, pool, offs, lens, peers, kps, n, Strided { names, stride: name_stride }) {
        Some(batch) => transport::decrypt_batch(&mut cx, &batch),
        None => 0,
    }
}

/// `ts_decrypt_batch` with a sockaddr pointer per datagram (`name_ptrs[i]`, 0 = no
/// roaming for it) instead of a strided array: the datagrams cut from one coalesced (UDP
/// GRO) receive share their message's source. Same results and return value.
#[no_mangle]
pub extern "C" fn ts_decrypt_batch_names(offs: u32, lens: u32, peers: u32, kps: u32, name_ptrs: u32, n: u32) -> u32 {
    let p = parts();
    let ptrs = match p.mem.words(name_ptrs, n) {
        Some(w) => Pointers(w),
        None => return 0,
    };
    let (mut cx, pool) = p.tunnel.recv_ctx();
    match recv_arrays(p.mem, pool, offs, lens, peers, kps, n, ptrs) {
        Some(batch) => transport::decrypt_batch(&mut cx, &batch),
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consts::{DEFAULT_MAX_KEYPAIRS, DEFAULT_MAX_PEERS, HEADROOM, JUMBO_COUNT, JUMBO_LEN, MAX_PLAINTEXT};
    use crate::exports::host::*;
    use crate::exports::pool::{ts_pool_alloc, ts_pool_alloc_class, ts_pool_init, ts_scratch_ptr};
    use crate::tables::peers::{RX_DATA, RX_KEEPALIVE};
    use crate::tables::replay::REJECT_AFTER_MESSAGES;
    use crate::wire::ip::tests::{v4, v6};

    #[test]
    fn endpoint_and_stats() {
        fresh();
        let p = 7;
        let ep = ts_peer_endpoint_ptr(p);
        assert_eq!(ep % 16, 0);
        assert_eq!(ts_peer_endpoint_ptr(DEFAULT_MAX_PEERS as u32), 0);
        assert_eq!(ts_peer_endpoint_ptr(p + 1) - ep, 32);
        let sa = [2u8, 0, 0xca, 0x6c, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
        assert!(m().write(ep, &sa));
        assert_eq!(ts_peer_set_endpoint_len(p, 16), 0);
        assert_eq!(ts_peer_set_endpoint_len(p, 17), E_BAD_ARG);
        assert_eq!(ts_peer_set_endpoint_len(DEFAULT_MAX_PEERS as u32, 16), E_BAD_ARG);
        assert_eq!(ts_peer_endpoint_len(p), 16);
        // Same address: no change; another: change counted.
        let st = tunnel();
        let peer = st.peers.get_mut(p).unwrap();
        let view = || -> &'static mut [u8; 32] { m().bytes_mut(ep, 32).unwrap().try_into().unwrap() };
        assert!(!peer.roam(view(), &sa));
        let mut sa2 = sa;
        sa2[7] = 2;
        assert!(peer.roam(view(), &sa2));
        let sa6 = [10u8; 28];
        assert!(peer.roam(view(), &sa6));
        assert_eq!(peer.endpoint_len, 28);
        assert_eq!(&m().bytes(ep, 32).unwrap()[..28], &sa6);
        assert!(peer.roam(view(), &sa));
        assert_eq!(&m().bytes(ep, 32).unwrap()[16..], &[0; 16]); // tail cleared

        // A 16-byte name written over a 28-byte one from outside (learnEndpoint), tail left
        // as it was: the same address again is no change.
        assert!(peer.roam(view(), &sa6));
        assert!(m().write(ep, &sa));
        assert_eq!(ts_peer_set_endpoint_len(p, 16), 0);
        let peer = tunnel().peers.get_mut(p).unwrap();
        let changes = peer.endpoint_changes;
        assert!(!peer.roam(view(), &sa));
        assert_eq!(peer.endpoint_changes, changes);
        let s = m().scratch_ptr();
        assert_eq!(ts_peer_stats(p, s), 0);
        assert_eq!(m().read::<8>(s + 32).unwrap(), 4.0f64.to_le_bytes());
        assert_eq!(ts_peer_stats(p, 0), E_BAD_ARG);
        assert_eq!(ts_peer_stats(DEFAULT_MAX_PEERS as u32, s), E_BAD_ARG);
        assert_eq!(ts_peer_reset(p), 0);
        assert_eq!(ts_peer_endpoint_len(p), 0);
        assert_eq!(m().bytes(ep, 32).unwrap(), &[0; 32]);
        assert_eq!(ts_peer_stats(p, s), 0);
        assert_eq!(m().bytes(s, 48).unwrap(), &[0; 48]);
        assert_eq!(ts_peer_reset(DEFAULT_MAX_PEERS as u32), E_BAD_ARG);
    }

    #[test]
    fn send_keypair_rules() {
        fresh();
        let s = m().scratch_ptr();
        assert_eq!(ts_peer_set_send_keypair(1, 0), E_BAD_ARG); // slot empty
        assert_eq!(ts_keypair_set(0, 1, 100, 200, s), 0);
        assert_eq!(ts_peer_set_send_keypair(2, 0), E_BAD_ARG); // another peer's keypair
        assert_eq!(ts_peer_set_send_keypair(1, 0), 0);
        assert_eq!(tunnel().peers.get(1).unwrap().send_keypair(), Some(0));
        assert_eq!(ts_peer_set_send_keypair(1, -1), 0);
        assert_eq!(tunnel().peers.get(1).unwrap().send_keypair(), None);
        assert_eq!(ts_peer_set_send_keypair(1, -2), E_BAD_ARG);
        assert_eq!(ts_peer_set_send_keypair(1, DEFAULT_MAX_KEYPAIRS as i32), E_BAD_ARG);
        assert_eq!(ts_peer_set_send_keypair(DEFAULT_MAX_PEERS as u32, -1), E_BAD_ARG);
    }

    #[test]
    fn keypair_exports() {
        fresh();
        let s = m().scratch_ptr();
        let keys: Vec<u8> = (0..64).collect();
        assert!(m().write(s, &keys));
        assert_eq!(ts_keypair_set(3, 9, 0xaabb, 0xccdd, s), 0);
        {
            let k = tunnel().keypairs.slot(3).unwrap();
            assert!(k.live && !k.expired);
            assert_eq!((k.peer, k.local_index, k.remote_index), (9, 0xaabb, 0xccdd));
            assert_eq!(k.send_key[0], 0x0302_0100);
            assert_eq!(k.recv_key[0], 0x2322_2120);
        }
        assert_eq!(tunnel().keypairs.lookup(0xaabb), Some(3));
        assert_eq!(ts_keypair_set(4, 9, 0xaabb, 0, s), E_BAD_ARG); // index taken
        assert_eq!(ts_keypair_set(DEFAULT_MAX_KEYPAIRS as u32, 9, 1, 0, s), E_BAD_ARG);
        assert_eq!(ts_keypair_set(4, DEFAULT_MAX_PEERS as u32, 1, 0, s), E_BAD_ARG);
        assert_eq!(ts_keypair_set(4, 9, 1, 0, 0), E_BAD_ARG);
        // Replacing slot 3 with a new index drops the old one.
        tunnel().keypairs.slot_mut(3).unwrap().send_counter = 77;
        assert_eq!(ts_keypair_set(3, 9, 0x1234, 0xccdd, s), 0);
        assert_eq!(tunnel().keypairs.lookup(0xaabb), None);
        assert_eq!(tunnel().keypairs.lookup(0x1234), Some(3));
        assert_eq!(tunnel().keypairs.slot(3).unwrap().send_counter, 0);
        let out = s + 128;
        assert_eq!(ts_keypair_info(3, out), 1);
        assert_eq!(m().read::<8>(out + 24).unwrap(), 9.0f64.to_le_bytes());
        assert_eq!(ts_keypair_expire(3), 0);
        assert!(tunnel().keypairs.slot(3).unwrap().expired);
        assert_eq!(tunnel().keypairs.lookup(0x1234), Some(3));
        assert_eq!(ts_keypair_expire(5), E_BAD_ARG);
        assert_eq!(ts_keypair_clear(3), 0);
        assert_eq!(ts_keypair_clear(3), 0);
        assert_eq!(ts_keypair_clear(DEFAULT_MAX_KEYPAIRS as u32), E_BAD_ARG);
        assert_eq!(tunnel().keypairs.lookup(0x1234), None);
        assert_eq!(tunnel().keypairs.slot(3).unwrap().send_key, [0; 8]);
        assert_eq!(ts_keypair_info(3, out), 0);
        assert_eq!(m().read::<8>(out + 24).unwrap(), (-1.0f64).to_le_bytes());
        assert_eq!(ts_keypair_info(DEFAULT_MAX_KEYPAIRS as u32, out), E_BAD_ARG);
        assert_eq!(ts_keypair_info(3, 0), E_BAD_ARG);
    }
    #[test]
    fn exports_and_list() {
        fresh();
        let s = m().scratch_ptr();
        let a4 = s;
        let a6 = s + 16;
        let out = s + 64;
        assert!(m().write(a4, &[192, 168, 7, 9]));
        let mut six = [0u8; 16];
        six[0] = 0xfd;
        six[15] = 0x42;
        assert!(m().write(a6, &six));
        assert_eq!(ts_route_insert(4, a4, 24, 5), 0);
        assert_eq!(ts_route_insert(4, a4, 32, 5), 0);
        assert_eq!(ts_route_insert(6, a6, 48, 5), 0);
        assert_eq!(ts_route_insert(4, a4, 8, 6), 0);
        assert_eq!(ts_route_insert(5, a4, 8, 6), E_BAD_ARG);
        assert_eq!(ts_route_insert(4, a4, 33, 6), E_BAD_ARG);
        assert_eq!(ts_route_insert(6, a6, 129, 6), E_BAD_ARG);
        assert_eq!(ts_route_insert(4, a4, 8, DEFAULT_MAX_PEERS as u32), E_BAD_ARG);
        assert_eq!(ts_route_insert(4, 0, 8, 1), E_BAD_ARG);
        assert_eq!(ts_route_lookup(4, a4), 5);
        assert_eq!(ts_route_lookup(6, a6), 5);
        assert_eq!(ts_route_lookup(7, a6), E_BAD_ARG);
        assert_eq!(ts_route_list(5, out, 0), 3);
        assert_eq!(ts_route_list(5, out, 2), 3);
        assert_eq!(ts_route_list(5, out, 10), 3);
        let e = m().bytes(out, 60).unwrap();
        assert_eq!(&e[..8], &[4, 24, 0, 0, 192, 168, 7, 0]);
        assert_eq!(&e[8..20], &[0; 12]);
        assert_eq!(&e[20..28], &[4, 32, 0, 0, 192, 168, 7, 9]);
        assert_eq!(&e[40..44], &[6, 48, 0, 0]);
        let mut masked = [0u8; 16];
        masked[0] = 0xfd;
        assert_eq!(&e[44..60], &masked);
        assert_eq!(ts_route_list(DEFAULT_MAX_PEERS as u32, out, 1), E_BAD_ARG);
        assert_eq!(ts_route_list(5, 8, 1), E_BAD_ARG);
        assert_eq!(ts_route_remove(4, a4, 32), 0);
        assert_eq!(ts_route_remove(4, a4, 32), E_NO_ROUTE);
        assert_eq!(ts_route_lookup(4, a4), 5);
        assert_eq!(ts_route_remove_peer(5), 2);
        assert_eq!(ts_route_lookup(4, a4), 6);
        assert_eq!(ts_route_lookup(6, a6), E_NO_ROUTE);
        assert_eq!(ts_route_remove_peer(DEFAULT_MAX_PEERS as u32), E_BAD_ARG);
    }

    /// `ts_tables_stats` as f64s.
    fn table_stats() -> Vec<f64> {
        let out = m().scratch_ptr() + 8192;
        assert_eq!(ts_tables_stats(out), 0);
        let b = m().bytes(out, 8 * TABLE_STATS_LEN).unwrap();
        b.chunks(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect()
    }

    #[test]
    fn tables_grow_past_the_old_caps_their_pages_are_refused_and_empty_again() {
        use crate::consts::{MAX_KEYPAIRS, MAX_PEERS, MAX_PREFIXES};
        use crate::mem::{HOST_HEAP_BASE, PAGE};
        fresh();
        let s = m().scratch_ptr();
        let (addr, keys) = (s, s + 64);
        assert_eq!(ts_tables_init(MAX_PEERS as u32 + 1, 0, 0), E_BAD_ARG);
        assert_eq!(ts_tables_init(0, MAX_KEYPAIRS as u32 + 1, 0), E_BAD_ARG);
        assert_eq!(ts_tables_init(0, 0, MAX_PREFIXES as u32 + 1), E_BAD_ARG);
        assert_eq!(ts_tables_init(20_000, 0, 200_000), 0);
        let st = table_stats();
        assert_eq!(
            st,
            [20000.0, 0.0, DEFAULT_MAX_KEYPAIRS as f64, 0.0, 0.0, 0.0, 200000.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
        );
        assert_eq!(ts_tables_stats(8), E_BAD_ARG);
        // 10,000 peers (ten times the old fixed table), each with an endpoint, a /32, a /128 and
        // a keypair.
        let mut ptrs = Vec::new();
        for p in 0..10_000u32 {
            assert_eq!(ts_peer_reset(p), 0);
            let ep = ts_peer_endpoint_ptr(p);
            assert!(ep != 0 && m().write(ep, &[2, 0, 0x0d, 0x05, 192, 0, 2, 1]));
            assert_eq!(ts_peer_set_endpoint_len(p, 16), 0);
            ptrs.push(ep);
            assert!(m().write(addr, &[10, 1, (p >> 8) as u8, p as u8]));
            assert_eq!(ts_route_insert(4, addr, 32, p), 0);
            let mut a6 = [0u8; 16];
            a6[0] = 0xfd;
            a6[14..].copy_from_slice(&(p as u16).to_be_bytes());
            assert!(m().write(addr, &a6));
            assert_eq!(ts_route_insert(6, addr, 128, p), 0);
            assert!(m().write(keys, &[p as u8; 64]));
            assert_eq!(ts_keypair_set(p, p, 0x5000_0000 + p, p, keys), 0);
            assert_eq!(ts_peer_set_send_keypair(p, p as i32), 0);
        }
        assert_eq!(ts_tables_init(0, 0, 0), E_BAD_ARG, "the tables grew");
        assert_eq!(ts_peer_reset(20_000), E_BAD_ARG);
        assert_eq!(ts_peer_endpoint_ptr(20_000), 0);
        assert_eq!(ts_route_insert(4, addr, 8, 20_000), E_BAD_ARG);
        assert_eq!(ts_peer_stats(19_999, s + 4096), 0, "a zeroed peer below the limit");
        // Pointers are stable, 32 apart within a page of 2,048.
        assert_eq!(ptrs[2047] - ptrs[0], 2047 * 32);
        assert_eq!(ptrs[9999], ts_peer_endpoint_ptr(9999));
        for (p, &ep) in ptrs.iter().enumerate().step_by(997) {
            assert!(m().write(addr, &[10, 1, (p >> 8) as u8, p as u8]));
            assert_eq!(ts_route_lookup(4, addr), p as i32);
            assert_eq!(ts_peer_endpoint_len(p as u32), 16);
            assert_eq!(m().bytes(ep, 8).unwrap(), &[2, 0, 0x0d, 0x05, 192, 0, 2, 1]);
        }
        let st = table_stats();
        assert!(st[1] >= 10_000.0 && st[3] >= 10_000.0, "{:?}", st);
        assert_eq!((st[4], st[5], st[7]), (10_000.0, 32768.0, 20_000.0));
        assert!(st[8] < 40_000.0 && st[9] >= st[8]);
        // Every private page is refused, every other heap page accepted.
        let (private, free, public) = m().page_counts();
        assert_eq!((st[10], st[11], st[12]), (private as f64, free as f64, public as f64));
        // 10,000 sockaddrs: 5 public pages of 2,048. In use: 9 pages of peer counters, 173 of
        // keypairs, 4 of index buckets (the hash moved twice, giving 1 + 2 pages back, reused
        // since), and the trie's (nodes, the peers' lists).
        assert_eq!(public, 5);
        let t = tunnel();
        assert_eq!((t.peers.pages() - public as usize, t.keypairs.pages()), (9, 173 + 4));
        assert_eq!(private as usize, 9 + 173 + 4 + t.routes.pages());
        let mut refused = 0;
        let mut at = HOST_HEAP_BASE;
        while at < crate::mem::size() {
            if m().bytes(at as u32, 1).is_none() {
                assert!(m().bytes(at as u32 + PAGE as u32 - 1, 1).is_none());
                refused += 1;
            } else {
                assert!(m().bytes(at as u32, PAGE).is_some());
            }
            at += PAGE;
        }
        assert_eq!(refused, private + free);
        // Removing every peer leaves empty tables (the pages stay for reuse).
        for p in 0..10_000u32 {
            if p % 2 == 0 {
                assert_eq!(ts_route_remove_peer(p), 2);
            } else {
                assert!(m().write(addr, &[10, 1, (p >> 8) as u8, p as u8]));
                assert_eq!(ts_route_remove(4, addr, 32), 0);
                let mut a6 = [0u8; 16];
                a6[0] = 0xfd;
                a6[14..].copy_from_slice(&(p as u16).to_be_bytes());
                assert!(m().write(addr, &a6));
                assert_eq!(ts_route_remove(6, addr, 128), 0);
            }
            assert_eq!(ts_keypair_clear(p), 0);
            assert_eq!(ts_peer_reset(p), 0);
        }
        let st = table_stats();
        assert_eq!((st[4], st[7], st[8]), (0.0, 0.0, 0.0));
        assert!(m().write(addr, &[10, 1, 0, 1]));
        assert_eq!(ts_route_lookup(4, addr), E_NO_ROUTE);
    }

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
        fresh();
        assert_eq!(ts_pool_init(64, 512), 0);
        let s = ts_scratch_ptr();
        let keys = s + 4096;
        let mut k = K1.to_vec();
        k.extend_from_slice(&K2);
        assert!(m().write(keys, &k));
        assert_eq!(ts_keypair_set(0, A, 100, 200, keys), 0);
        let mut k = K2.to_vec();
        k.extend_from_slice(&K1);
        assert!(m().write(keys, &k));
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
            assert!(m().write(addr, &a));
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
        i32::from_le_bytes(m().read::<4>(arr + 4 * i as u32).unwrap())
    }
    fn put(arr: u32, i: usize, v: i32) {
        assert!(m().write(arr + 4 * i as u32, &v.to_le_bytes()));
    }

    /// Loads `pkts` into fresh slots; returns the slot offsets.
    fn load(b: &Batch, pkts: &[Vec<u8>]) -> Vec<u32> {
        let mut offs = Vec::new();
        for (i, p) in pkts.iter().enumerate() {
            let off = ts_pool_alloc();
            assert_ne!(off, 0);
            assert!(m().write(off + HEADROOM as u32, p));
            put(b.offs, i, off as i32);
            put(b.lens, i, p.len() as i32);
            offs.push(off);
        }
        offs
    }

    fn drops(code: i32) -> u64 {
        tunnel().drops.get(code)
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
            let h = m().read::<16>(offs[i]).unwrap();
            assert_eq!(&h[..8], &[4, 0, 0, 0, 200, 0, 0, 0]);
            assert_eq!(u64::from_le_bytes(h[8..].try_into().unwrap()), i as u64);
        }
        let p = tunnel().peers.get(A).unwrap();
        assert_eq!((p.tx_packets, p.tx_bytes), (8, want_wire.iter().sum::<i32>() as u64));
        assert_eq!(tunnel().keypairs.slot(0).unwrap().send_counter, 8);

        // Receive it all back (lens now hold the wire lengths).
        assert_eq!(ts_decrypt_batch(b.offs, b.lens, b.peers, b.kps, 0, 0, n), n);
        for i in 0..pkts.len() {
            assert_eq!(get(b.lens, i), pkts[i].len() as i32, "inner length of packet {}", i);
            assert_eq!((get(b.peers, i), get(b.kps, i)), (B as i32, 1));
            let off = offs[i] + HEADROOM as u32;
            assert_eq!(m().bytes(off, pkts[i].len()).unwrap(), &pkts[i][..]);
            let pad = want_wire[i] as usize - 32 - pkts[i].len();
            assert!(m().bytes(off + pkts[i].len() as u32, pad).unwrap().iter().all(|&x| x == 0));
        }
        let p = tunnel().peers.get(B).unwrap();
        assert_eq!((p.rx_packets, p.rx_bytes, p.last_rx_kind), (8, want_wire.iter().sum::<i32>() as u64, RX_DATA));
        let out = s + 9000;
        assert_eq!(ts_keypair_info(1, out), 1);
        assert_eq!(m().read::<8>(out + 8).unwrap(), 7.0f64.to_le_bytes()); // highest counter
        assert_eq!(m().read::<8>(out + 16).unwrap(), 8.0f64.to_le_bytes()); // received
        assert_eq!(tunnel().drops.counts_total(), 0);
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
        assert_eq!(tunnel().peers.get(B).unwrap().last_rx_kind, RX_KEEPALIVE);
        // A keepalive for a bad peer id.
        put(b.lens, 0, 0);
        put(b.peers, 0, DEFAULT_MAX_PEERS as i32);
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
            vec![0x45, 0, 0],                     // truncated
            vec![0x75; 40],                       // bad version
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
        assert_eq!(m().bytes(offs[0] + 16, pkts[0].len()).unwrap(), &pkts[0][..]);
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
        tunnel().keypairs.slot_mut(0).unwrap().expired = false;
        tunnel().keypairs.slot_mut(0).unwrap().send_counter = REJECT_AFTER_MESSAGES - 1;
        put(b.lens, 0, pkt.len() as i32);
        assert_eq!(ts_encrypt_batch(b.offs, b.lens, b.peers, 1, 1420), 1);
        put(b.lens, 0, pkt.len() as i32);
        assert!(m().write(offs[0] + 16, &pkt));
        assert_eq!(ts_encrypt_batch(b.offs, b.lens, b.peers, 1, 1420), 0);
        assert_eq!(get(b.lens, 0), E_KEY_EXPIRED);
        assert_eq!(m().bytes(offs[0] + 16, pkt.len()).unwrap(), &pkt[..]);
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
        let wire: Vec<Vec<u8>> =
            (0..4).map(|i| m().bytes(offs[i], get(b.lens, i) as usize).unwrap().to_vec()).collect();

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
            0,
            E_REPLAY,
            E_AUTH,
            E_NOT_ALLOWED,
            E_NOT_ALLOWED,
            E_UNKNOWN_INDEX,
            HANDSHAKE,
            HANDSHAKE,
            HANDSHAKE,
            E_BAD_MSG_LEN,
            E_BAD_MSG_LEN,
            E_BAD_TYPE,
            E_BAD_TYPE,
            E_TRUNCATED,
            0,
        ];
        let mut wire_offs = Vec::new();
        for (i, d) in dgrams.iter().enumerate() {
            let off = ts_pool_alloc();
            assert!(m().write(off, d));
            put(b.offs, i, off as i32);
            put(b.lens, i, d.len() as i32);
            wire_offs.push(off);
        }
        let n = dgrams.len();
        // Packets 3 and 4 are authenticated (peers/kps set) but dropped afterwards.
        assert_eq!(ts_decrypt_batch(b.offs, b.lens, b.peers, b.kps, 0, 0, n as u32), 4);
        for (i, &w) in want.iter().enumerate().take(n) {
            let want_len = if w == 0 { good.len() as i32 } else { w };
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
        assert_eq!(tunnel().drops.counts_total(), 10);
        // The bad-tag datagram was left as it was.
        assert_eq!(m().bytes(wire_offs[2], dgrams[2].len()).unwrap(), &dgrams[2][..]);

        // Replay in a later batch, both of an accepted and of a never-seen-but-old one.
        assert!(m().write(wire_offs[0], &wire[0]));
        put(b.lens, 0, wire[0].len() as i32);
        assert_eq!(ts_decrypt_batch(b.offs, b.lens, b.peers, b.kps, 0, 0, 1), 0);
        assert_eq!(get(b.lens, 0), E_REPLAY);
        // Wrong key: B's receive key replaced.
        let keys = s + 4096;
        assert!(m().write(keys, &[0x33; 64]));
        assert_eq!(ts_keypair_set(1, B, 200, 100, keys), 0);
        assert!(m().write(wire_offs[0], &wire[0]));
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
        assert!(m().write(b.names, &sa4));
        assert!(m().write(b.names + stride, &sa4));
        assert!(m().write(b.names + 2 * stride, &sa6));
        assert!(m().write(b.names + 3 * stride, &[2, 0, 9, 9, 9, 9, 9, 9]));
        assert_eq!(ts_decrypt_batch(b.offs, b.lens, b.peers, b.kps, b.names, stride, 4), 3);
        assert_eq!(ts_peer_endpoint_len(B), 28);
        assert_eq!(m().bytes(ts_peer_endpoint_ptr(B), 28).unwrap(), &sa6);
        let out = s + 9000;
        assert_eq!(ts_peer_stats(B, out), 0);
        assert_eq!(m().read::<8>(out + 32).unwrap(), 2.0f64.to_le_bytes()); // 2 changes
                                                                            // Unknown family: authenticated, endpoint kept.
        load(&b, &pkts[..1]);
        assert_eq!(ts_encrypt_batch(b.offs, b.lens, b.peers, 1, 1420), 1);
        assert!(m().write(b.names, &[7, 0]));
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
        let base = m().jumbo_ptr() + (JUMBO_LEN * (JUMBO_COUNT - 1)) as u32 + 65536 - 3 * 1452;
        for (i, &off) in offs.iter().enumerate().take(3) {
            let at = base + 1452 * i as u32;
            assert!(m().write(at, m().bytes(off, 1452).unwrap()));
            put(b.offs, i, at as i32);
        }
        let sa4 = [2u8, 0, 0xca, 0x6c, 10, 1, 1, 7, 0, 0, 0, 0, 0, 0, 0, 0];
        assert!(m().write(b.names, &sa4));
        let ptrs = s + 12288;
        for (i, p) in [b.names, 0, b.names].iter().enumerate() {
            put(ptrs, i, *p as i32);
        }
        assert_eq!(ts_decrypt_batch_names(b.offs, b.lens, b.peers, b.kps, ptrs, 3), 3);
        for (i, pkt) in pkts.iter().enumerate().take(3) {
            assert_eq!((get(b.lens, i), get(b.peers, i), get(b.kps, i)), (1420, B as i32, 1));
            let at = base + 1452 * i as u32 + HEADROOM as u32;
            assert_eq!(m().bytes(at, 1420).unwrap(), &pkt[..]);
        }
        assert_eq!(ts_peer_endpoint_len(B), 16);
        assert_eq!(m().bytes(ts_peer_endpoint_ptr(B), 16).unwrap(), &sa4);
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
        let wire: Vec<Vec<u8>> =
            (0..10).map(|i| m().bytes(offs[i], get(b.lens, i) as usize).unwrap().to_vec()).collect();
        let order = [3usize, 0, 9, 1, 2, 8, 4, 7, 5, 6];
        for round in 0..2 {
            for (j, &i) in order.iter().enumerate() {
                assert!(m().write(offs[j], &wire[i]));
                put(b.offs, j, offs[j] as i32);
                put(b.lens, j, wire[i].len() as i32);
            }
            let want = if round == 0 { 10 } else { 0 };
            assert_eq!(ts_decrypt_batch(b.offs, b.lens, b.peers, b.kps, 0, 0, 10), want);
        }
        assert_eq!(drops(E_REPLAY), 10);
    }

    #[test]
    fn jumbo_mtu_packets_in_large_slots_and_datagrams_in_jumbo_buffers() {
        let s = setup();
        let b = batch(s);
        let pkt = v4([10, 0, 0, 1], [10, 0, 0, 2], 8980); // 9000 bytes
        let large = ts_pool_alloc_class(1);
        let small = ts_pool_alloc();
        assert!(m().write(large + HEADROOM as u32, &pkt));
        assert!(m().write(small + HEADROOM as u32, &pkt[..2000]));
        put(b.offs, 0, large as i32);
        put(b.lens, 0, 9000);
        put(b.offs, 1, small as i32);
        put(b.lens, 1, 9000); // what a small slot cannot hold
        let biggest = ts_pool_alloc_class(1);
        let top = v4([10, 0, 0, 1], [10, 0, 0, 2], 65504 - 20);
        assert!(m().write(biggest + HEADROOM as u32, &top));
        put(b.offs, 2, biggest as i32);
        put(b.lens, 2, 65504); // fills the large slot exactly: 16 + 65504 + 16
        put(b.offs, 3, biggest as i32);
        put(b.lens, 3, 65505);
        assert_eq!(ts_encrypt_batch(b.offs, b.lens, b.peers, 4, 65535), 2);
        assert_eq!((get(b.lens, 0), get(b.lens, 1)), (9040, E_TOO_BIG)); // padded to 9008
        assert_eq!((get(b.lens, 2), get(b.lens, 3)), (65536, E_TOO_BIG));
        assert_eq!(drops(E_TOO_BIG), 2);
        // Decrypted where it lands: in a jumbo buffer (any size), in the large slot itself;
        // a datagram longer than the small slot it is said to be in is refused.
        let wire = m().bytes(large, 9040).unwrap().to_vec();
        let j = m().jumbo_ptr() + 7 * JUMBO_LEN as u32;
        assert!(m().write(j, &wire));
        put(b.offs, 0, j as i32);
        put(b.lens, 0, 9040);
        put(b.offs, 1, small as i32);
        put(b.lens, 1, 9040);
        put(b.offs, 2, biggest as i32);
        put(b.lens, 2, 65536); // longer than a datagram can be
        assert_eq!(ts_decrypt_batch(b.offs, b.lens, b.peers, b.kps, 0, 0, 3), 1);
        assert_eq!((get(b.lens, 0), get(b.lens, 1), get(b.lens, 2)), (9000, E_TOO_BIG, E_TOO_BIG));
        assert_eq!(m().bytes(j + HEADROOM as u32, 9000).unwrap(), &pkt[..]);
        assert_eq!(drops(E_TOO_BIG), 4);
        put(b.offs, 0, large as i32);
        put(b.lens, 0, 9040);
        assert_eq!(ts_decrypt_batch(b.offs, b.lens, b.peers, b.kps, 0, 0, 1), 0, "the same counter again");
        assert_eq!(get(b.lens, 0), E_REPLAY);
    }
}
