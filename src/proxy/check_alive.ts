/**
 * wireproxy's `CheckAlive`: every `CheckAliveInterval` seconds (default 5) each address of
 * `CheckAlive = ip, ...` in `[Interface]` is pinged through the tunnel (an ICMP or ICMPv6 echo
 * request from the stack, src/netstack/netstack.ts `ping`). As wireproxy decides for its `/readyz`,
 * the proxy is ready while every address has answered within the last interval plus 2 seconds
 * (so not before the first answers). {@link CheckAlive.ready} and {@link CheckAlive.detail} are
 * what a readiness endpoint serves; `onChange` hears when readiness flips.
 *
 * @example
 * ```ts ignore
 * const alive = new CheckAlive(tunnel, { targets: ["10.0.0.1"], intervalS: 5 }).start();
 * // … later
 * console.log(alive.ready(), alive.detail());
 * alive.stop();
 * ```
 * @module
 */

import type { Netstack } from "../netstack/netstack.ts";
import { formatIp, parseIp } from "../wg/cidr.ts";

/** What pinging needs of the tunnel (a {@link UserspaceTunnel} is one). */
export interface PingHost {
  readonly stack: Netstack;
  /** The device's loop sends what was queued. */
  kick(): void;
  /** The stack's clock, ms. */
  now(): number;
}

/** Options of {@link CheckAlive}. */
export interface CheckAliveOptions {
  /** The addresses to ping (IPv4 or IPv6). */
  targets: readonly string[];
  /** Seconds between rounds of pings. */
  intervalS: number;
  /** Readiness changed (checked at least once a second). */
  onChange?: (ready: boolean) => void;
}

/** wireproxy's slack on top of the interval for a reply to count as recent, ms. */
const SLACK_MS = 2000;

interface Target {
  sent: number;
  received: number;
  /** Wall clock of the last reply (ms), or null. */
  lastReply: number | null;
  rttMs: number | null;
  /** A ping that could not be sent (e.g. no local address of its family). */
  error: string | null;
}

/** Pings each target every interval; ready while all of them answer. */
export class CheckAlive implements Disposable {
  readonly intervalS: number;
  readonly #host: PingHost;
  readonly #targets = new Map<string, Target>();
  readonly #onChange: ((ready: boolean) => void) | undefined;
  /** Our echo identifier, and the round's sequence number. */
  readonly #id = crypto.getRandomValues(new Uint16Array(1))[0];
  #seq = 0;
  #ping: ReturnType<typeof setInterval> | undefined;
  #watch: ReturnType<typeof setInterval> | undefined;
  #ready = false;

  constructor(host: PingHost, opts: CheckAliveOptions) {
    if (!(opts.intervalS > 0)) throw new RangeError(`interval ${opts.intervalS}: not positive`);
    if (opts.targets.length === 0) throw new RangeError("CheckAlive: no target");
    this.#host = host;
    this.intervalS = opts.intervalS;
    this.#onChange = opts.onChange;
    for (const t of opts.targets) {
      const bytes = parseIp(t);
      if (bytes === null) throw new RangeError(`CheckAlive: not an IP address: "${t}"`);
      this.#targets.set(formatIp(bytes), {
        sent: 0,
        received: 0,
        lastReply: null,
        rttMs: null,
        error: null,
      });
    }
  }

  /** Pings now and every interval. */
  start(): this {
    if (this.#ping !== undefined) return this;
    this.#round();
    this.#ping = setInterval(() => this.#round(), this.intervalS * 1000);
    this.#watch = setInterval(() => this.#check(), Math.min(1000, this.intervalS * 1000));
    return this;
  }

  stop(): void {
    clearInterval(this.#ping);
    clearInterval(this.#watch);
    this.#ping = this.#watch = undefined;
  }

  /** Every target answered within the last interval (+2 s). */
  ready(): boolean {
    this.#collect();
    const now = Date.now(), limit = this.intervalS * 1000 + SLACK_MS;
    for (const t of this.#targets.values()) {
      if (t.lastReply === null || now - t.lastReply > limit) return false;
    }
    return true;
  }

  /**
   * Per target: the last reply (ISO time and, as wireproxy's `/readyz` body, Unix seconds, 0 for
   * never), its round trip, pings sent and answered, and a send error if there was one.
   */
  detail(): Record<string, unknown> {
    this.#collect();
    const out: Record<string, unknown> = {};
    for (const [addr, t] of this.#targets) {
      out[addr] = {
        lastReply: t.lastReply === null ? null : new Date(t.lastReply).toISOString(),
        lastReplyUnix: t.lastReply === null ? 0 : Math.floor(t.lastReply / 1000),
        rttMs: t.rttMs,
        sent: t.sent,
        received: t.received,
        ...(t.error === null ? {} : { error: t.error }),
      };
    }
    return out;
  }

  [Symbol.dispose](): void {
    this.stop();
  }

  /** One round: a ping to each target. */
  #round(): void {
    this.#collect();
    this.#seq = (this.#seq + 1) & 0xffff;
    const now = this.#host.now();
    for (const [addr, t] of this.#targets) {
      try {
        this.#host.stack.ping(addr, this.#id, this.#seq, now);
        t.sent++;
        t.error = null;
      } catch (e) {
        t.error = (e as Error).message;
      }
    }
    this.#host.kick();
  }

  /** Takes the stack's replies: those to our identifier are our targets' answers. */
  #collect(): void {
    const wall = Date.now();
    for (const r of this.#host.stack.pingReplies(this.#host.now())) {
      const t = this.#targets.get(r.host);
      if (t === undefined || r.id !== this.#id) continue;
      t.received++;
      t.rttMs = r.rttMs;
      t.lastReply = Math.max(t.lastReply ?? 0, wall - r.ageMs);
    }
  }

  #check(): void {
    const ready = this.ready();
    if (ready !== this.#ready) {
      this.#ready = ready;
      this.#onChange?.(ready);
    }
  }
}
