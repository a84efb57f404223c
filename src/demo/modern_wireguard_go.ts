/**
 * Where the modern upstream wireguard-go (0.0.20250522: TUN and UDP offloads) is: the benchmark
 * peer users would pick today, kept beside the checkout in `../shared/peers/` (see its README).
 * Looked for, in order: `$TUNSLAB_WIREGUARD_GO_MODERN`, `../shared/peers/` beside this checkout,
 * beside the main checkout of a git worktree, and beside the checkout this one was cloned from (a
 * CI clone in a temporary directory).
 *
 * @example
 * ```ts
 * import { modernWireguardGo } from "./modern_wireguard_go.ts";
 * const bin = modernWireguardGo();
 * console.log(bin ?? "modern wireguard-go not found");
 * ```
 * @module
 */

/** File name of the binary in `shared/peers/`. */
export const MODERN_WIREGUARD_GO = "wireguard-go-0.0.20250522";

const REPO = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");

function executable(path: string): boolean {
  try {
    const st = Deno.statSync(path);
    return st.isFile && ((st.mode ?? 0) & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** The main checkout of a git worktree (where `.git` really is), if this is one. */
function mainCheckout(): string | null {
  try {
    const out = new Deno.Command("git", {
      args: ["-C", REPO, "rev-parse", "--path-format=absolute", "--git-common-dir"],
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    const dir = new TextDecoder().decode(out.stdout).trim();
    return dir.endsWith("/.git") ? dir.slice(0, -5) : null;
  } catch {
    return null;
  }
}

/** The checkout a local clone came from (its `origin` when that is a directory), if any. */
function origin(): string | null {
  try {
    const out = new Deno.Command("git", {
      args: ["-C", REPO, "config", "--get", "remote.origin.url"],
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    const url = new TextDecoder().decode(out.stdout).trim().replace(/^file:\/\//, "");
    return url.startsWith("/") ? url.replace(/\/(\.git)?$/, "") : null;
  } catch {
    return null;
  }
}

/** Path of the modern wireguard-go binary, or null where it is absent. */
export function modernWireguardGo(): string | null {
  const env = Deno.env.get("TUNSLAB_WIREGUARD_GO_MODERN");
  if (env) return executable(env) ? env : null;
  for (const base of [REPO, mainCheckout(), origin()]) {
    if (base === null) continue;
    const p = `${base}/../shared/peers/${MODERN_WIREGUARD_GO}`;
    if (executable(p)) return p;
  }
  return null;
}
