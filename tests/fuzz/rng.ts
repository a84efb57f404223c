/**
 * A small seeded PRNG for the fuzz targets: xoshiro128** seeded through
 * splitmix32, so a (seed, iteration) pair names one input exactly. No
 * `Math.random` anywhere in the suite.
 *
 * @example
 * ```ts
 * import { Rng } from "./rng.ts";
 * const rng = Rng.forIteration(1234, 7);
 * console.log(rng.int(0, 9), rng.bytes(4).length); // e.g. 3 4
 * ```
 * @module
 */

/** splitmix32 step: returns the next state's output for `x`. */
export function splitmix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  let z = x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** xoshiro128** with helpers for ranges, bytes and choices. */
export class Rng {
  #s0: number;
  #s1: number;
  #s2: number;
  #s3: number;

  constructor(seed: number) {
    let x = seed >>> 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      return splitmix32(x);
    };
    this.#s0 = next();
    this.#s1 = next();
    this.#s2 = next();
    this.#s3 = next();
    if ((this.#s0 | this.#s1 | this.#s2 | this.#s3) === 0) this.#s0 = 1;
  }

  /** The generator for iteration `i` of a run seeded with `seed`. */
  static forIteration(seed: number, i: number): Rng {
    return new Rng(splitmix32((seed >>> 0) ^ splitmix32(i >>> 0)));
  }

  /** A uniform u32. */
  u32(): number {
    const r = Math.imul(rotl(Math.imul(this.#s1, 5), 7), 9) >>> 0;
    const t = this.#s1 << 9;
    this.#s2 ^= this.#s0;
    this.#s3 ^= this.#s1;
    this.#s1 ^= this.#s2;
    this.#s0 ^= this.#s3;
    this.#s2 ^= t;
    this.#s3 = rotl(this.#s3, 11);
    return r;
  }

  /** A uniform float in [0, 1). */
  float(): number {
    return this.u32() / 4294967296;
  }

  /** An integer in [lo, hi] (inclusive; hi - lo < 2^32). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.float() * (hi - lo + 1));
  }

  /** An integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.float() < p;
  }

  /** A uniform u64. */
  u64(): bigint {
    return (BigInt(this.u32()) << 32n) | BigInt(this.u32());
  }

  /** `n` random bytes. */
  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      const r = this.u32();
      b[i] = r;
      if (i + 1 < n) b[i + 1] = r >>> 8;
      if (i + 2 < n) b[i + 2] = r >>> 16;
      if (i + 3 < n) b[i + 3] = r >>> 24;
    }
    return b;
  }

  /** One element of `xs`. */
  pick<T>(xs: readonly T[]): T {
    return xs[this.below(xs.length)];
  }

  /** An index drawn with the given weights. */
  weighted(weights: readonly number[]): number {
    let total = 0;
    for (const w of weights) total += w;
    let r = this.float() * total;
    for (let i = 0; i < weights.length; i++) {
      r -= weights[i];
      if (r < 0) return i;
    }
    return weights.length - 1;
  }

  /** A size skewed towards small values: mostly under `typical`, up to `max`. */
  size(typical: number, max: number): number {
    return this.chance(0.85) ? this.int(0, typical) : this.int(0, max);
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
