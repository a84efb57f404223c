/**
 * The data path's log lines about offloads: one at start-up saying which are on, and one warning
 * per offload the kernel refused (at set-up or, once, at run time); the data path then carries on
 * per packet. Never per packet.
 *
 * @example
 * ```ts
 * import { logRefused } from "./offload_log.ts";
 * logRefused("UDP_SEGMENT", 5); // "The kernel refused UDP_SEGMENT (EIO); using per-packet I/O for it"
 * ```
 * @module
 */

import { errnoName } from "../ffi/errno.ts";
import { logger } from "../log.ts";
import { TUN_UDP_OFFLOADS } from "../tun_device.ts";
import type { TunIo, UdpIo } from "./packet_io.ts";

const log = logger("offload");

/**
 * One line saying which offloads are on (none if nothing was asked for), a warning per refused
 * one. Returns true if the socket's UDP_SEGMENT refusal was among them (logged once).
 */
export function logOffloads(tun: TunIo, udp: UdpIo, tso: boolean, coalesce: boolean): boolean {
  if (!tun.vnetHdr && !udp.gso && !udp.gro && udp.gsoErrno === 0 && udp.groErrno === 0) {
    return false;
  }
  log.info(
    "Offloads on {interface}: TSO {tso}, USO {uso}, coalesced TUN writes {coalesce}, UDP GSO {gso}, UDP GRO {gro}",
    {
      interface: tun.name,
      tso,
      uso: (tun.offloads & TUN_UDP_OFFLOADS) !== 0,
      coalesce,
      gso: udp.gso,
      gro: udp.gro,
    },
  );
  if (tun.offloadErrno !== 0) logRefused("TUNSETOFFLOAD", tun.offloadErrno);
  if (udp.gsoErrno !== 0) logRefused("UDP_SEGMENT", udp.gsoErrno);
  if (udp.groErrno !== 0) logRefused("UDP_GRO", udp.groErrno);
  return udp.gsoErrno !== 0;
}

/** The warning for an offload the kernel refused. */
export function logRefused(what: string, errno: number): void {
  log.warning("The kernel refused {offload} ({errno}); using per-packet I/O for it", {
    offload: what,
    errno: errnoName(errno),
  });
}
