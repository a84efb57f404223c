//! TCP segments out (RFC 9293 §3.8.6, §3.10): for one connection, what its state asks for:
//! the SYN or SYN-ACK (MSS from the MTU, window scale, timestamps), a fast retransmission,
//! data up to the send window and the congestion window (sender-side silly window
//! avoidance, the FIN after the last byte, a one-byte probe of a zero window), and a bare
//! ACK or window update when one is due. Each segment gets a fresh slot; its data is copied
//! from the send queue (which keeps it until acknowledged: the slot sent is encrypted in
//! place). The RST answering a segment with no connection is written in that segment's own
//! slot.

use super::{before, before_eq, conn, l4_checksum, reassembly, rto, Config, Ctx, Netstack, Out, Slots, Stats};
use crate::consts::HEADROOM;
use crate::errors::E_EXHAUSTED;
use crate::tables::drops::Drops;
use crate::tables::tcb::{
    flag, SockAddr, Tcb, CLOSED, CLOSE_WAIT, ERR_ABORTED, ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2, SYN_RECEIVED, SYN_SENT,
    TIME_WAIT,
};
use crate::wire::ip::{self, PROTO_TCP};
use crate::wire::tcp::{self, Options, ACK, FIN, PSH, RST, SYN};

/// What one segment is: sequence number, flags, data bytes (from the send queue at `seq`).
#[derive(Clone, Copy)]
struct SegOut {
    seq: u32,
    flags: u8,
    len: usize,
}

/// Writes the IP and TCP headers of a segment `local` → `remote` in `slot` (IP at
/// `HEADROOM`), the data (`data_len` bytes) already after them, and the checksum. Returns the
/// IP length, or 0 if the slot is too short.
#[allow(clippy::too_many_arguments)]
fn write_segment(
    slot: &mut [u8],
    local: &SockAddr,
    remote: &SockAddr,
    seq: u32,
    ack: u32,
    flags: u8,
    window: u16,
    opts: &Options,
    data_len: usize,
) -> usize {
    let ip_hl = if local.family == 4 { ip::V4_HEADER_LEN } else { ip::V6_HEADER_LEN };
    let tcp_hl = tcp::MIN_HEADER + opts.len();
    let total = ip_hl + tcp_hl + data_len;
    let l4_at = HEADROOM + ip_hl;
    if slot.len() < HEADROOM + total {
        return 0;
    }
    let l4 = &mut slot[l4_at..HEADROOM + total];
    {
        let mut h = tcp::Header::new_unchecked(&mut l4[..]);
        h.set_src_port(local.port);
        h.set_dst_port(remote.port);
        h.set_seq(seq);
        h.set_ack(ack);
        h.set_header_len(tcp_hl);
        h.set_flags(flags);
        h.set_window(window);
        h.set_checksum([0, 0]);
        h.set_urgent(0);
    }
    opts.write(&mut l4[tcp::MIN_HEADER..tcp_hl]);
    let c = l4_checksum(local.ip(), remote.ip(), PROTO_TCP, l4);
    tcp::Header::new_unchecked(&mut l4[..]).set_checksum(c);
    ip::write_header(&mut slot[HEADROOM..], local.ip(), remote.ip(), PROTO_TCP, tcp_hl + data_len);
    total
}

/// A RST (or RST+ACK) `local` → `remote` written over the segment in slot `off`, queued for
/// output. False if the output ring is full (nothing written).
#[allow(clippy::too_many_arguments)]
pub fn reset_in_place<'m, S: Slots<'m>>(
    net: &mut Netstack,
    slots: &mut S,
    off: u32,
    local: &SockAddr,
    remote: &SockAddr,
    seq: u32,
    ack: u32,
    flags: u8,
) -> bool {
    let slot = match slots.get(off) {
        Some(s) if !net.pending.full() => s,
        _ => return false,
    };
    let total = write_segment(slot, local, remote, seq, ack, flags, 0, &Options::default(), 0);
    if total == 0 {
        return false;
    }
    net.pending.push(off, total);
    net.stats.rsts_sent += 1;
    net.stats.tcp_out += 1;
    true
}

