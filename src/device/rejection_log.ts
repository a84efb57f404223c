/**
 * Rejected handshake messages, counted by reason and logged sparingly: the first of each reason,
 * then at most one line a minute per reason with the count since (a flood never becomes a flood
 * of log lines).
 *
 * @example
 * ```ts
 * import { RejectionLog } from "./rejection_log.ts";
 * const counts: Record<string, number> = {};
 * const r = new RejectionLog(counts, () => performance.now());
 * r.add("bad_mac1");
 * console.log(counts.bad_mac1); // 1
 * ```
 * @module
 */

import { logger } from "../log.ts";

/** Time between two log lines about one rejection reason. */
export const REJECT_LOG_MS = 60_000;

const log = logger("device");

/** Counts into a `reason → count` record and logs as described above. */
export class RejectionLog {
  readonly #counts: Record<string, number>;
  readonly #now: () => number;
  /** Per reason: when it was last logged, and the count then. */
  readonly #logged = new Map<string, { at: number; count: number }>();

  constructor(counts: Record<string, number>, now: () => number) {
    this.#counts = counts;
    this.#now = now;
  }

  /** One more message rejected for `reason`. */
  add(reason: string): void {
    const n = (this.#counts[reason] ?? 0) + 1;
    this.#counts[reason] = n;
    const now = this.#now();
    const last = this.#logged.get(reason);
    if (last !== undefined && now - last.at < REJECT_LOG_MS) return;
    this.#logged.set(reason, { at: now, count: n });
    log.info(
      "Rejected handshake message(s): {reason} ({count} since the last line, {total} in all)",
      { reason, count: n - (last?.count ?? 0), total: n },
    );
  }
}
