//! ChaCha20 (RFC 8439): state as u32 words, keystream XORed a 64-byte block at a time
//! as little-endian u32 words (no per-byte loop except for a final partial block).
//! Scalar on purpose for now; a simd128 four-block version is a later optimization.

use crate::errors::E_BAD_ARG;
use crate::mem;

const SIGMA: [u32; 4] = [0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574];

/// A 32-byte key as little-endian words.
pub fn key_words(k: &[u8; 32]) -> [u32; 8] {
    let mut w = [0u32; 8];
    for (i, x) in w.iter_mut().enumerate() {
        *x = u32::from_le_bytes([k[4 * i], k[4 * i + 1], k[4 * i + 2], k[4 * i + 3]]);
    }
    w
}

/// A 12-byte nonce as little-endian words.
pub fn nonce_words(n: &[u8; 12]) -> [u32; 3] {
    let mut w = [0u32; 3];
    for (i, x) in w.iter_mut().enumerate() {
        *x = u32::from_le_bytes([n[4 * i], n[4 * i + 1], n[4 * i + 2], n[4 * i + 3]]);
    }
    w
}

#[inline(always)]
fn quarter(x: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize) {
    x[a] = x[a].wrapping_add(x[b]);
    x[d] = (x[d] ^ x[a]).rotate_left(16);
    x[c] = x[c].wrapping_add(x[d]);
    x[b] = (x[b] ^ x[c]).rotate_left(12);
    x[a] = x[a].wrapping_add(x[b]);
    x[d] = (x[d] ^ x[a]).rotate_left(8);
    x[c] = x[c].wrapping_add(x[d]);
    x[b] = (x[b] ^ x[c]).rotate_left(7);
}

/// One 64-byte keystream block as 16 words.
#[inline(always)]
pub fn block(key: &[u32; 8], counter: u32, nonce: &[u32; 3]) -> [u32; 16] {
    let init = [
        SIGMA[0], SIGMA[1], SIGMA[2], SIGMA[3], key[0], key[1], key[2], key[3], key[4], key[5],
        key[6], key[7], counter, nonce[0], nonce[1], nonce[2],
    ];
    let mut x = init;
    for _ in 0..10 {
        quarter(&mut x, 0, 4, 8, 12);
        quarter(&mut x, 1, 5, 9, 13);
        quarter(&mut x, 2, 6, 10, 14);
        quarter(&mut x, 3, 7, 11, 15);
        quarter(&mut x, 0, 5, 10, 15);
        quarter(&mut x, 1, 6, 11, 12);
        quarter(&mut x, 2, 7, 8, 13);
        quarter(&mut x, 3, 4, 9, 14);
    }
    for (o, i) in x.iter_mut().zip(init.iter()) {
        *o = o.wrapping_add(*i);
    }
    x
}

/// Serialized keystream block.
pub fn block_bytes(key: &[u32; 8], counter: u32, nonce: &[u32; 3]) -> [u8; 64] {
    let w = block(key, counter, nonce);
    let mut out = [0u8; 64];
    for (o, x) in out.chunks_exact_mut(4).zip(w.iter()) {
        o.copy_from_slice(&x.to_le_bytes());
    }
    out
}

/// Four lanes of one state word: lane j belongs to block `counter + j`.
type Lanes = [u32; 4];

#[inline(always)]
fn add4(a: Lanes, b: Lanes) -> Lanes {
    [a[0].wrapping_add(b[0]), a[1].wrapping_add(b[1]), a[2].wrapping_add(b[2]), a[3].wrapping_add(b[3])]
}

#[inline(always)]
fn xor_rot4(a: Lanes, b: Lanes, r: u32) -> Lanes {
    [(a[0] ^ b[0]).rotate_left(r), (a[1] ^ b[1]).rotate_left(r), (a[2] ^ b[2]).rotate_left(r), (a[3] ^ b[3]).rotate_left(r)]
}

#[inline(always)]
fn quarter4(x: &mut [Lanes; 16], a: usize, b: usize, c: usize, d: usize) {
    x[a] = add4(x[a], x[b]);
    x[d] = xor_rot4(x[d], x[a], 16);
    x[c] = add4(x[c], x[d]);
    x[b] = xor_rot4(x[b], x[c], 12);
    x[a] = add4(x[a], x[b]);
    x[d] = xor_rot4(x[d], x[a], 8);
    x[c] = add4(x[c], x[d]);
    x[b] = xor_rot4(x[b], x[c], 7);
}

