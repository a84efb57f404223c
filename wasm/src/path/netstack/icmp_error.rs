//! ICMP errors for our TCP connections (RFC 1122 §4.2.3.9, RFC 1191, RFC 8201, RFC 5927):
//! the quoted packet must be one of our live connections' (its addresses and ports) and its
//! sequence number one of data in flight (SND.UNA <= SEG.SEQ < SND.MAX, RFC 5927 §4.1), else
//! the error is dropped (E_NO_SOCKET, E_OUT_OF_WINDOW): a forged message can neither shrink
//! nor end connections at will.
//!
//! - Fragmentation needed (ICMP type 3 code 4) and Packet Too Big (ICMPv6 type 2) lower the
//!   send MSS of the connections to that destination to the reported MTU's, never below what
//!   576 (IPv4) or 1280 (IPv6, RFC 8201 §4) bytes allow and never up; the quoted connection
//!   sends what it has in flight again at once, in the new size (RFC 1191 §6.5: it was dropped);
//!   connections opened to it later start there (`pmtu.rs`, for 10 minutes).
//! - Destination unreachable ends a connect in SYN-SENT (ERR_NET_UNREACHABLE,
//!   ERR_HOST_UNREACHABLE, ERR_PROHIBITED, ERR_REFUSED for port and protocol unreachable);
//!   for any later state it is a soft error (RFC 1122 §4.2.3.9, RFC 5927 §5.2: no abort),
//!   kept and reported only if the connection then times out.

use super::{before, before_eq, Ctx, Slots};
use crate::consts::{HEADROOM, LARGE_SLOT_SIZE, SLOT_TAILROOM};
use crate::errors::*;
use crate::tables::tcb::{
    flag, SockAddr, ERR_HOST_UNREACHABLE, ERR_NET_UNREACHABLE, ERR_PROHIBITED, ERR_REFUSED, SYN_SENT,
};
use crate::wire::icmp::{self, Header};
use crate::wire::ip::{self, PROTO_TCP};

/// The smallest path MTU we go down to: IPv4's minimum datagram every host takes (RFC 791),
/// IPv6's minimum link MTU (RFC 8200 §5).
pub const MIN_MTU_V4: u32 = 576;
pub const MIN_MTU_V6: u32 = 1280;

/// What an error says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The path's MTU (as reported: 0 from a router older than RFC 1191).
    TooBig(u32),
    /// Unreachable: the ERR_* a connect in SYN-SENT ends with.
    Unreachable(u8),
}

/// The kind of an error message of `family` (type, code, second word); `None`: not one we act on.
pub fn kind(family: u8, ty: u8, code: u8, rest: u32) -> Option<Kind> {
    match (family, ty, code) {
        (4, icmp::V4_DEST_UNREACHABLE, icmp::V4_FRAG_NEEDED) => Some(Kind::TooBig(rest & 0xffff)),
        (6, icmp::V6_PACKET_TOO_BIG, _) => Some(Kind::TooBig(rest)),
        (4, icmp::V4_DEST_UNREACHABLE, c) => match c {
            0 => Some(Kind::Unreachable(ERR_NET_UNREACHABLE)),
            1 => Some(Kind::Unreachable(ERR_HOST_UNREACHABLE)),
            2 | 3 => Some(Kind::Unreachable(ERR_REFUSED)),
            9 | 10 | 13 => Some(Kind::Unreachable(ERR_PROHIBITED)),
            _ => None,
        },
        (6, icmp::V6_DEST_UNREACHABLE, c) => match c {
            0 => Some(Kind::Unreachable(ERR_NET_UNREACHABLE)),
            2 | 3 => Some(Kind::Unreachable(ERR_HOST_UNREACHABLE)),
            4 => Some(Kind::Unreachable(ERR_REFUSED)),
            1 | 5 | 6 => Some(Kind::Unreachable(ERR_PROHIBITED)),
            _ => None,
        },
        _ => None,
    }
}

/// The send MSS for a path MTU: the MTU less the IP and TCP headers.
pub fn mss_for(family: u8, mtu: u32) -> u16 {
    let ip = if family == 4 { ip::V4_HEADER_LEN } else { ip::V6_HEADER_LEN };
    let mtu = (mtu as usize).min(LARGE_SLOT_SIZE - HEADROOM - SLOT_TAILROOM);
    mtu.saturating_sub(ip + 20).min(u16::MAX as usize) as u16
}

/// A destination unreachable or packet too big (checksum verified) to the stack.
pub fn input<'m, S: Slots<'m>, T: AsRef<[u8]>>(
    cx: &mut Ctx,
    slots: &mut S,
    family: u8,
    h: &Header<T>,
    now: u32,
) -> Result<(), i32> {
    let k = kind(family, h.msg_type(), h.code(), h.rest()).ok_or(E_UNSUPPORTED)?;
    let q = icmp::quote(h.body(), family)?;
    if q.proto != PROTO_TCP {
        return Err(E_UNSUPPORTED);
    }
    let n = if family == 4 { 4 } else { 16 };
    let (local, remote) = match (SockAddr::new(&q.src[..n], q.src_port), SockAddr::new(&q.dst[..n], q.dst_port)) {
        (Some(l), Some(r)) => (l, r),
        _ => return Err(E_BAD_ARG),
    };
    let i = cx.sk.tcp_find(&local, &remote).ok_or(E_NO_SOCKET)?;
    let t = &cx.sk.tcp[i];
    if !(before_eq(t.snd_una, q.seq) && before(q.seq, t.snd_max)) {
        return Err(E_OUT_OF_WINDOW);
    }
    let state = t.state;
    cx.net.stats.icmp_errors += 1;
    match k {
        Kind::Unreachable(err) if state == SYN_SENT => super::conn::finish(cx, slots, i, err),
        Kind::Unreachable(err) => cx.sk.tcp[i].soft_error = err,
        Kind::TooBig(reported) => {
            let min = if family == 4 { MIN_MTU_V4 } else { MIN_MTU_V6 };
            // 0 (no MTU reported): the minimum, rather than RFC 1191 §5's guess from plateaus.
            let mss = mss_for(family, reported.max(min));
            let learnt = cx.net.pmtu.learn(family, &remote.addr, mss, now);
            if lower_mss(cx, &remote, mss) || learnt {
                cx.net.stats.pmtu_lowered += 1;
                let t = &mut cx.sk.tcp[i];
                if t.has(flag::SYNCED) && t.snd_una != t.snd_max {
                    // What is in flight was too big: sent again from SND.UNA in the new size,
                    // as after a timeout but without its backoff and window cut (RFC 1191 §6.5).
                    t.snd_nxt = t.snd_una;
                    t.flags &= !(flag::RTT | flag::RETRANSMIT); // Karn: no sample from these
                    cx.sk.mark_dirty(i);
                }
            }
        }
    }
    Ok(())
}

/// Every connection to `remote`'s address sends segments of at most `mss` from now on.
/// Returns whether any was lowered.
fn lower_mss(cx: &mut Ctx, remote: &SockAddr, mss: u16) -> bool {
    let mut lowered = false;
    for t in cx.sk.tcp[..cx.sk.tcp_ids.high()].iter_mut() {
        if t.used && t.remote.family == remote.family && t.remote.addr == remote.addr && t.snd_mss > mss {
            t.snd_mss = mss;
            lowered = true;
        }
    }
    lowered
}
