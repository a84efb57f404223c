/**
 * The data plane's ChaCha20-Poly1305 (in WASM, in place) against RFC 8439
 * vectors and, on random inputs, against @noble/ciphers.
 */
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { chacha20, chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { SlabPool } from "../src/wasm/slab.ts";
import { instantiate } from "../src/wasm/module.ts";

const hex = (s: string): Uint8Array => new Uint8Array(s.match(/../g)!.map((b) => parseInt(b, 16)));
const toHex = (b: Uint8Array): string =>
  [...b].map((x) => x.toString(16).padStart(2, "0")).join("");

const wasm = instantiate();
using pool = SlabPool.create({ chunkSlots: 16, maxSlots: 64 }, wasm);
const KEY = pool.scratch(32);
const NONCE = pool.scratch(12);
const AAD = pool.scratch(128);
const BUF = pool.scratch(70000 + 16);
const OUT = pool.scratch(64);

function put(off: number, bytes: Uint8Array): void {
  pool.u8.set(bytes, off);
}

Deno.test("ChaCha20 block function: RFC 8439 §2.3.2", () => {
  put(KEY, hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"));
  put(NONCE, hex("000000090000004a00000000"));
  equal(wasm.ts_chacha20_block(KEY, 1, NONCE, OUT), 0);
  equal(
    toHex(pool.u8.slice(OUT, OUT + 64)),
    "10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e" +
      "d2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e",
  );
});

Deno.test("Poly1305: RFC 8439 §2.5.2", () => {
  put(KEY, hex("85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b"));
  const msg = new TextEncoder().encode("Cryptographic Forum Research Group");
  put(BUF, msg);
  equal(wasm.ts_poly1305(KEY, BUF, msg.length, OUT), 0);
  equal(toHex(pool.u8.slice(OUT, OUT + 16)), "a8061dc1305136c6c22b8baf0c0127a9");
});

Deno.test("AEAD seal and open in place: RFC 8439 §2.8.2", () => {
  const pt = new TextEncoder().encode(
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
  );
  put(KEY, hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"));
  put(NONCE, hex("070000004041424344454647"));
  const aad = hex("50515253c0c1c2c3c4c5c6c7");
  put(AAD, aad);
  put(BUF, pt);
  equal(wasm.ts_aead_seal(KEY, NONCE, AAD, aad.length, BUF, pt.length), pt.length + 16);
  equal(
    toHex(pool.u8.slice(BUF, BUF + pt.length)),
    "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116",
  );
  equal(
    toHex(pool.u8.slice(BUF + pt.length, BUF + pt.length + 16)),
    "1ae10b594f09e26a7e902ecbd0600691",
  );
  equal(wasm.ts_aead_open(KEY, NONCE, AAD, aad.length, BUF, pt.length + 16), pt.length);
  deepStrictEqual(pool.u8.slice(BUF, BUF + pt.length), pt);
});

Deno.test("AEAD agrees with @noble/ciphers on 300 random inputs; tampering fails", () => {
  let seed = 0x2545f491;
  const rnd = (): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return seed >>> 0;
  };
  const bytes = (n: number): Uint8Array => {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = rnd() & 0xff;
    return b;
  };
  for (let round = 0; round < 300; round++) {
    const key = bytes(32);
    const nonce = bytes(12);
    const aad = bytes(rnd() % 64);
    const len = round < 20 ? round : rnd() % (round % 10 === 0 ? 16384 : 1500);
    const pt = bytes(len);
    const expected = chacha20poly1305(key, nonce, aad).encrypt(pt);
    put(KEY, key);
    put(NONCE, nonce);
    put(AAD, aad);
    put(BUF, pt);
    equal(wasm.ts_aead_seal(KEY, NONCE, AAD, aad.length, BUF, len), len + 16);
    deepStrictEqual(pool.u8.slice(BUF, BUF + len + 16), expected, `seal, ${len} bytes`);
    // noble's ciphertext opens in WASM, and a flipped bit does not.
    put(BUF, expected);
    equal(wasm.ts_aead_open(KEY, NONCE, AAD, aad.length, BUF, len + 16), len);
    deepStrictEqual(pool.u8.slice(BUF, BUF + len), pt, `open, ${len} bytes`);
    const bad = expected.slice();
    bad[rnd() % bad.length] ^= 1 << (rnd() % 8);
    put(BUF, bad);
    ok(
      wasm.ts_aead_open(KEY, NONCE, AAD, aad.length, BUF, len + 16) < 0,
      "tampered message refused",
    );
  }
});

/** Edge lengths of the four-block passes and the kept keystream, a packet, and the largest. */
const EDGES = [0, 1, 15, 16, 17, 63, 64, 65, 191, 192, 193, 255, 256, 257, 447, 448, 1420, 2240];

function xorshift(seed: number): () => number {
  return (): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return seed >>> 0;
  };
}

Deno.test("ChaCha20 alone (ts_chacha20) equals @noble/ciphers at edge and random lengths", () => {
  const rnd = xorshift(0x6c078965);
  const bytes = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => rnd() & 0xff);
  const lengths = [...EDGES, 65535, ...Array.from({ length: 60 }, () => rnd() % 5000)];
  for (const len of lengths) {
    const key = bytes(32);
    const nonce = bytes(12);
    // Counters near 2^32 wrap in all four lanes as RFC 8439's 32-bit counter does.
    const counter = rnd() % 4 === 0 ? 0xffffffff - (rnd() % 8) : rnd() % 1000;
    const pt = bytes(len);
    put(KEY, key);
    put(NONCE, nonce);
    let want: Uint8Array;
    if (counter + Math.ceil(len / 64) < 2 ** 32 - 1) {
      want = chacha20(key, nonce, pt, undefined, counter);
    } else {
      // noble refuses to wrap: XOR with ts_chacha20_block's blocks (RFC-checked above).
      want = pt.slice();
      for (let b = 0; 64 * b < len; b++) {
        equal(wasm.ts_chacha20_block(KEY, (counter + b) >>> 0, NONCE, OUT), 0);
        for (let i = 64 * b; i < Math.min(len, 64 * b + 64); i++) {
          want[i] ^= pool.u8[OUT + i - 64 * b];
        }
      }
    }
    put(BUF, pt);
    equal(wasm.ts_chacha20(KEY, counter, NONCE, BUF, len), 0);
    equal(toHex(pool.u8.slice(BUF, BUF + len)), toHex(want), `${len} bytes from ${counter}`);
  }
  ok(wasm.ts_chacha20(KEY, 0, NONCE, pool.u8.length - 8, 64) < 0, "a range past memory is refused");
});

