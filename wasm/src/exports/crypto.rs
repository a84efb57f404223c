//! ABI.md "Crypto": ChaCha20 (`crypto/chacha20.rs`), Poly1305 (`crypto/poly1305.rs`) and
//! the AEAD (`crypto/aead.rs`) over TypeScript's buffers. Keys and nonces are copied
//! first, so they may overlap the buffer.

use super::{parts, written};
use crate::consts::TAG_LEN;
use crate::crypto::aead::{self, Kept};
use crate::crypto::chacha20::{block_bytes, key_words, nonce_words, FirstBlocks};
use crate::crypto::poly1305::mac;
use crate::errors::{E_AUTH, E_BAD_ARG, E_TRUNCATED};
use crate::mem::Mem;

/// Reads key and nonce (copied, so they may overlap the buffer).
fn key_nonce(m: Mem, key: u32, nonce12: u32) -> Option<([u32; 8], [u32; 3])> {
    match (m.read::<32>(key), m.read::<12>(nonce12)) {
        (Some(k), Some(n)) => Some((key_words(&k), nonce_words(&n))),
        _ => None,
    }
}

/// Writes the 64-byte block for (`key` 32 B, `counter`, `nonce12` 12 B) at `out64`.
/// 0 or E_BAD_ARG.
#[no_mangle]
pub extern "C" fn ts_chacha20_block(key: u32, counter: u32, nonce12: u32, out64: u32) -> i32 {
    let m = parts().mem;
    match key_nonce(m, key, nonce12) {
        Some((k, n)) => written(m.write(out64, &block_bytes(&k, counter, &n))),
        None => E_BAD_ARG,
    }
}

/// Writes Poly1305(key 32 B, msg[len]) at `out16`. 0 or E_BAD_ARG.
#[no_mangle]
pub extern "C" fn ts_poly1305(key: u32, msg: u32, len: u32, out16: u32) -> i32 {
    let m = parts().mem;
    match (m.read::<32>(key), m.bytes(msg, len as usize)) {
        (Some(k), Some(msg)) => written(m.write(out16, &mac(&k, msg))),
        _ => E_BAD_ARG,
    }
}

/// Encrypts `len` bytes at `buf` in place and writes the tag at `buf + len`.
/// Returns `len + 16`, or E_BAD_ARG if a range is out of bounds.
#[no_mangle]
pub extern "C" fn ts_aead_seal(key: u32, nonce12: u32, aad: u32, aad_len: u32, buf: u32, len: u32) -> i32 {
    let m = parts().mem;
    if len as u64 + TAG_LEN as u64 > i32::MAX as u64 || !m.valid(buf, len as u64 + TAG_LEN as u64) {
        return E_BAD_ARG;
    }
    let (k, n) = match key_nonce(m, key, nonce12) {
        Some(kn) => kn,
        None => return E_BAD_ARG,
    };
    if !m.valid(aad, aad_len as u64) {
        return E_BAD_ARG;
    }
    let overlap =
        aad_len > 0 && len > 0 && (aad as u64) < buf as u64 + len as u64 && (buf as u64) < aad as u64 + aad_len as u64;
    let t = if overlap {
        // The AAD is MACed as it reads after encryption: encrypt first, then MAC, so the
        // AAD view and the buffer view never coexist mutably.
        let first = FirstBlocks::new(&k, &n);
        match m.bytes_mut(buf, len as usize) {
            Some(b) => first.xor_after_first(&k, &n, b),
            None => return E_BAD_ARG,
        }
        match (m.bytes(aad, aad_len as usize), m.bytes(buf, len as usize)) {
            (Some(a), Some(ct)) => aead::tag(&first, a, ct),
            _ => return E_BAD_ARG, // unreachable: both ranges were checked above
        }
    } else {
        // Disjoint ranges: the two views may coexist, and the stitched code MACs the AAD
        // first, then the ciphertext while it encrypts.
        match (m.bytes(aad, aad_len as usize), m.bytes_mut(buf, len as usize)) {
            (Some(a), Some(b)) => aead::seal_in_place(&k, &n, a, b),
            _ => return E_BAD_ARG, // unreachable: both ranges were checked above
        }
    };
    if !m.write(buf + len, &t) {
        return E_BAD_ARG;
    }
    (len + TAG_LEN as u32) as i32
}

