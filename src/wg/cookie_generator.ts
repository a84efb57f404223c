/**
 * Sender side of WireGuard's mac1/mac2 and cookie mechanism (whitepaper: "Cookie
 * MACs"),
 * one per peer (wireguard-go `CookieGenerator`): stamps mac1 (and mac2 when
 * a cookie younger than 120 s is held) on every outgoing handshake message,
 * remembers the last mac1, and consumes cookie replies from the peer.
 *
 * @example
 * ```ts
 * import { CookieGenerator } from "./cookie_generator.ts";
 * import { generatePrivateKey, publicKey } from "./keys.ts";
 * const gen = new CookieGenerator(publicKey(generatePrivateKey()));
 * const msg = new Uint8Array(148); // an initiation from createInitiation()
 * gen.addMacs(msg, 0); // mac1 set, mac2 zero (no cookie yet)
 * ```
 *
 * @module
 */

import { hash, LABEL_COOKIE, LABEL_MAC1, mac, MAC_LEN, xaeadOpen } from "./primitives.ts";
import { COOKIE_REPLY, MESSAGE_COOKIE_REPLY, readU32LE } from "./messages.ts";

/** `CookieRefreshTime`: cookies and the responder's secret live 120 s. */
export const COOKIE_REFRESH_TIME_MS = 120_000;

/** Per-peer mac1/mac2 stamping and cookie storage. */
export class CookieGenerator {
  /** Both keys, the cookie and the last mac1 in one buffer (one generator per peer). */
  readonly #store = new Uint8Array(64 + 2 * MAC_LEN);
  readonly #mac1Key = this.#store.subarray(0, 32);
  readonly #cookieKey = this.#store.subarray(32, 64);
  readonly #cookie = this.#store.subarray(64, 64 + MAC_LEN);
  #cookieSet = -Infinity;
  readonly #lastMac1 = this.#store.subarray(64 + MAC_LEN);
  #hasLastMac1 = false;

  /** `remoteStatic` is the public key of the peer that will receive our handshakes. */
  constructor(remoteStatic: Uint8Array) {
    this.#mac1Key.set(hash(LABEL_MAC1, remoteStatic));
    this.#cookieKey.set(hash(LABEL_COOKIE, remoteStatic));
  }

  /**
   * Fills mac1 and mac2 of the handshake message in `msg[0..length]` (mac1 at
   * `length-32`, mac2 at `length-16`). `now` is the monotonic clock in ms.
   */
  addMacs(msg: Uint8Array, now: number, length: number = msg.length): void {
    const smac2 = length - MAC_LEN;
    const smac1 = smac2 - MAC_LEN;
    if (smac1 < 0 || msg.length < length) throw new RangeError(`addMacs() got ${length} bytes`);
    const m1 = mac(this.#mac1Key, msg.subarray(0, smac1));
    msg.set(m1, smac1);
    this.#lastMac1.set(m1);
    this.#hasLastMac1 = true;
    if (this.hasCookie(now)) msg.set(mac(this.#cookie, msg.subarray(0, smac2)), smac2);
    else msg.fill(0, smac2, length);
  }

  /** True iff a cookie received at most 120 s ago is held (mac2 will be set). */
  hasCookie(now: number): boolean {
    return now - this.#cookieSet <= COOKIE_REFRESH_TIME_MS;
  }

  /**
   * Decrypts a cookie reply (64 bytes, type 3) addressed to us, using the mac1
   * of the last handshake message we sent as AAD; on success stores the cookie
   * with time `now` and returns true. The caller has matched
   * `receiver_index` to this peer. Timers and endpoints are not touched.
   */
  consumeReply(msg: Uint8Array, now: number, length: number = msg.length): boolean {
    if (length !== COOKIE_REPLY.SIZE || msg.length < length) return false;
    if (readU32LE(msg, 0) !== MESSAGE_COOKIE_REPLY) return false;
    if (!this.#hasLastMac1) return false;
    const nonce = msg.subarray(COOKIE_REPLY.NONCE, COOKIE_REPLY.COOKIE);
    const sealed = msg.subarray(COOKIE_REPLY.COOKIE, COOKIE_REPLY.COOKIE + COOKIE_REPLY.COOKIE_LEN);
    const cookie = xaeadOpen(this.#cookieKey, nonce, sealed, this.#lastMac1);
    if (cookie === null) return false;
    this.#cookie.set(cookie);
    cookie.fill(0);
    this.#cookieSet = now;
    return true;
  }
}
