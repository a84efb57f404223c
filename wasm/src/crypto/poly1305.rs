//! Poly1305 (RFC 8439), "donna" 5×26-bit limbs held in u64s: every product (< 2^58) and
//! column sum (< 2^62) fits in 64 bits, so a product is one native `i64.mul` (a u128
//! multiply would be a libcall) with no zero-extension.
//!
//! Inputs of [`VECTOR_MIN`] bytes or more are absorbed four blocks per step in simd128
//! lanes ([`super::poly1305x4`]); shorter ones and what that leaves over scalar.
//!
//! Scalar bulk input is absorbed two blocks at a time ("2-way Horner"): with r² precomputed,
//! `h ← (h + m₁)·r² + m₂·r`. That is the same 50 multiplications per pair as two
//! sequential steps, but the two halves are independent (the CPU overlaps them) and
//! there is one carry chain per pair instead of two. All limb arithmetic is branch-free
//! and data-independent in its indices: constant time.

use super::poly1305_limbs::{carry, mul, times5, Limbs, M26};
use super::poly1305x4::Poly4;

/// Inputs from this long take the four-lane path ([`Poly4`]).
pub const VECTOR_MIN: usize = 128;
/// The 2^128 bit of a full 16-byte block, in limb 4.
const HIBIT: u64 = 1 << 24;

pub struct Poly1305 {
    r: Limbs,
    /// 5·r (2^130 ≡ 5 folded into the high columns).
    s: Limbs,
    /// r² mod p (limbs carried below 2^26 + small, not fully reduced), and 5·r².
    r2: Limbs,
    s2: Limbs,
    h: Limbs,
    pad: [u32; 4],
    /// Pending partial block (only used by the generic `update`).
    buf: [u8; 16],
    buf_len: usize,
}

fn le32(b: &[u8; 16], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

/// A block as two little-endian u64 halves.
#[cfg(not(target_arch = "wasm32"))]
#[inline(always)]
fn halves(b: &[u8; 16]) -> (u64, u64) {
    let w = |i: usize| u64::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3], b[i + 4], b[i + 5], b[i + 6], b[i + 7]]);
    (w(0), w(8))
}

/// A block as two little-endian u64 halves. Written as one 16-byte vector load: byte
/// loads reassembled with shifts would be split back into narrow loads by LLVM.
#[cfg(target_arch = "wasm32")]
#[inline(always)]
fn halves(b: &[u8; 16]) -> (u64, u64) {
    use core::arch::wasm32::{u64x2_extract_lane, u8x16};
    let v = u8x16(b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
    (u64x2_extract_lane::<0>(v), u64x2_extract_lane::<1>(v))
}

/// A 16-byte block as limbs, `hibit` added at bit 128 (1<<24 in limb 4).
#[inline(always)]
fn limbs(m: &[u8; 16], hibit: u64) -> Limbs {
    let (lo, hi) = halves(m);
    [lo & M26, (lo >> 26) & M26, ((lo >> 52) | (hi << 12)) & M26, (hi >> 14) & M26, (hi >> 40) | hibit]
}

#[inline(always)]
fn add(a: &Limbs, b: &Limbs) -> Limbs {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3], a[4] + b[4]]
}

impl Poly1305 {
    #[inline(always)]
    pub fn new(key: &[u8; 32]) -> Poly1305 {
        let mut r16 = [0u8; 16];
        r16.copy_from_slice(&key[..16]);
        let mut p16 = [0u8; 16];
        p16.copy_from_slice(&key[16..]);
        // r clamped as RFC 8439 §2.5 requires, split into 26-bit limbs.
        let r = [
            (le32(&r16, 0) & 0x3ff_ffff) as u64,
            ((le32(&r16, 3) >> 2) & 0x3ff_ff03) as u64,
            ((le32(&r16, 6) >> 4) & 0x3ff_c0ff) as u64,
            ((le32(&r16, 9) >> 6) & 0x3f0_3fff) as u64,
            ((le32(&r16, 12) >> 8) & 0x00f_ffff) as u64,
        ];
        let s = times5(&r);
        let r2 = carry(mul(&r, &r, &s));
        Poly1305 {
            r,
            s,
            r2,
            s2: times5(&r2),
            h: [0; 5],
            pad: [le32(&p16, 0), le32(&p16, 4), le32(&p16, 8), le32(&p16, 12)],
            buf: [0; 16],
            buf_len: 0,
        }
    }

