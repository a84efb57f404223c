/**
 * Constants and error codes of wasm/ABI.md, written down again from the
 * document (not imported from src/) so the models below follow the contract,
 * not the implementation.
 * @module
 */
import { equal } from "node:assert/strict";

export const SLOT_SIZE = 2048;
export const HEADROOM = 16;
/** Largest limits `ts_tables_init` takes, and the limits when none is set. */
export const MAX_PEERS = 1 << 20;
export const DEFAULT_MAX_PEERS = 65536;
export const MAX_KEYPAIRS = 1 << 22;
export const DEFAULT_MAX_KEYPAIRS = 262144;
export const MAX_PREFIXES = 1 << 22;
export const DEFAULT_MAX_PREFIXES = 1 << 20;
export const MAX_PLAINTEXT = 2016;
/** A large (class 1) slot, and the largest padded plaintext it holds. */
export const LARGE_SLOT_SIZE = 65536;
export const LARGE_MAX_PLAINTEXT = 65504;
/** Large slots per growth step, and small slots per step of the targets' pools. */
export const LARGE_CHUNK_SLOTS = 8;
export const JUMBO_LEN = 65536;
export const MAX_PLAN = 1024;
export const UNIT_HDR_STRIDE = 160;
export const MAX_UNIT_SEGS = 64;
/** IP + L4 header bytes a super-packet or a unit may have ("IP+L4 header ≤ 128 bytes"). */
export const MAX_HDR_LEN = 128;
/** 2^64 − 2^13 − 1. */
export const REJECT_AFTER_MESSAGES = (1n << 64n) - (1n << 13n) - 1n;
/** Replay window of ABI.md's E_REPLAY ("too old (window 8128)"). */
export const REPLAY_WINDOW = 8128n;
export const N_CODES = 32;

export const E_TRUNCATED = -1;
export const E_BAD_VERSION = -2;
export const E_BAD_HEADER_LEN = -3;
export const E_BAD_TOTAL_LEN = -4;
export const E_NOT_LIVE = -5;
export const E_MISALIGNED = -6;
export const E_FOREIGN = -7;
export const E_EXHAUSTED = -8;
export const E_AUTH = -9;
export const E_REPLAY = -10;
export const E_NO_ROUTE = -11;
export const E_NO_KEY = -12;
export const E_UNKNOWN_INDEX = -13;
export const E_NOT_ALLOWED = -14;
export const E_BAD_TYPE = -15;
export const E_BAD_MSG_LEN = -16;
export const E_TOO_BIG = -17;
export const E_BAD_ARG = -18;
export const E_KEY_EXPIRED = -19;
export const E_TABLE_FULL = -20;
export const E_BAD_GSO = -22;
export const HANDSHAKE = -100;

const NAMES: Record<number, string> = {
  [E_TRUNCATED]: "E_TRUNCATED",
  [E_BAD_VERSION]: "E_BAD_VERSION",
  [E_BAD_HEADER_LEN]: "E_BAD_HEADER_LEN",
  [E_BAD_TOTAL_LEN]: "E_BAD_TOTAL_LEN",
  [E_NOT_LIVE]: "E_NOT_LIVE",
  [E_MISALIGNED]: "E_MISALIGNED",
  [E_FOREIGN]: "E_FOREIGN",
  [E_EXHAUSTED]: "E_EXHAUSTED",
  [E_AUTH]: "E_AUTH",
  [E_REPLAY]: "E_REPLAY",
  [E_NO_ROUTE]: "E_NO_ROUTE",
  [E_NO_KEY]: "E_NO_KEY",
  [E_UNKNOWN_INDEX]: "E_UNKNOWN_INDEX",
  [E_NOT_ALLOWED]: "E_NOT_ALLOWED",
  [E_BAD_TYPE]: "E_BAD_TYPE",
  [E_BAD_MSG_LEN]: "E_BAD_MSG_LEN",
  [E_TOO_BIG]: "E_TOO_BIG",
  [E_BAD_ARG]: "E_BAD_ARG",
  [E_KEY_EXPIRED]: "E_KEY_EXPIRED",
  [E_TABLE_FULL]: "E_TABLE_FULL",
  [E_BAD_GSO]: "E_BAD_GSO",
  [HANDSHAKE]: "HANDSHAKE",
};

/** `E_AUTH` for −9, the number itself for a non-negative result. */
export function codeName(code: number): string {
  return NAMES[code] ?? String(code);
}

/** A pointer no export may accept: past the end of any linear memory this suite creates. */
export const BAD_PTR = 0xffff_ff00;

/** Asserts a result code, naming both codes in the message. */
export function codeEq(got: number, want: number, what: string): void {
  if (got !== want) {
    equal(codeName(got), codeName(want), `${what}: got ${codeName(got)}, want ${codeName(want)}`);
  }
}
