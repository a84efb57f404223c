/**
 * TAI64N timestamps (12 bytes: `BE64(2^62 + 10 + unix_seconds) ‖ BE32(nanos)`)
 * as carried, encrypted, in handshake initiations. Like wireguard-go, the
 * nanoseconds are whitened (`nanos & ~0xFFFFFF`, ~16.8 ms granularity) so the
 * timestamp leaks less about the sender's clock. Responders compare them
 * bytewise to reject replays.
 *
 * @example
 * ```ts
 * import { compareTai64n, tai64n } from "./tai64n.ts";
 * const a = tai64n(1_700_000_000_000);
 * const b = tai64n(1_700_000_001_000);
 * console.log(compareTai64n(a, b)); // -1
 * ```
 *
 * @module
 */

/** Size of a TAI64N label. */
export const TAI64N_LEN = 12;
/** Low 24 bits of the nanoseconds are cleared (wireguard-go `whitenerMask`). */
export const TAI64N_WHITENER_MASK = 0xffffff;

const TWO_32 = 0x1_0000_0000;

/**
 * Writes the whitened TAI64N label of `unixMs` (milliseconds since the Unix
 * epoch; fractional values keep sub-millisecond precision) at `out[offset..+12]`.
 * Times before 1970 are clamped to the epoch.
 */
export function writeTai64n(out: Uint8Array, offset: number, unixMs: number): void {
  const ms = Math.max(0, unixMs);
  const secs = Math.floor(ms / 1000);
  const nanos = Math.min(999_999_999, Math.floor((ms - secs * 1000) * 1e6));
  const whitened = (nanos & ~TAI64N_WHITENER_MASK) >>> 0;
  // 0x400000000000000a + secs, split into two u32 halves without precision loss.
  const low = 10 + secs;
  const hi = 0x4000_0000 + Math.floor(low / TWO_32);
  const lo = low % TWO_32;
  const dv = new DataView(out.buffer, out.byteOffset + offset, TAI64N_LEN);
  dv.setUint32(0, hi, false);
  dv.setUint32(4, lo, false);
  dv.setUint32(8, whitened, false);
}

/** The whitened TAI64N label of `unixMs` (default: now, from `Date.now()`). */
export function tai64n(unixMs: number = Date.now()): Uint8Array {
  const out = new Uint8Array(TAI64N_LEN);
  writeTai64n(out, 0, unixMs);
  return out;
}

/** Bytewise comparison of two labels: -1 if `a < b`, 0 if equal, 1 if `a > b`. */
export function compareTai64n(a: Uint8Array, b: Uint8Array): -1 | 0 | 1 {
  for (let i = 0; i < TAI64N_LEN; i++) {
    if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  }
  return 0;
}
