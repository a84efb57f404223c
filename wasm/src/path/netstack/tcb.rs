//! TCP segment arrival, RFC 9293 §3.10.7: a segment for no connection (answered with a RST
//! unless it is one, or a SYN a listener takes), for a connection in SYN-SENT, and for a
//! synchronized one: sequence check (with PAWS, RFC 7323 §5), RST and SYN (RFC 5961's
//! challenge ACKs), ACK (send window, RTT, congestion control, FIN acknowledged), text and
//! FIN. The state changes it shares with the user calls and the timers are `conn.rs`.

use super::{before, before_eq, congestion, conn, output, queue, reassembly, rto, Ctx, Fate, Ip, Netstack, Slots};
use crate::errors::*;
use crate::tables::sockets::{KIND_LISTENER, KIND_TCP};
use crate::tables::tcb::{
    flag, SockAddr, Tcb, CLOSE_WAIT, CLOSING, ERR_NONE, ERR_REFUSED, ERR_RESET, ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2,
    LAST_ACK, SYN_RECEIVED, SYN_SENT, TIME_WAIT,
};
use crate::wire::tcp::{self, Options, ACK, FIN, RST, SYN};

/// The MSS assumed when a SYN carries none (RFC 9293 §3.7.1; RFC 8200 §5 for IPv6).
pub const DEFAULT_MSS_V4: u16 = 536;
pub const DEFAULT_MSS_V6: u16 = 1220;
/// Smallest MSS we send with, whatever a peer announces (room for data after options).
pub const MIN_MSS: u16 = 64;

/// An arriving segment's header, copied out of its slot; the data stays there.
#[derive(Clone, Copy)]
pub struct Seg {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub wnd: u16,
    pub opts: Options,
    /// Where the data starts in the slot, and its length.
    pub data_at: usize,
    pub data_len: usize,
}

impl Seg {
    pub fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }
    /// SEG.LEN: data, SYN and FIN.
    pub fn seg_len(&self) -> u32 {
        self.data_len as u32 + self.has(SYN) as u32 + self.has(FIN) as u32
    }
}

/// The segment in `slot` (IP at `HEADROOM`), checked: header length, checksum, options.
fn parse(ip: &Ip, slot: &[u8]) -> Result<Seg, i32> {
    let l4 = &slot[ip.l4_at()..ip.l4_at() + ip.l4_len()];
    let h = tcp::Header::new_checked(l4)?;
    if !ip.l4_checksum_ok(l4) {
        return Err(E_CHECKSUM);
    }
    let opts = Options::parse(h.options())?;
    Ok(Seg {
        src_port: h.src_port(),
        dst_port: h.dst_port(),
        seq: h.seq(),
        ack: h.ack(),
        flags: h.flags(),
        wnd: h.window(),
        opts,
        data_at: ip.l4_at() + h.header_len(),
        data_len: l4.len() - h.header_len(),
    })
}

/// A TCP segment to the stack.
pub fn input<'m, S: Slots<'m>>(cx: &mut Ctx, slots: &mut S, off: u32, slot: &'m mut [u8], ip: &Ip, now: u32) -> Fate {
    let seg = match parse(ip, slot) {
        Ok(s) => s,
        Err(code) => return Fate::Dropped(code),
    };
    let (local, remote) = match (SockAddr::new(ip.dst(), seg.dst_port), SockAddr::new(ip.src(), seg.src_port)) {
        (Some(l), Some(r)) => (l, r),
        _ => return Fate::Dropped(E_BAD_ARG),
    };
    cx.net.stats.tcp_in += 1;
    match cx.sk.tcp_find(&local, &remote) {
        Some(i) if cx.sk.tcp[i].state == SYN_SENT => syn_sent(cx, slots, i, off, &seg, now),
        Some(i) => synchronized(cx, slots, i, off, seg, now),
        None => unconnected(cx, slots, off, &seg, &local, &remote, now),
    }
}

