/**
 * The Noise_IKpsk2 handshake of WireGuard (whitepaper: "Messages"): one {@link Handshake}
 * per peer holding the in-progress state, and the five steps
 * {@link createInitiation}, {@link consumeInitiation}, {@link createResponse},
 * {@link consumeResponse}, {@link deriveTransportKeys}.
 *
 * Messages are written at offset 0 of a caller-supplied `Uint8Array` (a view
 * on a packet slot) and the functions return the length written; mac1/mac2
 * are left zero here and filled by `CookieGenerator.addMacs` (cookie_generator.ts),
 * and the receiver checks them with `CookieChecker` before consuming.
 * Failures return a negative {@link HandshakeError} code; nothing throws on
 * hostile input.
 *
 * @example
 * ```ts
 * import {
 *   consumeInitiation, consumeResponse, createInitiation, createResponse,
 *   deriveTransportKeys, Handshake, randomIndexAllocator,
 * } from "./handshake.ts";
 * import { generatePrivateKey, publicKey } from "./keys.ts";
 *
 * const privA = generatePrivateKey(), privB = generatePrivateKey();
 * const a = { privateKey: privA, publicKey: publicKey(privA) };
 * const b = { privateKey: privB, publicKey: publicKey(privB) };
 * const indices = randomIndexAllocator();
 * const peerOfA = { handshake: new Handshake(a, b.publicKey) }; // A's view of B
 * const peerOfB = { handshake: new Handshake(b, a.publicKey) }; // B's view of A
 *
 * const buf = new Uint8Array(148);
 * createInitiation(peerOfA.handshake, buf, { indices });
 * consumeInitiation(b, buf, { lookup: () => peerOfB, now: 0 });
 * const rlen = createResponse(peerOfB.handshake, buf, { indices });
 * consumeResponse(a, buf.subarray(0, rlen), { lookup: () => peerOfA });
 * const ka = new Uint8Array(64), kb = new Uint8Array(64);
 * deriveTransportKeys(peerOfA.handshake, ka);
 * deriveTransportKeys(peerOfB.handshake, kb);
 * // ka = sendA ‖ recvA, kb = sendB ‖ recvB, with sendA = recvB and recvA = sendB
 * ```
 *
 * @module
 */

import {
  aeadOpen,
  aeadSeal,
  dh,
  dhPublicKey,
  hash,
  INITIAL_CHAIN_KEY,
  INITIAL_HASH,
  isZero,
  kdf1,
  kdf2,
  kdf3,
  KEY_LEN,
  wipe,
} from "./primitives.ts";
import { compareTai64n, tai64n, TAI64N_LEN } from "./tai64n.ts";
import {
  INITIATION,
  MESSAGE_INITIATION,
  MESSAGE_RESPONSE,
  readU32LE,
  RESPONSE,
  writeU32LE,
} from "./messages.ts";
import { HandshakeError, type HandshakeErrorCode } from "./handshake_error.ts";

export {
  HANDSHAKE_ERROR_NAMES,
  HandshakeError,
  type HandshakeErrorCode,
  handshakeErrorName,
} from "./handshake_error.ts";

/** Where a {@link Handshake} is in the protocol (wireguard-go `handshakeState`). */
export const HandshakeState = {
  ZEROED: 0,
  INITIATION_CREATED: 1,
  INITIATION_CONSUMED: 2,
  RESPONSE_CREATED: 3,
  RESPONSE_CONSUMED: 4,
} as const;
/** One of the {@link HandshakeState} values. */
export type HandshakeStateValue = typeof HandshakeState[keyof typeof HandshakeState];

/** `HandshakeInitationRate`: at most one accepted initiation per peer per 20 ms. */
export const HANDSHAKE_INITIATION_RATE_MS = 20;

/** The device's static identity. */
export interface LocalStatic {
  privateKey: Uint8Array;
  publicKey: Uint8Array;
}

/**
 * Hands out the 32-bit sender indices. The device implements it over its
 * index table so indices are unique across all peers and keypairs.
 */
export interface IndexAllocator {
  /** A fresh index, unused by any handshake or keypair, now owned by `hs`. */
  allocate(hs: Handshake): number;
  /** `index` is no longer used by a handshake. */
  release(index: number): void;
}

/** Anything that owns a handshake: the device's peer object. */
export interface HasHandshake {
  readonly handshake: Handshake;
}

