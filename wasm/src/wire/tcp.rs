//! The TCP header (RFC 9293 §3.1): the fields segmentation and coalescing touch, and all
//! of them for the netstack, with the options it speaks (MSS, window scale, timestamps,
//! SACK-permitted and SACK blocks: RFC 9293 §3.2, RFC 7323, RFC 2018). smoltcp-style wrapper over the
//! bytes from the TCP header on; the payload may follow.

use crate::errors::{E_BAD_HEADER_LEN, E_TRUNCATED};

pub const MIN_HEADER: usize = 20;
pub const MAX_HEADER: usize = 60;
pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const PSH: u8 = 0x08;
pub const ACK: u8 = 0x10;
pub const URG: u8 = 0x20;
pub const ECE: u8 = 0x40;
pub const CWR: u8 = 0x80;

pub mod field {
    use core::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const SEQ: Range<usize> = 4..8;
    pub const ACK: Range<usize> = 8..12;
    pub const DATA_OFF: usize = 12;
    pub const FLAGS: usize = 13;
    pub const WINDOW: Range<usize> = 14..16;
    pub const CHECKSUM: Range<usize> = 16..18;
    pub const URGENT: Range<usize> = 18..20;
}

/// Option kinds.
const OPT_END: u8 = 0;
const OPT_NOP: u8 = 1;
const OPT_MSS: u8 = 2;
const OPT_WSCALE: u8 = 3;
const OPT_SACK_PERMITTED: u8 = 4;
const OPT_SACK: u8 = 5;

/// Most SACK blocks an option carries (RFC 2018 §3: 4 fit 40 bytes, 3 with timestamps).
pub const MAX_SACK: usize = 4;
const OPT_TIMESTAMP: u8 = 8;

/// Largest window shift (RFC 7323 §2.3: a larger one is used as 14).
pub const MAX_WSCALE: u8 = 14;

/// A TCP header at the start of `buffer`.
pub struct Header<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Header<T> {
    pub fn new_unchecked(buffer: T) -> Header<T> {
        Header { buffer }
    }

    /// `new_unchecked` + `check_len`: the data offset is 5..15 words and fits the bytes.
    pub fn new_checked(buffer: T) -> Result<Header<T>, i32> {
        let h = Header::new_unchecked(buffer);
        h.check_len()?;
        Ok(h)
    }

    pub fn check_len(&self) -> Result<(), i32> {
        let b = self.buffer.as_ref();
        if b.len() < MIN_HEADER {
            return Err(E_TRUNCATED);
        }
        let hl = ((b[field::DATA_OFF] >> 4) as usize) * 4;
        if hl < MIN_HEADER || hl > b.len() {
            return Err(E_BAD_HEADER_LEN);
        }
        Ok(())
    }

    fn be32(&self, at: usize) -> u32 {
        let b = self.buffer.as_ref();
        u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
    }

    /// Source and destination port as one big-endian word (a flow key part).
    pub fn ports(&self) -> u32 {
        self.be32(field::SRC_PORT.start)
    }
    pub fn src_port(&self) -> u16 {
        (self.ports() >> 16) as u16
    }
    pub fn dst_port(&self) -> u16 {
        self.ports() as u16
    }
    /// The window field, unscaled.
    pub fn window(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[field::WINDOW.start], b[field::WINDOW.start + 1]])
    }
    pub fn seq(&self) -> u32 {
        self.be32(field::SEQ.start)
    }
    pub fn ack(&self) -> u32 {
        self.be32(field::ACK.start)
    }
    pub fn header_len(&self) -> usize {
        ((self.buffer.as_ref()[field::DATA_OFF] >> 4) as usize) * 4
    }
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[field::FLAGS]
    }
    /// Raw checksum bytes (in wire order).
    pub fn checksum(&self) -> [u8; 2] {
        let b = self.buffer.as_ref();
        [b[field::CHECKSUM.start], b[field::CHECKSUM.start + 1]]
    }
}

impl<T: AsRef<[u8]>> Header<T> {
    /// Whether `other` has the same option bytes, both headers being `header_len` long.
    pub fn same_options<U: AsRef<[u8]>>(&self, other: &Header<U>, header_len: usize) -> bool {
        let (a, b) = (self.buffer.as_ref(), other.buffer.as_ref());
        a.get(MIN_HEADER..header_len) == b.get(MIN_HEADER..header_len)
    }
}

