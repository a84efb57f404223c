/**
 * The handshake's cryptography in the data plane's WebAssembly module: X25519, BLAKE2s
 * (plain and keyed), HMAC-BLAKE2s, WireGuard's KDF and ChaCha20-Poly1305 (`wasm/ABI.md`,
 * "Crypto"). The primitives of `primitives.ts` and `keys.ts` call these.
 *
 * They run in an instance of their own, made on first use and kept for the process (or
 * the worker): it never holds a pool, a peer or a route, only what one call copies into
 * its scratch area. Inputs are copied in, the export runs, the output is copied out and
 * every byte of scratch the call used is zeroed again before it returns, so no key
 * outlives the call there. Everything is synchronous and allocates its result.
 *
 * @example
 * ```ts
 * import { x25519, x25519Base } from "./wasm_crypto.ts";
 * const a = crypto.getRandomValues(new Uint8Array(32));
 * const b = crypto.getRandomValues(new Uint8Array(32));
 * const ab = x25519(a, x25519Base(b))!, ba = x25519(b, x25519Base(a))!;
 * console.log(ab.every((x, i) => x === ba[i])); // true
 * ```
 *
 * @module
 */

import { instantiate, type TunslabExports } from "../wasm/module.ts";
import { E_AUTH, SCRATCH_LEN } from "../wasm/abi.ts";

// Scratch layout (byte offsets from ts_scratch_ptr()): two 32-byte key slots, a nonce, the
// output, then the variable part (AAD, then message) from VAR on.
const K0 = 0;
const K1 = 32;
const NONCE = 64;
const OUT = 80; // up to 96 bytes (KDF3)
const VAR = 256;
const VAR_MAX = SCRATCH_LEN - VAR - 32; // room for a message, its AAD and a tag

class Plane {
  readonly #w: TunslabExports;
  readonly #base: number;
  readonly #u8: Uint8Array;
  /** End of the bytes written since the last wipe. */
  #dirty = 0;

  constructor() {
    this.#w = instantiate();
    this.#base = this.#w.ts_scratch_ptr();
    // This instance never grows its memory (it has no pool), so the view stays valid.
    this.#u8 = new Uint8Array(this.#w.memory.buffer, this.#base, SCRATCH_LEN);
  }

  get w(): TunslabExports {
    return this.#w;
  }
  /** Scratch offset → linear-memory pointer. */
  at(off: number): number {
    return this.#base + off;
  }
  put(off: number, bytes: Uint8Array): void {
    this.#u8.set(bytes, off);
    this.#dirty = Math.max(this.#dirty, off + bytes.length);
  }
  /** Concatenates `parts` at VAR; returns their total length. */
  putParts(parts: readonly Uint8Array[], off = VAR): number {
    let n = 0;
    for (const p of parts) n += p.length;
    if (off - VAR + n > VAR_MAX) {
      throw new RangeError(`wasm_crypto: ${n} bytes of input, at most ${VAR_MAX - (off - VAR)}`);
    }
    for (const p of parts) {
      this.put(off, p);
      off += p.length;
    }
    return n;
  }
  take(off: number, len: number): Uint8Array {
    return this.#u8.slice(off, off + len);
  }
  /** Zeroes every byte written since the last wipe (outputs included). */
  wipe(): void {
    this.#u8.fill(0, 0, Math.max(this.#dirty, VAR));
    this.#dirty = 0;
  }
}

let plane: Plane | undefined;

function get(): Plane {
  if (plane === undefined) {
    try {
      plane = new Plane();
    } catch (e) {
      throw new Error("cannot instantiate the WebAssembly module for the handshake", { cause: e });
    }
  }
  return plane;
}

function key32(k: Uint8Array, what: string): void {
  if (k.length !== 32) throw new RangeError(`${what} must be 32 bytes, got ${k.length}`);
}

/**
 * `X25519(scalar, point)` (RFC 7748: the scalar is clamped on a copy, bit 255 of the point
 * ignored). Returns null for an all-zero result (a low-order point), which WireGuard rejects.
 */
export function x25519(scalar: Uint8Array, point: Uint8Array): Uint8Array | null {
  key32(scalar, "X25519 scalar");
  key32(point, "X25519 point");
  const p = get();
  try {
    p.put(K0, scalar);
    p.put(K1, point);
    const r = p.w.ts_x25519(p.at(K0), p.at(K1), p.at(OUT));
    return r === 0 ? p.take(OUT, 32) : null;
  } finally {
    p.wipe();
  }
}

/** `X25519(scalar, 9)`: the public key of a private key (clamped on a copy). */
export function x25519Base(scalar: Uint8Array): Uint8Array {
  key32(scalar, "X25519 scalar");
  const p = get();
  try {
    p.put(K0, scalar);
    const r = p.w.ts_x25519_base(p.at(K0), p.at(OUT));
    if (r !== 0) throw new Error(`ts_x25519_base returned ${r}`);
    return p.take(OUT, 32);
  } finally {
    p.wipe();
  }
}

/**
 * BLAKE2s of the concatenation of `parts`, keyed with `key` (null or empty: unkeyed; at
 * most 32 bytes), with an `outLen`-byte digest (1..32; 32 is `HASH`, keyed 16 is `MAC`).
 */
