/**
 * WireGuard's cryptographic primitives (whitepaper: "Messages", its list of
 * functions and constants): `HASH`, `MAC`, `HMAC`,
 * `KDF1/2/3`, `DH`, `AEAD`, `XAEAD`, the protocol constants, and the
 * constant-time helpers the handshake and cookie code share.
 *
 * Everything here is for the control plane (handshakes, cookies): it
 * allocates freely. `HASH`, `MAC`, `HMAC`, the KDFs, `DH` and `AEAD` run in the
 * data plane's WebAssembly module, in an instance of their own (`wasm_crypto.ts`);
 * `XAEAD` (cookie replies only) uses @noble/ciphers. The per-packet transport AEAD
 * lives in the device's own instance.
 *
 * @example
 * ```ts
 * import { hash, INITIAL_CHAIN_KEY, CONSTRUCTION } from "./primitives.ts";
 * const ci = hash(CONSTRUCTION); // equals INITIAL_CHAIN_KEY
 * console.log(ci.every((b, i) => b === INITIAL_CHAIN_KEY[i])); // true
 * ```
 *
 * @module
 */

import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { publicKey } from "./keys.ts";
import * as wasm from "./wasm_crypto.ts";

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

/** `"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"`, 37 bytes. */
export const CONSTRUCTION: Uint8Array = ascii("Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s");
/** `"WireGuard v1 zx2c4 Jason@zx2c4.com"`, 34 bytes. */
export const IDENTIFIER: Uint8Array = ascii("WireGuard v1 zx2c4 Jason@zx2c4.com");
/** `"mac1----"`, 8 bytes. */
export const LABEL_MAC1: Uint8Array = ascii("mac1----");
/** `"cookie--"`, 8 bytes. */
export const LABEL_COOKIE: Uint8Array = ascii("cookie--");

/** Length of keys, hashes and chaining keys. */
export const KEY_LEN = 32;
/** Length of `MAC` outputs, cookies and AEAD tags. */
export const MAC_LEN = 16;
/** Length of a Poly1305 tag. */
export const TAG_LEN = 16;
/** Length of an XChaCha20 nonce. */
export const XNONCE_LEN = 24;

/** `HASH(x0 ‖ x1 ‖ …)` = BLAKE2s-256 over the concatenation. */
export function hash(...parts: Uint8Array[]): Uint8Array {
  return wasm.blake2s(null, parts, KEY_LEN);
}

/**
 * `MAC(key, x0 ‖ x1 ‖ …)` = BLAKE2s in keyed mode with a 16-byte digest (the
 * digest length is in the parameter block: this is NOT a truncated 32-byte hash).
 */
export function mac(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  return wasm.blake2s(key, parts, MAC_LEN);
}

/** `HMAC(key, x0 ‖ x1 ‖ …)` = RFC 2104 HMAC over BLAKE2s-256 (block 64, output 32). */
export function hmac(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  return wasm.hmacBlake2s(key, parts);
}

const hexBytes = (h: string): Uint8Array =>
  Uint8Array.from({ length: h.length / 2 }, (_, i) => parseInt(h.slice(2 * i, 2 * i + 2), 16));

/**
 * `Ci = HASH(CONSTRUCTION)`: initial chaining key. Written out, so importing this module
 * does not instantiate the WebAssembly module; tests/primitives_test.ts recomputes it.
 */
export const INITIAL_CHAIN_KEY: Uint8Array = hexBytes(
  "60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36",
);
/** `Hi = HASH(Ci ‖ IDENTIFIER)`: initial handshake hash (written out, as `Ci`). */
export const INITIAL_HASH: Uint8Array = hexBytes(
  "2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3",
);

const ONE = new Uint8Array([1]);

function kdf(n: 1 | 2 | 3, key: Uint8Array, input: Uint8Array): Uint8Array[] {
  // WireGuard's chaining keys are 32 bytes: one call. Any other key length (only tests
  // use one) is HKDF spelled out over HMAC.
  if (key.length === KEY_LEN) return wasm.kdf(n, key, input);
  const prk = hmac(key, input);
  const t1 = hmac(prk, ONE);
  const out = [t1];
  if (n >= 2) out.push(hmac(prk, t1, new Uint8Array([2])));
  if (n === 3) out.push(hmac(prk, out[1], new Uint8Array([3])));
  prk.fill(0);
  return out;
}