/// RFC 9293 §3.10.7.1: the reset for a segment that has no connection (never for a RST).
fn answer_reset<'m, S: Slots<'m>>(
    cx: &mut Ctx,
    slots: &mut S,
    off: u32,
    seg: &Seg,
    local: &SockAddr,
    remote: &SockAddr,
    code: i32,
) -> Fate {
    if seg.has(RST) {
        return Fate::Dropped(code);
    }
    let (seq, ack, flags) =
        if seg.has(ACK) { (seg.ack, 0, RST) } else { (0, seg.seq.wrapping_add(seg.seg_len()), RST | ACK) };
    if output::reset_in_place(cx.net, slots, off, local, remote, seq, ack, flags) {
        Fate::Answered(code)
    } else {
        Fate::Dropped(code)
    }
}

fn unconnected<'m, S: Slots<'m>>(
    cx: &mut Ctx,
    slots: &mut S,
    off: u32,
    seg: &Seg,
    local: &SockAddr,
    remote: &SockAddr,
    now: u32,
) -> Fate {
    if seg.has(SYN) && !seg.has(ACK) && !seg.has(RST) {
        if let Some(l) = cx.sk.listener_find(local.family, &local.addr, local.port) {
            return passive_open(cx, slots, l, seg, local, remote, now);
        }
    }
    answer_reset(cx, slots, off, seg, local, remote, E_NO_SOCKET)
}

/// A free connection entry for the flow, a TIME_WAIT one nobody holds reused if the table is
/// full.
pub fn new_tcb<'m, S: Slots<'m>>(
    cx: &mut Ctx,
    slots: &mut S,
    local: SockAddr,
    remote: SockAddr,
    now: u32,
) -> Option<usize> {
    if let Some(i) = cx.sk.tcp_new(local, remote) {
        return Some(i);
    }
    let old = cx.sk.tcp_reusable(now)?;
    conn::finish(cx, slots, old, ERR_NONE);
    cx.sk.tcp_new(local, remote)
}

/// Window shift for a receive buffer of `buf` bytes (RFC 7323 §2.3).
pub fn wscale_for(buf: u32) -> u8 {
    let mut s = 0;
    while s < tcp::MAX_WSCALE && buf >> s > u16::MAX as u32 {
        s += 1;
    }
    s
}

/// Initial send state: ISS per RFC 6528 (a keyed hash of the flow plus a 4 µs clock), the
/// timestamp offset, the initial RTO and our window shift.
pub fn init_send(net: &Netstack, t: &mut Tcb, now: u32) {
    let h = net.cfg.keyed(&[b"tcp isn", &t.local.record(), &t.remote.record()]);
    t.iss = u32::from_le_bytes([h[0], h[1], h[2], h[3]]).wrapping_add(now.wrapping_mul(250));
    t.ts_offset = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
    t.rtx_ts = now.wrapping_add(t.ts_offset);
    t.snd_una = t.iss;
    t.snd_nxt = t.iss;
    t.snd_max = t.iss;
    t.rto = rto::RTO_INITIAL;
    t.rcv_wscale = wscale_for(net.cfg.rcv_buf);
    let path = net.pmtu.mss(t.remote.family, &t.remote.addr, now).unwrap_or(u16::MAX);
    t.snd_mss = net.cfg.mss(t.local.family).min(path);
}

/// What the peer's SYN says: its MSS (ours, from the MTU or the path's, if smaller), window
/// scaling and timestamps if it offers them (we always offer both).
fn negotiate(t: &mut Tcb, seg: &Seg) {
    let theirs = match (seg.opts.mss, t.local.family) {
        (0, 4) => DEFAULT_MSS_V4,
        (0, _) => DEFAULT_MSS_V6,
        (m, _) => m,
    };
    t.snd_mss = t.snd_mss.min(theirs).max(MIN_MSS); // `init_send` set ours
    match seg.opts.wscale {
        Some(ws) => {
            t.flags |= flag::WSCALE;
            t.snd_wscale = ws;
        }
        None => {
            t.snd_wscale = 0;
            t.rcv_wscale = 0;
        }
    }
    if let Some((val, _)) = seg.opts.timestamp {
        t.flags |= flag::TIMESTAMPS;
        t.ts_recent = val;
    }
    if seg.opts.sack_permitted {
        t.flags |= flag::SACK_OK;
    }
    t.irs = seg.seq;
    t.rcv_nxt = seg.seq.wrapping_add(1);
    // The window of a SYN is never scaled (RFC 7323 §2.2).
    t.snd_wnd = seg.wnd as u32;
    t.snd_wl1 = seg.seq;
    t.snd_wl2 = seg.ack;
    congestion::init(t);
}

