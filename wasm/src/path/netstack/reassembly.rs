//! Received TCP data (RFC 9293 §3.10.7.4 seventh): a segment's data, trimmed to what is new
//! and inside the window we advertised, is appended to the connection's receive queue where
//! it lies (in its own slot; a small one is copied into the queue's last slot instead), or,
//! if it starts beyond `RCV.NXT`, kept in the out-of-order queue (sorted, at most `OOO_MAX`
//! segments) until the hole before it fills. ACKs follow RFC 5681 §4.2 and RFC 9293
//! §3.8.6.3: every second full segment at once, else after the delayed-ACK time; at once for
//! anything out of order or filling a hole. With SACK, the ACKs tell which out-of-order data
//! is held (RFC 2018 §4: the block of the segment received last first).

use super::queue::{self, Meta};
use super::{before, before_eq, rto, Ctx, Slots};
use crate::consts::SLOT_SIZE;
use crate::errors::*;
use crate::tables::sockets::KIND_TCP;
use crate::tables::tcb::{flag, Tcb};
use crate::wire::tcp::MAX_SACK;

/// Out-of-order segments a connection keeps.
pub const OOO_MAX: u32 = 64;
/// Data of at most this many bytes is copied into the queue's last slot when it fits there,
/// so small segments do not hold a slot each.
pub const COPY_MAX: u32 = 1024;

/// Slot bytes a connection may hold for received data (in order and out of order) beyond
/// its receive buffer's data bytes: slots are not full of data.
fn mem_limit(rcv_buf: u32) -> u32 {
    rcv_buf.saturating_mul(2).saturating_add(32 * SLOT_SIZE as u32)
}

/// A segment's data: its sequence number, where it starts in the slot, its length, and
/// whether the FIN follows it.
pub struct Data {
    pub seq: u32,
    pub start: u32,
    pub len: u32,
    pub fin: bool,
}

/// The data `d` of a segment in slot `off`. Returns whether the slot was kept and whether
/// the peer's FIN is now reached in order; E_QUEUE_FULL if the data cannot be held (no
/// memory, the out-of-order queue full), E_OUT_OF_WINDOW if nothing of it is in the window.
pub fn receive<'m, S: Slots<'m>>(
    cx: &mut Ctx,
    slots: &mut S,
    i: usize,
    off: u32,
    d: &Data,
    now: u32,
) -> Result<(bool, bool), i32> {
    let rcv_buf = cx.net.cfg.rcv_buf;
    let t = &mut cx.sk.tcp[i];
    let (mut seq, mut start, mut len, mut fin) = (d.seq, d.start, d.len, d.fin);
    if before(seq, t.rcv_nxt) {
        let cut = t.rcv_nxt.wrapping_sub(seq);
        if cut >= len {
            // Nothing new: a duplicate (its FIN may still be the next thing).
            t.flags |= flag::ACK_NOW;
            let fin_now = fin && seq.wrapping_add(len) == t.rcv_nxt;
            cx.sk.mark_dirty(i);
            return Ok((false, fin_now));
        }
        seq = t.rcv_nxt;
        start += cut;
        len -= cut;
    }
    if before(t.rcv_adv, seq.wrapping_add(len)) {
        if !before(seq, t.rcv_adv) {
            return Err(E_OUT_OF_WINDOW);
        }
        len = t.rcv_adv.wrapping_sub(seq);
        fin = false;
    }
    let cost = queue::slot_len(slots, off);
    if t.rx.mem + t.ooo.mem + cost > mem_limit(rcv_buf) {
        t.flags |= flag::ACK_NOW;
        cx.sk.mark_dirty(i);
        return Err(E_QUEUE_FULL);
    }
    let m = Meta::new(seq, start as usize, len as usize, fin);
    if seq != t.rcv_nxt {
        let kept = insert_ooo(t, slots, off, m)?;
        t.flags |= flag::ACK_NOW;
        cx.sk.mark_dirty(i);
        return Ok((kept, false));
    }
    let kept = queue::append(&mut t.rx, slots, off, m, COPY_MAX);
    t.rcv_nxt = t.rcv_nxt.wrapping_add(len);
    let mut fin_now = fin;
    let filled = !fin && t.ooo.head != 0 && drain_ooo(t, slots, &mut fin_now);
    t.unacked_segs = t.unacked_segs.saturating_add(1);
    if filled || t.ooo.head != 0 || fin_now || t.unacked_segs >= 2 {
        t.flags |= flag::ACK_NOW;
        cx.sk.mark_dirty(i);
    } else {
        rto::arm_delack(cx.net, t, now);
    }
    cx.sk.notify(KIND_TCP, i);
    Ok((kept, fin_now))
}

