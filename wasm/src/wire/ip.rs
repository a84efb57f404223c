//! IPv4/IPv6 headers (smoltcp-style wrapper): just enough to route a packet (addresses),
//! trim WireGuard padding (total length), refuse malformed headers, and cut or merge TCP/UDP
//! segments (lengths, IPv4 ID and header checksum, the fields coalescing compares).
//! IPv6 extension headers are not walked: `protocol` is the first Next Header.

use crate::consts::IP_INFO_LEN;
use crate::errors::*;
use crate::wire::checksum;

mod field {
    use core::ops::Range;
    pub const VER_IHL: usize = 0;
    pub const V4_TOS: usize = 1;
    pub const V4_TOTAL_LEN: Range<usize> = 2..4;
    pub const V4_IDENT: Range<usize> = 4..6;
    /// Flags (reserved, DF, MF) in the top 3 bits, then the 13-bit fragment offset.
    pub const V4_FLAGS_FRAG: Range<usize> = 6..8;
    pub const V4_TTL: usize = 8;
    pub const V4_PROTO: usize = 9;
    pub const V4_CHECKSUM: Range<usize> = 10..12;
    pub const V4_SRC: Range<usize> = 12..16;
    pub const V4_DST: Range<usize> = 16..20;
    pub const V4_MIN_HEADER: usize = 20;
    /// Version, traffic class and flow label.
    pub const V6_VER_TC_FLOW: Range<usize> = 0..4;
    pub const V6_PAYLOAD_LEN: Range<usize> = 4..6;
    pub const V6_NEXT_HEADER: usize = 6;
    pub const V6_HOP_LIMIT: usize = 7;
    pub const V6_SRC: Range<usize> = 8..24;
    pub const V6_DST: Range<usize> = 24..40;
    pub const V6_HEADER: usize = 40;
}

/// IP protocol numbers.
pub const PROTO_ICMP: u8 = 1;
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
pub const PROTO_ICMPV6: u8 = 58;

/// Length of an IPv4 header without options.
pub const V4_HEADER_LEN: usize = field::V4_MIN_HEADER;
/// Hop limit (IPv4 TTL) of the packets [`write_header`] makes (RFC 1700's default TTL).
pub const DEFAULT_HOP_LIMIT: u8 = 64;

/// Length of the IPv6 fixed header.
pub const V6_HEADER_LEN: usize = field::V6_HEADER;