Deno.test("AEAD agrees with @noble/ciphers at the edge lengths up to 65,535 bytes, random keys, nonces and AAD", () => {
  const rnd = xorshift(0x1b873593);
  const bytes = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => rnd() & 0xff);
  for (const len of [...EDGES, 4095, 4096, 4097, 65519, 65535]) {
    for (const aadLen of [0, 16, rnd() % 100]) {
      const key = bytes(32);
      const nonce = bytes(12);
      const aad = bytes(aadLen);
      const pt = bytes(len);
      const expected = chacha20poly1305(key, nonce, aad).encrypt(pt);
      put(KEY, key);
      put(NONCE, nonce);
      put(AAD, aad);
      put(BUF, pt);
      equal(wasm.ts_aead_seal(KEY, NONCE, AAD, aad.length, BUF, len), len + 16);
      equal(toHex(pool.u8.slice(BUF, BUF + len + 16)), toHex(expected), `seal ${len}/${aadLen}`);
      equal(wasm.ts_aead_open(KEY, NONCE, AAD, aad.length, BUF, len + 16), len);
      equal(toHex(pool.u8.slice(BUF, BUF + len)), toHex(pt), `open ${len}/${aadLen}`);
      // A flipped tag bit: refused, the ciphertext left as it was.
      put(BUF, expected);
      pool.u8[BUF + len + (rnd() % 16)] ^= 1 << (rnd() % 8);
      ok(wasm.ts_aead_open(KEY, NONCE, AAD, aad.length, BUF, len + 16) < 0, `forged ${len}`);
      equal(toHex(pool.u8.slice(BUF, BUF + len)), toHex(expected.subarray(0, len)));
    }
  }
});
