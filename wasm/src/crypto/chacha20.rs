//! ChaCha20 (RFC 8439).
//!
//! Bulk keystream is made four blocks at a time, word-sliced: state word `i` of blocks
//! `counter .. counter + 3` lives in one 4-lane vector (lane `j` = block `counter + j`), so
//! a quarter round is 4 adds, 4 xors and 4 rotations on whole vectors. After the 20 rounds
//! each group of four word vectors is transposed (4×4) into 16 keystream bytes of each of
//! the four blocks and XORed into the buffer 16 bytes at a time: 256 bytes per pass.
//!
//! The vector operations are the [`lanes`] module: `core::arch::wasm32` simd128
//! intrinsics on wasm32 (the crate is built with `+simd128`), plain `[u32; 4]` arithmetic
//! elsewhere, so host `cargo test` runs exactly the same round, transpose and tail logic.
//! No `unsafe`: 16-byte loads and stores are written as byte/lane moves that LLVM folds
//! into `v128.load` / `v128.store`.
//!
//! The single-block scalar [`block`] remains for `ts_chacha20_block` and the tests.

const SIGMA: [u32; 4] = [0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574];

/// A 32-byte key as little-endian words.
pub fn key_words(k: &[u8; 32]) -> [u32; 8] {
    let mut w = [0u32; 8];
    for (i, x) in w.iter_mut().enumerate() {
        *x = u32::from_le_bytes([k[4 * i], k[4 * i + 1], k[4 * i + 2], k[4 * i + 3]]);
    }
    w
}

/// A 12-byte nonce as little-endian words.
pub fn nonce_words(n: &[u8; 12]) -> [u32; 3] {
    let mut w = [0u32; 3];
    for (i, x) in w.iter_mut().enumerate() {
        *x = u32::from_le_bytes([n[4 * i], n[4 * i + 1], n[4 * i + 2], n[4 * i + 3]]);
    }
    w
}

#[inline(always)]
fn quarter(x: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize) {
    x[a] = x[a].wrapping_add(x[b]);
    x[d] = (x[d] ^ x[a]).rotate_left(16);
    x[c] = x[c].wrapping_add(x[d]);
    x[b] = (x[b] ^ x[c]).rotate_left(12);
    x[a] = x[a].wrapping_add(x[b]);
    x[d] = (x[d] ^ x[a]).rotate_left(8);
    x[c] = x[c].wrapping_add(x[d]);
    x[b] = (x[b] ^ x[c]).rotate_left(7);
}

/// One 64-byte keystream block as 16 words.
#[inline(always)]
pub fn block(key: &[u32; 8], counter: u32, nonce: &[u32; 3]) -> [u32; 16] {
    let init = [
        SIGMA[0], SIGMA[1], SIGMA[2], SIGMA[3], key[0], key[1], key[2], key[3], key[4], key[5], key[6], key[7],
        counter, nonce[0], nonce[1], nonce[2],
    ];
    let mut x = init;
    for _ in 0..10 {
        quarter(&mut x, 0, 4, 8, 12);
        quarter(&mut x, 1, 5, 9, 13);
        quarter(&mut x, 2, 6, 10, 14);
        quarter(&mut x, 3, 7, 11, 15);
        quarter(&mut x, 0, 5, 10, 15);
        quarter(&mut x, 1, 6, 11, 12);
        quarter(&mut x, 2, 7, 8, 13);
        quarter(&mut x, 3, 4, 9, 14);
    }
    for (o, i) in x.iter_mut().zip(init.iter()) {
        *o = o.wrapping_add(*i);
    }
    x
}

/// Serialized keystream block.
pub fn block_bytes(key: &[u32; 8], counter: u32, nonce: &[u32; 3]) -> [u8; 64] {
    let w = block(key, counter, nonce);
    let mut out = [0u8; 64];
    for (o, x) in out.chunks_exact_mut(4).zip(w.iter()) {
        o.copy_from_slice(&x.to_le_bytes());
    }
    out
}

/// Four u32 lanes. Same semantics on both targets; only the representation differs.
#[cfg(target_arch = "wasm32")]
mod lanes {
    use core::arch::wasm32::*;

    pub use crate::crypto::u32x4::{add, load, splat, transpose, V};

