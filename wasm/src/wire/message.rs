//! WireGuard message framing (whitepaper: "First Message: Initiator to Responder" through
//! "Subsequent Messages: Exchange of Data Packets"): the type word and, for transport data,
//! the receiver index, counter and encrypted payload. Handshake contents are TypeScript's.

use crate::errors::*;

pub const TYPE_INITIATION: u32 = 1;
pub const TYPE_RESPONSE: u32 = 2;
pub const TYPE_COOKIE_REPLY: u32 = 3;
pub const TYPE_TRANSPORT: u32 = 4;

pub const INITIATION_LEN: usize = 148;
pub const RESPONSE_LEN: usize = 92;
pub const COOKIE_REPLY_LEN: usize = 64;
pub use crate::consts::TRANSPORT_HEADER_LEN;
/// Header + tag: a keepalive's size.
pub const TRANSPORT_MIN_LEN: usize = 32;

pub mod field {
    use core::ops::Range;
    /// Byte 0 = type, bytes 1..4 reserved zero; read as one LE u32 like wireguard-go, so
    /// non-zero reserved bytes make an unknown type.
    pub const TYPE: Range<usize> = 0..4;
    pub const RECEIVER: Range<usize> = 4..8;
    pub const COUNTER: Range<usize> = 8..16;
    pub const PAYLOAD: usize = 16;
}

pub struct Message<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Message<T> {
    pub fn new_unchecked(buffer: T) -> Message<T> {
        Message { buffer }
    }

    pub fn new_checked(buffer: T) -> Result<Message<T>, i32> {
        let m = Message::new_unchecked(buffer);
        m.check_len()?;
        Ok(m)
    }

    /// Known type and the exact (handshake) or minimum (transport) length.
    pub fn check_len(&self) -> Result<(), i32> {
        let len = self.buffer.as_ref().len();
        if len < field::TYPE.end {
            return Err(E_TRUNCATED);
        }
        let want = match self.msg_type() {
            TYPE_INITIATION => INITIATION_LEN,
            TYPE_RESPONSE => RESPONSE_LEN,
            TYPE_COOKIE_REPLY => COOKIE_REPLY_LEN,
            TYPE_TRANSPORT => {
                return if len < TRANSPORT_MIN_LEN { Err(E_BAD_MSG_LEN) } else { Ok(()) };
            }
            _ => return Err(E_BAD_TYPE),
        };
        if len != want {
            return Err(E_BAD_MSG_LEN);
        }
        Ok(())
    }

    fn le32(&self, at: usize) -> u32 {
        let b = self.buffer.as_ref();
        match b.get(at..at + 4) {
            Some(x) => u32::from_le_bytes([x[0], x[1], x[2], x[3]]),
            None => 0,
        }
    }

    /// The type word (1..4 after `check_len`).
    pub fn msg_type(&self) -> u32 {
        self.le32(field::TYPE.start)
    }

    pub fn is_handshake(&self) -> bool {
        matches!(self.msg_type(), TYPE_INITIATION | TYPE_RESPONSE | TYPE_COOKIE_REPLY)
    }

    /// Transport: the index the receiving side (us) chose.
    pub fn receiver_index(&self) -> u32 {
        self.le32(field::RECEIVER.start)
    }

    /// Transport: the nonce counter.
    pub fn counter(&self) -> u64 {
        self.le32(field::COUNTER.start) as u64 | (self.le32(field::COUNTER.start + 4) as u64) << 32
    }

    /// Transport: ciphertext length without the tag.
    pub fn ciphertext_len(&self) -> usize {
        self.buffer.as_ref().len().saturating_sub(TRANSPORT_MIN_LEN)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Message<T> {
    /// Writes a transport header (type 4, zero reserved bytes, receiver, counter).
    pub fn set_transport_header(&mut self, receiver: u32, counter: u64) {
        if let Some(h) = self.buffer.as_mut().get_mut(..TRANSPORT_HEADER_LEN) {
            h[field::TYPE].copy_from_slice(&TYPE_TRANSPORT.to_le_bytes());
            h[field::RECEIVER].copy_from_slice(&receiver.to_le_bytes());
            h[field::COUNTER].copy_from_slice(&counter.to_le_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(t: u32, len: usize) -> Vec<u8> {
        let mut m = vec![0u8; len];
        m[..4].copy_from_slice(&t.to_le_bytes());
        m
    }

    #[test]
    fn handshake_lengths_exact() {
        for (t, len) in [(1, 148), (2, 92), (3, 64)] {
            let m = msg(t, len);
            assert!(Message::new_checked(&m[..]).unwrap().is_handshake());
            // Truncated and oversized by one byte.
            assert_eq!(Message::new_checked(&m[..len - 1]).err(), Some(E_BAD_MSG_LEN));
            let big = msg(t, len + 1);
            assert_eq!(Message::new_checked(&big[..]).err(), Some(E_BAD_MSG_LEN));
        }
    }

    #[test]
    fn transport() {
        let mut m = msg(4, 48);
        m[4..8].copy_from_slice(&0xdead_beefu32.to_le_bytes());
        m[8..16].copy_from_slice(&0x0102_0304_0506_0708u64.to_le_bytes());
        let t = Message::new_checked(&m[..]).unwrap();
        assert!(!t.is_handshake());
        assert_eq!((t.receiver_index(), t.counter(), t.ciphertext_len()), (0xdead_beef, 0x0102_0304_0506_0708, 16));
        assert!(Message::new_checked(&m[..32]).is_ok()); // keepalive size
        assert_eq!(Message::new_checked(&m[..31]).err(), Some(E_BAD_MSG_LEN));
        let big = msg(4, 65535); // oversized is fine for transport (slot limits apply later)
        assert!(Message::new_checked(&big[..]).is_ok());
        let mut h = vec![0xffu8; 32];
        Message::new_unchecked(&mut h[..]).set_transport_header(7, 9);
        assert_eq!(&h[..16], &[4, 0, 0, 0, 7, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn bad_type_and_truncated() {
        assert_eq!(Message::new_checked(&[4u8, 0, 0][..]).err(), Some(E_TRUNCATED));
        assert_eq!(Message::new_checked(&[][..]).err(), Some(E_TRUNCATED));
        for t in [0u32, 5, 255, 0x0100_0004, 0x0000_0104] {
            let m = msg(t, 148);
            assert_eq!(Message::new_checked(&m[..]).err(), Some(E_BAD_TYPE), "type {:#x}", t);
        }
    }
}
