/**
 * Receiver side of WireGuard's mac1/mac2 and cookie mechanism (whitepaper: "Denial of
 * Service Mitigation & Cookies"),
 * one per device (wireguard-go `CookieChecker`): verifies mac1 on every
 * incoming handshake message, and under load verifies mac2 against a cookie
 * bound to the source address, answering with an encrypted cookie reply
 * when it is missing or stale, and rate-limiting sources whose mac2 is valid.
 *
 * Whether the device is "under load" is the caller's decision (the device says so while 128
 * handshakes wait for their Noise work, as wireguard-go's queue, or from 128 handshake messages a
 * second on; and for 1 s after).
 *
 * @example
 * ```ts
 * import { CookieChecker, CookieVerdict } from "./cookie_checker.ts";
 * import { generatePrivateKey, publicKey } from "./keys.ts";
 * const checker = new CookieChecker(publicKey(generatePrivateKey()));
 * const msg = new Uint8Array(148); // a received initiation
 * const v = checker.check(msg, new Uint8Array([192, 0, 2, 1]), 51820, false, 0);
 * console.log(v === CookieVerdict.BAD_MAC1); // true: mac1 is not valid
 * ```
 *
 * @module
 */

import {
  constantTimeEqual,
  hash,
  KEY_LEN,
  LABEL_COOKIE,
  LABEL_MAC1,
  mac,
  MAC_LEN,
  xaeadSeal,
  XNONCE_LEN,
} from "./primitives.ts";
import { COOKIE_REPLY, MESSAGE_COOKIE_REPLY, readU32LE, writeU32LE } from "./messages.ts";
import { COOKIE_REFRESH_TIME_MS } from "./cookie_generator.ts";
import { RateLimiter } from "./rate_limiter.ts";

/** What to do with an incoming handshake message. */
export const CookieVerdict = {
  /** Process it. */
  ACCEPT: 0,
  /** mac1 is wrong: drop silently. */
  BAD_MAC1: 1,
  /** Under load without a valid mac2: drop, and send {@link CookieChecker.createReply}. */
  SEND_COOKIE: 2,
  /** Under load, mac2 valid, but the source exceeded its rate: drop silently. */
  RATE_LIMITED: 3,
} as const;
/** One of the {@link CookieVerdict} values. */
export type CookieVerdictValue = typeof CookieVerdict[keyof typeof CookieVerdict];

/** Options of {@link CookieChecker}. */
export interface CookieCheckerOptions {
  /** Fills a buffer with random bytes (secret R, reply nonces); default `crypto.getRandomValues`. */
  random?: (buf: Uint8Array) => void;
  /** The per-source limiter applied under load; default a new {@link RateLimiter}. */
  rateLimiter?: RateLimiter;
}

/** Device-wide mac1/mac2 verification and cookie replies. */
export class CookieChecker {
  readonly #mac1Key = new Uint8Array(KEY_LEN);
  readonly #cookieKey = new Uint8Array(KEY_LEN);
  #hasKey = false;
  readonly #secret = new Uint8Array(KEY_LEN);
  #secretSet = -Infinity;
  readonly #src = new Uint8Array(18);
  readonly #random: (buf: Uint8Array) => void;
  /** The limiter used by {@link check} under load. */
  readonly rateLimiter: RateLimiter;

  /** `localPublic` is our static public key (null while the device has none). */
  constructor(localPublic: Uint8Array | null, opts: CookieCheckerOptions = {}) {
    this.#random = opts.random ?? ((b) => void crypto.getRandomValues(b));
    this.rateLimiter = opts.rateLimiter ?? new RateLimiter();
    this.setLocalPublic(localPublic);
  }

  /** Re-keys mac1/cookie-encryption keys after a private key change; invalidates the secret. */
  setLocalPublic(localPublic: Uint8Array | null): void {
    this.#hasKey = localPublic !== null;
    if (localPublic === null) {
      this.#mac1Key.fill(0);
      this.#cookieKey.fill(0);
    } else {
      this.#mac1Key.set(hash(LABEL_MAC1, localPublic));
      this.#cookieKey.set(hash(LABEL_COOKIE, localPublic));
    }
    this.#secretSet = -Infinity;
  }

