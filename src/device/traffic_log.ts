/**
 * The traffic line a running device logs once a minute while traffic flows (info level): the
 * datagrams in and out over the last minute, never a line per packet.
 *
 * @example
 * ```ts
 * import { TrafficLog } from "./traffic_log.ts";
 * const t = new TrafficLog("wg0");
 * t.tick(60_000, { udpReceived: 10, udpSent: 12 }, () => 0); // first minute: nothing to compare
 * ```
 * @module
 */
import { logger } from "../log.ts";

const log = logger("device");

/** Counters the line reads. */
export interface TrafficCounters {
  readonly udpReceived: number;
  readonly udpSent: number;
}

/** Logs a line a minute, when the counters moved. */
export class TrafficLog {
  #at = 0;
  #rx = 0;
  #tx = 0;

  constructor(readonly iface: string) {}

  /** Call on every tick; logs when a minute has passed and traffic flowed in it. */
  tick(now: number, c: TrafficCounters, inUse: () => number): void {
    if (now - this.#at < 60_000) return;
    const rx = c.udpReceived, tx = c.udpSent;
    if (this.#at > 0 && (rx !== this.#rx || tx !== this.#tx)) {
      log.info("Traffic on {interface} in the last minute: {rx} datagrams in, {tx} out", {
        interface: this.iface,
        rx: rx - this.#rx,
        tx: tx - this.#tx,
        poolInUse: inUse(),
      });
    }
    this.#at = now;
    this.#rx = rx;
    this.#tx = tx;
  }
}
