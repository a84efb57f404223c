/**
 * How much handshake work the device takes on, and when: the handshake plane's admission budget,
 * its "under load" decision and its backlog (src/device/handshake_plane.ts uses one). A storm of
 * initiations must not take the loop away from the data path, so:
 *
 * - {@link HandshakeBacklog.admit} bounds the cheap work done as messages arrive (the mac1
 *   check; under load the mac2 check or a cookie reply): a token bucket of
 *   {@link HANDSHAKE_BUDGET_PER_SECOND} (burst {@link HANDSHAKE_BURST}) and at most
 *   {@link HANDSHAKE_INTAKE_PER_TURN} per loop turn; the rest is dropped unread (`overload`);
 * - initiations and responses that pass are copied, with their source sockaddr, into a ring of
 *   {@link HANDSHAKE_QUEUE_LEN} preallocated entries ({@link HandshakeBacklog.push}), and their
 *   Noise work (a responder's: three X25519 and a few dozen hashes, ~0.4 ms) runs in
 *   {@link HandshakeBacklog.turn}, once per loop turn: at most {@link HANDSHAKES_PER_TURN}, none
 *   more once {@link HANDSHAKE_TURN_MS} have passed; then the data path runs again;
 * - {@link HandshakeBacklog.underLoad}: a backlog of {@link UNDER_LOAD_BACKLOG}, as wireguard-go's
 *   queue, or {@link UNDER_LOAD_PER_SECOND} messages in a second, and for a second after. Under
 *   load an initiation needs a valid mac2 (else a cookie reply, and no Noise work) and sources
 *   with one are rate-limited: the cookie mechanism engages as the protocol intends.
 *
 * Pushing copies bytes into views made once and allocates nothing. Messages are wire bytes (no
 * secret in the clear): entries are not wiped.
 *
 * @example
 * ```ts
 * import { HandshakeBacklog } from "./handshake_backlog.ts";
 * const b = new HandshakeBacklog(2);
 * const mem = new Uint8Array(256);
 * mem[0] = 1; // an initiation at offset 0, its source sockaddr_in at offset 200
 * mem.set([2, 0, 0xca, 0x6c, 192, 0, 2, 1], 200);
 * console.log(b.admit(0), b.underLoad(0), b.push(mem, 0, 148, 200, 16), b.size); // true false true 1
 * b.turn(() => 0, (msg, len, name) => console.log(msg[0], len, name.length)); // 1 148 16
 * console.log(b.size); // 0
 * ```
 * @module
 */

/** Handshake messages per second from which the device is "under load". */
export const UNDER_LOAD_PER_SECOND = 128;
/** A backlog this long puts the device under load (wireguard-go: its queue's 1/8). */
export const UNDER_LOAD_BACKLOG = 128;
/**
 * Handshake messages taken on per second, at most (a token bucket with a burst of
 * {@link HANDSHAKE_BURST}); more are dropped unread and counted as `overload`, as wireguard-go
 * drops what does not fit its 1,024-message handshake queue: at 100,000 datagrams/s of garbage
 * the tunnel's own traffic keeps flowing.
 */
export const HANDSHAKE_BUDGET_PER_SECOND = 4096;
/** Handshake messages taken on at once after a quiet spell. */
export const HANDSHAKE_BURST = 1024;
/**
 * Handshake messages taken on in one loop turn, at most (~5 µs each: about a millisecond); the
 * turn's excess is dropped as `overload`.
 */
export const HANDSHAKE_INTAKE_PER_TURN = 256;
/** Initiations and responses waiting for their Noise work, at most (wireguard-go: 1,024). */
export const HANDSHAKE_QUEUE_LEN = 1024;
/** Queued handshakes run per loop turn, at most (~0.4 ms each for a responder)... */
export const HANDSHAKES_PER_TURN = 8;
/** ...and none more once they took this long in the turn (ms). */
export const HANDSHAKE_TURN_MS = 2;

/** Room for the largest handshake message (an initiation). */
const ENTRY_MESSAGE = 148;
/** Room for the largest source address (a sockaddr_in6). */
const ENTRY_NAME = 28;

/** Runs one queued message: its buffer (the first `len` bytes), its source sockaddr, the time. */
export type RunHandshake = (msg: Uint8Array, len: number, name: Uint8Array, now: number) => void;

