//! Coalescing for the TUN device (`ts_tun_plan`), the way back from the tunnel:
//! decrypted packets (IP at `off + HEADROOM`) are grouped into write units; consecutive
//! in-order TCP segments of one flow become one unit written as a single super-packet: a
//! virtio header (GSO_TCPV4/6, `gso_size` = the segments' payload size, NEEDS_CSUM) and a
//! rewritten copy of the first packet's IP+TCP header go to a per-unit header area, and
//! the unit's pieces point at each packet's payload where it already is. Nothing is copied
//! and no packet is modified, so TypeScript can still write every packet on its own if the
//! kernel refuses the unit.
//!
//! The packets come from a [`PacketList`], the units go to a [`UnitSink`]; both are
//! generic parameters (the exports implement them over TypeScript's arrays).

use crate::consts::{HEADROOM, MAX_PACKET_LEN, MAX_PLAN, MAX_UNIT_SEGS, VNET_HDR_LEN};
use crate::errors::*;
use crate::path::MAX_HDR_LEN;
use crate::tables::drops::Drops;
use crate::wire::checksum;
use crate::wire::ip::{self, PROTO_TCP};
use crate::wire::tcp;
use crate::wire::vnet;

/// Open flows a plan tracks at once; the oldest is closed when a new one opens.
const MAX_OPEN: usize = 16;
/// IP + payload bytes a unit may reach (IPv4 total length / IPv6 payload length).
const MAX_UNIT_LEN: usize = 65535;
const NONE16: u16 = u16::MAX;

/// The packets to plan. Views live as long as `'m` (the memory they are in).
pub trait PacketList<'m> {
    fn count(&self) -> usize;
    /// Packet i's offset and length words as TypeScript gave them.
    fn words(&self, i: usize) -> (u32, u32);
    /// The IP bytes of the packet whose words are (`off`, `len`): `len` bytes at
    /// `off + HEADROOM`, if accessible.
    fn ip_bytes(&self, off: u32, len: usize) -> Option<&'m [u8]>;
}

/// Where a plan goes.
pub trait UnitSink {
    /// Stores unit `u`'s header (virtio header, then for a merged unit the rewritten
    /// IP+TCP header) and returns where it lies (the unit's `hdr_ptr`).
    fn header(&mut self, u: usize, hdr: &[u8]) -> u32;
    /// Piece `k`: `len` bytes at `ptr`, from packet `packet`.
    fn piece(&mut self, k: usize, ptr: u32, len: u32, packet: usize);
    /// Unit `u`: its header, then pieces `first_piece ..` (`n_pieces` of them).
    fn unit(&mut self, u: usize, hdr_ptr: u32, hdr_len: usize, first_piece: usize, n_pieces: usize);
}

/// Coalescing counters (part of `ts_offload_stats`).
pub struct GroStats {
    pub units_coalesced: u64,
    pub packets_coalesced: u64,
    /// Packets not merged because a TCP checksum did not verify.
    pub bad_checksum: u64,
}

impl GroStats {
    pub const ZERO: GroStats = GroStats { units_coalesced: 0, packets_coalesced: 0, bad_checksum: 0 };
}

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

/// Per-call tables of a plan (in the tunnel: too big for the stack).
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

/// The flow of a TCP packet (any TCP packet: a non-candidate still ends its flow's unit),
/// and the segment if it may be coalesced: no IPv4 options or fragment, ACK or ACK|PSH
/// only, a payload, lengths consistent.
fn classify(pkt: &[u8]) -> (Option<FlowKey>, Option<Segment>) {
    let p = match ip::Packet::new_checked(pkt) {
        Ok(p) => p,
        Err(_) => return (None, None),
    };
    if p.protocol() != PROTO_TCP {
        return (None, None);
    }
    // Bytes after the IP total length (padding): still the flow's packet, so it ends the flow's
    // unit (no reordering), but it is never merged.
    let padded = p.total_len() != pkt.len();
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
    if padded || !plain_ip || payload == 0 || (flags != tcp::ACK && flags != tcp::ACK | tcp::PSH) {
        return (Some(key), None);
    }
    let seg = Segment { key, ip_hl, tcp_hl, payload, seq: th.seq(), ack: th.ack(), psh: flags & tcp::PSH != 0 };
    (Some(key), Some(seg))
}