impl<'a> Header<&'a [u8]> {
    /// The options (bytes 20 .. header_len), borrowed from the packet.
    pub fn options(&self) -> &'a [u8] {
        &self.buffer[MIN_HEADER..self.header_len()]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Header<T> {
    pub fn set_src_port(&mut self, v: u16) {
        self.buffer.as_mut()[field::SRC_PORT].copy_from_slice(&v.to_be_bytes());
    }
    pub fn set_dst_port(&mut self, v: u16) {
        self.buffer.as_mut()[field::DST_PORT].copy_from_slice(&v.to_be_bytes());
    }
    pub fn set_ack(&mut self, v: u32) {
        self.buffer.as_mut()[field::ACK].copy_from_slice(&v.to_be_bytes());
    }
    /// Sets the data offset to `len` bytes (a multiple of 4, 20..=60); the reserved bits 0.
    pub fn set_header_len(&mut self, len: usize) {
        self.buffer.as_mut()[field::DATA_OFF] = ((len / 4) as u8) << 4;
    }
    pub fn set_window(&mut self, v: u16) {
        self.buffer.as_mut()[field::WINDOW].copy_from_slice(&v.to_be_bytes());
    }
    pub fn set_urgent(&mut self, v: u16) {
        self.buffer.as_mut()[field::URGENT].copy_from_slice(&v.to_be_bytes());
    }
    pub fn set_seq(&mut self, v: u32) {
        self.buffer.as_mut()[field::SEQ].copy_from_slice(&v.to_be_bytes());
    }
    pub fn set_flags(&mut self, v: u8) {
        self.buffer.as_mut()[field::FLAGS] = v;
    }
    /// Raw checksum bytes (already in wire order).
    pub fn set_checksum(&mut self, v: [u8; 2]) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&v);
    }
}

/// The options of one segment the netstack reads or writes.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct Options {
    /// Maximum segment size (SYN only); 0 = absent.
    pub mss: u16,
    /// Window shift (SYN only), capped at [`MAX_WSCALE`]; `None` = absent.
    pub wscale: Option<u8>,
    /// SACK permitted (SYN only).
    pub sack_permitted: bool,
    /// SACK blocks (left edge, right edge), the first `sack_len` of them.
    pub sack: [(u32, u32); MAX_SACK],
    pub sack_len: u8,
    /// Timestamp value and echo reply (RFC 7323 §3).
    pub timestamp: Option<(u32, u32)>,
}

impl Options {
    /// Reads `opts` (the bytes between the fixed header and the data). A known option of the
    /// wrong length is ignored (as Linux does); a length byte below 2 or past the end is
    /// malformed: E_BAD_HEADER_LEN.
    pub fn parse(opts: &[u8]) -> Result<Options, i32> {
        let mut o = Options::default();
        let mut i = 0;
        while i < opts.len() {
            let kind = opts[i];
            if kind == OPT_END {
                break;
            }
            if kind == OPT_NOP {
                i += 1;
                continue;
            }
            let len = match opts.get(i + 1) {
                Some(&l) if l >= 2 && i + l as usize <= opts.len() => l as usize,
                _ => return Err(E_BAD_HEADER_LEN),
            };
            let v = &opts[i + 2..i + len];
            match (kind, v.len()) {
                (OPT_MSS, 2) => o.mss = u16::from_be_bytes([v[0], v[1]]),
                (OPT_WSCALE, 1) => o.wscale = Some(v[0].min(MAX_WSCALE)),
                (OPT_SACK_PERMITTED, 0) => o.sack_permitted = true,
                (OPT_SACK, n) if n % 8 == 0 && n <= 8 * MAX_SACK => {
                    for (k, b) in v.chunks_exact(8).enumerate() {
                        let w = |j: usize| u32::from_be_bytes([b[j], b[j + 1], b[j + 2], b[j + 3]]);
                        o.sack[k] = (w(0), w(4));
                    }
                    o.sack_len = (n / 8) as u8;
                }
                (OPT_TIMESTAMP, 8) => {
                    let val = u32::from_be_bytes([v[0], v[1], v[2], v[3]]);
                    o.timestamp = Some((val, u32::from_be_bytes([v[4], v[5], v[6], v[7]])));
                }
                _ => {}
            }
            i += len;
        }
        Ok(o)
    }

