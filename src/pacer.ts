/**
 * Long work on the loop's thread in slices: at most {@link SLICE_MS} before the event loop (and
 * with it the data path) gets a turn. Used for whatever scales with the number of peers: a UAPI
 * set or get of thousands of them, its parsing and formatting, a metrics scrape.
 *
 * @example
 * ```ts
 * import { Pacer } from "./pacer.ts";
 * const pace = new Pacer();
 * for (let i = 0; i < 3; i++) await pace.maybeYield(); // yields only after 10 ms of work
 * ```
 * @module
 */

/** Longest stretch of such work before the loop turns (ms). */
export const SLICE_MS = 10;

/**
 * Lets the loop (and I/O) run. A macrotask alone was not enough: a device loop waiting in
 * `poll` on a worker thread got its turn only every 3-6 slices (a 10,000-peer `syncconf` held
 * the data path 106 ms), so a registered loop is woken and awaited, for at most
 * {@link TURN_WAIT_MS}.
 */
export function yieldToLoop(): Promise<void> {
  if (loops.size === 0) return new Promise((r) => setTimeout(r, 0));
  return new Promise((resolve) => {
    const timer = setTimeout(done, TURN_WAIT_MS);
    function done() {
      clearTimeout(timer);
      const i = turnWaiters.indexOf(done);
      if (i >= 0) turnWaiters.splice(i, 1);
      setTimeout(resolve, 0); // and the other tasks (sockets, timers)
    }
    turnWaiters.push(done);
    for (const wake of loops) wake();
  });
}

/** Longest wait for a loop's turn in {@link yieldToLoop} (a loop busy elsewhere, stopping). */
export const TURN_WAIT_MS = 50;

const loops = new Set<() => void>();
let turnWaiters: (() => void)[] = [];

/**
 * A loop that slices must let run (a device's data path): `wake` interrupts its wait; it calls
 * the returned `turned` after each turn and `unregister` when it ends.
 */
export function registerLoop(wake: () => void): { turned(): void; unregister(): void } {
  loops.add(wake);
  return {
    turned() {
      if (turnWaiters.length === 0) return;
      const waiting = turnWaiters;
      turnWaiters = [];
      for (const w of waiting) w();
    },
    unregister() {
      loops.delete(wake);
    },
  };
}

/** Measures a slice and yields when it is used up. */
export class Pacer {
  #start = performance.now();
  /** The longest slice so far (ms) and how many ended in a yield: what a change held the loop. */
  longest = 0;
  slices = 0;

  /** Yields to the loop if this slice has run {@link SLICE_MS}; resolves at once otherwise. */
  async maybeYield(): Promise<void> {
    const ran = performance.now() - this.#start;
    if (ran < SLICE_MS) return;
    this.#end(ran);
    await yieldToLoop();
    this.#start = performance.now();
  }

  /** Ends the current slice (the work is done): its length counts in {@link longest}. */
  finish(): void {
    this.#end(performance.now() - this.#start);
  }

  #end(ran: number): void {
    if (ran > this.longest) this.longest = ran;
    this.slices++;
  }
}
