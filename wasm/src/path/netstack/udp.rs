//! UDP (RFC 768) at the stack's addresses: a datagram to a bound port stays in its slot,
//! queued on the socket (at most `NET_UDP_QUEUE`), until TypeScript takes it; a datagram to
//! send is written by TypeScript into a slot and gets its headers in place.

use super::queue::{self, Meta};
use super::{l4_checksum, Ctx, Ip, Out, Slots};
use crate::consts::{HEADROOM, NET_UDP_QUEUE, SLOT_TAILROOM};
use crate::errors::*;
use crate::tables::sockets::KIND_UDP;
use crate::tables::tcb::SockAddr;
use crate::wire::ip::{self, PROTO_UDP};
use crate::wire::udp::{Header, HEADER_LEN};

/// First port of the ephemeral range (RFC 6335 §6: 49152-65535).
pub const EPHEMERAL_FIRST: u16 = 49152;
pub const EPHEMERAL_COUNT: u32 = 16384;

/// A datagram to the stack: checked (lengths, checksum) and queued on its socket.
pub fn input<'m, S: Slots<'m>>(
    cx: &mut Ctx,
    slots: &mut S,
    off: u32,
    slot: &'m mut [u8],
    ip: &Ip,
) -> Result<bool, i32> {
    let l4 = &slot[ip.l4_at()..HEADROOM + ip.total];
    let h = Header::new_checked(l4)?;
    let ulen = h.length() as usize;
    if ulen < HEADER_LEN || ulen > l4.len() {
        return Err(E_BAD_TOTAL_LEN);
    }
    // IPv4 may send no checksum (0); IPv6 must (RFC 8200 §8.1).
    if (ip.family == 6 || h.checksum() != [0, 0]) && !ip.l4_checksum_ok(&l4[..ulen]) {
        return Err(E_CHECKSUM);
    }
    let s = cx.sk.udp_find(ip.family, &ip.dst, h.dst_port(), false).ok_or(E_NO_SOCKET)?;
    if cx.sk.udp[s].queue.slots as usize >= NET_UDP_QUEUE {
        return Err(E_QUEUE_FULL);
    }
    let m = Meta::new(0, ip.l4_at() + HEADER_LEN, ulen - HEADER_LEN, false);
    queue::push_back(&mut cx.sk.udp[s].queue, slots, off, m);
    cx.sk.notify(KIND_UDP, s);
    cx.net.stats.udp_in += 1;
    Ok(true)
}

/// A datagram taken off socket `s`: its slot (now the caller's), where its data lies in the
/// slot, how long it is, and who sent it.
pub struct Datagram {
    pub off: u32,
    pub start: u32,
    pub len: u32,
    pub from: SockAddr,
}

/// Takes the oldest datagram queued on socket `s`.
pub fn recv<'m, S: Slots<'m>>(cx: &mut Ctx, slots: &S, s: usize) -> Option<Datagram> {
    let (off, m) = queue::pop_front(&mut cx.sk.udp[s].queue, slots)?;
    let slot = slots.get(off)?;
    let p = ip::Packet::new_unchecked(&slot[HEADROOM..]);
    let src_port = Header::new_unchecked(&slot[HEADROOM + p.header_len()..]).src_port();
    let from = SockAddr::new(p.src_addr(), src_port).unwrap_or(SockAddr::NONE);
    Some(Datagram { off, start: m.start, len: m.len, from })
}

/// Sends the `len` bytes at `data_off` of slot `off` from socket `s` to `to`: the payload is
/// moved to where it belongs after the headers if it is elsewhere, headers and checksum are
/// written, and the packet is queued for output (the slot is the stack's on success).
/// E_BAD_ARG (another family, no local address, port 0, data outside the slot), E_TOO_BIG
/// (over the MTU or the slot), E_AGAIN (the output ring is full: after the next output).
pub fn send<'m, S: Slots<'m>>(
    cx: &mut Ctx,
    slots: &mut S,
    s: usize,
    off: u32,
    data_off: usize,
    len: usize,
    to: &SockAddr,
) -> Result<(), i32> {
    let local = cx.sk.udp[s].local;
    if to.family != local.family || to.port == 0 {
        return Err(E_BAD_ARG);
    }
    let src = if local.is_unspecified() { cx.net.cfg.first_addr(local.family).ok_or(E_BAD_ARG)? } else { local };
    let hl = if local.family == 4 { ip::V4_HEADER_LEN } else { ip::V6_HEADER_LEN };
    let total = len.checked_add(hl + HEADER_LEN).ok_or(E_TOO_BIG)?;
    if total > cx.net.cfg.mtu as usize {
        return Err(E_TOO_BIG);
    }
    let slot = slots.get(off).ok_or(E_BAD_ARG)?;
    if data_off < queue::META_LEN || data_off.checked_add(len).map_or(true, |end| end > slot.len()) {
        return Err(E_BAD_ARG);
    }
    let start = HEADROOM + hl + HEADER_LEN;
    if HEADROOM + total + SLOT_TAILROOM > slot.len() {
        return Err(E_TOO_BIG);
    }
    if cx.net.pending.full() {
        return Err(E_AGAIN);
    }
    slot.copy_within(data_off..data_off + len, start);
    let l4 = &mut slot[HEADROOM + hl..HEADROOM + total];
    let mut h = Header::new_unchecked(&mut l4[..]);
    h.set_src_port(local.port);
    h.set_dst_port(to.port);
    h.set_len((HEADER_LEN + len) as u16);
    h.set_checksum([0, 0]);
    let c = l4_checksum(src.ip(), to.ip(), PROTO_UDP, l4);
    Header::new_unchecked(&mut l4[..]).set_checksum(c);
    ip::write_header(&mut slot[HEADROOM..], src.ip(), to.ip(), PROTO_UDP, HEADER_LEN + len);
    cx.net.pending.push(off, total);
    cx.net.stats.udp_out += 1;
    Ok(())
}

/// Binds `local` (port 0: an ephemeral port, RFC 6056 algorithm 1 over the stack's counter);
/// the address must be unspecified or one of the stack's. The socket's index.
pub fn bind(cx: &mut Ctx, mut local: SockAddr) -> Result<usize, i32> {
    if local.family != 4 && local.family != 6 {
        return Err(E_BAD_ARG);
    }
    if !local.is_unspecified() && !cx.net.cfg.is_local(local.family, &local.addr) {
        return Err(E_BAD_ARG);
    }
    if local.port != 0 {
        return cx.sk.udp_bind(local);
    }
    let h = cx.net.cfg.keyed(&[b"udp port", &[local.family], &local.addr]);
    let base = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
    for k in 0..EPHEMERAL_COUNT {
        let n = base.wrapping_add(cx.net.port_counter).wrapping_add(k);
        local.port = EPHEMERAL_FIRST + (n % EPHEMERAL_COUNT) as u16;
        if cx.sk.udp_find(local.family, &local.addr, local.port, true).is_none() {
            cx.net.port_counter = cx.net.port_counter.wrapping_add(k + 1);
            return cx.sk.udp_bind(local);
        }
    }
    Err(E_ADDR_IN_USE)
}

/// Closes socket `s`: its queued datagrams go back to the pool.
pub fn close<'m, S: Slots<'m>>(cx: &mut Ctx, slots: &mut S, s: usize) {
    queue::clear(&mut cx.sk.udp[s].queue, slots);
    cx.sk.udp_unbind(s);
}