/// `len` includes the 16-byte tag. Decrypts in place and returns `len - 16`, or E_AUTH
/// (buffer unchanged), E_TRUNCATED if `len < 16`, E_BAD_ARG for out-of-bounds ranges.
#[no_mangle]
pub extern "C" fn ts_aead_open(key: u32, nonce12: u32, aad: u32, aad_len: u32, buf: u32, len: u32) -> i32 {
    let m = parts().mem;
    if len < TAG_LEN as u32 {
        return E_TRUNCATED;
    }
    if len > i32::MAX as u32 || !m.valid(buf, len as u64) {
        return E_BAD_ARG;
    }
    let ct_len = len - TAG_LEN as u32;
    let (k, n) = match key_nonce(m, key, nonce12) {
        Some(kn) => kn,
        None => return E_BAD_ARG,
    };
    let expected = match m.read::<16>(buf + ct_len) {
        Some(t) => t,
        None => return E_BAD_ARG,
    };
    let first = FirstBlocks::new(&k, &n);
    let mut kept: Kept = [None; aead::KEPT];
    // The AAD may overlap the buffer: both views are read-only until verified.
    let ok = match (m.bytes(aad, aad_len as usize), m.bytes(buf, ct_len as usize)) {
        (Some(a), Some(ct)) => aead::verify(&k, &n, &first, a, ct, &expected, &mut kept),
        _ => return E_BAD_ARG,
    };
    if !ok {
        return E_AUTH;
    }
    match m.bytes_mut(buf, ct_len as usize) {
        Some(b) => aead::decrypt_kept(&k, &n, &first, &kept, b),
        None => return E_BAD_ARG,
    }
    ct_len as i32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::aead::tests::{kn, reference, CT, PT, TAG};
    use crate::crypto::chacha20::{self, tests::hex};
    use crate::exports::host::*;

    #[test]
    fn chacha20_block_export() {
        fresh();
        let s = m().scratch_ptr();
        let k: Vec<u8> = (0..32).collect();
        assert!(m().write(s, &k));
        assert!(m().write(s + 32, &[0, 0, 0, 9, 0, 0, 0, 0x4a, 0, 0, 0, 0]));
        assert_eq!(ts_chacha20_block(s, 1, s + 32, s + 64), 0);
        assert_eq!(m().read::<4>(s + 64).unwrap(), [0x10, 0xf1, 0xe7, 0xe4]);
        assert_eq!(ts_chacha20_block(0, 1, s + 32, s + 64), E_BAD_ARG);
        assert_eq!(ts_chacha20_block(s, 1, s + 32, 8), E_BAD_ARG);
    }

    #[test]
    fn poly1305_export() {
        fresh();
        let s = m().scratch_ptr();
        assert!(m().write(s, &hex("85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b")));
        assert!(m().write(s + 32, b"Cryptographic Forum Research Group"));
        assert_eq!(ts_poly1305(s, s + 32, 34, s + 128), 0);
        assert_eq!(&m().read::<16>(s + 128).unwrap()[..], &hex("a8061dc1305136c6c22b8baf0c0127a9")[..]);
        assert_eq!(ts_poly1305(s, 4, 34, s + 128), E_BAD_ARG);
    }

    #[test]
    fn seal_export_with_aad_inside_the_buffer() {
        // The AAD is MACed as it reads after encryption (what the export always did).
        fresh();
        let s = m().scratch_ptr();
        assert!(m().write(s, &hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f")));
        assert!(m().write(s + 32, &hex("070000004041424344454647")));
        let (k, n) = kn();
        for (aad_off, aad_len, len) in [(0u32, 12u32, 300u32), (290, 40, 300), (100, 16, 1420)] {
            let buf = s + 64;
            let pt: Vec<u8> = (0..len).map(|i| (i * 13 + 5) as u8).collect();
            assert!(m().write(buf, &pt));
            // Memory as the AAD reads after encryption (the tag is written last).
            let mut after = pt.clone();
            chacha20::xor_in_place(&k, 1, &n, &mut after);
            let ct = after.clone();
            after.extend_from_slice(m().bytes(buf + len, 64).unwrap());
            let aad = after[aad_off as usize..(aad_off + aad_len) as usize].to_vec();
            assert_eq!(ts_aead_seal(s, s + 32, buf + aad_off, aad_len, buf, len), (len + 16) as i32);
            let (_, want) = reference(&k, &n, &aad, &pt);
            assert_eq!(m().bytes(buf, len as usize).unwrap(), &ct[..]);
            assert_eq!(m().bytes(buf + len, 16).unwrap(), &want[..], "aad at {}", aad_off);
        }
    }

    #[test]
    fn aead_exports() {
        fresh();
        let s = m().scratch_ptr();
        assert!(m().write(s, &hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f")));
        assert!(m().write(s + 32, &hex("070000004041424344454647")));
        assert!(m().write(s + 48, &hex("50515253c0c1c2c3c4c5c6c7")));
        let buf = s + 64;
        assert!(m().write(buf, PT));
        assert_eq!(ts_aead_seal(s, s + 32, s + 48, 12, buf, 114), 130);
        assert_eq!(m().bytes(buf, 114).unwrap(), &hex(CT)[..]);
        assert_eq!(m().bytes(buf + 114, 16).unwrap(), &hex(TAG)[..]);
        assert_eq!(ts_aead_open(s, s + 32, s + 48, 12, buf, 130), 114);
        assert_eq!(m().bytes(buf, 114).unwrap(), PT);
        // Wrong AAD: E_AUTH, plaintext (now treated as ciphertext) untouched.
        assert_eq!(ts_aead_open(s, s + 32, s + 48, 11, buf, 130), E_AUTH);
        assert_eq!(m().bytes(buf, 114).unwrap(), PT);
        assert_eq!(ts_aead_open(s, s + 32, 0, 0, buf, 15), E_TRUNCATED);
        // Empty AAD via a null pointer, empty plaintext.
        assert_eq!(ts_aead_seal(s, s + 32, 0, 0, buf, 0), 16);
        assert_eq!(ts_aead_open(s, s + 32, 0, 0, buf, 16), 0);
        // Out-of-bounds ranges.
        assert_eq!(ts_aead_seal(0, s + 32, 0, 0, buf, 16), E_BAD_ARG);
        let before = m().read::<32>(buf).unwrap();
        assert_eq!(ts_aead_seal(s, s + 32, 8, 4, buf, 16), E_BAD_ARG);
        assert_eq!(m().read::<32>(buf).unwrap(), before);
        assert_eq!(ts_aead_seal(s, s + 32, 0, 0, u32::MAX - 8, 4), E_BAD_ARG);
        assert_eq!(ts_aead_open(s, s + 32, 0, 0, u32::MAX - 8, 40), E_BAD_ARG);
        assert_eq!(ts_aead_seal(s, s + 32, 0, 0, buf, u32::MAX), E_BAD_ARG);
    }
}
