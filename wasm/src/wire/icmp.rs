//! ICMP (RFC 792) and ICMPv6 (RFC 4443) headers: type, code and checksum, the part the
//! netstack reads and writes (echo requests are answered in place). smoltcp-style wrapper
//! over the bytes from the ICMP header on; the message body follows.

use crate::errors::E_TRUNCATED;

/// Type, code, checksum, and the 4 bytes every message has next (echo: identifier, sequence).
pub const HEADER_LEN: usize = 8;

pub const V4_ECHO_REPLY: u8 = 0;
pub const V4_DEST_UNREACHABLE: u8 = 3;
pub const V4_ECHO_REQUEST: u8 = 8;
pub const V6_DEST_UNREACHABLE: u8 = 1;
pub const V6_PACKET_TOO_BIG: u8 = 2;
pub const V6_ECHO_REQUEST: u8 = 128;
pub const V6_ECHO_REPLY: u8 = 129;
/// Destination unreachable, fragmentation needed and DF set (RFC 1191 §4: the next-hop MTU
/// in the low 16 bits of the second word).
pub const V4_FRAG_NEEDED: u8 = 4;

mod field {
    use core::ops::Range;
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Range<usize> = 2..4;
    /// Echo: identifier, sequence number. Errors: unused, or the MTU (the whole word for
    /// ICMPv6's Packet Too Big, its low half for IPv4's fragmentation needed).
    pub const ID: Range<usize> = 4..6;
    pub const SEQ: Range<usize> = 6..8;
    pub const REST: Range<usize> = 4..8;
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
    /// The second word (echo: id and sequence; errors: the MTU or unused).
    pub fn rest(&self) -> u32 {
        let b = &self.buffer.as_ref()[field::REST];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }
    pub fn echo_id(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::ID];
        u16::from_be_bytes([b[0], b[1]])
    }
    pub fn echo_seq(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::SEQ];
        u16::from_be_bytes([b[0], b[1]])
    }
    /// The message body after the 8 header bytes (an error's quoted packet, an echo's data).
    pub fn body(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
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
    pub fn set_code(&mut self, v: u8) {
        self.buffer.as_mut()[field::CODE] = v;
    }
    pub fn set_rest(&mut self, v: u32) {
        self.buffer.as_mut()[field::REST].copy_from_slice(&v.to_be_bytes());
    }
    /// Raw checksum bytes (already in wire order).
    pub fn set_checksum(&mut self, v: [u8; 2]) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&v);
    }
}

/// The start of the packet an ICMP error quotes (RFC 792: its IP header and at least 8 bytes
/// after it; RFC 4443 §2.4: as much as fits), when it is TCP: enough to find the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quote {
    pub family: u8,
    pub proto: u8,
    pub src: [u8; 16],
    pub dst: [u8; 16],
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
}

/// The quoted packet in an error's body: IP version matching `family`, its header whole and 8
/// bytes after it (an IPv4 header's IHL checked; IPv6 with no extension header). E_TRUNCATED,
/// E_BAD_VERSION, E_BAD_HEADER_LEN.
pub fn quote(body: &[u8], family: u8) -> Result<Quote, i32> {
    let p = crate::wire::ip::Packet::new_unchecked(body);
    if p.check_version()? != family {
        return Err(crate::errors::E_BAD_VERSION);
    }
    p.check_fixed_len()?;
    let hl = p.header_len();
    if hl < crate::wire::ip::V4_HEADER_LEN {
        return Err(crate::errors::E_BAD_HEADER_LEN);
    }
    let l4 = body.get(hl..hl + 8).ok_or(E_TRUNCATED)?;
    let mut q = Quote {
        family,
        proto: p.protocol(),
        src: [0; 16],
        dst: [0; 16],
        src_port: u16::from_be_bytes([l4[0], l4[1]]),
        dst_port: u16::from_be_bytes([l4[2], l4[3]]),
        seq: u32::from_be_bytes([l4[4], l4[5], l4[6], l4[7]]),
    };
    q.src[..p.src_addr().len()].copy_from_slice(p.src_addr());
    q.dst[..p.dst_addr().len()].copy_from_slice(p.dst_addr());
    Ok(q)
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
        let e = [3u8, 4, 0, 0, 0, 0, 0x05, 0xdc, 0x45];
        let h = Header::new_checked(&e[..]).unwrap();
        assert_eq!((h.rest() & 0xffff, h.body(), h.echo_seq()), (1500, &[0x45][..], 1500));
    }

    #[test]
    fn quotes_truncated_oversized_and_wrong_version() {
        // An IPv4 header (IHL 5, TCP, 10.0.0.1 -> 10.0.0.2) and 8 bytes of TCP.
        let mut q = vec![0x45, 0, 0, 60, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
        q.extend_from_slice(&[0x1f, 0x90, 0x00, 0x50, 0, 0, 0x10, 0x01]);
        let got = quote(&q, 4).unwrap();
        assert_eq!((got.proto, got.src_port, got.dst_port, got.seq), (6, 8080, 80, 0x1001));
        assert_eq!((&got.src[..4], &got.dst[..4]), (&[10, 0, 0, 1][..], &[10, 0, 0, 2][..]));
        assert_eq!(quote(&q[..27], 4), Err(E_TRUNCATED));
        assert_eq!(quote(&q, 6), Err(crate::errors::E_BAD_VERSION));
        assert!(quote(&[q.clone(), vec![0; 1400]].concat(), 4).is_ok()); // the rest of the packet
        let mut ihl = q.clone();
        ihl[0] = 0x44;
        assert_eq!(quote(&ihl, 4), Err(crate::errors::E_BAD_HEADER_LEN));
        ihl[0] = 0x4f; // 60 bytes of header: not all there
        assert_eq!(quote(&ihl, 4), Err(E_TRUNCATED));
        assert_eq!(quote(&[], 4), Err(E_TRUNCATED));
        let mut six = vec![0x60, 0, 0, 0, 0, 20, 6, 64];
        six.extend_from_slice(&[0xfd; 32]);
        six.extend_from_slice(&[0, 1, 0, 2, 0, 0, 0, 3]);
        let got = quote(&six, 6).unwrap();
        assert_eq!((got.src_port, got.dst_port, got.seq, got.src), (1, 2, 3, [0xfd; 16]));
        assert_eq!(quote(&six[..47], 6), Err(E_TRUNCATED));
    }
}
