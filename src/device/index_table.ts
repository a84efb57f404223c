/**
 * The device's table of local 32-bit indices: each one names either a peer's
 * handshake in progress or one of its keypairs (wireguard-go `IndexTable`).
 * Responses and cookie replies are matched to peers through it; transport
 * packets are matched in WASM, which keeps its own index hash for keypairs.
 *
 * @example
 * ```ts
 * import { IndexTable } from "./index_table.ts";
 * const t = new IndexTable<string>();
 * const i = t.allocate("peer-a");
 * t.get(i); // "peer-a"
 * ```
 * @module
 */

/** Random unique u32 indices mapped to owners. */
export class IndexTable<T> {
  readonly #map = new Map<number, T>();
  readonly #r = new Uint32Array(1);

  /** A fresh random index owned by `owner`. */
  allocate(owner: T): number {
    for (;;) {
      crypto.getRandomValues(this.#r);
      const i = this.#r[0];
      if (!this.#map.has(i)) {
        this.#map.set(i, owner);
        return i;
      }
    }
  }

  /** Owner of `index`, if any. */
  get(index: number): T | undefined {
    return this.#map.get(index >>> 0);
  }

  /** Binds an index that is already known to be unique (a handshake's, handed to its keypair). */
  claim(index: number, owner: T): void {
    this.#map.set(index >>> 0, owner);
  }

  /** Frees `index`. */
  release(index: number): void {
    this.#map.delete(index >>> 0);
  }

  /** Number of live indices. */
  get size(): number {
    return this.#map.size;
  }
}
