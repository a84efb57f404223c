//! Segmentation for the TUN device (`ts_tun_ingest`): packets read from a TUN
//! device with IFF_VNET_HDR and TSO/USO on. A read lands in a slot (`head`, up to
//! `head_cap` bytes at `off + HEADROOM`) and, when longer, continues in a jumbo buffer
//! (`tail`). A GSO super-packet is cut into `gso_size` segments, each in its own slot:
//! segment 0 stays in the read's slot (its payload is already there), segments 1.. are
//! copied into slots taken from a [`SlotSource`]. Segments longer than a small slot holds
//! (an MTU above ~2,000) all go to large slots, the read's slot going back; so does a plain
//! packet longer than the read's slot (head and tail copied together). IPv4 total length, ID and header
//! checksum, IPv6 payload length, TCP sequence number and flags (FIN/PSH only on the last,
//! CWR only on the first) or UDP length, and the L4 checksum over the pseudo-header are set
//! per segment. A plain packet whose checksum the kernel left partial (`NEEDS_CSUM`) gets
//! it completed.
//!
//! The reads come from [`TunReads`], the packets go to a [`PacketSink`]; all three traits
//! are generic parameters (the exports implement them over TypeScript's arrays and the pool).

use crate::consts::{HEADROOM, JUMBO_LEN, LARGE_MAX_PLAINTEXT, MAX_PLAINTEXT, VNET_HDR_LEN};
use crate::errors::*;
use crate::path::MAX_HDR_LEN;
use crate::tables::drops::Drops;
use crate::wire::checksum;
use crate::wire::ip::{self, PROTO_TCP, PROTO_UDP};
use crate::wire::tcp;
use crate::wire::udp;
use crate::wire::vnet;

/// TUN reads. Views live as long as `'m` (the memory they are in).
pub trait TunReads<'m> {
    fn count(&self) -> usize;
    /// Read i's slot offset and the number of bytes read.
    fn read(&self, i: usize) -> (u32, usize);
    /// Read i's virtio header (zeros if it cannot be read).
    fn vnet_header(&self, i: usize) -> [u8; VNET_HDR_LEN];
    /// Read i's slot (`SLOT_SIZE` bytes from its offset), if accessible.
    fn slot(&self, i: usize) -> Option<&'m mut [u8]>;
    /// The `len` (> 0) bytes of read i's tail, if they lie where no slot can be (the jumbo
    /// area) and not over read i's slot.
    fn tail(&self, i: usize, len: usize) -> Option<&'m [u8]>;
}

/// Where segments get their slots: the pool.
pub trait SlotSource<'m> {
    /// A fresh slot, large (`LARGE_SLOT_SIZE`) or small (`SLOT_SIZE`): its offset and all its
    /// bytes; `None` when none can be had.
    fn take(&mut self, large: bool) -> Option<(u32, &'m mut [u8])>;
    /// Returns a slot (a dropped read's, or one taken and not used).
    fn give_back(&mut self, off: u32);
}

/// Where the resulting packets go: (offset, IP length) at index `at < cap()`.
pub trait PacketSink {
    fn cap(&self) -> usize;
    fn push(&mut self, at: usize, off: u32, len: usize);
}

/// Segmentation counters (part of `ts_offload_stats`).
pub struct GsoStats {
    /// Super-packets cut.
    pub tso_super: u64,
    /// Segments produced from them.
    pub tso_segments: u64,
    /// Partial checksums completed.
    pub csum_completed: u64,
}

impl GsoStats {
    pub const ZERO: GsoStats = GsoStats { tso_super: 0, tso_segments: 0, csum_completed: 0 };
}

/// Cuts every read of `reads` (ABI.md, `ts_tun_ingest`) into packets written to `out`;
/// returns how many. Every input slot ends up either among the outputs or given back to
/// `slots` (a dropped read, counted in `drops`).
pub fn ingest<'m, R: TunReads<'m>, S: SlotSource<'m>, O: PacketSink>(
    drops: &mut Drops,
    stats: &mut GsoStats,
    reads: &R,
    slots: &mut S,
    out: &mut O,
    head_cap: usize,
) -> usize {
    let mut cx = Ingest { drops, stats, slots, out, head_cap };
    let mut produced = 0;
    for i in 0..reads.count() {
        let hdr = reads.vnet_header(i);
        let (off, len) = reads.read(i);
        match cx.one(reads, i, off, len, &hdr, produced) {
            Ok(k) => produced += k,
            Err(code) => {
                cx.drops.count(code);
                cx.slots.give_back(off);
            }
        }
    }
    produced
}

