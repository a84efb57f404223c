//! BLAKE2s (RFC 7693), plain and keyed, and what WireGuard builds on it (whitepaper:
//! "Messages", the list of functions): `HMAC` (RFC 2104 over BLAKE2s-256, block 64) and
//! `KDF1/2/3` (HKDF with that HMAC).
//!
//! Constant time: the compression function is additions, XORs and rotations of 32-bit
//! words; its message schedule indexes the block by the public permutation `SIGMA`.
//! Lengths (public) are the only thing any branch looks at.

const IV: [u32; 8] = [0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19];

const SIGMA: [[usize; 16]; 10] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
    [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
    [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
    [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
    [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
    [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
    [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
    [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
    [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
];

/// Block size in bytes.
pub const BLOCK: usize = 64;
/// Longest digest and key.
pub const OUT_MAX: usize = 32;

#[inline(always)]
fn g(v: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize, x: u32, y: u32) {
    v[a] = v[a].wrapping_add(v[b]).wrapping_add(x);
    v[d] = (v[d] ^ v[a]).rotate_right(16);
    v[c] = v[c].wrapping_add(v[d]);
    v[b] = (v[b] ^ v[c]).rotate_right(12);
    v[a] = v[a].wrapping_add(v[b]).wrapping_add(y);
    v[d] = (v[d] ^ v[a]).rotate_right(8);
    v[c] = v[c].wrapping_add(v[d]);
    v[b] = (v[b] ^ v[c]).rotate_right(7);
}

/// The compression function F (RFC 7693 §3.2); `t` counts bytes, `last` marks the final block.
fn compress(h: &mut [u32; 8], block: &[u8; BLOCK], t: u64, last: bool) {
    let mut m = [0u32; 16];
    for (i, w) in m.iter_mut().enumerate() {
        *w = u32::from_le_bytes([block[4 * i], block[4 * i + 1], block[4 * i + 2], block[4 * i + 3]]);
    }
    let mut v = [0u32; 16];
    v[..8].copy_from_slice(h);
    v[8..].copy_from_slice(&IV);
    v[12] ^= t as u32;
    v[13] ^= (t >> 32) as u32;
    if last {
        v[14] = !v[14];
    }
    for s in SIGMA.iter() {
        g(&mut v, 0, 4, 8, 12, m[s[0]], m[s[1]]);
        g(&mut v, 1, 5, 9, 13, m[s[2]], m[s[3]]);
        g(&mut v, 2, 6, 10, 14, m[s[4]], m[s[5]]);
        g(&mut v, 3, 7, 11, 15, m[s[6]], m[s[7]]);
        g(&mut v, 0, 5, 10, 15, m[s[8]], m[s[9]]);
        g(&mut v, 1, 6, 11, 12, m[s[10]], m[s[11]]);
        g(&mut v, 2, 7, 8, 13, m[s[12]], m[s[13]]);
        g(&mut v, 3, 4, 9, 14, m[s[14]], m[s[15]]);
    }
    for i in 0..8 {
        h[i] ^= v[i] ^ v[i + 8];
    }
}

/// An incremental BLAKE2s with a digest of 1..=32 bytes and an optional key of up to 32.
#[derive(Clone)]
pub struct Blake2s {
    h: [u32; 8],
    t: u64,
    buf: [u8; BLOCK],
    len: usize,
    out_len: usize,
}

impl Blake2s {
    /// `out_len` is clamped to 1..=32 and `key` cut to 32 bytes (the exports check both).
    pub fn new(out_len: usize, key: &[u8]) -> Blake2s {
        let out_len = out_len.clamp(1, OUT_MAX);
        let key = &key[..key.len().min(OUT_MAX)];
        let mut h = IV;
        // Parameter block: digest length, key length, fanout 1, depth 1.
        h[0] ^= 0x0101_0000 ^ ((key.len() as u32) << 8) ^ out_len as u32;
        let mut s = Blake2s { h, t: 0, buf: [0; BLOCK], len: 0, out_len };
        if !key.is_empty() {
            // The key, zero-padded, is the first block.
            s.buf[..key.len()].copy_from_slice(key);
            s.len = BLOCK;
        }
        s
    }

    /// Absorbs `data`. The last block is kept back until [`Blake2s::finish`], which must
    /// compress it with the final flag.
    pub fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            if self.len == BLOCK {
                self.t += BLOCK as u64;
                compress(&mut self.h, &self.buf, self.t, false);
                self.len = 0;
            }
            let n = (BLOCK - self.len).min(data.len());
            self.buf[self.len..self.len + n].copy_from_slice(&data[..n]);
            self.len += n;
            data = &data[n..];
        }
    }

    /// The digest in `out[..out_len]`; the rest of `out` is zero.
    pub fn finish(mut self) -> [u8; OUT_MAX] {
        self.t += self.len as u64;
        self.buf[self.len..].fill(0);
        compress(&mut self.h, &self.buf, self.t, true);
        let mut out = [0u8; OUT_MAX];
        for (o, w) in out.chunks_exact_mut(4).zip(self.h.iter()) {
            o.copy_from_slice(&w.to_le_bytes());
        }
        out[self.out_len..].fill(0);
        out
    }
}

/// `HASH(x)`: BLAKE2s-256 of the concatenation of `parts`.
pub fn hash(parts: &[&[u8]]) -> [u8; 32] {
    let mut s = Blake2s::new(32, &[]);
    for p in parts {
        s.update(p);
    }
    s.finish()
}

/// `HMAC(key, x)`: RFC 2104 HMAC-BLAKE2s-256 of the concatenation of `parts`. A key
/// longer than the 64-byte block is hashed first.
pub fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        k[..32].copy_from_slice(&hash(&[key]));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut pad = [0u8; BLOCK];
    for (p, x) in pad.iter_mut().zip(k.iter()) {
        *p = x ^ 0x36;
    }
    let mut inner = Blake2s::new(32, &[]);
    inner.update(&pad);
    for p in parts {
        inner.update(p);
    }
    let ih = inner.finish();
    for (p, x) in pad.iter_mut().zip(k.iter()) {
        *p = x ^ 0x5c;
    }
    let mut outer = Blake2s::new(32, &[]);
    outer.update(&pad);
    outer.update(&ih);
    outer.finish()
}

/// `KDFn(key, input)` for n = `out.len()` (1..=3): `T0 = HMAC(key, input)`,
/// `T1 = HMAC(T0, 0x1)`, `Ti = HMAC(T0, Ti−1 ‖ i)`; writes `T1..Tn`.
pub fn kdf(key: &[u8; 32], input: &[u8], out: &mut [[u8; 32]]) {
    let prk = hmac(key, &[input]);
    let mut prev: [u8; 32] = [0; 32];
    for (i, o) in out.iter_mut().enumerate() {
        let counter = [i as u8 + 1];
        prev = if i == 0 { hmac(&prk, &[&counter]) } else { hmac(&prk, &[&prev, &counter]) };
        *o = prev;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::chacha20::tests::hex;

    fn keyed(out_len: usize, key: &[u8], msg: &[u8]) -> Vec<u8> {
        let mut s = Blake2s::new(out_len, key);
        s.update(msg);
        s.finish()[..out_len].to_vec()
    }

    #[test]
    fn rfc7693_appendix_b_abc() {
        assert_eq!(keyed(32, &[], b"abc"), hex("508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982"));
        assert_eq!(keyed(32, &[], b""), hex("69217a3079908094e11121d042354a7c1f55b6482ca1a51e1b250dfd1ed0eef9"));
    }

    /// RFC 7693 Appendix E: the self-test's grand hash over digest lengths 16..32, input
    /// lengths 0..1024, unkeyed and keyed.
    #[test]
    fn rfc7693_appendix_e_selftest() {
        fn seq(len: usize, seed: u32) -> Vec<u8> {
            let (mut a, mut b) = (0xDEAD_4BADu32.wrapping_mul(seed), 1u32);
            (0..len)
                .map(|_| {
                    let t = a.wrapping_add(b);
                    a = b;
                    b = t;
                    (t >> 24) as u8
                })
                .collect()
        }
        let mut grand = Blake2s::new(32, &[]);
        for md_len in [16usize, 20, 28, 32] {
            for in_len in [0usize, 3, 64, 65, 255, 1024] {
                let input = seq(in_len, in_len as u32);
                grand.update(&keyed(md_len, &[], &input));
                let key = seq(md_len, md_len as u32);
                grand.update(&keyed(md_len, &key, &input));
            }
        }
        assert_eq!(grand.finish().to_vec(), hex("6a411f08ce25adcdfb02aba641451cec53c598b24f4fc787fbdc88797f4c1dfe"));
    }

    #[test]
    fn keyed_kat_and_split_updates() {
        // blake2s-kat.txt: key 00..1f, message 00..(n−1).
        let key: Vec<u8> = (0..32).collect();
        let msg: Vec<u8> = (0..=255).collect();
        assert_eq!(keyed(32, &key, &[]), hex("48a8997da407876b3d79c0d92325ad3b89cbb754d86ab71aee047ad345fd2c49"));
        assert_eq!(
            keyed(32, &key, &msg[..255]),
            hex("3fb735061abc519dfe979e54c1ee5bfad0a9d858b3315bad34bde999efd724dd")
        );
        for len in [0usize, 1, 63, 64, 65, 128, 129, 200] {
            let whole = keyed(32, &key, &msg[..len]);
            for cut in [0, len.min(1), len / 2, len] {
                let mut s = Blake2s::new(32, &key);
                s.update(&msg[..cut]);
                s.update(&msg[cut..len]);
                assert_eq!(s.finish().to_vec(), whole, "len {} cut {}", len, cut);
            }
        }
    }

    #[test]
    fn hmac_and_kdf_chain() {
        // HMAC against its definition, for short and over-long keys.
        for key_len in [0usize, 16, 32, 64, 65, 100] {
            let key: Vec<u8> = (0..key_len).map(|i| i as u8 ^ 0xa5).collect();
            let msg = b"WireGuard v1 zx2c4 Jason@zx2c4.com";
            let mut k = [0u8; 64];
            if key_len > 64 {
                k[..32].copy_from_slice(&hash(&[&key]));
            } else {
                k[..key_len].copy_from_slice(&key);
            }
            let ipad: Vec<u8> = k.iter().map(|x| x ^ 0x36).collect();
            let opad: Vec<u8> = k.iter().map(|x| x ^ 0x5c).collect();
            let want = hash(&[&opad, &hash(&[&ipad, msg])]);
            assert_eq!(hmac(&key, &[&msg[..10], &msg[10..]]), want, "key {}", key_len);
        }
        let key = [7u8; 32];
        let mut three = [[0u8; 32]; 3];
        kdf(&key, b"input", &mut three);
        let prk = hmac(&key, &[b"input"]);
        let t1 = hmac(&prk, &[&[1]]);
        let t2 = hmac(&prk, &[&t1, &[2]]);
        let t3 = hmac(&prk, &[&t2, &[3]]);
        assert_eq!(three, [t1, t2, t3]);
        let mut one = [[0u8; 32]; 1];
        kdf(&key, b"input", &mut one);
        assert_eq!(one[0], t1);
    }

    #[test]
    fn wireguard_construction_constants() {
        // Ci = HASH("Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"), as the whitepaper defines it.
        let ci = hash(&[b"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"]);
        assert_eq!(ci.to_vec(), hex("60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36"));
    }
}
