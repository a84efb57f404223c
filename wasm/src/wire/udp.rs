//! The UDP header (RFC 768): what segmenting a UDP super-packet rewrites (length and
//! checksum), and the ports the netstack writes. smoltcp-style wrapper over the bytes from
//! the UDP header on.

use crate::errors::E_TRUNCATED;

pub const HEADER_LEN: usize = 8;

pub mod field {
    use core::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const LENGTH: Range<usize> = 4..6;
    pub const CHECKSUM: Range<usize> = 6..8;
}

/// A UDP header at the start of `buffer` (the payload may follow).
pub struct Header<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Header<T> {
    pub fn new_unchecked(buffer: T) -> Header<T> {
        Header { buffer }
    }

    /// `new_unchecked` + `check_len`.
    pub fn new_checked(buffer: T) -> Result<Header<T>, i32> {
        let h = Header::new_unchecked(buffer);
        h.check_len()?;
        Ok(h)
    }

    /// The 8 header bytes are there (the length field is not compared with the bytes:
    /// a super-packet's header holds the whole super-packet's length).
    pub fn check_len(&self) -> Result<(), i32> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(E_TRUNCATED)
        } else {
            Ok(())
        }
    }

    fn be16(&self, at: usize) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[at], b[at + 1]])
    }

    pub fn src_port(&self) -> u16 {
        self.be16(field::SRC_PORT.start)
    }
    pub fn dst_port(&self) -> u16 {
        self.be16(field::DST_PORT.start)
    }
    /// Header + payload length.
    pub fn length(&self) -> u16 {
        self.be16(field::LENGTH.start)
    }
    /// Raw checksum bytes (in wire order).
    pub fn checksum(&self) -> [u8; 2] {
        let b = self.buffer.as_ref();
        [b[field::CHECKSUM.start], b[field::CHECKSUM.start + 1]]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Header<T> {
    pub fn set_src_port(&mut self, v: u16) {
        self.buffer.as_mut()[field::SRC_PORT].copy_from_slice(&v.to_be_bytes());
    }
    pub fn set_dst_port(&mut self, v: u16) {
        self.buffer.as_mut()[field::DST_PORT].copy_from_slice(&v.to_be_bytes());
    }
    pub fn set_len(&mut self, v: u16) {
        self.buffer.as_mut()[field::LENGTH].copy_from_slice(&v.to_be_bytes());
    }
    /// Raw checksum bytes (already in wire order).
    pub fn set_checksum(&mut self, v: [u8; 2]) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: [u8; 8] = [0x13, 0x88, 0x17, 0x70, 0x00, 0x0d, 0xab, 0xcd]; // 5000 -> 6000, 13 bytes

    #[test]
    fn fields() {
        let h = Header::new_checked(&H[..]).unwrap();
        assert_eq!((h.src_port(), h.dst_port(), h.length(), h.checksum()), (5000, 6000, 13, [0xab, 0xcd]));
    }

    #[test]
    fn truncated_and_oversized() {
        assert_eq!(Header::new_checked(&H[..7]).err(), Some(E_TRUNCATED));
        assert_eq!(Header::new_checked(&[][..]).err(), Some(E_TRUNCATED));
        // Header followed by a payload (longer than the length field says, too): fine.
        let mut b = H.to_vec();
        b.resize(2000, 0xee);
        assert_eq!(Header::new_checked(&b[..]).unwrap().length(), 13);
    }

    #[test]
    fn setters() {
        let mut b = H;
        let mut h = Header::new_checked(&mut b[..]).unwrap();
        h.set_len(0x0bc0);
        h.set_checksum([0xff, 0xff]);
        assert_eq!(b, [0x13, 0x88, 0x17, 0x70, 0x0b, 0xc0, 0xff, 0xff]);
        let mut h = Header::new_checked(&mut b[..]).unwrap();
        h.set_src_port(53);
        h.set_dst_port(40000);
        assert_eq!((h.src_port(), h.dst_port()), (53, 40000));
    }
}
