/**
 * One ChaCha20-Poly1305 benchmark case per message size, shared by
 * `aead_bench.ts` (`deno bench`) and `aead_throughput.ts` (MB/s table):
 * key, nonce, 16 bytes of AAD (a WireGuard header's worth) and a random
 * message, laid out once in a fresh pool's scratch area for the WASM calls
 * and once in JS buffers for `@noble/ciphers`. Each operation is one call
 * with no allocation on the WASM side; noble builds its cipher object per
 * message, as a tunnel must (the nonce changes per packet), and writes into
 * a preallocated output.
 *
 * @example
 * ```ts
 * import { AeadCase } from "./aead_cases.ts";
 * const c = new AeadCase(1420);
 * c.wasmSeal();
 * ```
 * @module
 */
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { instantiate, type TunslabExports } from "../src/wasm/module.ts";
import { SlabPool } from "../src/wasm/slab.ts";

/** Message sizes the issue asks for. */
export const AEAD_SIZES = [64, 512, 1420, 4096, 8192] as const;

const TAG = 16;

function randomBytes(n: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(n);
  crypto.getRandomValues(b);
  return b;
}

/** Inputs and in-place buffers for one message size. */
export class AeadCase {
  readonly size: number;
  readonly pool: SlabPool;
  readonly key = randomBytes(32);
  readonly nonce = randomBytes(12);
  readonly aad = randomBytes(16);
  readonly plain: Uint8Array<ArrayBuffer>;
  readonly sealed: Uint8Array<ArrayBuffer>;
  readonly #nobleOut: Uint8Array<ArrayBuffer>;
  readonly #nobleOpenOut: Uint8Array<ArrayBuffer>;
  // WASM offsets: key, nonce, aad, the working buffer and a pristine sealed copy.
  readonly #wasm: TunslabExports;
  readonly #k: number;
  readonly #n: number;
  readonly #a: number;
  readonly #buf: number;
  readonly #pristine: number;
  readonly #tag: number;

  constructor(size: number) {
    this.size = size;
    this.#wasm = instantiate();
    this.pool = SlabPool.create({ chunkSlots: 1, maxSlots: 1 }, this.#wasm);
    const pool = this.pool;
    this.plain = randomBytes(size);
    this.sealed = chacha20poly1305(this.key, this.nonce, this.aad).encrypt(this.plain);
    this.#nobleOut = new Uint8Array(size + TAG);
    this.#nobleOpenOut = new Uint8Array(size);
    this.#k = pool.scratch(32);
    this.#n = pool.scratch(12);
    this.#a = pool.scratch(this.aad.length);
    this.#buf = pool.scratch(size + TAG);
    this.#pristine = pool.scratch(size + TAG);
    this.#tag = pool.scratch(TAG);
    pool.u8.set(this.key, this.#k);
    pool.u8.set(this.nonce, this.#n);
    pool.u8.set(this.aad, this.#a);
    pool.u8.set(this.sealed, this.#pristine);
    pool.u8.set(this.plain, this.#buf);
    this.#check();
  }

  /** Both implementations agree before anything is timed. */
  #check(): void {
    const w = this.#wasm;
    const u8 = this.pool.u8;
    const n = this.size;
    if (w.ts_aead_seal(this.#k, this.#n, this.#a, this.aad.length, this.#buf, n) !== n + TAG) {
      throw new Error(`ts_aead_seal(${n}) failed`);
    }
    for (let i = 0; i < n + TAG; i++) {
      if (u8[this.#buf + i] !== this.sealed[i]) throw new Error(`seal ${n}: differs at byte ${i}`);
    }
    if (this.wasmOpen() !== n) throw new Error(`ts_aead_open(${n}) refused noble's ciphertext`);
    for (let i = 0; i < n; i++) {
      if (u8[this.#buf + i] !== this.plain[i]) throw new Error(`open ${n}: differs at byte ${i}`);
    }
    this.nobleOpen();
    for (let i = 0; i < n; i++) {
      if (this.#nobleOpenOut[i] !== this.plain[i]) throw new Error(`noble open ${n}: byte ${i}`);
    }
    this.restoreSealed();
  }

  /** Seals the working buffer in place (its content is whatever the last call left). */
  wasmSeal(): number {
    return this.#wasm.ts_aead_seal(
      this.#k,
      this.#n,
      this.#a,
      this.aad.length,
      this.#buf,
      this.size,
    );
  }

  /** Opens the working buffer in place; call {@link restoreSealed} before each one. */
  wasmOpen(): number {
    return this.#wasm.ts_aead_open(
      this.#k,
      this.#n,
      this.#a,
      this.aad.length,
      this.#buf,
      this.size + TAG,
    );
  }

  /** Poly1305 alone over the message (the MAC half of seal/open, for a breakdown). */
  wasmPoly1305(): number {
    return this.#wasm.ts_poly1305(this.#k, this.#buf, this.size, this.#tag);
  }

  /** Whether the module has `ts_chacha20` (an older build through `TUNSLAB_WASM` may not). */
  get hasChacha20(): boolean {
    return typeof (this.#wasm as Partial<TunslabExports>).ts_chacha20 === "function";
  }

  /** ChaCha20 alone over the message (the cipher half, in place; xoring twice restores it). */
  wasmChacha20(): number {
    return this.#wasm.ts_chacha20(this.#k, 1, this.#n, this.#buf, this.size);
  }

  /** Copies the sealed message back into the working buffer (a memmove inside WASM memory). */
  restoreSealed(): void {
    this.pool.u8.copyWithin(this.#buf, this.#pristine, this.#pristine + this.size + TAG);
  }

  /** noble: a cipher for this key and nonce, sealing into a preallocated output. */
  nobleSeal(): Uint8Array {
    return chacha20poly1305(this.key, this.nonce, this.aad).encrypt(this.plain, this.#nobleOut);
  }

  /** noble: opens the sealed message into a preallocated output. */
  nobleOpen(): Uint8Array {
    return chacha20poly1305(this.key, this.nonce, this.aad).decrypt(
      this.sealed,
      this.#nobleOpenOut,
    );
  }
}
