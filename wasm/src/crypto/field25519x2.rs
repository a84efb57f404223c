//! Two elements of GF(2^255 − 19) at once, for the X25519 ladder (`x25519.rs`): the same
//! radix-2^25.5 limbs, bounds and carry chain as `field25519` (read its module doc), with
//! limb `i` of both elements in one simd128 vector.
//!
//! Why: wasm32 has no 64×64→128 multiply; `i64x2.extmul_low_i32x4_u` makes two 32×32→64
//! products at once (V8: one `pmuludq` and two lane moves). That is barely fewer
//! instructions per product than scalar `i64.mul` + `i64.add`, but the ladder's paired
//! operations overlap better: measured in Deno on this machine (best of 8 rounds of 500,
//! one busy core beside): 64–69 µs per X25519 with this ladder against 73–83 µs for the
//! same ladder one element at a time (`field25519`, kept as the reference in the tests).
//!
//! A limb pair [`L`] holds two u32 limbs in lanes 0 and 1 (lanes 2 and 3 are ignored); a
//! wide pair [`W`] holds two u64 column sums. Every bound of `field25519` also keeps the
//! u32 lanes from wrapping: a sum is ≤ 2×, a difference ≤ 3× nominal (< 2^28), and the
//! largest premultiplied limb (38 × 3 × 2^25 for an odd limb) is < 2^32.
//!
//! Constant time: straight-line lane arithmetic, shuffles with constant lane indices, and a
//! lane swap selected by a mask.

use super::field25519::Fe;

/// The lane primitives: simd128 on wasm32, plain arrays elsewhere (so host tests run the
/// same arithmetic).
#[cfg(target_arch = "wasm32")]
mod lanes {
    use core::arch::wasm32::*;
    use core::ops::{Add, Sub};

    /// Two u32 limbs in lanes 0 and 1.
    #[derive(Clone, Copy)]
    pub struct L(v128);
    /// Two u64 column sums.
    #[derive(Clone, Copy)]
    pub struct W(v128);

