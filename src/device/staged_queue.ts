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

/** A ring of (slot offset, IP length) pairs; its arrays made at the first push. */
export class StagedQueue {
  /** (offset, length) pairs, interleaved; empty until a packet waits (most peers of a server never stage). */
  #ring: Uint32Array = EMPTY;
  readonly #capacity: number;
  #head = 0;
  #count = 0;

  constructor(capacity = STAGED_MAX) {
    this.#capacity = capacity;
  }

  /** Packets waiting. */
  get size(): number {
    return this.#count;
  }

  /** Appends; returns the evicted oldest slot offset when full, else 0. */
  push(off: number, len: number): number {
    const cap = this.#capacity;
    if (this.#ring.length === 0) this.#ring = new Uint32Array(2 * cap);
    const ring = this.#ring;
    let evicted = 0;
    if (this.#count === cap) {
      evicted = ring[2 * this.#head];
      this.#head = (this.#head + 1) % cap;
      this.#count--;
    }
    const at = (this.#head + this.#count) % cap;
    ring[2 * at] = off;
    ring[2 * at + 1] = len;
    this.#count++;
    return evicted;
  }

  /**
   * Moves every packet into `offs`/`lens` (in order) and empties the queue;
   * returns how many. The arrays must hold the queue's capacity.
   */
  drainInto(offs: Uint32Array, lens: Uint32Array): number {
    const cap = this.#capacity, ring = this.#ring;
    const n = this.#count;
    for (let i = 0; i < n; i++) {
      const at = (this.#head + i) % cap;
      offs[i] = ring[2 * at];
      lens[i] = ring[2 * at + 1];
    }
    this.#head = 0;
    this.#count = 0;
    return n;
  }
}

const EMPTY = new Uint32Array(0);
