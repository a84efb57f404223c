//! ABI.md "Offloads": the jumbo buffers, TUN super-packet segmentation (`path/gso.rs`),
//! coalesced TUN writes (`path/gro.rs`) and their counters. The headers involved are
//! `wire/vnet.rs`, `wire/ip.rs`, `wire/tcp.rs`, `wire/udp.rs`, `wire/checksum.rs`.

use super::{parts, written, LinearMemory};
use crate::consts::{
    HEADROOM, JUMBO_COUNT, JUMBO_LEN, LARGE_SLOT_SIZE, MAX_PLAN, PIECE_STRIDE, SLOT_SIZE, UNIT_HDR_STRIDE, UNIT_STRIDE,
    VNET_HDR_LEN, VNET_STRIDE,
};
use crate::errors::*;
use crate::mem::{Mem, Words};
use crate::path::gro::{self, PacketList, UnitSink};
use crate::path::gso::{self, PacketSink, SlotSource, TunReads};
use crate::tables::pool::{Pool, LARGE, SMALL};

#[no_mangle]
pub extern "C" fn ts_jumbo_ptr() -> u32 {
    parts().mem.jumbo_ptr()
}

#[no_mangle]
pub extern "C" fn ts_jumbo_len() -> u32 {
    JUMBO_LEN as u32
}

#[no_mangle]
pub extern "C" fn ts_jumbo_count() -> u32 {
    JUMBO_COUNT as u32
}

// ---------------------------------------------------------------- ingest (TUN → slots)

/// `ts_tun_ingest`'s input arrays.
struct Reads {
    mem: Mem,
    offs: Words,
    lens: Words,
    tails: Words,
    hdrs: u32,
}

impl TunReads<'static> for Reads {
    #[inline]
    fn count(&self) -> usize {
        self.offs.count()
    }
    #[inline]
    fn read(&self, i: usize) -> (u32, usize) {
        (self.offs.get(i), self.lens.get(i) as usize)
    }
    #[inline]
    fn vnet_header(&self, i: usize) -> [u8; VNET_HDR_LEN] {
        self.mem.read::<VNET_HDR_LEN>(self.hdrs + (i * VNET_STRIDE) as u32).unwrap_or([0; VNET_HDR_LEN])
    }
    #[inline]
    fn slot(&self, i: usize) -> Option<&'static mut [u8]> {
        self.mem.bytes_mut(self.offs.get(i), SLOT_SIZE)
    }
    /// The tail must be in the jumbo area: then it can alias neither the read's slot (a
    /// pool slot or, if TypeScript passed garbage, checked here) nor a slot taken later.
    #[inline]
    fn tail(&self, i: usize, len: usize) -> Option<&'static [u8]> {
        let (ptr, off) = (self.tails.get(i), self.offs.get(i));
        if self.mem.in_jumbo(ptr, len) && !overlaps(off, SLOT_SIZE, ptr, len) {
            self.mem.bytes(ptr, len)
        } else {
            None
        }
    }
}

fn overlaps(a: u32, alen: usize, b: u32, blen: usize) -> bool {
    let (a, b) = (a as u64, b as u64);
    a < b + blen as u64 && b < a + alen as u64
}

/// Segments' slots: the pool, over linear memory.
struct PoolSlots<'a> {
    pool: &'a mut Pool,
    mem: Mem,
}

impl SlotSource<'static> for PoolSlots<'_> {
    #[inline]
    fn take(&mut self, large: bool) -> Option<(u32, &'static mut [u8])> {
        let (class, size) = if large { (LARGE, LARGE_SLOT_SIZE) } else { (SMALL, SLOT_SIZE) };
        let new = self.pool.alloc(class, &mut LinearMemory);
        match self.mem.bytes_mut(new, size) {
            Some(d) if new != 0 => Some((new, d)),
            _ => None,
        }
    }
    #[inline]
    fn give_back(&mut self, off: u32) {
        self.pool.free(off);
    }
}

/// `out_offs`/`out_lens`.
struct Out {
    offs: Words,
    lens: Words,
}

impl PacketSink for Out {
    #[inline]
    fn cap(&self) -> usize {
        self.offs.count()
    }
    #[inline]
    fn push(&mut self, at: usize, off: u32, len: usize) {
        self.offs.set(at, off);
        self.lens.set(at, len as u32);
    }
}