    /// Absorbs one 16-byte block; `hibit` is 1<<24 for a full block (the appended 0x01
    /// byte at position 16), 0 for the final padded partial block.
    #[inline(always)]
    fn block(&mut self, m: &[u8; 16], hibit: u64) {
        let a = add(&self.h, &limbs(m, hibit));
        self.h = carry(mul(&a, &self.r, &self.s));
    }

    /// The accumulator, for a loop of [`Poly1305::pair`] steps that keeps it in locals
    /// (put it back with [`Poly1305::set_acc`]).
    #[inline(always)]
    pub fn acc(&self) -> Limbs {
        self.h
    }

    #[inline(always)]
    pub fn set_acc(&mut self, h: Limbs) {
        self.h = h;
    }

    /// r² to r⁴ for [`Poly4`] (three multiplications: worth it from [`VECTOR_MIN`] bytes).
    #[inline(always)]
    pub fn powers4(&self) -> Poly4 {
        Poly4::new(&self.r, &self.r2)
    }

    /// Absorbs two full blocks into the accumulator `h`: `(h + m₁)·r² + m₂·r`. The limbs
    /// going in are < 2^27 + 2^26 (h + m₁) and < 2^26 (m₂), times < 5·(2^26 + 2^13).
    #[inline(always)]
    pub fn pair(&self, h: Limbs, m: &[u8; 32]) -> Limbs {
        match (<&[u8; 16]>::try_from(&m[..16]), <&[u8; 16]>::try_from(&m[16..])) {
            (Ok(m1), Ok(m2)) => {
                let a = mul(&add(&h, &limbs(m1, HIBIT)), &self.r2, &self.s2);
                let b = mul(&limbs(m2, HIBIT), &self.r, &self.s);
                carry(add(&a, &b))
            }
            _ => h, // unreachable: both halves are 16 bytes
        }
    }

    /// Absorbs whole 16-byte blocks (`data.len()` a multiple of 16 is not required: a
    /// trailing partial block is left alone and its length returned).
    #[inline(always)]
    fn blocks(&mut self, data: &[u8]) -> usize {
        // The accumulator in a local, so it stays in registers across the loop.
        let mut h = self.h;
        // Long inputs four blocks at a time in vector lanes; what is left by pairs.
        let data = match data.len() >= VECTOR_MIN {
            true => data.get(self.powers4().absorb(&mut h, data)..).unwrap_or(&[]),
            false => data,
        };
        let mut pairs = data.chunks_exact(32);
        for p in &mut pairs {
            if let Ok(p) = <&[u8; 32]>::try_from(p) {
                h = self.pair(h, p);
            }
        }
        self.h = h;
        let rest = pairs.remainder();
        let mut single = rest.chunks_exact(16);
        for c in &mut single {
            if let Ok(m) = <&[u8; 16]>::try_from(c) {
                self.block(m, HIBIT);
            }
        }
        single.remainder().len()
    }

    /// Absorbs `data` as full blocks, zero-padding a final partial block to 16 bytes
    /// (the AEAD's pad16: the padding is MACed like data, with the high bit).
    pub fn update_padded(&mut self, data: &[u8]) {
        let left = self.blocks(data);
        if left > 0 {
            let mut b = [0u8; 16];
            if let Some(rest) = data.get(data.len() - left..) {
                b[..left].copy_from_slice(rest);
            }
            self.block(&b, HIBIT);
        }
    }

