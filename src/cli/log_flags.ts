/**
 * `--log-level` and `--log-format` of the commands that run a tunnel (`up`, `proxy`): their
 * option specs and their values checked, a bad one a usage error.
 * @module
 */
import { type LogFormat, parseLogLevel } from "../log.ts";
import type { ParsedCommand } from "./parse_command.ts";
import { UsageError } from "./usage_error.ts";

/** The two options, for a command's `parseCommand` spec. */
export const LOG_OPTIONS = {
  "log-level": { type: "string", default: "info" },
  "log-format": { type: "string", default: "auto" },
} as const;

/** The level and format asked for; a UsageError for anything else. */
export function logFlags(values: ParsedCommand["values"]): {
  level: ReturnType<typeof parseLogLevel>;
  format: LogFormat;
} {
  const format = values["log-format"] as string;
  if (format !== "auto" && format !== "json" && format !== "text") {
    throw new UsageError(`--log-format must be auto, json or text, not "${format}"`);
  }
  try {
    return { level: parseLogLevel(values["log-level"] as string), format };
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}