/** Result of {@link deriveTransportKeys}; the keys themselves go into the caller's buffer. */
export interface TransportKeysInfo {
  isInitiator: boolean;
  localIndex: number;
  remoteIndex: number;
}

const NO_INDEX = -1;
const SECRETS: unique symbol = Symbol("handshake secrets");

interface Secrets {
  /** Chaining key C. */
  chainKey: Uint8Array;
  /** Handshake hash H. */
  hash: Uint8Array;
  /** Our ephemeral private key. */
  eph: Uint8Array;
  /** The peer's ephemeral public key. */
  reph: Uint8Array;
}
const EMPTY = new Uint8Array(0);

/** A handshake's working state in one buffer: secrets, static-static DH, last timestamp. */
class HandshakeWork {
  readonly #store = new Uint8Array(5 * KEY_LEN + TAI64N_LEN);
  readonly secrets: Secrets = {
    chainKey: this.#store.subarray(0, KEY_LEN),
    hash: this.#store.subarray(KEY_LEN, 2 * KEY_LEN),
    eph: this.#store.subarray(2 * KEY_LEN, 3 * KEY_LEN),
    reph: this.#store.subarray(3 * KEY_LEN, 4 * KEY_LEN),
  };
  readonly staticStatic: Uint8Array = this.#store.subarray(4 * KEY_LEN, 5 * KEY_LEN);
  readonly lastTimestamp: Uint8Array = this.#store.subarray(5 * KEY_LEN);
}

