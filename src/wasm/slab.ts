/**
 * The slab pool: packet slots in the data plane's linear memory, of two
 * classes: small slots ({@link SlabPool.slotSize}, 2 KiB) for every packet of
 * a common MTU, and large slots (`LARGE_SLOT_SIZE`, 64 KiB), grown
 * lazily, for packets longer than a small slot holds. One cap bounds both
 * classes together. A packet owns its slot from the read that fills it to the
 * write that ends it; the slot then goes back to the pool (one free call for
 * either class).
 *
 * The hot path never creates {@link Packet} handles: it passes slot offsets
 * in u32 arrays that live in the module's scratch area ({@link SlabPool.scratch},
 * laid out with src/wasm/scratch_arrays.ts), so one export call allocates or
 * frees a whole batch.
 *
 * `memory.grow` (the pool growing by a chunk) detaches `memory.buffer`, so
 * every typed array over it goes stale; {@link SlabPool.onRemap} listeners
 * rebuild theirs. Growth only happens inside alloc calls (and `ts_tun_ingest`,
 * which allocates segment slots: call {@link SlabPool.refresh} after it).
 *
 * The pool keeps its module instance to itself. Whoever needs other exports
 * (the control plane in src/wasm/data_plane.ts, the data path) gets the
 * instance from the one who created it and passed it to {@link SlabPool.create}.
 *
 * @example
 * ```ts
 * import { SlabPool } from "./slab.ts";
 * using pool = SlabPool.create({ chunkSlots: 64, maxSlots: 1024 });
 * {
 *   using pkt = pool.alloc();
 *   pkt.bytes(4).set([0x45, 0, 0, 20]);
 * } // slot returned here
 * console.log(pool.stats().inUse); // 0
 * ```
 * @module
 */

import { dropReasonName, N_CODES, POOL_CLASS_STATS_LEN, POOL_STATS_LEN, SLOT_SIZE } from "./abi.ts";
import { instantiate, type TunslabExports } from "./module.ts";

const MIB = 1 << 20;

/** Counters of one slot class, as `ts_pool_class_stats` reports them. */
export interface PoolClassStats {
  slotSize: number;
  capacity: number;
  inUse: number;
  highWater: number;
  allocs: number;
  frees: number;
  refusedAllocs: number;
  chunks: number;
}

/**
 * Counters of the pool, as `ts_pool_stats` reports them: counts are both classes together
 * (`slotSize` is the small slots'); `small` and `large` are each class's own.
 */
export interface PoolStats {
  slotSize: number;
  capacity: number;
  inUse: number;
  highWater: number;
  allocs: number;
  frees: number;
  refusedAllocs: number;
  refusedFrees: number;
  chunks: number;
  maxSlots: number;
  /** Bytes of slots that exist, both classes. */
  bytes: number;
  /** The cap: bytes of slots both classes may grow to (`maxSlots` × slot size). */
  maxBytes: number;
  small: PoolClassStats;
  large: PoolClassStats;
}

/** Options of {@link SlabPool.create}. */
export interface SlabPoolOptions {
  /** Slots added per growth step (one `memory.grow`). Default 256 (512 KiB). */
  chunkSlots?: number;
  /**
   * Cap, in small slots: the pool refuses allocations beyond `maxSlots` × 2 KiB of slots, both
   * classes together (a large slot counts 32). Default 16384 (32 MiB).
   */
  maxSlots?: number;
  /** The same cap in MiB (1..512; wins over `maxSlots`): `maxSlots` = 512 × `maxMiB`. */
  maxMiB?: number;
}

/** Thrown by {@link SlabPool.alloc} when the pool is at its cap. */
export class PoolExhaustedError extends Error {
  override name = "PoolExhaustedError";
  constructor(maxSlots: number) {
    super(`slab pool exhausted: all ${maxSlots} slots in use`);
  }
}

/** Thrown by {@link SlabPool.free} for an offset that is not a live slot. */
export class SlotFreeError extends Error {
  override name = "SlotFreeError";
  constructor(readonly off: number, readonly code: number) {
    super(`ts_pool_free(${off}) refused: ${dropReasonName(code)}`);
  }
}

/** The pool-only exports (what {@link SlabPool} calls). */
type PoolExports = Pick<
  TunslabExports,
  | "memory"
  | "ts_pool_init"
  | "ts_pool_alloc"
  | "ts_pool_alloc_batch"
  | "ts_pool_free"
  | "ts_pool_free_batch"
  | "ts_pool_alloc_class"
  | "ts_pool_stats"
  | "ts_pool_class_stats"
  | "ts_slot_size_at"
  | "ts_drop_stats"
  | "ts_scratch_ptr"
  | "ts_scratch_len"
  | "ts_slot_size"
  | "ts_headroom"
