/**
 * The profiling build of the data plane (`bash wasm/build.sh --profile`: the same code with its
 * name section kept, so perf names WebAssembly frames), built when missing or older than the
 * crate's sources. Never committed, outside `wasm:check`; tunslab loads it through `TUNSLAB_WASM`.
 *
 * @example
 * ```ts
 * import { PROFILE_WASM } from "./profile_wasm.ts";
 * console.log(PROFILE_WASM.endsWith("wasm/target/tunslab.profile.wasm")); // true
 * ```
 * @module
 */
import { run } from "../src/demo/testbed.ts";

const WASM_DIR = new URL("../wasm/", import.meta.url).pathname;

/** Where `build.sh --profile` writes the module. */
export const PROFILE_WASM = `${WASM_DIR}target/tunslab.profile.wasm`;

function mtime(path: string): number {
  try {
    return Deno.statSync(path).mtime?.getTime() ?? 0;
  } catch {
    return 0;
  }
}

/** Newest modification time of the crate's inputs (sources, manifest, build script). */
function newestSource(): number {
  let newest = Math.max(mtime(`${WASM_DIR}Cargo.toml`), mtime(`${WASM_DIR}build.sh`));
  const walk = (dir: string): void => {
    for (const e of Deno.readDirSync(dir)) {
      const p = `${dir}/${e.name}`;
      if (e.isDirectory) walk(p);
      else newest = Math.max(newest, mtime(p));
    }
  };
  walk(`${WASM_DIR}src`);
  return newest;
}

/** Builds the profiling module if it is missing or stale; returns its path. */
export async function ensureProfileWasm(say: (msg: string) => void): Promise<string> {
  const built = mtime(PROFILE_WASM);
  if (built !== 0 && built >= newestSource()) return PROFILE_WASM;
  const rust = ["/usr/bin/rustc", "/usr/bin/cargo"].every((p) => mtime(p) !== 0);
  if (!rust) {
    if (built !== 0) {
      say(`${PROFILE_WASM} is older than wasm/src and Rust is missing: profiling it as it is`);
      return PROFILE_WASM;
    }
    throw new Error(
      "the profiling build of the data plane needs Debian's Rust 1.63 " +
        "(apt-get install rustc cargo libstd-rust-dev-wasm32 lld-14, then bash wasm/build.sh --profile)",
    );
  }
  say(
    `${
      built === 0 ? "building" : "rebuilding"
    } the profiling module (bash wasm/build.sh --profile)`,
  );
  const r = await run(["bash", `${WASM_DIR}build.sh`, "--profile"], true);
  if (r.code !== 0 || mtime(PROFILE_WASM) === 0) {
    throw new Error(`bash wasm/build.sh --profile exited ${r.code}: ${r.stderr.trim()}`);
  }
  return PROFILE_WASM;
}
