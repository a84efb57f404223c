//! The user calls of RFC 9293 §3.10.1-3.10.6 over the connection table: OPEN (listen,
//! accept, connect), SEND (a slot of data handed over), RECEIVE (the queued data listed where
//! it lies, then consumed), CLOSE (a FIN after the data), ABORT (a RST), and release (the
//! user lets go of the handle: an orderly close continues without it, or a RST if data was
//! left unread), with the readiness and the counters TypeScript sees.

use super::queue::{self, Meta};
use super::{before, congestion, conn, output, ready, reassembly, rto, tcb, Ctx, Slots};
use crate::consts::{NET_TCP_INFO_LEN, SLOT_SIZE};
use crate::errors::*;
use crate::tables::sockets::KIND_TCP;
use crate::tables::tcb::{
    flag, SockAddr, CLOSED, CLOSE_WAIT, ERR_ABORTED, ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2, LAST_ACK, SYN_RECEIVED,
    SYN_SENT, TIME_WAIT,
};

/// First ephemeral port and how many there are (RFC 6335 §6).
const EPHEMERAL_FIRST: u16 = 49152;
const EPHEMERAL_COUNT: u32 = 16384;

/// Readiness of connection `i` (`ready::*`).
pub fn readiness(cx: &Ctx, i: usize) -> u32 {
    let t = &cx.sk.tcp[i];
    let mut r = 0;
    if t.rx.bytes > 0 || t.has(flag::RX_FIN) || t.state == CLOSED {
        r |= ready::READABLE;
    }
    if matches!(t.state, ESTABLISHED | CLOSE_WAIT) && !t.has(flag::FIN_QUEUED) && t.tx.bytes < cx.net.cfg.snd_buf {
        r |= ready::WRITABLE;
    }
    if t.has(flag::SYNCED) {
        r |= ready::CONNECTED;
    }
    if t.has(flag::RX_FIN) {
        r |= ready::EOF;
    }
    if t.state == CLOSED || t.state == TIME_WAIT {
        r |= ready::CLOSED;
    }
    if t.error != 0 {
        r |= ready::ERROR;
    }
    r
}

/// Active OPEN to `remote` from `local` (address unspecified: the stack's first of the
/// family; port 0: an ephemeral one, RFC 6056 algorithm 3). The SYN goes at the next output.
pub fn connect<'m, S: Slots<'m>>(
    cx: &mut Ctx,
    slots: &mut S,
    remote: SockAddr,
    mut local: SockAddr,
    now: u32,
) -> Result<usize, i32> {
    if !matches!(remote.family, 4 | 6) || remote.port == 0 || remote.is_unspecified() {
        return Err(E_BAD_ARG);
    }
    if local.family != remote.family && local.family != 0 {
        return Err(E_BAD_ARG);
    }
    local.family = remote.family;
    if local.is_unspecified() {
        let port = local.port;
        local = cx.net.cfg.first_addr(remote.family).ok_or(E_BAD_ARG)?;
        local.port = port;
    } else if !cx.net.cfg.is_local(local.family, &local.addr) {
        return Err(E_BAD_ARG);
    }
    if local.port == 0 {
        local.port = ephemeral_port(cx, &local, &remote)?;
    } else if cx.sk.tcp_find(&local, &remote).is_some() {
        return Err(E_ADDR_IN_USE);
    }
    let i = tcb::new_tcb(cx, slots, local, remote, now).ok_or(E_TABLE_FULL)?;
    let t = &mut cx.sk.tcp[i];
    t.state = SYN_SENT;
    t.flags |= flag::ATTACHED;
    tcb::init_send(cx.net, t, now);
    congestion::init(t);
    cx.sk.mark_dirty(i);
    Ok(i)
}

fn ephemeral_port(cx: &mut Ctx, local: &SockAddr, remote: &SockAddr) -> Result<u16, i32> {
    let h = cx.net.cfg.keyed(&[b"tcp port", &local.record(), &remote.record()]);
    let base = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
    for k in 0..EPHEMERAL_COUNT {
        let n = base.wrapping_add(cx.net.port_counter).wrapping_add(k);
        let cand = SockAddr { port: EPHEMERAL_FIRST + (n % EPHEMERAL_COUNT) as u16, ..*local };
        if cx.sk.tcp_find(&cand, remote).is_none() && cx.sk.listener_find(cand.family, &cand.addr, cand.port).is_none()
        {
            cx.net.port_counter = cx.net.port_counter.wrapping_add(k + 1);
            return Ok(cand.port);
        }
    }
    Err(E_ADDR_IN_USE)
}

/// Passive OPEN: a listener on `local` (address unspecified: all of the family's) taking up
/// to `backlog` connections not yet accepted.
pub fn listen(cx: &mut Ctx, local: SockAddr, backlog: u32) -> Result<usize, i32> {
    if !matches!(local.family, 4 | 6) || local.port == 0 || backlog == 0 {
        return Err(E_BAD_ARG);
    }
    if !local.is_unspecified() && !cx.net.cfg.is_local(local.family, &local.addr) {
        return Err(E_BAD_ARG);
    }
    cx.sk.listen(local, backlog.min(u16::MAX as u32) as u16)
}