>;

/** A pool of packet slots backed by one instance of tunslab.wasm. */
export class SlabPool implements Disposable {
  readonly #wasm: PoolExports;
  readonly memory: WebAssembly.Memory;
  readonly slotSize: number;
  readonly headroom: number;
  /** Byte view of linear memory; replaced after growth. */
  u8!: Uint8Array;
  /** DataView over linear memory; replaced after growth. */
  dv!: DataView;
  /** Address of linear memory's byte 0, for FFI pointers (`base + off`). */
  base = 0;
  #buffer!: ArrayBuffer | SharedArrayBuffer;
  #listeners: (() => void)[] = [];
  #scratchNext: number;
  readonly #scratchEnd: number;
  /** Where `ts_pool_stats`, `ts_pool_class_stats` and `ts_drop_stats` write (each its own). */
  readonly #poolStatsPtr: number;
  readonly #classStatsPtr: number;
  readonly #dropStatsPtr: number;

  private constructor(wasm: PoolExports, opts: SlabPoolOptions) {
    this.#wasm = wasm;
    this.memory = wasm.memory;
    const chunkSlots = opts.chunkSlots ?? 256;
    const maxSlots = opts.maxMiB !== undefined
      ? opts.maxMiB * (MIB / SLOT_SIZE)
      : opts.maxSlots ?? 16384;
    const rc = wasm.ts_pool_init(chunkSlots, maxSlots);
    if (rc < 0) {
      throw new RangeError(
        `ts_pool_init(${chunkSlots}, ${maxSlots}) failed: ${dropReasonName(rc)}`,
      );
    }
    this.slotSize = wasm.ts_slot_size();
    this.headroom = wasm.ts_headroom();
    this.#scratchNext = wasm.ts_scratch_ptr();
    this.#scratchEnd = this.#scratchNext + wasm.ts_scratch_len();
    this.#poolStatsPtr = this.scratch(8 * POOL_STATS_LEN);
    this.#classStatsPtr = this.scratch(8 * POOL_CLASS_STATS_LEN);
    this.#dropStatsPtr = this.scratch(8 * N_CODES);
    this.#remap();
  }

  /**
   * A new pool in `wasm`, a module instance nobody made a pool in yet (default: a new one).
   * Pass your own instance when you also need its other exports.
   */
  static create(opts: SlabPoolOptions = {}, wasm: TunslabExports = instantiate()): SlabPool {
    return new SlabPool(wasm, opts);
  }

  /** Calls `fn` whenever growth replaced `memory.buffer`. */
  onRemap(fn: () => void): void {
    this.#listeners.push(fn);
  }

