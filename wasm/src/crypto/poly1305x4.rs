//! Poly1305 four blocks at a time in simd128 lanes: lane `j` of a group step holds block
//! `4g + j`, and every step is `H ← H·r⁴ + M` on all four lanes at once; at the end lane `j`
//! is multiplied by `r^(4−j)` and the lanes are summed into the scalar accumulator. The
//! incoming accumulator `h` rides in lane 0 of the first group.
//!
//! Limbs are the scalar code's 26-bit ones, one limb of the four lanes per `u32x4`
//! vector, so each product is `u64x2.extmul_{low,high}_u32x4` (V8: two unpacks and a
//! `pmuludq` for two products; `i64x2.mul` is about seven instructions). Column sums and
//! carries run in `u64x2` halves and are packed back into `u32x4`. Bounds as in
//! poly1305.rs: inputs to a multiply < 2^27 + 2^14, multipliers < 5·(2^26 + 2^13),
//! columns of five products < 2^58. All branch-free: constant time.

use super::poly1305_limbs::{carry, mul, times5, Limbs};
use core::sync::atomic::{AtomicU32, Ordering};

const M26: u32 = 0x3ff_ffff;
const HIBIT: u32 = 1 << 24;

/// Four u32 lanes (`W`) and two u64 lanes (`D`): `v128` on wasm32, arrays elsewhere (host
/// `cargo test` runs the same steps).
#[cfg(target_arch = "wasm32")]
mod v {
    pub use crate::crypto::u32x4::{add, load, splat, transpose, V as W};
    use core::arch::wasm32::*;
    pub type D = v128;
    #[inline(always)]
    pub fn w(a: u32, b: u32, c: u32, d: u32) -> W {
        u32x4(a, b, c, d)
    }
    #[inline(always)]
    pub fn and(a: W, m: u32) -> W {
        v128_and(a, u32x4_splat(m))
    }
    #[inline(always)]
    pub fn or(a: W, b: W) -> W {
        v128_or(a, b)
    }
    #[inline(always)]
    pub fn shl(a: W, n: u32) -> W {
        i32x4_shl(a, n)
    }
    #[inline(always)]
    pub fn shr(a: W, n: u32) -> W {
        u32x4_shr(a, n)
    }
    /// Lanes 0, 1 multiplied to u64.
    #[inline(always)]
    pub fn mul_lo(a: W, b: W) -> D {
        u64x2_extmul_low_u32x4(a, b)
    }
    /// Lanes 2, 3 multiplied to u64.
    #[inline(always)]
    pub fn mul_hi(a: W, b: W) -> D {
        u64x2_extmul_high_u32x4(a, b)
    }
    #[inline(always)]
    pub fn add64(a: D, b: D) -> D {
        i64x2_add(a, b)
    }
    #[inline(always)]
    pub fn and64(a: D, m: u64) -> D {
        v128_and(a, u64x2_splat(m))
    }
    #[inline(always)]
    pub fn shr64(a: D, n: u32) -> D {
        u64x2_shr(a, n)
    }
    #[inline(always)]
    pub fn shl64(a: D, n: u32) -> D {
        i64x2_shl(a, n)
    }
    /// The low halves of the u64 lanes of `lo` and `hi`, as lanes 0, 1 and 2, 3.
    #[inline(always)]
    pub fn pack(lo: D, hi: D) -> W {
        i32x4_shuffle::<0, 2, 4, 6>(lo, hi)
    }
    #[inline(always)]
    pub fn sum64(a: D) -> u64 {
        u64x2_extract_lane::<0>(a).wrapping_add(u64x2_extract_lane::<1>(a))
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod v {
    pub use crate::crypto::u32x4::{add, load, splat, transpose, V as W};
    pub type D = [u64; 2];
    pub fn w(a: u32, b: u32, c: u32, d: u32) -> W {
        [a, b, c, d]
    }
    pub fn and(a: W, m: u32) -> W {
        a.map(|x| x & m)
    }
    pub fn or(a: W, b: W) -> W {
        [0, 1, 2, 3].map(|i| a[i] | b[i])
    }
    pub fn shl(a: W, n: u32) -> W {
        a.map(|x| x << n)
    }
    pub fn shr(a: W, n: u32) -> W {
        a.map(|x| x >> n)
    }
    pub fn mul_lo(a: W, b: W) -> D {
        [a[0] as u64 * b[0] as u64, a[1] as u64 * b[1] as u64]
    }
    pub fn mul_hi(a: W, b: W) -> D {
        [a[2] as u64 * b[2] as u64, a[3] as u64 * b[3] as u64]
    }
    pub fn add64(a: D, b: D) -> D {
        [a[0].wrapping_add(b[0]), a[1].wrapping_add(b[1])]
    }
    pub fn and64(a: D, m: u64) -> D {
        a.map(|x| x & m)
    }
    pub fn shr64(a: D, n: u32) -> D {
        a.map(|x| x >> n)
    }
    pub fn shl64(a: D, n: u32) -> D {
        a.map(|x| x << n)
    }
    pub fn pack(lo: D, hi: D) -> W {
        [lo[0] as u32, lo[1] as u32, hi[0] as u32, hi[1] as u32]
    }
    pub fn sum64(a: D) -> u64 {
        a[0].wrapping_add(a[1])
    }
}

use v::{D, W};

/// The accumulator of the four lanes, one vector per limb.
pub type Acc = [W; 5];

/// Bytes one group step absorbs.
pub const GROUP: usize = 64;

/// The powers of `r` the lanes multiply by.
pub struct Poly4 {
    /// r⁴ in every lane, and 5·r⁴.
    r4: [W; 5],
    s4: [W; 5],
    /// Lane `j`: r^(4−j), and five times it.
    rf: [W; 5],
    sf: [W; 5],
}

/// Always 0, but LLVM cannot know it: or-ed into the operands of a step's products it
/// keeps them `extmul`s. Otherwise LLVM hoists `zext(r⁴)` out of the loop and widens the
/// accumulator's adds (it knows they cannot overflow), and the products become
/// `i64x2.mul` of u64 lanes, which V8 lowers to three `pmuludq` and four shifts/adds.
static ZERO: AtomicU32 = AtomicU32::new(0);

#[inline(always)]
fn opaque_zero() -> W {
    v::splat(ZERO.load(Ordering::Relaxed))
}

/// Column `k` of `a · b` (unreduced) in the u64 half `f` picks (lanes 0, 1 or 2, 3).
/// Written out: `[T; 5]::map` and closures over indices left arrays in memory.
#[inline(always)]
fn col(a: &Acc, b: &[W; 5], s: &[W; 5], k: usize, f: fn(W, W) -> D) -> D {
    let [a0, a1, a2, a3, a4] = *a;
    let [b0, b1, b2, b3, b4] = *b;
    let [_, s1, s2, s3, s4] = *s;
    macro_rules! sum {
        ($x0:ident * $y0:ident $(, $x:ident * $y:ident)*) => {{
            let d = f($x0, $y0);
            $(let d = v::add64(d, f($x, $y));)*
            d
        }};
    }
    match k {
        0 => sum!(a0 * b0, a1 * s4, a2 * s3, a3 * s2, a4 * s1),
        1 => sum!(a0 * b1, a1 * b0, a2 * s4, a3 * s3, a4 * s2),
        2 => sum!(a0 * b2, a1 * b1, a2 * b0, a3 * s4, a4 * s3),
        3 => sum!(a0 * b3, a1 * b2, a2 * b1, a3 * b0, a4 * s4),
        _ => sum!(a0 * b4, a1 * b3, a2 * b2, a3 * b1, a4 * b0),
    }
}

/// Unreduced column sums of `a · b` per lane, as the u64 halves (lanes 0, 1 and 2, 3).
#[inline(always)]
fn mul4(a: &Acc, b: &[W; 5], s: &[W; 5]) -> ([D; 5], [D; 5]) {
    let c = |k: usize, f: fn(W, W) -> D| col(a, b, s, k, f);
    (
        [c(0, v::mul_lo), c(1, v::mul_lo), c(2, v::mul_lo), c(3, v::mul_lo), c(4, v::mul_lo)],
        [c(0, v::mul_hi), c(1, v::mul_hi), c(2, v::mul_hi), c(3, v::mul_hi), c(4, v::mul_hi)],
    )
}

/// [`carry`] on one u64 half.
#[inline(always)]
fn carry64(d: [D; 5]) -> [D; 5] {
    const M: u64 = M26 as u64;
    let [d0, mut d1, mut d2, mut d3, mut d4] = d;
    let h0 = v::and64(d0, M);
    d1 = v::add64(d1, v::shr64(d0, 26));
    let h1 = v::and64(d1, M);
    d2 = v::add64(d2, v::shr64(d1, 26));
    let h2 = v::and64(d2, M);
    d3 = v::add64(d3, v::shr64(d2, 26));
    let h3 = v::and64(d3, M);
    d4 = v::add64(d4, v::shr64(d3, 26));
    let h4 = v::and64(d4, M);
    let c = v::shr64(d4, 26);
    // + 5·c, as two adds: LLVM's `c * 5` would be V8's seven-instruction `i64x2.mul`.
    let h0 = v::add64(v::add64(h0, c), v::shl64(c, 2));
    let h1 = v::add64(h1, v::shr64(h0, 26));
    [v::and64(h0, M), h1, h2, h3, h4]
}

/// Four 16-byte blocks as limbs, lane `j` = block `j`, with the 2^128 bit.
#[inline(always)]
fn msg(m: &[u8; GROUP]) -> Acc {
    let blk = |j: usize| match <&[u8; 16]>::try_from(&m[16 * j..16 * j + 16]) {
        Ok(b) => v::load(b),
        Err(_) => v::splat(0), // unreachable: 16 bytes
    };
    let [w0, w1, w2, w3] = v::transpose(blk(0), blk(1), blk(2), blk(3));
    [
        v::and(w0, M26),
        v::and(v::or(v::shr(w0, 26), v::shl(w1, 6)), M26),
        v::and(v::or(v::shr(w1, 20), v::shl(w2, 12)), M26),
        v::and(v::or(v::shr(w2, 14), v::shl(w3, 18)), M26),
        v::or(v::shr(w3, 8), v::splat(HIBIT)),
    ]
}

#[inline(always)]
fn add(a: &Acc, b: &Acc) -> Acc {
    [v::add(a[0], b[0]), v::add(a[1], b[1]), v::add(a[2], b[2]), v::add(a[3], b[3]), v::add(a[4], b[4])]
}

impl Poly4 {
    /// From r and r² (limbs as the scalar `Poly1305` keeps them): two scalar
    /// multiplications, once per message (one copy: not inlined into every caller).
    #[inline(never)]
    pub fn new(r: &Limbs, r2: &Limbs) -> Poly4 {
        let r3 = carry(mul(r2, r, &times5(r)));
        let r4 = carry(mul(r2, r2, &times5(r2)));
        let s4 = times5(&r4);
        let (sr, s2, s3) = (times5(r), times5(r2), times5(&r3));
        Poly4 {
            r4: r4.map(|x| v::splat(x as u32)),
            s4: s4.map(|x| v::splat(x as u32)),
            rf: [0, 1, 2, 3, 4].map(|i| v::w(r4[i] as u32, r3[i] as u32, r2[i] as u32, r[i] as u32)),
            sf: [0, 1, 2, 3, 4].map(|i| v::w(s4[i] as u32, s3[i] as u32, s2[i] as u32, sr[i] as u32)),
        }
    }

    /// The first group: `[h, 0, 0, 0] + M`.
    #[inline(always)]
    pub fn first(&self, h: &Limbs, m: &[u8; GROUP]) -> Acc {
        let l = |x: u64| v::w(x as u32, 0, 0, 0);
        add(&[l(h[0]), l(h[1]), l(h[2]), l(h[3]), l(h[4])], &msg(m))
    }

    /// Every later group: `H·r⁴ + M`.
    #[inline(always)]
    pub fn step(&self, acc: &Acc, m: &[u8; GROUP]) -> Acc {
        let z = opaque_zero();
        let (a, r, s) = ([0, 1, 2, 3, 4].map(|i| v::or(acc[i], z)), self.r4, self.s4);
        let r = [v::or(r[0], z), v::or(r[1], z), v::or(r[2], z), v::or(r[3], z), v::or(r[4], z)];
        let s = [s[0], v::or(s[1], z), v::or(s[2], z), v::or(s[3], z), v::or(s[4], z)];
        let (lo, hi) = mul4(&a, &r, &s);
        let (lo, hi) = (carry64(lo), carry64(hi));
        let h = [
            v::pack(lo[0], hi[0]),
            v::pack(lo[1], hi[1]),
            v::pack(lo[2], hi[2]),
            v::pack(lo[3], hi[3]),
            v::pack(lo[4], hi[4]),
        ];
        add(&h, &msg(m))
    }

    /// Lane `j` times r^(4−j), summed: the scalar accumulator after the last group.
    #[inline(always)]
    pub fn finish(&self, acc: &Acc) -> Limbs {
        let (lo, hi) = mul4(acc, &self.rf, &self.sf);
        // Four lanes of < 2^58 each: < 2^60.
        let s = |i: usize| v::sum64(v::add64(lo[i], hi[i]));
        carry([s(0), s(1), s(2), s(3), s(4)])
    }

    /// Absorbs the whole 64-byte groups of `data` into `h` (at least one group, else `h`
    /// is returned unchanged); returns the bytes absorbed.
    pub fn absorb(&self, h: &mut Limbs, data: &[u8]) -> usize {
        let mut groups = data.chunks_exact(GROUP).filter_map(|g| <&[u8; GROUP]>::try_from(g).ok());
        let mut acc = match groups.next() {
            Some(g) => self.first(h, g),
            None => return 0,
        };
        for g in groups {
            acc = self.step(&acc, g);
        }
        *h = self.finish(&acc);
        data.len() / GROUP * GROUP
    }
}
