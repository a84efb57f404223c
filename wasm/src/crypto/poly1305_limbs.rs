//! Poly1305's limb arithmetic, shared by the scalar code (poly1305.rs) and the
//! four-lane one (poly1305x4.rs): 5×26-bit limbs in u64s, products and column
//! sums in 64 bits, branch-free.

/// The low 26 bits of a limb.
pub const M26: u64 = 0x3ff_ffff;

/// Five 26-bit limbs, least significant first (limbs may run a little over 26 bits
/// between reductions).
pub type Limbs = [u64; 5];

/// `a · b` (unreduced column sums), with 2^130 ≡ 5 folded in: `b5[i] = 5·b[i]`.
/// Each limb of `a` must be < 2^28 and of `b` < 2^27, so a column of up to ten such
/// products (two calls added) stays below 2^62.
#[inline(always)]
pub fn mul(a: &Limbs, b: &Limbs, b5: &Limbs) -> Limbs {
    let [a0, a1, a2, a3, a4] = *a;
    let [b0, b1, b2, b3, b4] = *b;
    let [_, s1, s2, s3, s4] = *b5;
    [
        a0 * b0 + a1 * s4 + a2 * s3 + a3 * s2 + a4 * s1,
        a0 * b1 + a1 * b0 + a2 * s4 + a3 * s3 + a4 * s2,
        a0 * b2 + a1 * b1 + a2 * b0 + a3 * s4 + a4 * s3,
        a0 * b3 + a1 * b2 + a2 * b1 + a3 * b0 + a4 * s4,
        a0 * b4 + a1 * b3 + a2 * b2 + a3 * b1 + a4 * b0,
    ]
}

/// Partial reduction of column sums (each < 2^62) back to limbs: all < 2^26 except
/// limb 1, which may exceed it by a little (< 2^26 + 2^13).
#[inline(always)]
pub fn carry(d: Limbs) -> Limbs {
    let [d0, mut d1, mut d2, mut d3, mut d4] = d;
    let mut h0 = d0 & M26;
    d1 += d0 >> 26;
    let h1 = d1 & M26;
    d2 += d1 >> 26;
    let h2 = d2 & M26;
    d3 += d2 >> 26;
    let h3 = d3 & M26;
    d4 += d3 >> 26;
    let h4 = d4 & M26;
    h0 += (d4 >> 26) * 5;
    let h1 = h1 + (h0 >> 26);
    h0 &= M26;
    [h0, h1, h2, h3, h4]
}

#[inline(always)]
pub fn times5(r: &Limbs) -> Limbs {
    [r[0] * 5, r[1] * 5, r[2] * 5, r[3] * 5, r[4] * 5]
}
