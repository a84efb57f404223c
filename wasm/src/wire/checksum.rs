//! The Internet checksum (RFC 1071) for IPv4 headers and TCP/UDP segments.
//!
//! Bytes are summed as little-endian words into a 64-bit accumulator: one's-complement
//! addition is byte-order independent (RFC 1071 §2(B)), so the folded sum written back
//! with `to_le_bytes` is exactly the big-endian field the wire wants, and wasm (which has
//! no byte-swap instruction) never swaps per word. Every chunk summed must start at an
//! even offset of the checksummed range: callers sum a header and then the payload that
//! follows it, both of even length except possibly the last chunk.

/// Adds `data` (starting at an even offset of the checksummed range) to `acc`.
pub fn add(mut acc: u64, data: &[u8]) -> u64 {
    let mut words = data.chunks_exact(8);
    for w in &mut words {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        let v = u64::from_le_bytes(b);
        // Two 32-bit halves: 2^32 of them fit before the accumulator could wrap.
        acc += (v & 0xffff_ffff) + (v >> 32);
    }
    let rest = words.remainder();
    let mut pairs = rest.chunks_exact(2);
    for p in &mut pairs {
        acc += u16::from_le_bytes([p[0], p[1]]) as u64;
    }
    if let Some(&last) = pairs.remainder().first() {
        // An odd final byte is the high-order byte of a zero-padded big-endian word,
        // i.e. the low byte of a little-endian one.
        acc += last as u64;
    }
    acc
}

/// Adds a big-endian 16-bit value (a length, a protocol number) to `acc`.
pub fn add_be16(acc: u64, v: u16) -> u64 {
    acc + v.swap_bytes() as u64
}

/// Folds `acc` to 16 bits (one's complement, not inverted), in the module's
/// little-endian word order: store it with `to_le_bytes`.
pub fn fold(mut acc: u64) -> u16 {
    acc = (acc & 0xffff_ffff) + (acc >> 32);
    acc = (acc & 0xffff_ffff) + (acc >> 32);
    acc = (acc & 0xffff) + (acc >> 16);
    acc = (acc & 0xffff) + (acc >> 16);
    acc = (acc & 0xffff) + (acc >> 16);
    acc as u16
}

/// The checksum field value for a range whose sum (including a zeroed field) is `acc`.
pub fn finish(acc: u64) -> [u8; 2] {
    (!fold(acc)).to_le_bytes()
}

/// Sum of the TCP/UDP pseudo-header: source and destination address (4 or 16 bytes each),
/// protocol and the transport length (header + payload).
pub fn pseudo_header(src: &[u8], dst: &[u8], proto: u8, l4_len: u32) -> u64 {
    let mut acc = add(0, src);
    acc = add(acc, dst);
    acc = add_be16(acc, proto as u16);
    // IPv6 jumbograms aside, l4_len fits 16 bits; the upper half is summed too.
    acc = add_be16(acc, (l4_len >> 16) as u16);
    add_be16(acc, l4_len as u16)
}

/// True if a range including its checksum field sums to 0xffff (checksum valid).
pub fn verifies(acc: u64) -> bool {
    fold(acc) == 0xffff
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference: big-endian 16-bit words, folded, as RFC 1071 describes it.
    fn reference(data: &[u8]) -> u16 {
        let mut s: u32 = 0;
        for c in data.chunks(2) {
            let w = ((c[0] as u32) << 8) | *c.get(1).unwrap_or(&0) as u32;
            s += w;
            s = (s & 0xffff) + (s >> 16);
        }
        !(s as u16)
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2 (before inversion).
        let d = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(add(0, &d)).to_le_bytes(), [0xdd, 0xf2]);
        assert_eq!(finish(add(0, &d)), [0x22, 0x0d]);
    }

    #[test]
    fn ipv4_header_known_answer() {
        // Wikipedia's IPv4 header example: checksum b861.
        let h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8,
            0x00, 0xc7,
        ];
        assert_eq!(finish(add(0, &h)), [0xb8, 0x61]);
        let mut v = h;
        v[10] = 0xb8;
        v[11] = 0x61;
        assert!(verifies(add(0, &v)));
        v[11] = 0x62;
        assert!(!verifies(add(0, &v)));
    }

    #[test]
    fn matches_reference_for_every_length_and_split() {
        let data: Vec<u8> = (0..300u32).map(|i| (i.wrapping_mul(151) ^ 0x5a) as u8).collect();
        for len in 0..data.len() {
            let d = &data[..len];
            assert_eq!(u16::from_be_bytes(finish(add(0, d))), reference(d), "len {}", len);
            // Split at every even offset: the sum of the parts is the same.
            for cut in (0..=len).step_by(2) {
                let acc = add(add(0, &d[..cut]), &d[cut..]);
                assert_eq!(u16::from_be_bytes(finish(acc)), reference(d));
            }
        }
    }

    #[test]
    fn all_ones_and_carries() {
        let d = vec![0xff; 4096];
        assert_eq!(fold(add(0, &d)), 0xffff);
        assert_eq!(fold(u64::MAX), 0xffff);
        assert_eq!(fold(0x1_0000), 1);
        assert_eq!(fold(0), 0);
    }

    #[test]
    fn pseudo_header_v4() {
        // 10.0.0.1 -> 10.0.0.2, TCP, 20 bytes: 0a00+0001+0a00+0002+0006+0014.
        let s = pseudo_header(&[10, 0, 0, 1], &[10, 0, 0, 2], 6, 20);
        assert_eq!(u16::from_be_bytes(fold(s).to_le_bytes()), 0x0a00 + 1 + 0x0a00 + 2 + 6 + 20);
    }
}