/// One `ingest` call's borrows.
struct Ingest<'a, S, O> {
    drops: &'a mut Drops,
    stats: &'a mut GsoStats,
    slots: &'a mut S,
    out: &'a mut O,
    head_cap: usize,
}

impl<'a, 'm, S: SlotSource<'m>, O: PacketSink> Ingest<'a, S, O> {
    /// Read i (slot `off`, `len` bytes, virtio header `hdr`): `Ok(n)` packets written to
    /// `out` from index `at`, or why it was dropped (the slot is then the caller's to give
    /// back).
    fn one<R: TunReads<'m>>(
        &mut self,
        reads: &R,
        i: usize,
        off: u32,
        len: usize,
        hdr: &[u8],
        at: usize,
    ) -> Result<usize, i32> {
        let cap = self.out.cap();
        if at >= cap {
            return Err(E_EXHAUSTED);
        }
        let head_len = len.min(self.head_cap);
        let tail_len = len - head_len;
        if tail_len > JUMBO_LEN {
            return Err(E_TOO_BIG);
        }
        let tail: &[u8] = if tail_len == 0 { &[] } else { reads.tail(i, tail_len).ok_or(E_BAD_ARG)? };
        let slot = reads.slot(i).ok_or(E_BAD_ARG)?;
        let h = vnet::Header::new_checked(hdr)?;
        if h.gso_type() & !vnet::GSO_ECN == vnet::GSO_NONE {
            let head = slot.get_mut(HEADROOM..HEADROOM + head_len).ok_or(E_TOO_BIG)?;
            if tail_len == 0 {
                let total = plain(head, &h)?;
                self.stats.csum_completed += (h.flags() & vnet::F_NEEDS_CSUM != 0) as u64;
                self.out.push(at, off, total);
                return Ok(1);
            }
            // Longer than the read's slot: head and tail together into a large slot.
            let (new, dst) = self.slots.take(true).ok_or(E_EXHAUSTED)?;
            let r = match dst.get_mut(HEADROOM..HEADROOM + len) {
                Some(pkt) => {
                    pkt[..head_len].copy_from_slice(head);
                    pkt[head_len..].copy_from_slice(tail);
                    plain(pkt, &h)
                }
                None => Err(E_TOO_BIG),
            };
            return match r {
                Ok(total) => {
                    self.stats.csum_completed += (h.flags() & vnet::F_NEEDS_CSUM != 0) as u64;
                    self.slots.give_back(off);
                    self.out.push(at, new, total);
                    Ok(1)
                }
                Err(e) => {
                    self.slots.give_back(new);
                    Err(e)
                }
            };
        }
        let head = slot.get(HEADROOM..HEADROOM + head_len).ok_or(E_TOO_BIG)?;
        let s = parse_super(head, len, &h)?;
        let read = Read { head, tail };
        let payload = s.total - s.hdr_len;
        let nseg = ((payload + s.gso - 1) / s.gso).max(1);
        let want = nseg.min(cap - at);
        let mut tmpl = [0u8; MAX_HDR_LEN];
        tmpl[..s.hdr_len].copy_from_slice(&head[..s.hdr_len]);
        // Segments longer than a small slot holds: every one is copied into a large slot, from
        // segment 0 on, and the read's slot goes back. Otherwise segments 1.. first: they are
        // copied out of the read before segment 0 is rewritten in place.
        let large = s.hdr_len + s.gso > MAX_PLAINTEXT;
        let first = if large { 0 } else { 1 };
        let mut n = first;
        for k in first..want {
            let from = s.hdr_len + k * s.gso;
            let seg = s.gso.min(s.total - from);
            let (new, dst) = match self.slots.take(large) {
                Some(t) => t,
                None => break,
            };
            let pkt = match dst.get_mut(HEADROOM..HEADROOM + s.hdr_len + seg) {
                Some(p) => p,
                None => {
                    self.slots.give_back(new);
                    break;
                }
            };
            pkt[..s.hdr_len].copy_from_slice(&tmpl[..s.hdr_len]);
            if !read.copy(from, &mut pkt[s.hdr_len..]) {
                self.slots.give_back(new);
                break;
            }
            finish_segment(pkt, &s, k, k == nseg - 1);
            // Segment k is output at `at + k` (small: segment 0 is in place, below).
            self.out.push(at + n, new, s.hdr_len + seg);
            n += 1;
        }
        for _ in n..nseg {
            self.drops.count(E_EXHAUSTED);
        }
        if large {
            self.slots.give_back(off);
            self.stats.tso_super += 1;
            self.stats.tso_segments += n as u64;
            return Ok(n);
        }
        // Segment 0: header and the first payload bytes are in the slot already, except
        // when the slot's head ended inside it (a head_cap shorter than one segment).
        let seg0 = s.gso.min(payload);
        let need = s.hdr_len + seg0;
        if need > head_len {
            let mut part = [0u8; MAX_PLAINTEXT];
            let extra = need - head_len;
            if extra > part.len() || !read.copy(head_len, &mut part[..extra]) {
                return Err(E_TRUNCATED);
            }
            slot[HEADROOM + head_len..HEADROOM + need].copy_from_slice(&part[..extra]);
        }
        finish_segment(&mut slot[HEADROOM..HEADROOM + need], &s, 0, nseg == 1);
        self.out.push(at, off, need);
        self.stats.tso_super += 1;
        self.stats.tso_segments += n as u64;
        Ok(n)
    }
}