/// RFC 9293 §3.10.7.2: a SYN for a listener makes a connection in SYN-RECEIVED (its SYN-ACK
/// goes at the next output). Data on the SYN is not kept (the peer sends it again).
fn passive_open<'m, S: Slots<'m>>(
    cx: &mut Ctx,
    slots: &mut S,
    l: usize,
    seg: &Seg,
    local: &SockAddr,
    remote: &SockAddr,
    now: u32,
) -> Fate {
    if cx.sk.listeners[l].pending >= cx.sk.listeners[l].backlog {
        return Fate::Dropped(E_QUEUE_FULL);
    }
    let i = match new_tcb(cx, slots, *local, *remote, now) {
        Some(i) => i,
        None => return Fate::Dropped(E_QUEUE_FULL),
    };
    cx.sk.listeners[l].pending += 1;
    let t = &mut cx.sk.tcp[i];
    t.listener = l as u16 + 1;
    t.state = SYN_RECEIVED;
    init_send(cx.net, t, now);
    negotiate(t, seg);
    cx.sk.mark_dirty(i);
    Fate::Done
}

/// RFC 9293 §3.10.7.3.
fn syn_sent<'m, S: Slots<'m>>(cx: &mut Ctx, slots: &mut S, i: usize, off: u32, seg: &Seg, now: u32) -> Fate {
    let t = &cx.sk.tcp[i];
    let (local, remote) = (t.local, t.remote);
    if seg.has(ACK) && (before_eq(seg.ack, t.iss) || before(t.snd_max, seg.ack)) {
        return answer_reset(cx, slots, off, seg, &local, &remote, E_OUT_OF_WINDOW);
    }
    if seg.has(RST) {
        if !seg.has(ACK) {
            return Fate::Dropped(E_OUT_OF_WINDOW);
        }
        cx.net.stats.rsts_received += 1;
        conn::finish(cx, slots, i, ERR_REFUSED);
        return Fate::Done;
    }
    if !seg.has(SYN) {
        return Fate::Dropped(E_OUT_OF_WINDOW);
    }
    let t = &mut cx.sk.tcp[i];
    let timed = t.has(flag::RTT);
    negotiate(t, seg);
    if seg.has(ACK) {
        t.snd_una = seg.ack;
        let sample = rtt_of(t, seg, now).or(if timed { Some(now.wrapping_sub(t.rtt_at)) } else { None });
        if let Some(r) = sample {
            rto::rtt_sample(t, r);
        }
        t.flags &= !flag::RTT;
        rto::stop_rto(t);
        t.retries = 0;
        established(cx, i);
        cx.net.stats.active_opens += 1;
    } else {
        // Simultaneous open: our SYN again, with the ACK of theirs.
        t.state = SYN_RECEIVED;
        t.snd_nxt = t.iss;
    }
    let t = &mut cx.sk.tcp[i];
    t.flags |= flag::ACK_NOW;
    cx.sk.mark_dirty(i);
    Fate::Done
}

/// The handshake completed: ESTABLISHED (FIN-WAIT-1 if the user closed meanwhile), the
/// user or the listener told.
fn established(cx: &mut Ctx, i: usize) {
    let t = &mut cx.sk.tcp[i];
    t.state = if t.has(flag::FIN_QUEUED) { FIN_WAIT_1 } else { ESTABLISHED };
    t.flags |= flag::SYNCED;
    t.rcv_adv = t.rcv_nxt.wrapping_add(cx.net.cfg.rcv_buf.min(u16::MAX as u32));
    if t.listener != 0 {
        let l = t.listener as usize - 1;
        let lst = &mut cx.sk.listeners[l];
        match lst.accept_tail {
            0 => lst.accept_head = i as u16 + 1,
            tail => cx.sk.tcp[tail as usize - 1].accept_next = i as u16 + 1,
        }
        cx.sk.listeners[l].accept_tail = i as u16 + 1;
        cx.sk.notify(KIND_LISTENER, l);
        cx.net.stats.passive_opens += 1;
    } else {
        cx.sk.notify(KIND_TCP, i);
    }
}

