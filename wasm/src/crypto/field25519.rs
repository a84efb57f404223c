//! Arithmetic modulo p = 2^255 − 19 for X25519 (`x25519.rs`), in the "ref10" radix 2^25.5:
//! ten limbs of alternately 26 and 25 bits (limb `i` weighs 2^⌈25.5·i⌉), each held in a
//! `u64`. Wasm32 has no 64×64→128 multiply, but it has `i64.mul`: a 26×26-bit product
//! (times 19 or 38 for the wrapped columns) is one native multiply, and a whole column
//! of ten stays below 2^64, so [`mul`] is 100 `i64.mul` with no carries inside.
//!
//! Limbs are unsigned. Bounds, in multiples of the nominal limb size (2^26 even, 2^25 odd):
//! - "carried": the output of [`mul`], [`square`], [`mul_small`] and [`from_bytes`], every
//!   limb at most 1.01× nominal (limb 1 may exceed 2^25 by < 2^17);
//! - [`add`] of two carried elements: ≤ 2×; [`sub`] (adds 2p first) of carried ones: ≤ 3×;
//! - [`mul`]/[`square`] accept any inputs whose bounds multiply to ≤ 32: the largest
//!   column, Σ 19·fᵢgⱼ (×2 for odd·odd), is then < 498·32·2^50 < 2^64.
//!
//! Constant time: every function is straight-line code over all ten limbs; loops run a
//! fixed number of times with public indices; [`cswap`] and [`to_bytes`]' final reduction
//! select with masks, never with a branch on a limb or a key bit.

/// Ten limbs, least significant first.
#[derive(Clone, Copy)]
pub struct Fe(pub [u64; 10]);

const M26: u64 = (1 << 26) - 1;
const M25: u64 = (1 << 25) - 1;

