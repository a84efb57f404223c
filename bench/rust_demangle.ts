/**
 * Rust's legacy symbol mangling (`_ZN7tunslab6crypto4aead13seal_in_place17h…E`, what rustc 1.63
 * emits by default) turned back into a path (`tunslab::crypto::aead::seal_in_place`), for the
 * profile's tables: V8's perf map names WebAssembly frames by their raw name-section entries.
 * The hash segment is dropped; names in any other form (v0 `_R…`, C, JS) come back unchanged.
 *
 * @example
 * ```ts
 * import { demangleRust } from "./rust_demangle.ts";
 * console.log(demangleRust("_ZN7tunslab4path9transport4seal17h505da05ae1a17d40E"));
 * // tunslab::path::transport::seal
 * ```
 * @module
 */

const ESCAPES: Record<string, string> = {
  SP: "@",
  BP: "*",
  RF: "&",
  LT: "<",
  GT: ">",
  LP: "(",
  RP: ")",
  C: ",",
};

/** One path segment with its `$..$` escapes and `..` separators decoded. */
function segment(raw: string): string | undefined {
  let s = raw.startsWith("_$") ? raw.slice(1) : raw;
  s = s.replaceAll("..", "::");
  let bad = false;
  s = s.replace(/\$([A-Za-z0-9]+)\$/g, (_m, code: string) => {
    if (code in ESCAPES) return ESCAPES[code];
    if (/^u[0-9a-f]{1,6}$/.test(code)) return String.fromCodePoint(parseInt(code.slice(1), 16));
    bad = true;
    return "";
  });
  return bad ? undefined : s;
}

/** `name` demangled when it is a legacy Rust symbol, else `name` itself. */
export function demangleRust(name: string): string {
  const m = /^(?:__?)?ZN(.*)$/.exec(name);
  if (m === null) return name;
  const body = m[1];
  const parts: string[] = [];
  let i = 0;
  while (i < body.length && body[i] !== "E") {
    const len = /^\d+/.exec(body.slice(i));
    if (len === null) return name;
    i += len[0].length;
    const n = Number(len[0]);
    if (n === 0 || i + n > body.length) return name;
    parts.push(body.slice(i, i + n));
    i += n;
  }
  const rest = body.slice(i + 1);
  if (body[i] !== "E" || parts.length === 0 || (rest !== "" && !rest.startsWith("."))) return name;
  // The last segment of a legacy symbol is `h` + 16 hex digits: a hash, not part of the path.
  if (parts.length > 1 && /^h[0-9a-f]{16}$/.test(parts[parts.length - 1])) parts.pop();
  const out: string[] = [];
  for (const p of parts) {
    const s = segment(p);
    if (s === undefined) return name;
    out.push(s);
  }
  // A `.suffix` after the `E` (e.g. `.llvm.1234` from LTO) is kept: it tells copies apart.
  return out.join("::") + rest;
}
