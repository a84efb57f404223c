/**
 * What one stack frame of a tunslab `perf script` is, for the profile's tables: a readable name
 * (Rust symbols demangled, V8's tier suffixes and markers dropped, source paths relative to the
 * checkout) and the part of the process it belongs to. V8's `--perf-basic-prof` map names
 * WebAssembly code `JS:<name>-<index>-<tier>` and JavaScript `JS:<marker><name> <url>:<line>:<col>`,
 * so a frame is WebAssembly when its name is one of the module's name-section entries.
 *
 * @example
 * ```ts
 * import { FrameNamer } from "./profile_frames.ts";
 * const namer = new FrameNamer(new Set(["ts_encrypt_batch"]), "/repo/");
 * console.log(namer.frame("JS:ts_encrypt_batch-142-turbofan+0x57", "/tmp/perf-1.map", 0x1234));
 * // { name: "ts_encrypt_batch", part: "wasm" }
 * ```
 * @module
 */
import { demangleRust } from "./rust_demangle.ts";

/** The parts of a tunslab process the breakdown sums to 100 %. */
export type Part = "wasm" | "kernel" | "js" | "deno" | "other";

/** Labels of the parts, in the breakdown's order. */
export const PART_LABELS: Record<Part, string> = {
  wasm: "WebAssembly (the data plane)",
  kernel: "kernel",
  js: "JavaScript (V8 JIT code, builtins, wasm↔JS stubs)",
  deno: "deno binary (V8, Deno's Rust runtime; stripped: no names)",
  other: "libc and other user space",
};

/** One named frame. */
export interface Frame {
  name: string;
  part: Part;
}

const WASM_FRAME = /^JS:(.+)-\d+-(?:turbofan|liftoff|liftoff-debug)$/;
const JS_FRAME = /^JS:([*+^~']*)(.*?)(?: (\S+?):(\d+):\d+)?$/;

/** Names and classifies frames; caches by raw text (a recording repeats a few thousand frames). */
export class FrameNamer {
  readonly #cache = new Map<string, Frame>();
  readonly #wasmNames: Set<string>;
  readonly #root: string;

  /** `wasmNames`: the module's name section; `root`: the checkout, with a trailing slash. */
  constructor(wasmNames: Set<string>, root: string) {
    this.#wasmNames = wasmNames;
    this.#root = root;
  }

  /** `sym` and `dso` as `perf script` prints them (`sym+0xOFF`, `(dso)` without parentheses). */
  frame(sym: string, dso: string, ip: number): Frame {
    const key = `${sym}\u0000${dso}`;
    let f = this.#cache.get(key);
    if (f === undefined) {
      f = this.#name(sym.replace(/\+0x[0-9a-f]+$/, ""), dso, ip);
      this.#cache.set(key, f);
    }
    return f;
  }

  #name(sym: string, dso: string, ip: number): Frame {
    // Kernel text lives in the top half of the address space; modules print as `[name]`.
    if (dso === "[kernel.kallsyms]" || ip >= 0xffff800000000000) {
      return { name: sym === "[unknown]" ? "[unknown] (kernel)" : sym, part: "kernel" };
    }
    if (/\/perf-\d+\.map$/.test(dso)) {
      const wasm = WASM_FRAME.exec(sym);
      if (wasm !== null && (this.#wasmNames.has(wasm[1]) || wasm[1].startsWith("wasm-function["))) {
        return { name: demangleRust(wasm[1]), part: "wasm" };
      }
      const js = JS_FRAME.exec(sym);
      if (js !== null && sym.startsWith("JS:")) {
        const where = js[3] === undefined ? "" : ` ${this.#relative(js[3])}:${js[4]}`;
        return { name: `${js[2] || "(anonymous)"}${where}`, part: "js" };
      }
      return { name: sym, part: "js" }; // Builtin:, Stub:, RegExp: ...
    }
    const base = dso.slice(dso.lastIndexOf("/") + 1);
    const name = sym === "[unknown]" ? `[unknown] (${base})` : demangleRust(sym);
    if (/^deno$/.test(base) || dso === Deno.execPath()) return { name, part: "deno" };
    return { name, part: "other" };
  }

  #relative(url: string): string {
    const path = url.startsWith("file://") ? url.slice("file://".length) : url;
    return path.startsWith(this.#root) ? path.slice(this.#root.length) : path;
  }
}
