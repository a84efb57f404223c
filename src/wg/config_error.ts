/**
 * The error every config-file problem is reported as: names the file, the
 * 1-based line (0 when the problem is not on one line) and what is wrong,
 * including the key.
 *
 * @example
 * ```ts
 * import { ConfigError } from "./config_error.ts";
 * const e = new ConfigError("wg0.conf", 3, 'ListenPort: "x" is not a port number (0..65535)');
 * console.log(e.message); // Invalid config at wg0.conf:3: ListenPort: "x" is not a port number (0..65535)
 * ```
 *
 * @module
 */

/** Longest detail a message carries: a hostile file must not become a 100 MB log line. */
export const MAX_DETAIL = 240;

/** `detail` with control characters (C0, DEL, C1) escaped (`\x00`) and cut at {@link MAX_DETAIL}. */
export function printableDetail(detail: string): string {
  let s = detail.length > 4 * MAX_DETAIL ? detail.slice(0, 4 * MAX_DETAIL) : detail;
  s = s.replace(
    // deno-lint-ignore no-control-regex
    /[\x00-\x08\x0a-\x1f\x7f-\x9f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
  return s.length > MAX_DETAIL || detail.length > 4 * MAX_DETAIL
    ? `${s.slice(0, MAX_DETAIL)}… (cut)`
    : s;
}

/** A config file that `wg`/`wg-quick` would refuse. */
export class ConfigError extends Error {
  override name = "ConfigError";
  readonly detail: string;
  constructor(
    readonly path: string,
    readonly line: number,
    detail: string,
    options?: ErrorOptions,
  ) {
    const d = printableDetail(detail);
    super(`Invalid config at ${path}:${line}: ${d}`, options);
    this.detail = d;
  }
}