  /** Constant-time check of mac1 of the handshake message `msg[0..length]`. */
  checkMac1(msg: Uint8Array, length: number = msg.length): boolean {
    const smac1 = length - 2 * MAC_LEN;
    if (!this.#hasKey || smac1 < 0 || msg.length < length) return false;
    const want = mac(this.#mac1Key, msg.subarray(0, smac1));
    return constantTimeEqual(want, msg.subarray(smac1, smac1 + MAC_LEN));
  }

  /**
   * Constant-time check of mac2 against the cookie for source `ip` (4 or 16
   * bytes) and `port`. False when the secret is older than 120 s.
   */
  checkMac2(
    msg: Uint8Array,
    ip: Uint8Array,
    port: number,
    now: number,
    length: number = msg.length,
  ): boolean {
    const smac2 = length - MAC_LEN;
    if (smac2 < MAC_LEN || msg.length < length) return false;
    if (now - this.#secretSet > COOKIE_REFRESH_TIME_MS) return false;
    const cookie = this.#cookieFor(ip, port);
    const want = mac(cookie, msg.subarray(0, smac2));
    cookie.fill(0);
    return constantTimeEqual(want, msg.subarray(smac2, length));
  }

  /**
   * Writes a cookie reply (64 bytes) at `out[0..]` answering the handshake
   * message `msg[0..length]` from `ip`:`port`; its receiver index is the
   * message's sender index (offset 4 for initiations and responses).
   * Regenerates the secret when older than 120 s. Returns 64.
   */
  createReply(
    msg: Uint8Array,
    ip: Uint8Array,
    port: number,
    out: Uint8Array,
    now: number,
    length: number = msg.length,
  ): number {
    const smac1 = length - 2 * MAC_LEN;
    if (smac1 < 8 || msg.length < length) throw new RangeError(`createReply() got ${length} bytes`);
    if (out.length < COOKIE_REPLY.SIZE) throw new RangeError("createReply() output < 64 bytes");
    if (now - this.#secretSet > COOKIE_REFRESH_TIME_MS) {
      this.#random(this.#secret);
      this.#secretSet = now;
    }
    const cookie = this.#cookieFor(ip, port);
    writeU32LE(out, 0, MESSAGE_COOKIE_REPLY);
    writeU32LE(out, COOKIE_REPLY.RECEIVER, readU32LE(msg, 4));
    const nonce = out.subarray(COOKIE_REPLY.NONCE, COOKIE_REPLY.NONCE + XNONCE_LEN);
    this.#random(nonce);
    const sealed = out.subarray(COOKIE_REPLY.COOKIE, COOKIE_REPLY.SIZE);
    xaeadSeal(this.#cookieKey, nonce, cookie, msg.subarray(smac1, smac1 + MAC_LEN), sealed);
    cookie.fill(0);
    return COOKIE_REPLY.SIZE;
  }

  /**
   * The whole receive-side gate (wireguard-go `RoutineHandshake`): mac1 always;
   * if `underLoad`, mac2 (else {@link CookieVerdict.SEND_COOKIE}) and the
   * per-source rate limit.
   */
  check(
    msg: Uint8Array,
    ip: Uint8Array,
    port: number,
    underLoad: boolean,
    now: number,
    length: number = msg.length,
  ): CookieVerdictValue {
    if (!this.checkMac1(msg, length)) return CookieVerdict.BAD_MAC1;
    if (!underLoad) return CookieVerdict.ACCEPT;
    if (!this.checkMac2(msg, ip, port, now, length)) return CookieVerdict.SEND_COOKIE;
    if (!this.rateLimiter.allow(ip, now)) return CookieVerdict.RATE_LIMITED;
    return CookieVerdict.ACCEPT;
  }

  /** `MAC(R, ip ‖ LE16(port))`, wireguard-go's std-bind source encoding. */
  #cookieFor(ip: Uint8Array, port: number): Uint8Array {
    if (ip.length !== 4 && ip.length !== 16) {
      throw new RangeError("source IP must be 4 or 16 bytes");
    }
    const src = this.#src;
    src.set(ip, 0);
    src[ip.length] = port & 0xff;
    src[ip.length + 1] = (port >>> 8) & 0xff;
    return mac(this.#secret, src.subarray(0, ip.length + 2));
  }
}