/// Closes listener `l`: the connections it has not handed out are reset.
pub fn unlisten<'m, S: Slots<'m>>(cx: &mut Ctx, slots: &mut S, l: usize, now: u32) {
    for i in 0..cx.sk.tcp_ids.high() {
        let t = &cx.sk.tcp[i];
        if t.used && t.listener as usize == l + 1 {
            output::reset_conn(cx, slots, i, now);
        }
    }
    cx.sk.listeners[l].used = false;
}

/// The oldest established connection of listener `l`, now the user's (E_AGAIN: none).
pub fn accept(cx: &mut Ctx, l: usize) -> Result<usize, i32> {
    let head = cx.sk.listeners[l].accept_head;
    if head == 0 {
        return Err(E_AGAIN);
    }
    let i = head as usize - 1;
    conn::detach_from_listener(cx, i);
    cx.sk.tcp[i].flags |= flag::ATTACHED;
    cx.sk.notify(KIND_TCP, i);
    Ok(i)
}

/// SEND: the `len` bytes at `data_off` of slot `off` join the send queue (the slot is the
/// stack's on success: small data is copied into the queue's last slot and the slot freed).
/// E_NOT_CONNECTED if the connection cannot send (closed for sending, over); E_AGAIN if its
/// send buffer is full (an event says when there is room); E_BAD_ARG for data outside the
/// slot (it must start after the slot's first `META_LEN` bytes).
pub fn send<'m, S: Slots<'m>>(
    cx: &mut Ctx,
    slots: &mut S,
    i: usize,
    off: u32,
    data_off: usize,
    len: usize,
) -> Result<usize, i32> {
    let snd_buf = cx.net.cfg.snd_buf;
    let t = &mut cx.sk.tcp[i];
    let open = matches!(t.state, SYN_SENT | SYN_RECEIVED | ESTABLISHED | CLOSE_WAIT);
    if !open || t.has(flag::FIN_QUEUED) {
        return Err(E_NOT_CONNECTED);
    }
    let size = slots.get(off).map_or(0, |s| s.len());
    let outside = data_off.checked_add(len).map_or(true, |end| end > size);
    if len == 0 || len > u16::MAX as usize || data_off < queue::META_LEN || outside {
        return Err(E_BAD_ARG);
    }
    // Bytes, and the slots holding them (small writes each in a large slot would hold far
    // more memory than their bytes).
    if t.tx.bytes >= snd_buf || t.tx.mem >= snd_buf.saturating_mul(2).saturating_add(32 * SLOT_SIZE as u32) {
        t.flags |= flag::WANT_WRITE;
        return Err(E_AGAIN);
    }
    let m = Meta::new(0, data_off, len, false);
    if !queue::append(&mut t.tx, slots, off, m, reassembly::COPY_MAX) {
        slots.free(off);
    }
    cx.sk.mark_dirty(i);
    Ok(len)
}

/// RECEIVE, without taking: the in-order data as (slot, offset in the slot, length), oldest
/// first, to `f` until it returns false. Returns how many pieces were listed; 0 at the end
/// of the data (the peer's FIN, or a connection that closed); E_AGAIN if none yet.
pub fn recv<'m, S: Slots<'m>>(
    cx: &Ctx,
    slots: &S,
    i: usize,
    mut f: impl FnMut(u32, u32, u32) -> bool,
) -> Result<usize, i32> {
    let t = &cx.sk.tcp[i];
    if t.rx.head == 0 {
        return if t.has(flag::RX_FIN) || t.state == CLOSED { Ok(0) } else { Err(E_AGAIN) };
    }
    let (mut at, mut skip, mut n) = (t.rx.head, t.rx.skip, 0);
    let mut guard = t.rx.slots;
    while at != 0 && guard > 0 {
        let m = queue::meta(slots, at);
        if m.len > skip {
            n += 1;
            if !f(at, m.start + skip, m.len - skip) {
                break;
            }
        }
        at = m.next;
        skip = 0;
        guard -= 1;
    }
    Ok(n)
}

/// The reader is done with `n` bytes (at most what is queued): their slots go back, and the
/// window opens (an update is sent when it opened enough). Returns the bytes consumed.
pub fn consume<'m, S: Slots<'m>>(cx: &mut Ctx, slots: &mut S, i: usize, n: u32) -> u32 {
    let rcv_buf = cx.net.cfg.rcv_buf;
    let t = &mut cx.sk.tcp[i];
    let n = n.min(t.rx.bytes);
    queue::consume(&mut t.rx, slots, n, |_| {});
    if matches!(t.state, ESTABLISHED | FIN_WAIT_1 | FIN_WAIT_2) && reassembly::window_update_due(t, rcv_buf) {
        t.flags |= flag::WINDOW_UPDATE;
        cx.sk.mark_dirty(i);
    }
    n
}

