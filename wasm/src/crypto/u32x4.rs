//! Four u32 lanes, the operations ChaCha20 (chacha20.rs) and the four-lane Poly1305
//! (poly1305x4.rs) both use: `v128` on wasm32, arrays elsewhere (host `cargo test`
//! runs the same code), the same results on both.

#[cfg(target_arch = "wasm32")]
mod imp {
    use core::arch::wasm32::*;

    pub type V = v128;

    #[inline(always)]
    pub fn splat(x: u32) -> V {
        u32x4_splat(x)
    }
    /// Lane-wise, wrapping.
    #[inline(always)]
    pub fn add(a: V, b: V) -> V {
        u32x4_add(a, b)
    }
    /// 4×4 transpose: row `j` of the result is lane `j` of `a`, `b`, `c`, `d`.
    #[inline(always)]
    pub fn transpose(a: V, b: V, c: V, d: V) -> [V; 4] {
        let ab_lo = i32x4_shuffle::<0, 4, 1, 5>(a, b); // a0 b0 a1 b1
        let ab_hi = i32x4_shuffle::<2, 6, 3, 7>(a, b); // a2 b2 a3 b3
        let cd_lo = i32x4_shuffle::<0, 4, 1, 5>(c, d);
        let cd_hi = i32x4_shuffle::<2, 6, 3, 7>(c, d);
        [
            i64x2_shuffle::<0, 2>(ab_lo, cd_lo),
            i64x2_shuffle::<1, 3>(ab_lo, cd_lo),
            i64x2_shuffle::<0, 2>(ab_hi, cd_hi),
            i64x2_shuffle::<1, 3>(ab_hi, cd_hi),
        ]
    }
    /// 16 bytes, little-endian lanes (folds into one `v128.load`).
    #[inline(always)]
    pub fn load(b: &[u8; 16]) -> V {
        u8x16(b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15])
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    pub type V = [u32; 4];

    #[inline(always)]
    pub fn splat(x: u32) -> V {
        [x; 4]
    }
    #[inline(always)]
    pub fn add(a: V, b: V) -> V {
        [0, 1, 2, 3].map(|i| a[i].wrapping_add(b[i]))
    }
    #[inline(always)]
    pub fn transpose(a: V, b: V, c: V, d: V) -> [V; 4] {
        [0, 1, 2, 3].map(|j| [a[j], b[j], c[j], d[j]])
    }
    #[inline(always)]
    pub fn load(b: &[u8; 16]) -> V {
        [0, 4, 8, 12].map(|i| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]))
    }
}

pub use imp::{add, load, splat, transpose, V};
