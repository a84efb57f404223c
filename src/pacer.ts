/**
 * Long work on the loop's thread in slices: at most {@link SLICE_MS} before the event loop (and
 * with it the data path) gets a turn. Used for whatever scales with the number of peers: a UAPI
 * set or get of thousands of them, its parsing and formatting, a metrics scrape.
 *
 * @example
 * ```ts
 * import { Pacer } from "./pacer.ts";
 * const pace = new Pacer();
 * for (let i = 0; i < 3; i++) await pace.maybeYield(); // yields only after 20 ms of work
 * ```
 * @module
 */

/** Longest stretch of such work before the loop turns (ms). */
export const SLICE_MS = 20;

/** Lets the loop (and I/O) run: a macrotask, not a microtask. */
export const yieldToLoop = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

/** Measures a slice and yields when it is used up. */
export class Pacer {
  #start = performance.now();

  /** Yields to the loop if this slice has run {@link SLICE_MS}; resolves at once otherwise. */
  async maybeYield(): Promise<void> {
    if (performance.now() - this.#start < SLICE_MS) return;
    await yieldToLoop();
    this.#start = performance.now();
  }
}
