/**
 * The negative results of the handshake functions (src/wg/handshake.ts), and their names: a
 * rejection reaches logs and stats as `initiation_replayed`, never as `initiation_-6`.
 *
 * @example
 * ```ts
 * import { HandshakeError, handshakeErrorName } from "./handshake_error.ts";
 * console.log(handshakeErrorName(HandshakeError.REPLAY)); // "replayed"
 * ```
 * @module
 */

/** Negative results of the handshake functions. */
export const HandshakeError = {
  /** The message is not exactly 148 (initiation) / 92 (response) bytes, or `out` is too small. */
  BAD_LENGTH: -1,
  /** Bytes 0-3 (type + reserved, as LE u32) are not the expected type. */
  BAD_TYPE: -2,
  /** A Diffie-Hellman result was all zero (low-order point) or no static-static secret. */
  ZERO_DH: -3,
  /** An AEAD tag did not verify. */
  DECRYPT: -4,
  /** The decrypted static key names no known peer. */
  UNKNOWN_PEER: -5,
  /** Timestamp not after the greatest one accepted from this peer. */
  REPLAY: -6,
  /** Initiation within 20 ms of the last accepted one from this peer. */
  FLOOD: -7,
  /** The handshake is not in the state this step needs. */
  WRONG_STATE: -8,
  /** A response's receiver index names no handshake waiting for one. */
  UNKNOWN_INDEX: -9,
  /** No local private key is configured. */
  NO_PRIVATE_KEY: -10,
} as const;
/** One of the {@link HandshakeError} codes. */
export type HandshakeErrorCode = typeof HandshakeError[keyof typeof HandshakeError];

/** Name of each {@link HandshakeError} code, for logs and the "rejected" stats. */
export const HANDSHAKE_ERROR_NAMES: Readonly<Record<HandshakeErrorCode, string>> = {
  [HandshakeError.BAD_LENGTH]: "bad_length",
  [HandshakeError.BAD_TYPE]: "bad_type",
  [HandshakeError.ZERO_DH]: "zero_dh",
  [HandshakeError.DECRYPT]: "decrypt_failed",
  [HandshakeError.UNKNOWN_PEER]: "unknown_peer",
  [HandshakeError.REPLAY]: "replayed",
  [HandshakeError.FLOOD]: "flood",
  [HandshakeError.WRONG_STATE]: "wrong_state",
  [HandshakeError.UNKNOWN_INDEX]: "unknown_index",
  [HandshakeError.NO_PRIVATE_KEY]: "no_private_key",
};

/** The name of a {@link HandshakeError} code, e.g. `-6` → `"replayed"` (`"unknown_error"` if none). */
export function handshakeErrorName(code: number): string {
  return (HANDSHAKE_ERROR_NAMES as Record<number, string>)[code] ?? "unknown_error";
}
