/**
 * The handshake's WebAssembly primitives (src/wg/wasm_crypto.ts, through primitives.ts and
 * keys.ts) against @noble, which stays the oracle: X25519 on 10,000 random scalar/point
 * pairs (random points, non-canonical ones ≥ p, bit 255 set, and every low-order point),
 * RFC 7748's vectors (including 1 and 1,000 iterations) on the built module, the public key
 * on 2,000 more, and BLAKE2s, MAC, HMAC, KDF1/2/3 and the AEAD on random
 * lengths and keys.
 *
 * @module
 */
import assert from "node:assert/strict";
import { x25519 as nobleX25519 } from "@noble/curves/ed25519.js";
import { blake2s as nobleBlake2s } from "@noble/hashes/blake2.js";
import { hmac as nobleHmac } from "@noble/hashes/hmac.js";
import { hkdf as nobleHkdf } from "@noble/hashes/hkdf.js";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import {
  aeadOpen,
  aeadSeal,
  dh,
  dhPublicKey,
  hash,
  hmac,
  kdf1,
  kdf2,
  kdf3,
  mac,
} from "../src/wg/primitives.ts";
import { publicKey } from "../src/wg/keys.ts";
import { x25519, x25519Base } from "../src/wg/wasm_crypto.ts";

/** A seeded xorshift generator, so a failure names a reproducible case. */
class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0 || 1;
  }
  u32(): number {
    let x = this.#s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#s = x >>> 0;
    return this.#s;
  }
  below(n: number): number {
    return this.u32() % n;
  }
  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.u32() & 0xff;
    return b;
  }
}

const hex = (b: Uint8Array): string =>
  Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const P = 2n ** 255n - 19n;
const le32 = (n: bigint): Uint8Array => {
  const b = new Uint8Array(32);
  for (let i = 0; i < 32; i++) b[i] = Number((n >> BigInt(8 * i)) & 0xffn);
  return b;
};

/** Every u whose order divides 8 (noble's list), and their non-canonical encodings. */
const LOW_ORDER = [
  0n,
  1n,
  P - 1n,
  325606250916557431795983626356110631294008115727848805560023387167927233504n,
  39382357235489614581723060781553021112529911719440698176882885853963445705823n,
];

/** A point for case `i`: mostly random bytes; otherwise u ≥ p, a low-order point, a tiny u. */
function point(rng: Rng, i: number): Uint8Array {
  switch (i % 16) {
    case 0: // non-canonical: p .. 2^255 − 1
      return le32(P + BigInt(rng.below(19)));
    case 1: { // low order, canonical or + p, sometimes with bit 255 set
      const u = LOW_ORDER[rng.below(LOW_ORDER.length)];
      const b = le32(u < 19n && rng.below(2) === 1 ? u + P : u);
      if (rng.below(2) === 1) b[31] |= 0x80;
      return b;
    }
    case 2: // small u, sometimes the base point
      return le32(BigInt(rng.below(20)));
    default:
      return rng.bytes(32); // bit 255 random: it must be ignored
  }
}

/** noble's X25519, or null where it refuses (low-order points, an all-zero result). */
function oracle(scalar: Uint8Array, u: Uint8Array): Uint8Array | null {
  try {
    return nobleX25519.getSharedSecret(scalar, u);
  } catch {
    return null;
  }
}

Deno.test("X25519 in WASM equals @noble/curves on 10,000 random scalars and points", () => {
  const rng = new Rng(0x25519);
  let refused = 0;
  for (let i = 0; i < 10_000; i++) {
    const k = rng.bytes(32);
    const u = point(rng, i);
    const want = oracle(k, u);
    const got = dh(k, u);
    if (want === null) {
      refused++;
      assert.equal(got, null, `case ${i}: k=${hex(k)} u=${hex(u)} must be rejected`);
    } else {
      assert.ok(got !== null, `case ${i}: k=${hex(k)} u=${hex(u)} rejected`);
      assert.equal(hex(got), hex(want), `case ${i}: k=${hex(k)} u=${hex(u)}`);
    }
  }
  // Every low-order case (1 in 16) and u = 0 or 1 among the small ones were refused.
  assert.ok(refused >= 10_000 / 16, `${refused} refused`);
});

const unhex = (s: string): Uint8Array => Uint8Array.from(s.match(/../g)!, (h) => parseInt(h, 16));

