//! Fixed-base scalar multiplication for X25519 public keys (`x25519::x25519_base`): `k·B`
//! on edwards25519 (−x² + y² = 1 + d·x²y², birationally equivalent to Curve25519) from a
//! precomputed table, then mapped to the Montgomery u = (1 + y) / (1 − y). About 480 field
//! multiplications and one inversion, against the ladder's 2,550 and one.
//!
//! The table is ref10's: `TABLE[i][j] = (j + 1)·256^i·B` for i < 32, j < 8, each point
//! affine as (y + x, y − x, 2d·x·y) in canonical little-endian bytes, 24 KiB committed as
//! `edwards25519_base_table.bin`; a test derives it from B again and compares. The scalar
//! is recoded into 64 signed radix-16 digits in [−8, 8], `k·B = Σ e_i·16^i·B`: the odd
//! digits' multiples are added, the sum is multiplied by 16, then the even ones are added.
//!
//! Constant time: the recoding is arithmetic on all 64 digits; each lookup reads all eight
//! entries of its row (the row is the public digit position) and keeps one with masks;
//! a negative digit swaps and negates with masks; the addition formulas are complete (no
//! exceptional case to branch on), the doublings fixed.

use super::field25519::{add, from_bytes, invert, mul, square, sub, to_bytes, Fe, ONE, ZERO};

/// Bytes of one table entry: three field elements.
const ENTRY: usize = 96;
/// The table (module doc); a test derives it again.
static TABLE: [u8; 32 * 8 * ENTRY] = *include_bytes!("edwards25519_base_table.bin");

/// A point in extended coordinates: x = X/Z, y = Y/Z, x·y = T/Z.
#[derive(Clone, Copy)]
struct P3 {
    x: Fe,
    y: Fe,
    z: Fe,
    t: Fe,
}

/// An affine point as (y + x, y − x, 2d·x·y).
#[derive(Clone, Copy)]
struct Niels {
    ypx: Fe,
    ymx: Fe,
    xy2d: Fe,
}

const IDENTITY: P3 = P3 { x: ZERO, y: ONE, z: ONE, t: ZERO };

/// `p + q` (add-2008-hwcd-3 for a = −1 with Z2 = 1: 7 multiplications). Complete for
/// edwards25519. Bounds (field25519's doc): p carried, q's limbs ≤ 2×; products ≤ 12.
#[inline(always)]
fn madd(p: &P3, q: &Niels) -> P3 {
    let a = mul(&sub(&p.y, &p.x), &q.ymx);
    let b = mul(&add(&p.y, &p.x), &q.ypx);
    let c = mul(&p.t, &q.xy2d);
    let d = add(&p.z, &p.z);
    let (e, f, g, h) = (sub(&b, &a), sub(&d, &c), add(&d, &c), add(&b, &a));
    P3 { x: mul(&e, &f), y: mul(&g, &h), z: mul(&f, &g), t: mul(&e, &h) }
}

/// `2p` (dbl-2008-hwcd for a = −1, all four outputs negated, which is the same projective
/// point): 4 squarings, 4 multiplications. Bounds: p carried; products ≤ 25.
#[inline(always)]
fn dbl(p: &P3) -> P3 {
    let (a, b) = (square(&p.x), square(&p.y));
    let zz = square(&p.z);
    let c = add(&zz, &zz);
    let h = add(&a, &b); // −H
    let e = sub(&sub(&square(&add(&p.x, &p.y)), &a), &b);
    let g = sub(&b, &a);
    let f = sub(&add(&c, &a), &b); // −F = C − G
    P3 { x: mul(&e, &f), y: mul(&g, &h), z: mul(&f, &g), t: mul(&e, &h) }
}

/// 1 if `a == b`, else 0, for digits 0..=8 (no branch).
#[inline(always)]
fn equal(a: u8, b: u8) -> u64 {
    (((a ^ b) as u64).wrapping_sub(1)) >> 63
}