/// For read i: slot `offs[i]` holds `min(lens[i], head_cap)` bytes at `+HEADROOM`, the
/// rest is at `tails[i]` (in the jumbo area), its virtio header at `hdrs + VNET_STRIDE*i`.
/// Writes the resulting packets (IP at `+HEADROOM`) to `out_offs`/`out_lens` (at most
/// `out_cap`); returns how many. Every input slot is either among the outputs or freed
/// here (a dropped read, counted in the drop stats); segment slots come from the pool,
/// so **this call may grow memory**. Nothing is done (0) if an array is out of bounds or
/// `head_cap > SLOT_SIZE - HEADROOM`.
#[no_mangle]
pub extern "C" fn ts_tun_ingest(
    offs: u32,
    lens: u32,
    tails: u32,
    hdrs: u32,
    n: u32,
    head_cap: u32,
    out_offs: u32,
    out_lens: u32,
    out_cap: u32,
) -> u32 {
    let p = parts();
    let m = p.mem;
    let arrays =
        (m.words(offs, n), m.words(lens, n), m.words(tails, n), m.words(out_offs, out_cap), m.words(out_lens, out_cap));
    let (reads, mut out) = match arrays {
        (Some(offs), Some(lens), Some(tails), Some(oo), Some(ol)) => {
            (Reads { mem: m, offs, lens, tails, hdrs }, Out { offs: oo, lens: ol })
        }
        _ => return 0,
    };
    if !m.valid(hdrs, n as u64 * VNET_STRIDE as u64) || head_cap as usize > SLOT_SIZE - HEADROOM {
        return 0;
    }
    let t = p.tunnel;
    let mut slots = PoolSlots { pool: &mut t.pool, mem: m };
    gso::ingest(&mut t.drops, &mut t.gso, &reads, &mut slots, &mut out, head_cap as usize) as u32
}

// ---------------------------------------------------------------- plan (slots → TUN)

/// `ts_tun_plan`'s input arrays.
struct Packets {
    mem: Mem,
    offs: Words,
    lens: Words,
}

impl PacketList<'static> for Packets {
    #[inline]
    fn count(&self) -> usize {
        self.offs.count()
    }
    #[inline]
    fn words(&self, i: usize) -> (u32, u32) {
        (self.offs.get(i), self.lens.get(i))
    }
    #[inline]
    fn ip_bytes(&self, off: u32, len: usize) -> Option<&'static [u8]> {
        self.mem.bytes(off.wrapping_add(HEADROOM as u32), len)
    }
}

/// `units`, `pieces` and the header area.
struct Units {
    mem: Mem,
    units: Words,
    pieces: Words,
    hdr_area: u32,
}

impl UnitSink for Units {
    #[inline]
    fn header(&mut self, u: usize, hdr: &[u8]) -> u32 {
        let hdr_ptr = self.hdr_area + (u * UNIT_HDR_STRIDE) as u32;
        // Within the checked hdr_area range, so this cannot fail.
        self.mem.write(hdr_ptr, hdr);
        hdr_ptr
    }
    #[inline]
    fn piece(&mut self, k: usize, ptr: u32, len: u32, packet: usize) {
        let at = k * (PIECE_STRIDE / 4);
        self.pieces.set(at, ptr);
        self.pieces.set(at + 1, len);
        self.pieces.set(at + 2, packet as u32);
    }
    #[inline]
    fn unit(&mut self, u: usize, hdr_ptr: u32, hdr_len: usize, first_piece: usize, n_pieces: usize) {
        let at = u * (UNIT_STRIDE / 4);
        self.units.set(at, hdr_ptr);
        self.units.set(at + 1, hdr_len as u32);
        self.units.set(at + 2, first_piece as u32);
        self.units.set(at + 3, n_pieces as u32);
    }
}

