/**
 * `deno task profile` (root): where a tunslab pair's CPU goes under iperf3, the way the seed's
 * guide profiles ("Benchmarking on Linux": `perf record -g` of the running process, `perf script`,
 * the Firefox Profiler). It starts its own pair in two fresh namespaces, each `tunslab up` run
 * with V8's `--perf-basic-prof` (V8 writes `/tmp/perf-PID.map` only for a process started so) and
 * the profiling build of the data plane (`bash wasm/build.sh --profile`, built when missing, loaded
 * through `TUNSLAB_WASM`: WebAssembly frames get their Rust names), drives iperf3 through it
 * (server in b, client in a) and records both tunnel processes with `perf record -g` for N seconds
 * from one second into the transfer (event `cycles`, or `cpu-clock` without hardware counters).
 *
 * Writes to DIR (default `bench/results/profile-YYYY-MM-DD-HHMM/`): `a.perf.txt`, `b.perf.txt`
 * (`perf script`, the file the Firefox Profiler opens, JS and WebAssembly frames named from the
 * maps), `top.md` (per process: the breakdown WebAssembly / kernel / JS and Deno runtime, the top
 * functions by self percentage, the event, the iperf3 rate during the recording and the commands;
 * also printed), `summary.json` (the same in numbers; `--json` prints it instead) and the raw
 * `*.perf.data`. Namespaces, processes and the map files are removed at the end, on failure and on
 * SIGINT; traffic only flows between its two namespaces.
 *
 * @example
 * ```sh
 * sudo deno task profile                      # 10 s, 1 stream, a sends
 * sudo deno task profile --seconds 8 --streams 8 --reverse --out /tmp/prof
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { isRoot, run } from "../src/demo/testbed.ts";
import { havePerf, PERF_FREQ, perfEvent, perfScript, recordedEvent } from "./perf_tool.ts";
import { ensureProfileWasm } from "./profile_wasm.ts";
import {
  cleanupProfile,
  type ProfileLive,
  recordProfile,
  stopProfile,
  WARMUP_S,
} from "./profile_run.ts";
import { FrameNamer } from "./profile_frames.ts";
import { summarizeScript } from "./perf_samples.ts";
import { type ProfileReport, type SideReport, summaryJson, topMarkdown } from "./profile_report.ts";
import { wasmFunctionNames } from "./wasm_names.ts";

const REPO = new URL("..", import.meta.url).pathname;
const RESULTS = new URL("./results/", import.meta.url).pathname;

const USAGE =
  "Usage: deno task profile [--seconds N] [--out DIR] [--streams N] [--reverse] [--json]";

function say(msg: string): void {
  console.error(`profile: ${msg}`);
}

async function need(tool: string, pkg: string): Promise<void> {
  const r = await run(["sh", "-c", `command -v ${tool}`], true);
  if (r.code !== 0) {
    throw new Error(`deno task profile needs ${tool} (apt-get install ${pkg})`);
  }
}

function intOption(name: string, raw: string, min: number, max: number): number {
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`--${name} must be an integer ${min}..${max}, not "${raw}"`);
  }
  return v;
}

/** Runs the whole profile; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  let values;
  let seconds: number, streams: number;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        seconds: { type: "string", default: "10" },
        streams: { type: "string", default: "1" },
        reverse: { type: "boolean", default: false },
        out: { type: "string" },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
    seconds = intOption("seconds", values.seconds, 1, 120);
    streams = intOption("streams", values.streams, 1, 64);
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!isRoot()) {
    console.error(
      "deno task profile creates network namespaces and TUN devices and runs perf on them: run it as root",
    );
    return 1;
  }
  const date = new Date();
  const loadAverage = (() => {
    try {
      return Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]);
    } catch {
      return null;
    }
  })();
  const stamp = date.toISOString().slice(0, 16).replace("T", "-").replace(":", "");
  const dir = (values.out ?? `${RESULTS}profile-${stamp}`).replace(/\/+$/, "");
  let madeDir = false;
  let ok = false;
  const live: ProfileLive = { tunnels: [], children: new Set(), maps: [] };
  let cleaning: Promise<void> | undefined;
  const cleanup = (): Promise<void> =>
    cleaning ??= (async () => {
      await cleanupProfile(live);
      // A run that did not finish leaves no half-written directory of its own behind.
      if (!ok && madeDir) await Deno.remove(dir, { recursive: true }).catch(() => {});
    })();
  const onSignal = () => {
    say("interrupted: cleaning up");
    cleanup().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    if (!(await havePerf())) {
      throw new Error("deno task profile needs perf (apt-get install linux-perf)");
    }
    for (const [t, p] of [["ip", "iproute2"], ["ping", "iputils-ping"], ["ss", "iproute2"]]) {
      await need(t, p);
    }
    await need("iperf3", "iperf3");
    const wasm = await ensureProfileWasm(say);
    const wasmNames = wasmFunctionNames(Deno.readFileSync(wasm));
    if (wasmNames.size === 0) throw new Error(`${wasm} has no name section: rebuild it`);
    const event = await perfEvent();
    const eventNote = event === "cycles"
      ? "the CPU's cycle counter"
      : "no hardware counters on this machine: a timer tick instead of cycles";
    try {
      Deno.statSync(dir);
    } catch {
      madeDir = true;
    }
    Deno.mkdirSync(dir, { recursive: true });
    const rec = await recordProfile(live, {
      seconds,
      streams,
      reverse: values.reverse,
      event,
      wasm,
      dir,
      say,
    });
    // The tunnels are done; V8's maps stay in /tmp until cleanup, for perf script.
    await stopProfile(live);
    say(`perf script of both recordings into ${dir}`);
    await Promise.all(rec.sides.map((s) => perfScript(s.data, `${dir}/${s.side}.perf.txt`)));
    const namer = new FrameNamer(wasmNames, REPO);
    const sides: SideReport[] = [];
    for (const s of rec.sides) {
      sides.push({
        side: s.side,
        role: s.role,
        pid: s.pid,
        cpuSeconds: s.cpuSeconds,
        wallSeconds: s.wallSeconds,
        perfTxt: `${s.side}.perf.txt`,
        recordCommand: s.command.replace(`${dir}/`, ""),
        summary: await summarizeScript(`${dir}/${s.side}.perf.txt`, namer),
      });
    }
    const recorded = await recordedEvent(rec.sides[0].data);
    const git = await run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], true);
    const report: ProfileReport = {
      date,
      command: ["deno task profile", ...argv].join(" "),
      event: recorded,
      eventNote,
      freq: PERF_FREQ,
      seconds,
      warmupSeconds: WARMUP_S,
      streams,
      reverse: values.reverse,
      bitsPerSecond: rec.bitsPerSecond,
      totalBitsPerSecond: rec.totalBitsPerSecond,
      iperfCommand: rec.iperfCommand,
      wasm: wasm.startsWith(REPO) ? wasm.slice(REPO.length) : wasm,
      environment: {
        kernel: Deno.osRelease(),
        deno: Deno.version.deno,
        cpus: navigator.hardwareConcurrency,
        commit: git.stdout.trim() || null,
        loadAverage,
      },
      sides,
    };
    const md = topMarkdown(report);
    const json = summaryJson(report);
    Deno.writeTextFileSync(`${dir}/top.md`, md);
    Deno.writeTextFileSync(`${dir}/summary.json`, JSON.stringify(json, null, 2) + "\n");
    console.log(values.json ? JSON.stringify(json, null, 2) : md);
    say(`wrote ${dir}/top.md, summary.json, a.perf.txt and b.perf.txt`);
    ok = true;
    return 0;
  } catch (e) {
    say(`failed: ${(e as Error).message}`);
    return 1;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    await cleanup();
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
