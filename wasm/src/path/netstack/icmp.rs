//! ICMP (RFC 792, RFC 1122 §3.2.2) and ICMPv6 (RFC 4443) to the stack's addresses, checksum
//! verified: an echo request is turned into the reply in its own slot (type changed,
//! addresses swapped, hop limit reset, checksums recomputed) and queued for output, so a peer
//! can ping the proxy; an echo reply goes to our pings (`ping.rs`); destination unreachable
//! and packet too big go to the connection they quote (`icmp_error.rs`). Other messages are
//! dropped (E_UNSUPPORTED).

use super::{icmp_error, l4_checksum, ping, Ctx, Ip, Out, Slots};
use crate::consts::HEADROOM;
use crate::errors::*;
use crate::wire::checksum;
use crate::wire::icmp::{self, Header};
use crate::wire::ip::{self, DEFAULT_HOP_LIMIT, PROTO_ICMPV6};

/// An ICMP(v6) message to the stack in `slot` (IP at `HEADROOM`): `Ok(true)` if the slot is
/// kept (an echo reply sent back in it), `Ok(false)` if it is done with.
pub fn input<'m, S: Slots<'m>>(
    cx: &mut Ctx,
    slots: &mut S,
    off: u32,
    slot: &mut [u8],
    ip: &Ip,
    now: u32,
) -> Result<bool, i32> {
    let l4 = &mut slot[ip.l4_at()..HEADROOM + ip.total];
    let h = Header::new_checked(&*l4)?;
    let ok = if ip.family == 4 { checksum::verifies(checksum::add(0, l4)) } else { ip.l4_checksum_ok(l4) };
    if !ok {
        return Err(E_CHECKSUM);
    }
    let reply = match (ip.family, h.msg_type(), h.code()) {
        (4, icmp::V4_ECHO_REQUEST, 0) => icmp::V4_ECHO_REPLY,
        (6, icmp::V6_ECHO_REQUEST, 0) => icmp::V6_ECHO_REPLY,
        (4, icmp::V4_ECHO_REPLY, 0) | (6, icmp::V6_ECHO_REPLY, 0) => {
            return ping::reply(cx.net, ip, &h, now).map(|_| false);
        }
        (4, icmp::V4_DEST_UNREACHABLE, _) | (6, icmp::V6_DEST_UNREACHABLE | icmp::V6_PACKET_TOO_BIG, _) => {
            return icmp_error::input(cx, slots, ip.family, &h, now).map(|_| false);
        }
        _ => return Err(E_UNSUPPORTED),
    };
    if cx.net.pending.full() {
        return Err(E_QUEUE_FULL);
    }
    let mut h = Header::new_unchecked(&mut l4[..]);
    h.set_msg_type(reply);
    h.set_checksum([0, 0]);
    // The reply goes from the address the request was sent to back to its source.
    let c = if ip.family == 4 {
        checksum::finish(checksum::add(0, l4))
    } else {
        l4_checksum(ip.dst(), ip.src(), PROTO_ICMPV6, l4)
    };
    Header::new_unchecked(&mut l4[..]).set_checksum(c);
    let mut p = ip::Packet::new_unchecked(&mut slot[HEADROOM..HEADROOM + ip.total]);
    p.swap_addrs();
    p.set_hop_limit(DEFAULT_HOP_LIMIT);
    if ip.family == 4 {
        p.fill_checksum();
    }
    cx.net.pending.push(off, ip.total);
    cx.net.stats.echo_replies += 1;
    Ok(true)
}
