/**
 * Per-source-IP token bucket for handshake messages under load (wireguard-go
 * `ratelimiter`): 20 packets/s, burst 5, keyed by the full source address
 * (4 or 16 bytes), idle entries dropped after 1 s. Time is the caller's
 * monotonic clock in milliseconds; no timers inside.
 *
 * wireguard-go refills first and then needs `tokens > cost` (strict), which
 * with a frozen clock lets only 4 of a burst through; the kernel module uses
 * `tokens >= cost`, giving the documented burst of 5. We use `>=`.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "./rate_limiter.ts";
 * const rl = new RateLimiter();
 * const ip = new Uint8Array([192, 0, 2, 1]);
 * let ok = 0;
 * for (let i = 0; i < 10; i++) if (rl.allow(ip, 0)) ok++;
 * console.log(ok); // 5
 * ```
 *
 * @module
 */

/** Packets per second refilled per source. */
export const RATE_LIMIT_PACKETS_PER_SECOND = 20;
/** Bucket depth in packets. */
export const RATE_LIMIT_BURST = 5;
/** Entries idle this long are forgotten; also the garbage-collection period. */
export const RATE_LIMIT_GC_MS = 1000;

interface Bucket {
  tokens: number;
  last: number;
}

/** Token-bucket limiter keyed by source IP. */
export class RateLimiter {
  readonly #cost: number;
  readonly #max: number;
  readonly #table = new Map<number | string, Bucket>();
  #lastGc = -Infinity;

  constructor(
    packetsPerSecond: number = RATE_LIMIT_PACKETS_PER_SECOND,
    burst: number = RATE_LIMIT_BURST,
  ) {
    this.#cost = 1000 / packetsPerSecond;
    this.#max = this.#cost * burst;
  }

  /** Number of sources currently tracked. */
  get size(): number {
    return this.#table.size;
  }

  /**
   * Charges one packet from `ip` (4 or 16 bytes) at time `now` (ms); true if
   * it may be processed.
   */
  allow(ip: Uint8Array, now: number): boolean {
    if (now - this.#lastGc >= RATE_LIMIT_GC_MS) this.gc(now);
    const key = ipKey(ip);
    const b = this.#table.get(key);
    if (b === undefined) {
      this.#table.set(key, { tokens: this.#max - this.#cost, last: now });
      return true;
    }
    b.tokens = Math.min(this.#max, b.tokens + Math.max(0, now - b.last));
    b.last = now;
    if (b.tokens >= this.#cost) {
      b.tokens -= this.#cost;
      return true;
    }
    return false;
  }

  /** Drops entries idle for more than 1 s. Called by {@link allow} at most once a second. */
  gc(now: number): void {
    this.#lastGc = now;
    for (const [k, b] of this.#table) {
      if (now - b.last > RATE_LIMIT_GC_MS) this.#table.delete(k);
    }
  }

  /** Forgets every source. */
  clear(): void {
    this.#table.clear();
  }
}

function ipKey(ip: Uint8Array): number | string {
  if (ip.length === 4) return ((ip[0] << 24) | (ip[1] << 16) | (ip[2] << 8) | ip[3]) >>> 0;
  let s = "";
  for (let i = 0; i + 1 < ip.length; i += 2) s += String.fromCharCode((ip[i] << 8) | ip[i + 1]);
  return s;
}