    /// `[c, c+1, c+2, c+3]` (wrapping, like the 32-bit block counter).
    #[inline(always)]
    pub fn counters(c: u32) -> V {
        u32x4_add(u32x4_splat(c), u32x4(0, 1, 2, 3))
    }
    #[inline(always)]
    pub fn xor(a: V, b: V) -> V {
        v128_xor(a, b)
    }
    /// Rotations by whole bytes are byte permutes, the others two shifts and an or. As
    /// `i8x16.swizzle` with constant in-range indices V8 emits one `pshufb` with the
    /// mask hoisted out of the loop; `i8x16.shuffle` rematerializes its mask each time
    /// (measured ~10% slower ChaCha20).
    #[inline(always)]
    pub fn rotl16(a: V) -> V {
        i8x16_swizzle(a, u8x16(2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13))
    }
    #[inline(always)]
    pub fn rotl8(a: V) -> V {
        i8x16_swizzle(a, u8x16(3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14))
    }
    #[inline(always)]
    pub fn rotl12(a: V) -> V {
        v128_or(i32x4_shl(a, 12), u32x4_shr(a, 20))
    }
    #[inline(always)]
    pub fn rotl7(a: V) -> V {
        v128_or(i32x4_shl(a, 7), u32x4_shr(a, 25))
    }
    /// (Folds into one `v128.store`.)
    #[inline(always)]
    pub fn store(b: &mut [u8; 16], v: V) {
        b[0..4].copy_from_slice(&u32x4_extract_lane::<0>(v).to_le_bytes());
        b[4..8].copy_from_slice(&u32x4_extract_lane::<1>(v).to_le_bytes());
        b[8..12].copy_from_slice(&u32x4_extract_lane::<2>(v).to_le_bytes());
        b[12..16].copy_from_slice(&u32x4_extract_lane::<3>(v).to_le_bytes());
    }
}

/// Four u32 lanes. Same semantics on both targets; only the representation differs.
#[cfg(not(target_arch = "wasm32"))]
mod lanes {
    pub use crate::crypto::u32x4::{add, load, splat, transpose, V};

    #[inline(always)]
    fn map2(a: V, b: V, f: impl Fn(u32, u32) -> u32) -> V {
        [f(a[0], b[0]), f(a[1], b[1]), f(a[2], b[2]), f(a[3], b[3])]
    }
    #[inline(always)]
    fn map(a: V, f: impl Fn(u32) -> u32) -> V {
        [f(a[0]), f(a[1]), f(a[2]), f(a[3])]
    }
    #[inline(always)]
    pub fn counters(c: u32) -> V {
        [c, c.wrapping_add(1), c.wrapping_add(2), c.wrapping_add(3)]
    }
    #[inline(always)]
    pub fn xor(a: V, b: V) -> V {
        map2(a, b, |x, y| x ^ y)
    }
    #[inline(always)]
    pub fn rotl16(a: V) -> V {
        map(a, |x| x.rotate_left(16))
    }
    #[inline(always)]
    pub fn rotl8(a: V) -> V {
        map(a, |x| x.rotate_left(8))
    }
    #[inline(always)]
    pub fn rotl12(a: V) -> V {
        map(a, |x| x.rotate_left(12))
    }
    #[inline(always)]
    pub fn rotl7(a: V) -> V {
        map(a, |x| x.rotate_left(7))
    }
    #[inline(always)]
    pub fn store(b: &mut [u8; 16], v: V) {
        for (o, x) in b.chunks_exact_mut(4).zip(v.iter()) {
            o.copy_from_slice(&x.to_le_bytes());
        }
    }
}

use lanes::V;

#[inline(always)]
fn quarter4(x: &mut [V; 16], a: usize, b: usize, c: usize, d: usize) {
    x[a] = lanes::add(x[a], x[b]);
    x[d] = lanes::rotl16(lanes::xor(x[d], x[a]));
    x[c] = lanes::add(x[c], x[d]);
    x[b] = lanes::rotl12(lanes::xor(x[b], x[c]));
    x[a] = lanes::add(x[a], x[b]);
    x[d] = lanes::rotl8(lanes::xor(x[d], x[a]));
    x[c] = lanes::add(x[c], x[d]);
    x[b] = lanes::rotl7(lanes::xor(x[b], x[c]));
}

#[inline(always)]
fn double_round(x: &mut [V; 16]) {
    quarter4(x, 0, 4, 8, 12);
    quarter4(x, 1, 5, 9, 13);
    quarter4(x, 2, 6, 10, 14);
    quarter4(x, 3, 7, 11, 15);
    quarter4(x, 0, 5, 10, 15);
    quarter4(x, 1, 6, 11, 12);
    quarter4(x, 2, 7, 8, 13);
    quarter4(x, 3, 4, 9, 14);
}

