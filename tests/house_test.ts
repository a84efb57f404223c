/**
 * Keeps the house of ../shared/DESIGN.md, read from the sources (no build):
 * - the crate's modules (`use crate::…`, `crate::…`, `super::…`; `#[cfg(test)]` tails left out)
 *   form no import circle, and each imports only from a lower level of the house or from its own
 *   folder (consts/errors → wire/crypto → mem/tables → path → tunnel → exports);
 * - `#[no_mangle]` and `static mut` appear only in the exports module;
 * - no source file in `src/` or `wasm/src/` is over 600 lines (tests and a Rust file's
 *   `#[cfg(test)]` tail aside);
 * - `src/wg/` (the protocol) touches no FFI, and nothing but the CLI imports `src/cli/`.
 *
 * @module
 */
import { deepStrictEqual } from "node:assert/strict";

const ROOT = new URL("..", import.meta.url).pathname;
const CRATE = `${ROOT}wasm/src`;
const MAX_LINES = 600;

/** Level of each top-level module of the crate (DESIGN.md). */
const LEVELS: Record<string, number> = {
  consts: 0,
  errors: 0,
  wire: 1,
  crypto: 1,
  mem: 2,
  tables: 2,
  path: 3,
  tunnel: 4,
  exports: 5,
};

function walk(dir: string, ext: string[]): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(dir)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) out.push(...walk(p, ext));
    else if (ext.some((x) => e.name.endsWith(x))) out.push(p);
  }
  return out.sort();
}

/** A Rust file without its `#[cfg(test)]` tail and without `//` comments. */
function rustCode(text: string): string {
  const cut = text.indexOf("#[cfg(test)]");
  return (cut < 0 ? text : text.slice(0, cut)).replace(/\/\/.*$/gm, "");
}

/** Module path of a crate file: `wire/ip.rs` → `wire::ip`, `exports/mod.rs` → `exports`. */
function moduleOf(file: string): string {
  const rel = file.slice(CRATE.length + 1, -3);
  const name = rel.endsWith("/mod") ? rel.slice(0, -4) : rel;
  return name === "lib" ? "" : name.replaceAll("/", "::");
}

interface Crate {
  mods: Map<string, { file: string; code: string }>;
  edges: Map<string, Set<string>>;
}

function readCrate(): Crate {
  const mods = new Map<string, { file: string; code: string }>();
  for (const f of walk(CRATE, [".rs"])) {
    mods.set(moduleOf(f), { file: f.slice(ROOT.length), code: rustCode(Deno.readTextFileSync(f)) });
  }
  const resolve = (cur: string, path: string): string | null => {
    let parts = path.split("::");
    let base: string[];
    if (parts[0] === "crate") {
      parts = parts.slice(1);
      base = [];
    } else if (parts[0] === "super") {
      base = cur === "" ? [] : cur.split("::");
      while (parts[0] === "super") {
        parts = parts.slice(1);
        base = base.slice(0, -1);
      }
    } else if (parts[0] === "self") {
      parts = parts.slice(1);
      base = cur === "" ? [] : cur.split("::");
    } else return null;
    const cand = [...base, ...parts];
    for (let k = cand.length; k > 0; k--) {
      const m = cand.slice(0, k).join("::");
      if (mods.has(m)) return m;
    }
    return null;
  };
  const edges = new Map<string, Set<string>>();
  for (const [m, { code }] of mods) {
    const to = new Set<string>();
    const add = (p: string) => {
      const t = resolve(m, p);
      if (t !== null && t !== m && t !== "") to.add(t);
    };
    for (const x of code.matchAll(/\b((?:crate|super|self)(?:::[A-Za-z_][A-Za-z0-9_]*)+)/g)) {
      add(x[1]);
    }
    // `use crate::{a, b::c}` and `use super::{x, y}`.
    for (
      const g of code.matchAll(/use\s+((?:crate|super|self)(?:::[A-Za-z_]\w*)*)::\{([^}]*)\}/g)
    ) {
      for (const item of g[2].split(",")) {
        const head = item.trim().split("::")[0];
        if (head !== "" && head !== "self") add(`${g[1]}::${head}`);
      }
    }
    edges.set(m, to);
  }
  return { mods, edges };
}