/** Per-peer handshake state (wireguard-go `Handshake`). */
export class Handshake {
  /** Protocol state. */
  state: HandshakeStateValue = HandshakeState.ZEROED;
  /** Both keys in one buffer (a server holds thousands of handshakes). */
  readonly #keys = new Uint8Array(2 * KEY_LEN);
  /** The peer's static public key. */
  readonly remoteStatic: Uint8Array = this.#keys.subarray(0, KEY_LEN);
  /** 32-byte preshared key; all zero when none is configured. */
  readonly presharedKey: Uint8Array = this.#keys.subarray(KEY_LEN, 2 * KEY_LEN);
  /** Our index for this handshake, or -1. After key derivation it belongs to the keypair. */
  localIndex: number = NO_INDEX;
  /** The peer's index for this handshake. */
  remoteIndex = 0;
  /** Greatest TAI64N accepted from this peer. */
  get lastTimestamp(): Uint8Array {
    return (this.#work ??= new HandshakeWork()).lastTimestamp;
  }
  /** Clock value (ms) of the last accepted initiation; -Infinity if none. */
  lastInitiationConsumed = -Infinity;

  /** Chaining key, hash and ephemerals: module-private (keyed by a non-exported symbol). */
  get [SECRETS](): Secrets {
    return (this.#work ??= new HandshakeWork()).secrets;
  }
  /** Timestamp, secrets, static-static DH: made at the first handshake (idle peers never do). */
  #work: HandshakeWork | null = null;
  #local: LocalStatic | null = null;
  /** Whether the work state's `staticStatic` holds the DH for the current local key. */
  #staticStaticKnown = false;

  constructor(
    local: LocalStatic | null,
    remoteStatic: Uint8Array,
    presharedKey: Uint8Array | null = null,
  ) {
    if (remoteStatic.length !== KEY_LEN) {
      throw new RangeError(`Handshake needs a ${KEY_LEN}-byte remote static key`);
    }
    this.remoteStatic.set(remoteStatic);
    this.setPresharedKey(presharedKey);
    this.setLocalStatic(local);
  }

  /** The local identity in use, or null. */
  get local(): LocalStatic | null {
    return this.#local;
  }

  /**
   * `DH(S_priv_local, S_pub_remote)`, or all zero if unavailable (no local key, or an
   * all-zero result, which makes every handshake with this peer fail with `ZERO_DH`).
   * Computed once, at the first use after the peer was created or the local key
   * changed, and kept: adding peers costs no X25519, and a handshake costs only its
   * ephemeral DHs. The array is the cache itself: read it, do not write it.
   */
  get precomputedStaticStatic(): Uint8Array {
    const w = this.#work ??= new HandshakeWork();
    if (!this.#staticStaticKnown) {
      const ss = this.#local === null ? null : dh(this.#local.privateKey, this.remoteStatic);
      if (ss !== null) w.staticStatic.set(ss);
      wipe(ss);
      this.#staticStaticKnown = true;
    }
    return w.staticStatic;
  }

  /**
   * Sets (or clears) the local static identity; the cached
   * {@link Handshake.precomputedStaticStatic} is wiped and recomputed at its next use.
   */
  setLocalStatic(local: LocalStatic | null): void {
    this.#local = local;
    this.#work?.staticStatic.fill(0);
    this.#staticStaticKnown = false;
  }

  /** Sets the preshared key (null or all zero = none). */
  setPresharedKey(psk: Uint8Array | null): void {
    if (psk !== null && psk.length !== KEY_LEN) {
      throw new RangeError(`Preshared key must be ${KEY_LEN} bytes`);
    }
    if (psk === null) this.presharedKey.fill(0);
    else this.presharedKey.set(psk);
  }

  /**
   * Forgets any in-progress handshake (wireguard-go `Handshake.Clear`):
   * wipes ephemerals, chaining key and hash, and releases the local index
   * through `indices` if one is held.
   */
  clear(indices?: IndexAllocator): void {
    if (this.localIndex !== NO_INDEX) indices?.release(this.localIndex);
    this.localIndex = NO_INDEX;
    const s = this.#work?.secrets;
    if (s !== undefined) wipe(s.chainKey, s.hash, s.eph, s.reph);
    this.state = HandshakeState.ZEROED;
  }
}

/** Options of {@link createInitiation}. */
export interface CreateInitiationOptions {
  /** Allocates the sender index (the previous one is released). */
  indices: IndexAllocator;
  /** Fixed ephemeral private key (tests); default: fresh random, clamped. */
  ephemeralPrivate?: Uint8Array;
  /** 12-byte TAI64N to send; default `tai64n(Date.now())`. */
  timestamp?: Uint8Array;
}

/**
 * Builds a handshake initiation (148 bytes) at `out[0..]` for the peer of
 * `hs`; returns 148 or a negative {@link HandshakeError}. mac1/mac2 are zero.
 */
export function createInitiation(
  hs: Handshake,
  out: Uint8Array,
  opts: CreateInitiationOptions,
): number {
  const local = hs.local;
  if (local === null) return HandshakeError.NO_PRIVATE_KEY;
  if (out.length < INITIATION.SIZE) return HandshakeError.BAD_LENGTH;
  const s = hs[SECRETS];
  const msg = out.subarray(0, INITIATION.SIZE);
  msg.fill(0);

  let chainKey: Uint8Array = new Uint8Array(INITIAL_CHAIN_KEY);
  let h = hash(INITIAL_HASH, hs.remoteStatic);
  const eph = ephemeralKey(opts.ephemeralPrivate);
  const ephPub = dhPublicKey(eph);

  writeU32LE(msg, 0, MESSAGE_INITIATION);
  msg.set(ephPub, INITIATION.EPHEMERAL);
  chainKey = step(chainKey, kdf1(chainKey, ephPub));
  h = step(h, hash(h, ephPub));

  // encrypted static
  const es = dh(eph, hs.remoteStatic);
  if (es === null) return fail(eph, chainKey, h);
  let [ck, key] = kdf2(chainKey, es);
  wipe(es, chainKey);
  chainKey = ck;
  const encStatic = msg.subarray(INITIATION.STATIC, INITIATION.STATIC + INITIATION.STATIC_LEN);
  aeadSeal(key, 0, local.publicKey, h, encStatic);
  wipe(key);
  h = step(h, hash(h, encStatic));

  // encrypted timestamp
  if (isZero(hs.precomputedStaticStatic)) return fail(eph, chainKey, h);
  [ck, key] = kdf2(chainKey, hs.precomputedStaticStatic);
  wipe(chainKey);
  chainKey = ck;
  const ts = opts.timestamp ?? tai64n();
  const encTs = msg.subarray(INITIATION.TIMESTAMP, INITIATION.TIMESTAMP + INITIATION.TIMESTAMP_LEN);
  aeadSeal(key, 0, ts, h, encTs);
  wipe(key);
  h = step(h, hash(h, encTs));

  // index: release the previous one, take a fresh one
  if (hs.localIndex !== NO_INDEX) opts.indices.release(hs.localIndex);
  hs.localIndex = opts.indices.allocate(hs) >>> 0;
  writeU32LE(msg, INITIATION.SENDER, hs.localIndex);

  s.chainKey.set(chainKey);
  s.hash.set(h);
  s.eph.set(eph);
  wipe(chainKey, h, eph);
  hs.state = HandshakeState.INITIATION_CREATED;
  return INITIATION.SIZE;
}

/** Options of {@link consumeInitiation}. */
export interface ConsumeInitiationOptions<T extends HasHandshake> {
  /** Finds the peer with this static public key (32 bytes); undefined → `UNKNOWN_PEER`. */
  lookup: (remoteStatic: Uint8Array) => T | undefined;
  /** Monotonic clock in ms, for the 20 ms flood limit. */
  now: number;
  /** Message length if `msg` is a larger slot view; default `msg.length`. */
  length?: number;
}

/**
 * Consumes a handshake initiation (mac1, and mac2 under load, already
 * checked by the caller). On success the peer's handshake moves to
 * `INITIATION_CONSUMED` and the peer is returned; else a negative
 * {@link HandshakeError} and no peer state changes.
 */
export function consumeInitiation<T extends HasHandshake>(
  local: LocalStatic | null,
  msg: Uint8Array,
  opts: ConsumeInitiationOptions<T>,
): T | HandshakeErrorCode {
  const len = opts.length ?? msg.length;
  if (len !== INITIATION.SIZE || msg.length < len) return HandshakeError.BAD_LENGTH;
  if (readU32LE(msg, 0) !== MESSAGE_INITIATION) return HandshakeError.BAD_TYPE;
  if (local === null) return HandshakeError.NO_PRIVATE_KEY;

  const ephPub = msg.subarray(INITIATION.EPHEMERAL, INITIATION.EPHEMERAL + KEY_LEN);
  let h = hash(INITIAL_HASH, local.publicKey);
  h = step(h, hash(h, ephPub));
  let chainKey = kdf1(INITIAL_CHAIN_KEY, ephPub);

  // decrypt static
  const se = dh(local.privateKey, ephPub);
  if (se === null) return fail(null, chainKey, h);
  let [ck, key] = kdf2(chainKey, se);
  wipe(se, chainKey);
  chainKey = ck;
  const encStatic = msg.subarray(INITIATION.STATIC, INITIATION.STATIC + INITIATION.STATIC_LEN);
  const peerPub = aeadOpen(key, 0, encStatic, h);
  wipe(key);
  if (peerPub === null) return fail(null, chainKey, h, HandshakeError.DECRYPT);
  h = step(h, hash(h, encStatic));

  const peer = opts.lookup(peerPub);
  if (peer === undefined) return fail(null, chainKey, h, HandshakeError.UNKNOWN_PEER);
  const hs = peer.handshake;

  // decrypt timestamp
  if (isZero(hs.precomputedStaticStatic)) return fail(null, chainKey, h);
  [ck, key] = kdf2(chainKey, hs.precomputedStaticStatic);
  wipe(chainKey);
  chainKey = ck;
  const encTs = msg.subarray(INITIATION.TIMESTAMP, INITIATION.TIMESTAMP + INITIATION.TIMESTAMP_LEN);
  const ts = aeadOpen(key, 0, encTs, h);
  wipe(key);
  if (ts === null) return fail(null, chainKey, h, HandshakeError.DECRYPT);
  h = step(h, hash(h, encTs));

  // replay and flood protection
  if (compareTai64n(ts, hs.lastTimestamp) <= 0) {
    return fail(null, chainKey, h, HandshakeError.REPLAY);
  }
  if (opts.now - hs.lastInitiationConsumed <= HANDSHAKE_INITIATION_RATE_MS) {
    return fail(null, chainKey, h, HandshakeError.FLOOD);
  }

  const s = hs[SECRETS];
  s.hash.set(h);
  s.chainKey.set(chainKey);
  s.reph.set(ephPub);
  hs.remoteIndex = readU32LE(msg, INITIATION.SENDER);
  hs.lastTimestamp.set(ts);
  if (opts.now > hs.lastInitiationConsumed) hs.lastInitiationConsumed = opts.now;
  hs.state = HandshakeState.INITIATION_CONSUMED;
  wipe(h, chainKey);
  return peer;
}

/** Options of {@link createResponse}. */
export interface CreateResponseOptions {
  /** Allocates the sender index (the previous one is released). */
  indices: IndexAllocator;
  /** Fixed ephemeral private key (tests); default: fresh random, clamped. */
  ephemeralPrivate?: Uint8Array;
}

/**
 * Builds the handshake response (92 bytes) at `out[0..]` to the initiation
 * consumed into `hs`; returns 92 or a negative {@link HandshakeError}.
 * mac1/mac2 are zero.
 */
export function createResponse(
  hs: Handshake,
  out: Uint8Array,
  opts: CreateResponseOptions,
): number {
  if (hs.state !== HandshakeState.INITIATION_CONSUMED) return HandshakeError.WRONG_STATE;
  if (out.length < RESPONSE.SIZE) return HandshakeError.BAD_LENGTH;
  const s = hs[SECRETS];
  const msg = out.subarray(0, RESPONSE.SIZE);
  msg.fill(0);

  const eph = ephemeralKey(opts.ephemeralPrivate);
  const ephPub = dhPublicKey(eph);
  let h = hash(s.hash, ephPub);
  let chainKey = kdf1(s.chainKey, ephPub);

  const ee = dh(eph, s.reph);
  if (ee === null) return fail(eph, chainKey, h);
  chainKey = step(chainKey, kdf1(chainKey, ee));
  wipe(ee);
  const se = dh(eph, hs.remoteStatic);
  if (se === null) return fail(eph, chainKey, h);
  chainKey = step(chainKey, kdf1(chainKey, se));
  wipe(se);

  const [ck, tau, key] = kdf3(chainKey, hs.presharedKey);
  wipe(chainKey);
  chainKey = ck;
  h = step(h, hash(h, tau));
  wipe(tau);
  const empty = msg.subarray(RESPONSE.EMPTY, RESPONSE.EMPTY + RESPONSE.EMPTY_LEN);
  aeadSeal(key, 0, EMPTY, h, empty);
  wipe(key);
  h = step(h, hash(h, empty));

  if (hs.localIndex !== NO_INDEX) opts.indices.release(hs.localIndex);
  hs.localIndex = opts.indices.allocate(hs) >>> 0;
  writeU32LE(msg, 0, MESSAGE_RESPONSE);
  writeU32LE(msg, RESPONSE.SENDER, hs.localIndex);
  writeU32LE(msg, RESPONSE.RECEIVER, hs.remoteIndex);
  msg.set(ephPub, RESPONSE.EPHEMERAL);

  s.chainKey.set(chainKey);
  s.hash.set(h);
  s.eph.set(eph);
  wipe(chainKey, h, eph);
  hs.state = HandshakeState.RESPONSE_CREATED;
  return RESPONSE.SIZE;
}

/** Options of {@link consumeResponse}. */
export interface ConsumeResponseOptions<T extends HasHandshake> {
  /** Finds the peer whose handshake holds this local index; undefined → `UNKNOWN_INDEX`. */
  lookup: (receiverIndex: number) => T | undefined;
  /** Message length if `msg` is a larger slot view; default `msg.length`. */
  length?: number;
}

/**
 * Consumes a handshake response (mac1 already checked by the caller). On
 * success the handshake moves to `RESPONSE_CONSUMED` and the peer is returned.
 */
export function consumeResponse<T extends HasHandshake>(
  local: LocalStatic | null,
  msg: Uint8Array,
  opts: ConsumeResponseOptions<T>,
): T | HandshakeErrorCode {
  const len = opts.length ?? msg.length;
  if (len !== RESPONSE.SIZE || msg.length < len) return HandshakeError.BAD_LENGTH;
  if (readU32LE(msg, 0) !== MESSAGE_RESPONSE) return HandshakeError.BAD_TYPE;
  if (local === null) return HandshakeError.NO_PRIVATE_KEY;
  const receiver = readU32LE(msg, RESPONSE.RECEIVER);
  const peer = opts.lookup(receiver);
  if (peer === undefined) return HandshakeError.UNKNOWN_INDEX;
  const hs = peer.handshake;
  if (hs.state !== HandshakeState.INITIATION_CREATED || hs.localIndex !== receiver) {
    return HandshakeError.WRONG_STATE;
  }
  const s = hs[SECRETS];

  const ephPub = msg.subarray(RESPONSE.EPHEMERAL, RESPONSE.EPHEMERAL + KEY_LEN);
  let h = hash(s.hash, ephPub);
  let chainKey = kdf1(s.chainKey, ephPub);

  const ee = dh(s.eph, ephPub);
  if (ee === null) return fail(null, chainKey, h);
  chainKey = step(chainKey, kdf1(chainKey, ee));
  wipe(ee);
  const se = dh(local.privateKey, ephPub);
  if (se === null) return fail(null, chainKey, h);
  chainKey = step(chainKey, kdf1(chainKey, se));
  wipe(se);

  const [ck, tau, key] = kdf3(chainKey, hs.presharedKey);
  wipe(chainKey);
  chainKey = ck;
  h = step(h, hash(h, tau));
  wipe(tau);
  const empty = msg.subarray(RESPONSE.EMPTY, RESPONSE.EMPTY + RESPONSE.EMPTY_LEN);
  const ok = aeadOpen(key, 0, empty, h);
  wipe(key);
  if (ok === null) return fail(null, chainKey, h, HandshakeError.DECRYPT);
  h = step(h, hash(h, empty));

  s.hash.set(h);
  s.chainKey.set(chainKey);
  hs.remoteIndex = readU32LE(msg, RESPONSE.SENDER);
  hs.state = HandshakeState.RESPONSE_CONSUMED;
  wipe(h, chainKey);
  return peer;
}

/**
 * Derives the transport keys from a completed handshake (`RESPONSE_CONSUMED`
 * on the initiator, `RESPONSE_CREATED` on the responder):
 * `(T1, T2) = KDF2(C, "")`, initiator sends with T1, responder with T2.
 * Writes `send key ‖ receive key` (64 bytes, the layout `ts_keypair_set`
 * takes) at `keysOut[0..64]`, then wipes C, H and the ephemeral private key
 * and hands the local index over to the keypair (`hs.localIndex` becomes -1;
 * the caller's index table must now map it to the keypair).
 */
export function deriveTransportKeys(
  hs: Handshake,
  keysOut: Uint8Array,
): TransportKeysInfo | HandshakeErrorCode {
  let isInitiator: boolean;
  if (hs.state === HandshakeState.RESPONSE_CONSUMED) isInitiator = true;
  else if (hs.state === HandshakeState.RESPONSE_CREATED) isInitiator = false;
  else return HandshakeError.WRONG_STATE;
  if (keysOut.length < 2 * KEY_LEN) return HandshakeError.BAD_LENGTH;
  const s = hs[SECRETS];
  const [t1, t2] = kdf2(s.chainKey, EMPTY);
  keysOut.set(isInitiator ? t1 : t2, 0);
  keysOut.set(isInitiator ? t2 : t1, KEY_LEN);
  wipe(t1, t2, s.chainKey, s.hash, s.eph, s.reph);
  const info = { isInitiator, localIndex: hs.localIndex, remoteIndex: hs.remoteIndex };
  hs.localIndex = NO_INDEX;
  hs.state = HandshakeState.ZEROED;
  return info;
}

/**
 * An {@link IndexAllocator} drawing random u32s and refusing duplicates
 * within itself. Enough for tests and single-device use; a device with its
 * own index table should implement the interface over that table.
 */
export function randomIndexAllocator(): IndexAllocator & { readonly live: ReadonlySet<number> } {
  const live = new Set<number>();
  const r = new Uint32Array(1);
  return {
    live,
    allocate(): number {
      for (;;) {
        crypto.getRandomValues(r);
        if (!live.has(r[0])) {
          live.add(r[0]);
          return r[0];
        }
      }
    },
    release(index: number): void {
      live.delete(index);
    },
  };
}

function ephemeralKey(fixed: Uint8Array | undefined): Uint8Array {
  const k = fixed === undefined
    ? crypto.getRandomValues(new Uint8Array(KEY_LEN))
    : new Uint8Array(fixed);
  k[0] &= 248;
  k[31] &= 127;
  k[31] |= 64;
  return k;
}

/** Replaces a secret with its successor, wiping the old value. */
function step(old: Uint8Array, next: Uint8Array): Uint8Array {
  old.fill(0);
  return next;
}

function fail(
  eph: Uint8Array | null,
  chainKey: Uint8Array,
  h: Uint8Array,
  code: HandshakeErrorCode = HandshakeError.ZERO_DH,
): HandshakeErrorCode {
  wipe(eph, chainKey, h);
  return code;
}