/** The budget, the under-load decision and the FIFO of handshake messages. */
export class HandshakeBacklog {
  /** Entries it holds at most. */
  readonly capacity: number;
  readonly #msgs: Uint8Array[] = [];
  readonly #names: Uint8Array[] = [];
  readonly #lens: Uint8Array;
  readonly #nameLens: Uint8Array;
  #head = 0;
  #size = 0;
  #tokens = HANDSHAKE_BURST;
  #tokensAt = -1;
  /** Messages admitted in this loop turn. */
  #intake = 0;
  #loadWindowStart = 0;
  #loadCount = 0;
  #underLoadUntil = -Infinity;

  constructor(capacity: number = HANDSHAKE_QUEUE_LEN) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`HandshakeBacklog: capacity ${capacity}`);
    }
    this.capacity = capacity;
    const msgs = new Uint8Array(capacity * ENTRY_MESSAGE);
    const names = new Uint8Array(capacity * ENTRY_NAME);
    for (let i = 0; i < capacity; i++) {
      this.#msgs.push(msgs.subarray(i * ENTRY_MESSAGE, (i + 1) * ENTRY_MESSAGE));
      this.#names.push(names.subarray(i * ENTRY_NAME, (i + 1) * ENTRY_NAME));
    }
    this.#lens = new Uint8Array(capacity);
    this.#nameLens = new Uint8Array(capacity);
  }

  /** Entries waiting. */
  get size(): number {
    return this.#size;
  }

  /** May one more message be looked at now (at `now`, ms)? Takes a unit of the budget if so. */
  admit(now: number): boolean {
    if (this.#intake >= HANDSHAKE_INTAKE_PER_TURN) return false;
    if (this.#tokensAt < 0) this.#tokensAt = now;
    const t = Math.min(
      HANDSHAKE_BURST,
      this.#tokens + (now - this.#tokensAt) * (HANDSHAKE_BUDGET_PER_SECOND / 1000),
    );
    this.#tokensAt = now;
    if (t < 1) {
      this.#tokens = t;
      return false;
    }
    this.#tokens = t - 1;
    this.#intake++;
    return true;
  }

  /** Whether a message checked now must carry mac2 (counts it towards the rate). */
  underLoad(now: number): boolean {
    if (now - this.#loadWindowStart >= 1000) {
      this.#loadWindowStart = now;
      this.#loadCount = 0;
    }
    if (++this.#loadCount >= UNDER_LOAD_PER_SECOND || this.#size >= UNDER_LOAD_BACKLOG) {
      this.#underLoadUntil = now + 1000;
    }
    return now < this.#underLoadUntil;
  }

  /**
   * Copies the message `u8[off, off + len)` and its source sockaddr `u8[nameOff, nameOff +
   * nameLen)` in as the newest entry. False (nothing copied) when full.
   */
  push(u8: Uint8Array, off: number, len: number, nameOff: number, nameLen: number): boolean {
    if (len > ENTRY_MESSAGE || nameLen > ENTRY_NAME) {
      throw new RangeError(`HandshakeBacklog.push: ${len}-byte message, ${nameLen}-byte name`);
    }
    if (this.#size === this.capacity) return false;
    const i = (this.#head + this.#size) % this.capacity;
    this.#msgs[i].set(u8.subarray(off, off + len));
    this.#names[i].set(u8.subarray(nameOff, nameOff + nameLen));
    this.#lens[i] = len;
    this.#nameLens[i] = nameLen;
    this.#size++;
    return true;
  }

  /**
   * One loop turn's share: runs the oldest entries through `run`, at most
   * {@link HANDSHAKES_PER_TURN}, and none more once {@link HANDSHAKE_TURN_MS} have passed on
   * `now`; renews the per-turn intake. Returns how many ran.
   */
  turn(now: () => number, run: RunHandshake): number {
    this.#intake = 0;
    if (this.#size === 0) return 0;
    const start = now();
    let ran = 0, t = start;
    while (this.#size > 0 && ran < HANDSHAKES_PER_TURN) {
      if (ran > 0) {
        t = now();
        if (t - start >= HANDSHAKE_TURN_MS) break;
      }
      const h = this.#head;
      this.#head = (h + 1) % this.capacity;
      this.#size--;
      // The entry is not overwritten before the next push, which `run` does not do.
      run(this.#msgs[h], this.#lens[h], this.#names[h].subarray(0, this.#nameLens[h]), t);
      ran++;
    }
    return ran;
  }
}
