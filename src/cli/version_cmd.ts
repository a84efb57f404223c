/**
 * `tunslab version`: the program, Deno and data plane versions. Loading the
 * data plane here also proves a compiled binary carries its `.wasm`.
 * @module
 */
import { VERSION } from "../version.ts";
import { instantiate, wasmBytes } from "../wasm/module.ts";
import { parseCommand } from "./parse_command.ts";

/** Prints `tunslab VERSION (deno X)` and a line about the data plane. */
export async function version(args: string[]): Promise<number> {
  if (parseCommand(args, { usage: "version", options: {} }) === null) return 0;
  console.log(`tunslab ${VERSION} (deno ${Deno.version.deno})`);
  const bytes = wasmBytes();
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>),
  );
  const hex = [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
  const wasm = instantiate();
  console.log(
    `data plane: tunslab.wasm ${bytes.length} B sha256 ${hex}, slot ${wasm.ts_slot_size()} B`,
  );
  return 0;
}
