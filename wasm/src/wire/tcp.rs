//! The TCP header fields segmentation and coalescing touch (smoltcp-style wrapper over
//! the bytes from the TCP header on; the payload may follow).

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
}

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
