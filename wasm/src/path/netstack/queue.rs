//! Queues of slots linked through the slots themselves. A slot a socket holds (a datagram
//! waiting to be taken, TCP data to send, received or out of order) keeps its packet where it
//! arrived; the first `META_LEN` bytes (the headroom, where the transport header was or will
//! be written) carry the link and where the data lies:
//!
//! ```text
//! 0..4 next slot (0 = last)   4..8 sequence number of the data's first byte (TCP)
//! 8..12 data start (from the slot's start)   12..14 data length   14 flags (FIN)
//! ```
//!
//! The table entry ([`SlotQueue`]) keeps the two ends and the counts, so a socket costs a
//! few words however much it holds.

use super::Slots;
use crate::consts::HEADROOM;
use crate::tables::tcb::SlotQueue;

/// Bytes of a queued slot the link takes (the headroom).
pub const META_LEN: usize = HEADROOM;

mod field {
    use core::ops::Range;
    pub const NEXT: Range<usize> = 0..4;
    pub const SEQ: Range<usize> = 4..8;
    pub const START: Range<usize> = 8..12;
    pub const LEN: Range<usize> = 12..14;
    pub const FLAGS: usize = 14;
}

const FLAG_FIN: u8 = 1;

/// Where a queued slot's data lies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Meta {
    pub next: u32,
    pub seq: u32,
    pub start: u32,
    pub len: u32,
    pub fin: bool,
}

impl Meta {
    pub fn new(seq: u32, start: usize, len: usize, fin: bool) -> Meta {
        Meta { next: 0, seq, start: start as u32, len: len as u32, fin }
    }
    /// Sequence number after the data.
    pub fn end(&self) -> u32 {
        self.seq.wrapping_add(self.len)
    }
}

fn le32(b: &[u8], r: core::ops::Range<usize>) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[r]);
    u32::from_le_bytes(w)
}

/// The link of the slot at `off` (zeros if it cannot be had).
pub fn meta<'m, S: Slots<'m>>(slots: &S, off: u32) -> Meta {
    match slots.get(off) {
        Some(b) if b.len() >= META_LEN => Meta {
            next: le32(b, field::NEXT),
            seq: le32(b, field::SEQ),
            start: le32(b, field::START),
            len: u16::from_le_bytes([b[field::LEN.start], b[field::LEN.start + 1]]) as u32,
            fin: b[field::FLAGS] & FLAG_FIN != 0,
        },
        _ => Meta::new(0, 0, 0, false),
    }
}

pub fn set_meta<'m, S: Slots<'m>>(slots: &S, off: u32, m: &Meta) {
    if let Some(b) = slots.get(off) {
        if b.len() >= META_LEN {
            b[field::NEXT].copy_from_slice(&m.next.to_le_bytes());
            b[field::SEQ].copy_from_slice(&m.seq.to_le_bytes());
            b[field::START].copy_from_slice(&m.start.to_le_bytes());
            b[field::LEN].copy_from_slice(&(m.len as u16).to_le_bytes());
            b[field::FLAGS] = if m.fin { FLAG_FIN } else { 0 };
        }
    }
}

/// Slot bytes of the slot at `off` (what it costs the pool).
pub fn slot_len<'m, S: Slots<'m>>(slots: &S, off: u32) -> u32 {
    slots.get(off).map_or(0, |b| b.len() as u32)
}

/// Appends the slot at `off` with data `m` (its `next` is set to 0).
pub fn push_back<'m, S: Slots<'m>>(q: &mut SlotQueue, slots: &S, off: u32, mut m: Meta) {
    m.next = 0;
    set_meta(slots, off, &m);
    if q.tail != 0 {
        let mut t = meta(slots, q.tail);
        t.next = off;
        set_meta(slots, q.tail, &t);
    } else {
        q.head = off;
    }
    q.tail = off;
    q.bytes += m.len;
    q.slots += 1;
    q.mem += slot_len(slots, off);
}

/// Takes the head slot off the queue: its offset and link. `bytes` loses what the head still
/// held (its length less `skip`), and `skip` goes back to 0.
pub fn pop_front<'m, S: Slots<'m>>(q: &mut SlotQueue, slots: &S) -> Option<(u32, Meta)> {
    if q.head == 0 {
        return None;
    }
    let off = q.head;
    let m = meta(slots, off);
    q.head = m.next;
    if q.head == 0 {
        q.tail = 0;
    }
    q.bytes -= m.len.saturating_sub(q.skip).min(q.bytes);
    q.skip = 0;
    q.slots = q.slots.saturating_sub(1);
    q.mem = q.mem.saturating_sub(slot_len(slots, off));
    Some((off, m))
}

