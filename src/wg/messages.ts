/**
 * Wire layout of the three handshake-plane messages (whitepaper: "Messages"): types,
 * exact sizes and field offsets, plus little-endian u32 accessors.
 * Transport data (type 4) belongs to the WASM data plane.
 *
 * @example
 * ```ts
 * import { INITIATION, MESSAGE_INITIATION, readU32LE } from "./messages.ts";
 * const msg = new Uint8Array(INITIATION.SIZE);
 * msg[0] = MESSAGE_INITIATION;
 * console.log(readU32LE(msg, 0)); // 1
 * ```
 *
 * @module
 */

/** Message type of a handshake initiation. */
export const MESSAGE_INITIATION = 1;
/** Message type of a handshake response. */
export const MESSAGE_RESPONSE = 2;
/** Message type of a cookie reply. */
export const MESSAGE_COOKIE_REPLY = 3;
/** Message type of transport data. */
export const MESSAGE_TRANSPORT = 4;

/** Handshake initiation, 148 bytes. */
export const INITIATION = {
  SIZE: 148,
  TYPE: 0,
  SENDER: 4,
  EPHEMERAL: 8,
  STATIC: 40,
  STATIC_LEN: 48,
  TIMESTAMP: 88,
  TIMESTAMP_LEN: 28,
  MAC1: 116,
  MAC2: 132,
} as const;

/** Handshake response, 92 bytes. */
export const RESPONSE = {
  SIZE: 92,
  TYPE: 0,
  SENDER: 4,
  RECEIVER: 8,
  EPHEMERAL: 12,
  EMPTY: 44,
  EMPTY_LEN: 16,
  MAC1: 60,
  MAC2: 76,
} as const;

/** Cookie reply, 64 bytes. */
export const COOKIE_REPLY = {
  SIZE: 64,
  TYPE: 0,
  RECEIVER: 4,
  NONCE: 8,
  COOKIE: 32,
  COOKIE_LEN: 32,
} as const;

/** Reads a little-endian u32 at `buf[off..off+4]`. */
export function readU32LE(buf: Uint8Array, off: number): number {
  return (buf[off] | (buf[off + 1] << 8) | (buf[off + 2] << 16) | (buf[off + 3] << 24)) >>> 0;
}

/** Writes `v` as a little-endian u32 at `buf[off..off+4]`. */
export function writeU32LE(buf: Uint8Array, off: number, v: number): void {
  buf[off] = v & 0xff;
  buf[off + 1] = (v >>> 8) & 0xff;
  buf[off + 2] = (v >>> 16) & 0xff;
  buf[off + 3] = (v >>> 24) & 0xff;
}

/**
 * The message type as wireguard-go reads it: bytes 0-3 as a LE u32, so a
 * non-zero reserved byte yields an unknown type.
 */
export function messageType(buf: Uint8Array, len: number = buf.length): number {
  return len < 4 ? -1 : readU32LE(buf, 0);
}