/// Copies `dst.len()` bytes of the send queue from sequence number `seq` into `dst`,
/// starting from the cached cursor when it is at or before `seq`, and leaves the cursor
/// after them. False if the queue does not hold them.
fn copy_from_tx<'m, S: Slots<'m>>(t: &mut Tcb, slots: &S, seq: u32, dst: &mut [u8]) -> bool {
    let cursor_ok = t.tx_cur_slot != 0 && before_eq(t.tx_cur_seq, seq) && before_eq(t.snd_una, t.tx_cur_seq);
    let (mut at, mut pos, mut cur) =
        if cursor_ok { (t.tx_cur_slot, t.tx_cur_pos, t.tx_cur_seq) } else { (t.tx.head, t.tx.skip, t.snd_una) };
    let mut guard = t.tx.slots + 1;
    // Walk to `seq`.
    loop {
        if at == 0 || guard == 0 {
            return false;
        }
        let m = super::queue::meta(slots, at);
        let left = m.len.saturating_sub(pos);
        let need = seq.wrapping_sub(cur);
        if need < left || (need == 0 && dst.is_empty()) {
            pos += need;
            break;
        }
        cur = cur.wrapping_add(left);
        pos = 0;
        at = m.next;
        guard -= 1;
    }
    // Copy.
    let mut done = 0;
    while done < dst.len() {
        if at == 0 || guard == 0 {
            return false;
        }
        let m = super::queue::meta(slots, at);
        let src = match slots.get(at) {
            Some(s) => s,
            None => return false,
        };
        let n = (m.len.saturating_sub(pos) as usize).min(dst.len() - done);
        let from = (m.start + pos) as usize;
        match src.get(from..from + n) {
            Some(s) => dst[done..done + n].copy_from_slice(s),
            None => return false,
        }
        done += n;
        pos += n as u32;
        if pos >= m.len && done < dst.len() {
            at = m.next;
            pos = 0;
            guard -= 1;
        }
    }
    t.tx_cur_slot = at;
    t.tx_cur_pos = pos;
    t.tx_cur_seq = seq.wrapping_add(dst.len() as u32);
    true
}

/// Makes and sends one segment of connection `t`. False if there is no room or no slot.
#[allow(clippy::too_many_arguments)]
fn emit<'m, S: Slots<'m>, O: Out>(
    cfg: &Config,
    stats: &mut Stats,
    drops: &mut Drops,
    t: &mut Tcb,
    slots: &mut S,
    out: &mut O,
    s: SegOut,
    now: u32,
) -> bool {
    if out.full() {
        return false;
    }
    let mut opts = Options::default();
    let syn = s.flags & SYN != 0;
    if syn {
        opts.mss = cfg.mss(t.local.family);
    }
    let offer = syn && s.flags & ACK == 0;
    if offer || (syn && t.has(flag::WSCALE)) {
        opts.wscale = Some(t.rcv_wscale);
    }
    opts.sack_permitted = offer || (syn && t.has(flag::SACK_OK));
    if (offer || t.has(flag::TIMESTAMPS)) && s.flags & RST == 0 {
        opts.timestamp = Some((now.wrapping_add(t.ts_offset), if offer { 0 } else { t.ts_recent }));
    }
    let (window, right) = if syn {
        let w = cfg.rcv_buf.min(u16::MAX as u32);
        (w as u16, t.rcv_nxt.wrapping_add(w))
    } else {
        reassembly::window(t, cfg.rcv_buf)
    };
    if t.has(flag::SACK_OK) && t.ooo.head != 0 && s.flags & ACK != 0 && !syn {
        let max = if opts.timestamp.is_some() { 3 } else { tcp::MAX_SACK };
        let (blocks, n) = reassembly::sack_blocks(t, slots, max);
        opts.sack = blocks;
        opts.sack_len = n;
    }
    let ip_hl = if t.local.family == 4 { ip::V4_HEADER_LEN } else { ip::V6_HEADER_LEN };
    let hdrs = ip_hl + tcp::MIN_HEADER + opts.len();
    let (off, slot) = match slots.take(hdrs + s.len) {
        Some(x) => x,
        None => {
            drops.count(E_EXHAUSTED);
            return false;
        }
    };
    let data_at = HEADROOM + hdrs;
    if s.len > 0 && !copy_from_tx(t, slots, s.seq, &mut slot[data_at..data_at + s.len]) {
        slots.free(off);
        return false;
    }
    let ack = if s.flags & ACK != 0 { t.rcv_nxt } else { 0 };
    let (local, remote) = (t.local, t.remote);
    let total = write_segment(slot, &local, &remote, s.seq, ack, s.flags, window, &opts, s.len);
    if total == 0 {
        slots.free(off);
        return false;
    }
    out.push(off, total);
    stats.tcp_out += 1;
    if s.flags & ACK != 0 {
        t.last_ack_sent = t.rcv_nxt;
        t.flags &= !(flag::ACK_NOW | flag::DELACK | flag::WINDOW_UPDATE);
        t.unacked_segs = 0;
        if before(t.rcv_adv, right) || syn {
            t.rcv_adv = right;
        }
    }
    true
}

