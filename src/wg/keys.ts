/**
 * WireGuard keys: generation (`wg genkey`, `wg genpsk`), public-key
 * derivation (`wg pubkey`), and the two text encodings: standard padded
 * base64 (44 chars, config files) and lowercase hex (64 chars, UAPI).
 *
 * @example
 * ```ts
 * import { encodeBase64Key, generatePrivateKey, publicKey } from "./keys.ts";
 * const priv = generatePrivateKey();
 * console.log(encodeBase64Key(publicKey(priv)).length); // 44
 * ```
 *
 * @module
 */

import { x25519Base } from "./wasm_crypto.ts";

/** Every WireGuard key is 32 bytes. */
export const KEY_LEN = 32;
/** Length of a base64-encoded key including its one `=`. */
export const KEY_BASE64_LEN = 44;
/** Length of a hex-encoded key. */
export const KEY_HEX_LEN = 64;

/** A key string that is not a valid base64 or hex encoding of 32 bytes. */
export class KeyFormatError extends Error {
  override name = "KeyFormatError";
  constructor(detail: string) {
    super(detail);
  }
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_DECODE = new Int16Array(128).fill(-1);
for (let i = 0; i < 64; i++) B64_DECODE[B64.charCodeAt(i)] = i;

const B64_CODES = Uint8Array.from(B64, (c) => c.charCodeAt(0));
const B64_OUT = new Uint8Array(44);
const ASCII = new TextDecoder();

/** Standard padded base64 of a 32-byte key (44 characters). */
export function encodeBase64Key(key: Uint8Array): string {
  checkLength(key, "encodeBase64Key");
  // Into bytes, then one decode: a flat 44-byte string (concatenation left a rope of ~500 bytes,
  // kept per peer as its name).
  const out = B64_OUT;
  for (let i = 0, o = 0; i < 30; i += 3, o += 4) {
    const v = (key[i] << 16) | (key[i + 1] << 8) | key[i + 2];
    out[o] = B64_CODES[v >> 18];
    out[o + 1] = B64_CODES[(v >> 12) & 63];
    out[o + 2] = B64_CODES[(v >> 6) & 63];
    out[o + 3] = B64_CODES[v & 63];
  }
  const v = (key[30] << 16) | (key[31] << 8);
  out[40] = B64_CODES[v >> 18];
  out[41] = B64_CODES[(v >> 12) & 63];
  out[42] = B64_CODES[(v >> 6) & 63];
  out[43] = 61; // "="
  return ASCII.decode(out);
}

/**
 * Decodes a 44-character standard padded base64 key into 32 bytes, exactly as
 * wireguard-tools' `key_from_base64`: the length must be 44, the last char `=`,
 * every other char from the standard alphabet, and the unused low 2 bits of
 * the 43rd char zero (canonical encoding). Like wg, the loop has no early
 * exit on a bad character (errors are accumulated, then reported once).
 * Throws {@link KeyFormatError}.
 */
export function decodeBase64Key(text: string): Uint8Array {
  if (text.length !== KEY_BASE64_LEN || text.charCodeAt(43) !== 0x3d) {
    throw new KeyFormatError(
      `Key is not the correct length or format: expected ${KEY_BASE64_LEN} base64 chars ending in '=', got ${text.length} chars`,
    );
  }
  const out = new Uint8Array(KEY_LEN);
  let bad = 0;
  let o = 0;
  for (let i = 0; i < 44; i += 4) {
    let v = 0;
    for (let j = 0; j < 4; j++) {
      const c = i + j === 43 ? 0x41 /* 'A' */ : text.charCodeAt(i + j);
      const d = B64_DECODE[c & 127];
      bad |= (c >> 7) | (d >>> 31);
      v = (v << 6) | (d & 63);
    }
    out[o++] = (v >> 16) & 0xff;
    out[o++] = (v >> 8) & 0xff;
    if (o < KEY_LEN) out[o++] = v & 0xff;
    else bad |= v & 0xff; // non-canonical trailing bits
  }
  if (bad !== 0) {
    out.fill(0);
    throw new KeyFormatError("Key is not valid base64 (bad character or non-canonical encoding)");
  }
  return out;
}

/** Lowercase hex of a 32-byte key (64 characters), as the UAPI speaks it. */
export function encodeHexKey(key: Uint8Array): string {
  checkLength(key, "encodeHexKey");
  let s = "";
  for (let i = 0; i < KEY_LEN; i++) s += (key[i] < 16 ? "0" : "") + key[i].toString(16);
  return s;
}

/** Decodes 64 hex chars (either case, like Go's `hex.DecodeString`) into 32 bytes. */
export function decodeHexKey(text: string): Uint8Array {
  if (text.length !== KEY_HEX_LEN) {
    throw new KeyFormatError(`Hex key must be ${KEY_HEX_LEN} chars, got ${text.length}`);
  }
  const out = new Uint8Array(KEY_LEN);
  let bad = 0;
  for (let i = 0; i < KEY_LEN; i++) {
    const hi = hexDigit(text.charCodeAt(2 * i));
    const lo = hexDigit(text.charCodeAt(2 * i + 1));
    bad |= (hi | lo) >>> 31;
    out[i] = ((hi & 15) << 4) | (lo & 15);
  }
  if (bad !== 0) {
    out.fill(0);
    throw new KeyFormatError("Hex key has a non-hex character");
  }
  return out;
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/** Applies X25519 clamping in place (`k[0] &= 248; k[31] &= 127; k[31] |= 64`) and returns `k`. */
export function clampPrivateKey(key: Uint8Array): Uint8Array {
  checkLength(key, "clampPrivateKey");
  key[0] &= 248;
  key[31] &= 127;
  key[31] |= 64;
  return key;
}

/** 32 random bytes, clamped: what `wg genkey` produces. */
export function generatePrivateKey(): Uint8Array {
  return clampPrivateKey(crypto.getRandomValues(new Uint8Array(KEY_LEN)));
}

/** 32 random bytes, not clamped: what `wg genpsk` produces. */
export function generatePresharedKey(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(KEY_LEN));
}

/**
 * The X25519 public key (scalar × base point) of a private key, as `wg pubkey`
 * computes it: the private key is clamped first (on a copy). Computed in WebAssembly
 * (`wasm_crypto.ts`) from a fixed-base table on edwards25519, constant time.
 */
export function publicKey(privateKey: Uint8Array): Uint8Array {
  checkLength(privateKey, "publicKey");
  return x25519Base(privateKey);
}

/** True iff all 32 bytes are zero (constant time). */
export function isZeroKey(key: Uint8Array): boolean {
  let acc = 0;
  for (let i = 0; i < key.length; i++) acc |= key[i];
  return acc === 0;
}

function checkLength(key: Uint8Array, call: string): void {
  if (key.length !== KEY_LEN) {
    throw new KeyFormatError(`${call}() needs a ${KEY_LEN}-byte key, got ${key.length} bytes`);
  }
}
