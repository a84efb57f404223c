/**
 * AllowedIPs longest-prefix match: `ts_route_lookup` in WASM (a
 * path-compressed binary trie per family) with 10,000 random IPv4 and 10,000
 * random IPv6 prefixes inserted, against two JS baselines over the same
 * prefixes: a linear scan (what a naive implementation does) and one `Map` per
 * prefix length probed from the longest length down.
 *
 *   deno bench -A bench/allowed_ips_bench.ts
 *   TUNSLAB_BENCH_PREFIXES=100000 deno bench -A bench/allowed_ips_bench.ts
 *
 * Each iteration looks up 1,024 addresses: half inside an inserted prefix,
 * half uniformly random (mostly misses for IPv6). All three implementations
 * are checked to give the same peer for every address before timing.
 * Prefix lengths are /8–/32 (IPv4) and /16–/128 (IPv6), peers 0–1023.
 *
 * @example
 * ```sh
 * deno bench -A bench/allowed_ips_bench.ts --filter v4
 * ```
 * @module
 */
import { instantiate, type TunslabExports } from "../src/wasm/module.ts";
import { SlabPool } from "../src/wasm/slab.ts";

/** Prefixes per family: 10,000, or `TUNSLAB_BENCH_PREFIXES` (e.g. 100000). */
const PREFIXES = Number(Deno.env.get("TUNSLAB_BENCH_PREFIXES") ?? 10_000);
const LOOKUPS = 1024;
const MAX_PEERS = 1024;

// Deterministic xorshift so every run measures the same table.
let seed = 0x9e3779b9;
function rnd(): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return seed >>> 0;
}

/** Mask of the first `bits` bits of a 32-bit word, as an unsigned number. */
function mask32(bits: number): number {
  return bits <= 0 ? 0 : bits >= 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0;
}

/** Prefixes of one family as flat typed arrays: `words` u32 per address. */
interface Table {
  words: number;
  addr: Uint32Array; // PREFIXES × words, host bits cleared
  cidr: Uint8Array;
  peer: Uint16Array;
  n: number;
}

function makeTable(words: number, minCidr: number, maxCidr: number): Table {
  const t: Table = {
    words,
    addr: new Uint32Array(PREFIXES * words),
    cidr: new Uint8Array(PREFIXES),
    peer: new Uint16Array(PREFIXES),
    n: 0,
  };
  const seen = new Set<string>();
  while (t.n < PREFIXES) {
    const cidr = minCidr + (rnd() % (maxCidr - minCidr + 1));
    const w = new Uint32Array(words);
    for (let i = 0; i < words; i++) {
      w[i] = (rnd() & mask32(cidr - 32 * i)) >>> 0;
    }
    const key = `${w.join(".")}/${cidr}`;
    if (seen.has(key)) continue; // one peer per prefix, as AllowedIPs keeps it
    seen.add(key);
    t.addr.set(w, t.n * words);
    t.cidr[t.n] = cidr;
    t.peer[t.n] = rnd() % MAX_PEERS;
    t.n++;
  }
  return t;
}

/** Addresses to look up: even ones inside a random inserted prefix, odd ones random. */
function makeQueries(t: Table): Uint32Array {
  const q = new Uint32Array(LOOKUPS * t.words);
  for (let i = 0; i < LOOKUPS; i++) {
    const p = rnd() % t.n;
    for (let k = 0; k < t.words; k++) {
      const r = rnd();
      const m = mask32(t.cidr[p] - 32 * k);
      q[i * t.words + k] = i % 2 === 0 ? ((t.addr[p * t.words + k] & m) | (r & ~m)) >>> 0 : r;
    }
  }
  return q;
}

/** Naive baseline: scan every prefix, keep the longest that matches. */
function linearLookup(t: Table, q: Uint32Array, qi: number): number {
  let best = -1;
  let bestCidr = -1;
  const w = t.words;
  for (let p = 0; p < t.n; p++) {
    const cidr = t.cidr[p];
    if (cidr <= bestCidr) continue;
    let match = true;
    for (let k = 0; k < w && match; k++) {
      const m = mask32(cidr - 32 * k);
      if (((q[qi * w + k] & m) >>> 0) !== t.addr[p * w + k]) match = false;
    }
    if (match) {
      best = t.peer[p];
      bestCidr = cidr;
    }
  }
  return best;
}

/** Map baseline: one Map per prefix length, probed longest first. IPv4 keys are numbers. */
class MapLpm {
  readonly #lengths: number[];
  readonly #maps = new Map<number, Map<number | string, number>>();
  readonly #words: number;

