/**
 * The per-peer timer state machine of WireGuard (whitepaper: "Timers &
 * Stateless UX"; wireguard-go
 * `timers.go`) as a pure object: no `setTimeout`, an injectable clock and
 * jitter. The device feeds it events (allocation-free, call them once per
 * batch), asks {@link PeerTimers.nextDeadline} for its poll timeout, and calls
 * {@link PeerTimers.poll} each tick to learn which {@link TimerAction}s fell
 * due. Also holds the key-freshness rules (rekey after 120 s as initiator,
 * reject after 180 s, the 165 s last-minute handshake) and the rule that no
 * two initiations leave within `REKEY_TIMEOUT` (5 s).
 *
 * @example
 * ```ts
 * import { PeerTimers, TimerAction } from "./timers.ts";
 * let t = 0;
 * const timers = new PeerTimers({ now: () => t, jitter: () => 0 });
 * timers.start();
 * if (timers.requestInitiation()) timers.onInitiationSent(); // device sends an initiation
 * t = timers.nextDeadline(); // 5000: retransmit
 * const due = timers.poll(t);
 * console.log((due & TimerAction.SEND_INITIATION) !== 0); // true: resend
 * ```
 *
 * @module
 */

/** `REKEY_AFTER_MESSAGES` = 2^60. */
export const REKEY_AFTER_MESSAGES: bigint = 1n << 60n;
/** `REJECT_AFTER_MESSAGES` = 2^64 − 2^13 − 1. */
export const REJECT_AFTER_MESSAGES: bigint = (1n << 64n) - (1n << 13n) - 1n;
/** `REKEY_AFTER_TIME`, ms. */
export const REKEY_AFTER_TIME_MS = 120_000;
/** `REJECT_AFTER_TIME`, ms. */
export const REJECT_AFTER_TIME_MS = 180_000;
/** `REKEY_ATTEMPT_TIME`, ms. */
export const REKEY_ATTEMPT_TIME_MS = 90_000;
/** `REKEY_TIMEOUT`, ms: retransmit period and minimum spacing of initiations. */
export const REKEY_TIMEOUT_MS = 5_000;
/** `KEEPALIVE_TIMEOUT`, ms. */
export const KEEPALIVE_TIMEOUT_MS = 10_000;
/** `MaxTimerHandshakes` = 90 / 5 = 18 retries before giving up. */
export const MAX_TIMER_HANDSHAKES = REKEY_ATTEMPT_TIME_MS / REKEY_TIMEOUT_MS;
/** Jitter is uniform in `[0, 334)` ms (`RekeyTimeoutJitterMaxMs`). */
export const REKEY_TIMEOUT_JITTER_MAX_MS = 334;
/** `zeroKeyMaterial` fires 3 × REJECT_AFTER_TIME = 540 s after the last keypair was derived. */
export const ZERO_KEY_MATERIAL_MS = 3 * REJECT_AFTER_TIME_MS;
/** Age after which the initiator of the current keypair rekeys on receive: 180 − 10 − 5 = 165 s. */
export const LAST_MINUTE_HANDSHAKE_MS = REJECT_AFTER_TIME_MS - KEEPALIVE_TIMEOUT_MS -
  REKEY_TIMEOUT_MS;

// Counters are doubles here: exact up to 2^53, i.e. decades at 10 Mpps. The
// nearest doubles of the limits are what comparisons see.
const REKEY_AFTER_MESSAGES_N = Number(REKEY_AFTER_MESSAGES);
const REJECT_AFTER_MESSAGES_N = Number(REJECT_AFTER_MESSAGES);

/** Bits returned by {@link PeerTimers.poll}. */
export const TimerAction = {
  NONE: 0,
  /**
   * Create and send a handshake initiation now (the 5 s spacing and the
   * attempt counter are already handled), then call `onInitiationSent()`.
   */
  SEND_INITIATION: 1,
  /** Send a keepalive (or staged packets) now, then `onAuthenticatedPacketSent()`. */
  SEND_KEEPALIVE: 2,
  /** Wipe all keypairs and the handshake of this peer, drop staged packets. */
  ZERO_KEY_MATERIAL: 4,
  /** The handshake did not complete after 20 initiations: drop staged packets. */
  GIVE_UP: 8,
  /** Forget the cached local source address of the endpoint (re-route). */
  CLEAR_ENDPOINT_SRC: 16,
} as const;