/// `e·256^pos·B` for a digit `e` in [−8, 8], reading the whole row `pos`.
#[inline(always)]
fn select(pos: usize, e: i8) -> Niels {
    let negative = ((e as u8) >> 7) as u64;
    // |e|: e + (−2e if negative, else 0).
    let abs = (e as i16 + ((-(negative as i16)) & (-2 * e as i16))) as u8;
    // The identity (1, 1, 0) unless an entry matches: its words are [1, 0, 0, 0] twice.
    let mut w = [0u64; 12];
    w[0] = 1;
    w[4] = 1;
    let row = &TABLE[pos * 8 * ENTRY..(pos + 1) * 8 * ENTRY];
    for (j, entry) in row.chunks_exact(ENTRY).enumerate() {
        let mask = 0u64.wrapping_sub(equal(abs, j as u8 + 1));
        for (k, x) in w.iter_mut().enumerate() {
            let mut b = [0u8; 8];
            b.copy_from_slice(&entry[8 * k..8 * k + 8]);
            *x ^= mask & (*x ^ u64::from_le_bytes(b));
        }
    }
    let fe = |i: usize| {
        let mut b = [0u8; 32];
        for (k, c) in b.chunks_exact_mut(8).enumerate() {
            c.copy_from_slice(&w[4 * i + k].to_le_bytes());
        }
        from_bytes(&b)
    };
    let (ypx, ymx, xy2d) = (fe(0), fe(1), fe(2));
    // −(x, y) = (−x, y): swap y + x and y − x, negate 2dxy; all selected by `negative`.
    let m = 0u64.wrapping_sub(negative);
    let neg = sub(&ZERO, &xy2d);
    let mut q = Niels { ypx, ymx, xy2d };
    for k in 0..10 {
        let t = m & (q.ypx.0[k] ^ q.ymx.0[k]);
        q.ypx.0[k] ^= t;
        q.ymx.0[k] ^= t;
        q.xy2d.0[k] ^= m & (q.xy2d.0[k] ^ neg.0[k]);
    }
    q
}

/// The 64 signed radix-16 digits of `s` (s < 2^255): `s = Σ e_i·16^i`, each in [−8, 8].
fn digits(s: &[u8; 32]) -> [i8; 64] {
    let mut e = [0i8; 64];
    for (i, b) in s.iter().enumerate() {
        e[2 * i] = (b & 15) as i8;
        e[2 * i + 1] = (b >> 4) as i8;
    }
    // Arithmetic carries only: digits ≥ 8 become negative and carry one up.
    let mut carry = 0i8;
    for x in e.iter_mut().take(63) {
        *x += carry;
        carry = (*x + 8) >> 4;
        *x -= carry << 4;
    }
    e[63] += carry;
    e
}

