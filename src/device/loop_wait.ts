/**
 * How the device loop waits between turns, and when it lets the event loop run.
 *
 * - Saturated (the turn moved packets): no wait, but every {@link YIELD_MS} one `wait(0)` (a
 *   ~65 µs poll on a worker thread) so that signals and UAPI requests are served.
 * - Idle: `await` poll(2) on a worker thread until the next timer: the event loop runs meanwhile.
 * - Idle but hot (`hot`, packets moved within {@link HOT_MS}): poll(2) on the loop's own thread
 *   ({@link Poller.block}) in slices that end at the next turn for the event loop. The worker's
 *   wake-up reaches the loop a thread hand-off later (~0.3 ms on a busy 2-CPU VM, four of them in
 *   a ping's round trip); on its own thread the loop runs as soon as the kernel wakes it. Past
 *   HOT_MS it sleeps on the worker again, so an idle tunnel wakes no more often than before.
 *
 * @example
 * ```ts ignore
 * import { LoopWait } from "./loop_wait.ts";
 * const waits = new LoopWait(true, () => performance.now());
 * const w = waits.after(poller, moved, performance.now(), nextTimer);
 * if (w !== null) await w;
 * ```
 * @module
 */
import type { Poller } from "../poller.ts";

/** Longest the loop runs without giving the event loop a turn (signals, UAPI), ms. */
export const YIELD_MS = 50;
/** How long after packets last moved a hot loop waits on its own thread, ms. */
export const HOT_MS = 1000;

/** The waiting policy of one loop (state: when it last yielded, when packets last moved). */
export class LoopWait {
  readonly #hotMs: number;
  readonly #now: () => number;
  #lastYield = 0;
  #lastMoved = -Infinity;

  /** `hot`: wait on the loop's thread after traffic (a process that is the tunnel). */
  constructor(hot: boolean, now: () => number) {
    this.#hotMs = hot ? HOT_MS : 0;
    this.#now = now;
  }

  /**
   * After a turn ending at `turnEnd` that moved `moved` packets, with the next timer due at
   * `next`: waits on this thread and returns null, or returns the wait or yield to await (no
   * promise on the turns that need neither).
   */
  after(poller: Poller, moved: number, turnEnd: number, next: number): Promise<number> | null {
    const sinceYield = turnEnd - this.#lastYield;
    if (moved > 0) {
      this.#lastMoved = turnEnd;
      if (sinceYield < YIELD_MS) return null;
      this.#lastYield = turnEnd;
      return poller.wait(0);
    }
    const timeout = Math.max(0, Math.min(1000, Math.ceil(next - turnEnd)));
    if (turnEnd - this.#lastMoved >= this.#hotMs || timeout === 0) {
      return poller.wait(timeout).finally(() => {
        this.#lastYield = this.#now();
      });
    }
    if (sinceYield < YIELD_MS) {
      poller.block(Math.min(timeout, Math.ceil(YIELD_MS - sinceYield)));
      return null;
    }
    this.#lastYield = turnEnd;
    return poller.wait(0);
  }
}
