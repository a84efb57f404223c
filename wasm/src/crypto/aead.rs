//! ChaCha20-Poly1305 AEAD (RFC 8439 §2.8), in place: the transport path seals and opens
//! packets where they sit in their slots.
//!
//! ChaCha20 and Poly1305 (both simd128, Poly1305 four blocks per step in
//! [`crate::crypto::poly1305x4`]) are stitched: Poly1305 over one 256-byte stretch of
//! ciphertext runs between the double rounds of the four-block ChaCha20 pass for the
//! next stretch, and the CPU overlaps the two dependency chains. Sealing MACs the stretch it encrypted
//! in the previous pass; opening MACs the ciphertext ahead of the keystream and keeps the
//! keystream until the tag has been verified, so a forged message is never decrypted.

use crate::crypto::chacha20::{xor_in_place, Between, FirstBlocks, Quad, FIRST_LEN};
use crate::crypto::poly1305::{Poly1305, VECTOR_MIN};
use crate::crypto::poly1305x4::{Acc, Poly4, GROUP};

/// Bytes of one four-block ChaCha20 pass.
const QUAD: usize = 256;
/// Passes of keystream that opening keeps while it verifies: with [`FIRST_LEN`] they
/// cover 2240 bytes, more than any slot's plaintext; longer messages (possible through
/// `ts_aead_open`) get the rest of their keystream made after verification.
pub const KEPT: usize = 8;

/// The keystream opening keeps while it verifies.
pub type Kept = [Option<Quad>; KEPT];

/// Poly1305 keyed by block 0, with `aad ‖ pad16` absorbed.
#[inline(always)]
fn mac_start(first: &FirstBlocks, aad: &[u8]) -> Poly1305 {
    let mut p = Poly1305::new(&first.poly_key());
    p.update_padded(aad);
    p
}

/// Absorbs `le64(|aad|) ‖ le64(|ct|)` and returns the tag.
fn mac_finish(p: &mut Poly1305, aad_len: usize, ct_len: usize) -> [u8; 16] {
    let mut lens = [0u8; 16];
    lens[..8].copy_from_slice(&(aad_len as u64).to_le_bytes());
    lens[8..].copy_from_slice(&(ct_len as u64).to_le_bytes());
    p.update_padded(&lens);
    p.tag()
}

/// Poly1305 over `aad ‖ pad16 ‖ ct ‖ pad16 ‖ le64(|aad|) ‖ le64(|ct|)`, keyed by block 0
/// (not stitched: for a seal whose AAD overlaps its buffer).
pub fn tag(first: &FirstBlocks, aad: &[u8], ct: &[u8]) -> [u8; 16] {
    let mut p = mac_start(first, aad);
    p.update_padded(ct);
    mac_finish(&mut p, aad.len(), ct.len())
}

/// Constant-time tag comparison.
fn tags_equal(a: &[u8; 16], b: &[u8; 16]) -> bool {
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b.iter()) {
        diff |= x ^ y;
    }
    diff == 0
}

/// The 64-byte group of `data` at `at`, if whole.
#[inline(always)]
fn group(data: &[u8], at: usize) -> Option<&[u8; GROUP]> {
    data.get(at..at + GROUP).and_then(|g| <&[u8; GROUP]>::try_from(g).ok())
}

/// Poly1305 over up to 4 groups of 64 bytes, one after each odd double round of a
/// four-block pass. (Spread thinner, a part of a step after each quarter round, measured
/// no faster: both are vector code now and the state of both does not fit in registers.)
struct Absorb<'a> {
    p4: &'a Poly4,
    acc: Acc,
    mac: &'a [u8],
    groups: usize,
}

impl Between for Absorb<'_> {
    #[inline(always)]
    fn after(&mut self, i: usize) {
        if i % 2 == 1 && i / 2 < self.groups {
            if let Some(m) = group(self.mac, GROUP * (i / 2)) {
                self.acc = self.p4.step(&self.acc, m);
            }
        }
    }
}

/// The four-block pass at `counter`, absorbing the whole groups of the first 256 bytes
/// of `mac` into `acc` along the way. Returns the pass and the bytes absorbed.
#[inline(always)]
fn quad_absorbing(
    key: &[u32; 8],
    counter: u32,
    nonce: &[u32; 3],
    p4: &Poly4,
    acc: &mut Acc,
    mac: &[u8],
) -> (Quad, usize) {
    let groups = (mac.len() / GROUP).min(QUAD / GROUP);
    let mut absorb = Absorb { p4, acc: *acc, mac, groups };
    let q = Quad::new_with(key, counter, nonce, &mut absorb);
    *acc = absorb.acc;
    (q, GROUP * groups)
}