/// A plain (not GSO) packet `pkt` as read: trimmed to its IP length, its partial checksum
/// completed if the virtio header says so. Returns the IP length.
fn plain(pkt: &mut [u8], h: &vnet::Header<&[u8]>) -> Result<usize, i32> {
    let total = ip::Packet::new_checked(&*pkt)?.total_len();
    let pkt = &mut pkt[..total];
    if h.flags() & vnet::F_NEEDS_CSUM != 0 {
        complete_checksum(pkt, h.csum_start() as usize, h.csum_offset() as usize)?;
    }
    Ok(total)
}

/// The bytes of one read: `head` then `tail`, as if contiguous.
struct Read<'a> {
    head: &'a [u8],
    tail: &'a [u8],
}

impl Read<'_> {
    /// Copies `dst.len()` bytes from virtual offset `from`; false if out of range.
    fn copy(&self, from: usize, dst: &mut [u8]) -> bool {
        let n = dst.len();
        let h = self.head.len();
        if from >= h {
            match self.tail.get(from - h..from - h + n) {
                Some(s) => dst.copy_from_slice(s),
                None => return false,
            }
            return true;
        }
        let in_head = (h - from).min(n);
        let (a, b) = dst.split_at_mut(in_head);
        match (self.head.get(from..from + in_head), self.tail.get(..n - in_head)) {
            (Some(x), Some(y)) => {
                a.copy_from_slice(x);
                b.copy_from_slice(y);
                true
            }
            _ => false,
        }
    }
}

/// What `segment` needs to know about a super-packet, validated.
struct Super {
    v6: bool,
    proto: u8,
    /// IP header length = `csum_start`.
    ip_hl: usize,
    /// IP + L4 header length.
    hdr_len: usize,
    /// IP total length (the bytes after it are ignored).
    total: usize,
    gso: usize,
    seq0: u32,
    id0: u16,
    flags0: u8,
}

