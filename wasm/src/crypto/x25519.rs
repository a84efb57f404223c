//! X25519 (RFC 7748 §5): the Montgomery ladder, its field arithmetic two elements at a
//! time (`field25519x2`: simd128 lanes), the final inversion and encoding one element at a
//! time (`field25519`).
//!
//! Constant time at the source level: the ladder runs all 255 steps for every scalar, the
//! scalar bit of step `t` is read at the public position `t` and only ever enters
//! arithmetic (the swap mask), the conditional swaps are masked XORs of lanes, the
//! inversion is a fixed addition chain and the final zero test folds all 32 bytes with OR
//! before one comparison of the folded byte. No branch and no memory index depends on the
//! scalar or on the point.

use super::edwards25519::base_u;
use super::field25519::{self as fe, from_bytes, invert, to_bytes, Fe, ONE, ZERO};
use super::field25519x2::{self as fe2, Fe2};

/// `(A − 2) / 4` for Curve25519's A = 486662 (RFC 7748 §5: a24 = 121665).
const A24: u32 = 121665;

/// The u-coordinate of the base point, 9.
pub const BASE_POINT: [u8; 32] = {
    let mut b = [0u8; 32];
    b[0] = 9;
    b
};

/// RFC 7748 §5 `decodeScalar25519`: clear bits 0–2 and 255, set bit 254.
pub fn clamp(k: &[u8; 32]) -> [u8; 32] {
    let mut s = *k;
    s[0] &= 248;
    s[31] &= 127;
    s[31] |= 64;
    s
}

/// `X25519(k, u)`: the scalar is clamped (on a copy), bit 255 of `u` is ignored and a
/// non-canonical `u` (≥ p) is used as it is, all as RFC 7748 specifies. The result may be
/// all zero (a low-order `u`); [`is_zero`] tells, and the caller rejects it.
pub fn x25519(k: &[u8; 32], u: &[u8; 32]) -> [u8; 32] {
    ladder::<false>(&clamp(k), &from_bytes(u))
}

/// The ladder on the clamped scalar `s` and the point `x1`, returning `x2 / z2` encoded.
/// `BASE` (a compile-time choice, not a secret) says `x1` is 9, so the multiplication by
/// `x1` in each step is a multiplication by a small constant.
#[inline(always)]
fn ladder<const BASE: bool>(s: &[u8; 32], x1: &Fe) -> [u8; 32] {
    // Lane 0 follows (x2 : z2), lane 1 (x3 : z3).
    let mut x = Fe2::new(&ONE, x1);
    let mut z = Fe2::new(&ZERO, &ONE);
    let y = Fe2::new(&ONE, x1);
    let mut swap = 0u32;
    // Every iteration does the same work; `bit` is a 0/1 value used only as a mask.
    for t in (0..255).rev() {
        let bit = ((s[t >> 3] >> (t & 7)) & 1) as u32;
        swap ^= bit;
        x = fe2::cswap(&x, swap);
        z = fe2::cswap(&z, swap);
        swap = bit;
        ladder_step::<BASE>(&y, &mut x, &mut z);
    }
    x = fe2::cswap(&x, swap);
    z = fe2::cswap(&z, swap);
    to_bytes(&fe::mul(&x.first(), &invert(&z.first())))
}

/// One differential addition-and-doubling (RFC 7748 §5, the loop body after the swaps) on
/// `x = (x2, x3)`, `z = (z2, z3)`, with `y = (1, x1)`. Its ten field operations
/// (5 multiplications, 4 squarings, one multiplication by a24) become five two-lane ones:
///
/// ```text
/// (A, C) = x + z            (B, D) = x − z
/// (DA, CB) = (A, C)·(D, B)  (AA, BB) = (A, B)²
/// (x3', t) = (DA + CB, DA − CB)²          with E = AA − BB:
/// (x2', z2') = (AA, E)·(BB, AA + a24·E)   (x3', z3') = (1, x1)·(x3', t)
/// ```
///
/// Bounds (field25519's module doc): every multiplication or squaring input is carried,
/// a sum (≤ 2×) or a difference (≤ 3×); the products of the bounds are at most 9.
#[inline(always)]
fn ladder_step<const BASE: bool>(y: &Fe2, x: &mut Fe2, z: &mut Fe2) {
    let s = fe2::add(x, z); // (A, C)
    let d = fe2::sub(x, z); // (B, D)
    let m1 = fe2::mul(&s, &fe2::swap(&d)); // (DA, CB)
    let q1 = fe2::square(&fe2::lows(&s, &d)); // (AA, BB)
    let m1s = fe2::swap(&m1); // (CB, DA)
    let v = fe2::lo_hi(&fe2::add(&m1, &m1s), &fe2::sub(&m1s, &m1)); // (DA + CB, DA − CB)
    let q1s = fe2::swap(&q1); // (BB, AA)
    let e = fe2::sub(&q1s, &q1); // (·, AA − BB = E)
    let l = fe2::lo_hi(&q1, &e); // (AA, E)
    let r = fe2::add(&q1s, &fe2::mul_small(&e, 0, A24)); // (BB, AA + a24·E)
    let m2 = fe2::mul(&l, &r); // (x2', z2')
    let q2 = fe2::square(&v); // (x3', t)
    let m3 = if BASE { fe2::mul_small(&q2, 1, 9) } else { fe2::mul(y, &q2) }; // (x3', z3')
    *x = fe2::lows(&m2, &m3);
    *z = fe2::highs(&m2, &m3);
}