/// The Montgomery u-coordinate of `s·B` for a clamped scalar `s` (bit 255 clear), encoded:
/// X25519(s, 9).
pub fn base_u(s: &[u8; 32]) -> [u8; 32] {
    let e = digits(s);
    let mut h = IDENTITY;
    for i in (1..64).step_by(2) {
        h = madd(&h, &select(i / 2, e[i]));
    }
    for _ in 0..4 {
        h = dbl(&h);
    }
    for i in (0..64).step_by(2) {
        h = madd(&h, &select(i / 2, e[i]));
    }
    // u = (1 + y) / (1 − y) = (Z + Y) / (Z − Y).
    to_bytes(&mul(&add(&h.z, &h.y), &invert(&sub(&h.z, &h.y))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::chacha20::tests::hex;
    use crate::crypto::field25519::{mul_small, tests::Rng};
    use crate::crypto::x25519::{clamp, tests::ladder_base};

    fn fe_hex(s: &str) -> Fe {
        from_bytes(&hex(s).try_into().unwrap())
    }

    /// d = −121665 / 121666.
    fn d() -> Fe {
        let inv = invert(&Fe([121666, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
        mul(&sub(&ZERO, &mul_small(&inv, 121665)), &ONE)
    }

    /// B: y = 4/5, x the even root (little-endian encodings).
    fn base() -> (Fe, Fe) {
        (
            fe_hex("1ad5258f602d56c9b2a7259560c72c695cdcd6fd31e2a4c0fe536ecdd3366921"),
            fe_hex("5866666666666666666666666666666666666666666666666666666666666666"),
        )
    }

    fn eq(a: &Fe, b: &Fe) -> bool {
        to_bytes(a) == to_bytes(b)
    }

    /// Affine (x, y) of an extended point.
    fn affine(p: &P3) -> (Fe, Fe) {
        let zi = invert(&p.z);
        (mul(&p.x, &zi), mul(&p.y, &zi))
    }

    fn niels(x: &Fe, y: &Fe) -> Niels {
        Niels { ypx: add(y, x), ymx: sub(y, x), xy2d: mul(&mul(x, y), &add(&d(), &d())) }
    }

    /// The table, derived from B with the same point formulas.
    fn derive() -> Vec<u8> {
        let (bx, by) = base();
        let mut bi = P3 { x: bx, y: by, z: ONE, t: mul(&bx, &by) };
        let mut out = Vec::new();
        for _ in 0..32 {
            let (x, y) = affine(&bi);
            let step = niels(&x, &y);
            let mut p = bi;
            for j in 0..8 {
                if j > 0 {
                    p = madd(&p, &step);
                }
                let (x, y) = affine(&p);
                let n = niels(&x, &y);
                for f in [n.ypx, n.ymx, n.xy2d] {
                    out.extend_from_slice(&to_bytes(&f));
                }
            }
            for _ in 0..8 {
                bi = dbl(&bi);
            }
        }
        out
    }

    #[test]
    fn the_base_point_is_on_the_curve_and_is_u_9() {
        let (x, y) = base();
        let (xx, yy) = (square(&x), square(&y));
        // −x² + y² = 1 + d·x²·y²
        assert!(eq(&sub(&yy, &xx), &add(&ONE, &mul(&d(), &mul(&xx, &yy)))));
        let u = mul(&add(&ONE, &y), &invert(&sub(&ONE, &y)));
        assert_eq!(to_bytes(&u)[..], crate::crypto::x25519::BASE_POINT[..]);
    }

    /// `TUNSLAB_WRITE_BASE_TABLE=1 cargo test base_table` rewrites the file.
    #[test]
    fn the_committed_table_is_its_derivation() {
        let t = derive();
        if std::env::var_os("TUNSLAB_WRITE_BASE_TABLE").is_some() {
            std::fs::write(concat!(env!("CARGO_MANIFEST_DIR"), "/src/crypto/edwards25519_base_table.bin"), &t).unwrap();
        }
        assert!(t[..] == TABLE[..], "edwards25519_base_table.bin differs from its derivation");
    }

    #[test]
    fn digits_recompose_the_scalar() {
        let mut rng = Rng(0xd161_7500_0000_0001);
        for _ in 0..1000 {
            let s = clamp(&rng.bytes32());
            let e = digits(&s);
            assert!(e.iter().all(|&x| (-8..=8).contains(&x)));
            // Σ e_i·16^i back into nibbles, carrying (possibly negative) overflow upwards.
            let (mut nibbles, mut c) = ([0u8; 64], 0i64);
            for (n, &x) in nibbles.iter_mut().zip(e.iter()) {
                let v = x as i64 + c;
                *n = v.rem_euclid(16) as u8;
                c = v.div_euclid(16);
            }
            assert_eq!(c, 0);
            let bytes: Vec<u8> = nibbles.chunks(2).map(|p| p[0] | p[1] << 4).collect();
            assert_eq!(bytes, s.to_vec());
        }
    }

    #[test]
    fn fixed_base_equals_the_ladder() {
        let mut rng = Rng(0xba5e_0000_0000_0009);
        for _ in 0..300 {
            let s = clamp(&rng.bytes32());
            assert_eq!(base_u(&s), ladder_base(&s));
        }
        // Extremes of the clamped range: 2^254 and 2^255 − 8, and the digits 8 and −8.
        let mut lo = [0u8; 32];
        lo[31] = 64;
        let mut hi = [0xffu8; 32];
        hi[0] = 0xf8;
        hi[31] = 0x7f;
        let mut eights = [0x88u8; 32];
        eights[0] = 0x88 & 0xf8;
        eights[31] = 0x48;
        for s in [lo, hi, eights] {
            assert_eq!(base_u(&s), ladder_base(&s));
        }
    }
}