/// An RTT sample from the segment's timestamp echo (RFC 7323 §4.1), if there is a sane one.
fn rtt_of(t: &Tcb, seg: &Seg, now: u32) -> Option<u32> {
    if !t.has(flag::TIMESTAMPS) {
        return None;
    }
    let (_, ecr) = seg.opts.timestamp?;
    let r = now.wrapping_add(t.ts_offset).wrapping_sub(ecr);
    if ecr == 0 || r > 2 * rto::RTO_MAX || before(ecr, t.rtx_ts) {
        None
    } else {
        Some(r)
    }
}

fn ack_now(cx: &mut Ctx, i: usize) {
    cx.sk.tcp[i].flags |= flag::ACK_NOW;
    cx.sk.mark_dirty(i);
}

/// RFC 9293 §3.10.7.4, SYN-RECEIVED and every later state.
fn synchronized<'m, S: Slots<'m>>(cx: &mut Ctx, slots: &mut S, i: usize, off: u32, mut seg: Seg, now: u32) -> Fate {
    let t = &mut cx.sk.tcp[i];
    // PAWS: with timestamps on, a segment without one or with an older value is stale.
    if t.has(flag::TIMESTAMPS) && !seg.has(RST) {
        match seg.opts.timestamp {
            Some((val, _)) if !before(val, t.ts_recent) => {}
            _ => {
                ack_now(cx, i);
                return Fate::Dropped(E_OUT_OF_WINDOW);
            }
        }
    }
    // First: the sequence number.
    let wnd = t.rcv_adv.wrapping_sub(t.rcv_nxt);
    let in_wnd = |s: u32| before_eq(t.rcv_nxt, s) && before(s, t.rcv_adv);
    let len = seg.seg_len();
    let ok = match (len, wnd) {
        (0, 0) => seg.seq == t.rcv_nxt,
        (0, _) => in_wnd(seg.seq),
        (_, 0) => false,
        _ => in_wnd(seg.seq) || in_wnd(seg.seq.wrapping_add(len - 1)),
    };
    if !ok {
        if wnd == 0 && seg.seq == t.rcv_nxt && !seg.has(SYN) {
            // A zero window still takes the ACK, RST and URG of a segment at RCV.NXT.
            seg.data_len = 0;
            seg.flags &= !FIN;
        } else {
            if t.state == TIME_WAIT && seg.has(FIN) {
                rto::arm_for(cx.net, t, now, rto::TIME_WAIT_MS);
            }
            if !seg.has(RST) {
                ack_now(cx, i);
            }
            return Fate::Dropped(E_OUT_OF_WINDOW);
        }
    }
    // Heard from the peer: keepalive's idle time starts again.
    t.last_rx = now;
    t.ka_probes = 0;
    if t.has(flag::TIMESTAMPS) && before_eq(seg.seq, t.last_ack_sent) {
        if let Some((val, _)) = seg.opts.timestamp {
            t.ts_recent = val; // RFC 7323 §4.3
        }
    }
    // Second: RST (RFC 5961 §3.2: only an exact one resets; one in the window is challenged).
    if seg.has(RST) {
        if seg.seq != t.rcv_nxt {
            ack_now(cx, i);
            return Fate::Dropped(E_OUT_OF_WINDOW);
        }
        cx.net.stats.rsts_received += 1;
        let err = if t.state == SYN_RECEIVED && t.listener == 0 { ERR_REFUSED } else { ERR_RESET };
        conn::finish(cx, slots, i, err);
        return Fate::Done;
    }
    // Fourth: a SYN in the window is challenged (RFC 5961 §4.2).
    if seg.has(SYN) {
        ack_now(cx, i);
        return Fate::Dropped(E_OUT_OF_WINDOW);
    }
    // Fifth: the ACK.
    if !seg.has(ACK) {
        return Fate::Dropped(E_OUT_OF_WINDOW);
    }
    if t.state == SYN_RECEIVED {
        if !(before(t.snd_una, seg.ack) && before_eq(seg.ack, t.snd_max)) {
            let (local, remote) = (t.local, t.remote);
            return answer_reset(cx, slots, off, &seg, &local, &remote, E_OUT_OF_WINDOW);
        }
        let timed = t.has(flag::RTT) && t.retries == 0;
        if let Some(r) = rtt_of(t, &seg, now).or(if timed { Some(now.wrapping_sub(t.rtt_at)) } else { None }) {
            rto::rtt_sample(t, r);
        }
        t.flags &= !flag::RTT;
        t.snd_una = t.iss.wrapping_add(1);
        t.snd_wnd = (seg.wnd as u32) << t.snd_wscale;
        t.snd_wl1 = seg.seq;
        t.snd_wl2 = seg.ack;
        t.retries = 0;
        rto::stop_rto(t);
        established(cx, i);
    }
    if let Some(f) = on_ack(cx, slots, i, &seg, now) {
        return f;
    }
    // Seventh: the text.
    let state = cx.sk.tcp[i].state;
    let mut kept = false;
    let mut fin = seg.has(FIN) && seg.data_len == 0 && seg.seq == cx.sk.tcp[i].rcv_nxt;
    if seg.data_len > 0 && matches!(state, ESTABLISHED | FIN_WAIT_1 | FIN_WAIT_2) {
        let t = &cx.sk.tcp[i];
        if !t.has(flag::ATTACHED) && t.listener == 0 {
            // Nobody will read it (RFC 9293 §3.10.4's close after the user is gone).
            output::reset_conn(cx, slots, i, now);
            return Fate::Dropped(E_NO_SOCKET);
        }
        let data =
            reassembly::Data { seq: seg.seq, start: seg.data_at as u32, len: seg.data_len as u32, fin: seg.has(FIN) };
        match reassembly::receive(cx, slots, i, off, &data, now) {
            Ok((k, f)) => {
                kept = k;
                fin = f;
            }
            Err(code) => return Fate::Dropped(code),
        }
    }
    // Eighth: the FIN.
    if fin && matches!(state, SYN_RECEIVED | ESTABLISHED | FIN_WAIT_1 | FIN_WAIT_2 | CLOSE_WAIT | CLOSING | LAST_ACK) {
        fin_received(cx, slots, i, now);
    }
    if kept {
        Fate::Kept
    } else {
        Fate::Done
    }
}