// The built module runs the ladder in simd128 lanes; `cargo test` on the host runs the same
// arithmetic over plain arrays. These vectors check the .wasm itself.
Deno.test("X25519 in WASM passes RFC 7748's vectors (§5.2, 1 and 1,000 iterations, §6.1)", () => {
  for (
    const [k, u, want] of [
      [
        "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
        "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
        "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552",
      ],
      [ // u has bit 255 set: ignored
        "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
        "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
        "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957",
      ],
    ]
  ) assert.equal(hex(x25519(unhex(k), unhex(u))!), want);
  // §5.2's iteration: k, u ← X25519(k, u), k, from k = u = 9.
  let k = le32(9n), u = le32(9n);
  for (let i = 1; i <= 1000; i++) {
    [k, u] = [x25519(k, u)!, k];
    if (i === 1) {
      assert.equal(hex(k), "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079");
    }
  }
  assert.equal(hex(k), "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51");
  // §6.1: both public keys (the fixed-base table) and the shared secret both ways.
  const a = unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  const b = unhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
  const pa = x25519Base(a), pb = x25519Base(b);
  assert.equal(hex(pa), "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  assert.equal(hex(pb), "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
  const shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
  assert.equal(hex(x25519(a, pb)!), shared);
  assert.equal(hex(x25519(b, pa)!), shared);
});

Deno.test("the public key in WASM equals @noble/curves on 2,000 random private keys", () => {
  const rng = new Rng(9);
  for (let i = 0; i < 2_000; i++) {
    const k = rng.bytes(32);
    const want = hex(nobleX25519.scalarMult(k, nobleX25519.GuBytes));
    assert.equal(hex(publicKey(k)), want, `k=${hex(k)}`);
    assert.equal(hex(dhPublicKey(k)), want);
    assert.equal(hex(x25519Base(k)), want);
  }
  // The module's own arguments: 32 bytes or a RangeError.
  assert.throws(() => x25519(new Uint8Array(31), new Uint8Array(32)), RangeError);
  assert.throws(() => x25519Base(new Uint8Array(33)), RangeError);
});

/** `parts` cut from `data` at random places. */
function split(rng: Rng, data: Uint8Array): Uint8Array[] {
  const parts: Uint8Array[] = [];
  let at = 0;
  while (at < data.length) {
    const n = 1 + rng.below(data.length - at);
    parts.push(data.subarray(at, at + n));
    at += n;
  }
  if (rng.below(4) === 0) parts.splice(rng.below(parts.length + 1), 0, new Uint8Array(0));
  return parts;
}

/** Random lengths, with every block boundary of BLAKE2s among them. */
function lengths(rng: Rng, n: number): number[] {
  return [
    0,
    1,
    31,
    32,
    33,
    63,
    64,
    65,
    127,
    128,
    129,
    148,
    ...Array.from(
      { length: n },
      () => rng.below(600),
    ),
  ];
}

Deno.test("HASH, MAC and HMAC in WASM equal @noble/hashes on random lengths and keys", () => {
  const rng = new Rng(7693);
  for (const len of lengths(rng, 400)) {
    const data = rng.bytes(len);
    const parts = split(rng, data);
    assert.equal(hex(hash(...parts)), hex(nobleBlake2s(data)), `HASH of ${len}`);
    const macKey = rng.bytes(1 + rng.below(32));
    assert.equal(
      hex(mac(macKey, ...parts)),
      hex(nobleBlake2s(data, { key: macKey, dkLen: 16 })),
      `MAC of ${len}, key ${macKey.length}`,
    );
    const hmacKey = rng.bytes(rng.below(100)); // longer than a block: hashed first
    assert.equal(
      hex(hmac(hmacKey, ...parts)),
      hex(nobleHmac(nobleBlake2s, hmacKey, data)),
      `HMAC of ${len}, key ${hmacKey.length}`,
    );
  }
  assert.throws(() => mac(new Uint8Array(33), new Uint8Array(1)), RangeError);
});

Deno.test("KDF1/2/3 in WASM equal HKDF-BLAKE2s of @noble/hashes (salt = key, no info)", () => {
  const rng = new Rng(5869);
  for (const len of lengths(rng, 200)) {
    const input = rng.bytes(len);
    for (const keyLen of [32, 16]) { // chaining keys are 32 bytes (one call); 16 spells it out
      const key = rng.bytes(keyLen);
      const want = nobleHkdf(nobleBlake2s, input, key, new Uint8Array(0), 96);
      const w = [want.subarray(0, 32), want.subarray(32, 64), want.subarray(64, 96)].map(hex);
      assert.deepEqual([hex(kdf1(key, input))], w.slice(0, 1), `KDF1 of ${len}`);
      assert.deepEqual(kdf2(key, input).map(hex), w.slice(0, 2), `KDF2 of ${len}`);
      assert.deepEqual(kdf3(key, input).map(hex), w, `KDF3 of ${len}`);
    }
  }
});

Deno.test("AEAD in WASM equals @noble/ciphers on random lengths, counters and AADs", () => {
  const rng = new Rng(8439);
  for (const len of lengths(rng, 200)) {
    const key = rng.bytes(32);
    const pt = rng.bytes(len);
    const aad = rng.bytes(rng.below(80));
    const counter = rng.below(4) === 0 ? 2 ** 40 + rng.u32() : rng.below(1000);
    const nonce = new Uint8Array(12);
    new DataView(nonce.buffer).setBigUint64(4, BigInt(counter), true);
    const want = chacha20poly1305(key, nonce, aad).encrypt(pt);
    const sealed = aeadSeal(key, counter, pt, aad);
    assert.equal(hex(sealed), hex(want), `seal of ${len}, counter ${counter}`);
    assert.equal(hex(aeadOpen(key, counter, sealed, aad)!), hex(pt));
    sealed[rng.below(sealed.length)] ^= 1 << rng.below(8);
    assert.equal(aeadOpen(key, counter, sealed, aad), null, "a flipped bit is refused");
  }
});
