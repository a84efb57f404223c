/**
 * Transport messages built and opened in TypeScript with @noble/ciphers
 * (ChaCha20-Poly1305, nonce = 4 zero bytes + LE counter, no AAD), and the
 * replay window of ABI.md as a model: the highest counter plus the set of
 * counters seen within the last 8128.
 * @module
 */
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { REJECT_AFTER_MESSAGES, REPLAY_WINDOW } from "./abi.ts";
import { Writer } from "./bytes.ts";

export function nonce(counter: bigint): Uint8Array {
  const n = new Uint8Array(12);
  new DataView(n.buffer).setBigUint64(4, counter, true);
  return n;
}

/** A type-4 message to `receiver` with `counter`, `plaintext` sealed under `key`. */
export function sealTransport(
  key: Uint8Array,
  receiver: number,
  counter: bigint,
  plaintext: Uint8Array,
): Uint8Array {
  const ct = chacha20poly1305(key, nonce(counter)).encrypt(plaintext);
  return new Writer().u32(4).u32(receiver).u64(counter).bytes(ct).done();
}

/** The plaintext of a type-4 message under `key`, or null if its tag does not verify. */
export function openTransport(key: Uint8Array, msg: Uint8Array): Uint8Array | null {
  if (msg.length < 32) return null;
  const counter = new DataView(msg.buffer, msg.byteOffset).getBigUint64(8, true);
  try {
    return chacha20poly1305(key, nonce(counter)).decrypt(msg.subarray(16));
  } catch {
    return null;
  }
}

/** ABI.md's window: refuse ≥ REJECT_AFTER_MESSAGES, older than 8128 behind the highest, or seen. */
export class ReplayModel {
  last = 0n;
  #seen = new Set<bigint>();
  #sinceTrim = 0;

  /** Would the counter be accepted (no state change)? */
  check(c: bigint): boolean {
    if (c >= REJECT_AFTER_MESSAGES) return false;
    if (c > this.last) return true;
    if (this.last - c > REPLAY_WINDOW) return false;
    return !this.#seen.has(c);
  }

  /** Records an accepted counter (after its tag verified). */
  accept(c: bigint): void {
    if (c > this.last) this.last = c;
    this.#seen.add(c);
    if (++this.#sinceTrim > 4 * Number(REPLAY_WINDOW)) {
      this.#sinceTrim = 0;
      for (const s of this.#seen) if (this.last - s > REPLAY_WINDOW) this.#seen.delete(s);
    }
  }
}