/// Absorbs `data` from `absorbed` (its whole groups into `acc`, then the rest padded)
/// and leaves the tag's accumulator in `p`.
#[inline(always)]
fn absorb_rest(p: &mut Poly1305, p4: &Poly4, mut acc: Acc, data: &[u8], mut absorbed: usize) {
    while let Some(m) = group(data, absorbed) {
        acc = p4.step(&acc, m);
        absorbed += GROUP;
    }
    p.set_acc(p4.finish(&acc));
    p.update_padded(data.get(absorbed..).unwrap_or(&[]));
}

/// Encrypts `buf` (keystream from block 1; blocks 1..3 from `first`) and absorbs the
/// ciphertext into `p`, padded. Each pass MACs the ciphertext of the one before.
#[inline(always)]
fn encrypt_absorb(key: &[u32; 8], nonce: &[u32; 3], first: &FirstBlocks, p: &mut Poly1305, buf: &mut [u8]) {
    first.xor_head(buf);
    // Short messages lie within the first blocks: the scalar MAC, no powers of r.
    let head = match group(buf, 0) {
        Some(g) if buf.len() >= VECTOR_MIN => *g,
        _ => return p.update_padded(buf),
    };
    let p4 = p.powers4();
    let mut acc = p4.first(&p.acc(), &head);
    let mut absorbed = GROUP; // ciphertext bytes MACed, a multiple of 64
    let mut pos = FIRST_LEN; // bytes encrypted (all of them once pos >= len)
    let mut counter = 4u32;
    while pos < buf.len() {
        let (done, todo) = buf.split_at_mut(pos);
        let (q, n) = quad_absorbing(key, counter, nonce, &p4, &mut acc, done.get(absorbed..).unwrap_or(&[]));
        absorbed += n;
        q.xor_into(todo);
        pos += QUAD;
        counter = counter.wrapping_add(4);
    }
    absorb_rest(p, &p4, acc, buf, absorbed);
}

/// Absorbs the ciphertext `ct` into `p`, padded, while making the keystream from block 4
/// for up to [`KEPT`] passes into `kept` (the first ones, as many as the message needs).
#[inline(always)]
fn absorb_keystream(key: &[u32; 8], nonce: &[u32; 3], p: &mut Poly1305, ct: &[u8], kept: &mut Kept) {
    let head = match group(ct, 0) {
        Some(g) if ct.len() >= VECTOR_MIN => g,
        _ => return p.update_padded(ct), // within the first blocks: no passes
    };
    let p4 = p.powers4();
    let mut acc = p4.first(&p.acc(), head);
    let mut absorbed = GROUP;
    let mut counter = 4u32;
    for (k, slot) in kept.iter_mut().enumerate() {
        if FIRST_LEN + QUAD * k >= ct.len() {
            break;
        }
        let (q, n) = quad_absorbing(key, counter, nonce, &p4, &mut acc, ct.get(absorbed..).unwrap_or(&[]));
        *slot = Some(q);
        absorbed += n;
        counter = counter.wrapping_add(4);
    }
    absorb_rest(p, &p4, acc, ct, absorbed);
}

/// Decrypts `buf` with blocks 1..3 from `first`, the kept passes, and fresh
/// keystream for whatever lies beyond them.
#[inline(always)]
pub fn decrypt_kept(key: &[u32; 8], nonce: &[u32; 3], first: &FirstBlocks, kept: &Kept, buf: &mut [u8]) {
    first.xor_head(buf);
    for (k, q) in kept.iter().enumerate() {
        if let (Some(q), Some(b)) = (q, buf.get_mut(FIRST_LEN + QUAD * k..)) {
            q.xor_into(b);
        }
    }
    if let Some(rest) = buf.get_mut(FIRST_LEN + QUAD * KEPT..) {
        if !rest.is_empty() {
            xor_in_place(key, 4 + 4 * KEPT as u32, nonce, rest);
        }
    }
}

/// Encrypts `buf` in place and returns the tag. (Never inlined: `ts_aead_seal` and the
/// transport path share one copy of the stitched code.)
#[inline(never)]
pub fn seal_in_place(key: &[u32; 8], nonce: &[u32; 3], aad: &[u8], buf: &mut [u8]) -> [u8; 16] {
    // Blocks 0..3 in one pass: the Poly1305 key and the first 192 bytes of keystream.
    let first = FirstBlocks::new(key, nonce);
    let mut p = mac_start(&first, aad);
    encrypt_absorb(key, nonce, &first, &mut p, buf);
    mac_finish(&mut p, aad.len(), buf.len())
}