/// The ACK of a synchronized segment (§3.10.7.4 fifth). `Some` ends the segment's processing.
fn on_ack<'m, S: Slots<'m>>(cx: &mut Ctx, slots: &mut S, i: usize, seg: &Seg, now: u32) -> Option<Fate> {
    let t = &mut cx.sk.tcp[i];
    if before(t.snd_max, seg.ack) {
        ack_now(cx, i);
        return Some(Fate::Dropped(E_OUT_OF_WINDOW));
    }
    if before(t.snd_una, seg.ack) {
        ack_advance(cx, slots, i, seg, now);
    } else if seg.ack == t.snd_una
        && seg.data_len == 0
        && !seg.has(SYN | FIN)
        && t.snd_una != t.snd_max
        && (seg.wnd as u32) << t.snd_wscale == t.snd_wnd
    {
        if congestion::on_dupack(t) {
            t.flags |= flag::RETRANSMIT;
            cx.net.stats.fast_retransmits += 1;
        }
        cx.sk.mark_dirty(i);
    }
    let t = &mut cx.sk.tcp[i];
    if before(t.snd_wl1, seg.seq) || (t.snd_wl1 == seg.seq && before_eq(t.snd_wl2, seg.ack)) {
        let old = t.snd_wnd;
        t.snd_wnd = (seg.wnd as u32) << t.snd_wscale;
        t.snd_wl1 = seg.seq;
        t.snd_wl2 = seg.ack;
        if t.snd_wnd > 0 && (old == 0 || t.has(flag::PERSIST)) {
            if t.has(flag::PERSIST) {
                rto::stop_rto(t);
                if t.snd_una != t.snd_nxt {
                    rto::arm_rto(cx.net, t, now);
                }
            }
            cx.sk.mark_dirty(i);
        } else if t.snd_wnd > old {
            cx.sk.mark_dirty(i);
        }
    }
    let t = &mut cx.sk.tcp[i];
    if !t.has(flag::FIN_ACKED) {
        return None;
    }
    match t.state {
        FIN_WAIT_1 => {
            t.state = FIN_WAIT_2;
            if !t.has(flag::ATTACHED) && t.listener == 0 {
                rto::arm_for(cx.net, t, now, rto::FIN_WAIT_2_MS);
            }
            None
        }
        CLOSING => {
            conn::enter_time_wait(cx, slots, i, now);
            Some(Fate::Done)
        }
        LAST_ACK => {
            conn::finish(cx, slots, i, ERR_NONE);
            Some(Fate::Done)
        }
        _ => None,
    }
}

