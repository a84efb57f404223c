/**
 * The data path's own counters ({@link DataPathCounters}; the WASM drop counters are separate):
 * plain numeric fields, bumped per batch, read by stats.
 *
 * @example
 * ```ts
 * import { newDataPathCounters } from "./data_path_counters.ts";
 * const c = newDataPathCounters();
 * c.udpSent += 3;
 * console.log(c.udpSent, c.tunRead); // 3 0
 * ```
 * @module
 */

import { dropReasonName } from "../wasm/abi.ts";

/** Counters of the data path (besides the WASM drop counters). */
export interface DataPathCounters {
  tunRead: number;
  tunWritten: number;
  udpReceived: number;
  /** Received datagrams authenticated and kept (data for the TUN, keepalives). */
  rxAccepted: number;
  /** Received datagrams handed to the handshake plane (initiations, responses, cookie replies). */
  rxHandshake: number;
  udpSent: number;
  /** Datagrams dropped because they did not fit (MSG_TRUNC, or their rest was overwritten). */
  truncated: number;
  /** Packets for a peer without a known endpoint. */
  noEndpoint: number;
  /** sendmmsg could not take them (EAGAIN). */
  sendDropped: number;
  /** TUN write refused them (EAGAIN). */
  tunDropped: number;
  /** Allocations the pool refused (packets left in the kernel). */
  poolRefused: number;
  /** TUN reads that were GSO super-packets, and the segments cut from them. */
  tunSuperRead: number;
  tunSegments: number;
  /** TUN packets whose partial checksum (NEEDS_CSUM) was completed. */
  tunChecksums: number;
  /** Super-packets written to the TUN, and the received packets coalesced into them. */
  tunSuperWritten: number;
  tunCoalesced: number;
  /** UDP_SEGMENT messages sent, and the datagrams in them. */
  udpGsoSends: number;
  udpGsoDatagrams: number;
  /** Coalesced (UDP_GRO) messages received, and the datagrams in them. */
  udpGroReceived: number;
  udpGroDatagrams: number;
  /** Offloads the kernel refused at run time (each switched off, logged once). */
  offloadFallbacks: number;
  /** TUN reads longer than a small slot (moved into large slots; without offloads). */
  tunBigRead: number;
  /** Datagrams longer than a small slot received (decrypted in jumbo buffers). */
  udpBigReceived: number;
}

/** Counters by result code (index = −code) under their drop-reason names, the non-zero ones. */
export function namedCounts(byCode: Float64Array): Record<string, number> {
  const out: Record<string, number> = {};
  byCode.forEach((v, k) => {
    if (k > 0 && v > 0) out[dropReasonName(-k)] = v;
  });
  return out;
}

/** All counters at 0. */
export function newDataPathCounters(): DataPathCounters {
  return {
    tunRead: 0,
    tunWritten: 0,
    udpReceived: 0,
    rxAccepted: 0,
    rxHandshake: 0,
    udpSent: 0,
    truncated: 0,
    noEndpoint: 0,
    sendDropped: 0,
    tunDropped: 0,
    poolRefused: 0,
    tunSuperRead: 0,
    tunSegments: 0,
    tunChecksums: 0,
    tunSuperWritten: 0,
    tunCoalesced: 0,
    udpGsoSends: 0,
    udpGsoDatagrams: 0,
    udpGroReceived: 0,
    udpGroDatagrams: 0,
    offloadFallbacks: 0,
    tunBigRead: 0,
    udpBigReceived: 0,
  };
}