/// `X25519(k, 9)`: the public key of private key `k`, by the fixed-base table on the
/// Edwards form (`edwards25519.rs`), about twice as fast as the ladder.
pub fn x25519_base(k: &[u8; 32]) -> [u8; 32] {
    base_u(&clamp(k))
}

/// True iff all 32 bytes are zero, without a data-dependent branch before the end: the
/// bytes are OR-folded first.
pub fn is_zero(b: &[u8; 32]) -> bool {
    let mut acc = 0u8;
    for x in b {
        acc |= x;
    }
    acc == 0
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use crate::crypto::chacha20::tests::hex;

    /// The ladder on the base point (what `x25519_base` computed before its table).
    pub fn ladder_base(s: &[u8; 32]) -> [u8; 32] {
        ladder::<true>(s, &from_bytes(&BASE_POINT))
    }

    fn h32(s: &str) -> [u8; 32] {
        hex(s).try_into().unwrap()
    }

    /// RFC 7748 §5's ladder written out one element at a time, as the reference.
    fn reference(k: &[u8; 32], u: &[u8; 32]) -> [u8; 32] {
        let s = clamp(k);
        let x1 = from_bytes(u);
        let (mut x2, mut z2, mut x3, mut z3) = (ONE, ZERO, x1, ONE);
        let mut swap = 0u64;
        for t in (0..255).rev() {
            let bit = ((s[t >> 3] >> (t & 7)) & 1) as u64;
            swap ^= bit;
            fe::cswap(&mut x2, &mut x3, swap);
            fe::cswap(&mut z2, &mut z3, swap);
            swap = bit;
            let a = fe::add(&x2, &z2);
            let aa = fe::square(&a);
            let b = fe::sub(&x2, &z2);
            let bb = fe::square(&b);
            let e = fe::sub(&aa, &bb);
            let c = fe::add(&x3, &z3);
            let d = fe::sub(&x3, &z3);
            let da = fe::mul(&d, &a);
            let cb = fe::mul(&c, &b);
            x3 = fe::square(&fe::add(&da, &cb));
            z3 = fe::mul(&x1, &fe::square(&fe::sub(&da, &cb)));
            x2 = fe::mul(&aa, &bb);
            z2 = fe::mul(&e, &fe::add(&aa, &fe::mul_small(&e, A24 as u64)));
        }
        fe::cswap(&mut x2, &mut x3, swap);
        fe::cswap(&mut z2, &mut z3, swap);
        to_bytes(&fe::mul(&x2, &invert(&z2)))
    }

    #[test]
    fn the_two_lane_ladder_matches_the_scalar_one() {
        let mut rng = crate::crypto::field25519::tests::Rng(0xa11c_e5b0_b000_0007);
        for _ in 0..200 {
            let (k, u) = (rng.bytes32(), rng.bytes32());
            assert_eq!(x25519(&k, &u), reference(&k, &u));
            assert_eq!(x25519_base(&k), reference(&k, &BASE_POINT));
        }
    }

    #[test]
    fn rfc7748_section_5_2_vectors() {
        let k = h32("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4");
        let u = h32("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c");
        let want = h32("c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");
        assert_eq!(x25519(&k, &u), want);
        // The second vector's u has bit 255 set: it must be ignored.
        let k = h32("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d");
        let u = h32("e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493");
        let want = h32("95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957");
        assert_eq!(x25519(&k, &u), want);
    }

    /// RFC 7748 §5.2's iteration: k, u ← X25519(k, u), k; returns k after `n` rounds.
    fn iterate(n: usize) -> [u8; 32] {
        let (mut k, mut u) = (BASE_POINT, BASE_POINT);
        for _ in 0..n {
            let r = x25519(&k, &u);
            u = k;
            k = r;
        }
        k
    }

    #[test]
    fn rfc7748_iterated_1_and_1000() {
        assert_eq!(iterate(1), h32("422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079"));
        assert_eq!(iterate(1000), h32("684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51"));
    }

    /// About a minute in a release build: `cargo test --release -- --ignored`.
    #[test]
    #[ignore]
    fn rfc7748_iterated_1_000_000() {
        assert_eq!(iterate(1_000_000), h32("7c3911e0ab2586fd864497297e575e6f3bc601c0883c30df5f4dd2d24f665424"));
    }

    #[test]
    fn rfc7748_section_6_1_diffie_hellman() {
        let a = h32("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
        let b = h32("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
        let pa = x25519_base(&a);
        let pb = x25519_base(&b);
        assert_eq!(pa, h32("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"));
        assert_eq!(pb, h32("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"));
        let k = h32("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
        assert_eq!(x25519(&a, &pb), k);
        assert_eq!(x25519(&b, &pa), k);
    }

    #[test]
    fn low_order_points_give_all_zero() {
        // u = 0, 1, and the order-8 points (their encodings and the ones ≥ p).
        let k = h32("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4");
        for u in [
            "0000000000000000000000000000000000000000000000000000000000000000",
            "0100000000000000000000000000000000000000000000000000000000000000",
            "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
            "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
            "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        ] {
            let r = x25519(&k, &h32(u));
            assert!(is_zero(&r), "u = {}", u);
        }
        assert!(!is_zero(&x25519_base(&k)));
    }
}