/** Options of {@link PeerTimers}. */
export interface PeerTimersOptions {
  /** Monotonic clock in ms used by the event methods; default `performance.now()`. */
  now?: () => number;
  /** Returns the jitter in ms, in `[0, 334)`; default uniform random. */
  jitter?: () => number;
  /** Wall clock in ms for the last-handshake time UAPI reports; default `Date.now()`. */
  wallClock?: () => number;
}

/** True iff a keypair may still encrypt: counter < REJECT_AFTER_MESSAGES and age < 180 s. */
export function keypairUsableForSend(created: number, sendCounter: number, now: number): boolean {
  return sendCounter < REJECT_AFTER_MESSAGES_N && now - created < REJECT_AFTER_TIME_MS;
}

/** True iff a packet on this keypair may be accepted: age ≤ 180 s and counter < REJECT_AFTER_MESSAGES. */
export function keypairUsableForReceive(
  created: number,
  recvCounter: number,
  now: number,
): boolean {
  return recvCounter < REJECT_AFTER_MESSAGES_N && now - created <= REJECT_AFTER_TIME_MS;
}

const OFF = Infinity;
const U32 = new Uint32Array(1);
function defaultJitter(): number {
  crypto.getRandomValues(U32);
  return U32[0] % REKEY_TIMEOUT_JITTER_MAX_MS;
}

/** Timer state of one peer. All times are ms on the injected clock. */
export class PeerTimers {
  /** Initiations resent since the last non-retry one (wireguard-go `handshakeAttempts`). */
  handshakeAttempts = 0;
  /** Data arrived while a keepalive was already scheduled. */
  needAnotherKeepalive = false;
  /** The 165 s last-minute initiation went out; cleared by a completed handshake. */
  sentLastMinuteHandshake = false;
  /** Clock time of the last initiation let through; -Infinity if none. */
  lastInitiationSent = -Infinity;
  /** Clock time of the last completed handshake; -Infinity if none. */
  lastHandshake = -Infinity;
  /** Wall-clock ms of the last completed handshake; 0 if none (UAPI `last_handshake_time`). */
  lastHandshakeWallMs = 0;

  #retransmitHandshake = OFF;
  #sendKeepalive = OFF;
  #newHandshake = OFF;
  #zeroKeyMaterial = OFF;
  #persistentKeepalive = OFF;
  #persistentKeepaliveMs = 0;
  #running = false;
  readonly #now: () => number;
  readonly #jitter: () => number;
  readonly #wall: () => number;

  constructor(opts: PeerTimersOptions = {}) {
    this.#now = opts.now ?? (() => performance.now());
    this.#jitter = opts.jitter ?? defaultJitter;
    this.#wall = opts.wallClock ?? Date.now;
  }

  /** Whether the timers run (peer up on an up device). Events are ignored otherwise. */
  get running(): boolean {
    return this.#running;
  }

  /** Persistent keepalive interval in seconds (0 = off). */
  get persistentKeepalive(): number {
    return this.#persistentKeepaliveMs / 1000;
  }

  /** Starts the timers (wireguard-go `timersStart`): resets attempts and flags. */
  start(): void {
    this.#running = true;
    this.handshakeAttempts = 0;
    this.sentLastMinuteHandshake = false;
    this.needAnotherKeepalive = false;
  }

  /** Stops and disarms every timer (wireguard-go `timersStop`). */
  stop(): void {
    this.#running = false;
    this.#retransmitHandshake = OFF;
    this.#sendKeepalive = OFF;
    this.#newHandshake = OFF;
    this.#zeroKeyMaterial = OFF;
    this.#persistentKeepalive = OFF;
  }

