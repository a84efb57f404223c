//! ChaCha20-Poly1305 AEAD (RFC 8439 §2.8), in place: the transport path seals and opens
//! packets where they sit in their slots.

use crate::chacha20::{self, key_words, nonce_words};
use crate::errors::{E_AUTH, E_BAD_ARG};
use crate::mem;
use crate::poly1305::Poly1305;

pub const TAG_LEN: usize = 16;

/// Poly1305 over `aad ‖ pad16 ‖ ct ‖ pad16 ‖ le64(|aad|) ‖ le64(|ct|)`, keyed by block 0.
fn tag(key: &[u32; 8], nonce: &[u32; 3], aad: &[u8], ct: &[u8]) -> [u8; 16] {
    let mut pk = [0u8; 32];
    pk.copy_from_slice(&chacha20::block_bytes(key, 0, nonce)[..32]);
    let mut p = Poly1305::new(&pk);
    p.update_padded(aad);
    p.update_padded(ct);
    let mut lens = [0u8; 16];
    lens[..8].copy_from_slice(&(aad.len() as u64).to_le_bytes());
    lens[8..].copy_from_slice(&(ct.len() as u64).to_le_bytes());
    p.update_padded(&lens);
    p.finish()
}

/// Encrypts `buf` in place and returns the tag.
pub fn seal_in_place(key: &[u32; 8], nonce: &[u32; 3], aad: &[u8], buf: &mut [u8]) -> [u8; 16] {
    chacha20::xor_in_place(key, 1, nonce, buf);
    tag(key, nonce, aad, buf)
}

/// Verifies `tag` (constant time) and only then decrypts `buf` in place; on failure
/// `buf` is left as it was.
pub fn open_in_place(key: &[u32; 8], nonce: &[u32; 3], aad: &[u8], buf: &mut [u8], expected: &[u8; 16]) -> bool {
    let t = tag(key, nonce, aad, buf);
    let mut diff = 0u8;
    for (a, b) in t.iter().zip(expected.iter()) {
        diff |= a ^ b;
    }
    if diff != 0 {
        return false;
    }
    chacha20::xor_in_place(key, 1, nonce, buf);
    true
}

/// The WireGuard transport nonce: 4 zero bytes ‖ LE64(counter), as words.
pub fn counter_nonce(counter: u64) -> [u32; 3] {
    [0, counter as u32, (counter >> 32) as u32]
}

/// Reads key and nonce (copied, so they may overlap the buffer).
fn key_nonce(key: u32, nonce12: u32) -> Option<([u32; 8], [u32; 3])> {
    match (mem::read::<32>(key), mem::read::<12>(nonce12)) {
        (Some(k), Some(n)) => Some((key_words(&k), nonce_words(&n))),
        _ => None,
    }
}

/// Encrypts `len` bytes at `buf` in place and writes the tag at `buf + len`.
/// Returns `len + 16`, or E_BAD_ARG if a range is out of bounds.
#[no_mangle]
pub extern "C" fn ts_aead_seal(key: u32, nonce12: u32, aad: u32, aad_len: u32, buf: u32, len: u32) -> i32 {
    if len as u64 + TAG_LEN as u64 > i32::MAX as u64 || !mem::valid(buf, len as u64 + TAG_LEN as u64) {
        return E_BAD_ARG;
    }
    let (k, n) = match key_nonce(key, nonce12) {
        Some(kn) => kn,
        None => return E_BAD_ARG,
    };
    if !mem::valid(aad, aad_len as u64) {
        return E_BAD_ARG;
    }
    // Encrypt first, then MAC: the AAD view and the buffer view never coexist mutably.
    match mem::bytes_mut(buf, len as usize) {
        Some(b) => chacha20::xor_in_place(&k, 1, &n, b),
        None => return E_BAD_ARG,
    }
    let t = match (mem::bytes(aad, aad_len as usize), mem::bytes(buf, len as usize)) {
        (Some(a), Some(ct)) => tag(&k, &n, a, ct),
        _ => return E_BAD_ARG, // unreachable: both ranges were checked above
    };
    if !mem::write(buf + len, &t) {
        return E_BAD_ARG;
    }
    (len + TAG_LEN as u32) as i32
}