/// Groups packet i (IP at `offs[i] + HEADROOM`, `lens[i]` bytes, i < n) into write units.
/// Writes unit u at `units + UNIT_STRIDE*u` as u32s `[hdr_ptr, hdr_len, first_piece,
/// n_pieces]` and piece k at `pieces + PIECE_STRIDE*k` as `[ptr, len, packet index]`; the
/// header of unit u is at `hdr_area + UNIT_HDR_STRIDE*u`. Write a unit as one `writev` of
/// its header and pieces. With `coalesce` 0 every packet is its own unit. Returns the
/// number of units; `E_BAD_ARG` (nothing written) if `n > MAX_PLAN` or an array is out of
/// bounds.
#[no_mangle]
pub extern "C" fn ts_tun_plan(
    offs: u32,
    lens: u32,
    n: u32,
    units: u32,
    pieces: u32,
    hdr_area: u32,
    coalesce: u32,
) -> i32 {
    if n as usize > MAX_PLAN {
        return E_BAD_ARG;
    }
    let p = parts();
    let m = p.mem;
    let unit_words = (UNIT_STRIDE / 4) as u32 * n;
    let piece_words = (PIECE_STRIDE / 4) as u32 * n;
    let (list, mut sink) =
        match (m.words(offs, n), m.words(lens, n), m.words(units, unit_words), m.words(pieces, piece_words)) {
            (Some(offs), Some(lens), Some(units), Some(pieces)) => {
                (Packets { mem: m, offs, lens }, Units { mem: m, units, pieces, hdr_area })
            }
            _ => return E_BAD_ARG,
        };
    if !m.valid(hdr_area, n as u64 * UNIT_HDR_STRIDE as u64) {
        return E_BAD_ARG;
    }
    let t = p.tunnel;
    match gro::plan(&mut t.plan, &mut t.gro, &mut t.drops, &list, &mut sink, coalesce != 0) {
        Ok(units) => units as i32,
        Err(e) => e,
    }
}

