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
  defaultTextFormatter,
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

/** Whether `format` means JSON Lines on this stderr. */
export function isJsonFormat(format: LogFormat): boolean {
  return format === "json" || (format === "auto" && !Deno.stderr.isTerminal());
}

/**
 * Configures LogTape once for the process: JSON Lines, or the human format (in colour only on a
 * terminal: `--log-format text` piped into a file gets no escape codes).
 */
export async function setupLogging(level: LogLevel, format: LogFormat = "auto"): Promise<void> {
  const formatter = isJsonFormat(format)
    ? jsonLinesFormatter
    : Deno.stderr.isTerminal()
    ? ansiColorFormatter
    : defaultTextFormatter;
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

/** What caused `e`, as text for a log property: the chain of causes' messages. */
export function causeOf(e: unknown): string | undefined {
  const parts: string[] = [];
  for (let c = (e as { cause?: unknown })?.cause; c !== undefined && parts.length < 4;) {
    parts.push(c instanceof Error ? `${c.name}: ${c.message}` : String(c));
    c = (c as { cause?: unknown })?.cause;
  }
  return parts.length ? parts.join(" <- ") : undefined;
}

/**
 * One fatal line on stderr before (or without) the logger: JSON Lines shaped as LogTape writes
 * them when `json`, else `prefix: message`. Usage errors and failures of commands that never set
 * up logging go through it, so `2>&1 | jq .` never meets a plain line in JSON mode.
 */
export function writeFatal(json: boolean, prefix: string, e: unknown, level = "FATAL"): void {
  const message = e instanceof Error ? e.message : String(e);
  const line = json
    ? JSON.stringify({
      "@timestamp": new Date().toISOString(),
      level,
      message: `${prefix}: ${message}`,
      logger: "tunslab.cli",
      properties: { error: message, cause: causeOf(e), name: (e as Error)?.name },
    })
    : `${prefix}: ${message}`;
  console.error(line);
}
