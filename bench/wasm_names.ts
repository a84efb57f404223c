/**
 * The function names of a WebAssembly module's `name` section (subsection 1), the set the
 * profile's breakdown counts as "WebAssembly": V8's perf map names a wasm frame by that entry
 * (`JS:<name>-turbofan`), and a JS function cannot be told apart by its prefix alone.
 *
 * @example
 * ```ts
 * import { wasmFunctionNames } from "./wasm_names.ts";
 * const names = wasmFunctionNames(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]));
 * console.log(names.size); // 0: no name section
 * ```
 * @module
 */

/** Every function name of `bytes`' name section (empty when it has none, e.g. a stripped build). */
export function wasmFunctionNames(bytes: Uint8Array): Set<string> {
  const names = new Set<string>();
  const module = new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
  const dec = new TextDecoder();
  for (const section of WebAssembly.Module.customSections(module, "name")) {
    const u = new Uint8Array(section);
    let p = 0;
    const leb = (): number => {
      let r = 0, shift = 0, b: number;
      do {
        if (p >= u.length) throw new Error("wasm name section: truncated LEB128");
        b = u[p++];
        r += (b & 0x7f) * 2 ** shift;
        shift += 7;
      } while (b & 0x80);
      return r;
    };
    while (p < u.length) {
      const id = u[p++];
      const size = leb();
      const end = p + size;
      if (id === 1) {
        const count = leb();
        for (let i = 0; i < count; i++) {
          leb(); // function index
          const len = leb();
          names.add(dec.decode(u.subarray(p, p + len)));
          p += len;
        }
      }
      p = end;
    }
  }
  return names;
}
