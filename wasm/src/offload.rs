//! TUN offloads, in place in the slots (ABI.md "Offloads"):
//!
//! - `ts_tun_ingest`: packets read from a TUN device with IFF_VNET_HDR and TSO/USO on.
//!   A read lands in a slot (`head`, up to `head_cap` bytes at `off + HEADROOM`) and, when
//!   longer, continues in a jumbo buffer (`tail`). A GSO super-packet is cut into
//!   `gso_size` segments, each in its own slot: segment 0 stays in the read's slot (its
//!   payload is already there), segments 1.. are copied into slots taken from the pool.
//!   IPv4 total length, ID and header checksum, IPv6 payload length, TCP sequence number
//!   and flags (FIN/PSH only on the last, CWR only on the first) or UDP length, and the
//!   L4 checksum over the pseudo-header are set per segment. A plain packet whose
//!   checksum the kernel left partial (`NEEDS_CSUM`) gets it completed.
//! - `ts_tun_plan`: the other direction. Decrypted packets (IP at `off + HEADROOM`) are
//!   grouped into write units; consecutive in-order TCP segments of one flow become one
//!   unit written as a single super-packet: a virtio header (GSO_TCPV4/6, `gso_size` =
//!   the segments' payload size, NEEDS_CSUM) and a rewritten copy of the first packet's
//!   IP+TCP header go to a per-unit header area, and the unit's pieces point at each
//!   packet's payload where it already is. Nothing is copied and no packet is modified, so
//!   TypeScript can still write every packet on its own if the kernel refuses the unit.

use crate::wire::checksum;
use crate::errors::*;
use crate::wire::ip;
use crate::mem::{self, Words, JUMBO_COUNT, JUMBO_LEN};
use crate::consts::{HEADROOM, SLOT_SIZE};
use crate::state::{self, State};
use crate::wire::tcp;
use crate::wire::udp;
use crate::consts::MAX_PLAINTEXT;
use crate::wire::vnet;

use crate::consts::{MAX_PLAN, MAX_UNIT_SEGS, UNIT_HDR_STRIDE, VNET_STRIDE as HDR_STRIDE};
/// Longest IP + L4 header a segment or unit may have (IPv4 60 + TCP 60; IPv6 40 + 60
/// leaves 28 bytes of extension headers).
pub const MAX_HDR_LEN: usize = 128;
/// Open flows `ts_tun_plan` tracks at once; the oldest is closed when a new one opens.
const MAX_OPEN: usize = 16;
/// IP + payload bytes a unit may reach (IPv4 total length / IPv6 payload length).
const MAX_UNIT_LEN: usize = 65535;

const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
const NONE16: u16 = u16::MAX;

// ---------------------------------------------------------------- ingest (TUN → slots)

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

/// Where ingested packets go: `offs[i]`, `lens[i]` for `i < cap`.
struct Out {
    offs: Words,
    lens: Words,
    cap: usize,
}