/** `KDF1(C, input)` → `T1`. */
export function kdf1(key: Uint8Array, input: Uint8Array): Uint8Array {
  return kdf(1, key, input)[0];
}

/** `KDF2(C, input)` → `[T1, T2]`. */
export function kdf2(key: Uint8Array, input: Uint8Array): [Uint8Array, Uint8Array] {
  const [t1, t2] = kdf(2, key, input);
  return [t1, t2];
}

/** `KDF3(C, input)` → `[T1, T2, T3]`. */
export function kdf3(key: Uint8Array, input: Uint8Array): [Uint8Array, Uint8Array, Uint8Array] {
  const [t1, t2, t3] = kdf(3, key, input);
  return [t1, t2, t3];
}

/** Constant-time: true iff every byte of `a` is zero. */
export function isZero(a: Uint8Array): boolean {
  let acc = 0;
  for (let i = 0; i < a.length; i++) acc |= a[i];
  return acc === 0;
}

/** Constant-time (for equal lengths) byte comparison. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let acc = 0;
  for (let i = 0; i < a.length; i++) acc |= a[i] ^ b[i];
  return acc === 0;
}

/**
 * `DH(priv, pub)` = X25519 (constant-time Montgomery ladder in WebAssembly). Returns
 * null when the result is all zero (a low-order public key): the handshake must abort,
 * as wireguard-go and the Linux module check it.
 */
export function dh(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array | null {
  if (privateKey.length !== KEY_LEN || publicKey.length !== KEY_LEN) return null;
  return wasm.x25519(privateKey, publicKey);
}

/** X25519 public key of a private key (the library clamps a copy). */
export const dhPublicKey: (privateKey: Uint8Array) => Uint8Array = publicKey;

/**
 * `AEAD(key, counter, plaintext, aad)`: ChaCha20-Poly1305 with nonce
 * `0⁴ ‖ LE64(counter)`. Writes `plaintext.length + 16` bytes at `out[0..]`
 * (or a new array) and returns that view.
 */
export function aeadSeal(
  key: Uint8Array,
  counter: number,
  plaintext: Uint8Array,
  aad: Uint8Array,
  out?: Uint8Array,
): Uint8Array {
  const sealed = wasm.aeadSeal(key, counter, plaintext, aad);
  if (out === undefined) return sealed;
  const dst = out.subarray(0, sealed.length);
  dst.set(sealed);
  sealed.fill(0);
  return dst;
}

/**
 * Inverse of {@link aeadSeal}: returns the plaintext (written to `out` if
 * given), or null if the tag does not verify.
 */
export function aeadOpen(
  key: Uint8Array,
  counter: number,
  ciphertext: Uint8Array,
  aad: Uint8Array,
  out?: Uint8Array,
): Uint8Array | null {
  if (ciphertext.length < TAG_LEN) return null;
  const opened = wasm.aeadOpen(key, counter, ciphertext, aad);
  if (opened === null || out === undefined) return opened;
  const dst = out.subarray(0, opened.length);
  dst.set(opened);
  opened.fill(0);
  return dst;
}

/** `XAEAD(key, nonce24, plaintext, aad)`: XChaCha20-Poly1305 (cookie replies only). */
export function xaeadSeal(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
  out?: Uint8Array,
): Uint8Array {
  const dst = out === undefined ? undefined : out.subarray(0, plaintext.length + TAG_LEN);
  return xchacha20poly1305(key, nonce, aad).encrypt(plaintext, dst);
}

/** Inverse of {@link xaeadSeal}; null if the tag does not verify. */
export function xaeadOpen(
  key: Uint8Array,
  nonce: Uint8Array,
  ciphertext: Uint8Array,
  aad: Uint8Array,
): Uint8Array | null {
  if (ciphertext.length < TAG_LEN) return null;
  try {
    return xchacha20poly1305(key, nonce, aad).decrypt(ciphertext);
  } catch {
    return null;
  }
}

/** Overwrites every given array with zeros. */
export function wipe(...arrays: (Uint8Array | null | undefined)[]): void {
  for (const a of arrays) a?.fill(0);
}
