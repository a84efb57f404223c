//! Poly1305 (RFC 8439), "donna" 5×26-bit limbs: every product is u32×u32→u64, which
//! wasm does natively (a u128 multiply would be a libcall).

use crate::errors::E_BAD_ARG;
use crate::mem;

const M26: u32 = 0x3ff_ffff;

pub struct Poly1305 {
    r: [u32; 5],
    h: [u32; 5],
    pad: [u32; 4],
    /// Pending partial block (only used by the generic `update`).
    buf: [u8; 16],
    buf_len: usize,
}

fn le32(b: &[u8; 16], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

impl Poly1305 {
    pub fn new(key: &[u8; 32]) -> Poly1305 {
        let mut r16 = [0u8; 16];
        r16.copy_from_slice(&key[..16]);
        let mut p16 = [0u8; 16];
        p16.copy_from_slice(&key[16..]);
        Poly1305 {
            // r clamped as RFC 8439 §2.5 requires, split into 26-bit limbs.
            r: [
                le32(&r16, 0) & 0x3ff_ffff,
                (le32(&r16, 3) >> 2) & 0x3ff_ff03,
                (le32(&r16, 6) >> 4) & 0x3ff_c0ff,
                (le32(&r16, 9) >> 6) & 0x3f0_3fff,
                (le32(&r16, 12) >> 8) & 0x00f_ffff,
            ],
            h: [0; 5],
            pad: [le32(&p16, 0), le32(&p16, 4), le32(&p16, 8), le32(&p16, 12)],
            buf: [0; 16],
            buf_len: 0,
        }
    }

    /// Absorbs one 16-byte block; `hibit` is 1<<24 for a full block (the appended 0x01
    /// byte at position 16), 0 for the final padded partial block.
    #[inline(always)]
    fn block(&mut self, m: &[u8; 16], hibit: u32) {
        let [r0, r1, r2, r3, r4] = self.r;
        let (s1, s2, s3, s4) = (r1 * 5, r2 * 5, r3 * 5, r4 * 5);
        let [mut h0, mut h1, mut h2, mut h3, mut h4] = self.h;
        h0 += le32(m, 0) & M26;
        h1 += (le32(m, 3) >> 2) & M26;
        h2 += (le32(m, 6) >> 4) & M26;
        h3 += (le32(m, 9) >> 6) & M26;
        h4 += (le32(m, 12) >> 8) | hibit;
        let mul = |a: u32, b: u32| a as u64 * b as u64;
        let d0 = mul(h0, r0) + mul(h1, s4) + mul(h2, s3) + mul(h3, s2) + mul(h4, s1);
        let mut d1 = mul(h0, r1) + mul(h1, r0) + mul(h2, s4) + mul(h3, s3) + mul(h4, s2);
        let mut d2 = mul(h0, r2) + mul(h1, r1) + mul(h2, r0) + mul(h3, s4) + mul(h4, s3);
        let mut d3 = mul(h0, r3) + mul(h1, r2) + mul(h2, r1) + mul(h3, r0) + mul(h4, s4);
        let mut d4 = mul(h0, r4) + mul(h1, r3) + mul(h2, r2) + mul(h3, r1) + mul(h4, r0);
        h0 = d0 as u32 & M26;
        d1 += d0 >> 26;
        h1 = d1 as u32 & M26;
        d2 += d1 >> 26;
        h2 = d2 as u32 & M26;
        d3 += d2 >> 26;
        h3 = d3 as u32 & M26;
        d4 += d3 >> 26;
        h4 = d4 as u32 & M26;
        h0 += (d4 >> 26) as u32 * 5;
        h1 += h0 >> 26;
        h0 &= M26;
        self.h = [h0, h1, h2, h3, h4];
    }

    /// Absorbs `data` as full blocks, zero-padding a final partial block to 16 bytes
    /// (the AEAD's pad16: the padding is MACed like data, with the high bit).
    pub fn update_padded(&mut self, data: &[u8]) {
        let mut chunks = data.chunks_exact(16);
        for c in &mut chunks {
            if let Ok(b) = <&[u8; 16]>::try_from(c) {
                self.block(b, 1 << 24);
            }
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 16];
            b[..rest.len()].copy_from_slice(rest);
            self.block(&b, 1 << 24);
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
            self.block(&b, 1 << 24);
            self.buf_len = 0;
        }
        let mut chunks = data.chunks_exact(16);
        for c in &mut chunks {
            if let Ok(b) = <&[u8; 16]>::try_from(c) {
                self.block(b, 1 << 24);
            }
        }
        let rest = chunks.remainder();
        self.buf[..rest.len()].copy_from_slice(rest);
        self.buf_len = rest.len();
    }

    pub fn finish(mut self) -> [u8; 16] {
        if self.buf_len > 0 {
            let mut b = [0u8; 16];
            b[..self.buf_len].copy_from_slice(&self.buf[..self.buf_len]);
            b[self.buf_len] = 1;
            self.block(&b, 0);
        }
        let [mut h0, mut h1, mut h2, mut h3, mut h4] = self.h;
        // Full carry.
        h2 += h1 >> 26;
        h1 &= M26;
        h3 += h2 >> 26;
        h2 &= M26;
        h4 += h3 >> 26;
        h3 &= M26;
        h0 += (h4 >> 26) * 5;
        h4 &= M26;
        h1 += h0 >> 26;
        h0 &= M26;
        // g = h + 5 - 2^130; pick g if it did not underflow (constant time).
        let g0 = h0 + 5;
        let g1 = h1 + (g0 >> 26);
        let g2 = h2 + (g1 >> 26);
        let g3 = h3 + (g2 >> 26);
        let g4 = (h4 + (g3 >> 26)).wrapping_sub(1 << 26);
        let use_g = (g4 >> 31).wrapping_sub(1); // all ones if g4 >= 0
        let sel = |h: u32, g: u32| (h & !use_g) | (g & M26 & use_g);
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
    p.finish()
}

/// Writes Poly1305(key 32 B, msg[len]) at `out16`. 0 or E_BAD_ARG.
#[no_mangle]
pub extern "C" fn ts_poly1305(key: u32, msg: u32, len: u32, out16: u32) -> i32 {
    let (k, m) = match (mem::read::<32>(key), mem::bytes(msg, len as usize)) {
        (Some(k), Some(m)) => (k, m),
        _ => return E_BAD_ARG,
    };
    let tag = mac(&k, m);
    if mem::write(out16, &tag) {
        0
    } else {
        E_BAD_ARG
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chacha20::tests::hex;

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

    #[test]
    fn export() {
        crate::state::fresh();
        let s = mem::scratch_ptr();
        assert!(mem::write(s, &hex("85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b")));
        assert!(mem::write(s + 32, b"Cryptographic Forum Research Group"));
        assert_eq!(ts_poly1305(s, s + 32, 34, s + 128), 0);
        assert_eq!(&mem::read::<16>(s + 128).unwrap()[..], &hex("a8061dc1305136c6c22b8baf0c0127a9")[..]);
        assert_eq!(ts_poly1305(s, 4, 34, s + 128), E_BAD_ARG);
    }
}
