/**
 * Names of the data plane's negative result codes (wasm/src/errors.rs). Each
 * code is also the index of a drop counter, so these names label the
 * "dropped" section of stats and logs.
 *
 * @example
 * ```ts
 * import { dropReasonName } from "./drop_reason.ts";
 * dropReasonName(-9); // "auth"
 * ```
 * @module
 */

/** Code → short name, index = −code. */
export const DROP_REASONS: readonly string[] = [
  "none",
  "truncated",
  "bad_version",
  "bad_header_len",
  "bad_total_len",
  "not_live",
  "misaligned",
  "foreign",
  "exhausted",
  "auth",
  "replay",
  "no_route",
  "no_key",
  "unknown_index",
  "not_allowed",
  "bad_type",
  "bad_msg_len",
  "too_big",
  "bad_arg",
  "key_expired",
  "table_full",
  "checksum",
  "bad_gso",
];

/** Number of drop counters the data plane keeps (`N_CODES`). */
export const N_CODES = 32;

/** Not a drop: a handshake or cookie message for the TypeScript side. */
export const HANDSHAKE = -100;

export const E_TRUNCATED = -1;
export const E_NOT_LIVE = -5;
export const E_MISALIGNED = -6;
export const E_FOREIGN = -7;
export const E_EXHAUSTED = -8;
export const E_AUTH = -9;
export const E_REPLAY = -10;
export const E_NO_ROUTE = -11;
export const E_NO_KEY = -12;
export const E_KEY_EXPIRED = -19;

/** Short name of a negative code, e.g. `-9` → `"auth"`. */
export function dropReasonName(code: number): string {
  return DROP_REASONS[-code] ?? `code_${-code}`;
}