/// Four consecutive blocks at once, word-sliced: lane-wise `[u32; 4]` arithmetic that
/// LLVM's SLP vectorizer turns into i32x4 operations under `+simd128` (and plain, tested
/// scalar code on the host). XORs 256 bytes of keystream into `c`.
#[inline(always)]
fn xor_four_blocks(key: &[u32; 8], counter: u32, nonce: &[u32; 3], c: &mut [u8; 256]) {
    let splat = |v: u32| [v; 4];
    let ctr = [counter, counter.wrapping_add(1), counter.wrapping_add(2), counter.wrapping_add(3)];
    let init = [
        splat(SIGMA[0]), splat(SIGMA[1]), splat(SIGMA[2]), splat(SIGMA[3]),
        splat(key[0]), splat(key[1]), splat(key[2]), splat(key[3]),
        splat(key[4]), splat(key[5]), splat(key[6]), splat(key[7]),
        ctr, splat(nonce[0]), splat(nonce[1]), splat(nonce[2]),
    ];
    let mut x = init;
    for _ in 0..10 {
        quarter4(&mut x, 0, 4, 8, 12);
        quarter4(&mut x, 1, 5, 9, 13);
        quarter4(&mut x, 2, 6, 10, 14);
        quarter4(&mut x, 3, 7, 11, 15);
        quarter4(&mut x, 0, 5, 10, 15);
        quarter4(&mut x, 1, 6, 11, 12);
        quarter4(&mut x, 2, 7, 8, 13);
        quarter4(&mut x, 3, 4, 9, 14);
    }
    for i in 0..16 {
        x[i] = add4(x[i], init[i]);
    }
    for j in 0..4 {
        for i in 0..16 {
            let at = 64 * j + 4 * i;
            let w = u32::from_le_bytes([c[at], c[at + 1], c[at + 2], c[at + 3]]) ^ x[i][j];
            c[at..at + 4].copy_from_slice(&w.to_le_bytes());
        }
    }
}

/// XORs the keystream starting at block `counter` into `buf` (encrypt = decrypt).
pub fn xor_in_place(key: &[u32; 8], counter: u32, nonce: &[u32; 3], buf: &mut [u8]) {
    let mut ctr = counter;
    let mut quads = buf.chunks_exact_mut(256);
    for q in &mut quads {
        if let Ok(c) = <&mut [u8; 256]>::try_from(q) {
            xor_four_blocks(key, ctr, nonce, c);
        }
        ctr = ctr.wrapping_add(4);
    }
    let rest = quads.into_remainder();
    if rest.len() > 64 {
        // Two or more blocks left: one four-block pass through a temporary is cheaper
        // than that many single blocks.
        let mut t = [0u8; 256];
        if let Some(t) = t.get_mut(..rest.len()) {
            t.copy_from_slice(rest);
        }
        xor_four_blocks(key, ctr, nonce, &mut t);
        if let Some(t) = t.get(..rest.len()) {
            rest.copy_from_slice(t);
        }
    } else if !rest.is_empty() {
        let ks = block_bytes(key, ctr, nonce);
        for (b, k) in rest.iter_mut().zip(ks.iter()) {
            *b ^= k;
        }
    }
}

/// Writes the 64-byte block for (`key` 32 B, `counter`, `nonce12` 12 B) at `out64`.
/// 0 or E_BAD_ARG.
#[no_mangle]
pub extern "C" fn ts_chacha20_block(key: u32, counter: u32, nonce12: u32, out64: u32) -> i32 {
    let (k, n) = match (mem::read::<32>(key), mem::read::<12>(nonce12)) {
        (Some(k), Some(n)) => (k, n),
        _ => return E_BAD_ARG,
    };
    if mem::write(out64, &block_bytes(&key_words(&k), counter, &nonce_words(&n))) {
        0
    } else {
        E_BAD_ARG
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;

    pub fn hex(s: &str) -> Vec<u8> {
        (0..s.len() / 2).map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap()).collect()
    }

    fn seq_key() -> [u32; 8] {
        let mut k = [0u8; 32];
        for (i, b) in k.iter_mut().enumerate() {
            *b = i as u8;
        }
        key_words(&k)
    }

    #[test]
    fn rfc8439_block() {
        // Brief §10 / RFC 8439 §2.3.2.
        let n = nonce_words(&[0, 0, 0, 9, 0, 0, 0, 0x4a, 0, 0, 0, 0]);
        let want = hex("10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4ed2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e");
        assert_eq!(&block_bytes(&seq_key(), 1, &n)[..], &want[..]);
    }

    #[test]
    fn xor_matches_blocks_at_every_length() {
        let n = nonce_words(&[7; 12]);
        let k = seq_key();
        let mut stream = Vec::new();
        for c in 5..20 {
            stream.extend_from_slice(&block_bytes(&k, c, &n));
        }
        for len in [0usize, 1, 15, 63, 64, 65, 127, 128, 200, 255, 256, 257, 320, 511, 512, 513, 700, 960] {
            let mut buf = vec![0u8; len];
            xor_in_place(&k, 5, &n, &mut buf);
            assert_eq!(&buf[..], &stream[..len], "len {}", len);
            xor_in_place(&k, 5, &n, &mut buf);
            assert!(buf.iter().all(|&b| b == 0));
        }
    }

    #[test]
    fn export() {
        crate::state::fresh();
        let s = mem::scratch_ptr();
        let k: Vec<u8> = (0..32).collect();
        assert!(mem::write(s, &k));
        assert!(mem::write(s + 32, &[0, 0, 0, 9, 0, 0, 0, 0x4a, 0, 0, 0, 0]));
        assert_eq!(ts_chacha20_block(s, 1, s + 32, s + 64), 0);
        assert_eq!(mem::read::<4>(s + 64).unwrap(), [0x10, 0xf1, 0xe7, 0xe4]);
        assert_eq!(ts_chacha20_block(0, 1, s + 32, s + 64), E_BAD_ARG);
        assert_eq!(ts_chacha20_block(s, 1, s + 32, 8), E_BAD_ARG);
    }
}
