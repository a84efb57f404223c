//! `struct virtio_net_hdr` (include/uapi/linux/virtio_net.h), the 10-byte header a TUN
//! device with IFF_VNET_HDR puts in front of every packet. Little-endian on the hosts we
//! run on (x86_64, aarch64: the "legacy" native-endian layout).
//!
//! ```text
//! 0 flags  1 gso_type  2..4 hdr_len  4..6 gso_size  6..8 csum_start  8..10 csum_offset
//! ```

use crate::errors::E_TRUNCATED;

pub use crate::consts::VNET_HDR_LEN as LEN;

/// `VIRTIO_NET_HDR_F_NEEDS_CSUM`: the L4 checksum from `csum_start` is partial (pseudo-header only).
pub const F_NEEDS_CSUM: u8 = 1;
pub const GSO_NONE: u8 = 0;
pub const GSO_TCPV4: u8 = 1;
pub const GSO_TCPV6: u8 = 4;
pub const GSO_UDP_L4: u8 = 5;
/// Flag bit on `gso_type`: the TCP stream uses ECN (CWR only on the first segment).
pub const GSO_ECN: u8 = 0x80;

mod field {
    use core::ops::Range;
    pub const FLAGS: usize = 0;
    pub const GSO_TYPE: usize = 1;
    pub const HDR_LEN: Range<usize> = 2..4;
    pub const GSO_SIZE: Range<usize> = 4..6;
    pub const CSUM_START: Range<usize> = 6..8;
    pub const CSUM_OFFSET: Range<usize> = 8..10;
}

/// A virtio_net_hdr at the start of `buffer`.
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

    pub fn check_len(&self) -> Result<(), i32> {
        if self.buffer.as_ref().len() < LEN {
            Err(E_TRUNCATED)
        } else {
            Ok(())
        }
    }

    fn u16_at(&self, at: usize) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_le_bytes([b[at], b[at + 1]])
    }

    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[field::FLAGS]
    }
    /// GSO type with the ECN bit.
    pub fn gso_type(&self) -> u8 {
        self.buffer.as_ref()[field::GSO_TYPE]
    }
    pub fn hdr_len(&self) -> u16 {
        self.u16_at(field::HDR_LEN.start)
    }
    pub fn gso_size(&self) -> u16 {
        self.u16_at(field::GSO_SIZE.start)
    }
    pub fn csum_start(&self) -> u16 {
        self.u16_at(field::CSUM_START.start)
    }
    pub fn csum_offset(&self) -> u16 {
        self.u16_at(field::CSUM_OFFSET.start)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Header<T> {
    fn set_u16(&mut self, at: usize, v: u16) {
        self.buffer.as_mut()[at..at + 2].copy_from_slice(&v.to_le_bytes());
    }

    /// Writes every field.
    pub fn set(&mut self, flags: u8, gso_type: u8, hdr_len: u16, gso_size: u16, csum_start: u16, csum_offset: u16) {
        self.buffer.as_mut()[field::FLAGS] = flags;
        self.buffer.as_mut()[field::GSO_TYPE] = gso_type;
        self.set_u16(field::HDR_LEN.start, hdr_len);
        self.set_u16(field::GSO_SIZE.start, gso_size);
        self.set_u16(field::CSUM_START.start, csum_start);
        self.set_u16(field::CSUM_OFFSET.start, csum_offset);
    }

    /// "No GSO, checksum complete": what a plain packet is written with.
    pub fn clear(&mut self) {
        self.set(0, GSO_NONE, 0, 0, 0, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_fields() {
        // TCPv4 with ECN, hdr_len 52, gso_size 1368, csum at 20 + 16.
        let b = [0x01, 0x81, 52, 0, 0x58, 0x05, 20, 0, 16, 0];
        let h = Header::new_checked(&b[..]).unwrap();
        assert_eq!((h.flags(), h.gso_type(), h.hdr_len(), h.gso_size()), (F_NEEDS_CSUM, GSO_TCPV4 | GSO_ECN, 52, 1368));
        assert_eq!((h.csum_start(), h.csum_offset()), (20, 16));
    }

    #[test]
    fn truncated_and_oversized() {
        assert_eq!(Header::new_checked(&[0u8; 9][..]).err(), Some(E_TRUNCATED));
        assert_eq!(Header::new_checked(&[][..]).err(), Some(E_TRUNCATED));
        // Longer buffers (header followed by the packet) are fine; only 10 bytes are read.
        let mut b = [0xeeu8; 64];
        b[..10].copy_from_slice(&[0, 4, 60, 0, 0xa0, 0x05, 40, 0, 16, 0]);
        let h = Header::new_checked(&b[..]).unwrap();
        assert_eq!((h.gso_type(), h.hdr_len(), h.gso_size(), h.csum_start()), (GSO_TCPV6, 60, 1440, 40));
    }

    #[test]
    fn write_round_trip() {
        let mut b = [0xffu8; 12];
        let mut h = Header::new_checked(&mut b[..]).unwrap();
        h.set(F_NEEDS_CSUM, GSO_TCPV6, 72, 1388, 40, 16);
        assert_eq!(b, [1, 4, 72, 0, 0x6c, 0x05, 40, 0, 16, 0, 0xff, 0xff]);
        let mut h = Header::new_unchecked(&mut b[..]);
        h.clear();
        assert_eq!(b[..10], [0; 10]);
        assert_eq!(b[10..], [0xff, 0xff]);
    }
}