export function blake2s(
  key: Uint8Array | null,
  parts: readonly Uint8Array[],
  outLen = 32,
): Uint8Array {
  const klen = key?.length ?? 0;
  if (klen > 32) throw new RangeError(`BLAKE2s key must be at most 32 bytes, got ${klen}`);
  if (!(outLen >= 1 && outLen <= 32)) throw new RangeError(`BLAKE2s digest of ${outLen} bytes`);
  const p = get();
  try {
    if (key !== null && klen > 0) p.put(K0, key);
    const n = p.putParts(parts);
    const r = p.w.ts_blake2s(p.at(K0), klen, p.at(VAR), n, p.at(OUT), outLen);
    if (r !== 0) throw new Error(`ts_blake2s returned ${r}`);
    return p.take(OUT, outLen);
  } finally {
    p.wipe();
  }
}

/** `HMAC(key, parts…)`: RFC 2104 HMAC over BLAKE2s-256 (any key length up to the scratch). */
export function hmacBlake2s(key: Uint8Array, parts: readonly Uint8Array[]): Uint8Array {
  const p = get();
  try {
    // The key goes in front of the message in the variable part (it may be longer than 32).
    const kl = p.putParts([key]);
    const n = p.putParts(parts, VAR + kl);
    const r = p.w.ts_hmac_blake2s(p.at(VAR), kl, p.at(VAR + kl), n, p.at(OUT));
    if (r !== 0) throw new Error(`ts_hmac_blake2s returned ${r}`);
    return p.take(OUT, 32);
  } finally {
    p.wipe();
  }
}

/** WireGuard's `KDFn(key, input)` for n = 1, 2, 3: `[T1, …, Tn]`. */
export function kdf(n: 1 | 2 | 3, key: Uint8Array, input: Uint8Array): Uint8Array[] {
  key32(key, "KDF key");
  const p = get();
  try {
    p.put(K0, key);
    const len = p.putParts([input]);
    const r = p.w.ts_kdf(p.at(K0), p.at(VAR), len, n, p.at(OUT));
    if (r !== 0) throw new Error(`ts_kdf returned ${r}`);
    const out: Uint8Array[] = [];
    for (let i = 0; i < n; i++) out.push(p.take(OUT + 32 * i, 32));
    return out;
  } finally {
    p.wipe();
  }
}

/** Writes the ChaCha20-Poly1305 nonce `0⁴ ‖ LE64(counter)` into the nonce slot. */
function putNonce(p: Plane, counter: number): void {
  const n = new Uint8Array(12);
  const v = new DataView(n.buffer);
  v.setUint32(4, counter % 0x1_0000_0000, true);
  v.setUint32(8, Math.floor(counter / 0x1_0000_0000), true);
  p.put(NONCE, n);
}

/**
 * AAD at VAR, then the message at the next multiple of 16 with 16 zero bytes after it (room
 * for the tag, marked for the wipe); returns the message's offset.
 */
function putAadAndMessage(p: Plane, aad: Uint8Array, msg: Uint8Array): number {
  p.putParts([aad]);
  const at = VAR + ((aad.length + 15) & ~15);
  p.putParts([msg, TAG_ROOM], at);
  return at;
}
const TAG_ROOM = new Uint8Array(16);

/**
 * ChaCha20-Poly1305 seal with nonce `0⁴ ‖ LE64(counter)`: returns ciphertext ‖ tag
 * (`plaintext.length + 16` bytes).
 */
export function aeadSeal(
  key: Uint8Array,
  counter: number,
  plaintext: Uint8Array,
  aad: Uint8Array,
): Uint8Array {
  key32(key, "AEAD key");
  const p = get();
  try {
    p.put(K0, key);
    putNonce(p, counter);
    const at = putAadAndMessage(p, aad, plaintext);
    const r = p.w.ts_aead_seal(
      p.at(K0),
      p.at(NONCE),
      p.at(VAR),
      aad.length,
      p.at(at),
      plaintext.length,
    );
    if (r !== plaintext.length + 16) throw new Error(`ts_aead_seal returned ${r}`);
    return p.take(at, r);
  } finally {
    p.wipe();
  }
}

/** Inverse of {@link aeadSeal}: the plaintext, or null if the tag does not verify. */
export function aeadOpen(
  key: Uint8Array,
  counter: number,
  ciphertext: Uint8Array,
  aad: Uint8Array,
): Uint8Array | null {
  key32(key, "AEAD key");
  if (ciphertext.length < 16) return null;
  const p = get();
  try {
    p.put(K0, key);
    putNonce(p, counter);
    const at = putAadAndMessage(p, aad, ciphertext);
    const r = p.w.ts_aead_open(
      p.at(K0),
      p.at(NONCE),
      p.at(VAR),
      aad.length,
      p.at(at),
      ciphertext.length,
    );
    if (r === E_AUTH) return null;
    if (r !== ciphertext.length - 16) throw new Error(`ts_aead_open returned ${r}`);
    return p.take(at, r);
  } finally {
    p.wipe();
  }
}
