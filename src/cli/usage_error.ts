/**
 * A command-line usage error: printed with a hint, exit code 2.
 * @module
 */

/** Bad arguments (missing positional, bad value). */
export class UsageError extends Error {
  override name = "UsageError";
}
