/**
 * `tunslab version`.
 * @module
 */
import { VERSION } from "../version.ts";
import { parseCommand } from "./parse_command.ts";

/** Prints `tunslab VERSION (deno X, data plane wasm32)`. */
export function version(args: string[]): Promise<number> {
  if (parseCommand(args, { usage: "version", options: {} }) !== null) {
    console.log(`tunslab ${VERSION} (deno ${Deno.version.deno})`);
  }
  return Promise.resolve(0);
}
