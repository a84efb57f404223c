/**
 * WireGuard's cryptographic primitives (whitepaper: "Messages", its list of
 * functions and constants): `HASH`, `MAC`, `HMAC`,
 * `KDF1/2/3`, `DH`, `AEAD`, `XAEAD`, the protocol constants, and the
 * constant-time helpers the handshake and cookie code share.
 *
 * Everything here is for the control plane (handshakes, cookies): it
 * allocates freely. The per-packet transport AEAD lives in the WASM data plane.
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

import { blake2s } from "@noble/hashes/blake2.js";
import { hmac as nobleHmac } from "@noble/hashes/hmac.js";
import { x25519 } from "@noble/curves/ed25519.js";
import { chacha20poly1305, xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { publicKey } from "./keys.ts";

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
  const h = blake2s.create();
  for (const p of parts) h.update(p);
  return h.digest();
}

/**
 * `MAC(key, x0 ‖ x1 ‖ …)` = BLAKE2s in keyed mode with a 16-byte digest (the
 * digest length is in the parameter block: this is NOT a truncated 32-byte hash).
 */
export function mac(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const h = blake2s.create({ key, dkLen: MAC_LEN });
  for (const p of parts) h.update(p);
  return h.digest();
}

/** `HMAC(key, x0 ‖ x1 ‖ …)` = RFC 2104 HMAC over BLAKE2s-256 (block 64, output 32). */
export function hmac(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const h = nobleHmac.create(blake2s, key);
  for (const p of parts) h.update(p);
  return h.digest();
}

/** `Ci = HASH(CONSTRUCTION)`: initial chaining key. */
export const INITIAL_CHAIN_KEY: Uint8Array = hash(CONSTRUCTION);
/** `Hi = HASH(Ci ‖ IDENTIFIER)`: initial handshake hash. */
export const INITIAL_HASH: Uint8Array = hash(INITIAL_CHAIN_KEY, IDENTIFIER);

const ONE = new Uint8Array([1]);

function kdf(n: 1 | 2 | 3, key: Uint8Array, input: Uint8Array): Uint8Array[] {
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
 * `DH(priv, pub)` = X25519. Returns null when the result would be all zero
 * (low-order public key): the handshake must abort. @noble/curves rejects the
 * five low-order u-coordinates before running the ladder; the constant-time
 * zero check afterwards is the strict form (as wireguard-go and the Linux module
 * check it).
 */
export function dh(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array | null {
  let shared: Uint8Array;
  try {
    shared = x25519.getSharedSecret(privateKey, publicKey);
  } catch {
    return null;
  }
  if (isZero(shared)) return null;
  return shared;
}

/** X25519 public key of a private key (the library clamps a copy). */
export const dhPublicKey: (privateKey: Uint8Array) => Uint8Array = publicKey;

function nonce12(counter: number): Uint8Array {
  const n = new Uint8Array(12);
  new DataView(n.buffer).setBigUint64(4, BigInt(counter), true);
  return n;
}

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
  const dst = out === undefined ? undefined : out.subarray(0, plaintext.length + TAG_LEN);
  return chacha20poly1305(key, nonce12(counter), aad).encrypt(plaintext, dst);
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
  const dst = out === undefined ? undefined : out.subarray(0, ciphertext.length - TAG_LEN);
  try {
    return chacha20poly1305(key, nonce12(counter), aad).decrypt(ciphertext, dst);
  } catch {
    return null;
  }
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