/// Verifies `tag` (constant time) and only then decrypts `buf` in place; on failure
/// `buf` is left as it was.
pub fn open_in_place(key: &[u32; 8], nonce: &[u32; 3], aad: &[u8], buf: &mut [u8], expected: &[u8; 16]) -> bool {
    let first = FirstBlocks::new(key, nonce);
    // Option: no 2 KiB of zeroes to write first (only the tags are initialized).
    let mut kept = [None; KEPT];
    if !verify(key, nonce, &first, aad, buf, expected, &mut kept) {
        return false;
    }
    decrypt_kept(key, nonce, &first, &kept, buf);
    true
}

/// MACs `aad` and `ct`, keeping the keystream made alongside in `kept`, and compares the
/// tag with `expected` in constant time. (Never inlined: one copy of the stitched code.)
#[inline(never)]
pub fn verify(
    key: &[u32; 8],
    nonce: &[u32; 3],
    first: &FirstBlocks,
    aad: &[u8],
    ct: &[u8],
    expected: &[u8; 16],
    kept: &mut Kept,
) -> bool {
    let mut p = mac_start(first, aad);
    absorb_keystream(key, nonce, &mut p, ct, kept);
    tags_equal(&mac_finish(&mut p, aad.len(), ct.len()), expected)
}

/// The WireGuard transport nonce: 4 zero bytes ‖ LE64(counter), as words.
pub fn counter_nonce(counter: u64) -> [u32; 3] {
    [0, counter as u32, (counter >> 32) as u32]
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use crate::crypto::chacha20::{self, key_words, nonce_words, tests::hex};

    pub const PT: &[u8] = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
    pub const CT: &str = "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116";
    pub const TAG: &str = "1ae10b594f09e26a7e902ecbd0600691";

    pub fn kn() -> ([u32; 8], [u32; 3]) {
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

    /// The construction spelled out with the scalar block function and a one-shot MAC.
    pub fn reference(k: &[u32; 8], n: &[u32; 3], aad: &[u8], pt: &[u8]) -> (Vec<u8>, [u8; 16]) {
        let mut ct = pt.to_vec();
        for (i, c) in ct.chunks_mut(64).enumerate() {
            let ks = chacha20::block_bytes(k, 1 + i as u32, n);
            c.iter_mut().zip(ks.iter()).for_each(|(b, k)| *b ^= k);
        }
        let mut m = aad.to_vec();
        m.resize((aad.len() + 15) / 16 * 16, 0);
        m.extend_from_slice(&ct);
        m.resize((m.len() + 15) / 16 * 16, 0);
        m.extend_from_slice(&(aad.len() as u64).to_le_bytes());
        m.extend_from_slice(&(ct.len() as u64).to_le_bytes());
        let mut pk = [0u8; 32];
        pk.copy_from_slice(&chacha20::block_bytes(k, 0, n)[..32]);
        (ct, crate::crypto::poly1305::mac(&pk, &m))
    }

    #[test]
    fn stitched_matches_reference_at_every_length() {
        let mut seed = 0x1234_5678u32;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        // Past FIRST_LEN + KEPT passes (2240), where opening makes fresh keystream.
        for len in (0..2600).chain([4095, 4096, 4097, 16384]) {
            let mut kb = [0u8; 32];
            kb.iter_mut().for_each(|b| *b = rnd() as u8);
            let mut nb = [0u8; 12];
            nb.iter_mut().for_each(|b| *b = rnd() as u8);
            let (k, n) = (key_words(&kb), nonce_words(&nb));
            let aad: Vec<u8> = (0..rnd() % 40).map(|_| rnd() as u8).collect();
            let pt: Vec<u8> = (0..len).map(|_| rnd() as u8).collect();
            let (want_ct, want_tag) = reference(&k, &n, &aad, &pt);
            let mut buf = pt.clone();
            let t = seal_in_place(&k, &n, &aad, &mut buf);
            assert_eq!(buf, want_ct, "seal len {}", len);
            assert_eq!(t, want_tag, "tag len {}", len);
            assert!(open_in_place(&k, &n, &aad, &mut buf, &t), "open len {}", len);
            assert_eq!(buf, pt, "open len {}", len);
            // A flipped bit anywhere: refused, buffer untouched.
            let mut ct = want_ct.clone();
            if len > 0 {
                ct[rnd() as usize % len] ^= 1 << (rnd() % 8);
                let before = ct.clone();
                assert!(!open_in_place(&k, &n, &aad, &mut ct, &t));
                assert_eq!(ct, before);
            }
            let mut bad = t;
            bad[rnd() as usize % 16] ^= 1 << (rnd() % 8);
            let mut ct = want_ct.clone();
            assert!(!open_in_place(&k, &n, &aad, &mut ct, &bad));
            assert_eq!(ct, want_ct);
        }
    }
}
