//! Our echo requests (ICMP, ICMPv6; for wireproxy's CheckAlive): TypeScript names the address,
//! the identifier and the sequence number; the request goes from the stack's first address of
//! the family with 16 bytes of data keyed by the stack's secret and the time it was sent, and
//! waits in a bounded table (the oldest forgotten when a new one needs room). A reply that
//! matches a waiting request (its source, id, sequence number and data) becomes a record
//! with its round trip for TypeScript to take; any other reply is dropped (E_NO_SOCKET).

use super::{l4_checksum, Ctx, Ip, Netstack, Out, Slots};
use crate::consts::{HEADROOM, NET_MAX_PINGS};
use crate::errors::*;
use crate::tables::tcb::SockAddr;
use crate::wire::checksum;
use crate::wire::icmp::{self, Header, HEADER_LEN};
use crate::wire::ip::{self, PROTO_ICMP, PROTO_ICMPV6};

/// Bytes of data in our echo requests.
pub const DATA_LEN: usize = 16;

#[derive(Clone, Copy)]
struct Waiting {
    used: bool,
    to: SockAddr,
    id: u16,
    seq: u16,
    sent_at: u32,
}

/// A reply to one of our requests: who answered, the request's id and sequence number, the
/// round trip (ms) and when it arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reply {
    pub from: SockAddr,
    pub id: u16,
    pub seq: u16,
    pub rtt: u32,
    pub at: u32,
}

pub struct Pings {
    waiting: [Waiting; NET_MAX_PINGS],
    /// Where the next request is written (the oldest entry: requests go in order).
    next: usize,
    replies: [Reply; NET_MAX_PINGS],
    head: usize,
    n: usize,
}

impl Pings {
    pub const ZERO: Pings = Pings {
        waiting: [Waiting { used: false, to: SockAddr::NONE, id: 0, seq: 0, sent_at: 0 }; NET_MAX_PINGS],
        next: 0,
        replies: [Reply { from: SockAddr::NONE, id: 0, seq: 0, rtt: 0, at: 0 }; NET_MAX_PINGS],
        head: 0,
        n: 0,
    };

    /// The oldest reply not yet taken.
    pub fn take(&mut self) -> Option<Reply> {
        if self.n == 0 {
            return None;
        }
        let r = self.replies[self.head];
        self.head = (self.head + 1) % NET_MAX_PINGS;
        self.n -= 1;
        Some(r)
    }

    /// Requests still waiting for a reply.
    pub fn waiting(&self) -> usize {
        self.waiting.iter().filter(|w| w.used).count()
    }

    fn keep(&mut self, r: Reply) {
        if self.n == NET_MAX_PINGS {
            self.head = (self.head + 1) % NET_MAX_PINGS; // the oldest is forgotten
            self.n -= 1;
        }
        self.replies[(self.head + self.n) % NET_MAX_PINGS] = r;
        self.n += 1;
    }
}

/// The data of the request to `to` with `id`, `seq` sent at `at`.
fn data(net: &Netstack, to: &SockAddr, id: u16, seq: u16, at: u32) -> [u8; DATA_LEN] {
    let h = net.cfg.keyed(&[b"echo", &to.record(), &id.to_be_bytes(), &seq.to_be_bytes(), &at.to_le_bytes()]);
    let mut d = [0u8; DATA_LEN];
    d.copy_from_slice(&h[..DATA_LEN]);
    d
}

/// Queues an echo request to `to` (its port ignored) for the next output. E_BAD_ARG (no
/// family, the unspecified address, no local address of the family), E_AGAIN (the output ring
/// is full), E_EXHAUSTED (no slot).
pub fn send<'m, S: Slots<'m>>(
    cx: &mut Ctx,
    slots: &mut S,
    to: SockAddr,
    id: u16,
    seq: u16,
    now: u32,
) -> Result<(), i32> {
    if !matches!(to.family, 4 | 6) || to.is_unspecified() {
        return Err(E_BAD_ARG);
    }
    let to = SockAddr { port: 0, ..to };
    let from = cx.net.cfg.first_addr(to.family).ok_or(E_BAD_ARG)?;
    if cx.net.pending.full() {
        return Err(E_AGAIN);
    }
    let (ty, proto, hl) = if to.family == 4 {
        (icmp::V4_ECHO_REQUEST, PROTO_ICMP, ip::V4_HEADER_LEN)
    } else {
        (icmp::V6_ECHO_REQUEST, PROTO_ICMPV6, ip::V6_HEADER_LEN)
    };
    let l4_len = HEADER_LEN + DATA_LEN;
    let (off, slot) = slots.take(hl + l4_len).ok_or(E_EXHAUSTED)?;
    ip::write_header(&mut slot[HEADROOM..], from.ip(), to.ip(), proto, l4_len);
    let l4 = &mut slot[HEADROOM + hl..HEADROOM + hl + l4_len];
    l4[HEADER_LEN..].copy_from_slice(&data(cx.net, &to, id, seq, now));
    let mut h = Header::new_unchecked(&mut l4[..]);
    h.set_msg_type(ty);
    h.set_code(0);
    h.set_rest((id as u32) << 16 | seq as u32);
    h.set_checksum([0, 0]);
    let c = if to.family == 4 {
        checksum::finish(checksum::add(0, l4))
    } else {
        l4_checksum(from.ip(), to.ip(), PROTO_ICMPV6, l4)
    };
    Header::new_unchecked(&mut l4[..]).set_checksum(c);
    cx.net.pending.push(off, hl + l4_len);
    let p = &mut cx.net.pings;
    p.waiting[p.next] = Waiting { used: true, to, id, seq, sent_at: now };
    p.next = (p.next + 1) % NET_MAX_PINGS;
    Ok(())
}

/// An echo reply to the stack (checksum verified): a record if it answers a waiting request.
pub fn reply<T: AsRef<[u8]>>(net: &mut Netstack, ip: &Ip, h: &Header<T>, now: u32) -> Result<(), i32> {
    let from = SockAddr::new(ip.src(), 0).ok_or(E_BAD_ARG)?;
    let (id, seq) = (h.echo_id(), h.echo_seq());
    let body = h.body();
    let k = (0..NET_MAX_PINGS).find(|&k| {
        let w = &net.pings.waiting[k];
        w.used
            && w.to == from
            && w.id == id
            && w.seq == seq
            && body.get(..DATA_LEN) == Some(&data(net, &from, id, seq, w.sent_at)[..])
    });
    let k = k.ok_or(E_NO_SOCKET)?;
    let w = &mut net.pings.waiting[k];
    w.used = false;
    let r = Reply { from, id, seq, rtt: now.wrapping_sub(w.sent_at), at: now };
    net.pings.keep(r);
    net.stats.ping_replies += 1;
    Ok(())
}