    #[inline(always)]
    pub fn pair(a: u32, b: u32) -> L {
        L(u32x4(a, b, 0, 0))
    }
    #[inline(always)]
    pub fn lane0(x: L) -> u32 {
        u32x4_extract_lane::<0>(x.0)
    }
    #[inline(always)]
    pub fn lane1(x: L) -> u32 {
        u32x4_extract_lane::<1>(x.0)
    }
    /// Lane-wise 32×32→64 products.
    #[inline(always)]
    pub fn m(a: L, b: L) -> W {
        W(u64x2_extmul_low_u32x4(a.0, b.0))
    }
    #[inline(always)]
    pub fn times(a: L, k: u32) -> L {
        L(u32x4_mul(a.0, u32x4_splat(k)))
    }
    #[inline(always)]
    pub fn shr(w: W, n: u32) -> W {
        W(u64x2_shr(w.0, n))
    }
    #[inline(always)]
    pub fn shl(w: W, n: u32) -> W {
        W(u64x2_shl(w.0, n))
    }
    #[inline(always)]
    pub fn and(w: W, mask: u64) -> W {
        W(v128_and(w.0, u64x2_splat(mask)))
    }
    /// The low halves of both lanes as a limb pair (every carried limb is < 2^32).
    #[inline(always)]
    pub fn narrow(w: W) -> L {
        L(i32x4_shuffle::<0, 2, 0, 2>(w.0, w.0))
    }
    /// (a1, a0).
    #[inline(always)]
    pub fn swap(a: L) -> L {
        L(i32x4_shuffle::<1, 0, 2, 3>(a.0, a.0))
    }
    /// (a0, b0).
    #[inline(always)]
    pub fn lows(a: L, b: L) -> L {
        L(i32x4_shuffle::<0, 4, 2, 3>(a.0, b.0))
    }
    /// (a1, b1).
    #[inline(always)]
    pub fn highs(a: L, b: L) -> L {
        L(i32x4_shuffle::<1, 5, 2, 3>(a.0, b.0))
    }
    /// (a0, b1).
    #[inline(always)]
    pub fn lo_hi(a: L, b: L) -> L {
        L(i32x4_shuffle::<0, 5, 2, 3>(a.0, b.0))
    }
    /// `a` with its lanes swapped iff `mask` is all ones (`mask` is 0 or !0).
    #[inline(always)]
    pub fn cswap(a: L, mask: u32) -> L {
        let t = v128_and(u32x4_splat(mask), v128_xor(a.0, i32x4_shuffle::<1, 0, 2, 3>(a.0, a.0)));
        L(v128_xor(a.0, t))
    }
    impl Add for L {
        type Output = L;
        #[inline(always)]
        fn add(self, b: L) -> L {
            L(u32x4_add(self.0, b.0))
        }
    }
    impl Sub for L {
        type Output = L;
        #[inline(always)]
        fn sub(self, b: L) -> L {
            L(u32x4_sub(self.0, b.0))
        }
    }
    impl Add for W {
        type Output = W;
        #[inline(always)]
        fn add(self, b: W) -> W {
            W(u64x2_add(self.0, b.0))
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod lanes {
    use core::ops::{Add, Sub};

    #[derive(Clone, Copy)]
    pub struct L([u32; 2]);
    #[derive(Clone, Copy)]
    pub struct W([u64; 2]);

    pub fn pair(a: u32, b: u32) -> L {
        L([a, b])
    }
    pub fn lane0(x: L) -> u32 {
        x.0[0]
    }
    pub fn lane1(x: L) -> u32 {
        x.0[1]
    }
    pub fn m(a: L, b: L) -> W {
        W([a.0[0] as u64 * b.0[0] as u64, a.0[1] as u64 * b.0[1] as u64])
    }
    pub fn times(a: L, k: u32) -> L {
        // The wasm lanes wrap; here an overflow would trap in debug builds, which is the
        // check that the bounds of the module doc hold.
        L([a.0[0] * k, a.0[1] * k])
    }
    pub fn shr(w: W, n: u32) -> W {
        W([w.0[0] >> n, w.0[1] >> n])
    }
    pub fn shl(w: W, n: u32) -> W {
        W([w.0[0] << n, w.0[1] << n])
    }
    pub fn and(w: W, mask: u64) -> W {
        W([w.0[0] & mask, w.0[1] & mask])
    }
    pub fn narrow(w: W) -> L {
        assert!(w.0[0] >> 32 == 0 && w.0[1] >> 32 == 0, "a carried limb fits 32 bits");
        L([w.0[0] as u32, w.0[1] as u32])
    }
    pub fn swap(a: L) -> L {
        L([a.0[1], a.0[0]])
    }
    pub fn lows(a: L, b: L) -> L {
        L([a.0[0], b.0[0]])
    }
    pub fn highs(a: L, b: L) -> L {
        L([a.0[1], b.0[1]])
    }
    pub fn lo_hi(a: L, b: L) -> L {
        L([a.0[0], b.0[1]])
    }
    pub fn cswap(a: L, mask: u32) -> L {
        let t = mask & (a.0[0] ^ a.0[1]);
        L([a.0[0] ^ t, a.0[1] ^ t])
    }
    impl Add for L {
        type Output = L;
        fn add(self, b: L) -> L {
            L([self.0[0] + b.0[0], self.0[1] + b.0[1]])
        }
    }
    impl Sub for L {
        type Output = L;
        fn sub(self, b: L) -> L {
            L([self.0[0] - b.0[0], self.0[1] - b.0[1]])
        }
    }
    impl Add for W {
        type Output = W;
        fn add(self, b: W) -> W {
            W([self.0[0] + b.0[0], self.0[1] + b.0[1]])
        }
    }
}

use lanes::{and, m, narrow, shl, shr, times, L, W};

/// Two field elements: limb `i` of element 0 in lane 0 of `.0[i]`, of element 1 in lane 1.
#[derive(Clone, Copy)]
pub struct Fe2([L; 10]);

const M26: u64 = (1 << 26) - 1;
const M25: u64 = (1 << 25) - 1;
/// 2p's limbs (as `field25519::TWO_P`), added before subtracting.
const TWO_P: [u32; 10] = [
    2 * ((1 << 26) - 19),
    2 * ((1 << 25) - 1),
    2 * ((1 << 26) - 1),
    2 * ((1 << 25) - 1),
    2 * ((1 << 26) - 1),
    2 * ((1 << 25) - 1),
    2 * ((1 << 26) - 1),
    2 * ((1 << 25) - 1),
    2 * ((1 << 26) - 1),
    2 * ((1 << 25) - 1),
];

impl Fe2 {
    /// `(a, b)`; every limb must fit 32 bits (carried or a small sum of carried limbs).
    pub fn new(a: &Fe, b: &Fe) -> Fe2 {
        let mut v = [lanes::pair(0, 0); 10];
        for (i, x) in v.iter_mut().enumerate() {
            *x = lanes::pair(a.0[i] as u32, b.0[i] as u32);
        }
        Fe2(v)
    }
    /// Element 0.
    pub fn first(&self) -> Fe {
        let mut f = [0u64; 10];
        for (i, x) in f.iter_mut().enumerate() {
            *x = lanes::lane0(self.0[i]) as u64;
        }
        Fe(f)
    }
    /// Element 1.
    pub fn second(&self) -> Fe {
        let mut f = [0u64; 10];
        for (i, x) in f.iter_mut().enumerate() {
            *x = lanes::lane1(self.0[i]) as u64;
        }
        Fe(f)
    }
}

/// Applies a lane function to every limb.
#[inline(always)]
fn map(a: &Fe2, f: impl Fn(L, usize) -> L) -> Fe2 {
    let mut h = a.0;
    for (i, x) in h.iter_mut().enumerate() {
        *x = f(*x, i);
    }
    Fe2(h)
}

/// Applies a function of two limb pairs to every limb.
#[inline(always)]
fn zip(a: &Fe2, b: &Fe2, f: impl Fn(L, L, usize) -> L) -> Fe2 {
    let mut h = a.0;
    for (i, x) in h.iter_mut().enumerate() {
        *x = f(*x, b.0[i], i);
    }
    Fe2(h)
}

/// `a + b` in both lanes, not carried.
#[inline(always)]
pub fn add(a: &Fe2, b: &Fe2) -> Fe2 {
    zip(a, b, |x, y, _| x + y)
}

/// `a − b` as `a + 2p − b` in both lanes; `b` carried.
#[inline(always)]
pub fn sub(a: &Fe2, b: &Fe2) -> Fe2 {
    zip(a, b, |x, y, i| x + lanes::pair(TWO_P[i], TWO_P[i]) - y)
}

/// `(a1, a0)`.
#[inline(always)]
pub fn swap(a: &Fe2) -> Fe2 {
    map(a, |x, _| lanes::swap(x))
}

/// `(a0, b0)`.
#[inline(always)]
pub fn lows(a: &Fe2, b: &Fe2) -> Fe2 {
    zip(a, b, |x, y, _| lanes::lows(x, y))
}

/// `(a1, b1)`.
#[inline(always)]
pub fn highs(a: &Fe2, b: &Fe2) -> Fe2 {
    zip(a, b, |x, y, _| lanes::highs(x, y))
}

/// `(a0, b1)`.
#[inline(always)]
pub fn lo_hi(a: &Fe2, b: &Fe2) -> Fe2 {
    zip(a, b, |x, y, _| lanes::lo_hi(x, y))
}

/// `(a1, a0)` iff `bit` is 1, else `a`: masked, no branch.
#[inline(always)]
pub fn cswap(a: &Fe2, bit: u32) -> Fe2 {
    let mask = 0u32.wrapping_sub(bit);
    map(a, |x, _| lanes::cswap(x, mask))
}

/// `field25519`'s carry chain on both lanes, then the limbs narrowed back to 32 bits.
#[inline(always)]
fn carry(h: [W; 10]) -> Fe2 {
    let [mut h0, mut h1, mut h2, mut h3, mut h4, mut h5, mut h6, mut h7, mut h8, mut h9] = h;
    macro_rules! step {
        ($from:ident, $to:ident, $bits:expr, $mask:expr) => {
            $to = $to + shr($from, $bits);
            $from = and($from, $mask);
        };
    }
    step!(h0, h1, 26, M26);
    step!(h4, h5, 26, M26);
    step!(h1, h2, 25, M25);
    step!(h5, h6, 25, M25);
    step!(h2, h3, 26, M26);
    step!(h6, h7, 26, M26);
    step!(h3, h4, 25, M25);
    step!(h7, h8, 25, M25);
    step!(h4, h5, 26, M26);
    step!(h8, h9, 26, M26);
    // 19·c = 16c + 2c + c (a 64-bit lane multiply is several instructions on x64).
    let c = shr(h9, 25);
    h9 = and(h9, M25);
    h0 = h0 + shl(c, 4) + shl(c, 1) + c;
    step!(h0, h1, 26, M26);
    Fe2([h0, h1, h2, h3, h4, h5, h6, h7, h8, h9].map(narrow))
}

/// `f · g` in both lanes, carried; bounds as `field25519::mul`.
///
/// Never inlined: the call boundary keeps LLVM from merging the caller's lane shuffles
/// into these multiplications, which turns `i64x2.extmul_low_i32x4_u` (one `pmuludq` in V8)
/// into `i64x2.mul` (three, and five more instructions): 67–69 µs per X25519 with the
/// call, 79–85 µs inlined (same measurement as the module doc).
#[inline(never)]
pub fn mul(f: &Fe2, g: &Fe2) -> Fe2 {
    let [f0, f1, f2, f3, f4, f5, f6, f7, f8, f9] = f.0;
    let [g0, g1, g2, g3, g4, g5, g6, g7, g8, g9] = g.0;
    let (g1_19, g2_19, g3_19, g4_19, g5_19) =
        (times(g1, 19), times(g2, 19), times(g3, 19), times(g4, 19), times(g5, 19));
    let (g6_19, g7_19, g8_19, g9_19) = (times(g6, 19), times(g7, 19), times(g8, 19), times(g9, 19));
    let (f1_2, f3_2, f5_2, f7_2, f9_2) = (f1 + f1, f3 + f3, f5 + f5, f7 + f7, f9 + f9);
    let h0 = m(f0, g0)
        + m(f1_2, g9_19)
        + m(f2, g8_19)
        + m(f3_2, g7_19)
        + m(f4, g6_19)
        + m(f5_2, g5_19)
        + m(f6, g4_19)
        + m(f7_2, g3_19)
        + m(f8, g2_19)
        + m(f9_2, g1_19);
    let h1 = m(f0, g1)
        + m(f1, g0)
        + m(f2, g9_19)
        + m(f3, g8_19)
        + m(f4, g7_19)
        + m(f5, g6_19)
        + m(f6, g5_19)
        + m(f7, g4_19)
        + m(f8, g3_19)
        + m(f9, g2_19);
    let h2 = m(f0, g2)
        + m(f1_2, g1)
        + m(f2, g0)
        + m(f3_2, g9_19)
        + m(f4, g8_19)
        + m(f5_2, g7_19)
        + m(f6, g6_19)
        + m(f7_2, g5_19)
        + m(f8, g4_19)
        + m(f9_2, g3_19);
    let h3 = m(f0, g3)
        + m(f1, g2)
        + m(f2, g1)
        + m(f3, g0)
        + m(f4, g9_19)
        + m(f5, g8_19)
        + m(f6, g7_19)
        + m(f7, g6_19)
        + m(f8, g5_19)
        + m(f9, g4_19);
    let h4 = m(f0, g4)
        + m(f1_2, g3)
        + m(f2, g2)
        + m(f3_2, g1)
        + m(f4, g0)
        + m(f5_2, g9_19)
        + m(f6, g8_19)
        + m(f7_2, g7_19)
        + m(f8, g6_19)
        + m(f9_2, g5_19);
    let h5 = m(f0, g5)
        + m(f1, g4)
        + m(f2, g3)
        + m(f3, g2)
        + m(f4, g1)
        + m(f5, g0)
        + m(f6, g9_19)
        + m(f7, g8_19)
        + m(f8, g7_19)
        + m(f9, g6_19);
    let h6 = m(f0, g6)
        + m(f1_2, g5)
        + m(f2, g4)
        + m(f3_2, g3)
        + m(f4, g2)
        + m(f5_2, g1)
        + m(f6, g0)
        + m(f7_2, g9_19)
        + m(f8, g8_19)
        + m(f9_2, g7_19);
    let h7 = m(f0, g7)
        + m(f1, g6)
        + m(f2, g5)
        + m(f3, g4)
        + m(f4, g3)
        + m(f5, g2)
        + m(f6, g1)
        + m(f7, g0)
        + m(f8, g9_19)
        + m(f9, g8_19);
    let h8 = m(f0, g8)
        + m(f1_2, g7)
        + m(f2, g6)
        + m(f3_2, g5)
        + m(f4, g4)
        + m(f5_2, g3)
        + m(f6, g2)
        + m(f7_2, g1)
        + m(f8, g0)
        + m(f9_2, g9_19);
    let h9 = m(f0, g9)
        + m(f1, g8)
        + m(f2, g7)
        + m(f3, g6)
        + m(f4, g5)
        + m(f5, g4)
        + m(f6, g3)
        + m(f7, g2)
        + m(f8, g1)
        + m(f9, g0);
    carry([h0, h1, h2, h3, h4, h5, h6, h7, h8, h9])
}

/// `f²` in both lanes, carried (55 products per lane); bounds as `field25519::square`.
/// Never inlined, as [`mul`].
#[inline(never)]
pub fn square(f: &Fe2) -> Fe2 {
    let [f0, f1, f2, f3, f4, f5, f6, f7, f8, f9] = f.0;
    let (f0_2, f1_2, f2_2, f3_2) = (f0 + f0, f1 + f1, f2 + f2, f3 + f3);
    let (f4_2, f5_2, f6_2, f7_2) = (f4 + f4, f5 + f5, f6 + f6, f7 + f7);
    let (f5_38, f6_19, f7_38, f8_19, f9_38) =
        (times(f5, 38), times(f6, 19), times(f7, 38), times(f8, 19), times(f9, 38));
    let h0 = m(f0, f0) + m(f1_2, f9_38) + m(f2_2, f8_19) + m(f3_2, f7_38) + m(f4_2, f6_19) + m(f5, f5_38);
    let h1 = m(f0_2, f1) + m(f2, f9_38) + m(f3_2, f8_19) + m(f4, f7_38) + m(f5_2, f6_19);
    let h2 = m(f0_2, f2) + m(f1_2, f1) + m(f3_2, f9_38) + m(f4_2, f8_19) + m(f5_2, f7_38) + m(f6, f6_19);
    let h3 = m(f0_2, f3) + m(f1_2, f2) + m(f4, f9_38) + m(f5_2, f8_19) + m(f6, f7_38);
    let h4 = m(f0_2, f4) + m(f1_2, f3_2) + m(f2, f2) + m(f5_2, f9_38) + m(f6_2, f8_19) + m(f7, f7_38);
    let h5 = m(f0_2, f5) + m(f1_2, f4) + m(f2_2, f3) + m(f6, f9_38) + m(f7_2, f8_19);
    let h6 = m(f0_2, f6) + m(f1_2, f5_2) + m(f2_2, f4) + m(f3_2, f3) + m(f7_2, f9_38) + m(f8, f8_19);
    let h7 = m(f0_2, f7) + m(f1_2, f6) + m(f2_2, f5) + m(f3_2, f4) + m(f8, f9_38);
    let h8 = m(f0_2, f8) + m(f1_2, f7_2) + m(f2_2, f6) + m(f3_2, f5_2) + m(f4, f4) + m(f9, f9_38);
    let h9 = m(f0_2, f9) + m(f1_2, f8) + m(f2_2, f7) + m(f3_2, f6) + m(f4_2, f5);
    carry([h0, h1, h2, h3, h4, h5, h6, h7, h8, h9])
}

/// `(f0 · k0, f1 · k1)` for small constants `k < 2^17`, carried; `f` ≤ 3×.
#[inline(always)]
pub fn mul_small(f: &Fe2, k0: u32, k1: u32) -> Fe2 {
    let k = lanes::pair(k0, k1);
    let [f0, f1, f2, f3, f4, f5, f6, f7, f8, f9] = f.0;
    carry([m(f0, k), m(f1, k), m(f2, k), m(f3, k), m(f4, k), m(f5, k), m(f6, k), m(f7, k), m(f8, k), m(f9, k)])
}

#[cfg(test)]
mod tests {
    use super::super::field25519::{self as fe, from_bytes, tests::Rng, to_bytes};
    use super::*;

    #[test]
    fn both_lanes_match_the_scalar_field() {
        let mut rng = Rng(0x5eed_1234_abcd_0001);
        for _ in 0..500 {
            let (a, b) = (from_bytes(&rng.bytes32()), from_bytes(&rng.bytes32()));
            let (c, d) = (from_bytes(&rng.bytes32()), from_bytes(&rng.bytes32()));
            let (x, y) = (Fe2::new(&a, &b), Fe2::new(&c, &d));
            let check = |v: Fe2, want0: Fe, want1: Fe| {
                assert_eq!(to_bytes(&v.first()), to_bytes(&want0));
                assert_eq!(to_bytes(&v.second()), to_bytes(&want1));
            };
            check(add(&x, &y), fe::add(&a, &c), fe::add(&b, &d));
            check(sub(&x, &y), fe::sub(&a, &c), fe::sub(&b, &d));
            check(mul(&x, &y), fe::mul(&a, &c), fe::mul(&b, &d));
            check(square(&x), fe::square(&a), fe::square(&b));
            // The ladder's largest inputs: a difference times a sum, a difference squared.
            let (s, t) = (add(&x, &y), sub(&x, &y));
            check(
                mul(&t, &s),
                fe::mul(&fe::sub(&a, &c), &fe::add(&a, &c)),
                fe::mul(&fe::sub(&b, &d), &fe::add(&b, &d)),
            );
            check(square(&t), fe::square(&fe::sub(&a, &c)), fe::square(&fe::sub(&b, &d)));
            check(mul_small(&t, 0, 121665), fe::ZERO, fe::mul_small(&fe::sub(&b, &d), 121665));
            check(swap(&x), b, a);
            check(lows(&x, &y), a, c);
            check(highs(&x, &y), b, d);
            check(lo_hi(&x, &y), a, d);
            check(cswap(&x, 0), a, b);
            check(cswap(&x, 1), b, a);
        }
    }
}