  /** Rebuilds views if the memory grew; cheap when it did not. */
  refresh(): void {
    if (this.memory.buffer !== this.#buffer) this.#remap();
  }

  #remap(): void {
    this.#buffer = this.memory.buffer;
    this.u8 = new Uint8Array(this.#buffer);
    this.dv = new DataView(this.#buffer);
    const ptr = Deno.UnsafePointer.of(this.#buffer);
    this.base = Number(Deno.UnsafePointer.value(ptr));
    for (const fn of this.#listeners) fn();
  }

  /** Carves `bytes` (16-aligned) out of the static scratch area; returns its offset. */
  scratch(bytes: number): number {
    const off = this.#scratchNext;
    const end = off + ((bytes + 15) & ~15);
    if (end > this.#scratchEnd) throw new RangeError(`wasm scratch exhausted (asked ${bytes} B)`);
    this.#scratchNext = end;
    return off;
  }

  /** A fresh Uint32Array view at `off` (rebuild it in {@link onRemap}). */
  u32At(off: number, n: number): Uint32Array {
    return new Uint32Array(this.memory.buffer, off, n);
  }

  /** A fresh Int32Array view at `off` (rebuild it in {@link onRemap}). */
  i32At(off: number, n: number): Int32Array {
    return new Int32Array(this.memory.buffer, off, n);
  }

  /** Allocates up to `n` slots, offsets written as u32 at `offsPtr`; returns how many. */
  allocBatch(offsPtr: number, n: number): number {
    const got = this.#wasm.ts_pool_alloc_batch(offsPtr, n);
    this.refresh();
    return got;
  }

  /** Frees `n` slots listed at `offsPtr`; returns how many were live and freed. */
  freeBatch(offsPtr: number, n: number): number {
    return this.#wasm.ts_pool_free_batch(offsPtr, n);
  }

  /** One slot's offset, or 0 when the pool is at its cap (counted as refused); views refreshed. */
  allocSlot(): number {
    const off = this.#wasm.ts_pool_alloc();
    this.refresh();
    return off;
  }

  /**
   * One large slot's offset (`LARGE_SLOT_SIZE` bytes), or 0 when the cap refuses it
   * (counted); views refreshed. The first one grows the first large chunk.
   */
  allocLarge(): number {
    const off = this.#wasm.ts_pool_alloc_class(1);
    this.refresh();
    return off;
  }

  /** Bytes of the slot starting at `off` (small or large slot size), 0 if it is none. */
  slotSizeAt(off: number): number {
    return this.#wasm.ts_slot_size_at(off);
  }

  /** One slot as an owning handle; `using` returns it at scope end. */
  alloc(): Packet {
    const off = this.allocSlot();
    if (off === 0) throw new PoolExhaustedError(this.stats().maxSlots);
    return new Packet(this, off);
  }

  /** Returns one slot; throws {@link SlotFreeError} if it was not live. */
  free(off: number): void {
    const rc = this.#wasm.ts_pool_free(off);
    if (rc < 0) throw new SlotFreeError(off, rc);
  }

  /** Returns one slot, reporting instead of throwing (for cleanup paths). */
  tryFree(off: number): number {
    return this.#wasm.ts_pool_free(off);
  }

  /** Current counters. */
  stats(): PoolStats {
    const rc = this.#wasm.ts_pool_stats(this.#poolStatsPtr);
    if (rc < 0) throw new RangeError(`ts_pool_stats failed: ${dropReasonName(rc)}`);
    const f = new Float64Array(this.memory.buffer, this.#poolStatsPtr, POOL_STATS_LEN);
    return {
      slotSize: f[0],
      capacity: f[1],
      inUse: f[2],
      highWater: f[3],
      allocs: f[4],
      frees: f[5],
      refusedAllocs: f[6],
      refusedFrees: f[7],
      chunks: f[8],
      maxSlots: f[9],
      bytes: f[10],
      maxBytes: f[11],
      small: this.#classStats(0),
      large: this.#classStats(1),
    };
  }

  #classStats(cls: number): PoolClassStats {
    const rc = this.#wasm.ts_pool_class_stats(cls, this.#classStatsPtr);
    if (rc < 0) throw new RangeError(`ts_pool_class_stats failed: ${dropReasonName(rc)}`);
    const f = new Float64Array(this.memory.buffer, this.#classStatsPtr, POOL_CLASS_STATS_LEN);
    return {
      slotSize: f[0],
      capacity: f[1],
      inUse: f[2],
      highWater: f[3],
      allocs: f[4],
      frees: f[5],
      refusedAllocs: f[6],
      chunks: f[7],
    };
  }

  /** Drop counters by code index (`-code`), from `ts_drop_stats`; a copy. */
  dropCounts(): Float64Array {
    const rc = this.#wasm.ts_drop_stats(this.#dropStatsPtr);
    if (rc < 0) throw new RangeError(`ts_drop_stats failed: ${dropReasonName(rc)}`);
    return new Float64Array(this.memory.buffer, this.#dropStatsPtr, N_CODES).slice();
  }

  /** Nothing to release but the instance; kept for `using` symmetry. */
  [Symbol.dispose](): void {
    this.#listeners.length = 0;
  }
}

/**
 * One slot owned by JavaScript: for set-up, handshakes and tests, not the hot
 * path. Disposing it frees the slot exactly once.
 */
export class Packet implements Disposable {
  #pool: SlabPool | undefined;
  /** Slot offset in linear memory. */
  readonly off: number;

  constructor(pool: SlabPool, off: number) {
    this.#pool = pool;
    this.off = off;
  }

  /** The slot's bytes from `off + headroom`, `len` long (a view, not a copy). */
  bytes(len: number): Uint8Array {
    const pool = this.#live();
    if (len < 0 || len > pool.slotSizeAt(this.off) - pool.headroom) {
      throw new RangeError(`packet length ${len} does not fit a slot`);
    }
    return new Uint8Array(pool.memory.buffer, this.off + pool.headroom, len);
  }

  /** The whole slot from its start, as a datagram sits in it. */
  raw(len = 0): Uint8Array {
    const pool = this.#live();
    return new Uint8Array(pool.memory.buffer, this.off, len || pool.slotSize);
  }

  /** True until the slot is returned. */
  get live(): boolean {
    return this.#pool !== undefined;
  }

  #live(): SlabPool {
    if (this.#pool === undefined) throw new Error(`packet at ${this.off} already freed`);
    return this.#pool;
  }

  [Symbol.dispose](): void {
    const pool = this.#pool;
    if (pool === undefined) return;
    this.#pool = undefined;
    pool.free(this.off);
  }
}