/// Validates a GSO super-packet's headers (all in `head`) against its virtio header.
fn parse_super(head: &[u8], len: usize, h: &vnet::Header<&[u8]>) -> Result<Super, i32> {
    let gso_type = h.gso_type() & !vnet::GSO_ECN;
    let ip = ip::Packet::new_unchecked(head);
    let v6 = ip.check_version()? == 6;
    let proto = match (gso_type, v6) {
        (vnet::GSO_TCPV4, false) | (vnet::GSO_TCPV6, true) => PROTO_TCP,
        (vnet::GSO_UDP_L4, _) => PROTO_UDP,
        _ => return Err(E_BAD_GSO),
    };
    // The fixed header only: the total length may exceed the head (the rest is in the tail).
    ip.check_fixed_len()?;
    let ip_hl = h.csum_start() as usize;
    if !v6 && ip.header_len() != ip_hl {
        return Err(E_BAD_GSO);
    }
    // With IPv6 extension headers (csum_start > 40) the first Next Header is not the L4 one.
    let proto_ok = if v6 { ip_hl > ip::V6_HEADER_LEN || ip.protocol() == proto } else { ip.protocol() == proto };
    let total = ip.total_len();
    // IPv6's fixed header is 40 bytes: a shorter csum_start would cut segments under it.
    let min_hl = if v6 { ip::V6_HEADER_LEN } else { 20 };
    if !proto_ok || ip_hl < min_hl || ip_hl >= head.len() {
        return Err(E_BAD_GSO);
    }
    if total > len || total < ip_hl {
        return Err(E_BAD_TOTAL_LEN);
    }
    let l4 = head.get(ip_hl..).ok_or(E_TRUNCATED)?;
    let (hdr_len, seq0, flags0) = if proto == PROTO_TCP {
        // hdr_len from the kernel is not trusted (it may cover payload); the data offset is.
        let th = tcp::Header::new_checked(l4)?;
        (ip_hl + th.header_len(), th.seq(), th.flags())
    } else {
        udp::Header::new_checked(l4)?;
        (ip_hl + udp::HEADER_LEN, 0, 0)
    };
    let gso = h.gso_size() as usize;
    if hdr_len > total || hdr_len > MAX_HDR_LEN || gso == 0 {
        return Err(E_BAD_GSO);
    }
    if hdr_len + gso > LARGE_MAX_PLAINTEXT {
        return Err(E_TOO_BIG);
    }
    Ok(Super { v6, proto, ip_hl, hdr_len, total, gso, seq0, id0: ip.ident(), flags0 })
}

/// Sets the per-segment fields of segment `k` (`pkt` = its IP packet, headers from the
/// super-packet) and its IPv4 header and L4 checksums.
fn finish_segment(pkt: &mut [u8], s: &Super, k: usize, last: bool) {
    let total = pkt.len();
    let (iph, l4) = pkt.split_at_mut(s.ip_hl);
    let l4_len = l4.len();
    // The headers were validated by `parse_super` and copied unchanged. The version is
    // known here, so the per-version setters (no dispatch on the version byte per segment).
    let mut ip = ip::Packet::new_unchecked(&mut *iph);
    if s.v6 {
        ip.set_v6_payload_len((total - ip::V6_HEADER_LEN) as u16);
    } else {
        ip.set_v4_total_len(total as u16);
        ip.set_ident(s.id0.wrapping_add(k as u16));
        ip.fill_checksum_with_len(s.ip_hl);
    }
    if s.proto == PROTO_TCP {
        let mut th = tcp::Header::new_unchecked(&mut *l4);
        th.set_seq(s.seq0.wrapping_add((k * s.gso) as u32));
        let mut f = s.flags0;
        if !last {
            f &= !(tcp::FIN | tcp::PSH);
        }
        if k > 0 {
            f &= !tcp::CWR;
        }
        th.set_flags(f);
        th.set_checksum([0, 0]);
    } else {
        let mut uh = udp::Header::new_unchecked(&mut *l4);
        uh.set_len(l4_len as u16);
        uh.set_checksum([0, 0]);
    }
    // One checksum pass over the L4 bytes, after every header write, whatever the protocol:
    // a pass in each branch made ts_tun_ingest a third slower (measured on a 64 KB TSO read).
    let ip = ip::Packet::new_unchecked(&*iph);
    let acc = checksum::pseudo_header(ip.src_addr(), ip.dst_addr(), s.proto, l4_len as u32);
    let c = mangle_zero(checksum::finish(checksum::add(acc, l4)));
    if s.proto == PROTO_TCP {
        tcp::Header::new_unchecked(l4).set_checksum(c);
    } else {
        udp::Header::new_unchecked(l4).set_checksum(c);
    }
}

/// A computed checksum of 0 is sent as 0xffff (same value in one's complement; for UDP,
/// 0 would mean "no checksum"), as the kernel's `skb_checksum_help` does.
fn mangle_zero(c: [u8; 2]) -> [u8; 2] {
    if c == [0, 0] {
        [0xff, 0xff]
    } else {
        c
    }
}

