/**
 * A fresh module instance and slab pool for one fuzz target, with the views
 * the targets need: drop counters, offload counters, pool in-use.
 * @module
 */
import { N_CODES } from "./abi.ts";
import { instantiate, SlabPool, type TunslabExports } from "./wasm.ts";

/** One target's own instance: a trap in it poisons nothing else. */
export class PoolCtx {
  readonly pool: SlabPool;
  readonly wasm: TunslabExports;
  readonly #stats: number;

  constructor(opts: { chunkSlots?: number; maxSlots?: number } = {}) {
    // The pool keeps its instance to itself: the targets call exports through their own handle.
    this.wasm = instantiate();
    this.pool = SlabPool.create({
      chunkSlots: opts.chunkSlots ?? 64,
      maxSlots: opts.maxSlots ?? 1024,
    }, this.wasm);
    this.#stats = this.pool.scratch(8 * N_CODES);
  }

  get u8(): Uint8Array {
    this.pool.refresh();
    return this.pool.u8;
  }

  get dv(): DataView {
    this.pool.refresh();
    return this.pool.dv;
  }

  /** Drop counters, index k = code −k. */
  drops(): number[] {
    this.wasm.ts_drop_stats(this.#stats);
    return [...new Float64Array(this.wasm.memory.buffer, this.#stats, N_CODES)];
  }

  /** Offload counters (ts_offload_stats): cut, segments, csum completed, units, packets, bad csum. */
  offload(): number[] {
    this.wasm.ts_offload_stats(this.#stats);
    return [...new Float64Array(this.wasm.memory.buffer, this.#stats, 6)];
  }

  inUse(): number {
    return this.pool.stats().inUse;
  }

  /** Allocates `n` slots (offsets written at `ptr`); throws if the pool refuses. */
  alloc(ptr: number, n: number): Uint32Array {
    const got = this.pool.allocBatch(ptr, n);
    if (got !== n) throw new Error(`pool refused: ${got} of ${n} slots`);
    return new Uint32Array(this.wasm.memory.buffer, ptr, n).slice();
  }

  /** Frees `offs` through a scratch array at `ptr`; returns how many were live. */
  free(ptr: number, offs: ArrayLike<number>): number {
    const n = offs.length;
    if (n === 0) return 0;
    this.pool.refresh();
    new Uint32Array(this.wasm.memory.buffer, ptr, n).set(offs);
    return this.pool.freeBatch(ptr, n);
  }
}

/** Per-code increase between two {@link PoolCtx.drops} snapshots, as `{code: count}`. */
export function dropDelta(before: number[], after: number[]): Record<number, number> {
  const d: Record<number, number> = {};
  for (let k = 1; k < before.length; k++) {
    if (after[k] !== before[k]) d[-k] = after[k] - before[k];
  }
  return d;
}

/** `{code: count}` of the negative codes in `codes` except HANDSHAKE. */
export function countCodes(codes: Iterable<number>, skip: number[] = []): Record<number, number> {
  const d: Record<number, number> = {};
  for (const c of codes) if (c < 0 && !skip.includes(c)) d[c] = (d[c] ?? 0) + 1;
  return d;
}
