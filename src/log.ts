/**
 * Logging set-up: LogTape, JSON Lines on stderr by default (one object per
 * line: `@timestamp`, `level`, `logger`, `message`, properties), the coloured
 * human format when stderr is a terminal. stdout stays for command output.
 *
 * @example
 * ```ts
 * import { setupLogging, logger } from "./log.ts";
 * await setupLogging("info");
 * logger("peer").info("Handshake complete for {peer}", { peer: "abc=" });
 * ```
 * @module
 */

import {
  ansiColorFormatter,
  configure,
  dispose,
  getLogger,
  getStreamSink,
  jsonLinesFormatter,
  type Logger,
  type LogLevel,
} from "@logtape/logtape";

/** Levels accepted by `--log-level`. */
export const LOG_LEVELS = ["trace", "debug", "info", "warning", "error", "fatal"] as const;

/** Format selection: `auto` = human on a TTY, JSON Lines otherwise. */
export type LogFormat = "auto" | "json" | "text";

/** Thrown for a `--log-level` value that is not a level. */
export class LogLevelError extends Error {
  override name = "LogLevelError";
  constructor(value: string) {
    super(`unknown log level "${value}" (expected one of ${LOG_LEVELS.join(", ")})`);
  }
}

/** Parses a `--log-level` value ("warn" is accepted for "warning"). */
export function parseLogLevel(value: string): LogLevel {
  const v = value === "warn" ? "warning" : value;
  if ((LOG_LEVELS as readonly string[]).includes(v)) return v as LogLevel;
  throw new LogLevelError(value);
}

/** Configures LogTape once for the process. */
export async function setupLogging(level: LogLevel, format: LogFormat = "auto"): Promise<void> {
  const human = format === "text" || (format === "auto" && Deno.stderr.isTerminal());
  const formatter = human ? ansiColorFormatter : jsonLinesFormatter;
  await configure({
    reset: true,
    sinks: { stderr: getStreamSink(Deno.stderr.writable, { formatter }) },
    loggers: [
      { category: ["tunslab"], lowestLevel: level, sinks: ["stderr"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
    ],
  });
}

/** Flushes and closes the sinks; call before exit. */
export async function shutdownLogging(): Promise<void> {
  await dispose();
}

/** A logger under the `tunslab` category, e.g. `logger("peer")`. */
export function logger(...category: string[]): Logger {
  return getLogger(["tunslab", ...category]);
}