/// 0 and 1.
pub const ZERO: Fe = Fe([0; 10]);
pub const ONE: Fe = Fe([1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

/// 2p in limbs (each limb of 2p is at least 2× nominal − 38), added before subtracting.
const TWO_P: [u64; 10] =
    [2 * (M26 - 18), 2 * M25, 2 * M26, 2 * M25, 2 * M26, 2 * M25, 2 * M26, 2 * M25, 2 * M26, 2 * M25];

/// Bit position and width of each limb in the 255-bit little-endian encoding.
const POS: [u32; 10] = [0, 26, 51, 77, 102, 128, 153, 179, 204, 230];
const WIDTH: [u32; 10] = [26, 25, 26, 25, 26, 25, 26, 25, 26, 25];

/// The element encoded by 32 little-endian bytes, bit 255 ignored (RFC 7748 §5: "mask the
/// most significant bit"). Values in [p, 2^255) are accepted as they are (not reduced):
/// arithmetic is mod p either way.
pub fn from_bytes(b: &[u8; 32]) -> Fe {
    let mut w = [0u64; 4];
    for (i, x) in w.iter_mut().enumerate() {
        let mut le = [0u8; 8];
        le.copy_from_slice(&b[8 * i..8 * i + 8]);
        *x = u64::from_le_bytes(le);
    }
    w[3] &= (1 << 63) - 1;
    let mut h = [0u64; 10];
    // Public positions: limb i takes bits POS[i] .. POS[i] + WIDTH[i], which may straddle
    // two words.
    for i in 0..10 {
        let (word, shift) = ((POS[i] / 64) as usize, POS[i] % 64);
        let mut v = w[word] >> shift;
        if shift + WIDTH[i] > 64 {
            v |= w[word + 1] << (64 - shift);
        }
        h[i] = v & ((1 << WIDTH[i]) - 1);
    }
    Fe(h)
}

/// The canonical 32-byte encoding (fully reduced to [0, p)).
pub fn to_bytes(f: &Fe) -> [u8; 32] {
    // Two carry passes: the value is then < 2^255 + 2^26 < 2p.
    let mut h = carry(&carry(&f.0).0).0;
    // q = 1 iff h ≥ p, i.e. iff h + 19 ≥ 2^255: the carry out of the top limb.
    let mut q = (h[0] + 19) >> 26;
    for (i, x) in h.iter().enumerate().skip(1) {
        q = (x + q) >> WIDTH[i];
    }
    // h − q·p = h + 19q − q·2^255: add 19q and drop the carry out of limb 9.
    h[0] += 19 * q;
    for i in 0..9 {
        let c = h[i] >> WIDTH[i];
        h[i] &= (1 << WIDTH[i]) - 1;
        h[i + 1] += c;
    }
    h[9] &= M25;
    let mut w = [0u64; 4];
    for i in 0..10 {
        let (word, shift) = ((POS[i] / 64) as usize, POS[i] % 64);
        w[word] |= h[i] << shift;
        if shift + WIDTH[i] > 64 {
            w[word + 1] |= h[i] >> (64 - shift);
        }
    }
    let mut out = [0u8; 32];
    for i in 0..4 {
        out[8 * i..8 * i + 8].copy_from_slice(&w[i].to_le_bytes());
    }
    out
}

/// `a + b`, not carried.
#[inline(always)]
pub fn add(a: &Fe, b: &Fe) -> Fe {
    let mut h = a.0;
    for (x, y) in h.iter_mut().zip(b.0.iter()) {
        *x += y;
    }
    Fe(h)
}

/// `a − b` as `a + 2p − b`, not carried; `b` must be carried (each limb below 2p's).
#[inline(always)]
pub fn sub(a: &Fe, b: &Fe) -> Fe {
    let mut h = [0u64; 10];
    for i in 0..10 {
        h[i] = a.0[i] + TWO_P[i] - b.0[i];
    }
    Fe(h)
}

/// Swaps `a` and `b` iff `bit` is 1, without a branch: `mask` is all ones or all zeros.
#[inline(always)]
pub fn cswap(a: &mut Fe, b: &mut Fe, bit: u64) {
    let mask = 0u64.wrapping_sub(bit);
    for i in 0..10 {
        let t = mask & (a.0[i] ^ b.0[i]);
        a.0[i] ^= t;
        b.0[i] ^= t;
    }
}

/// The carry chain of ref10 (two interleaved chains, then limb 9 folded into limb 0 with
/// ×19 and one more carry): column sums below 2^64 in, carried limbs out. Returns the
/// limbs as an `Fe`-sized array wrapped for [`to_bytes`]' reuse.
#[inline(always)]
fn carry(h: &[u64; 10]) -> Fe {
    let [mut h0, mut h1, mut h2, mut h3, mut h4, mut h5, mut h6, mut h7, mut h8, mut h9] = *h;
    let mut c;
    c = h0 >> 26;
    h1 += c;
    h0 &= M26;
    c = h4 >> 26;
    h5 += c;
    h4 &= M26;
    c = h1 >> 25;
    h2 += c;
    h1 &= M25;
    c = h5 >> 25;
    h6 += c;
    h5 &= M25;
    c = h2 >> 26;
    h3 += c;
    h2 &= M26;
    c = h6 >> 26;
    h7 += c;
    h6 &= M26;
    c = h3 >> 25;
    h4 += c;
    h3 &= M25;
    c = h7 >> 25;
    h8 += c;
    h7 &= M25;
    c = h4 >> 26;
    h5 += c;
    h4 &= M26;
    c = h8 >> 26;
    h9 += c;
    h8 &= M26;
    c = h9 >> 25;
    h0 += 19 * c;
    h9 &= M25;
    c = h0 >> 26;
    h1 += c;
    h0 &= M26;
    Fe([h0, h1, h2, h3, h4, h5, h6, h7, h8, h9])
}

/// `f · g`, carried. Input bounds: see the module doc (their product ≤ 32).
#[inline(always)]
pub fn mul(f: &Fe, g: &Fe) -> Fe {
    let [f0, f1, f2, f3, f4, f5, f6, f7, f8, f9] = f.0;
    let [g0, g1, g2, g3, g4, g5, g6, g7, g8, g9] = g.0;
    // Columns past limb 9 wrap with 2^255 ≡ 19; odd·odd products carry an extra 2
    // (2^⌈25.5i⌉·2^⌈25.5j⌉ = 2·2^⌈25.5(i+j)⌉ when i and j are both odd).
    let (g1_19, g2_19, g3_19, g4_19, g5_19) = (19 * g1, 19 * g2, 19 * g3, 19 * g4, 19 * g5);
    let (g6_19, g7_19, g8_19, g9_19) = (19 * g6, 19 * g7, 19 * g8, 19 * g9);
    let (f1_2, f3_2, f5_2, f7_2, f9_2) = (2 * f1, 2 * f3, 2 * f5, 2 * f7, 2 * f9);
    let h0 = f0 * g0
        + f1_2 * g9_19
        + f2 * g8_19
        + f3_2 * g7_19
        + f4 * g6_19
        + f5_2 * g5_19
        + f6 * g4_19
        + f7_2 * g3_19
        + f8 * g2_19
        + f9_2 * g1_19;
    let h1 = f0 * g1
        + f1 * g0
        + f2 * g9_19
        + f3 * g8_19
        + f4 * g7_19
        + f5 * g6_19
        + f6 * g5_19
        + f7 * g4_19
        + f8 * g3_19
        + f9 * g2_19;
    let h2 = f0 * g2
        + f1_2 * g1
        + f2 * g0
        + f3_2 * g9_19
        + f4 * g8_19
        + f5_2 * g7_19
        + f6 * g6_19
        + f7_2 * g5_19
        + f8 * g4_19
        + f9_2 * g3_19;
    let h3 = f0 * g3
        + f1 * g2
        + f2 * g1
        + f3 * g0
        + f4 * g9_19
        + f5 * g8_19
        + f6 * g7_19
        + f7 * g6_19
        + f8 * g5_19
        + f9 * g4_19;
    let h4 = f0 * g4
        + f1_2 * g3
        + f2 * g2
        + f3_2 * g1
        + f4 * g0
        + f5_2 * g9_19
        + f6 * g8_19
        + f7_2 * g7_19
        + f8 * g6_19
        + f9_2 * g5_19;
    let h5 =
        f0 * g5 + f1 * g4 + f2 * g3 + f3 * g2 + f4 * g1 + f5 * g0 + f6 * g9_19 + f7 * g8_19 + f8 * g7_19 + f9 * g6_19;
    let h6 = f0 * g6
        + f1_2 * g5
        + f2 * g4
        + f3_2 * g3
        + f4 * g2
        + f5_2 * g1
        + f6 * g0
        + f7_2 * g9_19
        + f8 * g8_19
        + f9_2 * g7_19;
    let h7 = f0 * g7 + f1 * g6 + f2 * g5 + f3 * g4 + f4 * g3 + f5 * g2 + f6 * g1 + f7 * g0 + f8 * g9_19 + f9 * g8_19;
    let h8 =
        f0 * g8 + f1_2 * g7 + f2 * g6 + f3_2 * g5 + f4 * g4 + f5_2 * g3 + f6 * g2 + f7_2 * g1 + f8 * g0 + f9_2 * g9_19;
    let h9 = f0 * g9 + f1 * g8 + f2 * g7 + f3 * g6 + f4 * g5 + f5 * g4 + f6 * g3 + f7 * g2 + f8 * g1 + f9 * g0;
    carry(&[h0, h1, h2, h3, h4, h5, h6, h7, h8, h9])
}

/// `f²`, carried (55 products instead of 100). Input bound: its square ≤ 32.
#[inline(always)]
pub fn square(f: &Fe) -> Fe {
    let [f0, f1, f2, f3, f4, f5, f6, f7, f8, f9] = f.0;
    let (f0_2, f1_2, f2_2, f3_2, f4_2, f5_2, f6_2, f7_2) =
        (2 * f0, 2 * f1, 2 * f2, 2 * f3, 2 * f4, 2 * f5, 2 * f6, 2 * f7);
    let (f5_38, f6_19, f7_38, f8_19, f9_38) = (38 * f5, 19 * f6, 38 * f7, 19 * f8, 38 * f9);
    let h0 = f0 * f0 + f1_2 * f9_38 + f2_2 * f8_19 + f3_2 * f7_38 + f4_2 * f6_19 + f5 * f5_38;
    let h1 = f0_2 * f1 + f2 * f9_38 + f3_2 * f8_19 + f4 * f7_38 + f5_2 * f6_19;
    let h2 = f0_2 * f2 + f1_2 * f1 + f3_2 * f9_38 + f4_2 * f8_19 + f5_2 * f7_38 + f6 * f6_19;
    let h3 = f0_2 * f3 + f1_2 * f2 + f4 * f9_38 + f5_2 * f8_19 + f6 * f7_38;
    let h4 = f0_2 * f4 + f1_2 * f3_2 + f2 * f2 + f5_2 * f9_38 + f6_2 * f8_19 + f7 * f7_38;
    let h5 = f0_2 * f5 + f1_2 * f4 + f2_2 * f3 + f6 * f9_38 + f7_2 * f8_19;
    let h6 = f0_2 * f6 + f1_2 * f5_2 + f2_2 * f4 + f3_2 * f3 + f7_2 * f9_38 + f8 * f8_19;
    let h7 = f0_2 * f7 + f1_2 * f6 + f2_2 * f5 + f3_2 * f4 + f8 * f9_38;
    let h8 = f0_2 * f8 + f1_2 * f7_2 + f2_2 * f6 + f3_2 * f5_2 + f4 * f4 + f9 * f9_38;
    let h9 = f0_2 * f9 + f1_2 * f8 + f2_2 * f7 + f3_2 * f6 + f4_2 * f5;
    carry(&[h0, h1, h2, h3, h4, h5, h6, h7, h8, h9])
}

/// `f · n` for a small constant `n < 2^17` (121665 in the ladder), carried; `f` ≤ 3×.
#[inline(always)]
pub fn mul_small(f: &Fe, n: u64) -> Fe {
    let mut h = f.0;
    for x in h.iter_mut() {
        *x *= n;
    }
    carry(&h)
}

/// `f` squared `n` times.
#[inline(always)]
fn square_n(f: &Fe, n: u32) -> Fe {
    let mut h = square(f);
    for _ in 1..n {
        h = square(&h);
    }
    h
}

/// `z^(p−2) = 1/z` (0 for 0), by the fixed addition chain of ref10: 254 squarings and
/// 11 multiplications, the same sequence for every `z`.
pub fn invert(z: &Fe) -> Fe {
    let z2 = square(z); // 2
    let z9 = mul(&square_n(&z2, 2), z); // 9
    let z11 = mul(&z9, &z2); // 11
    let z_5_0 = mul(&square(&z11), &z9); // 2^5 − 1
    let z_10_0 = mul(&square_n(&z_5_0, 5), &z_5_0); // 2^10 − 1
    let z_20_0 = mul(&square_n(&z_10_0, 10), &z_10_0); // 2^20 − 1
    let z_40_0 = mul(&square_n(&z_20_0, 20), &z_20_0); // 2^40 − 1
    let z_50_0 = mul(&square_n(&z_40_0, 10), &z_10_0); // 2^50 − 1
    let z_100_0 = mul(&square_n(&z_50_0, 50), &z_50_0); // 2^100 − 1
    let z_200_0 = mul(&square_n(&z_100_0, 100), &z_100_0); // 2^200 − 1
    let z_250_0 = mul(&square_n(&z_200_0, 50), &z_50_0); // 2^250 − 1
    mul(&square_n(&z_250_0, 5), &z11) // 2^255 − 32 + 11 = p − 2
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// A deterministic byte stream (xorshift), for property tests without crates.
    pub struct Rng(pub u64);
    impl Rng {
        pub fn word(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        pub fn bytes32(&mut self) -> [u8; 32] {
            let mut b = [0u8; 32];
            for c in b.chunks_mut(8) {
                c.copy_from_slice(&self.word().to_le_bytes());
            }
            b
        }
    }

    /// Little-endian 256-bit integers as four u64s (schoolbook reference arithmetic).
    type U256 = [u64; 4];
    fn to_u256(b: &[u8; 32]) -> U256 {
        let mut w = [0u64; 4];
        for i in 0..4 {
            w[i] = u64::from_le_bytes(b[8 * i..8 * i + 8].try_into().unwrap());
        }
        w
    }
    const P: U256 = [0xffff_ffff_ffff_ffed, u64::MAX, u64::MAX, 0x7fff_ffff_ffff_ffff];
    fn geq(a: &U256, b: &U256) -> bool {
        for i in (0..4).rev() {
            if a[i] != b[i] {
                return a[i] > b[i];
            }
        }
        true
    }
    fn sub_u(a: &U256, b: &U256) -> U256 {
        let mut r = [0u64; 4];
        let mut borrow = 0u128;
        for i in 0..4 {
            let d = (a[i] as u128).wrapping_sub(b[i] as u128).wrapping_sub(borrow);
            r[i] = d as u64;
            borrow = (d >> 127) & 1;
        }
        r
    }
    /// (a · b) mod p by shift-and-add over u128 limbs (slow, obviously correct).
    fn mulmod(a: &U256, b: &U256) -> U256 {
        let mut acc = [0u64; 4];
        for i in (0..256).rev() {
            // acc = 2·acc mod p
            let mut carry = 0u64;
            for w in acc.iter_mut() {
                let n = (*w << 1) | carry;
                carry = *w >> 63;
                *w = n;
            }
            if carry == 1 || geq(&acc, &P) {
                acc = sub_u(&acc, &P);
            }
            if (b[i / 64] >> (i % 64)) & 1 == 1 {
                let mut c = 0u128;
                for j in 0..4 {
                    let s = acc[j] as u128 + a[j] as u128 + c;
                    acc[j] = s as u64;
                    c = s >> 64;
                }
                if c == 1 || geq(&acc, &P) {
                    acc = sub_u(&acc, &P);
                }
            }
        }
        acc
    }
    fn reduce(a: &U256) -> U256 {
        let mut r = *a;
        while geq(&r, &P) {
            r = sub_u(&r, &P);
        }
        r
    }
    fn canon(b: &[u8; 32]) -> U256 {
        let mut x = *b;
        x[31] &= 0x7f;
        reduce(&to_u256(&x))
    }

    #[test]
    fn encoding_round_trips_and_reduces() {
        let mut rng = Rng(0x1234_5678_9abc_def1);
        for _ in 0..2000 {
            let b = rng.bytes32();
            assert_eq!(to_u256(&to_bytes(&from_bytes(&b))), canon(&b));
        }
        // The non-canonical encodings p .. 2^255 − 1 reduce to 0 .. 18; bit 255 is ignored.
        for k in 0..19u8 {
            let mut b = [0xffu8; 32];
            b[0] = 0xed + k;
            b[31] = 0x7f;
            assert_eq!(to_bytes(&from_bytes(&b))[0], k);
            b[31] = 0xff;
            assert_eq!(to_bytes(&from_bytes(&b))[0], k);
        }
        assert_eq!(to_bytes(&ZERO), [0; 32]);
    }

    #[test]
    fn mul_square_add_sub_match_a_reference() {
        let mut rng = Rng(0x0ddb_a11c_afe5_eed5);
        for _ in 0..300 {
            let (x, y) = (rng.bytes32(), rng.bytes32());
            let (a, b) = (from_bytes(&x), from_bytes(&y));
            let (ra, rb) = (canon(&x), canon(&y));
            assert_eq!(to_u256(&to_bytes(&mul(&a, &b))), mulmod(&ra, &rb));
            assert_eq!(to_u256(&to_bytes(&square(&a))), mulmod(&ra, &ra));
            // The largest inputs the ladder feeds in: (a+b)·(a−b) and (a−b)².
            let (s, d) = (add(&a, &b), sub(&a, &b));
            let want_s = to_u256(&to_bytes(&s));
            let want_d = to_u256(&to_bytes(&d));
            assert_eq!(to_u256(&to_bytes(&mul(&d, &s))), mulmod(&want_d, &want_s));
            assert_eq!(to_u256(&to_bytes(&square(&d))), mulmod(&want_d, &want_d));
            let inv = invert(&a);
            let one = to_u256(&to_bytes(&mul(&inv, &a)));
            assert_eq!(one, if ra == [0; 4] { [0; 4] } else { [1, 0, 0, 0] });
            assert_eq!(to_u256(&to_bytes(&mul_small(&d, 121665))), mulmod(&want_d, &[121665, 0, 0, 0]));
        }
    }

    #[test]
    fn worst_case_limbs_do_not_overflow() {
        // Every limb at its largest carried value (limb 1 a little over 2^25), through sub.
        let mut big = Fe([M26, M25 + (1 << 17), M26, M25, M26, M25, M26, M25, M26, M25]);
        for _ in 0..3 {
            let d = sub(&big, &ZERO); // ≤ 3× nominal
            let s = add(&big, &big); // ≤ 2×
            let _ = mul(&d, &d); // 9
            let _ = mul(&d, &s); // 6
            big = square(&d);
        }
        // Debug builds (cargo test) trap on overflow: reaching here is the check.
    }

    #[test]
    fn cswap_swaps_on_one_only() {
        let (mut a, mut b) = (ONE, ZERO);
        cswap(&mut a, &mut b, 0);
        assert_eq!((a.0[0], b.0[0]), (1, 0));
        cswap(&mut a, &mut b, 1);
        assert_eq!((a.0[0], b.0[0]), (0, 1));
    }
}