/// Work interleaved with the rounds of a [`Quad`] (a trait rather than a closure so that
/// it is always inlined).
pub trait Between {
    fn after(&mut self, double_round: usize);
}

impl Between for () {
    #[inline(always)]
    fn after(&mut self, _: usize) {}
}

/// Keystream blocks `counter .. counter + 3`, 256 bytes, as 16 vectors in stream order:
/// element `4 * j + g` is bytes `16 * g .. 16 * g + 16` of block `counter + j`.
#[derive(Clone, Copy)]
pub struct Quad([V; 16]);

impl Quad {
    #[inline(always)]
    pub fn new(key: &[u32; 8], counter: u32, nonce: &[u32; 3]) -> Quad {
        Quad::new_with(key, counter, nonce, &mut ())
    }

    /// Like [`Quad::new`], calling `between.after(i)` after double round `i` (0..10):
    /// work placed there (the AEAD runs Poly1305 there) overlaps the rounds' dependency chains.
    #[inline(always)]
    pub fn new_with(key: &[u32; 8], counter: u32, nonce: &[u32; 3], between: &mut impl Between) -> Quad {
        let s = lanes::splat;
        // The 4×4 state matrix, one row per line.
        #[rustfmt::skip]
        let init = [
            s(SIGMA[0]), s(SIGMA[1]), s(SIGMA[2]), s(SIGMA[3]),
            s(key[0]), s(key[1]), s(key[2]), s(key[3]),
            s(key[4]), s(key[5]), s(key[6]), s(key[7]),
            lanes::counters(counter), s(nonce[0]), s(nonce[1]), s(nonce[2]),
        ];
        let mut x = init;
        // The ten double rounds straight-line, not a loop: no loop-carried register
        // shuffling of the 16 vectors and `between` gets constant indices (seal at 1420 B
        // best-of-runs 0-10% faster on a loaded 2-vCPU VM; the module grows by ~30 KB).
        macro_rules! dr {
            ($($i:expr),*) => {$(
                double_round(&mut x);
                between.after($i);
            )*};
        }
        dr!(0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
        for (o, i) in x.iter_mut().zip(init.iter()) {
            *o = lanes::add(*o, *i);
        }
        let mut out = [lanes::splat(0); 16];
        for g in 0..4 {
            let t = lanes::transpose(x[4 * g], x[4 * g + 1], x[4 * g + 2], x[4 * g + 3]);
            for (j, v) in t.iter().enumerate() {
                out[4 * j + g] = *v;
            }
        }
        Quad(out)
    }

    /// XORs the keystream into the first `min(buf.len(), 256)` bytes of `buf`.
    #[inline(always)]
    pub fn xor_into(&self, buf: &mut [u8]) {
        let n = buf.len().min(256);
        if let Some(b) = buf.get_mut(..n) {
            xor_pieces(&self.0, b);
        }
    }
}

/// XORs 16-byte keystream pieces into `buf`, which must not be longer than the pieces
/// (a final partial piece byte-wise).
#[inline(always)]
fn xor_pieces(ks: &[V], buf: &mut [u8]) {
    let mut chunks = buf.chunks_exact_mut(16);
    let mut pieces = ks.iter();
    for (c, k) in (&mut chunks).zip(&mut pieces) {
        if let Ok(c) = <&mut [u8; 16]>::try_from(c) {
            let v = lanes::xor(lanes::load(c), *k);
            lanes::store(c, v);
        }
    }
    let rest = chunks.into_remainder();
    if let Some(k) = pieces.next() {
        let mut kb = [0u8; 16];
        lanes::store(&mut kb, *k);
        for (b, k) in rest.iter_mut().zip(kb.iter()) {
            *b ^= k;
        }
    }
}

/// XORs the keystream starting at block `counter` into `buf` (encrypt = decrypt).
pub fn xor_in_place(key: &[u32; 8], counter: u32, nonce: &[u32; 3], buf: &mut [u8]) {
    let mut ctr = counter;
    // A partial last pass too, even for one block: four blocks cost about what one
    // scalar block does.
    for q in buf.chunks_mut(256) {
        Quad::new(key, ctr, nonce).xor_into(q);
        ctr = ctr.wrapping_add(4);
    }
}

/// Keystream blocks 0..3, for the AEAD: block 0 keys Poly1305, blocks 1..3 are the
/// first 192 bytes of the message's keystream, the rest starts at block 4.
pub struct FirstBlocks(Quad);

/// Message bytes covered by [`FirstBlocks`] (blocks 1..3).
pub const FIRST_LEN: usize = 192;

impl FirstBlocks {
    pub fn new(key: &[u32; 8], nonce: &[u32; 3]) -> FirstBlocks {
        FirstBlocks(Quad::new(key, 0, nonce))
    }