impl Out {
    fn push(&self, at: usize, off: u32, len: usize) {
        self.offs.set(at, off);
        self.lens.set(at, len as u32);
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
    if !proto_ok || ip_hl < 20 || ip_hl >= head.len() {
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
    if hdr_len + gso > MAX_PLAINTEXT {
        return Err(E_TOO_BIG);
    }
    Ok(Super { v6, proto, ip_hl, hdr_len, total, gso, seq0, id0: ip.ident(), flags0 })
}

/// Sets the per-segment fields of segment `k` (`pkt` = its IP packet, headers from the
/// super-packet) and its IPv4 header and L4 checksums.
fn finish_segment(pkt: &mut [u8], s: &Super, k: usize, last: bool) {
    let total = pkt.len();
    let (iph, l4) = pkt.split_at_mut(s.ip_hl);
    // The headers were validated by `parse_super` and copied unchanged.
    let mut ip = ip::Packet::new_unchecked(&mut *iph);
    ip.set_total_len(total);
    if !s.v6 {
        ip.set_ident(s.id0.wrapping_add(k as u16));
        ip.fill_checksum();
    }
    let l4_len = l4.len();
    let ip = ip::Packet::new_unchecked(&*iph);
    let acc = checksum::pseudo_header(ip.src_addr(), ip.dst_addr(), s.proto, l4_len as u32);
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
        let c = mangle_zero(checksum::finish(checksum::add(acc, l4)));
        tcp::Header::new_unchecked(&mut *l4).set_checksum(c);
    } else {
        let mut uh = udp::Header::new_unchecked(&mut *l4);
        uh.set_len(l4_len as u16);
        uh.set_checksum([0, 0]);
        let c = mangle_zero(checksum::finish(checksum::add(acc, l4)));
        udp::Header::new_unchecked(&mut *l4).set_checksum(c);
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

/// One read: `Ok(n)` packets written to `out` from index `at`, or why it was dropped
/// (the read's slot is then the caller's to free).
fn ingest_one(st: &mut State, off: u32, len: usize, tail_ptr: u32, hdr: &[u8], head_cap: usize, out: &Out, at: usize) -> Result<usize, i32> {
    if at >= out.cap {
        return Err(E_EXHAUSTED);
    }
    let head_len = len.min(head_cap);
    let tail_len = len - head_len;
    if tail_len > JUMBO_LEN {
        return Err(E_TOO_BIG);
    }
    // The tail must be in the jumbo area: then it can alias neither the read's slot (a
    // pool slot or, if TypeScript passed garbage, checked below) nor a slot taken here.
    let tail: &[u8] = if tail_len == 0 {
        &[]
    } else if mem::in_jumbo(tail_ptr, tail_len) && !overlaps(off, SLOT_SIZE, tail_ptr, tail_len) {
        mem::bytes(tail_ptr, tail_len).ok_or(E_BAD_ARG)?
    } else {
        return Err(E_BAD_ARG);
    };
    let slot = mem::bytes_mut(off, SLOT_SIZE).ok_or(E_BAD_ARG)?;
    let h = vnet::Header::new_checked(hdr)?;
    if h.gso_type() & !vnet::GSO_ECN == vnet::GSO_NONE {
        if tail_len > 0 {
            return Err(E_TOO_BIG);
        }
        let pkt = slot.get_mut(HEADROOM..HEADROOM + head_len).ok_or(E_TOO_BIG)?;
        let total = ip::Packet::new_checked(&pkt[..])?.total_len();
        let pkt = &mut pkt[..total];
        if h.flags() & vnet::F_NEEDS_CSUM != 0 {
            complete_checksum(pkt, h.csum_start() as usize, h.csum_offset() as usize)?;
            st.offload.csum_completed += 1;
        }
        out.push(at, off, total);
        return Ok(1);
    }
    let head = slot.get(HEADROOM..HEADROOM + head_len).ok_or(E_TOO_BIG)?;
    let s = parse_super(head, len, &h)?;
    let read = Read { head, tail };
    let payload = s.total - s.hdr_len;
    let nseg = ((payload + s.gso - 1) / s.gso).max(1);
    let want = nseg.min(out.cap - at);
    let mut tmpl = [0u8; MAX_HDR_LEN];
    tmpl[..s.hdr_len].copy_from_slice(&head[..s.hdr_len]);
    // Segments 1.. first: they are copied out of the read before segment 0 is rewritten
    // in place.
    let mut n = 1;
    for k in 1..want {
        let from = s.hdr_len + k * s.gso;
        let seg = s.gso.min(s.total - from);
        let new = st.pool.alloc();
        let dst = match mem::bytes_mut(new, SLOT_SIZE) {
            Some(d) if new != 0 => d,
            _ => break,
        };
        let pkt = &mut dst[HEADROOM..HEADROOM + s.hdr_len + seg];
        pkt[..s.hdr_len].copy_from_slice(&tmpl[..s.hdr_len]);
        if !read.copy(from, &mut pkt[s.hdr_len..]) {
            st.pool.free(new);
            break;
        }
        finish_segment(pkt, &s, k, k == nseg - 1);
        out.push(at + n, new, s.hdr_len + seg);
        n += 1;
    }
    for _ in n..nseg {
        st.drops.count(E_EXHAUSTED);
    }
    // Segment 0: header and the first payload bytes are in the slot already, except when
    // the slot's head ended inside it (a head_cap shorter than one segment).
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
    out.push(at, off, need);
    st.offload.tso_super += 1;
    st.offload.tso_segments += n as u64;
    Ok(n)
}

fn overlaps(a: u32, alen: usize, b: u32, blen: usize) -> bool {
    let (a, b) = (a as u64, b as u64);
    a < b + blen as u64 && b < a + alen as u64
}

/// For read i: slot `offs[i]` holds `min(lens[i], head_cap)` bytes at `+HEADROOM`, the
/// rest is at `tails[i]` (in the jumbo area), its virtio header at `hdrs + 16*i`. Writes
/// the resulting packets (IP at `+HEADROOM`) to `out_offs`/`out_lens` (at most
/// `out_cap`); returns how many. Every input slot is either among the outputs or freed
/// here (a dropped read, counted in the drop stats); segment slots come from the pool,
/// so **this call may grow memory**. Nothing is done (0) if an array is out of bounds or
/// `head_cap > SLOT_SIZE - HEADROOM`.
#[no_mangle]
pub extern "C" fn ts_tun_ingest(offs: u32, lens: u32, tails: u32, hdrs: u32, n: u32, head_cap: u32, out_offs: u32, out_lens: u32, out_cap: u32) -> u32 {
    let arrays = (mem::words(offs, n), mem::words(lens, n), mem::words(tails, n), mem::words(out_offs, out_cap), mem::words(out_lens, out_cap));
    let (o, l, t, oo, ol) = match arrays {
        (Some(o), Some(l), Some(t), Some(oo), Some(ol)) => (o, l, t, oo, ol),
        _ => return 0,
    };
    if !mem::valid(hdrs, n as u64 * HDR_STRIDE as u64) || head_cap as usize > SLOT_SIZE - HEADROOM {
        return 0;
    }
    let out = Out { offs: oo, lens: ol, cap: out_cap as usize };
    let st = state::state();
    let mut produced = 0;
    for i in 0..o.len() {
        let hdr = match mem::read::<{ vnet::LEN }>(hdrs + (i * HDR_STRIDE) as u32) {
            Some(h) => h,
            None => [0; vnet::LEN],
        };
        let off = o.get(i);
        match ingest_one(st, off, l.get(i) as usize, t.get(i), &hdr, head_cap as usize, &out, produced) {
            Ok(k) => produced += k,
            Err(code) => {
                st.drops.count(code);
                st.pool.free(off);
            }
        }
    }
    produced as u32
}

// ---------------------------------------------------------------- plan (slots → TUN)

/// A TCP flow: family, addresses, ports.
#[derive(Clone, Copy, PartialEq)]
struct FlowKey {
    v6: bool,
    src: [u8; 16],
    dst: [u8; 16],
    ports: u32,
}

impl FlowKey {
    const ZERO: FlowKey = FlowKey { v6: false, src: [0; 16], dst: [0; 16], ports: 0 };
}

/// A TCP segment that could join a unit.
struct Segment {
    key: FlowKey,
    ip_hl: usize,
    tcp_hl: usize,
    payload: usize,
    seq: u32,
    ack: u32,
    psh: bool,
}

#[derive(Clone, Copy)]
struct Unit {
    first: u16,
    last: u16,
    count: u16,
    /// Payload size of the first segment: every merged one but the last has it.
    gso: u16,
    payload: u32,
    next_seq: u32,
    ack: u32,
    ip_hl: u8,
    tcp_hl: u8,
    psh: bool,
    /// The first packet's checksum was verified (done lazily, on the first merge).
    first_ok: bool,
    key: FlowKey,
}

impl Unit {
    const ZERO: Unit = Unit {
        first: 0,
        last: 0,
        count: 0,
        gso: 0,
        payload: 0,
        next_seq: 0,
        ack: 0,
        ip_hl: 0,
        tcp_hl: 0,
        psh: false,
        first_ok: false,
        key: FlowKey::ZERO,
    };
}

/// Per-call tables of `ts_tun_plan` (in the private state: too big for the stack).
pub struct Plan {
    units: [Unit; MAX_PLAN],
    /// Next packet of the same unit, NONE16 at the end.
    next: [u16; MAX_PLAN],
    /// Units still accepting segments (indices into `units`), oldest first.
    open: [u16; MAX_OPEN],
    n_open: usize,
}

impl Plan {
    pub const ZERO: Plan = Plan { units: [Unit::ZERO; MAX_PLAN], next: [0; MAX_PLAN], open: [0; MAX_OPEN], n_open: 0 };

    fn close(&mut self, k: usize) {
        if k < self.n_open {
            self.open.copy_within(k + 1..self.n_open, k);
            self.n_open -= 1;
        }
    }

    fn open_unit(&mut self, u: u16) {
        if self.n_open == MAX_OPEN {
            self.close(0);
        }
        self.open[self.n_open] = u;
        self.n_open += 1;
    }
}

/// Offload counters (`ts_offload_stats`).
pub struct OffloadStats {
    pub tso_super: u64,
    pub tso_segments: u64,
    pub csum_completed: u64,
    pub units_coalesced: u64,
    pub packets_coalesced: u64,
    pub bad_checksum: u64,
}

impl OffloadStats {
    pub const ZERO: OffloadStats =
        OffloadStats { tso_super: 0, tso_segments: 0, csum_completed: 0, units_coalesced: 0, packets_coalesced: 0, bad_checksum: 0 };
}

/// The flow of a TCP packet (any TCP packet: a non-candidate still ends its flow's unit),
/// and the segment if it may be coalesced: no IPv4 options or fragment, ACK or ACK|PSH
/// only, a payload, lengths consistent.
fn classify(pkt: &[u8]) -> (Option<FlowKey>, Option<Segment>) {
    let p = match ip::Packet::new_checked(pkt) {
        Ok(p) => p,
        Err(_) => return (None, None),
    };
    if p.protocol() != PROTO_TCP || p.total_len() != pkt.len() {
        return (None, None);
    }
    let ip_hl = p.header_len();
    let th = match tcp::Header::new_checked(&pkt[ip_hl..]) {
        Ok(t) => t,
        Err(_) => return (None, None),
    };
    let v6 = p.version() == 6;
    let mut key = FlowKey { v6, src: [0; 16], dst: [0; 16], ports: th.ports() };
    let (s, d) = (p.src_addr(), p.dst_addr());
    key.src[..s.len()].copy_from_slice(s);
    key.dst[..d.len()].copy_from_slice(d);
    let tcp_hl = th.header_len();
    let payload = pkt.len() - ip_hl - tcp_hl;
    let flags = th.flags();
    let plain_ip = v6 || (ip_hl == 20 && !p.is_fragment());
    if !plain_ip || payload == 0 || (flags != tcp::ACK && flags != tcp::ACK | tcp::PSH) {
        return (Some(key), None);
    }
    let seg = Segment { key, ip_hl, tcp_hl, payload, seq: th.seq(), ack: th.ack(), psh: flags & tcp::PSH != 0 };
    (Some(key), Some(seg))
}

/// IP fields that must match for two packets to be one super-packet (beyond the flow):
/// IPv4 TOS, DF/reserved flags and TTL; IPv6 traffic class, flow label and hop limit.
fn ip_fields_match(a: &ip::Packet<&[u8]>, b: &ip::Packet<&[u8]>, v6: bool) -> bool {
    if v6 {
        a.v6_first_word() == b.v6_first_word() && a.hop_limit() == b.hop_limit()
    } else {
        a.tos() == b.tos() && a.v4_flags() == b.v4_flags() && a.hop_limit() == b.hop_limit()
    }
}

/// TCP options of `pkt` (IP header `ip_hl` bytes), if its TCP header is whole.
fn tcp_options(pkt: &[u8], ip_hl: usize) -> Option<&[u8]> {
    let th = tcp::Header::new_checked(pkt.get(ip_hl..)?).ok()?;
    Some(th.options())
}

fn tcp_checksum_ok(pkt: &[u8], seg: &Segment) -> bool {
    let (s, d) = if seg.key.v6 { (&seg.key.src[..], &seg.key.dst[..]) } else { (&seg.key.src[..4], &seg.key.dst[..4]) };
    let acc = checksum::pseudo_header(s, d, PROTO_TCP, (pkt.len() - seg.ip_hl) as u32);
    checksum::verifies(checksum::add(acc, &pkt[seg.ip_hl..]))
}

fn packet(offs: &Words, lens: &Words, i: usize) -> Option<&'static [u8]> {
    let len = lens.get(i) as usize;
    if len == 0 || len > SLOT_SIZE - HEADROOM {
        return None;
    }
    mem::bytes(offs.get(i).wrapping_add(HEADROOM as u32), len)
}

/// Can `seg` (packet `pkt`) be appended to unit `u`? Checksums are verified last (they
/// cost a pass over the bytes).
fn can_append(st: &mut State, u: usize, seg: &Segment, pkt: &[u8], offs: &Words, lens: &Words) -> bool {
    let unit = st.plan.units[u];
    let first = match packet(offs, lens, unit.first as usize) {
        Some(p) => p,
        None => return false,
    };
    let first_ip = match ip::Packet::new_checked(first) {
        Ok(p) => p,
        Err(_) => return false,
    };
    let hl = seg.ip_hl + seg.tcp_hl;
    let fits = (unit.count as usize) < MAX_UNIT_SEGS
        && hl + unit.payload as usize + seg.payload <= MAX_UNIT_LEN
        && seg.payload <= unit.gso as usize
        && unit.payload as usize % unit.gso as usize == 0
        && !unit.psh
        && seg.seq == unit.next_seq
        && seg.ack == unit.ack
        && seg.ip_hl == unit.ip_hl as usize
        && seg.tcp_hl == unit.tcp_hl as usize
        && tcp_options(first, seg.ip_hl) == tcp_options(pkt, seg.ip_hl)
        && ip_fields_match(&first_ip, &ip::Packet::new_unchecked(pkt), seg.key.v6);
    if !fits {
        return false;
    }
    if !unit.first_ok {
        let (_, first_seg) = classify(first);
        match first_seg {
            Some(fs) if tcp_checksum_ok(first, &fs) => st.plan.units[u].first_ok = true,
            _ => {
                st.offload.bad_checksum += 1;
                return false;
            }
        }
    }
    if !tcp_checksum_ok(pkt, seg) {
        st.offload.bad_checksum += 1;
        return false;
    }
    true
}

/// Groups packet i (IP at `offs[i] + HEADROOM`, `lens[i]` bytes, i < n) into write units.
/// Writes unit u at `units + 16u` as u32s `[hdr_ptr, hdr_len, first_piece, n_pieces]` and
/// piece k at `pieces + 12k` as `[ptr, len, packet index]`; the header of unit u (virtio
/// header, then for a merged unit the rewritten IP+TCP header) is at
/// `hdr_area + UNIT_HDR_STRIDE*u`. Write a unit as one `writev` of its header and pieces.
/// With `coalesce` 0 every packet is its own unit (zero virtio header + whole packet).
/// Returns the number of units; packets not accessible or of length 0 or above
/// `SLOT_SIZE - HEADROOM` get no unit (counted as `E_BAD_ARG`). `E_BAD_ARG` (nothing
/// written) if `n > MAX_PLAN` or an array is out of bounds.
#[no_mangle]
pub extern "C" fn ts_tun_plan(offs: u32, lens: u32, n: u32, units: u32, pieces: u32, hdr_area: u32, coalesce: u32) -> i32 {
    if n as usize > MAX_PLAN {
        return E_BAD_ARG;
    }
    let (o, l, uw, pw) = match (mem::words(offs, n), mem::words(lens, n), mem::words(units, 4 * n), mem::words(pieces, 3 * n)) {
        (Some(o), Some(l), Some(u), Some(p)) => (o, l, u, p),
        _ => return E_BAD_ARG,
    };
    if !mem::valid(hdr_area, n as u64 * UNIT_HDR_STRIDE as u64) {
        return E_BAD_ARG;
    }
    let st = state::state();
    st.plan.n_open = 0;
    let mut n_units = 0usize;
    for i in 0..n as usize {
        let pkt = match packet(&o, &l, i) {
            Some(p) => p,
            None => {
                st.drops.count(E_BAD_ARG);
                continue;
            }
        };
        st.plan.next[i] = NONE16;
        let (key, seg) = if coalesce != 0 { classify(pkt) } else { (None, None) };
        if let Some(key) = key {
            let found = (0..st.plan.n_open).find(|&k| st.plan.units[st.plan.open[k] as usize].key == key);
            if let (Some(k), Some(seg)) = (found, seg.as_ref()) {
                let u = st.plan.open[k] as usize;
                if can_append(st, u, seg, pkt, &o, &l) {
                    let unit = &mut st.plan.units[u];
                    st.plan.next[unit.last as usize] = i as u16;
                    unit.last = i as u16;
                    unit.count += 1;
                    unit.payload += seg.payload as u32;
                    unit.next_seq = unit.next_seq.wrapping_add(seg.payload as u32);
                    unit.psh = seg.psh;
                    // A short segment or PSH ends the unit.
                    if seg.payload < unit.gso as usize || seg.psh {
                        st.plan.close(k);
                    }
                    continue;
                }
            }
            if let Some(k) = found {
                st.plan.close(k);
            }
        }
        let mut unit = Unit::ZERO;
        unit.first = i as u16;
        unit.last = i as u16;
        unit.count = 1;
        if let Some(seg) = seg {
            unit.gso = seg.payload as u16;
            unit.payload = seg.payload as u32;
            unit.next_seq = seg.seq.wrapping_add(seg.payload as u32);
            unit.ack = seg.ack;
            unit.ip_hl = seg.ip_hl as u8;
            unit.tcp_hl = seg.tcp_hl as u8;
            unit.psh = seg.psh;
            unit.key = seg.key;
            st.plan.units[n_units] = unit;
            if !seg.psh {
                st.plan.open_unit(n_units as u16);
            }
        } else {
            st.plan.units[n_units] = unit;
        }
        n_units += 1;
    }
    // Emit units in order of their first packet, pieces contiguous per unit.
    let mut piece = 0usize;
    for u in 0..n_units {
        let unit = st.plan.units[u];
        let hdr_ptr = hdr_area + (u * UNIT_HDR_STRIDE) as u32;
        let first_piece = piece;
        let mut hdr = [0u8; vnet::LEN + MAX_HDR_LEN];
        let mut hdr_len = vnet::LEN;
        if unit.count > 1 {
            hdr_len += build_unit_header(&unit, &o, &l, &mut hdr);
            st.offload.units_coalesced += 1;
            st.offload.packets_coalesced += unit.count as u64;
        }
        // Within the checked hdr_area range, so this cannot fail.
        mem::write(hdr_ptr, &hdr[..hdr_len]);
        let skip = hdr_len - vnet::LEN;
        let mut i = unit.first;
        while i != NONE16 && piece < n as usize {
            let at = i as usize;
            pw.set(3 * piece, o.get(at).wrapping_add((HEADROOM + skip) as u32));
            pw.set(3 * piece + 1, l.get(at).wrapping_sub(skip as u32));
            pw.set(3 * piece + 2, at as u32);
            piece += 1;
            i = st.plan.next[at];
        }
        uw.set(4 * u, hdr_ptr);
        uw.set(4 * u + 1, hdr_len as u32);
        uw.set(4 * u + 2, first_piece as u32);
        uw.set(4 * u + 3, (piece - first_piece) as u32);
    }
    n_units as i32
}

/// Virtio header + the first packet's IP and TCP header rewritten for the whole unit:
/// lengths, IPv4 header checksum, PSH of the last segment, and the TCP checksum field set
/// to the pseudo-header sum (NEEDS_CSUM: the kernel treats the payload as verified; every
/// merged segment's own checksum was checked before it was merged). Returns the IP+TCP
/// header length written after the virtio header.
fn build_unit_header(unit: &Unit, offs: &Words, lens: &Words, out: &mut [u8; vnet::LEN + MAX_HDR_LEN]) -> usize {
    let (ip_hl, tcp_hl) = (unit.ip_hl as usize, unit.tcp_hl as usize);
    let hl = ip_hl + tcp_hl;
    let first = match packet(offs, lens, unit.first as usize) {
        Some(p) if p.len() >= hl && hl <= MAX_HDR_LEN => p,
        _ => return 0,
    };
    let total = hl + unit.payload as usize;
    let v6 = unit.key.v6;
    vnet::Header::new_unchecked(&mut out[..vnet::LEN]).set(
        vnet::F_NEEDS_CSUM,
        if v6 { vnet::GSO_TCPV6 } else { vnet::GSO_TCPV4 },
        hl as u16,
        unit.gso,
        ip_hl as u16,
        tcp::field::CHECKSUM.start as u16,
    );
    let h = &mut out[vnet::LEN..vnet::LEN + hl];
    h.copy_from_slice(&first[..hl]);
    let (iph, th) = h.split_at_mut(ip_hl);
    // A copy of the first packet's headers, which `classify` validated.
    let mut ip = ip::Packet::new_unchecked(iph);
    ip.set_total_len(total);
    if !v6 {
        ip.fill_checksum();
    }
    let mut th = tcp::Header::new_unchecked(th);
    if unit.psh {
        th.set_flags(th.flags() | tcp::PSH);
    }
    let (s, d) = if v6 { (&unit.key.src[..], &unit.key.dst[..]) } else { (&unit.key.src[..4], &unit.key.dst[..4]) };
    let partial = checksum::fold(checksum::pseudo_header(s, d, PROTO_TCP, (total - ip_hl) as u32));
    th.set_checksum(partial.to_le_bytes());
    hl
}

// ---------------------------------------------------------------- small exports

#[no_mangle]
pub extern "C" fn ts_jumbo_ptr() -> u32 {
    mem::jumbo_ptr()
}

#[no_mangle]
pub extern "C" fn ts_jumbo_len() -> u32 {
    JUMBO_LEN as u32
}

#[no_mangle]
pub extern "C" fn ts_jumbo_count() -> u32 {
    JUMBO_COUNT as u32
}

/// Writes f64[6]: super-packets split, segments produced from them, partial checksums
/// completed, units coalesced, packets in them, segments not merged for a bad checksum.
/// 0 or E_BAD_ARG.
#[no_mangle]
pub extern "C" fn ts_offload_stats(out: u32) -> i32 {
    let s = &state::state().offload;
    let v = [
        s.tso_super as f64,
        s.tso_segments as f64,
        s.csum_completed as f64,
        s.units_coalesced as f64,
        s.packets_coalesced as f64,
        s.bad_checksum as f64,
    ];
    if mem::write_f64s(out, &v) {
        0
    } else {
        E_BAD_ARG
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slab::{ts_pool_alloc, ts_pool_init, ts_scratch_ptr};

    /// RFC 1071 over big-endian words, independent of `checksum.rs`.
    fn reference(data: &[u8]) -> u16 {
        let mut s: u32 = 0;
        for c in data.chunks(2) {
            s += ((c[0] as u32) << 8) | *c.get(1).unwrap_or(&0) as u32;
            s = (s & 0xffff) + (s >> 16);
        }
        !(s as u16)
    }

    fn pseudo(pkt: &[u8], l4_len: usize, proto: u8) -> Vec<u8> {
        let mut ph = if pkt[0] >> 4 == 4 { pkt[12..20].to_vec() } else { pkt[8..40].to_vec() };
        ph.extend_from_slice(&(l4_len as u32).to_be_bytes());
        ph.extend_from_slice(&[0, 0, 0, proto]);
        ph
    }

    /// True if the IPv4 header checksum (v4) and the TCP/UDP checksum verify.
    fn valid(pkt: &[u8]) -> bool {
        let v6 = pkt[0] >> 4 == 6;
        let (hl, proto) = if v6 { (40, pkt[6]) } else { ((pkt[0] & 15) as usize * 4, pkt[9]) };
        if !v6 && reference(&pkt[..hl]) != 0 {
            return false;
        }
        let mut all = pseudo(pkt, pkt.len() - hl, proto);
        all.extend_from_slice(&pkt[hl..]);
        reference(&all) == 0
    }

    /// IPv4 (ID 0x1234, DF, TTL 64) or IPv6 TCP packet 10.0.0.1:8080 → 10.0.0.2:50000
    /// (fd00::1 → fd00::2), seq, ack 0x0a0b0c0d, `flags`, `opts` (multiple of 4), valid
    /// checksums.
    fn tcp_pkt(v6: bool, seq: u32, flags: u8, opts: &[u8], payload: &[u8]) -> Vec<u8> {
        let thl = 20 + opts.len();
        let mut p = if v6 {
            let mut h = vec![0x60, 0, 0, 0];
            h.extend_from_slice(&((thl + payload.len()) as u16).to_be_bytes());
            h.extend_from_slice(&[6, 64]);
            let mut a = [0u8; 16];
            a[0] = 0xfd;
            a[15] = 1;
            h.extend_from_slice(&a);
            a[15] = 2;
            h.extend_from_slice(&a);
            h
        } else {
            let tot = (20 + thl + payload.len()) as u16;
            let mut h = vec![0x45, 0, (tot >> 8) as u8, tot as u8, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
            let c = reference(&h);
            h[10..12].copy_from_slice(&c.to_be_bytes());
            h
        };
        let hl = p.len();
        p.extend_from_slice(&[0x1f, 0x90, 0xc3, 0x50]);
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&[0x0a, 0x0b, 0x0c, 0x0d, ((thl / 4) as u8) << 4, flags, 0x01, 0x00, 0, 0, 0, 0]);
        p.extend_from_slice(opts);
        p.extend_from_slice(payload);
        let mut all = pseudo(&p, p.len() - hl, 6);
        all.extend_from_slice(&p[hl..]);
        let c = reference(&all);
        p[hl + 16..hl + 18].copy_from_slice(&c.to_be_bytes());
        p
    }

    struct Bed {
        s: u32,
    }

    impl Bed {
        fn new() -> Bed {
            state::fresh();
            assert_eq!(ts_pool_init(64, 4096), 0);
            Bed { s: ts_scratch_ptr() }
        }
        // Scratch layout: offs 0, lens 4096, tails 8192, hdrs 12288, out_offs 32768, out_lens 40960.
        fn put(&self, arr: u32, i: usize, v: u32) {
            assert!(mem::write(self.s + arr + 4 * i as u32, &v.to_le_bytes()));
        }
        fn get(&self, arr: u32, i: usize) -> u32 {
            u32::from_le_bytes(mem::read::<4>(self.s + arr + 4 * i as u32).unwrap())
        }
        /// Loads one read: `pkt` split at `head_cap` between a fresh slot and jumbo `j`.
        fn read(&self, i: usize, hdr: [u8; 10], pkt: &[u8], head_cap: usize, j: u32) -> u32 {
            let off = ts_pool_alloc();
            let head = pkt.len().min(head_cap);
            assert!(mem::write(off + HEADROOM as u32, &pkt[..head]));
            let tail = if pkt.len() > head {
                let t = mem::jumbo_ptr() + j * JUMBO_LEN as u32;
                assert!(mem::write(t, &pkt[head..]));
                t
            } else {
                0
            };
            self.put(0, i, off);
            self.put(4096, i, pkt.len() as u32);
            self.put(8192, i, tail);
            assert!(mem::write(self.s + 12288 + 16 * i as u32, &hdr));
            off
        }
        fn ingest(&self, n: u32, head_cap: u32, out_cap: u32) -> Vec<Vec<u8>> {
            let s = self.s;
            let k = ts_tun_ingest(s, s + 4096, s + 8192, s + 12288, n, head_cap, s + 32768, s + 40960, out_cap);
            (0..k as usize)
                .map(|i| mem::bytes(self.get(32768, i) + HEADROOM as u32, self.get(40960, i) as usize).unwrap().to_vec())
                .collect()
        }
    }

    fn hdr(flags: u8, gso_type: u8, hdr_len: u16, gso: u16, start: u16, offset: u16) -> [u8; 10] {
        let mut h = [0u8; 10];
        vnet::Header::new_unchecked(&mut h[..]).set(flags, gso_type, hdr_len, gso, start, offset);
        h
    }

    #[test]
    fn tso_v4_byte_literal() {
        let b = Bed::new();
        // 10 payload bytes, gso_size 4, flags CWR|ACK|PSH, TCP checksum left partial (0).
        let mut sup = tcp_pkt(false, 0x0102_0304, 0x98, &[], b"abcdefghij");
        sup[36] = 0;
        sup[37] = 0;
        let slot = b.read(0, hdr(vnet::F_NEEDS_CSUM, vnet::GSO_TCPV4, 40, 4, 20, 16), &sup, 2000, 0);
        let segs = b.ingest(1, 2000, 64);
        let want: [&[u8]; 3] = [
            &[
                0x45, 0x00, 0x00, 0x2c, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06, 0x14, 0x96, 0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x02, 0x1f, 0x90,
                0xc3, 0x50, 0x01, 0x02, 0x03, 0x04, 0x0a, 0x0b, 0x0c, 0x0d, 0x50, 0x90, 0x01, 0x00, 0xd8, 0x88, 0x00, 0x00, 0x61, 0x62, 0x63, 0x64,
            ],
            &[
                0x45, 0x00, 0x00, 0x2c, 0x12, 0x35, 0x40, 0x00, 0x40, 0x06, 0x14, 0x95, 0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x02, 0x1f, 0x90,
                0xc3, 0x50, 0x01, 0x02, 0x03, 0x08, 0x0a, 0x0b, 0x0c, 0x0d, 0x50, 0x10, 0x01, 0x00, 0xd0, 0xfc, 0x00, 0x00, 0x65, 0x66, 0x67, 0x68,
            ],
            &[
                0x45, 0x00, 0x00, 0x2a, 0x12, 0x36, 0x40, 0x00, 0x40, 0x06, 0x14, 0x96, 0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x02, 0x1f, 0x90,
                0xc3, 0x50, 0x01, 0x02, 0x03, 0x0c, 0x0a, 0x0b, 0x0c, 0x0d, 0x50, 0x18, 0x01, 0x00, 0x34, 0x57, 0x00, 0x00, 0x69, 0x6a,
            ],
        ];
        assert_eq!(segs.len(), 3);
        for (k, w) in want.iter().enumerate() {
            assert_eq!(&segs[k][..], *w, "segment {}", k);
        }
        assert_eq!(b.get(32768, 0), slot, "segment 0 stays in the read's slot");
        let st = &state::state().offload;
        assert_eq!((st.tso_super, st.tso_segments), (1, 3));
    }

    #[test]
    fn tso_v6_with_options_across_head_and_tail() {
        let b = Bed::new();
        let payload: Vec<u8> = (0..5000u32).map(|i| (i * 7 + 3) as u8).collect();
        let opts = [1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 7]; // NOP NOP timestamps
        let sup = tcp_pkt(true, 0xffff_f000, 0x18, &opts, &payload); // seq wraps
        let h = hdr(vnet::F_NEEDS_CSUM, vnet::GSO_TCPV6, 72, 1388, 40, 16);
        // Head ends inside segment 0 (head_cap 100 < 72 + 1388): its rest comes from the tail.
        for head_cap in [2000u32, 1461, 100] {
            let b2 = Bed::new();
            b2.read(0, h, &sup, head_cap as usize, 3);
            let segs = b2.ingest(1, head_cap, 64);
            assert_eq!(segs.len(), 4, "head_cap {}", head_cap);
            let mut joined = Vec::new();
            for (k, s) in segs.iter().enumerate() {
                assert!(valid(s), "segment {} checksum", k);
                let pl = if k < 3 { 1388 } else { 5000 - 3 * 1388 };
                assert_eq!(s.len(), 72 + pl);
                assert_eq!(u16::from_be_bytes([s[4], s[5]]) as usize, 32 + pl);
                let seq = u32::from_be_bytes([s[44], s[45], s[46], s[47]]);
                assert_eq!(seq, 0xffff_f000u32.wrapping_add(1388 * k as u32));
                assert_eq!(s[53], if k == 3 { 0x18 } else { 0x10 });
                assert_eq!(&s[60..72], &opts);
                assert_eq!(&s[..4], &sup[..4]);
                joined.extend_from_slice(&s[72..]);
            }
            assert_eq!(joined, payload);
        }
        drop(b);
    }

    #[test]
    fn uso_v4_and_needs_csum_plain_packets() {
        let b = Bed::new();
        // UDP 10.0.0.1:5000 → 10.0.0.2:6000, 3000 bytes, gso 1200; checksum field partial.
        let mut u = vec![0x45, 0, 0x0b, 0xd4, 0, 7, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0x13, 0x88, 0x17, 0x70, 0x0b, 0xc0, 0, 0];
        u.extend((0..3000u32).map(|i| i as u8));
        b.read(0, hdr(vnet::F_NEEDS_CSUM, vnet::GSO_UDP_L4, 28, 1200, 20, 6), &u, 2000, 0);
        // A plain TCP packet whose checksum the kernel left partial (pseudo-header sum).
        let mut t = tcp_pkt(false, 7, 0x10, &[], b"hello");
        let full = t.clone();
        let ph = pseudo(&t, 25, 6);
        let partial = !reference(&ph);
        t[36..38].copy_from_slice(&partial.to_be_bytes());
        b.read(1, hdr(vnet::F_NEEDS_CSUM, 0, 0, 0, 20, 16), &t, 2000, 1);
        // A plain packet with a complete checksum and trailing bytes beyond its length.
        let mut plain = tcp_pkt(false, 9, 0x10, &[], b"x");
        let exact = plain.clone();
        plain.extend_from_slice(&[0xee; 3]);
        b.read(2, [0; 10], &plain, 2000, 2);
        let out = b.ingest(3, 2000, 64);
        assert_eq!(out.len(), 5);
        for (k, s) in out[..3].iter().enumerate() {
            assert!(valid(s), "udp segment {}", k);
            let pl = if k < 2 { 1200 } else { 600 };
            assert_eq!(u16::from_be_bytes([s[24], s[25]]) as usize, 8 + pl);
            assert_eq!(u16::from_be_bytes([s[4], s[5]]), 7 + k as u16);
            assert_eq!(&s[28..], &u[28 + 1200 * k..28 + 1200 * k + pl]);
        }
        assert_eq!(out[3], full);
        assert_eq!(out[4], exact);
        assert_eq!(state::state().offload.csum_completed, 1);
    }

    #[test]
    fn truncated_and_oversized_reads_are_dropped_and_freed() {
        let b = Bed::new();
        let sup = tcp_pkt(false, 1, 0x10, &[], &[0x55; 3000]);
        let good = hdr(1, vnet::GSO_TCPV4, 40, 1000, 20, 16);
        let mut cut = sup[..30].to_vec();
        cut[2] = 0;
        cut[3] = 30;
        let cases: Vec<(Vec<u8>, [u8; 10], i32)> = vec![
            (cut, good, E_TRUNCATED),                                        // TCP header cut
            (sup[..2000].to_vec(), good, E_BAD_TOTAL_LEN),                   // total > bytes
            (sup.clone(), hdr(1, vnet::GSO_TCPV6, 40, 1000, 20, 16), E_BAD_GSO), // v4 bytes, v6 type
            (sup.clone(), hdr(1, vnet::GSO_TCPV4, 40, 0, 20, 16), E_BAD_GSO), // gso_size 0
            (sup.clone(), hdr(1, vnet::GSO_TCPV4, 40, 1000, 24, 16), E_BAD_GSO), // csum_start != IHL
            (sup.clone(), hdr(1, vnet::GSO_TCPV4, 40, 1990, 20, 16), E_TOO_BIG), // segment > slot
            (sup.clone(), hdr(1, 3, 40, 1000, 20, 16), E_BAD_GSO),            // GSO_UDP (UFO)
            (tcp_pkt(false, 1, 0x10, &[], b"ab"), hdr(1, 0, 0, 0, 20, 40), E_BAD_GSO), // csum past end
            (vec![0x45; 10], [0; 10], E_TRUNCATED),                          // plain, too short
        ];
        let before = state::state().pool.stats()[2];
        for (i, (pkt, h, _)) in cases.iter().enumerate() {
            b.read(i, *h, pkt, 2000, i as u32);
        }
        // A tail outside the jumbo area and a length beyond head + one jumbo buffer.
        let n = cases.len();
        b.read(n, good, &sup, 2000, 0);
        b.put(8192, n, b.get(0, 0));
        b.read(n + 1, good, &sup, 2000, 1);
        b.put(4096, n + 1, (2000 + JUMBO_LEN + 1) as u32);
        assert!(b.ingest((n + 2) as u32, 2000, 64).is_empty());
        assert_eq!(state::state().pool.stats()[2], before, "every slot freed");
        let d = &state::state().drops;
        for code in [E_TRUNCATED, E_BAD_TOTAL_LEN, E_BAD_GSO, E_TOO_BIG, E_BAD_ARG] {
            let want = cases.iter().filter(|c| c.2 == code).count() as u64 + (code == E_BAD_ARG || code == E_TOO_BIG) as u64;
            assert_eq!(d.get(code), want, "code {}", code);
        }
        // Bad arrays or head_cap: nothing done.
        let s = b.s;
        assert_eq!(ts_tun_ingest(0, s, s, s, 1, 2000, s, s, 1), 0);
        assert_eq!(ts_tun_ingest(s, s, s, s, 1, 2033, s, s, 1), 0);
        assert_eq!(ts_tun_ingest(s, s, s, u32::MAX - 8, 1, 2000, s, s, 1), 0);
    }

    #[test]
    fn output_capacity_and_pool_exhaustion() {
        let b = Bed::new();
        let sup = tcp_pkt(false, 1, 0x10, &[], &[0x33; 10_000]);
        b.read(0, hdr(1, vnet::GSO_TCPV4, 40, 1000, 20, 16), &sup, 2000, 0);
        // Room for 4 of 10 segments: the rest is dropped and counted.
        let out = b.ingest(1, 2000, 4);
        assert_eq!(out.len(), 4);
        assert!(out.iter().all(|s| valid(s)));
        assert_eq!(state::state().drops.get(E_EXHAUSTED), 6);
        // No output room at all: the read is dropped.
        let b = Bed::new();
        b.read(0, hdr(1, vnet::GSO_TCPV4, 40, 1000, 20, 16), &sup, 2000, 0);
        assert!(b.ingest(1, 2000, 0).is_empty());
        assert_eq!(state::state().pool.stats()[2], 0.0);
    }

    // ------------------------------------------------------------------ plan

    struct Planned {
        units: Vec<(Vec<u8>, Vec<(u32, u32, u32)>)>,
    }

    /// Loads `pkts` into slots and plans them.
    fn plan(pkts: &[Vec<u8>], coalesce: u32) -> (Planned, Vec<u32>) {
        state::fresh();
        assert_eq!(ts_pool_init(64, 4096), 0);
        let s = ts_scratch_ptr();
        let mut offs = Vec::new();
        for (i, p) in pkts.iter().enumerate() {
            let off = ts_pool_alloc();
            assert!(mem::write(off + HEADROOM as u32, p));
            assert!(mem::write(s + 4 * i as u32, &off.to_le_bytes()));
            assert!(mem::write(s + 8192 + 4 * i as u32, &(p.len() as u32).to_le_bytes()));
            offs.push(off);
        }
        let (units, pieces, area) = (s + 16384, s + 65536, s + 131072);
        let n = ts_tun_plan(s, s + 8192, pkts.len() as u32, units, pieces, area, coalesce);
        assert!(n >= 0);
        let w = |at: u32| u32::from_le_bytes(mem::read::<4>(at).unwrap());
        let mut out = Vec::new();
        for u in 0..n as u32 {
            let (hp, hl, fp, np) = (w(units + 16 * u), w(units + 16 * u + 4), w(units + 16 * u + 8), w(units + 16 * u + 12));
            assert_eq!(hp, area + UNIT_HDR_STRIDE as u32 * u);
            let hdr = mem::bytes(hp, hl as usize).unwrap().to_vec();
            let ps = (fp..fp + np).map(|k| (w(pieces + 12 * k), w(pieces + 12 * k + 4), w(pieces + 12 * k + 8))).collect();
            out.push((hdr, ps));
        }
        (Planned { units: out }, offs)
    }

    /// The bytes a unit's writev would hand the kernel (after the virtio header).
    fn gather(hdr: &[u8], pieces: &[(u32, u32, u32)]) -> Vec<u8> {
        let mut v = hdr[10..].to_vec();
        for &(p, l, _) in pieces {
            v.extend_from_slice(mem::bytes(p, l as usize).unwrap());
        }
        v
    }

    #[test]
    fn coalesces_in_order_segments_byte_literal_header() {
        let a = tcp_pkt(false, 0x0102_0304, 0x10, &[], b"abcd");
        let b = tcp_pkt(false, 0x0102_0308, 0x10, &[], b"efgh");
        let c = tcp_pkt(false, 0x0102_030c, 0x18, &[], b"ij");
        let (p, offs) = plan(&[a.clone(), b.clone(), c.clone()], 1);
        assert_eq!(p.units.len(), 1);
        let (hdr, pieces) = &p.units[0];
        // virtio: NEEDS_CSUM, TCPV4, hdr_len 40, gso_size 4, csum at 20 + 16.
        assert_eq!(&hdr[..10], &[1, 1, 40, 0, 4, 0, 20, 0, 16, 0]);
        // IPv4 total 50, checksum redone; TCP flags ACK|PSH (from the last); TCP checksum =
        // pseudo-header sum 0a00+0001+0a00+0002+0006+001e = 0x1427.
        assert_eq!(
            &hdr[10..],
            &[
                0x45, 0x00, 0x00, 0x32, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06, 0x14, 0x90, 0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x02, 0x1f,
                0x90, 0xc3, 0x50, 0x01, 0x02, 0x03, 0x04, 0x0a, 0x0b, 0x0c, 0x0d, 0x50, 0x18, 0x01, 0x00, 0x14, 0x27, 0x00, 0x00,
            ][..]
        );
        assert_eq!(pieces.len(), 3);
        for (k, &(ptr, len, pkt)) in pieces.iter().enumerate() {
            assert_eq!((ptr, pkt), (offs[k] + HEADROOM as u32 + 40, k as u32));
            assert_eq!(len, if k < 2 { 4 } else { 2 });
        }
        assert_eq!(&gather(hdr, pieces)[40..], b"abcdefghij");
        // The packets themselves are untouched (fallback can still write them one by one).
        assert_eq!(mem::bytes(offs[0] + 16, a.len()).unwrap(), &a[..]);
        let st = &state::state().offload;
        assert_eq!((st.units_coalesced, st.packets_coalesced), (1, 3));
    }

    #[test]
    fn ingest_then_plan_round_trips_a_v6_super_packet() {
        let b = Bed::new();
        let payload: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
        let opts = [1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 7];
        let sup = tcp_pkt(true, 1000, 0x18, &opts, &payload);
        b.read(0, hdr(1, vnet::GSO_TCPV6, 72, 1388, 40, 16), &sup, 2000, 0);
        let segs = b.ingest(1, 2000, 64);
        assert_eq!(segs.len(), 15);
        let (p, _) = plan(&segs, 1);
        assert_eq!(p.units.len(), 1);
        let (hdr, pieces) = &p.units[0];
        assert_eq!(&hdr[..10], &[1, 4, 72, 0, 0x6c, 0x05, 40, 0, 16, 0]);
        let mut got = gather(hdr, pieces);
        // Only the TCP checksum differs: partial (pseudo-header) instead of complete.
        let mut want = sup.clone();
        want[56] = 0;
        want[57] = 0;
        got[56] = 0;
        got[57] = 0;
        assert_eq!(got, want);
    }

    #[test]
    fn what_breaks_a_unit() {
        let seg = |seq: u32, flags: u8, pl: &[u8]| tcp_pkt(false, seq, flags, &[], pl);
        let mut other_flow = seg(100, 0x10, b"zz");
        other_flow[22] = 0x99; // other destination port (checksum no longer matters: single)
        let mut bad_csum = seg(12, 0x10, b"mnop");
        bad_csum[39] ^= 0xff;
        let mut ttl = seg(20, 0x10, b"qrst");
        ttl[8] = 63;
        let pkts = vec![
            seg(0, 0x10, b"abcd"),  // u0
            other_flow,             // u1: another flow
            seg(4, 0x10, b"efgh"),  // → u0
            seg(8, 0x10, b"ij"),    // → u0; short, so u0 is closed
            bad_csum,               // u2
            seg(16, 0x10, b"qrst"), // u3: u2's first packet fails its checksum
            ttl,                    // u4: TTL differs from u3's
            seg(24, 0x11, b"uvwx"), // u5: FIN is not a candidate (and closes u4)
            seg(28, 0x10, b""),     // u6: pure ACK
            vec![0x60; 40],         // u7: not TCP
        ];
        let (p, _) = plan(&pkts, 1);
        let shape: Vec<Vec<u32>> = p.units.iter().map(|(_, ps)| ps.iter().map(|x| x.2).collect()).collect();
        assert_eq!(shape, vec![vec![0, 2, 3], vec![1], vec![4], vec![5], vec![6], vec![7], vec![8], vec![9]]);
        assert_eq!(state::state().offload.bad_checksum, 1);
        // Singles: zero virtio header and the whole packet.
        for (u, (hdr, ps)) in p.units.iter().enumerate().skip(1) {
            assert_eq!(hdr, &vec![0u8; 10], "unit {}", u);
            assert_eq!(ps[0].1 as usize, pkts[ps[0].2 as usize].len());
        }
        // Sequence gap, ACK change, option change, bigger segment after a smaller gso.
        let mut ack = seg(8, 0x10, b"ijkl");
        ack[31] = 0x0e;
        let ack_fix = {
            let c = [0u8, 0];
            let mut a = ack.clone();
            a[36..38].copy_from_slice(&c);
            let mut all = pseudo(&a, a.len() - 20, 6);
            all.extend_from_slice(&a[20..]);
            let r = reference(&all);
            a[36..38].copy_from_slice(&r.to_be_bytes());
            a
        };
        let pkts = vec![seg(0, 0x10, b"abcd"), seg(5, 0x10, b"efgh"), ack_fix, seg(12, 0x10, b"mnopq")];
        let (p, _) = plan(&pkts, 1);
        assert_eq!(p.units.len(), 4);
        // coalesce = 0: one unit per packet even for a perfect run.
        let pkts = vec![seg(0, 0x10, b"abcd"), seg(4, 0x10, b"efgh")];
        let (p, _) = plan(&pkts, 0);
        assert_eq!(p.units.len(), 2);
    }

    #[test]
    fn unit_limits_and_bad_input() {
        // 70 full segments: a unit stops at MAX_UNIT_SEGS.
        let pkts: Vec<Vec<u8>> = (0..70u32).map(|k| tcp_pkt(false, k * 100, 0x10, &[], &[k as u8; 100])).collect();
        let (p, _) = plan(&pkts, 1);
        let sizes: Vec<usize> = p.units.iter().map(|u| u.1.len()).collect();
        assert_eq!(sizes, vec![64, 6]);
        // 1400-byte segments: a unit stays within 65535 bytes.
        let pkts: Vec<Vec<u8>> = (0..50u32).map(|k| tcp_pkt(false, k * 1400, 0x10, &[], &[1; 1400])).collect();
        let (p, _) = plan(&pkts, 1);
        assert_eq!(p.units[0].1.len(), (65535 - 40) / 1400);
        // Lengths 0, too big, and an inaccessible slot get no unit.
        let (p, offs) = plan(&[tcp_pkt(false, 0, 0x10, &[], b"a"), vec![0x45; 20]], 1);
        assert_eq!(p.units.len(), 2);
        let s = ts_scratch_ptr();
        assert!(mem::write(s + 8192, &0u32.to_le_bytes()));
        assert!(mem::write(s + 8196, &4000u32.to_le_bytes()));
        assert_eq!(ts_tun_plan(s, s + 8192, 2, s + 16384, s + 65536, s + 131072, 1), 0);
        assert!(mem::write(s, &u32::MAX.to_le_bytes()));
        assert!(mem::write(s + 8192, &20u32.to_le_bytes()));
        assert_eq!(ts_tun_plan(s, s + 8192, 1, s + 16384, s + 65536, s + 131072, 1), 0);
        assert_eq!(state::state().drops.get(E_BAD_ARG), 3);
        drop(offs);
        // Bad arrays, too many packets.
        assert_eq!(ts_tun_plan(s, s, MAX_PLAN as u32 + 1, s, s, s, 1), E_BAD_ARG);
        assert_eq!(ts_tun_plan(0, s, 1, s, s, s, 1), E_BAD_ARG);
        assert_eq!(ts_tun_plan(s, s, 1, s, s, u32::MAX - 10, 1), E_BAD_ARG);
    }

    #[test]
    fn stats_and_jumbo_exports() {
        state::fresh();
        assert_eq!(ts_jumbo_ptr(), mem::jumbo_ptr());
        assert_eq!((ts_jumbo_len(), ts_jumbo_count()), (65536, 16));
        assert!(mem::bytes(ts_jumbo_ptr(), JUMBO_LEN * JUMBO_COUNT + mem::JUMBO_SLACK).is_some());
        let s = ts_scratch_ptr();
        assert_eq!(ts_offload_stats(s), 0);
        assert_eq!(ts_offload_stats(0), E_BAD_ARG);
    }
}