/// Completes a partial checksum: the field at `start + offset` holds the pseudo-header
/// sum; the sum runs from `start` to the end of `pkt`.
fn complete_checksum(pkt: &mut [u8], start: usize, offset: usize) -> Result<(), i32> {
    let at = start.checked_add(offset).ok_or(E_BAD_GSO)?;
    if at + 2 > pkt.len() {
        return Err(E_BAD_GSO);
    }
    let c = checksum::finish(checksum::add(0, &pkt[start..]));
    pkt[at..at + 2].copy_from_slice(&mangle_zero(c));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consts::SLOT_SIZE;
    use core::cell::RefCell;

    /// Reads over plain buffers: slot i is `slots[i]` (handed out once), tail i `tails[i]`.
    struct FakeReads<'m> {
        slots: Vec<RefCell<Option<&'m mut [u8]>>>,
        lens: Vec<usize>,
        hdrs: Vec<[u8; VNET_HDR_LEN]>,
        tails: Vec<&'m [u8]>,
    }

    impl<'m> TunReads<'m> for FakeReads<'m> {
        fn count(&self) -> usize {
            self.lens.len()
        }
        fn read(&self, i: usize) -> (u32, usize) {
            (100 + i as u32, self.lens[i])
        }
        fn vnet_header(&self, i: usize) -> [u8; VNET_HDR_LEN] {
            self.hdrs[i]
        }
        fn slot(&self, i: usize) -> Option<&'m mut [u8]> {
            self.slots[i].borrow_mut().take()
        }
        fn tail(&self, i: usize, len: usize) -> Option<&'m [u8]> {
            self.tails.get(i).and_then(|t| t.get(..len))
        }
    }

    /// A pool of plain buffers, numbered from 200 (small) and from 300 (large).
    struct FakeSlots<'m> {
        free: Vec<&'m mut [u8]>,
        large: Vec<&'m mut [u8]>,
        given_back: Vec<u32>,
    }

    impl<'m> SlotSource<'m> for FakeSlots<'m> {
        fn take(&mut self, large: bool) -> Option<(u32, &'m mut [u8])> {
            if large {
                let n = self.large.len() as u32;
                return self.large.pop().map(|s| (300 + n, s));
            }
            let n = self.free.len() as u32;
            self.free.pop().map(|s| (200 + n, s))
        }
        fn give_back(&mut self, off: u32) {
            self.given_back.push(off);
        }
    }

    struct FakeOut(Vec<(u32, usize)>, usize);

    impl PacketSink for FakeOut {
        fn cap(&self) -> usize {
            self.1
        }
        fn push(&mut self, at: usize, off: u32, len: usize) {
            if self.0.len() <= at {
                self.0.resize(at + 1, (0, 0));
            }
            self.0[at] = (off, len);
        }
    }

    #[test]
    fn a_udp_super_packet_becomes_segments_in_slots_from_the_source() {
        // UDP 10.0.0.1:5000 -> 10.0.0.2:6000, 2500 payload bytes, gso_size 1000.
        let mut sup = vec![0x45, 0, 0x09, 0xe0, 0, 7, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
        sup.extend_from_slice(&[0x13, 0x88, 0x17, 0x70, 0x09, 0xcc, 0, 0]);
        sup.extend((0..2500u32).map(|i| i as u8));
        let mut hdr = [0u8; VNET_HDR_LEN];
        vnet::Header::new_unchecked(&mut hdr[..]).set(vnet::F_NEEDS_CSUM, vnet::GSO_UDP_L4, 28, 1000, 20, 6);
        let mut arena = vec![0u8; 5 * SLOT_SIZE];
        let mut bufs: Vec<&mut [u8]> = arena.chunks_mut(SLOT_SIZE).collect();
        let (read_slots, free) = bufs.split_at_mut(2);
        let mut read_slots = read_slots.iter_mut();
        let (r0, r1) = (read_slots.next().unwrap(), read_slots.next().unwrap());
        r0[HEADROOM..HEADROOM + sup.len().min(2000)].copy_from_slice(&sup[..2000]);
        let reads = FakeReads {
            // Read 1 claims a tail but the fake has none: dropped, its slot given back.
            slots: vec![RefCell::new(Some(&mut **r0)), RefCell::new(Some(&mut **r1))],
            lens: vec![2000, 2100],
            hdrs: vec![hdr, hdr],
            tails: vec![],
        };
        let mut slots =
            FakeSlots { free: free.iter_mut().map(|s| &mut **s).collect(), large: vec![], given_back: Vec::new() };
        let mut out = FakeOut(Vec::new(), 8);
        let (mut drops, mut stats) = (Drops::ZERO, GsoStats::ZERO);
        // The first read is the whole super-packet only up to 2000 bytes: total length
        // 2528 > 2000 read, so it is refused as E_BAD_TOTAL_LEN.
        assert_eq!(ingest(&mut drops, &mut stats, &reads, &mut slots, &mut out, 2000), 0);
        assert_eq!((drops.get(E_BAD_TOTAL_LEN), drops.get(E_BAD_ARG)), (1, 1));
        assert_eq!(slots.given_back, vec![100, 101]);
        // Now a super-packet that fits the head: 1500 payload bytes -> 2 segments.
        let mut arena = vec![0u8; 3 * SLOT_SIZE];
        let mut bufs: Vec<&mut [u8]> = arena.chunks_mut(SLOT_SIZE).collect();
        let (read_slot, free) = bufs.split_at_mut(1);
        let mut small = sup[..28 + 1500].to_vec();
        small[2..4].copy_from_slice(&((28 + 1500) as u16).to_be_bytes());
        small[24..26].copy_from_slice(&((8 + 1500) as u16).to_be_bytes());
        read_slot[0][HEADROOM..HEADROOM + small.len()].copy_from_slice(&small);
        let reads = FakeReads {
            slots: vec![RefCell::new(Some(&mut *read_slot[0]))],
            lens: vec![small.len()],
            hdrs: vec![hdr],
            tails: vec![],
        };
        let mut slots =
            FakeSlots { free: free.iter_mut().map(|s| &mut **s).collect(), large: vec![], given_back: Vec::new() };
        let mut out = FakeOut(Vec::new(), 8);
        assert_eq!(ingest(&mut drops, &mut stats, &reads, &mut slots, &mut out, 2000), 2);
        assert_eq!(out.0, vec![(100, 28 + 1000), (202, 28 + 500)]);
        assert_eq!((stats.tso_super, stats.tso_segments), (1, 2));
        assert!(slots.given_back.is_empty());
        drop(reads);
        let seg0 = &arena[HEADROOM..HEADROOM + 28];
        assert_eq!(&seg0[2..6], &[0x04, 0x04, 0, 7]); // total length 1028, ID 7
        assert_eq!(&seg0[24..26], &[0x03, 0xf0]); // UDP length 1008
        let seg1 = &arena[2 * SLOT_SIZE + HEADROOM..2 * SLOT_SIZE + HEADROOM + 28 + 500];
        assert_eq!(&seg1[4..6], &[0, 8]); // ID 7 + 1
        assert_eq!(seg1[28..], small[28 + 1000..]);
    }

    /// IPv4 UDP 10.0.0.1:5000 -> 10.0.0.2:6000 with `payload` bytes of pattern data; the UDP
    /// checksum field holds the pseudo-header sum (as the kernel leaves it with NEEDS_CSUM).
    fn udp_packet(payload: usize) -> Vec<u8> {
        let total = 28 + payload;
        let mut p = vec![0x45, 0, (total >> 8) as u8, total as u8, 0, 9, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
        ip::Packet::new_unchecked(&mut p[..]).fill_checksum();
        let l4 = (8 + payload) as u16;
        p.extend_from_slice(&[0x13, 0x88, 0x17, 0x70, (l4 >> 8) as u8, l4 as u8, 0, 0]);
        p.extend((0..payload as u32).map(|i| (i * 7 + (i >> 9)) as u8));
        let partial = checksum::fold(checksum::pseudo_header(&p[12..16], &p[16..20], PROTO_UDP, l4 as u32));
        p[26..28].copy_from_slice(&partial.to_le_bytes());
        p
    }

    fn udp_valid(pkt: &[u8]) -> bool {
        let l4 = &pkt[20..];
        let acc = checksum::pseudo_header(&pkt[12..16], &pkt[16..20], PROTO_UDP, l4.len() as u32);
        checksum::verifies(checksum::add(acc, l4))
    }

    #[test]
    fn segments_and_a_plain_packet_longer_than_a_small_slot_go_to_large_slots() {
        use crate::consts::LARGE_SLOT_SIZE;
        // Read 0: a UDP super-packet, gso_size 8972 (MTU 9000), 3 segments, 2000 bytes in the
        // read's slot and the rest in its tail. Read 1: a plain 5000-byte packet (head + tail).
        let sup = udp_packet(2 * 8972 + 100);
        let plain_pkt = udp_packet(5000 - 28);
        let mut h0 = [0u8; VNET_HDR_LEN];
        vnet::Header::new_unchecked(&mut h0[..]).set(vnet::F_NEEDS_CSUM, vnet::GSO_UDP_L4, 28, 8972, 20, 6);
        let mut h1 = [0u8; VNET_HDR_LEN];
        vnet::Header::new_unchecked(&mut h1[..]).set(vnet::F_NEEDS_CSUM, vnet::GSO_NONE, 0, 0, 20, 6);
        let mut small = vec![0u8; 2 * SLOT_SIZE];
        let (s0, s1) = small.split_at_mut(SLOT_SIZE);
        s0[HEADROOM..HEADROOM + 2000].copy_from_slice(&sup[..2000]);
        s1[HEADROOM..HEADROOM + 2000].copy_from_slice(&plain_pkt[..2000]);
        let mut large = vec![0u8; 3 * LARGE_SLOT_SIZE];
        let reads = FakeReads {
            slots: vec![RefCell::new(Some(s0)), RefCell::new(Some(s1))],
            lens: vec![sup.len(), plain_pkt.len()],
            hdrs: vec![h0, h1],
            tails: vec![&sup[2000..], &plain_pkt[2000..]],
        };
        // Three large slots for four packets: the plain packet finds none (exhausted).
        let mut slots =
            FakeSlots { free: vec![], large: large.chunks_mut(LARGE_SLOT_SIZE).collect(), given_back: Vec::new() };
        let mut out = FakeOut(Vec::new(), 8);
        let (mut drops, mut stats) = (Drops::ZERO, GsoStats::ZERO);
        assert_eq!(ingest(&mut drops, &mut stats, &reads, &mut slots, &mut out, 2000), 3);
        // Large slots are handed out from the top: 303, 302, 301.
        assert_eq!(out.0, vec![(303, 28 + 8972), (302, 28 + 8972), (301, 28 + 100)]);
        assert_eq!(slots.given_back, vec![100, 101], "both read slots go back");
        assert_eq!((drops.get(E_EXHAUSTED), drops.counts_total()), (1, 1));
        assert_eq!((stats.tso_super, stats.tso_segments), (1, 3));
        drop(reads);
        drop(slots);
        for (k, &(off, len)) in out.0.iter().enumerate() {
            let at = (off as usize - 301) * LARGE_SLOT_SIZE;
            let pkt = &large[(2 - k) * LARGE_SLOT_SIZE..][..HEADROOM + len][HEADROOM..];
            assert_eq!(at, (2 - k) * LARGE_SLOT_SIZE);
            assert!(udp_valid(pkt), "segment {}: checksum", k);
            assert_eq!(pkt[28..], sup[28 + k * 8972..28 + k * 8972 + len - 28]);
        }

        // The plain packet again, with a large slot: head and tail copied, checksum completed.
        let mut small = vec![0u8; SLOT_SIZE];
        small[HEADROOM..HEADROOM + 2000].copy_from_slice(&plain_pkt[..2000]);
        let mut large = vec![0u8; LARGE_SLOT_SIZE];
        let reads = FakeReads {
            slots: vec![RefCell::new(Some(&mut small[..]))],
            lens: vec![plain_pkt.len()],
            hdrs: vec![h1],
            tails: vec![&plain_pkt[2000..]],
        };
        let mut slots = FakeSlots { free: vec![], large: vec![&mut large[..]], given_back: Vec::new() };
        let mut out = FakeOut(Vec::new(), 8);
        assert_eq!(ingest(&mut drops, &mut stats, &reads, &mut slots, &mut out, 2000), 1);
        assert_eq!(out.0, vec![(301, 5000)]);
        assert_eq!(slots.given_back, vec![100]);
        assert_eq!(stats.csum_completed, 1);
        drop(reads);
        drop(slots);
        let pkt = &large[HEADROOM..HEADROOM + 5000];
        assert!(udp_valid(pkt));
        assert_eq!(pkt[28..], plain_pkt[28..]);
    }
}