/// Whether packet `b` may follow `a` in one super-packet as far as the headers go (both
/// `ip_hl` + TCP headers of `hl` bytes): the IP class fields ([`ip::Packet::same_class`])
/// and the TCP options must be equal.
fn same_headers(a: &[u8], b: &[u8], ip_hl: usize, hl: usize) -> bool {
    let (ta, tb) = match (a.get(ip_hl..), b.get(ip_hl..)) {
        (Some(ta), Some(tb)) => (tcp::Header::new_unchecked(ta), tcp::Header::new_unchecked(tb)),
        _ => return false,
    };
    ta.same_options(&tb, hl - ip_hl) && ip::Packet::new_unchecked(a).same_class(&ip::Packet::new_unchecked(b))
}

fn tcp_checksum_ok(pkt: &[u8], seg: &Segment) -> bool {
    let (s, d) = if seg.key.v6 { (&seg.key.src[..], &seg.key.dst[..]) } else { (&seg.key.src[..4], &seg.key.dst[..4]) };
    let acc = checksum::pseudo_header(s, d, PROTO_TCP, (pkt.len() - seg.ip_hl) as u32);
    checksum::verifies(checksum::add(acc, &pkt[seg.ip_hl..]))
}

/// Packet i's IP bytes, if its length is 1 ..= `MAX_PACKET_LEN` and they are accessible (a
/// packet of a large slot or of a jumbo buffer is as good as one of a small slot).
#[inline]
fn packet<'m, P: PacketList<'m>>(list: &P, i: usize) -> Option<&'m [u8]> {
    let (off, len) = list.words(i);
    let len = len as usize;
    if len == 0 || len > MAX_PACKET_LEN {
        return None;
    }
    list.ip_bytes(off, len)
}

