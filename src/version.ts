/**
 * The program version, from deno.json at build time.
 * @module
 */
import config from "../deno.json" with { type: "json" };

/** tunslab's version string. */
export const VERSION: string = config.version;
