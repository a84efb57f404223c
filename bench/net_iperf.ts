/**
 * One iperf3 client run in namespace a of `bench:net`'s testbed, its `-J` report parsed: the TCP
 * tests (bench/net_run.ts) and the UDP and load extras (bench/net_extras.ts) share it. A run that
 * fails (no JSON, an `error` in it, a timeout) gives an error string, never an exception.
 *
 * @example
 * ```ts ignore
 * const r = await iperfJson(bed, ["-c", "10.99.0.2", "-t", "2"], 2, signal);
 * if (r.json) console.log(r.json.end.sum_received.bits_per_second);
 * ```
 * @module
 */
import type { Testbed } from "../src/demo/testbed.ts";

/** iperf3's JSON report (only the fields the benchmark reads are typed). */
// deno-lint-ignore no-explicit-any
export type IperfJson = any;

/** The parsed report, or why there is none. */
export type IperfOutcome = { json: IperfJson; error?: undefined } | {
  json?: undefined;
  error: string;
};

/**
 * Runs `iperf3 ARGS -J` in a; `seconds` is the test's length (the run is killed 30 s after it).
 */
export async function iperfJson(
  bed: Testbed,
  args: string[],
  seconds: number,
  signal: AbortSignal,
): Promise<IperfOutcome> {
  const full = bed.exec("a", ["iperf3", ...args, "-J", "--connect-timeout", "5000"]);
  const timer = AbortSignal.timeout((seconds + 30) * 1000);
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(full[0], {
      args: full.slice(1),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.any([signal, timer]),
    }).output();
  } catch (e) {
    return { error: `iperf3 failed: ${e}` };
  }
  const text = new TextDecoder().decode(out.stdout);
  try {
    const j = JSON.parse(text);
    if (j.error) return { error: String(j.error) };
    return { json: j };
  } catch {
    const err = new TextDecoder().decode(out.stderr).trim() || text.slice(0, 200);
    return { error: `iperf3 exited ${out.code}${timer.aborted ? " (timed out)" : ""}: ${err}` };
  }
}