/// New data acknowledged: the send queue, RTT, congestion window, timer and writers.
fn ack_advance<'m, S: Slots<'m>>(cx: &mut Ctx, slots: &mut S, i: usize, seg: &Seg, now: u32) {
    let t = &mut cx.sk.tcp[i];
    let acked = seg.ack.wrapping_sub(t.snd_una);
    let data = acked.min(t.tx.bytes);
    if acked > t.tx.bytes && t.has(flag::FIN_QUEUED) {
        t.flags |= flag::FIN_ACKED;
    }
    let cur = &mut t.tx_cur_slot;
    queue::consume(&mut t.tx, slots, data, |off| {
        if off == *cur {
            *cur = 0;
        }
    });
    t.snd_una = seg.ack;
    if before(t.snd_nxt, t.snd_una) {
        t.snd_nxt = t.snd_una;
    }
    let sample = match rtt_of(t, seg, now) {
        Some(r) => Some(r),
        None if t.has(flag::RTT) && before(t.rtt_seq, seg.ack) => Some(now.wrapping_sub(t.rtt_at)),
        None => None,
    };
    if before(t.rtt_seq, seg.ack) {
        t.flags &= !flag::RTT;
    }
    if let Some(r) = sample {
        rto::rtt_sample(t, r);
    }
    t.retries = 0;
    if congestion::on_ack(t, acked, seg.ack) {
        t.flags |= flag::RETRANSMIT;
    }
    if t.snd_una == t.snd_max {
        rto::stop_rto(t);
    } else if !t.has(flag::PERSIST) {
        rto::arm_rto(cx.net, t, now);
    }
    if t.has(flag::WANT_WRITE) && t.tx.bytes < cx.net.cfg.snd_buf {
        t.flags &= !flag::WANT_WRITE;
        cx.sk.notify(KIND_TCP, i);
    }
    cx.sk.mark_dirty(i);
}

/// The peer's FIN, in order (§3.10.7.4 eighth).
fn fin_received<'m, S: Slots<'m>>(cx: &mut Ctx, slots: &mut S, i: usize, now: u32) {
    let t = &mut cx.sk.tcp[i];
    t.rcv_nxt = t.rcv_nxt.wrapping_add(1);
    t.flags |= flag::RX_FIN | flag::ACK_NOW;
    match t.state {
        SYN_RECEIVED | ESTABLISHED => t.state = CLOSE_WAIT,
        FIN_WAIT_1 if t.has(flag::FIN_ACKED) => conn::enter_time_wait(cx, slots, i, now),
        FIN_WAIT_1 => t.state = CLOSING,
        FIN_WAIT_2 => conn::enter_time_wait(cx, slots, i, now),
        _ => {}
    }
    cx.sk.mark_dirty(i);
    if cx.sk.tcp[i].listener == 0 {
        cx.sk.notify(KIND_TCP, i);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_shifts() {
        assert_eq!(wscale_for(65535), 0);
        assert_eq!(wscale_for(65536), 1);
        assert_eq!(wscale_for(256 << 10), 3);
        assert_eq!(wscale_for(u32::MAX), 14);
    }
}
