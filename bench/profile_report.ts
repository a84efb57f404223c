/**
 * `deno task profile`'s outputs from the summed recordings: `top.md` (per tunnel process the
 * breakdown by part, the threads and the top functions by self percentage, with the event, the
 * iperf3 rate during the recording and the commands) and the JSON summary beside it.
 *
 * @example
 * ```ts
 * import { percent } from "./profile_report.ts";
 * console.log(percent(1, 4)); // 25
 * ```
 * @module
 */
import type { SampleSummary } from "./perf_samples.ts";
import { type Part, PART_LABELS } from "./profile_frames.ts";

/** Rows of each process's function table. */
export const TOP_ROWS = 25;

/** One recorded tunnel process with its summed samples. */
export interface SideReport {
  side: "a" | "b";
  role: string;
  pid: number;
  /** CPU seconds of all its threads while perf recorded, over `wallSeconds`. */
  cpuSeconds: number | null;
  wallSeconds: number;
  /** The file the Firefox Profiler opens (relative to the output directory). */
  perfTxt: string;
  recordCommand: string;
  summary: SampleSummary;
}

/** Everything `top.md` and the JSON say. */
export interface ProfileReport {
  date: Date;
  command: string;
  event: string;
  /** Why this event (e.g. "no hardware counters on this machine"). */
  eventNote: string;
  freq: number;
  seconds: number;
  warmupSeconds: number;
  streams: number;
  reverse: boolean;
  bitsPerSecond: number | null;
  totalBitsPerSecond: number | null;
  iperfCommand: string;
  wasm: string;
  environment: {
    kernel: string;
    deno: string;
    cpus: number;
    commit: string | null;
    /** `/proc/loadavg`'s 1-minute figure before the run: other load shares the CPUs. */
    loadAverage: number | null;
  };
  sides: SideReport[];
}

/** `part` of `whole` in percent (0 when there is no whole). */
export function percent(part: number, whole: number): number {
  return whole > 0 ? 100 * part / whole : 0;
}

const pct = (x: number): string => x.toFixed(1);
const gbit = (bps: number | null): string => bps === null ? "n/a" : `${(bps / 1e9).toFixed(3)}`;
const PARTS = Object.keys(PART_LABELS) as Part[];

/** The JSON summary: breakdown and top functions in percent per process. */
export function summaryJson(r: ProfileReport): Record<string, unknown> {
  return {
    date: r.date.toISOString(),
    command: r.command,
    event: r.event,
    eventNote: r.eventNote,
    freq: r.freq,
    seconds: r.seconds,
    streams: r.streams,
    reverse: r.reverse,
    bitsPerSecond: r.bitsPerSecond,
    totalBitsPerSecond: r.totalBitsPerSecond,
    iperfCommand: r.iperfCommand,
    wasm: r.wasm,
    environment: r.environment,
    sides: r.sides.map((s) => ({
      side: s.side,
      role: s.role,
      pid: s.pid,
      cpuSeconds: s.cpuSeconds,
      wallSeconds: s.wallSeconds,
      perfTxt: s.perfTxt,
      recordCommand: s.recordCommand,
      samples: s.summary.samples,
      events: s.summary.events,
      mapFrames: s.summary.mapFrames,
      breakdown: Object.fromEntries(
        PARTS.map((p) => [p, percent(s.summary.parts[p], s.summary.weight)]),
      ),
      threads: Object.fromEntries(
        Object.entries(s.summary.threads).map(([t, w]) => [t, percent(w, s.summary.weight)]),
      ),
      top: s.summary.functions.slice(0, TOP_ROWS).map((f) => ({
        name: f.name,
        part: f.part,
        self: percent(f.self, s.summary.weight),
        total: percent(f.total, s.summary.weight),
      })),
    })),
  };
}

function escapeCell(s: string): string {
  return s.replaceAll("|", "\\|").replaceAll("`", "'");
}

function sideMarkdown(s: SideReport): string[] {
  const sum = s.summary;
  const cpu = s.cpuSeconds === null
    ? ""
    : `, ${s.cpuSeconds.toFixed(2)} CPU-s (procfs) in ${s.wallSeconds.toFixed(2)} s (${
      (s.cpuSeconds / s.wallSeconds).toFixed(2)
    } of a core)`;
  const out = [
    `## ${s.role}: pid ${s.pid}${cpu}, ${sum.samples} samples (${sum.events.join(", ")})`,
    "",
    `Firefox Profiler: \`${s.perfTxt}\` (profiler.firefox.com → Load a profile from file).`,
    "",
  ];
  if (sum.mapFrames === 0) {
    out.push("**No frame came from V8's perf map: JavaScript and WebAssembly are unnamed.**", "");
  }
  out.push("| part | % of samples |", "|---|---:|");
  for (const p of PARTS) {
    out.push(`| ${PART_LABELS[p]} | ${pct(percent(sum.parts[p], sum.weight))} |`);
  }
  const threads = Object.entries(sum.threads).sort((x, y) => y[1] - x[1])
    .map(([t, w]) => `${t} ${pct(percent(w, sum.weight))} %`);
  out.push("", `Threads: ${threads.join(", ")}.`, "");
  out.push("| # | self % | total % | function | part |", "|---:|---:|---:|---|---|");
  sum.functions.slice(0, TOP_ROWS).forEach((f, i) => {
    out.push(
      `| ${i + 1} | ${pct(percent(f.self, sum.weight))} | ${pct(percent(f.total, sum.weight))} | ` +
        `\`${escapeCell(f.name)}\` | ${f.part} |`,
    );
  });
  out.push("");
  return out;
}

/** `top.md`. */
export function topMarkdown(r: ProfileReport): string {
  const when = r.date.toISOString().slice(0, 16).replace("T", " ");
  const dir = r.reverse ? "b→a (-R)" : "a→b";
  const out = [
    `# tunslab profile ${when} UTC`,
    "",
    `\`${r.command}\`: tunslab ↔ tunslab in two namespaces, iperf3 TCP ${r.streams} stream(s) ${dir}; ` +
    `the sender encrypts (ts_encrypt_batch), the receiver decrypts (ts_decrypt_batch). ` +
    `iperf3 during the recording: **${gbit(r.bitsPerSecond)} Gbit/s** ` +
    `(${gbit(r.totalBitsPerSecond)} over the whole run, perf running).`,
    "",
    `Event: **${r.event}** (${r.eventNote}), ${r.freq} Hz, call graphs (\`-g\`), ${r.seconds} s ` +
    `from ${r.warmupSeconds} s into the transfer. "self": samples whose leaf is the function ` +
    `(perf's --no-children); "total": samples with it anywhere in the chain.`,
    "",
    `Kernel ${r.environment.kernel}, deno ${r.environment.deno}, ${r.environment.cpus} CPUs ` +
    `(load average ${r.environment.loadAverage ?? "?"} before the run), ` +
    `commit ${r.environment.commit ?? "?"}; data plane: the profiling build ${r.wasm} ` +
    `(TUNSLAB_WASM), up started with \`--v8-flags=--perf-basic-prof\`.`,
    "",
    "Commands:",
    "",
    "```sh",
    r.iperfCommand + "   # in namespace a",
    ...r.sides.map((s) => s.recordCommand),
    ...r.sides.map((s) => `perf script -F +pid -i ${s.side}.perf.data > ${s.perfTxt}`),
    "```",
    "",
  ];
  for (const s of r.sides) out.push(...sideMarkdown(s));
  return out.join("\n");
}
