/**
 * Strict per-subcommand flag parsing on `node:util` parseArgs, with `--help`.
 * Unknown flags throw `ERR_PARSE_ARGS_*`, which main.ts maps to exit 2.
 *
 * @example
 * ```ts
 * import { parseCommand } from "./parse_command.ts";
 * const r = parseCommand(["--mtu", "1280", "wg0.conf"], {
 *   usage: "up CONF [--mtu N]", min: 1, max: 1,
 *   options: { mtu: { type: "string" } },
 * });
 * if (r !== null) console.log(r.values.mtu, r.positionals[0]);
 * ```
 * @module
 */

import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import { UsageError } from "./usage_error.ts";

/** What a subcommand accepts. */
export interface CommandSpec<T extends ParseArgsOptionsConfig> {
  /** Usage text printed by `--help` (first line = synopsis). */
  usage: string;
  options: T;
  /** Positional argument count bounds. */
  min?: number;
  max?: number;
}

/** Flag values by name (strings, booleans, or arrays for `multiple`). */
export interface ParsedCommand {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/** Parsed flags, or `null` after printing help. */
export function parseCommand<T extends ParseArgsOptionsConfig>(
  args: string[],
  spec: CommandSpec<T>,
): ParsedCommand | null {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: { ...spec.options, help: { type: "boolean", short: "h" } },
  });
  if ((values as Record<string, unknown>).help === true) {
    console.log(`Usage: tunslab ${spec.usage}`);
    return null;
  }
  const min = spec.min ?? 0;
  const max = spec.max ?? 0;
  if (positionals.length < min) {
    throw new UsageError(`missing argument: tunslab ${spec.usage.split("\n")[0]}`);
  }
  if (positionals.length > max) throw new UsageError(`unexpected argument "${positionals[max]}"`);
  return { values: values as ParsedCommand["values"], positionals };
}