/// Can `seg` (packet `pkt`) be appended to unit `u`? Checksums are verified last (they
/// cost a pass over the bytes).
fn can_append<'m, P: PacketList<'m>>(
    plan: &mut Plan,
    stats: &mut GroStats,
    u: usize,
    seg: &Segment,
    pkt: &[u8],
    list: &P,
) -> bool {
    let unit = plan.units[u];
    let first = match packet(list, unit.first as usize) {
        Some(p) => p,
        None => return false,
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
        && same_headers(first, pkt, seg.ip_hl, hl);
    if !fits {
        return false;
    }
    if !unit.first_ok {
        let (_, first_seg) = classify(first);
        match first_seg {
            Some(fs) if tcp_checksum_ok(first, &fs) => plan.units[u].first_ok = true,
            _ => {
                stats.bad_checksum += 1;
                return false;
            }
        }
    }
    if !tcp_checksum_ok(pkt, seg) {
        stats.bad_checksum += 1;
        return false;
    }
    true
}

/// Groups the packets of `list` into write units written to `sink`, in the order of each
/// unit's first packet (ABI.md, `ts_tun_plan`). With `coalesce` false every packet is its
/// own unit (zero virtio header + whole packet). Packets not accessible or of length 0 or
/// above `MAX_PACKET_LEN` get no unit (counted as `E_BAD_ARG` in `drops`). Returns
/// the number of units, or `E_BAD_ARG` (nothing written) for more than `MAX_PLAN` packets.
pub fn plan<'m, P: PacketList<'m>, S: UnitSink>(
    plan: &mut Plan,
    stats: &mut GroStats,
    drops: &mut Drops,
    list: &P,
    sink: &mut S,
    coalesce: bool,
) -> Result<usize, i32> {
    let n = list.count();
    if n > MAX_PLAN {
        return Err(E_BAD_ARG);
    }
    plan.n_open = 0;
    let mut n_units = 0usize;
    for i in 0..n {
        let pkt = match packet(list, i) {
            Some(p) => p,
            None => {
                drops.count(E_BAD_ARG);
                continue;
            }
        };
        plan.next[i] = NONE16;
        let (key, seg) = if coalesce { classify(pkt) } else { (None, None) };
        if let Some(key) = key {
            let found = (0..plan.n_open).find(|&k| plan.units[plan.open[k] as usize].key == key);
            if let (Some(k), Some(seg)) = (found, seg.as_ref()) {
                let u = plan.open[k] as usize;
                if can_append(plan, stats, u, seg, pkt, list) {
                    let unit = &mut plan.units[u];
                    plan.next[unit.last as usize] = i as u16;
                    unit.last = i as u16;
                    unit.count += 1;
                    unit.payload += seg.payload as u32;
                    unit.next_seq = unit.next_seq.wrapping_add(seg.payload as u32);
                    unit.psh = seg.psh;
                    // A short segment or PSH ends the unit.
                    if seg.payload < unit.gso as usize || seg.psh {
                        plan.close(k);
                    }
                    continue;
                }
            }
            if let Some(k) = found {
                plan.close(k);
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
            plan.units[n_units] = unit;
            if !seg.psh {
                plan.open_unit(n_units as u16);
            }
        } else {
            plan.units[n_units] = unit;
        }
        n_units += 1;
    }
    // Emit units in order of their first packet, pieces contiguous per unit.
    let mut piece = 0usize;
    for u in 0..n_units {
        let unit = plan.units[u];
        let first_piece = piece;
        let mut hdr = [0u8; VNET_HDR_LEN + MAX_HDR_LEN];
        let mut hdr_len = VNET_HDR_LEN;
        if unit.count > 1 {
            hdr_len += build_unit_header(&unit, list, &mut hdr);
            stats.units_coalesced += 1;
            stats.packets_coalesced += unit.count as u64;
        }
        let hdr_ptr = sink.header(u, &hdr[..hdr_len]);
        let skip = hdr_len - VNET_HDR_LEN;
        let mut i = unit.first;
        while i != NONE16 && piece < n {
            let at = i as usize;
            let (off, len) = list.words(at);
            sink.piece(piece, off.wrapping_add((HEADROOM + skip) as u32), len.wrapping_sub(skip as u32), at);
            piece += 1;
            i = plan.next[at];
        }
        sink.unit(u, hdr_ptr, hdr_len, first_piece, piece - first_piece);
    }
    Ok(n_units)
}

/// Virtio header + the first packet's IP and TCP header rewritten for the whole unit:
/// lengths, IPv4 header checksum, PSH of the last segment, and the TCP checksum field set
/// to the pseudo-header sum (NEEDS_CSUM: the kernel treats the payload as verified; every
/// merged segment's own checksum was checked before it was merged). Returns the IP+TCP
/// header length written after the virtio header.
fn build_unit_header<'m, P: PacketList<'m>>(
    unit: &Unit,
    list: &P,
    out: &mut [u8; VNET_HDR_LEN + MAX_HDR_LEN],
) -> usize {
    let (ip_hl, tcp_hl) = (unit.ip_hl as usize, unit.tcp_hl as usize);
    let hl = ip_hl + tcp_hl;
    let first = match packet(list, unit.first as usize) {
        Some(p) if p.len() >= hl && hl <= MAX_HDR_LEN => p,
        _ => return 0,
    };
    let total = hl + unit.payload as usize;
    let v6 = unit.key.v6;
    vnet::Header::new_unchecked(&mut out[..VNET_HDR_LEN]).set(
        vnet::F_NEEDS_CSUM,
        if v6 { vnet::GSO_TCPV6 } else { vnet::GSO_TCPV4 },
        hl as u16,
        unit.gso,
        ip_hl as u16,
        tcp::field::CHECKSUM.start as u16,
    );
    let h = &mut out[VNET_HDR_LEN..VNET_HDR_LEN + hl];
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

#[cfg(test)]
mod tests {
    use super::*;

    /// IPv4 TCP 10.0.0.1:8080 -> 10.0.0.2:50000, ACK, `seq`, valid checksums.
    fn segment(seq: u32, payload: &[u8]) -> Vec<u8> {
        let total = 40 + payload.len();
        let mut p = vec![0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
        p.extend_from_slice(&[0x1f, 0x90, 0xc3, 0x50]);
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, 1, 0x50, tcp::ACK, 1, 0, 0, 0, 0, 0]);
        p.extend_from_slice(payload);
        let mut ip = ip::Packet::new_unchecked(&mut p[..]);
        ip.set_total_len(total);
        ip.fill_checksum();
        let acc = checksum::pseudo_header(&[10, 0, 0, 1], &[10, 0, 0, 2], PROTO_TCP, (total - 20) as u32);
        let c = checksum::finish(checksum::add(acc, &p[20..]));
        tcp::Header::new_unchecked(&mut p[20..]).set_checksum(c);
        p
    }

    /// Packet i sits at offset 4096 * (i + 1).
    struct FakeList(Vec<Vec<u8>>);

    impl<'m> PacketList<'m> for &'m FakeList {
        fn count(&self) -> usize {
            self.0.len()
        }
        fn words(&self, i: usize) -> (u32, u32) {
            (4096 * (i as u32 + 1), self.0[i].len() as u32)
        }
        fn ip_bytes(&self, off: u32, len: usize) -> Option<&'m [u8]> {
            self.0[(off / 4096) as usize - 1].get(..len)
        }
    }

    #[derive(Default)]
    struct FakeSink {
        headers: Vec<Vec<u8>>,
        pieces: Vec<(u32, u32, usize)>,
        units: Vec<(u32, usize, usize, usize)>,
    }

    impl UnitSink for FakeSink {
        fn header(&mut self, u: usize, hdr: &[u8]) -> u32 {
            assert_eq!(u, self.headers.len());
            self.headers.push(hdr.to_vec());
            1000 + u as u32
        }
        fn piece(&mut self, k: usize, ptr: u32, len: u32, packet: usize) {
            assert_eq!(k, self.pieces.len());
            self.pieces.push((ptr, len, packet));
        }
        fn unit(&mut self, u: usize, hdr_ptr: u32, hdr_len: usize, first_piece: usize, n_pieces: usize) {
            assert_eq!(u, self.units.len());
            self.units.push((hdr_ptr, hdr_len, first_piece, n_pieces));
        }
    }

    #[test]
    fn in_order_segments_become_one_unit_and_a_bad_length_none() {
        let list = FakeList(vec![segment(0, b"abcd"), Vec::new(), segment(4, b"efgh"), segment(8, b"ij")]);
        let mut plan_tables = crate::testing::boxed(|| Plan::ZERO);
        let (mut stats, mut drops, mut sink) = (GroStats::ZERO, Drops::ZERO, FakeSink::default());
        assert_eq!(plan(&mut plan_tables, &mut stats, &mut drops, &&list, &mut sink, true), Ok(1));
        assert_eq!(drops.get(E_BAD_ARG), 1); // the empty packet
        assert_eq!(sink.units, vec![(1000, VNET_HDR_LEN + 40, 0, 3)]);
        let at = |i: u32| 4096 * (i + 1) + HEADROOM as u32 + 40;
        assert_eq!(sink.pieces, vec![(at(0), 4, 0), (at(2), 4, 2), (at(3), 2, 3)]);
        // virtio: NEEDS_CSUM, TCPV4, hdr_len 40, gso_size 4, csum at 20 + 16.
        assert_eq!(&sink.headers[0][..VNET_HDR_LEN], &[1, 1, 40, 0, 4, 0, 20, 0, 16, 0]);
        assert_eq!(&sink.headers[0][VNET_HDR_LEN + 2..VNET_HDR_LEN + 4], &[0, 50]); // total length
        assert_eq!((stats.units_coalesced, stats.packets_coalesced, stats.bad_checksum), (1, 3, 0));
        // Not coalescing: one unit per packet, zero virtio header and the whole packet.
        let mut sink = FakeSink::default();
        assert_eq!(plan(&mut plan_tables, &mut stats, &mut drops, &&list, &mut sink, false), Ok(3));
        assert_eq!(sink.headers, vec![vec![0; VNET_HDR_LEN]; 3]);
        assert_eq!(sink.pieces[1], (4096 * 3 + HEADROOM as u32, 44, 2));
        // Too many packets: refused before anything is written.
        let big = FakeList(vec![Vec::new(); MAX_PLAN + 1]);
        let mut sink = FakeSink::default();
        assert_eq!(plan(&mut plan_tables, &mut stats, &mut drops, &&big, &mut sink, true), Err(E_BAD_ARG));
        assert!(sink.units.is_empty());
    }
}
