/**
 * What the data path says about offloads: one line at start-up naming the ones that are on, one
 * warning per offload the kernel refused (at set-up or later, at run time), never per packet.
 *
 * @example
 * ```ts
 * import { logRefusedOffload } from "./offload_log.ts";
 * logRefusedOffload("UDP_SEGMENT", 22); // warning: The kernel refused UDP_SEGMENT (EINVAL) …
 * ```
 * @module
 */
import { errnoName } from "../ffi/errno.ts";
import { logger } from "../log.ts";
import { TUN_UDP_OFFLOADS } from "../tun_device.ts";
import type { TunIo, UdpIo } from "./packet_io.ts";

const log = logger("offload");

/** One warning for an offload the kernel refused; the path then moves packets one by one. */
export function logRefusedOffload(what: string, errno: number): void {
  log.warning("The kernel refused {offload} ({errno}); using per-packet I/O for it", {
    offload: what,
    errno: errnoName(errno),
  });
}

/**
 * The start-up line (nothing when no offload was asked for) and a warning per refusal so far.
 * Returns whether UDP_SEGMENT's refusal was logged (so the path does not log it again).
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
  if (tun.offloadErrno !== 0) logRefusedOffload("TUNSETOFFLOAD", tun.offloadErrno);
  if (udp.gsoErrno !== 0) logRefusedOffload("UDP_SEGMENT", udp.gsoErrno);
  if (udp.groErrno !== 0) logRefusedOffload("UDP_GRO", udp.groErrno);
  return udp.gsoErrno !== 0;
}

/** UDP_SEGMENT refused at run time: each kind said once per socket (never per packet). */
export class GsoWatch {
  /** The socket whose switching GSO off was already logged. */
  logged: UdpIo | undefined;
  #sizeOf: UdpIo | undefined;
  #maxSeen = Infinity;

  /** After a GSO send: logs what the kernel newly refused; returns the fallbacks to count. */
  afterSend(udp: UdpIo): number {
    let n = 0;
    if (!udp.gso && this.logged !== udp) {
      this.logged = udp;
      logRefusedOffload("UDP_SEGMENT", udp.gsoErrno);
      n++;
    }
    if (this.#sizeOf !== udp) { // a new socket (listen port changed) starts unlimited
      this.#sizeOf = udp;
      this.#maxSeen = Infinity;
    }
    if (udp.gsoMaxSize !== this.#maxSeen) {
      // Datagrams above the size go one by one, smaller ones are still segmented.
      if (this.#maxSeen === Infinity) {
        logRefusedOffload(`UDP_SEGMENT above ${udp.gsoMaxSize} bytes`, udp.gsoSizeErrno);
      }
      this.#maxSeen = udp.gsoMaxSize;
      n++;
    }
    return n;
  }
}