    /// Generic streaming update (RFC 8439 message semantics).
    pub fn update(&mut self, mut data: &[u8]) {
        if self.buf_len > 0 {
            let take = (16 - self.buf_len).min(data.len());
            self.buf[self.buf_len..self.buf_len + take].copy_from_slice(&data[..take]);
            self.buf_len += take;
            data = &data[take..];
            if self.buf_len < 16 {
                return;
            }
            let b = self.buf;
            self.block(&b, HIBIT);
            self.buf_len = 0;
        }
        let left = self.blocks(data);
        if let Some(rest) = data.get(data.len() - left..) {
            self.buf[..left].copy_from_slice(rest);
        }
        self.buf_len = left;
    }

    pub fn finish(mut self) -> [u8; 16] {
        self.tag()
    }

    /// [`Poly1305::finish`] without moving the state (a move is a 240-byte copy).
    pub fn tag(&mut self) -> [u8; 16] {
        if self.buf_len > 0 {
            let mut b = [0u8; 16];
            b[..self.buf_len].copy_from_slice(&self.buf[..self.buf_len]);
            b[self.buf_len] = 1;
            self.block(&b, 0);
        }
        let h = self.h;
        // Limbs are below 2^26 + 2^13 here: u32 from now on, as before.
        let [mut h0, mut h1, mut h2, mut h3, mut h4] = h.map(|x| x as u32);
        const M: u32 = M26 as u32;
        // Full carry.
        h2 += h1 >> 26;
        h1 &= M;
        h3 += h2 >> 26;
        h2 &= M;
        h4 += h3 >> 26;
        h3 &= M;
        h0 += (h4 >> 26) * 5;
        h4 &= M;
        h1 += h0 >> 26;
        h0 &= M;
        // g = h + 5 - 2^130; pick g if it did not underflow (constant time).
        let g0 = h0 + 5;
        let g1 = h1 + (g0 >> 26);
        let g2 = h2 + (g1 >> 26);
        let g3 = h3 + (g2 >> 26);
        let g4 = (h4 + (g3 >> 26)).wrapping_sub(1 << 26);
        let use_g = (g4 >> 31).wrapping_sub(1); // all ones if g4 >= 0
        let sel = |h: u32, g: u32| (h & !use_g) | (g & M & use_g);
        h0 = sel(h0, g0);
        h1 = sel(h1, g1);
        h2 = sel(h2, g2);
        h3 = sel(h3, g3);
        h4 = (h4 & !use_g) | (g4 & use_g);
        // To 4×32 bits, then + pad mod 2^128.
        let w = [h0 | (h1 << 26), (h1 >> 6) | (h2 << 20), (h2 >> 12) | (h3 << 14), (h3 >> 18) | (h4 << 8)];
        let mut out = [0u8; 16];
        let mut carry = 0u64;
        for i in 0..4 {
            let f = w[i] as u64 + self.pad[i] as u64 + carry;
            out[4 * i..4 * i + 4].copy_from_slice(&(f as u32).to_le_bytes());
            carry = f >> 32;
        }
        out
    }
}

