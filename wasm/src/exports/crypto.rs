//! ABI.md "Crypto": ChaCha20 (`crypto/chacha20.rs`), Poly1305 (`crypto/poly1305.rs`) and
//! the AEAD (`crypto/aead.rs`) over TypeScript's buffers; X25519 (`crypto/x25519.rs`),
//! BLAKE2s, HMAC and the KDF (`crypto/blake2s.rs`) for the handshake. Keys and nonces are
//! copied first, so they may overlap the buffer; outputs are written after every input
//! was read, so they may overlap the inputs.

use super::{parts, written};
use crate::consts::TAG_LEN;
use crate::crypto::aead::{self, Kept};
use crate::crypto::blake2s::{self, Blake2s};
use crate::crypto::chacha20::{block_bytes, key_words, nonce_words, xor_in_place, FirstBlocks};
use crate::crypto::poly1305::mac;
use crate::crypto::x25519::{is_zero, x25519, x25519_base};
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

/// XORs the ChaCha20 keystream from block `counter` into `len` bytes at `buf` in place
/// (encrypt = decrypt; the AEAD's cipher alone, for benchmarks and tests). 0 or E_BAD_ARG.
#[no_mangle]
pub extern "C" fn ts_chacha20(key: u32, counter: u32, nonce12: u32, buf: u32, len: u32) -> i32 {
    let m = parts().mem;
    match (key_nonce(m, key, nonce12), m.bytes_mut(buf, len as usize)) {
        (Some((k, n)), Some(b)) => {
            xor_in_place(&k, counter, &n, b);
            0
        }
        _ => E_BAD_ARG,
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

/// 0, 1 for an all-zero result (written; WireGuard rejects it), or E_BAD_ARG.
fn dh_result(m: Mem, out32: u32, r: &[u8; 32]) -> i32 {
    let zero = is_zero(r);
    match (m.write(out32, r), zero) {
        (false, _) => E_BAD_ARG,
        (true, true) => 1,
        (true, false) => 0,
    }
}

/// Writes X25519(scalar 32 B, point 32 B) at `out32`: 0, 1 if the result is all zero
/// (a low-order point), E_BAD_ARG for a bad pointer.
#[no_mangle]
pub extern "C" fn ts_x25519(scalar: u32, point: u32, out32: u32) -> i32 {
    let m = parts().mem;
    match (m.read::<32>(scalar), m.read::<32>(point)) {
        (Some(k), Some(u)) => dh_result(m, out32, &x25519(&k, &u)),
        _ => E_BAD_ARG,
    }
}

/// Writes X25519(scalar 32 B, 9), the public key, at `out32`: 0 or E_BAD_ARG.
#[no_mangle]
pub extern "C" fn ts_x25519_base(scalar: u32, out32: u32) -> i32 {
    let m = parts().mem;
    match m.read::<32>(scalar) {
        Some(k) => dh_result(m, out32, &x25519_base(&k)),
        None => E_BAD_ARG,
    }
}

/// Writes BLAKE2s of `msg[len]` keyed with `key[key_len]` (0 = unkeyed, at most 32) as
/// an `out_len`-byte digest (1..=32) at `out`: `HASH` is (0, 32), `MAC` (32, 16). 0 or
/// E_BAD_ARG.
#[no_mangle]
pub extern "C" fn ts_blake2s(key: u32, key_len: u32, msg: u32, len: u32, out: u32, out_len: u32) -> i32 {
    let m = parts().mem;
    if key_len as usize > blake2s::OUT_MAX || out_len == 0 || out_len as usize > blake2s::OUT_MAX {
        return E_BAD_ARG;
    }
    let d = match (m.bytes(key, key_len as usize), m.bytes(msg, len as usize)) {
        (Some(k), Some(msg)) => {
            let mut s = Blake2s::new(out_len as usize, k);
            s.update(msg);
            s.finish()
        }
        _ => return E_BAD_ARG,
    };
    written(m.write(out, &d[..out_len as usize]))
}

/// Writes `HMAC(key[key_len], msg[len])` (HMAC-BLAKE2s-256, any key length) at `out32`.
/// 0 or E_BAD_ARG.
#[no_mangle]
pub extern "C" fn ts_hmac_blake2s(key: u32, key_len: u32, msg: u32, len: u32, out32: u32) -> i32 {
    let m = parts().mem;
    match (m.bytes(key, key_len as usize), m.bytes(msg, len as usize)) {
        (Some(k), Some(msg)) => {
            let d = blake2s::hmac(k, &[msg]);
            written(m.write(out32, &d))
        }
        _ => E_BAD_ARG,
    }
}

/// Writes `KDFn(key 32 B, input[len])` for `n` = 1, 2 or 3: `T1 ‖ … ‖ Tn` (32·n bytes) at
/// `out`. 0 or E_BAD_ARG.
#[no_mangle]
pub extern "C" fn ts_kdf(key: u32, input: u32, len: u32, n: u32, out: u32) -> i32 {
    let m = parts().mem;
    if !(1..=3).contains(&n) {
        return E_BAD_ARG;
    }
    let mut t = [[0u8; 32]; 3];
    match (m.read::<32>(key), m.bytes(input, len as usize)) {
        (Some(k), Some(x)) => blake2s::kdf(&k, x, &mut t[..n as usize]),
        _ => return E_BAD_ARG,
    }
    let mut flat = [0u8; 96];
    for (f, x) in flat.chunks_exact_mut(32).zip(t.iter()) {
        f.copy_from_slice(x);
    }
    written(m.write(out, &flat[..32 * n as usize]))
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
    fn chacha20_export() {
        // RFC 8439 §2.4.2: 114 bytes from counter 1.
        fresh();
        let s = m().scratch_ptr();
        let key: Vec<u8> = (0..32).collect();
        assert!(m().write(s, &key));
        assert!(m().write(s + 32, &[0, 0, 0, 0, 0, 0, 0, 0x4a, 0, 0, 0, 0]));
        let pt = PT;
        assert!(m().write(s + 64, pt));
        assert_eq!(ts_chacha20(s, 1, s + 32, s + 64, pt.len() as u32), 0);
        assert_eq!(&m().read::<4>(s + 64).unwrap(), &[0x6e, 0x2e, 0x35, 0x9a]);
        assert_eq!(ts_chacha20(s, 1, s + 32, s + 64, pt.len() as u32), 0);
        assert_eq!(m().bytes(s + 64, pt.len()).unwrap(), pt);
        assert_eq!(ts_chacha20(s, 1, s + 32, u32::MAX - 8, 64), E_BAD_ARG);
        assert_eq!(ts_chacha20(s, 1, 0, s + 64, 4), E_BAD_ARG);
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

    #[test]
    fn x25519_exports() {
        fresh();
        let s = m().scratch_ptr();
        // RFC 7748 §6.1: Alice's private key, Bob's public key, the shared secret.
        assert!(m().write(s, &hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")));
        assert!(m().write(s + 32, &hex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")));
        assert_eq!(ts_x25519(s, s + 32, s + 64), 0);
        assert_eq!(
            m().bytes(s + 64, 32).unwrap(),
            &hex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")[..]
        );
        assert_eq!(ts_x25519_base(s, s + 96), 0);
        assert_eq!(
            m().bytes(s + 96, 32).unwrap(),
            &hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")[..]
        );
        // The output may overwrite the point.
        assert_eq!(ts_x25519(s, s + 32, s + 32), 0);
        assert_eq!(m().bytes(s + 32, 32).unwrap(), m().bytes(s + 64, 32).unwrap());
        // A low-order point: 1, with the 32 zero bytes written.
        assert!(m().write(s + 32, &[0; 32]));
        assert!(m().write(s + 64, &[0xff; 32]));
        assert_eq!(ts_x25519(s, s + 32, s + 64), 1);
        assert_eq!(m().read::<32>(s + 64).unwrap(), [0; 32]);
        assert_eq!(ts_x25519(4, s + 32, s + 64), E_BAD_ARG);
        assert_eq!(ts_x25519(s, 4, s + 64), E_BAD_ARG);
        assert_eq!(ts_x25519(s, s + 32, 4), E_BAD_ARG);
        assert_eq!(ts_x25519_base(4, s), E_BAD_ARG);
        assert_eq!(ts_x25519_base(s, u32::MAX - 8), E_BAD_ARG);
    }

    #[test]
    fn blake2s_hmac_kdf_exports() {
        use crate::crypto::blake2s::{hmac, kdf};
        fresh();
        let s = m().scratch_ptr();
        assert!(m().write(s, b"abc"));
        assert_eq!(ts_blake2s(0, 0, s, 3, s + 64, 32), 0);
        assert_eq!(
            m().bytes(s + 64, 32).unwrap(),
            &hex("508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982")[..]
        );
        // Keyed with a 16-byte digest (WireGuard's MAC), key read from memory.
        let key: Vec<u8> = (0..32).collect();
        assert!(m().write(s + 128, &key));
        assert_eq!(ts_blake2s(s + 128, 32, s, 3, s + 64, 16), 0);
        let mut want = crate::crypto::blake2s::Blake2s::new(16, &key);
        want.update(b"abc");
        assert_eq!(m().bytes(s + 64, 16).unwrap(), &want.finish()[..16]);
        assert_eq!(ts_blake2s(0, 33, s, 3, s + 64, 32), E_BAD_ARG);
        assert_eq!(ts_blake2s(0, 0, s, 3, s + 64, 0), E_BAD_ARG);
        assert_eq!(ts_blake2s(0, 0, s, 3, s + 64, 33), E_BAD_ARG);
        assert_eq!(ts_blake2s(0, 0, 4, 3, s + 64, 32), E_BAD_ARG);
        assert_eq!(ts_blake2s(0, 0, s, 3, 4, 32), E_BAD_ARG);
        // HMAC with any key length; the output may overwrite the key.
        assert_eq!(ts_hmac_blake2s(s + 128, 32, s, 3, s + 128), 0);
        assert_eq!(m().read::<32>(s + 128).unwrap(), hmac(&key, &[b"abc"]));
        assert!(m().write(s + 256, &[7; 100]));
        assert_eq!(ts_hmac_blake2s(s + 256, 100, s, 3, s + 64), 0);
        assert_eq!(m().read::<32>(s + 64).unwrap(), hmac(&[7; 100], &[b"abc"]));
        assert_eq!(ts_hmac_blake2s(4, 32, s, 3, s + 64), E_BAD_ARG);
        // KDF1..3, the output may overlap the input.
        assert!(m().write(s + 128, &key));
        for n in 1..=3u32 {
            assert_eq!(ts_kdf(s + 128, s, 3, n, s + 512), 0);
            let mut t = [[0u8; 32]; 3];
            kdf(key[..].try_into().unwrap(), b"abc", &mut t[..n as usize]);
            assert_eq!(m().bytes(s + 512, 32 * n as usize).unwrap(), &t.concat()[..32 * n as usize]);
        }
        assert_eq!(ts_kdf(s + 128, s, 3, 0, s + 512), E_BAD_ARG);
        assert_eq!(ts_kdf(s + 128, s, 3, 4, s + 512), E_BAD_ARG);
        assert_eq!(ts_kdf(4, s, 3, 1, s + 512), E_BAD_ARG);
        assert_eq!(ts_kdf(s + 128, s, 3, 3, u32::MAX - 64), E_BAD_ARG);
        assert_eq!(ts_kdf(s + 128, 0, 0, 1, s + 512), 0); // empty input
        let mut t = [[0u8; 32]; 1];
        kdf(key[..].try_into().unwrap(), b"", &mut t);
        assert_eq!(m().read::<32>(s + 512).unwrap(), t[0]);
    }
}
