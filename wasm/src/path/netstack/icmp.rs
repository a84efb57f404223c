//! ICMP echo (RFC 792, RFC 1122 §3.2.2.6) and ICMPv6 echo (RFC 4443 §4): a request to one
//! of the stack's addresses is turned into the reply in its own slot (type changed,
//! addresses swapped, hop limit reset, checksums recomputed) and queued for output, so a
//! peer can ping the proxy. Other ICMP messages are not handled yet (E_UNSUPPORTED).

use super::{l4_checksum, Ctx, Ip, Out};
use crate::consts::HEADROOM;
use crate::errors::*;
use crate::wire::checksum;
use crate::wire::icmp::{self, Header};
use crate::wire::ip::{self, DEFAULT_HOP_LIMIT, PROTO_ICMPV6};

/// An ICMP(v6) message to the stack in `slot` (IP at `HEADROOM`): an echo request becomes
/// the reply, queued (`Ok(true)`: the slot is sent back).
pub fn input(cx: &mut Ctx, off: u32, slot: &mut [u8], ip: &Ip) -> Result<bool, i32> {
    let l4 = &mut slot[ip.l4_at()..HEADROOM + ip.total];
    let h = Header::new_checked(&*l4)?;
    let ok = if ip.family == 4 { checksum::verifies(checksum::add(0, l4)) } else { ip.l4_checksum_ok(l4) };
    if !ok {
        return Err(E_CHECKSUM);
    }
    let reply = match (ip.family, h.msg_type(), h.code()) {
        (4, icmp::V4_ECHO_REQUEST, 0) => icmp::V4_ECHO_REPLY,
        (6, icmp::V6_ECHO_REQUEST, 0) => icmp::V6_ECHO_REPLY,
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