  constructor(t: Table) {
    this.#words = t.words;
    for (let p = 0; p < t.n; p++) {
      let m = this.#maps.get(t.cidr[p]);
      if (m === undefined) this.#maps.set(t.cidr[p], m = new Map());
      m.set(this.#key(t.addr, p * t.words, t.cidr[p]), t.peer[p]);
    }
    this.#lengths = [...this.#maps.keys()].sort((a, b) => b - a);
  }

  // IPv6 keys are strings of the masked words: the allocation is part of the baseline's cost.
  #key(a: Uint32Array, at: number, cidr: number): number | string {
    if (this.#words === 1) return (a[at] & mask32(cidr)) >>> 0;
    let s = "";
    for (let k = 0; k < this.#words; k++) s += ((a[at + k] & mask32(cidr - 32 * k)) >>> 0) + ".";
    return s;
  }

  lookup(q: Uint32Array, qi: number): number {
    for (const cidr of this.#lengths) {
      const peer = this.#maps.get(cidr)!.get(this.#key(q, qi * this.#words, cidr));
      if (peer !== undefined) return peer;
    }
    return -1;
  }
}

/** The WASM table, filled with the same prefixes; queries copied into scratch once. */
class WasmLpm {
  readonly #wasm: TunslabExports;
  readonly #family: number;
  readonly #qPtr: number;
  readonly #stride: number;

  constructor(pool: SlabPool, wasm: TunslabExports, t: Table, q: Uint32Array) {
    this.#wasm = wasm;
    this.#family = t.words === 1 ? 4 : 6;
    this.#stride = t.words * 4;
    const addr = pool.scratch(16);
    for (let p = 0; p < t.n; p++) {
      pool.refresh(); // an insert may grow the trie (memory.grow detaches the old views)
      // Network byte order: word k holds bytes 4k..4k+3, most significant first.
      for (let k = 0; k < t.words; k++) pool.dv.setUint32(addr + 4 * k, t.addr[p * t.words + k]);
      const rc = wasm.ts_route_insert(this.#family, addr, t.cidr[p], t.peer[p]);
      if (rc < 0) throw new Error(`ts_route_insert failed (${rc}) at prefix ${p}`);
    }
    this.#qPtr = pool.scratch(q.length * 4);
    pool.refresh();
    for (let i = 0; i < q.length; i++) pool.dv.setUint32(this.#qPtr + 4 * i, q[i]);
  }

  lookup(qi: number): number {
    const r = this.#wasm.ts_route_lookup(this.#family, this.#qPtr + qi * this.#stride);
    return r < 0 ? -1 : r;
  }
}

const wasm = instantiate();
const pool = SlabPool.create({ chunkSlots: 1, maxSlots: 1 }, wasm);
const families = [
  { name: "v4", t: makeTable(1, 8, 32) },
  { name: "v6", t: makeTable(4, 16, 128) },
].map(({ name, t }) => {
  const q = makeQueries(t);
  return { name, t, q, map: new MapLpm(t), wasm: new WasmLpm(pool, wasm, t, q) };
});

// Same answer from all three for every query, before anything is timed.
for (const f of families) {
  let hits = 0;
  for (let i = 0; i < LOOKUPS; i++) {
    const want = linearLookup(f.t, f.q, i);
    const viaMap = f.map.lookup(f.q, i);
    const viaWasm = f.wasm.lookup(i);
    if (viaMap !== want || viaWasm !== want) {
      throw new Error(`${f.name} query ${i}: linear ${want}, map ${viaMap}, wasm ${viaWasm}`);
    }
    if (want >= 0) hits++;
  }
  if (hits < LOOKUPS / 2) throw new Error(`${f.name}: only ${hits} hits`);
}

let sink = 0;
for (const f of families) {
  const group = `${f.name}: ${LOOKUPS} lookups in ${PREFIXES} prefixes`;
  Deno.bench({
    name: `${f.name} JS linear scan`,
    group,
    baseline: true,
    fn() {
      for (let i = 0; i < LOOKUPS; i++) sink += linearLookup(f.t, f.q, i);
    },
  });
  Deno.bench({
    name: `${f.name} JS Map per prefix length`,
    group,
    fn() {
      for (let i = 0; i < LOOKUPS; i++) sink += f.map.lookup(f.q, i);
    },
  });
  Deno.bench({
    name: `${f.name} wasm ts_route_lookup`,
    group,
    fn() {
      for (let i = 0; i < LOOKUPS; i++) sink += f.wasm.lookup(i);
    },
  });
}

globalThis.addEventListener("unload", () => {
  if (sink === 0.5) console.log(sink);
});