/// One-shot MAC.
pub fn mac(key: &[u8; 32], msg: &[u8]) -> [u8; 16] {
    let mut p = Poly1305::new(key);
    p.update(msg);
    p.tag()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::chacha20::tests::hex;

    fn key(s: &str) -> [u8; 32] {
        let mut k = [0u8; 32];
        k.copy_from_slice(&hex(s));
        k
    }

    #[test]
    fn rfc8439_vector() {
        let k = key("85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b");
        let msg = b"Cryptographic Forum Research Group";
        assert_eq!(&mac(&k, msg)[..], &hex("a8061dc1305136c6c22b8baf0c0127a9")[..]);
        // Streaming in odd pieces gives the same tag.
        let mut p = Poly1305::new(&k);
        for piece in msg.chunks(7) {
            p.update(piece);
        }
        assert_eq!(&p.finish()[..], &hex("a8061dc1305136c6c22b8baf0c0127a9")[..]);
    }

    #[test]
    fn rfc8439_a3_edge_cases() {
        // RFC 8439 A.3 #5: h reaches exactly p after the last block → tag 0300..00 (wraps).
        let mut k = [0u8; 32];
        k[0] = 2;
        assert_eq!(mac(&k, &[0xff; 16]), {
            let mut t = [0u8; 16];
            t[0] = 3;
            t
        });
        // #6: r = 2, s = 0xff..ff, m = 2 → 03 00..00 (s addition wraps mod 2^128).
        let mut k = [0u8; 32];
        k[0] = 2;
        for b in &mut k[16..] {
            *b = 0xff;
        }
        let mut m = [0u8; 16];
        m[0] = 2;
        let mut t = [0u8; 16];
        t[0] = 3;
        assert_eq!(mac(&k, &m), t);
        // #8: r = 1, three blocks that sum to a multiple of p → all-zero tag.
        let mut k = [0u8; 32];
        k[0] = 1;
        let m = hex("fffffffffffffffffffffffffffffffffbfefefefefefefefefefefefefefefe01010101010101010101010101010101");
        assert_eq!(mac(&k, &m), [0u8; 16]);
        // #7: r = 1, carry propagation into 2^130 → 05 00..00.
        let m = hex("fffffffffffffffffffffffffffffffff0ffffffffffffffffffffffffffffff11000000000000000000000000000000");
        let mut t = [0u8; 16];
        t[0] = 5;
        assert_eq!(mac(&k, &m), t);
    }

    /// Independent reference: schoolbook arithmetic on 32-bit digits, reduced mod
    /// 2^130 − 5 by folding (x mod 2^130) + 5·(x >> 130) until below 2^130, and exactly
    /// (h − p if h ≥ p) at the end.
    fn reference(key: &[u8; 32], msg: &[u8]) -> [u8; 16] {
        type N = [u64; 10]; // 32-bit digits, little-endian
        fn from_le(b: &[u8]) -> N {
            let mut n = [0u64; 10];
            for (i, x) in b.iter().enumerate() {
                n[i / 4] |= (*x as u64) << (8 * (i % 4));
            }
            n
        }
        fn norm(mut n: N) -> N {
            let mut c = 0;
            for d in n.iter_mut() {
                let v = *d + c;
                *d = v & 0xffff_ffff;
                c = v >> 32;
            }
            assert_eq!(c, 0);
            n
        }
        fn reduce(mut n: N) -> N {
            loop {
                let hi: N = {
                    // n >> 130
                    let mut h = [0u64; 10];
                    for (i, hi) in h.iter_mut().enumerate() {
                        let lo = n.get(i + 4).copied().unwrap_or(0) >> 2;
                        let up = (n.get(i + 5).copied().unwrap_or(0) << 30) & 0xffff_ffff;
                        *hi = lo | up;
                    }
                    h
                };
                if hi.iter().all(|&d| d == 0) {
                    break;
                }
                let mut lo = n;
                lo[4] &= 3;
                for d in lo.iter_mut().skip(5) {
                    *d = 0;
                }
                for i in 0..10 {
                    lo[i] += 5 * hi[i];
                }
                n = norm(lo);
            }
            n // < 2^130, not necessarily < p
        }
        let mut r16 = [0u8; 16];
        r16.copy_from_slice(&key[..16]);
        for i in [3, 7, 11, 15] {
            r16[i] &= 15;
        }
        for i in [4, 8, 12] {
            r16[i] &= 252;
        }
        let r = from_le(&r16);
        let mut h: N = [0; 10];
        for c in msg.chunks(16) {
            let mut b = c.to_vec();
            b.push(1);
            let m = from_le(&b);
            let mut a = [0u64; 10];
            for i in 0..10 {
                a[i] = h[i] + m[i];
            }
            let a = norm(a);
            let mut prod = [0u64; 20];
            for i in 0..10 {
                for j in 0..10 {
                    if i + j < 20 {
                        prod[i + j] += a[i] * r[j];
                        let v = prod[i + j];
                        prod[i + j] = v & 0xffff_ffff;
                        if i + j + 1 < 20 {
                            prod[i + j + 1] += v >> 32;
                        }
                    }
                }
            }
            let mut p10 = [0u64; 10];
            p10.copy_from_slice(&prod[..10]);
            assert!(prod[10..].iter().all(|&d| d == 0));
            h = reduce(norm(p10));
        }
        // Final: h mod p (exact), + s mod 2^128.
        let exact_ge_p = h[4] == 3 && h[1..4].iter().all(|&d| d == 0xffff_ffff) && h[0] >= 0xffff_fffb;
        if exact_ge_p {
            let v = h[0] + 5 - 0x1_0000_0000; // h - p, fits in digit 0
            h = [0; 10];
            h[0] = v;
        }
        let s = from_le(&key[16..]);
        let mut out = [0u8; 16];
        let mut c = 0u64;
        for i in 0..4 {
            let v = h[i] + s[i] + c;
            out[4 * i..4 * i + 4].copy_from_slice(&(v as u32).to_le_bytes());
            c = v >> 32;
        }
        out
    }

    fn xorshift(seed: &mut u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    }

    /// Around and past [`VECTOR_MIN`] (the four-lane path, its scalar remainder), with the
    /// largest limbs (all-ones key and message) and random ones.
    #[test]
    fn four_lane_path_matches_reference_at_every_length() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for len in 0..700 {
            for extreme in [true, false] {
                let (mut k, mut msg) = ([0xffu8; 32], vec![0xffu8; len]);
                if !extreme {
                    k.iter_mut().for_each(|b| *b = xorshift(&mut seed) as u8);
                    msg.iter_mut().for_each(|b| *b = xorshift(&mut seed) as u8);
                }
                assert_eq!(mac(&k, &msg), reference(&k, &msg), "len {} extreme {}", len, extreme);
            }
        }
    }

    #[test]
    fn reference_agrees_with_rfc() {
        let k = key("85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b");
        assert_eq!(
            &reference(&k, b"Cryptographic Forum Research Group")[..],
            &hex("a8061dc1305136c6c22b8baf0c0127a9")[..]
        );
    }

    #[test]
    fn matches_reference_on_random_and_extreme_inputs() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for round in 0..400 {
            let mut k = [0u8; 32];
            let mut msg = vec![0u8; round % 200 + if round % 7 == 0 { 1000 } else { 0 }];
            match round % 4 {
                // All-ones key and message: largest clamped r, largest limbs.
                0 => {
                    k = [0xff; 32];
                    msg.iter_mut().for_each(|b| *b = 0xff);
                }
                1 => {
                    k.iter_mut().for_each(|b| *b = xorshift(&mut seed) as u8);
                    msg.iter_mut().for_each(|b| *b = 0xff);
                }
                _ => {
                    k.iter_mut().for_each(|b| *b = xorshift(&mut seed) as u8);
                    msg.iter_mut().for_each(|b| *b = xorshift(&mut seed) as u8);
                }
            }
            let want = reference(&k, &msg);
            assert_eq!(mac(&k, &msg), want, "round {} len {}", round, msg.len());
            // Streaming in uneven pieces: same tag.
            let mut p = Poly1305::new(&k);
            let mut rest = &msg[..];
            while !rest.is_empty() {
                let n = (xorshift(&mut seed) % 70) as usize % (rest.len() + 1);
                p.update(&rest[..n]);
                rest = &rest[n..];
            }
            assert_eq!(p.finish(), want, "streamed, round {}", round);
            // update_padded on a multiple of 16 is plain update.
            let whole = &msg[..msg.len() / 16 * 16];
            let mut p = Poly1305::new(&k);
            p.update_padded(whole);
            assert_eq!(p.finish(), reference(&k, whole));
        }
    }
}