/// CLOSE for sending (the user's closeWrite): a FIN after the queued data. Before the
/// handshake completes the FIN waits for it.
pub fn shutdown(cx: &mut Ctx, i: usize) -> Result<(), i32> {
    let t = &mut cx.sk.tcp[i];
    if t.has(flag::FIN_QUEUED) {
        return Ok(());
    }
    match t.state {
        ESTABLISHED => t.state = FIN_WAIT_1,
        CLOSE_WAIT => t.state = LAST_ACK,
        SYN_SENT | SYN_RECEIVED => {}
        _ => return Err(E_NOT_CONNECTED),
    }
    t.flags |= flag::FIN_QUEUED;
    cx.sk.mark_dirty(i);
    Ok(())
}

/// ABORT: a RST if the connection is synchronized; it is over (ERR_ABORTED), its data gone.
pub fn abort<'m, S: Slots<'m>>(cx: &mut Ctx, slots: &mut S, i: usize, now: u32) {
    if cx.sk.tcp[i].state != CLOSED {
        output::reset_conn(cx, slots, i, now);
    }
}

/// The user lets go of connection `i`. A closed one is freed; one with data left unread is
/// reset (as Linux does); otherwise the close goes on without the user (a FIN if none was
/// queued), bounded by the timers.
pub fn release<'m, S: Slots<'m>>(cx: &mut Ctx, slots: &mut S, i: usize, now: u32) {
    let t = &mut cx.sk.tcp[i];
    t.flags &= !(flag::ATTACHED | flag::WANT_WRITE);
    match t.state {
        CLOSED => {
            queue::clear(&mut t.rx, slots);
            cx.sk.tcp_free(i);
        }
        SYN_SENT => conn::finish(cx, slots, i, ERR_ABORTED),
        TIME_WAIT => queue::clear(&mut t.rx, slots),
        _ if t.rx.bytes > 0 => output::reset_conn(cx, slots, i, now),
        _ => {
            queue::clear(&mut t.rx, slots);
            let _ = shutdown(cx, i);
            let t = &mut cx.sk.tcp[i];
            if t.state == FIN_WAIT_2 && !t.has(flag::RTO_ON) {
                rto::arm_for(cx.net, t, now, rto::FIN_WAIT_2_MS);
            }
        }
    }
}

/// The stack ends (the tunnel closes): listeners closed, every connection over (a RST to the
/// peer of a synchronized one, queued in `pending` for the last output), every datagram and
/// segment held given back, all sockets freed. Handles TypeScript still holds go stale.
pub fn close_all<'m, S: Slots<'m>>(cx: &mut Ctx, slots: &mut S, now: u32) {
    for l in 0..cx.sk.listeners.len() {
        if cx.sk.listeners[l].used {
            unlisten(cx, slots, l, now);
        }
    }
    for i in 0..cx.sk.tcp_ids.high() {
        if !cx.sk.tcp[i].used {
            continue;
        }
        cx.sk.tcp[i].flags &= !flag::ATTACHED; // finish frees what no user holds
        output::reset_conn(cx, slots, i, now);
        let t = &mut cx.sk.tcp[i];
        if t.used {
            // TIME-WAIT, or CLOSED and kept for the user: what it still holds, then the entry.
            queue::clear(&mut t.rx, slots);
            queue::clear(&mut t.tx, slots);
            queue::clear(&mut t.ooo, slots);
            cx.sk.tcp_free(i);
        }
    }
    for u in 0..cx.sk.udp_ids.high() {
        if cx.sk.udp[u].used {
            super::udp::close(cx, slots, u);
        }
    }
}

/// `ts_netstack_tcp_info`: state, error, readiness, send MSS, SRTT, RTTVAR, RTO (ms), cwnd,
/// ssthresh, send window, receive window, bytes queued to send, bytes received unread, bytes
/// acknowledged, bytes received, retransmissions in a row.
pub fn info(cx: &Ctx, i: usize) -> [f64; NET_TCP_INFO_LEN] {
    let t = &cx.sk.tcp[i];
    let synced = t.has(flag::SYNCED);
    let acked = if synced { t.snd_una.wrapping_sub(t.iss).wrapping_sub(1) } else { 0 };
    let received = if synced { t.rcv_nxt.wrapping_sub(t.irs).wrapping_sub(1 + t.has(flag::RX_FIN) as u32) } else { 0 };
    let rcv_wnd = if before(t.rcv_nxt, t.rcv_adv) { t.rcv_adv.wrapping_sub(t.rcv_nxt) } else { 0 };
    [
        t.state as f64,
        t.error as f64,
        readiness(cx, i) as f64,
        t.snd_mss as f64,
        (t.srtt >> 3) as f64,
        (t.rttvar >> 2) as f64,
        t.rto as f64,
        t.cwnd as f64,
        t.ssthresh.min(u32::MAX >> 1) as f64,
        t.snd_wnd as f64,
        rcv_wnd as f64,
        t.tx.bytes as f64,
        t.rx.bytes as f64,
        acked as f64,
        received as f64,
        t.retries as f64,
    ]
}