    /// The one-time Poly1305 key: the first 32 bytes of block 0.
    pub fn poly_key(&self) -> [u8; 32] {
        let mut k = [0u8; 32];
        for (c, v) in k.chunks_exact_mut(16).zip(self.0 .0.iter()) {
            if let Ok(c) = <&mut [u8; 16]>::try_from(c) {
                lanes::store(c, *v);
            }
        }
        k
    }

    /// XORs blocks 1..3 into the first `min(buf.len(), 192)` bytes of `buf`.
    #[inline(always)]
    pub fn xor_head(&self, buf: &mut [u8]) {
        let n = buf.len().min(FIRST_LEN);
        if let (Some(b), Some(ks)) = (buf.get_mut(..n), self.0 .0.get(4..)) {
            xor_pieces(ks, b);
        }
    }

    /// Same as `xor_in_place(key, 1, nonce, buf)`, reusing blocks 1..3.
    pub fn xor_after_first(&self, key: &[u32; 8], nonce: &[u32; 3], buf: &mut [u8]) {
        self.xor_head(buf);
        if let Some(tail) = buf.get_mut(FIRST_LEN..) {
            xor_in_place(key, 4, nonce, tail);
        }
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;

    pub fn hex(s: &str) -> Vec<u8> {
        (0..s.len() / 2).map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap()).collect()
    }

    fn seq_key() -> [u32; 8] {
        let mut k = [0u8; 32];
        for (i, b) in k.iter_mut().enumerate() {
            *b = i as u8;
        }
        key_words(&k)
    }

    #[test]
    fn rfc8439_block() {
        // RFC 8439 §2.3.2.
        let n = nonce_words(&[0, 0, 0, 9, 0, 0, 0, 0x4a, 0, 0, 0, 0]);
        let want = hex("10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4ed2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e");
        assert_eq!(&block_bytes(&seq_key(), 1, &n)[..], &want[..]);
    }

    #[test]
    fn rfc8439_encryption() {
        // RFC 8439 §2.4.2: 114 bytes from counter 1 (a full and a partial four-block pass).
        let n = nonce_words(&[0, 0, 0, 0, 0, 0, 0, 0x4a, 0, 0, 0, 0]);
        let mut buf = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.".to_vec();
        xor_in_place(&seq_key(), 1, &n, &mut buf);
        let want = hex("6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0bf91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d807ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab77937365af90bbf74a35be6b40b8eedf2785e42874d");
        assert_eq!(buf, want);
    }

    #[test]
    fn xor_matches_blocks_at_every_length() {
        let n = nonce_words(&[7; 12]);
        let k = seq_key();
        for start in [5u32, u32::MAX - 2] {
            // Around u32::MAX the four lanes' counters wrap like the scalar one.
            let mut stream = Vec::new();
            for c in 0..40 {
                stream.extend_from_slice(&block_bytes(&k, start.wrapping_add(c), &n));
            }
            for len in 0..=stream.len() {
                let mut buf = vec![0u8; len];
                xor_in_place(&k, start, &n, &mut buf);
                assert_eq!(&buf[..], &stream[..len], "start {} len {}", start, len);
                xor_in_place(&k, start, &n, &mut buf);
                assert!(buf.iter().all(|&b| b == 0));
            }
        }
    }

    #[test]
    fn first_blocks_match_the_scalar_stream() {
        let n = nonce_words(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        let k = seq_key();
        let fb = FirstBlocks::new(&k, &n);
        assert_eq!(&fb.poly_key()[..], &block_bytes(&k, 0, &n)[..32]);
        let mut stream = Vec::new();
        for c in 1..40 {
            stream.extend_from_slice(&block_bytes(&k, c, &n));
        }
        for len in 0..=stream.len() {
            let mut buf: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let orig = buf.clone();
            fb.xor_after_first(&k, &n, &mut buf);
            let want: Vec<u8> = orig.iter().zip(stream.iter()).map(|(a, b)| a ^ b).collect();
            assert_eq!(buf, want, "len {}", len);
        }
    }
}