/// Frees every slot of the queue and empties it.
pub fn clear<'m, S: Slots<'m>>(q: &mut SlotQueue, slots: &mut S) {
    let mut at = q.head;
    let mut guard = q.slots as usize + 1;
    while at != 0 && guard > 0 {
        let next = meta(slots, at).next;
        slots.free(at);
        at = next;
        guard -= 1;
    }
    *q = SlotQueue::default();
}

/// Drops `n` bytes from the front (consumed or acknowledged), freeing the slots they empty.
/// Returns the slots freed, so a cursor into one of them can be dropped too: `on_free(off)`.
pub fn consume<'m, S: Slots<'m>>(q: &mut SlotQueue, slots: &mut S, mut n: u32, mut on_free: impl FnMut(u32)) {
    while n > 0 && q.head != 0 {
        let m = meta(slots, q.head);
        let left = m.len.saturating_sub(q.skip);
        if n < left {
            q.skip += n;
            q.bytes -= n.min(q.bytes);
            return;
        }
        n -= left;
        if let Some((off, _)) = pop_front(q, slots) {
            on_free(off);
            slots.free(off);
        }
    }
}

/// Appends the data `m` describes in slot `off` to `q`: copied into the tail slot when it
/// fits after the tail's data and is at most `copy_max` bytes (so small segments do not each
/// hold a slot), else the slot itself is linked. Returns whether the slot was kept: if not,
/// it is still the caller's to free.
pub fn append<'m, S: Slots<'m>>(q: &mut SlotQueue, slots: &mut S, off: u32, m: Meta, copy_max: u32) -> bool {
    if q.tail != 0 && m.len <= copy_max {
        let mut t = meta(slots, q.tail);
        let (src, dst) = (slots.get(off), slots.get(q.tail));
        if let (Some(src), Some(dst)) = (src, dst) {
            let at = (t.start + t.len) as usize;
            let from = m.start as usize..(m.start + m.len) as usize;
            if at + m.len as usize <= dst.len() && from.end <= src.len() && t.len + m.len <= u16::MAX as u32 {
                dst[at..at + m.len as usize].copy_from_slice(&src[from]);
                t.len += m.len;
                t.fin |= m.fin;
                set_meta(slots, q.tail, &t);
                q.bytes += m.len;
                return false;
            }
        }
    }
    push_back(q, slots, off, m);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::netstack::testing::TestSlots;

    fn filled(slots: &mut TestSlots, data: &[u8]) -> (u32, Meta) {
        let (off, b) = slots.take(100).unwrap();
        b[40..40 + data.len()].copy_from_slice(data);
        (off, Meta::new(0, 40, data.len(), false))
    }

    #[test]
    fn push_pop_consume_clear() {
        let mut slots = TestSlots::new(64);
        let mut q = SlotQueue::default();
        for k in 0..3u8 {
            let (off, m) = filled(&mut slots, &[k; 100]);
            push_back(&mut q, &slots, off, Meta { seq: 100 * k as u32, ..m });
        }
        assert_eq!((q.bytes, q.slots, q.mem), (300, 3, 3 * 2048));
        let h = meta(&slots, q.head);
        assert_eq!((h.seq, h.start, h.len, h.end()), (0, 40, 100, 100));
        let mut freed = Vec::new();
        consume(&mut q, &mut slots, 150, |o| freed.push(o));
        assert_eq!((q.bytes, q.skip, q.slots, freed.len()), (150, 50, 2, 1));
        assert_eq!(meta(&slots, q.head).seq, 100);
        let (_, m) = pop_front(&mut q, &slots).unwrap();
        assert_eq!((m.seq, q.bytes, q.skip), (100, 100, 0));
        clear(&mut q, &mut slots);
        assert_eq!((q.head, q.tail, q.bytes, q.slots), (0, 0, 0, 0));
        // The popped slot is still ours.
        assert_eq!(slots.in_use(), 1);
    }

    #[test]
    fn append_copies_small_data_into_the_tail() {
        let mut slots = TestSlots::new(64);
        let mut q = SlotQueue::default();
        let (a, ma) = filled(&mut slots, b"hello ");
        assert!(append(&mut q, &mut slots, a, ma, 512));
        let (b, mb) = filled(&mut slots, b"world");
        assert!(!append(&mut q, &mut slots, b, Meta { fin: true, ..mb }, 512));
        slots.free(b);
        assert_eq!((q.slots, q.bytes, slots.in_use()), (1, 11, 1));
        let m = meta(&slots, q.head);
        assert!(m.fin);
        let s = slots.get(q.head).unwrap();
        assert_eq!(&s[40..51], b"hello world");
        // Too big to copy: linked.
        let (c, mc) = filled(&mut slots, &[7; 60]);
        assert!(append(&mut q, &mut slots, c, mc, 50));
        assert_eq!((q.slots, q.bytes), (2, 71));
        clear(&mut q, &mut slots);
        assert_eq!(slots.in_use(), 0);
    }
}
