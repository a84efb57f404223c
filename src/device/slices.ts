/**
 * Work over every peer done in slices: at most {@link SLICE_MS} before the loop gets a turn, so a
 * reconfiguration, a `get` or a metrics scrape over thousands of peers never holds the data
 * path for long (the loop and the UAPI share one thread).
 *
 * @example
 * ```ts
 * import { Pacer } from "./slices.ts";
 * const pace = new Pacer();
 * for (let i = 0; i < 3; i++) await pace.maybeYield(); // yields only after 20 ms of work
 * ```
 * @module
 */

import type { Device } from "./device.ts";
import type { PeerStats } from "./device_stats.ts";

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

/** Every peer's figures, gathered in slices (peers removed meanwhile are left out). */
export async function peerStatsInSlices(dev: Device): Promise<PeerStats[]> {
  const out: PeerStats[] = [];
  const pace = new Pacer();
  for (const peer of dev.peers()) {
    if (dev.closed) break;
    if (dev.peerByKey(peer.publicKey) !== peer) continue;
    out.push(dev.peerStats(peer));
    await pace.maybeYield();
  }
  return out;
}