/// Everything connection `i` has to send now. False if `out` filled up first (the caller
/// queues it again).
pub fn tcp_output<'m, S: Slots<'m>, O: Out>(cx: &mut Ctx, slots: &mut S, out: &mut O, i: usize, now: u32) -> bool {
    let net = &mut *cx.net;
    let (cfg, stats) = (&net.cfg, &mut net.stats);
    let t = &mut cx.sk.tcp[i];
    match t.state {
        CLOSED => true,
        SYN_SENT | SYN_RECEIVED => {
            let flags = if t.state == SYN_SENT { SYN } else { SYN | ACK };
            if t.snd_nxt != t.iss && !t.has(flag::ACK_NOW) {
                return true;
            }
            if !emit(cfg, stats, cx.drops, t, slots, out, SegOut { seq: t.iss, flags, len: 0 }, now) {
                return false;
            }
            if t.snd_nxt == t.iss && t.retries == 0 && !t.has(flag::RTT) {
                t.flags |= flag::RTT;
                t.rtt_seq = t.iss;
                t.rtt_at = now;
            }
            t.snd_nxt = t.iss.wrapping_add(1);
            t.snd_max = t.snd_nxt;
            if !t.has(flag::RTO_ON) {
                rto::arm_rto(net, t, now);
            }
            true
        }
        TIME_WAIT => {
            !t.has(flag::ACK_NOW)
                || emit(cfg, stats, cx.drops, t, slots, out, SegOut { seq: t.snd_nxt, flags: ACK, len: 0 }, now)
        }
        _ => data(cx, slots, out, i, now),
    }
}