/** Strongly connected components with more than one module (Tarjan). */
function circles(edges: Map<string, Set<string>>): string[][] {
  const index = new Map<string, number>(), low = new Map<string, number>();
  const stack: string[] = [], on = new Set<string>(), out: string[][] = [];
  let n = 0;
  const visit = (v: string) => {
    index.set(v, n);
    low.set(v, n++);
    stack.push(v);
    on.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const c: string[] = [];
      for (;;) {
        const w = stack.pop()!;
        on.delete(w);
        c.push(w);
        if (w === v) break;
      }
      if (c.length > 1) out.push(c.sort());
    }
  };
  for (const v of edges.keys()) if (!index.has(v)) visit(v);
  return out;
}

const crate = readCrate();
const top = (m: string) => m.split("::")[0];

Deno.test("house: the crate has no import circle", () => {
  deepStrictEqual(circles(crate.edges), []);
});

Deno.test("house: every crate module sits at a level of DESIGN.md and imports only downwards", () => {
  const unknown = [...crate.mods.keys()].filter((m) => m !== "" && !(top(m) in LEVELS));
  deepStrictEqual(unknown, [], "modules outside the levels of DESIGN.md");
  const upward: string[] = [];
  for (const [m, to] of crate.edges) {
    if (m === "") continue;
    for (const t of to) {
      if (top(t) === top(m)) continue; // a sibling in the same folder (circles checked above)
      if (LEVELS[top(t)] >= LEVELS[top(m)]) upward.push(`${m} → ${t}`);
    }
  }
  deepStrictEqual(upward, [], "imports that do not go to a lower level");
});

Deno.test("house: #[no_mangle] and static mut only in the exports module", () => {
  const outside = [...crate.mods].filter(([m, { code }]) =>
    top(m) !== "exports" && /#\[no_mangle\]|\bstatic\s+mut\b/.test(code)
  ).map(([, { file }]) => file);
  deepStrictEqual(outside, []);
  const inside = [...crate.mods].filter(([m, { code }]) =>
    top(m) === "exports" && /#\[no_mangle\]/.test(code)
  );
  deepStrictEqual(inside.length > 0, true, "the exports module holds the exports");
});

Deno.test(`house: no source file in src/ or wasm/src/ over ${MAX_LINES} lines`, () => {
  const long: string[] = [];
  for (const dir of ["src", "wasm/src"]) {
    for (const f of walk(`${ROOT}${dir}`, [".ts", ".rs"])) {
      if (f.endsWith("_test.ts")) continue;
      let text = Deno.readTextFileSync(f);
      const cut = f.endsWith(".rs") ? text.indexOf("#[cfg(test)]") : -1;
      if (cut >= 0) text = text.slice(0, cut);
      const lines = text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
      if (lines > MAX_LINES) long.push(`${f.slice(ROOT.length)}: ${lines} lines`);
    }
  }
  deepStrictEqual(long, []);
});

/** Relative imports of a TypeScript file, resolved to paths under the repository. */
function imports(file: string): string[] {
  const text = Deno.readTextFileSync(file);
  const dir = file.slice(0, file.lastIndexOf("/"));
  return [...text.matchAll(/\bfrom\s+"(\.{1,2}\/[^"]+)"/g)].map((m) =>
    new URL(m[1], `file://${dir}/`).pathname.slice(ROOT.length)
  );
}

Deno.test("house: src/wg/ touches no FFI; only the CLI imports src/cli/", () => {
  const bad: string[] = [];
  for (const f of walk(`${ROOT}src`, [".ts"])) {
    const rel = f.slice(ROOT.length);
    for (const i of imports(f)) {
      if (
        rel.startsWith("src/wg/") && (i.startsWith("src/ffi/") || /udp_socket|tun_device/.test(i))
      ) {
        bad.push(`${rel} → ${i}`);
      }
      if (!rel.startsWith("src/cli/") && i.startsWith("src/cli/")) bad.push(`${rel} → ${i}`);
    }
  }
  deepStrictEqual(bad, []);
});
