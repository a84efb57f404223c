//! WireGuard transport data in place in the slots (whitepaper: "Transport Data Key
//! Derivation" and "Subsequent Messages: Exchange of Data Packets"): [`encrypt_batch`]
//! turns IP packets at `off + HEADROOM` into transport messages at `off`;
//! [`decrypt_batch`] turns received datagrams at `off` back into IP packets at
//! `off + HEADROOM` (the plaintext lands there because the header is exactly 16 bytes).
//!
//! A batch is whatever implements [`SendBatch`] or [`RecvBatch`] (the exports implement
//! them over TypeScript's arrays); both are generic parameters, so each export gets its
//! own monomorphic loop.

use crate::consts::{ENDPOINT_LEN, HEADROOM, TAG_LEN, TRANSPORT_HEADER_LEN};
use crate::crypto::aead::{self, counter_nonce};
use crate::errors::*;
use crate::tables::allowed_ips::{key_of, AllowedIps};
use crate::tables::drops::Drops;
use crate::tables::keypairs::Keypairs;
use crate::tables::peers::{Peers, RX_DATA, RX_KEEPALIVE};
use crate::tables::replay::REJECT_AFTER_MESSAGES;
use crate::wire::ip;
use crate::wire::message::{Message, TRANSPORT_MIN_LEN};

/// -1 as i32: "no peer" / "no keypair" in the result arrays.
pub const NONE: u32 = u32::MAX;

/// Peer and keypair slot of an authenticated packet.
pub type Auth = Option<(u32, u32)>;

/// Longest source sockaddr a datagram can have (sockaddr_in6).
pub const SOCKADDR_MAX: usize = 28;

/// What encryption borrows from the tunnel.
pub struct SendCtx<'a> {
    pub routes: &'a AllowedIps,
    pub peers: &'a mut Peers,
    pub keypairs: &'a mut Keypairs,
    pub drops: &'a mut Drops,
}

/// What decryption borrows from the tunnel (the peers' sockaddr bytes, which roaming writes,
/// come from the batch: they are in memory TypeScript shares).
pub struct RecvCtx<'a> {
    pub routes: &'a AllowedIps,
    pub peers: &'a mut Peers,
    pub keypairs: &'a mut Keypairs,
    pub drops: &'a mut Drops,
}

/// Packets to encrypt. Views live as long as `'m` (the memory they are in).
pub trait SendBatch<'m> {
    fn count(&self) -> usize;
    /// Packet i: its whole slot (`SLOT_SIZE` or `LARGE_SLOT_SIZE` bytes from its offset, as
    /// the pool says; `None` if not accessible), its IP length (0 = a keepalive) and its peer
    /// word (the keepalive's peer).
    fn packet(&self, i: usize) -> (Option<&'m mut [u8]>, usize, u32);
    /// Packet i's results: the peer it goes to (or `NONE`) and the wire length or code.
    fn done(&self, i: usize, peer: u32, len: u32);
}

/// Datagrams to decrypt.
pub trait RecvBatch<'m> {
    fn count(&self) -> usize;
    /// Datagram i: exactly its bytes (decryption in place needs no more), or why it cannot be
    /// had: E_TOO_BIG if it is longer than the slot it is in, E_BAD_ARG if not accessible.
    fn datagram(&self, i: usize) -> Result<&'m mut [u8], i32>;
    /// Datagram i's source sockaddr (copied) and its length, if it has a usable one.
    fn source(&self, i: usize) -> Option<([u8; SOCKADDR_MAX], usize)>;
    /// A peer's sockaddr storage at `ptr` (from `Peers::endpoint_ptr`), to roam.
    fn endpoint(&self, ptr: u32) -> Option<&'m mut [u8; ENDPOINT_LEN]>;
    /// Datagram i's results: peer and keypair if authenticated, the length or code.
    fn done(&self, i: usize, auth: Auth, len: u32);
}

/// Padded plaintext length: zeros up to a multiple of 16, capped at the MTU, never
/// shorter than the packet; a keepalive stays empty.
pub fn padded_len(len: usize, mtu: usize) -> usize {
    if len == 0 {
        return 0;
    }
    let p = (len + 15) & !15;
    p.min(mtu).max(len)
}

/// Encrypts every packet of `batch`; returns the number ready to send. Drops are counted,
/// except E_NO_KEY and E_KEY_EXPIRED: TypeScript queues those untouched packets.
pub fn encrypt_batch<'m, B: SendBatch<'m>>(cx: &mut SendCtx, batch: &B, mtu: usize) -> u32 {
    let mut ready = 0;
    for i in 0..batch.count() {
        let (slot, len, hint) = batch.packet(i);
        match encrypt_one(cx, slot, len, hint, mtu) {
            (peer, Ok(wire)) => {
                batch.done(i, peer, wire as u32);
                ready += 1;
            }
            (peer, Err(code)) => {
                batch.done(i, peer, code as u32);
                if code != E_NO_KEY && code != E_KEY_EXPIRED {
                    cx.drops.count(code);
                }
            }
        }
    }
    ready
}

