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

/** A config file that `wg`/`wg-quick` would refuse. */
export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(
    readonly path: string,
    readonly line: number,
    readonly detail: string,
    options?: ErrorOptions,
  ) {
    super(`Invalid config at ${path}:${line}: ${detail}`, options);
  }
}