/// Inserts a segment into the out-of-order queue, in sequence order. Returns whether the
/// slot was kept (not if the queue holds all of its data already).
fn insert_ooo<'m, S: Slots<'m>>(t: &mut Tcb, slots: &mut S, off: u32, mut m: Meta) -> Result<bool, i32> {
    if t.ooo.slots >= OOO_MAX {
        return Err(E_QUEUE_FULL);
    }
    let (mut prev, mut at) = (0u32, t.ooo.head);
    let mut guard = OOO_MAX + 1;
    while at != 0 && guard > 0 {
        let a = queue::meta(slots, at);
        if before_eq(a.seq, m.seq) && before_eq(m.end(), a.end()) {
            return Ok(false); // held already
        }
        if before(m.seq, a.seq) {
            break;
        }
        prev = at;
        at = a.next;
        guard -= 1;
    }
    m.next = at;
    t.sack_recent = m.seq;
    queue::set_meta(slots, off, &m);
    if prev == 0 {
        t.ooo.head = off;
    } else {
        let mut p = queue::meta(slots, prev);
        p.next = off;
        queue::set_meta(slots, prev, &p);
    }
    if at == 0 {
        t.ooo.tail = off;
    }
    t.ooo.bytes += m.len;
    t.ooo.slots += 1;
    t.ooo.mem += queue::slot_len(slots, off);
    Ok(true)
}

/// Moves the out-of-order segments that now continue the data into the receive queue.
/// Returns whether any did; sets `fin` if one ended with the FIN (what lies beyond it is
/// dropped).
fn drain_ooo<'m, S: Slots<'m>>(t: &mut Tcb, slots: &mut S, fin: &mut bool) -> bool {
    let mut moved = false;
    while t.ooo.head != 0 {
        let m = queue::meta(slots, t.ooo.head);
        if before(t.rcv_nxt, m.seq) {
            break;
        }
        let (off, m) = match queue::pop_front(&mut t.ooo, slots) {
            Some(x) => x,
            None => break,
        };
        if before_eq(m.end(), t.rcv_nxt) {
            slots.free(off);
            if m.fin && m.end() == t.rcv_nxt {
                *fin = true;
                break;
            }
            continue;
        }
        let cut = t.rcv_nxt.wrapping_sub(m.seq);
        let rest = Meta { next: 0, seq: t.rcv_nxt, start: m.start + cut, len: m.len - cut, fin: m.fin };
        if !queue::append(&mut t.rx, slots, off, rest, COPY_MAX) {
            slots.free(off);
        }
        t.rcv_nxt = m.end();
        moved = true;
        if m.fin {
            *fin = true;
            break;
        }
    }
    if *fin {
        queue::clear(&mut t.ooo, slots);
    }
    moved
}

/// SACK blocks for the out-of-order queue (at most `max`): the contiguous ranges it holds,
/// the one with the segment received last first, then in sequence order.
pub fn sack_blocks<'m, S: Slots<'m>>(t: &Tcb, slots: &S, max: usize) -> ([(u32, u32); MAX_SACK], u8) {
    let mut ranges = [(0u32, 0u32); OOO_MAX as usize];
    let mut n = 0;
    let (mut at, mut guard) = (t.ooo.head, OOO_MAX + 1);
    while at != 0 && guard > 0 {
        let m = queue::meta(slots, at);
        match n {
            0 => {}
            _ if before_eq(m.seq, ranges[n - 1].1) => {
                if before(ranges[n - 1].1, m.end()) {
                    ranges[n - 1].1 = m.end();
                }
                at = m.next;
                guard -= 1;
                continue;
            }
            _ => {}
        }
        if n < ranges.len() {
            ranges[n] = (m.seq, m.end());
            n += 1;
        }
        at = m.next;
        guard -= 1;
    }
    let mut out = [(0u32, 0u32); MAX_SACK];
    let mut k = 0;
    let first = ranges[..n].iter().position(|r| before_eq(r.0, t.sack_recent) && before(t.sack_recent, r.1));
    if let Some(f) = first {
        out[0] = ranges[f];
        k = 1;
    }
    for (j, r) in ranges[..n].iter().enumerate() {
        if k >= max.min(MAX_SACK) {
            break;
        }
        if Some(j) != first {
            out[k] = *r;
            k += 1;
        }
    }
    (out, k as u8)
}

/// The window to advertise now and its right edge: the receive buffer's free space from
/// `RCV.NXT`, the right edge never moved left (RFC 9293 §3.8.6) nor right by less than
/// min(half the buffer, one MSS) (receiver-side silly window avoidance, §3.8.6.2.2), and no
/// window while the held slots pass the memory limit. Returns (window field, right edge).
pub fn window(t: &Tcb, rcv_buf: u32) -> (u16, u32) {
    let space = if t.rx.mem + t.ooo.mem > mem_limit(rcv_buf) { 0 } else { rcv_buf.saturating_sub(t.rx.bytes) };
    let mut right = t.rcv_nxt.wrapping_add(space);
    let step = (rcv_buf / 2).min(t.snd_mss as u32).max(1);
    if before(right, t.rcv_adv.wrapping_add(step)) && before_eq(t.rcv_nxt, t.rcv_adv) {
        right = t.rcv_adv;
    }
    let wnd = right.wrapping_sub(t.rcv_nxt);
    let field = (wnd >> t.rcv_wscale).min(u16::MAX as u32);
    (field as u16, t.rcv_nxt.wrapping_add(field << t.rcv_wscale))
}

/// After the reader consumed data: whether the window opened enough to tell the peer now
/// (by two segments or half the buffer, or from nothing).
pub fn window_update_due(t: &Tcb, rcv_buf: u32) -> bool {
    let (_, right) = window(t, rcv_buf);
    let grown = right.wrapping_sub(t.rcv_adv);
    let closed = t.rcv_adv.wrapping_sub(t.rcv_nxt) == 0;
    before(t.rcv_adv, right) && (closed || grown >= (2 * t.snd_mss as u32).min(rcv_buf / 2))
}