/// One packet: route (or take `hint` for a keepalive), pad, write the header at the slot
/// start and seal in place. Returns the destination peer (`NONE` until routed; a
/// keepalive's `hint` once it is a valid id) and the wire length or code.
#[inline]
pub fn encrypt_one(
    cx: &mut SendCtx,
    slot: Option<&mut [u8]>,
    len: usize,
    hint: u32,
    mtu: usize,
) -> (u32, Result<usize, i32>) {
    if len == 0 && hint >= cx.peers.limit() {
        return (NONE, Err(E_BAD_ARG));
    }
    let unrouted = if len == 0 { hint } else { NONE };
    let slot = match slot {
        Some(s) => s,
        None => return (unrouted, Err(E_BAD_ARG)),
    };
    let peer = if len == 0 {
        hint
    } else {
        match route(cx.routes, slot, len) {
            Ok(p) => p,
            Err(e) => return (NONE, Err(e)),
        }
    };
    (peer, seal(cx, slot, peer, len, mtu))
}

/// The peer whose AllowedIPs hold the destination of the `len`-byte packet in `slot`.
#[inline]
fn route(routes: &AllowedIps, slot: &[u8], len: usize) -> Result<u32, i32> {
    // Header and tag around it: the largest plaintext the slot holds.
    if len > slot.len().saturating_sub(TRANSPORT_HEADER_LEN + TAG_LEN) {
        return Err(E_TOO_BIG);
    }
    let pkt = ip::Packet::new_checked(slot.get(HEADROOM..HEADROOM + len).ok_or(E_TOO_BIG)?)?;
    Ok(routes.lookup(pkt.family(), key_of(pkt.dst_addr())).ok_or(E_NO_ROUTE)? as u32)
}

/// Seals the packet for `peer` with its send keypair.
#[inline]
fn seal(cx: &mut SendCtx, slot: &mut [u8], peer: u32, len: usize, mtu: usize) -> Result<usize, i32> {
    // A peer below the limit whose slot does not exist yet has no keypair.
    let pe = cx.peers.get_mut(peer).ok_or(E_NO_KEY)?;
    let kp = pe.send_keypair().and_then(|k| cx.keypairs.slot_mut(k)).ok_or(E_NO_KEY)?;
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

/// Authenticates, decrypts in place and validates every datagram of `batch` (ABI.md,
/// `ts_decrypt_batch`, for the per-packet results). Returns the number authenticated.
/// Every negative length except HANDSHAKE is counted as a drop.
pub fn decrypt_batch<'m, B: RecvBatch<'m>>(cx: &mut RecvCtx, batch: &B) -> u32 {
    let mut authenticated = 0;
    for i in 0..batch.count() {
        let (auth, res) = decrypt_one(cx, batch.datagram(i), || batch.source(i), |ptr| batch.endpoint(ptr));
        match res {
            Ok(len) => batch.done(i, auth, len),
            Err(code) => {
                batch.done(i, auth, code as u32);
                cx.drops.count(code); // ignores HANDSHAKE
            }
        }
        if auth.is_some() {
            authenticated += 1;
        }
    }
    authenticated
}

/// One datagram, `dgram` its bytes (or why they cannot be had). `source` is asked for the
/// sender's sockaddr only once the datagram is authenticated, and `endpoint` for the view of
/// the peer's sockaddr storage only then (roaming).
#[inline]
pub fn decrypt_one<'e>(
    cx: &mut RecvCtx,
    dgram: Result<&mut [u8], i32>,
    source: impl FnOnce() -> Option<([u8; SOCKADDR_MAX], usize)>,
    endpoint: impl FnOnce(u32) -> Option<&'e mut [u8; ENDPOINT_LEN]>,
) -> (Auth, Result<u32, i32>) {
    let dgram = match dgram {
        Ok(d) => d,
        Err(e) => return (None, Err(e)),
    };
    let len = dgram.len();
    let (index, counter, ct_len) = match Message::new_checked(&*dgram) {
        Ok(m) if m.is_handshake() => return (None, Err(HANDSHAKE)),
        Ok(m) => (m.receiver_index(), m.counter(), m.ciphertext_len()),
        Err(e) => return (None, Err(e)),
    };
    let kp_i = match cx.keypairs.lookup(index) {
        Some(k) => k,
        None => return (None, Err(E_UNKNOWN_INDEX)),
    };
    let kp = match cx.keypairs.slot_mut(kp_i) {
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
    // The window itself changes only now that the tag verified (whitepaper: "Subsequent
    // Messages: Exchange of Data Packets", sliding window of RFC 6479).
    if !kp.replay.validate(counter, REJECT_AFTER_MESSAGES) {
        return (None, Err(E_REPLAY));
    }
    kp.received_packets += 1;
    let peer = kp.peer;
    let auth = Some((peer, kp_i as u32));
    let ep_ptr = cx.peers.endpoint_ptr(peer);
    if let Some(pe) = cx.peers.get_mut(peer) {
        pe.rx_bytes += len as u64;
        pe.rx_packets += 1;
        pe.last_rx_kind = if ct_len == 0 { RX_KEEPALIVE } else { RX_DATA };
        if let (Some((sa, sa_len)), Some(at)) = (source(), ep_ptr) {
            if let (Some(ep), Some(sa)) = (endpoint(at), sa.get(..sa_len)) {
                pe.roam(ep, sa);
            }
        }
    }
    if ct_len == 0 {
        return (auth, Ok(0));
    }
    let inner = match ip::Packet::new_checked(&*ct) {
        Ok(p) => p,
        Err(e) => return (auth, Err(e)),
    };
    if cx.routes.lookup(inner.family(), key_of(inner.src_addr())) != Some(peer) {
        return (auth, Err(E_NOT_ALLOWED));
    }
    (auth, Ok(inner.total_len() as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(padded_len(2016, 9000), 2016);
        assert_eq!(padded_len(8981, 9000), 8992);
        assert_eq!(padded_len(65488, 65535), 65488);
    }
}