/// Writes f64[OFFLOAD_STATS_LEN]: super-packets split, segments produced from them,
/// partial checksums completed, units coalesced, packets in them, segments not merged for
/// a bad checksum. 0 or E_BAD_ARG.
#[no_mangle]
pub extern "C" fn ts_offload_stats(out: u32) -> i32 {
    let p = parts();
    written(p.mem.write_f64s(out, &p.tunnel.offload_stats()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consts::JUMBO_SLACK;
    use crate::exports::host::*;
    use crate::exports::pool::{ts_pool_alloc, ts_pool_init, ts_scratch_ptr};
    use crate::wire::vnet;

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
            let mut h =
                vec![0x45, 0, (tot >> 8) as u8, tot as u8, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
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
            fresh();
            assert_eq!(ts_pool_init(64, 4096), 0);
            Bed { s: ts_scratch_ptr() }
        }
        // Scratch layout: offs 0, lens 4096, tails 8192, hdrs 12288, out_offs 32768, out_lens 40960.
        fn put(&self, arr: u32, i: usize, v: u32) {
            assert!(m().write(self.s + arr + 4 * i as u32, &v.to_le_bytes()));
        }
        fn get(&self, arr: u32, i: usize) -> u32 {
            u32::from_le_bytes(m().read::<4>(self.s + arr + 4 * i as u32).unwrap())
        }
        /// Loads one read: `pkt` split at `head_cap` between a fresh slot and jumbo `j`.
        fn read(&self, i: usize, hdr: [u8; 10], pkt: &[u8], head_cap: usize, j: u32) -> u32 {
            let off = ts_pool_alloc();
            let head = pkt.len().min(head_cap);
            assert!(m().write(off + HEADROOM as u32, &pkt[..head]));
            let tail = if pkt.len() > head {
                let t = m().jumbo_ptr() + j * JUMBO_LEN as u32;
                assert!(m().write(t, &pkt[head..]));
                t
            } else {
                0
            };
            self.put(0, i, off);
            self.put(4096, i, pkt.len() as u32);
            self.put(8192, i, tail);
            assert!(m().write(self.s + 12288 + 16 * i as u32, &hdr));
            off
        }
        fn ingest(&self, n: u32, head_cap: u32, out_cap: u32) -> Vec<Vec<u8>> {
            let s = self.s;
            let k = ts_tun_ingest(s, s + 4096, s + 8192, s + 12288, n, head_cap, s + 32768, s + 40960, out_cap);
            (0..k as usize)
                .map(|i| m().bytes(self.get(32768, i) + HEADROOM as u32, self.get(40960, i) as usize).unwrap().to_vec())
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
                0x45, 0x00, 0x00, 0x2c, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06, 0x14, 0x96, 0x0a, 0x00, 0x00, 0x01, 0x0a,
                0x00, 0x00, 0x02, 0x1f, 0x90, 0xc3, 0x50, 0x01, 0x02, 0x03, 0x04, 0x0a, 0x0b, 0x0c, 0x0d, 0x50, 0x90,
                0x01, 0x00, 0xd8, 0x88, 0x00, 0x00, 0x61, 0x62, 0x63, 0x64,
            ],
            &[
                0x45, 0x00, 0x00, 0x2c, 0x12, 0x35, 0x40, 0x00, 0x40, 0x06, 0x14, 0x95, 0x0a, 0x00, 0x00, 0x01, 0x0a,
                0x00, 0x00, 0x02, 0x1f, 0x90, 0xc3, 0x50, 0x01, 0x02, 0x03, 0x08, 0x0a, 0x0b, 0x0c, 0x0d, 0x50, 0x10,
                0x01, 0x00, 0xd0, 0xfc, 0x00, 0x00, 0x65, 0x66, 0x67, 0x68,
            ],
            &[
                0x45, 0x00, 0x00, 0x2a, 0x12, 0x36, 0x40, 0x00, 0x40, 0x06, 0x14, 0x96, 0x0a, 0x00, 0x00, 0x01, 0x0a,
                0x00, 0x00, 0x02, 0x1f, 0x90, 0xc3, 0x50, 0x01, 0x02, 0x03, 0x0c, 0x0a, 0x0b, 0x0c, 0x0d, 0x50, 0x18,
                0x01, 0x00, 0x34, 0x57, 0x00, 0x00, 0x69, 0x6a,
            ],
        ];
        assert_eq!(segs.len(), 3);
        for (k, w) in want.iter().enumerate() {
            assert_eq!(&segs[k][..], *w, "segment {}", k);
        }
        assert_eq!(b.get(32768, 0), slot, "segment 0 stays in the read's slot");
        let st = &tunnel().gso;
        assert_eq!((st.tso_super, st.tso_segments), (1, 3));
    }

    #[test]
    fn tso_v6_with_options_across_head_and_tail() {
        Bed::new();
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
    }

    #[test]
    fn uso_v4_and_needs_csum_plain_packets() {
        let b = Bed::new();
        // UDP 10.0.0.1:5000 → 10.0.0.2:6000, 3000 bytes, gso 1200; checksum field partial.
        let mut u = vec![
            0x45, 0, 0x0b, 0xd4, 0, 7, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0x13, 0x88, 0x17, 0x70, 0x0b,
            0xc0, 0, 0,
        ];
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
        assert_eq!(tunnel().gso.csum_completed, 1);
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
            (cut, good, E_TRUNCATED),                                                  // TCP header cut
            (sup[..2000].to_vec(), good, E_BAD_TOTAL_LEN),                             // total > bytes
            (sup.clone(), hdr(1, vnet::GSO_TCPV6, 40, 1000, 20, 16), E_BAD_GSO),       // v4 bytes, v6 type
            (sup.clone(), hdr(1, vnet::GSO_TCPV4, 40, 0, 20, 16), E_BAD_GSO),          // gso_size 0
            (sup.clone(), hdr(1, vnet::GSO_TCPV4, 40, 1000, 24, 16), E_BAD_GSO),       // csum_start != IHL
            (sup.clone(), hdr(1, vnet::GSO_TCPV4, 40, 65480, 20, 16), E_TOO_BIG),      // > a large slot
            (sup.clone(), hdr(1, 3, 40, 1000, 20, 16), E_BAD_GSO),                     // GSO_UDP (UFO)
            (tcp_pkt(false, 1, 0x10, &[], b"ab"), hdr(1, 0, 0, 0, 20, 40), E_BAD_GSO), // csum past end
            (vec![0x45; 10], [0; 10], E_TRUNCATED),                                    // plain, too short
        ];
        let before = tunnel().pool.stats()[2];
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
        assert_eq!(tunnel().pool.stats()[2], before, "every slot freed");
        let d = &tunnel().drops;
        for code in [E_TRUNCATED, E_BAD_TOTAL_LEN, E_BAD_GSO, E_TOO_BIG, E_BAD_ARG] {
            let want =
                cases.iter().filter(|c| c.2 == code).count() as u64 + (code == E_BAD_ARG || code == E_TOO_BIG) as u64;
            assert_eq!(d.get(code), want, "code {}", code);
        }
        // Bad arrays or head_cap: nothing done.
        let s = b.s;
        assert_eq!(ts_tun_ingest(0, s, s, s, 1, 2000, s, s, 1), 0);
        assert_eq!(ts_tun_ingest(s, s, s, s, 1, 2033, s, s, 1), 0);
        assert_eq!(ts_tun_ingest(s, s, s, u32::MAX - 8, 1, 2000, s, s, 1), 0);
    }

    #[test]
    fn jumbo_mtu_segments_and_plain_packets_go_to_large_slots_from_the_pool() {
        use crate::exports::pool::ts_slot_size_at;
        let b = Bed::new();
        let payload: Vec<u8> = (0..3 * 8960 + 500u32).map(|i| (i * 13 + (i >> 8)) as u8).collect();
        let sup = tcp_pkt(false, 100, 0x18, &[], &payload);
        b.read(0, hdr(vnet::F_NEEDS_CSUM, vnet::GSO_TCPV4, 40, 8960, 20, 16), &sup, 2000, 0);
        let plain = tcp_pkt(false, 7, 0x10, &[], &[0x5a; 8960]);
        b.read(1, [0; 10], &plain, 2000, 1);
        let segs = b.ingest(2, 2000, 64);
        assert_eq!(segs.len(), 5);
        let mut joined = Vec::new();
        for (k, seg) in segs[..4].iter().enumerate() {
            assert!(valid(seg), "segment {}", k);
            assert_eq!(seg.len(), 40 + if k < 3 { 8960 } else { 500 });
            joined.extend_from_slice(&seg[40..]);
        }
        assert_eq!(joined, payload);
        assert_eq!(segs[4], plain);
        for i in 0..5 {
            assert_eq!(ts_slot_size_at(b.get(32768, i)), LARGE_SLOT_SIZE as u32, "output {} is a large slot", i);
        }
        let pool = &tunnel().pool;
        assert_eq!(pool.class_stats(SMALL).unwrap()[2], 0.0, "both read slots went back");
        assert_eq!(pool.class_stats(LARGE).unwrap()[2], 5.0);
        for i in 0..5 {
            assert_eq!(tunnel().pool.free(b.get(32768, i)), 0);
        }
        assert_eq!(tunnel().drops.counts_total(), 0);
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
        assert_eq!(tunnel().drops.get(E_EXHAUSTED), 6);
        // No output room at all: the read is dropped.
        let b = Bed::new();
        b.read(0, hdr(1, vnet::GSO_TCPV4, 40, 1000, 20, 16), &sup, 2000, 0);
        assert!(b.ingest(1, 2000, 0).is_empty());
        assert_eq!(tunnel().pool.stats()[2], 0.0);
    }

    // ------------------------------------------------------------------ plan

    /// A unit's header bytes and its pieces (ptr, len, packet index).
    type PlannedUnit = (Vec<u8>, Vec<(u32, u32, u32)>);

    struct Planned {
        units: Vec<PlannedUnit>,
    }

    /// Loads `pkts` into slots and plans them.
    fn plan(pkts: &[Vec<u8>], coalesce: u32) -> (Planned, Vec<u32>) {
        fresh();
        assert_eq!(ts_pool_init(64, 4096), 0);
        let s = ts_scratch_ptr();
        let mut offs = Vec::new();
        for (i, p) in pkts.iter().enumerate() {
            let off = ts_pool_alloc();
            assert!(m().write(off + HEADROOM as u32, p));
            assert!(m().write(s + 4 * i as u32, &off.to_le_bytes()));
            assert!(m().write(s + 8192 + 4 * i as u32, &(p.len() as u32).to_le_bytes()));
            offs.push(off);
        }
        let (units, pieces, area) = (s + 16384, s + 65536, s + 131072);
        let n = ts_tun_plan(s, s + 8192, pkts.len() as u32, units, pieces, area, coalesce);
        assert!(n >= 0);
        let w = |at: u32| u32::from_le_bytes(m().read::<4>(at).unwrap());
        let mut out = Vec::new();
        for u in 0..n as u32 {
            let (hp, hl, fp, np) =
                (w(units + 16 * u), w(units + 16 * u + 4), w(units + 16 * u + 8), w(units + 16 * u + 12));
            assert_eq!(hp, area + UNIT_HDR_STRIDE as u32 * u);
            let hdr = m().bytes(hp, hl as usize).unwrap().to_vec();
            let ps =
                (fp..fp + np).map(|k| (w(pieces + 12 * k), w(pieces + 12 * k + 4), w(pieces + 12 * k + 8))).collect();
            out.push((hdr, ps));
        }
        (Planned { units: out }, offs)
    }

    /// The bytes a unit's writev would hand the kernel (after the virtio header).
    fn gather(hdr: &[u8], pieces: &[(u32, u32, u32)]) -> Vec<u8> {
        let mut v = hdr[10..].to_vec();
        for &(p, l, _) in pieces {
            v.extend_from_slice(m().bytes(p, l as usize).unwrap());
        }
        v
    }

    #[test]
    fn coalesces_in_order_segments_byte_literal_header() {
        let a = tcp_pkt(false, 0x0102_0304, 0x10, &[], b"abcd");
        let b = tcp_pkt(false, 0x0102_0308, 0x10, &[], b"efgh");
        let c = tcp_pkt(false, 0x0102_030c, 0x18, &[], b"ij");
        let (p, offs) = plan(&[a.clone(), b, c], 1);
        assert_eq!(p.units.len(), 1);
        let (hdr, pieces) = &p.units[0];
        // virtio: NEEDS_CSUM, TCPV4, hdr_len 40, gso_size 4, csum at 20 + 16.
        assert_eq!(&hdr[..10], &[1, 1, 40, 0, 4, 0, 20, 0, 16, 0]);
        // IPv4 total 50, checksum redone; TCP flags ACK|PSH (from the last); TCP checksum =
        // pseudo-header sum 0a00+0001+0a00+0002+0006+001e = 0x1427.
        assert_eq!(
            &hdr[10..],
            &[
                0x45, 0x00, 0x00, 0x32, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06, 0x14, 0x90, 0x0a, 0x00, 0x00, 0x01, 0x0a,
                0x00, 0x00, 0x02, 0x1f, 0x90, 0xc3, 0x50, 0x01, 0x02, 0x03, 0x04, 0x0a, 0x0b, 0x0c, 0x0d, 0x50, 0x18,
                0x01, 0x00, 0x14, 0x27, 0x00, 0x00,
            ][..]
        );
        assert_eq!(pieces.len(), 3);
        for (k, &(ptr, len, pkt)) in pieces.iter().enumerate() {
            assert_eq!((ptr, pkt), (offs[k] + HEADROOM as u32 + 40, k as u32));
            assert_eq!(len, if k < 2 { 4 } else { 2 });
        }
        assert_eq!(&gather(hdr, pieces)[40..], b"abcdefghij");
        // The packets themselves are untouched (fallback can still write them one by one).
        assert_eq!(m().bytes(offs[0] + 16, a.len()).unwrap(), &a[..]);
        let st = &tunnel().gro;
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
        let mut want = sup;
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
        assert_eq!(tunnel().gro.bad_checksum, 1);
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
        assert!(m().write(s + 8192, &0u32.to_le_bytes()));
        assert!(m().write(s + 8196, &65536u32.to_le_bytes())); // > MAX_PACKET_LEN
        assert_eq!(ts_tun_plan(s, s + 8192, 2, s + 16384, s + 65536, s + 131072, 1), 0);
        assert!(m().write(s, &u32::MAX.to_le_bytes()));
        assert!(m().write(s + 8192, &20u32.to_le_bytes()));
        assert_eq!(ts_tun_plan(s, s + 8192, 1, s + 16384, s + 65536, s + 131072, 1), 0);
        assert_eq!(tunnel().drops.get(E_BAD_ARG), 3);
        drop(offs);
        // Bad arrays, too many packets.
        assert_eq!(ts_tun_plan(s, s, MAX_PLAN as u32 + 1, s, s, s, 1), E_BAD_ARG);
        assert_eq!(ts_tun_plan(0, s, 1, s, s, s, 1), E_BAD_ARG);
        assert_eq!(ts_tun_plan(s, s, 1, s, s, u32::MAX - 10, 1), E_BAD_ARG);
    }

    #[test]
    fn stats_and_jumbo_exports() {
        fresh();
        assert_eq!(ts_jumbo_ptr(), m().jumbo_ptr());
        assert_eq!((ts_jumbo_len(), ts_jumbo_count()), (65536, 16));
        assert!(m().bytes(ts_jumbo_ptr(), JUMBO_LEN * JUMBO_COUNT + JUMBO_SLACK).is_some());
        let s = ts_scratch_ptr();
        assert_eq!(ts_offload_stats(s), 0);
        assert_eq!(ts_offload_stats(0), E_BAD_ARG);
    }
}