  /**
   * Sets the persistent keepalive interval (0..65535 s, 0 = off). Returns true
   * when it goes from off to on: the caller then sends a keepalive at once if
   * the device is up (wireguard-go `pkaOn`).
   */
  setPersistentKeepalive(seconds: number): boolean {
    if (!Number.isInteger(seconds) || seconds < 0 || seconds > 65535) {
      throw new RangeError(`persistent keepalive must be 0..65535 s, got ${seconds}`);
    }
    const wasOff = this.#persistentKeepaliveMs === 0;
    this.#persistentKeepaliveMs = seconds * 1000;
    if (seconds === 0) this.#persistentKeepalive = OFF;
    return wasOff && seconds !== 0;
  }

  /**
   * Gate for every initiation (wireguard-go `SendHandshakeInitiation`): a
   * non-retry resets the attempt counter; returns false if the previous
   * initiation left less than REKEY_TIMEOUT ago. When true the caller must
   * create and send an initiation, then call {@link onInitiationSent}.
   */
  requestInitiation(isRetry = false): boolean {
    return this.#gate(this.#now(), isRetry);
  }

  /**
   * An initiation was sent: arms retransmitHandshake = 5 s + jitter, and
   * counts as an authenticated packet sent.
   */
  onInitiationSent(): void {
    if (!this.#running) return;
    const now = this.#now();
    this.#sent(now);
    this.#retransmitHandshake = now + REKEY_TIMEOUT_MS + this.#jitter();
  }

  /**
   * A handshake completed (initiator: response consumed; responder: first
   * packet on the new keypair): stops retransmits, resets attempts, clears the
   * last-minute flag, records the handshake time.
   */
  onHandshakeComplete(): void {
    if (this.#running) this.#retransmitHandshake = OFF;
    this.handshakeAttempts = 0;
    this.sentLastMinuteHandshake = false;
    this.lastHandshake = this.#now();
    this.lastHandshakeWallMs = this.#wall();
  }

  /** A keypair was derived: zeroKeyMaterial = 540 s from now. */
  onKeypairDerived(): void {
    if (this.#running) this.#zeroKeyMaterial = this.#now() + ZERO_KEY_MATERIAL_MS;
  }

  /** A data (non-keepalive) packet was sent: arm newHandshake (15 s + jitter) unless pending. */
  onDataSent(): void {
    if (this.#running && this.#newHandshake === OFF) {
      this.#newHandshake = this.#now() + KEEPALIVE_TIMEOUT_MS + REKEY_TIMEOUT_MS + this.#jitter();
    }
  }

  /** A non-empty data packet was received: arm sendKeepalive (10 s) or flag another. */
  onDataReceived(): void {
    if (!this.#running) return;
    if (this.#sendKeepalive === OFF) this.#sendKeepalive = this.#now() + KEEPALIVE_TIMEOUT_MS;
    else this.needAnotherKeepalive = true;
  }

  /** Any authenticated packet (data, keepalive, handshake) was sent. */
  onAuthenticatedPacketSent(): void {
    if (this.#running) this.#sent(this.#now());
  }

  /** Any authenticated packet (data, keepalive, valid handshake) was received. */
  onAuthenticatedPacketReceived(): void {
    if (!this.#running) return;
    this.#newHandshake = OFF;
    this.#traversal(this.#now());
  }

  /**
   * After sending data on the current keypair (wireguard-go
   * `keepKeyFreshSending`): true if the caller must send an initiation now
   * (counter > REKEY_AFTER_MESSAGES, or we initiated the keypair and it is
   * older than 120 s), with the 5 s spacing already applied.
   */
  rekeyAfterSend(keypairCreated: number, isInitiator: boolean, sendCounter: number): boolean {
    const now = this.#now();
    const stale = sendCounter > REKEY_AFTER_MESSAGES_N ||
      (isInitiator && now - keypairCreated > REKEY_AFTER_TIME_MS);
    return stale && this.#gate(now, false);
  }

  /**
   * After receiving on the current keypair (wireguard-go
   * `keepKeyFreshReceiving`): true once, if we initiated it and it is older
   * than 165 s, so that a new one exists before the 180 s reject.
   */
  rekeyAfterReceive(keypairCreated: number, isInitiator: boolean): boolean {
    if (this.sentLastMinuteHandshake) return false;
    const now = this.#now();
    if (!isInitiator || now - keypairCreated <= LAST_MINUTE_HANDSHAKE_MS) return false;
    this.sentLastMinuteHandshake = true;
    return this.#gate(now, false);
  }

  /** Earliest armed deadline (ms), or Infinity. */
  nextDeadline(): number {
    if (!this.#running) return OFF;
    return Math.min(
      this.#retransmitHandshake,
      this.#sendKeepalive,
      this.#newHandshake,
      this.#zeroKeyMaterial,
      this.#persistentKeepalive,
    );
  }

  /** Fires every timer whose deadline is ≤ `now`; returns the {@link TimerAction} bits. */
  poll(now: number = this.#now()): number {
    if (!this.#running) return TimerAction.NONE;
    let actions: number = TimerAction.NONE;
    if (now >= this.#retransmitHandshake) {
      this.#retransmitHandshake = OFF;
      if (this.handshakeAttempts > MAX_TIMER_HANDSHAKES) {
        actions |= TimerAction.GIVE_UP;
        this.#sendKeepalive = OFF;
        if (this.#zeroKeyMaterial === OFF) this.#zeroKeyMaterial = now + ZERO_KEY_MATERIAL_MS;
      } else {
        this.handshakeAttempts++;
        actions |= TimerAction.CLEAR_ENDPOINT_SRC;
        if (this.#gate(now, true)) actions |= TimerAction.SEND_INITIATION;
      }
    }
    if (now >= this.#sendKeepalive) {
      this.#sendKeepalive = OFF;
      actions |= TimerAction.SEND_KEEPALIVE;
      if (this.needAnotherKeepalive) {
        this.needAnotherKeepalive = false;
        this.#sendKeepalive = now + KEEPALIVE_TIMEOUT_MS;
      }
    }
    if (now >= this.#newHandshake) {
      this.#newHandshake = OFF;
      actions |= TimerAction.CLEAR_ENDPOINT_SRC;
      if (this.#gate(now, false)) actions |= TimerAction.SEND_INITIATION;
    }
    if (now >= this.#zeroKeyMaterial) {
      this.#zeroKeyMaterial = OFF;
      actions |= TimerAction.ZERO_KEY_MATERIAL;
    }
    if (now >= this.#persistentKeepalive) {
      this.#persistentKeepalive = OFF;
      if (this.#persistentKeepaliveMs > 0) actions |= TimerAction.SEND_KEEPALIVE;
    }
    return actions;
  }

  /** Deadline of each timer, for tests and `wg show`-style debugging. */
  deadlines(): {
    retransmitHandshake: number;
    sendKeepalive: number;
    newHandshake: number;
    zeroKeyMaterial: number;
    persistentKeepalive: number;
  } {
    return {
      retransmitHandshake: this.#retransmitHandshake,
      sendKeepalive: this.#sendKeepalive,
      newHandshake: this.#newHandshake,
      zeroKeyMaterial: this.#zeroKeyMaterial,
      persistentKeepalive: this.#persistentKeepalive,
    };
  }

  #gate(now: number, isRetry: boolean): boolean {
    if (!isRetry) this.handshakeAttempts = 0;
    if (now - this.lastInitiationSent < REKEY_TIMEOUT_MS) return false;
    this.lastInitiationSent = now;
    return true;
  }

  #sent(now: number): void {
    this.#sendKeepalive = OFF;
    this.#traversal(now);
  }

  #traversal(now: number): void {
    if (this.#persistentKeepaliveMs > 0) {
      this.#persistentKeepalive = now + this.#persistentKeepaliveMs;
    }
  }
}
