/**
 * Per-peer figures gathered in slices (src/pacer.ts), so a metrics scrape over thousands of
 * peers never holds the data path for long (the loop and the HTTP server share one thread).
 *
 * @example
 * ```ts
 * import { peerStatsInSlices } from "./slices.ts";
 * // const peers = await peerStatsInSlices(dev); // every peer, the loop turning in between
 * ```
 * @module
 */

import { Pacer } from "../pacer.ts";
import type { Device } from "./device.ts";
import type { PeerStats } from "./device_stats.ts";

/** Every peer's figures, gathered in slices (peers removed meanwhile are left out). */
export async function peerStatsInSlices(dev: Device): Promise<PeerStats[]> {
  const out: PeerStats[] = [];
  const pace = new Pacer();
  for (const peer of dev.peers()) {
    if (dev.closed) break;
    if (!dev.holds(peer)) continue;
    out.push(dev.peerStats(peer));
    await pace.maybeYield();
  }
  return out;
}
