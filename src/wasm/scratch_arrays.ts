/**
 * Typed arrays over the module's scratch area, from one declarative table.
 *
 * A user (the data path, the control plane, the pool) writes its layout once as an object
 * literal of entries, each a kind and an element count (or an {@link alias} of an earlier entry:
 * the same bytes seen as another kind). {@link ScratchArrays} carves every entry out of the
 * scratch area (16-aligned, in table order), keeps the offsets in {@link ScratchArrays.ptr} (what
 * the exports take) and the views in {@link ScratchArrays.v}. Growing the memory detaches the
 * buffer, so `v` is re-created on every remap.
 *
 * Why `v` is a fresh plain object each time, read through the one stable holder: the hot loops
 * read `arrays.v.lens[i]`, and those loads stay monomorphic only if every `v` has the same hidden
 * class. Each `v` is a spread copy of the layout literal (one site, so one map, in fast mode with
 * in-object fields) whose existing fields are then overwritten with the views; adding 20+
 * fields one by one under computed names would instead turn the object into a dictionary.
 * After anything that may grow the memory (an allocation, a hook) re-read `arrays.v`.
 *
 * @example
 * ```ts
 * import { SlabPool } from "./slab.ts";
 * import { alias, f64, ScratchArrays, u32 } from "./scratch_arrays.ts";
 * using pool = SlabPool.create({ chunkSlots: 64, maxSlots: 64 });
 * const a = new ScratchArrays(pool, {
 *   offs: u32(8),
 *   lens: u32(8),
 *   lensI: alias("i32", "lens"), // the same bytes as lens, signed
 *   stats: f64(4),
 * });
 * const got = pool.allocBatch(a.ptr.offs, 8); // the export writes offsets at ptr.offs
 * console.log(got, a.v.offs[0] > 0, a.v.lensI.length); // 8 true 8
 * pool.freeBatch(a.ptr.offs, got);
 * ```
 * @module
 */

/** Element kinds a scratch entry can have. */
export type ScratchKind = "u8" | "u32" | "i32" | "f64";

/** One entry of a layout: its kind and element count, or the earlier entry whose bytes it shares. */
export interface ScratchSpec {
  readonly kind: ScratchKind;
  readonly length: number;
  /** Name of an earlier entry this one aliases (same offset and byte length). */
  readonly of?: string;
}

/** A layout: entry name → spec. Write it as an object literal. */
export type ScratchLayout = Readonly<Record<string, ScratchSpec>>;

/** `length` bytes. */
export function u8(length: number): { readonly kind: "u8"; readonly length: number } {
  return { kind: "u8", length };
}

/** `length` u32s. */
export function u32(length: number): { readonly kind: "u32"; readonly length: number } {
  return { kind: "u32", length };
}

/** `length` i32s. */
export function i32(length: number): { readonly kind: "i32"; readonly length: number } {
  return { kind: "i32", length };
}

/** `length` f64s. */
export function f64(length: number): { readonly kind: "f64"; readonly length: number } {
  return { kind: "f64", length };
}

/** The bytes of the earlier entry `of`, seen as `kind`. */
export function alias<K extends ScratchKind>(
  kind: K,
  of: string,
): { readonly kind: K; readonly length: 0; readonly of: string } {
  return { kind, length: 0, of };
}

/** The typed array of one kind. */
export type ViewOf<K extends ScratchKind> = K extends "u8" ? Uint8Array
  : K extends "u32" ? Uint32Array
  : K extends "i32" ? Int32Array
  : Float64Array;

/** The views of a layout, one field per entry. */
export type ScratchViews<L extends ScratchLayout> = {
  readonly [K in keyof L]: ViewOf<L[K]["kind"]>;
};

/** The offsets of a layout in linear memory, one field per entry. */
export type ScratchOffsets<L extends ScratchLayout> = { readonly [K in keyof L]: number };

/** What {@link ScratchArrays} needs from the pool: scratch carving, the memory, remap events. */
export interface ScratchHost {
  /** Carves `bytes` (16-aligned) out of the static scratch area; returns its offset. */
  scratch(bytes: number): number;
  readonly memory: WebAssembly.Memory;
  /** Calls `fn` whenever growth replaced `memory.buffer`. */
  onRemap(fn: () => void): void;
}

const BYTES: Record<ScratchKind, number> = { u8: 1, u32: 4, i32: 4, f64: 8 };

/** The arrays of one layout over the scratch area; {@link v} follows the memory's growth. */
export class ScratchArrays<L extends ScratchLayout> {
  /** Offset of each entry in linear memory (stable). */
  readonly ptr: ScratchOffsets<L>;
  /** The views (a new object after each remap: re-read it after anything that may grow memory). */
  v: ScratchViews<L>;
  readonly #layout: L;
  readonly #host: ScratchHost;
  readonly #names: readonly string[];
  /** Element count of each entry, aliases resolved (parallel to #names). */
  readonly #lengths: readonly number[];

  constructor(host: ScratchHost, layout: L) {
    this.#layout = layout;
    this.#host = host;
    const names = Object.keys(layout);
    const ptr: Record<string, number> = { ...layout } as unknown as Record<string, number>;
    const lengths: number[] = [];
    for (const name of names) {
      const spec = layout[name];
      if (spec.of === undefined) {
        ptr[name] = host.scratch(spec.length * BYTES[spec.kind]);
        lengths.push(spec.length);
        continue;
      }
      const base = layout[spec.of];
      if (
        base === undefined || base.of !== undefined || names.indexOf(spec.of) > names.indexOf(name)
      ) {
        throw new RangeError(`scratch entry ${name}: ${spec.of} is not an earlier plain entry`);
      }
      ptr[name] = ptr[spec.of];
      lengths.push(base.length * BYTES[base.kind] / BYTES[spec.kind]);
    }
    this.ptr = ptr as ScratchOffsets<L>;
    this.#names = names;
    this.#lengths = lengths;
    this.v = this.#build();
    host.onRemap(() => {
      this.v = this.#build();
    });
  }

  #build(): ScratchViews<L> {
    const buf = this.#host.memory.buffer;
    const v = { ...this.#layout } as unknown as Record<string, unknown>;
    const ptr = this.ptr as Record<string, number>;
    for (let i = 0; i < this.#names.length; i++) {
      const name = this.#names[i];
      const kind = this.#layout[name].kind, off = ptr[name], n = this.#lengths[i];
      v[name] = kind === "u32"
        ? new Uint32Array(buf, off, n)
        : kind === "i32"
        ? new Int32Array(buf, off, n)
        : kind === "f64"
        ? new Float64Array(buf, off, n)
        : new Uint8Array(buf, off, n);
    }
    return v as ScratchViews<L>;
  }
}
