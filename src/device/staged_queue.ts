/**
 * Packets waiting for a peer's handshake, as slot offsets and lengths in a
 * fixed ring (wireguard-go `QueueStagedSize` = 128). When full, the oldest
 * packet is dropped and its slot is returned: the queue never grows.
 *
 * @example
 * ```ts
 * import { StagedQueue } from "./staged_queue.ts";
 * const q = new StagedQueue(4);
 * q.push(4096, 84); // → 0 (nothing evicted)
 * ```
 * @module
 */

/** Most packets staged per peer. */
export const STAGED_MAX = 128;

/** A ring of (slot offset, IP length) pairs. */
export class StagedQueue {
  readonly offs: Uint32Array;
  readonly lens: Uint32Array;
  #head = 0;
  #count = 0;

  constructor(capacity = STAGED_MAX) {
    this.offs = new Uint32Array(capacity);
    this.lens = new Uint32Array(capacity);
  }

  /** Packets waiting. */
  get size(): number {
    return this.#count;
  }

  /** Appends; returns the evicted oldest slot offset when full, else 0. */
  push(off: number, len: number): number {
    const cap = this.offs.length;
    let evicted = 0;
    if (this.#count === cap) {
      evicted = this.offs[this.#head];
      this.#head = (this.#head + 1) % cap;
      this.#count--;
    }
    const at = (this.#head + this.#count) % cap;
    this.offs[at] = off;
    this.lens[at] = len;
    this.#count++;
    return evicted;
  }

  /**
   * Moves every packet into `offs`/`lens` (in order) and empties the queue;
   * returns how many. The arrays must hold the queue's capacity.
   */
  drainInto(offs: Uint32Array, lens: Uint32Array): number {
    const cap = this.offs.length;
    const n = this.#count;
    for (let i = 0; i < n; i++) {
      const at = (this.#head + i) % cap;
      offs[i] = this.offs[at];
      lens[i] = this.lens[at];
    }
    this.#head = 0;
    this.#count = 0;
    return n;
  }
}
