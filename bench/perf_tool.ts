/**
 * Linux `perf` as the profile uses it (the seed's "Benchmarking on Linux": `perf record -g` of a
 * running process, then `perf script` for the Firefox Profiler): the sampling event this machine
 * has, a recording of one process for a fixed time, and the script dump of a recording.
 *
 * @example
 * ```ts
 * import { perfEvent } from "./perf_tool.ts";
 * // console.log(await perfEvent()); // "cycles", or "cpu-clock" on a VM without counters
 * ```
 * @module
 */
import { run } from "../src/demo/testbed.ts";

/** Samples per second of every recording (perf's default, said in the report). */
export const PERF_FREQ = 4000;

/** perf's binary: `PERF` or the one on PATH. */
export function perfBin(): string {
  return Deno.env.get("PERF") ?? "perf";
}

/** True when `perf` runs at all. */
export async function havePerf(): Promise<boolean> {
  try {
    return (await run([perfBin(), "--version"], true)).code === 0;
  } catch {
    return false;
  }
}

/**
 * `cycles` when the CPU's counters are there, else `cpu-clock` (a VM without a PMU: perf would
 * fall back on its own, but the report must name the event it used). `perf stat` says
 * "<not supported>" for a missing counter and still exits 0, so its count is what decides.
 */
export async function perfEvent(): Promise<"cycles" | "cpu-clock"> {
  const r = await run([perfBin(), "stat", "-x,", "-e", "cycles", "--", "true"], true);
  const line = r.stderr.split("\n").find((l) => /,cycles/.test(l)) ?? "";
  return r.code === 0 && /^\d+,/.test(line) ? "cycles" : "cpu-clock";
}

/** The arguments that record `pid` (all its threads) with call graphs for `seconds` into `out`. */
export function recordArgs(event: string, pid: number, out: string, seconds: number): string[] {
  return [
    perfBin(),
    "record",
    "-e",
    event,
    "-F",
    String(PERF_FREQ),
    "-g",
    // No copy of every binary hit (deno is ~100 MB) into ~/.debug's build-id cache.
    "--no-buildid-cache",
    "-p",
    String(pid),
    "-o",
    out,
    "--",
    "sleep",
    String(seconds),
  ];
}

/** Starts a recording (see {@link recordArgs}); its output is kept for the error message. */
export function startRecord(args: string[]): Deno.ChildProcess {
  return new Deno.Command(args[0], {
    args: args.slice(1),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Waits for a recording; throws with perf's words when it failed. */
export async function finishRecord(child: Deno.ChildProcess, out: string): Promise<void> {
  const r = await child.output();
  const size = (() => {
    try {
      return Deno.statSync(out).size;
    } catch {
      return 0;
    }
  })();
  if (r.code !== 0 || size === 0) {
    const err = new TextDecoder().decode(r.stderr).trim();
    throw new Error(`perf record -o ${out} exited ${r.code}: ${err}`);
  }
}

/** The event a recording holds, as perf names it (`perf evlist`). */
export async function recordedEvent(data: string): Promise<string> {
  const r = await run([perfBin(), "evlist", "-i", data], true);
  return r.stdout.split("\n").map((l) => l.trim()).find((l) => l !== "" && !l.startsWith("#")) ??
    "?";
}

/**
 * `perf script -F +pid` of `data` into `out` (the text the Firefox Profiler imports; `+pid`, as
 * its guide says, gives it `pid/tid` so that it tells the threads apart). Run while V8's
 * `/tmp/perf-PID.map` files are still there: perf resolves JIT and WebAssembly frames from them
 * at this point, not at recording time.
 */
export async function perfScript(data: string, out: string): Promise<void> {
  const file = await Deno.open(out, { write: true, create: true, truncate: true });
  const child = new Deno.Command(perfBin(), {
    args: ["script", "-F", "+pid", "-i", data],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const [status, err] = await Promise.all([
    child.status,
    new Response(child.stderr).text(),
    child.stdout.pipeTo(file.writable),
  ]);
  if (!status.success) throw new Error(`perf script -i ${data} exited ${status.code}: ${err}`);
}
