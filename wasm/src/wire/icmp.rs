//! ICMP (RFC 792) and ICMPv6 (RFC 4443) headers: type, code and checksum, the part the
//! netstack reads and writes (echo requests are answered in place). smoltcp-style wrapper
//! over the bytes from the ICMP header on; the message body follows.

use crate::errors::E_TRUNCATED;

/// Type, code, checksum, and the 4 bytes every message has next (echo: identifier, sequence).
pub const HEADER_LEN: usize = 8;

pub const V4_ECHO_REPLY: u8 = 0;
pub const V4_ECHO_REQUEST: u8 = 8;
pub const V6_ECHO_REQUEST: u8 = 128;
pub const V6_ECHO_REPLY: u8 = 129;

mod field {
    use core::ops::Range;
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Range<usize> = 2..4;
}

/// An ICMP or ICMPv6 header at the start of `buffer`.
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

    /// The 8 header bytes are there.
    pub fn check_len(&self) -> Result<(), i32> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(E_TRUNCATED)
        } else {
            Ok(())
        }
    }

    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }
    pub fn code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }
    /// Raw checksum bytes (in wire order).
    pub fn checksum(&self) -> [u8; 2] {
        let b = self.buffer.as_ref();
        [b[field::CHECKSUM.start], b[field::CHECKSUM.start + 1]]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Header<T> {
    pub fn set_msg_type(&mut self, v: u8) {
        self.buffer.as_mut()[field::TYPE] = v;
    }
    /// Raw checksum bytes (already in wire order).
    pub fn set_checksum(&mut self, v: [u8; 2]) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_setters_truncated_oversized() {
        let mut b = [8u8, 0, 0xf7, 0xfe, 0, 1, 0, 0, 0xaa];
        let h = Header::new_checked(&b[..]).unwrap();
        assert_eq!((h.msg_type(), h.code(), h.checksum()), (V4_ECHO_REQUEST, 0, [0xf7, 0xfe]));
        let mut h = Header::new_checked(&mut b[..]).unwrap();
        h.set_msg_type(V4_ECHO_REPLY);
        h.set_checksum([0xff, 0xfe]);
        assert_eq!(&b[..4], &[0, 0, 0xff, 0xfe]);
        assert_eq!(Header::new_checked(&b[..7]).err(), Some(E_TRUNCATED));
        assert!(Header::new_checked(&[0u8; 1500][..]).is_ok());
    }
}
