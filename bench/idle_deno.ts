/**
 * An idle Deno process for the network benchmark's memory reference: prints
 * "ready" and sleeps (at most 10 minutes) until killed. Its peak RSS is what
 * `deno run` costs before any tunnel code; tunslab's RSS is reported above it.
 *
 * @example
 * ```sh
 * deno run -A bench/idle_deno.ts
 * ```
 * @module
 */
console.log("ready");
await new Promise((resolve) => setTimeout(resolve, 600_000));