/// Data, FIN and ACKs of a synchronized connection.
fn data<'m, S: Slots<'m>, O: Out>(cx: &mut Ctx, slots: &mut S, out: &mut O, i: usize, now: u32) -> bool {
    let net = &mut *cx.net;
    let t = &mut cx.sk.tcp[i];
    let opt_len = if t.has(flag::TIMESTAMPS) { 12 } else { 0 };
    let mss = (t.snd_mss as u32).saturating_sub(opt_len).max(1);
    let data_end = t.snd_una.wrapping_add(t.tx.bytes);
    let fin_flag = |t: &Tcb, end: u32| if t.has(flag::FIN_QUEUED) && end == data_end { FIN } else { 0 };
    if t.has(flag::RETRANSMIT) {
        t.flags &= !flag::RETRANSMIT;
        let len = data_end.wrapping_sub(t.snd_una).min(mss);
        let flags = ACK | fin_flag(t, t.snd_una.wrapping_add(len));
        if len > 0 || flags & FIN != 0 {
            let s = SegOut { seq: t.snd_una, flags, len: len as usize };
            if !emit(&net.cfg, &mut net.stats, cx.drops, t, slots, out, s, now) {
                t.flags |= flag::RETRANSMIT;
                return false;
            }
            net.stats.retransmits += 1;
            if before(t.snd_una, t.rtt_seq.wrapping_add(1)) {
                t.flags &= !flag::RTT; // Karn
            }
        }
    }
    loop {
        let avail = if before(t.snd_nxt, data_end) { data_end.wrapping_sub(t.snd_nxt) } else { 0 };
        let fin_due = t.has(flag::FIN_QUEUED) && t.snd_nxt == data_end && !t.has(flag::FIN_ACKED);
        if avail == 0 && !fin_due {
            break;
        }
        let flight = t.snd_nxt.wrapping_sub(t.snd_una);
        let usable = t.snd_wnd.min(super::congestion::send_window(t)).saturating_sub(flight);
        let mut len = avail.min(mss).min(usable);
        if avail > 0 && len == 0 && t.has(flag::PROBE) {
            len = 1;
        }
        t.flags &= !flag::PROBE;
        if avail > 0 && len == 0 {
            if t.snd_wnd == 0 && flight == 0 && !t.has(flag::RTO_ON) {
                rto::arm_persist(net, t, now);
            }
            break;
        }
        // Silly window avoidance (RFC 9293 §3.8.6.2.1): no short segment while data is in
        // flight and more is waiting.
        if len < mss && len < avail && flight > 0 {
            break;
        }
        let fin = fin_flag(t, t.snd_nxt.wrapping_add(len));
        if len == 0 && fin == 0 {
            break;
        }
        let psh = if len > 0 && len == avail { PSH } else { 0 };
        let s = SegOut { seq: t.snd_nxt, flags: ACK | psh | fin, len: len as usize };
        if !emit(&net.cfg, &mut net.stats, cx.drops, t, slots, out, s, now) {
            return false;
        }
        if before(t.snd_nxt, t.snd_max) {
            net.stats.retransmits += 1;
        } else if !t.has(flag::TIMESTAMPS) && !t.has(flag::RTT) && len > 0 {
            t.flags |= flag::RTT;
            t.rtt_seq = t.snd_nxt;
            t.rtt_at = now;
        }
        t.snd_nxt = t.snd_nxt.wrapping_add(len + (fin != 0) as u32);
        if before(t.snd_max, t.snd_nxt) {
            t.snd_max = t.snd_nxt;
        }
        if !t.has(flag::RTO_ON) {
            rto::arm_rto(net, t, now);
        }
    }
    if t.has(flag::KA_PROBE) {
        // A keepalive probe: one below SND.NXT, so the peer answers with an ACK.
        t.flags &= !flag::KA_PROBE;
        let s = SegOut { seq: t.snd_nxt.wrapping_sub(1), flags: ACK, len: 0 };
        if !emit(&net.cfg, &mut net.stats, cx.drops, t, slots, out, s, now) {
            t.flags |= flag::KA_PROBE;
            return false;
        }
        net.stats.keepalives += 1;
    }
    if t.has(flag::ACK_NOW) || t.has(flag::WINDOW_UPDATE) {
        let s = SegOut { seq: t.snd_nxt, flags: ACK, len: 0 };
        return emit(&net.cfg, &mut net.stats, cx.drops, t, slots, out, s, now);
    }
    true
}

/// A RST for connection `i` (through the output ring), which is then over (ERR_ABORTED).
/// Only SYN-RECEIVED to CLOSE-WAIT get one (RFC 9293 §3.10.5).
pub fn reset_conn<'m, S: Slots<'m>>(cx: &mut Ctx, slots: &mut S, i: usize, now: u32) {
    reset_conn_with(cx, slots, i, now, ERR_ABORTED);
}

/// `reset_conn`, the connection over with `err`.
pub fn reset_conn_with<'m, S: Slots<'m>>(cx: &mut Ctx, slots: &mut S, i: usize, now: u32, err: u8) {
    let net = &mut *cx.net;
    let t = &mut cx.sk.tcp[i];
    if matches!(t.state, SYN_RECEIVED | ESTABLISHED | FIN_WAIT_1 | FIN_WAIT_2 | CLOSE_WAIT) {
        let s = SegOut { seq: t.snd_nxt, flags: RST | ACK, len: 0 };
        if emit(&net.cfg, &mut net.stats, cx.drops, t, slots, &mut net.pending, s, now) {
            net.stats.rsts_sent += 1;
        }
    }
    conn::finish(cx, slots, i, err);
}