/// `len` includes the 16-byte tag. Decrypts in place and returns `len - 16`, or E_AUTH
/// (buffer unchanged), E_TRUNCATED if `len < 16`, E_BAD_ARG for out-of-bounds ranges.
#[no_mangle]
pub extern "C" fn ts_aead_open(key: u32, nonce12: u32, aad: u32, aad_len: u32, buf: u32, len: u32) -> i32 {
    if len < TAG_LEN as u32 {
        return crate::errors::E_TRUNCATED;
    }
    if len > i32::MAX as u32 || !mem::valid(buf, len as u64) {
        return E_BAD_ARG;
    }
    let ct_len = len - TAG_LEN as u32;
    let (k, n) = match key_nonce(key, nonce12) {
        Some(kn) => kn,
        None => return E_BAD_ARG,
    };
    let expected = match mem::read::<16>(buf + ct_len) {
        Some(t) => t,
        None => return E_BAD_ARG,
    };
    let ok = match (mem::bytes(aad, aad_len as usize), mem::bytes(buf, ct_len as usize)) {
        (Some(a), Some(ct)) => {
            let t = tag(&k, &n, a, ct);
            let mut diff = 0u8;
            for (x, y) in t.iter().zip(expected.iter()) {
                diff |= x ^ y;
            }
            diff == 0
        }
        _ => return E_BAD_ARG,
    };
    if !ok {
        return E_AUTH;
    }
    match mem::bytes_mut(buf, ct_len as usize) {
        Some(b) => chacha20::xor_in_place(&k, 1, &n, b),
        None => return E_BAD_ARG,
    }
    ct_len as i32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chacha20::tests::hex;

    const PT: &[u8] = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
    const CT: &str = "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116";
    const TAG: &str = "1ae10b594f09e26a7e902ecbd0600691";

    fn kn() -> ([u32; 8], [u32; 3]) {
        let mut k = [0u8; 32];
        k.copy_from_slice(&hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"));
        let mut n = [0u8; 12];
        n.copy_from_slice(&hex("070000004041424344454647"));
        (key_words(&k), nonce_words(&n))
    }

    #[test]
    fn rfc8439_vector() {
        let (k, n) = kn();
        let aad = hex("50515253c0c1c2c3c4c5c6c7");
        let mut buf = PT.to_vec();
        let t = seal_in_place(&k, &n, &aad, &mut buf);
        assert_eq!(buf, hex(CT));
        assert_eq!(&t[..], &hex(TAG)[..]);
        assert!(open_in_place(&k, &n, &aad, &mut buf, &t));
        assert_eq!(&buf[..], PT);
        // Any flipped bit (ciphertext, tag, aad) fails and leaves the buffer alone.
        let mut ct = hex(CT);
        ct[7] ^= 1;
        let before = ct.clone();
        assert!(!open_in_place(&k, &n, &aad, &mut ct, &t));
        assert_eq!(ct, before);
        let mut ct = hex(CT);
        let mut bad = t;
        bad[15] ^= 0x80;
        assert!(!open_in_place(&k, &n, &aad, &mut ct, &bad));
        assert!(!open_in_place(&k, &n, &aad[1..], &mut ct, &t));
    }

    #[test]
    fn exports() {
        crate::state::fresh();
        let s = mem::scratch_ptr();
        assert!(mem::write(s, &hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f")));
        assert!(mem::write(s + 32, &hex("070000004041424344454647")));
        assert!(mem::write(s + 48, &hex("50515253c0c1c2c3c4c5c6c7")));
        let buf = s + 64;
        assert!(mem::write(buf, PT));
        assert_eq!(ts_aead_seal(s, s + 32, s + 48, 12, buf, 114), 130);
        assert_eq!(mem::bytes(buf, 114).unwrap(), &hex(CT)[..]);
        assert_eq!(mem::bytes(buf + 114, 16).unwrap(), &hex(TAG)[..]);
        assert_eq!(ts_aead_open(s, s + 32, s + 48, 12, buf, 130), 114);
        assert_eq!(mem::bytes(buf, 114).unwrap(), PT);
        // Wrong AAD: E_AUTH, plaintext (now treated as ciphertext) untouched.
        assert_eq!(ts_aead_open(s, s + 32, s + 48, 11, buf, 130), E_AUTH);
        assert_eq!(mem::bytes(buf, 114).unwrap(), PT);
        assert_eq!(ts_aead_open(s, s + 32, 0, 0, buf, 15), crate::errors::E_TRUNCATED);
        // Empty AAD via a null pointer, empty plaintext.
        assert_eq!(ts_aead_seal(s, s + 32, 0, 0, buf, 0), 16);
        assert_eq!(ts_aead_open(s, s + 32, 0, 0, buf, 16), 0);
        // Out-of-bounds ranges.
        assert_eq!(ts_aead_seal(0, s + 32, 0, 0, buf, 16), E_BAD_ARG);
        let before = mem::read::<32>(buf).unwrap();
        assert_eq!(ts_aead_seal(s, s + 32, 8, 4, buf, 16), E_BAD_ARG);
        assert_eq!(mem::read::<32>(buf).unwrap(), before);
        assert_eq!(ts_aead_seal(s, s + 32, 0, 0, u32::MAX - 8, 4), E_BAD_ARG);
        assert_eq!(ts_aead_open(s, s + 32, 0, 0, u32::MAX - 8, 40), E_BAD_ARG);
        assert_eq!(ts_aead_seal(s, s + 32, 0, 0, buf, u32::MAX), E_BAD_ARG);
    }
}