    /// Bytes `write` takes: a multiple of 4, at most 40.
    pub fn len(&self) -> usize {
        let mut n = 0;
        if self.mss != 0 {
            n += 4;
        }
        if self.wscale.is_some() {
            n += 4; // NOP + 3
        }
        if self.sack_permitted {
            n += 4; // NOP NOP + 2
        }
        if self.timestamp.is_some() {
            n += 12; // NOP NOP + 10
        }
        if self.sack_len > 0 {
            n += 4 + 8 * self.sack_len.min(MAX_SACK as u8) as usize; // NOP NOP + 2 + 8 per block
        }
        n
    }

    /// True if no option is set.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes the options (NOP-padded, each word-aligned as RFC 7323 Appendix A suggests) at
    /// the start of `buf`; returns the bytes written (`len()`), or 0 if `buf` is shorter.
    pub fn write(&self, buf: &mut [u8]) -> usize {
        let n = self.len();
        if buf.len() < n {
            return 0;
        }
        let mut i = 0;
        if self.mss != 0 {
            let m = self.mss.to_be_bytes();
            buf[i..i + 4].copy_from_slice(&[OPT_MSS, 4, m[0], m[1]]);
            i += 4;
        }
        if let Some(ws) = self.wscale {
            buf[i..i + 4].copy_from_slice(&[OPT_NOP, OPT_WSCALE, 3, ws]);
            i += 4;
        }
        if self.sack_permitted {
            buf[i..i + 4].copy_from_slice(&[OPT_NOP, OPT_NOP, OPT_SACK_PERMITTED, 2]);
            i += 4;
        }
        if let Some((val, ecr)) = self.timestamp {
            buf[i..i + 4].copy_from_slice(&[OPT_NOP, OPT_NOP, OPT_TIMESTAMP, 10]);
            buf[i + 4..i + 8].copy_from_slice(&val.to_be_bytes());
            buf[i + 8..i + 12].copy_from_slice(&ecr.to_be_bytes());
            i += 12;
        }
        if self.sack_len > 0 {
            let n = self.sack_len.min(MAX_SACK as u8) as usize;
            buf[i..i + 4].copy_from_slice(&[OPT_NOP, OPT_NOP, OPT_SACK, 2 + 8 * n as u8]);
            i += 4;
            for &(l, r) in &self.sack[..n] {
                buf[i..i + 4].copy_from_slice(&l.to_be_bytes());
                buf[i + 4..i + 8].copy_from_slice(&r.to_be_bytes());
                i += 8;
            }
        }
        i
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(doff: u8) -> Vec<u8> {
        let mut h = vec![0x1f, 0x90, 0xc3, 0x50]; // ports 8080 -> 50000
        h.extend_from_slice(&[0x00, 0x00, 0x10, 0x00]); // seq 4096
        h.extend_from_slice(&[0x00, 0x00, 0x00, 0x2a]); // ack 42
        h.extend_from_slice(&[doff << 4, ACK | PSH, 0x01, 0x00]); // window 256
        h.extend_from_slice(&[0xaa, 0xbb, 0, 0]);
        h.resize((doff as usize) * 4, 0x01);
        h
    }

    #[test]
    fn fields() {
        let b = header(8);
        let h = Header::new_checked(&b[..]).unwrap();
        assert_eq!((h.ports(), h.seq(), h.ack(), h.header_len(), h.flags()), (0x1f90_c350, 4096, 42, 32, ACK | PSH));
        assert_eq!(h.options(), &[1; 12]);
    }

    #[test]
    fn truncated_and_oversized() {
        let b = header(5);
        assert_eq!(Header::new_checked(&b[..19]).err(), Some(E_TRUNCATED));
        // Data offset below 5 words or past the bytes.
        let mut b = header(5);
        b[12] = 4 << 4;
        assert_eq!(Header::new_checked(&b[..]).err(), Some(E_BAD_HEADER_LEN));
        b[12] = 6 << 4;
        assert_eq!(Header::new_checked(&b[..]).err(), Some(E_BAD_HEADER_LEN));
        // Header followed by payload: fine, and 15 words is the maximum.
        let mut b = header(15);
        b.resize(1500, 0);
        assert_eq!(Header::new_checked(&b[..]).unwrap().header_len(), 60);
    }

    #[test]
    fn setters() {
        let mut b = header(5);
        let mut h = Header::new_checked(&mut b[..]).unwrap();
        h.set_seq(0xdead_beef);
        h.set_flags(ACK);
        h.set_checksum([0x12, 0x34]);
        assert_eq!((h.seq(), h.flags(), h.checksum()), (0xdead_beef, ACK, [0x12, 0x34]));
        assert_eq!(&b[4..8], &[0xde, 0xad, 0xbe, 0xef]);
        assert_eq!((b[13], b[16], b[17]), (ACK, 0x12, 0x34));
    }

    #[test]
    fn all_setters_and_ports() {
        let mut b = header(5);
        let mut h = Header::new_checked(&mut b[..]).unwrap();
        h.set_src_port(443);
        h.set_dst_port(50001);
        h.set_ack(7);
        h.set_header_len(32);
        h.set_window(0xfffe);
        h.set_urgent(3);
        assert_eq!((h.src_port(), h.dst_port(), h.ack(), h.window()), (443, 50001, 7, 0xfffe));
        assert_eq!((b[12], &b[18..20]), (0x80, &[0, 3][..]));
    }

    #[test]
    fn options_round_trip_and_malformed() {
        let o = Options {
            mss: 1380,
            wscale: Some(7),
            sack_permitted: true,
            timestamp: Some((1, 0xdead_beef)),
            ..Options::default()
        };
        let mut b = [0u8; 40];
        assert_eq!(o.write(&mut b), 24);
        assert_eq!(&b[..8], &[2, 4, 0x05, 0x64, 1, 3, 3, 7]);
        assert_eq!(Options::parse(&b[..24]), Ok(o));
        assert_eq!(o.write(&mut b[..23]), 0);
        assert!(Options::default().is_empty());
        // A shift above 14 is used as 14; a known option of the wrong length is ignored;
        // EOL ends the list; a length below 2 or past the end is malformed.
        assert_eq!(Options::parse(&[3, 3, 20, 0]).unwrap().wscale, Some(14));
        assert_eq!(Options::parse(&[2, 3, 9, 1, 0]).unwrap(), Options::default());
        assert_eq!(Options::parse(&[0, 2, 1]).unwrap(), Options::default());
        assert_eq!(Options::parse(&[2, 1, 0, 0]).err(), Some(E_BAD_HEADER_LEN));
        assert_eq!(Options::parse(&[8, 10, 0, 0]).err(), Some(E_BAD_HEADER_LEN));
        assert_eq!(Options::parse(&[1, 2]).err(), Some(E_BAD_HEADER_LEN));
        assert_eq!(Options::parse(&[]).unwrap(), Options::default());
    }

    #[test]
    fn sack_blocks() {
        let mut o = Options { timestamp: Some((5, 6)), sack_len: 3, ..Options::default() };
        o.sack[..3].copy_from_slice(&[(100, 200), (300, 400), (0xffff_fff0, 16)]);
        assert_eq!(o.len(), 12 + 4 + 24);
        let mut b = [0u8; 40];
        assert_eq!(o.write(&mut b), 40);
        assert_eq!(&b[12..16], &[1, 1, 5, 26]);
        assert_eq!(Options::parse(&b).unwrap(), o);
        // A block count that does not fit the length is ignored.
        assert_eq!(Options::parse(&[5, 7, 0, 0, 0, 1, 0]).unwrap().sack_len, 0);
    }

    #[test]
    fn same_options() {
        let (a, mut b) = (header(8), header(8));
        let (ha, hb) = (Header::new_checked(&a[..]).unwrap(), Header::new_checked(&b[..]).unwrap());
        assert!(ha.same_options(&hb, 32));
        b[4] = 9; // seq: not an option
        assert!(ha.same_options(&Header::new_unchecked(&b[..]), 32));
        b[31] = 2;
        assert!(!ha.same_options(&Header::new_unchecked(&b[..]), 32));
        assert!(!ha.same_options(&Header::new_unchecked(&b[..20]), 32)); // too short: not equal
    }
}
