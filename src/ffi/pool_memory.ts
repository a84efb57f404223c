/**
 * What the FFI layer needs from a slab pool: where linear memory starts and how a slot is laid out.
 * `SlabPool` (src/wasm/slab.ts) satisfies it structurally; the I/O classes read `base` on every call, so
 * a `memory.grow()` that moves the buffer is picked up without re-registration. `checkRange` and
 * `checkBatch` keep every address handed to the kernel inside linear memory.
 *
 * @example
 * ```ts
 * import type { PoolMemory } from "./pool_memory.ts";
 * const packetAddress = (pool: PoolMemory, off: number): number => pool.base + off + pool.headroom;
 * ```
 * @module
 */

/** The slot geometry and the current numeric address of `memory.buffer[0]`. */
export interface PoolMemory {
  /** Numeric address of linear memory byte 0; changes only after `memory.grow()`. */
  readonly base: number;
  /** Bytes per slot (2048). */
  readonly slotSize: number;
  /** Bytes in front of an IP packet in its slot (16). */
  readonly headroom: number;
  /** Linear memory as bytes; its `length` bounds every range handed to the kernel. */
  readonly u8: Uint8Array;
}

/**
 * Throws unless `[off, off + len)` lies inside linear memory. The kernel writes through these
 * addresses, so a stray offset must become an exception, not a write into someone else's memory.
 */
export function checkRange(pool: PoolMemory, what: string, off: number, len: number): void {
  if (!(off >= 0 && len >= 0 && off + len <= pool.u8.length)) {
    throw new RangeError(`${what}: [${off}, +${len}) outside linear memory (${pool.u8.length} B)`);
  }
}

/** `n` must fit the arrays: a missing offset would become address 0 + base. */
export function checkBatch(offs: Uint32Array, lens: Uint32Array, n: number): void {
  if (!(n >= 0 && n <= offs.length && n <= lens.length)) {
    throw new RangeError(`batch of ${n} but ${offs.length} offsets and ${lens.length} lengths`);
  }
}