/// An IPv4 or IPv6 packet at the start of `buffer` (which may be longer: padding).
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// `new_unchecked` + `check_len`: afterwards no accessor can panic.
    pub fn new_checked(buffer: T) -> Result<Packet<T>, i32> {
        let p = Packet::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Version, header length and total length all agree with the bytes. (One pass over the
    /// first byte: this runs for every packet of every batch.)
    pub fn check_len(&self) -> Result<(), i32> {
        let b = self.buffer.as_ref();
        let first = match b.first() {
            Some(&v) => v,
            None => return Err(E_TRUNCATED),
        };
        match first >> 4 {
            4 => {
                if b.len() < field::V4_MIN_HEADER {
                    return Err(E_TRUNCATED);
                }
                let hl = ((first & 0x0f) as usize) * 4;
                if hl < field::V4_MIN_HEADER || hl > b.len() {
                    return Err(E_BAD_HEADER_LEN);
                }
                let total = be16(b, field::V4_TOTAL_LEN.start);
                if total > b.len() || total < hl {
                    return Err(E_BAD_TOTAL_LEN);
                }
                Ok(())
            }
            6 => {
                if b.len() < field::V6_HEADER {
                    return Err(E_TRUNCATED);
                }
                if be16(b, field::V6_PAYLOAD_LEN.start) + field::V6_HEADER > b.len() {
                    return Err(E_BAD_TOTAL_LEN);
                }
                Ok(())
            }
            _ => Err(E_BAD_VERSION),
        }
    }

    /// What `check_len` checks first: at least one byte, version 4 or 6. Returns the version.
    pub fn check_version(&self) -> Result<u8, i32> {
        match self.buffer.as_ref().first().map(|&v| v >> 4) {
            None => Err(E_TRUNCATED),
            Some(v @ (4 | 6)) => Ok(v),
            Some(_) => Err(E_BAD_VERSION),
        }
    }

    /// What `check_len` checks next (after `check_version`): the fixed header is there
    /// (20 bytes for IPv4, 40 for IPv6). Enough for every getter of a packet whose total
    /// length may exceed the bytes (the head of a TUN super-packet).
    pub fn check_fixed_len(&self) -> Result<(), i32> {
        let need = if self.version() == 4 { field::V4_MIN_HEADER } else { field::V6_HEADER };
        if self.buffer.as_ref().len() < need {
            Err(E_TRUNCATED)
        } else {
            Ok(())
        }
    }

    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }

    /// 0 for IPv4, 1 for IPv6 (the AllowedIPs trie index).
    pub fn family(&self) -> usize {
        (self.version() == 6) as usize
    }

    pub fn header_len(&self) -> usize {
        if self.version() == 4 {
            ((self.buffer.as_ref()[field::VER_IHL] & 0x0f) as usize) * 4
        } else {
            field::V6_HEADER
        }
    }

    /// Length of the packet itself (the buffer may carry padding after it).
    pub fn total_len(&self) -> usize {
        let b = self.buffer.as_ref();
        if self.version() == 4 {
            be16(b, field::V4_TOTAL_LEN.start)
        } else {
            be16(b, field::V6_PAYLOAD_LEN.start) + field::V6_HEADER
        }
    }

    pub fn protocol(&self) -> u8 {
        let b = self.buffer.as_ref();
        if self.version() == 4 {
            b[field::V4_PROTO]
        } else {
            b[field::V6_NEXT_HEADER]
        }
    }

    pub fn src_addr(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        if self.version() == 4 {
            &b[field::V4_SRC]
        } else {
            &b[field::V6_SRC]
        }
    }

    pub fn dst_addr(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        if self.version() == 4 {
            &b[field::V4_DST]
        } else {
            &b[field::V6_DST]
        }
    }

    /// IPv4 identification (0 for IPv6).
    pub fn ident(&self) -> u16 {
        if self.version() == 4 {
            be16(self.buffer.as_ref(), field::V4_IDENT.start) as u16
        } else {
            0
        }
    }

    /// IPv4 type of service.
    pub fn tos(&self) -> u8 {
        self.buffer.as_ref()[field::V4_TOS]
    }

    /// IPv4 flags (reserved, DF, MF) as the top 3 bits of their byte, shifted down.
    pub fn v4_flags(&self) -> u8 {
        self.buffer.as_ref()[field::V4_FLAGS_FRAG.start] >> 5
    }

    /// IPv4: more fragments follow or the fragment offset is not 0. (One 16-bit read: this
    /// runs for every packet a plan classifies.)
    pub fn is_fragment(&self) -> bool {
        be16(self.buffer.as_ref(), field::V4_FLAGS_FRAG.start) & 0x3fff != 0
    }

    /// IPv4 TTL or IPv6 hop limit.
    pub fn hop_limit(&self) -> u8 {
        if self.version() == 4 {
            self.buffer.as_ref()[field::V4_TTL]
        } else {
            self.buffer.as_ref()[field::V6_HOP_LIMIT]
        }
    }

    /// Whether `other` (of the same version) has the same class fields: IPv4 TOS, flags
    /// (reserved, DF, MF) and TTL; IPv6 version, traffic class, flow label and hop limit.
    /// What two packets of one flow must share to be one TCP super-packet.
    pub fn same_class<U: AsRef<[u8]>>(&self, other: &Packet<U>) -> bool {
        let (a, b) = (self.buffer.as_ref(), other.buffer.as_ref());
        if a.first().map(|v| v >> 4) == Some(6) {
            a.get(field::V6_VER_TC_FLOW) == b.get(field::V6_VER_TC_FLOW)
                && a.get(field::V6_HOP_LIMIT) == b.get(field::V6_HOP_LIMIT)
        } else {
            let flags = field::V4_FLAGS_FRAG.start;
            a.get(field::V4_TOS) == b.get(field::V4_TOS)
                && a.get(flags).map(|x| x >> 5) == b.get(flags).map(|x| x >> 5)
                && a.get(field::V4_TTL) == b.get(field::V4_TTL)
        }
    }

    /// IPv6 version, traffic class and flow label (the first 4 bytes).
    pub fn v6_first_word(&self) -> u32 {
        let b = self.buffer.as_ref();
        (be16(b, field::V6_VER_TC_FLOW.start) << 16 | be16(b, field::V6_VER_TC_FLOW.start + 2)) as u32
    }

    /// The summary `ts_ip_info` writes: `version u8, proto u8, hdr_len u16 LE, total_len u32
    /// LE, src[16], dst[16]` (IPv4 addresses in the first 4 bytes, the rest zero).
    pub fn info(&self) -> [u8; IP_INFO_LEN] {
        let mut info = [0u8; IP_INFO_LEN];
        info[0] = self.version();
        info[1] = self.protocol();
        info[2..4].copy_from_slice(&(self.header_len() as u16).to_le_bytes());
        info[4..8].copy_from_slice(&(self.total_len() as u32).to_le_bytes());
        let (s, d) = (self.src_addr(), self.dst_addr());
        if let Some(x) = info.get_mut(8..8 + s.len()) {
            x.copy_from_slice(s);
        }
        if let Some(x) = info.get_mut(24..24 + d.len()) {
            x.copy_from_slice(d);
        }
        info
    }

    /// IPv4: the header checksum verifies (IPv6 has none: always true).
    pub fn header_checksum_ok(&self) -> bool {
        if self.version() != 4 {
            return true;
        }
        let b = self.buffer.as_ref();
        checksum::verifies(checksum::add(0, &b[..self.header_len()]))
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the IPv4 total length, or the IPv6 payload length to `total - 40`.
    pub fn set_total_len(&mut self, total: usize) {
        if self.version() == 4 {
            self.buffer.as_mut()[field::V4_TOTAL_LEN].copy_from_slice(&(total as u16).to_be_bytes());
        } else {
            let payload = (total - field::V6_HEADER) as u16;
            self.buffer.as_mut()[field::V6_PAYLOAD_LEN].copy_from_slice(&payload.to_be_bytes());
        }
    }

    /// IPv4: sets the total length (for a caller that knows the version; else
    /// `set_total_len`).
    pub fn set_v4_total_len(&mut self, total: u16) {
        self.buffer.as_mut()[field::V4_TOTAL_LEN].copy_from_slice(&total.to_be_bytes());
    }

    /// IPv6: sets the payload length (for a caller that knows the version).
    pub fn set_v6_payload_len(&mut self, len: u16) {
        self.buffer.as_mut()[field::V6_PAYLOAD_LEN].copy_from_slice(&len.to_be_bytes());
    }

    /// IPv4: recomputes the header checksum over the first `hl` bytes, for a caller
    /// that knows the header length (one segment after another).
    /// (Not shared with `fill_checksum`: a shared body is not inlined into the segment loop,
    /// measured 3% slower ts_tun_ingest.)
    pub fn fill_checksum_with_len(&mut self, hl: usize) {
        let b = self.buffer.as_mut();
        b[field::V4_CHECKSUM].copy_from_slice(&[0, 0]);
        let c = checksum::finish(checksum::add(0, &b[..hl]));
        b[field::V4_CHECKSUM].copy_from_slice(&c);
    }

    /// Sets the IPv4 identification.
    pub fn set_ident(&mut self, v: u16) {
        self.buffer.as_mut()[field::V4_IDENT].copy_from_slice(&v.to_be_bytes());
    }

    /// Sets the IPv4 TTL or the IPv6 hop limit.
    pub fn set_hop_limit(&mut self, v: u8) {
        let at = if self.version() == 4 { field::V4_TTL } else { field::V6_HOP_LIMIT };
        self.buffer.as_mut()[at] = v;
    }

    /// Exchanges source and destination address (a reply in place).
    pub fn swap_addrs(&mut self) {
        let b = self.buffer.as_mut();
        if b[field::VER_IHL] >> 4 == 4 {
            let (s, d) = b[field::V4_SRC.start..field::V4_DST.end].split_at_mut(4);
            s.swap_with_slice(d);
        } else {
            let (s, d) = b[field::V6_SRC.start..field::V6_DST.end].split_at_mut(16);
            s.swap_with_slice(d);
        }
    }

    /// Recomputes the IPv4 header checksum over `header_len()` bytes.
    pub fn fill_checksum(&mut self) {
        let hl = self.header_len();
        let b = self.buffer.as_mut();
        b[field::V4_CHECKSUM].copy_from_slice(&[0, 0]);
        let c = checksum::finish(checksum::add(0, &b[..hl]));
        b[field::V4_CHECKSUM].copy_from_slice(&c);
    }
}

/// Writes a fresh IP header at the start of `buf` for `src` → `dst` (4 or 16 bytes each, the
/// same length; the version follows from it) carrying `payload_len` bytes of protocol
/// `proto`: IPv4 without options, DF set, ID 0 (an atomic datagram, RFC 6864), TTL 64 and
/// its checksum; IPv6 with traffic class and flow label 0, hop limit 64. Returns the header
/// length (20 or 40), or 0 (nothing written) if `buf` is shorter or the addresses are not
/// 4 or 16 bytes.
pub fn write_header(buf: &mut [u8], src: &[u8], dst: &[u8], proto: u8, payload_len: usize) -> usize {
    match (src.len(), dst.len()) {
        (4, 4) if buf.len() >= field::V4_MIN_HEADER => {
            let total = (field::V4_MIN_HEADER + payload_len) as u16;
            let h = &mut buf[..field::V4_MIN_HEADER];
            h[..field::V4_TTL].copy_from_slice(&[0x45, 0, (total >> 8) as u8, total as u8, 0, 0, 0x40, 0]);
            h[field::V4_TTL] = DEFAULT_HOP_LIMIT;
            h[field::V4_PROTO] = proto;
            h[field::V4_CHECKSUM].copy_from_slice(&[0, 0]);
            h[field::V4_SRC].copy_from_slice(src);
            h[field::V4_DST].copy_from_slice(dst);
            let c = checksum::finish(checksum::add(0, h));
            h[field::V4_CHECKSUM].copy_from_slice(&c);
            field::V4_MIN_HEADER
        }
        (16, 16) if buf.len() >= field::V6_HEADER => {
            let h = &mut buf[..field::V6_HEADER];
            h[field::V6_VER_TC_FLOW].copy_from_slice(&[0x60, 0, 0, 0]);
            h[field::V6_PAYLOAD_LEN].copy_from_slice(&(payload_len as u16).to_be_bytes());
            h[field::V6_NEXT_HEADER] = proto;
            h[field::V6_HOP_LIMIT] = DEFAULT_HOP_LIMIT;
            h[field::V6_SRC].copy_from_slice(src);
            h[field::V6_DST].copy_from_slice(dst);
            field::V6_HEADER
        }
        _ => 0,
    }
}

fn be16(b: &[u8], at: usize) -> usize {
    match (b.get(at), b.get(at + 1)) {
        (Some(&h), Some(&l)) => ((h as usize) << 8) | l as usize,
        _ => 0,
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// 20-byte IPv4 header (UDP 10.0.0.1 -> 10.0.0.2) + `payload` bytes.
    pub fn v4(src: [u8; 4], dst: [u8; 4], payload: usize) -> Vec<u8> {
        let total = 20 + payload;
        let mut p = vec![0x45, 0, (total >> 8) as u8, total as u8, 0, 0, 0x40, 0, 64, 17, 0, 0];
        p.extend_from_slice(&src);
        p.extend_from_slice(&dst);
        p.resize(total, 0xab);
        p
    }

    pub fn v6(src: [u8; 16], dst: [u8; 16], payload: usize) -> Vec<u8> {
        let mut p = vec![0x60, 0, 0, 0, (payload >> 8) as u8, payload as u8, 58, 64];
        p.extend_from_slice(&src);
        p.extend_from_slice(&dst);
        p.resize(40 + payload, 0xcd);
        p
    }

    #[test]
    fn valid_v4() {
        let b = v4([10, 0, 0, 1], [10, 0, 0, 2], 8);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!((p.version(), p.family(), p.header_len(), p.total_len(), p.protocol()), (4, 0, 20, 28, 17));
        assert_eq!(p.src_addr(), &[10, 0, 0, 1]);
        assert_eq!(p.dst_addr(), &[10, 0, 0, 2]);
        // Options: IHL 6 still valid.
        let mut o = b.clone();
        o[0] = 0x46;
        assert_eq!(Packet::new_checked(&o[..]).unwrap().header_len(), 24);
        // Minimal: a bare 20-byte header.
        let h = v4([1, 2, 3, 4], [5, 6, 7, 8], 0);
        assert_eq!(Packet::new_checked(&h[..]).unwrap().total_len(), 20);
    }

    #[test]
    fn valid_v6() {
        let mut s = [0u8; 16];
        s[0] = 0xfd;
        s[15] = 1;
        let b = v6(s, [0xff; 16], 12);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!((p.version(), p.family(), p.header_len(), p.total_len(), p.protocol()), (6, 1, 40, 52, 58));
        assert_eq!(p.src_addr(), &s);
        assert_eq!(p.dst_addr(), &[0xff; 16]);
    }

    #[test]
    fn truncated() {
        assert_eq!(Packet::new_checked(&[][..]).err(), Some(E_TRUNCATED));
        let b = v4([10, 0, 0, 1], [10, 0, 0, 2], 0);
        assert_eq!(Packet::new_checked(&b[..19]).err(), Some(E_TRUNCATED));
        let b6 = v6([1; 16], [2; 16], 0);
        assert_eq!(Packet::new_checked(&b6[..39]).err(), Some(E_TRUNCATED));
        // Header fine, payload cut: total length larger than the bytes.
        let b = v4([10, 0, 0, 1], [10, 0, 0, 2], 100);
        assert_eq!(Packet::new_checked(&b[..60]).err(), Some(E_BAD_TOTAL_LEN));
        let b6 = v6([1; 16], [2; 16], 100);
        assert_eq!(Packet::new_checked(&b6[..139]).err(), Some(E_BAD_TOTAL_LEN));
    }

    #[test]
    fn oversized() {
        // Buffer longer than the packet (WireGuard padding): valid, total_len trims.
        let mut b = v4([10, 0, 0, 1], [10, 0, 0, 2], 5);
        b.resize(2032, 0);
        assert_eq!(Packet::new_checked(&b[..]).unwrap().total_len(), 25);
        let mut b6 = v6([1; 16], [2; 16], 3);
        b6.resize(64, 0);
        assert_eq!(Packet::new_checked(&b6[..]).unwrap().total_len(), 43);
        // Lengths claiming more than any buffer holds.
        let mut big = v4([10, 0, 0, 1], [10, 0, 0, 2], 0);
        big[2] = 0xff;
        big[3] = 0xff;
        assert_eq!(Packet::new_checked(&big[..]).err(), Some(E_BAD_TOTAL_LEN));
        let mut big6 = v6([1; 16], [2; 16], 0);
        big6[4] = 0xff;
        big6[5] = 0xd8; // 65496 + 40 = 65536
        assert_eq!(Packet::new_checked(&big6[..]).err(), Some(E_BAD_TOTAL_LEN));
    }

    #[test]
    fn bad_version_ihl_total() {
        for v in [0u8, 1, 5, 7, 15] {
            let mut b = v4([10, 0, 0, 1], [10, 0, 0, 2], 30);
            b[0] = (v << 4) | 5;
            assert_eq!(Packet::new_checked(&b[..]).err(), Some(E_BAD_VERSION), "version {}", v);
        }
        let mut b = v4([10, 0, 0, 1], [10, 0, 0, 2], 0);
        b[0] = 0x44;
        assert_eq!(Packet::new_checked(&b[..]).err(), Some(E_BAD_HEADER_LEN));
        b[0] = 0x40;
        assert_eq!(Packet::new_checked(&b[..]).err(), Some(E_BAD_HEADER_LEN));
        b[0] = 0x46; // 24-byte header in 20 bytes
        assert_eq!(Packet::new_checked(&b[..]).err(), Some(E_BAD_HEADER_LEN));
        let mut b = v4([10, 0, 0, 1], [10, 0, 0, 2], 10);
        b[0] = 0x46;
        b[3] = 22; // total 22 < header 24
        assert_eq!(Packet::new_checked(&b[..]).err(), Some(E_BAD_TOTAL_LEN));
        b[0] = 0x45;
        b[3] = 19; // total < 20
        assert_eq!(Packet::new_checked(&b[..]).err(), Some(E_BAD_TOTAL_LEN));
        b[3] = 31; // total 31 > 30 bytes
        assert_eq!(Packet::new_checked(&b[..]).err(), Some(E_BAD_TOTAL_LEN));
    }

    #[test]
    fn segment_fields_and_setters() {
        // Wikipedia's IPv4 header example: TOS 0, ID 0, DF, TTL 64, UDP, checksum b861.
        let mut h = vec![
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8,
            0x00, 0xc7,
        ];
        h.resize(0x73, 0);
        let p = Packet::new_checked(&h[..]).unwrap();
        assert_eq!((p.tos(), p.ident(), p.v4_flags(), p.hop_limit(), p.is_fragment()), (0, 0, 0b010, 64, false));
        let mut p = Packet::new_checked(&mut h[..]).unwrap();
        p.set_total_len(40);
        p.set_ident(0x1234);
        p.fill_checksum();
        assert_eq!(&h[..12], &[0x45, 0, 0, 40, 0x12, 0x34, 0x40, 0, 0x40, 0x11, 0xa6, 0x78]);
        assert!(crate::wire::checksum::verifies(crate::wire::checksum::add(0, &h[..20])));
        h[6] = 0x20; // MF
        assert!(Packet::new_unchecked(&h[..]).is_fragment());
        h[6] = 0;
        h[7] = 1; // offset 8
        assert!(Packet::new_unchecked(&h[..]).is_fragment());
        // IPv6: first word, hop limit, payload length.
        let mut b6 = v6([1; 16], [2; 16], 20);
        b6[1] = 0x12;
        b6[3] = 0x34;
        let p = Packet::new_checked(&b6[..]).unwrap();
        assert_eq!((p.v6_first_word(), p.hop_limit(), p.ident()), (0x6012_0034, 64, 0));
        Packet::new_unchecked(&mut b6[..]).set_total_len(50);
        assert_eq!(&b6[4..6], &[0, 10]);
        // The checks `check_len` is made of.
        assert_eq!(Packet::new_unchecked(&[][..]).check_version().err(), Some(E_TRUNCATED));
        assert_eq!(Packet::new_unchecked(&[0x50][..]).check_version().err(), Some(E_BAD_VERSION));
        assert_eq!(Packet::new_unchecked(&b6[..39]).check_fixed_len().err(), Some(E_TRUNCATED));
        assert!(Packet::new_unchecked(&b6[..40]).check_fixed_len().is_ok());
    }

    #[test]
    fn fresh_headers_swaps_and_hop_limits() {
        let mut b = [0u8; 64];
        assert_eq!(write_header(&mut b, &[10, 0, 0, 1], &[10, 0, 0, 2], PROTO_TCP, 20), 20);
        let p = Packet::new_checked(&b[..40]).unwrap();
        assert_eq!((p.total_len(), p.protocol(), p.hop_limit(), p.v4_flags(), p.ident()), (40, 6, 64, 0b010, 0));
        assert!(p.header_checksum_ok());
        let mut q = Packet::new_unchecked(&mut b[..40]);
        q.swap_addrs();
        q.set_hop_limit(9);
        assert_eq!((q.src_addr(), q.dst_addr(), q.hop_limit()), (&[10, 0, 0, 2][..], &[10, 0, 0, 1][..], 9));
        assert!(!Packet::new_unchecked(&b[..40]).header_checksum_ok()); // TTL changed, checksum not
        Packet::new_unchecked(&mut b[..40]).fill_checksum();
        assert!(Packet::new_unchecked(&b[..40]).header_checksum_ok());
        // IPv6.
        let (s6, d6) = ([0xfd; 16], [0xfe; 16]);
        assert_eq!(write_header(&mut b, &s6, &d6, PROTO_ICMPV6, 8), 40);
        let p = Packet::new_checked(&b[..48]).unwrap();
        assert_eq!((p.version(), p.total_len(), p.protocol(), p.hop_limit()), (6, 48, 58, 64));
        assert!(p.header_checksum_ok());
        Packet::new_unchecked(&mut b[..48]).swap_addrs();
        assert_eq!(Packet::new_unchecked(&b[..48]).src_addr(), &d6);
        // Refusals: short buffer, mixed or odd address lengths.
        assert_eq!(write_header(&mut b[..19], &[1; 4], &[2; 4], 6, 0), 0);
        assert_eq!(write_header(&mut b[..39], &s6, &d6, 6, 0), 0);
        assert_eq!(write_header(&mut b, &[1; 4], &d6, 6, 0), 0);
        assert_eq!(write_header(&mut b, &[1; 5], &[1; 5], 6, 0), 0);
    }

    #[test]
    fn per_version_setters_and_class_fields() {
        let mut a = v4([10, 0, 0, 1], [10, 0, 0, 2], 20);
        let mut p = Packet::new_checked(&mut a[..]).unwrap();
        p.set_v4_total_len(30);
        p.fill_checksum_with_len(20);
        assert_eq!(&a[2..4], &[0, 30]);
        assert!(crate::wire::checksum::verifies(crate::wire::checksum::add(0, &a[..20])));
        let mut b = a.clone();
        assert!(Packet::new_unchecked(&a[..]).same_class(&Packet::new_unchecked(&b[..])));
        b[4] = 0x99; // the ID may differ
        b[10] = 0x12; // and the checksum
        assert!(Packet::new_unchecked(&a[..]).same_class(&Packet::new_unchecked(&b[..])));
        for (at, v) in [(1, 0x10), (6, 0x00), (8, 63)] {
            let mut c = a.clone();
            c[at] = v; // TOS, DF cleared, TTL
            assert!(!Packet::new_unchecked(&a[..]).same_class(&Packet::new_unchecked(&c[..])), "byte {}", at);
        }
        let mut c = a.clone();
        c[6] = 0x5f; // fragment offset bits only: not a class field
        assert!(Packet::new_unchecked(&a[..]).same_class(&Packet::new_unchecked(&c[..])));
        let mut s6 = v6([1; 16], [2; 16], 8);
        Packet::new_checked(&mut s6[..]).unwrap().set_v6_payload_len(4);
        assert_eq!(&s6[4..6], &[0, 4]);
        let mut t6 = s6.clone();
        assert!(Packet::new_unchecked(&s6[..]).same_class(&Packet::new_unchecked(&t6[..])));
        t6[3] = 1; // flow label
        assert!(!Packet::new_unchecked(&s6[..]).same_class(&Packet::new_unchecked(&t6[..])));
        t6[3] = 0;
        t6[7] = 1; // hop limit
        assert!(!Packet::new_unchecked(&s6[..]).same_class(&Packet::new_unchecked(&t6[..])));
    }
}
