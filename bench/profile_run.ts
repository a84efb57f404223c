/**
 * One recording of `deno task profile`: a tunslab pair in two fresh namespaces (each `up` started
 * with V8's `--perf-basic-prof` and the profiling module), iperf3 through it (server in b, client
 * in a), and `perf record -g` of both tunnel processes over the steady part of the transfer (the
 * first second is left out: handshake, slow start, V8 tiering up). Everything it starts is kept
 * in {@link ProfileLive} so that {@link cleanupProfile} can remove it on success, failure and
 * SIGINT.
 *
 * @example
 * ```ts
 * import { roles } from "./profile_run.ts";
 * console.log(roles(false).a); // "a (sender)"
 * ```
 * @module
 */
import { type Side, Testbed } from "../src/demo/testbed.ts";
import { pairSpec, startTunnel, type TunnelProcess } from "../src/demo/tunnel_process.ts";
import { generatePrivateKey } from "../src/wg/keys.ts";
import { readProcStats } from "./proc_stats.ts";
import { finishRecord, recordArgs, startRecord } from "./perf_tool.ts";

const INNER = { a: "10.98.0.1", b: "10.98.0.2" } as const;
const PORT = 5201;
/** Seconds of transfer before the recording starts, and after it ends. */
export const WARMUP_S = 1;
const TAIL_S = 1;

/** What {@link cleanupProfile} must be able to stop. */
export interface ProfileLive {
  bed?: Testbed;
  tunnels: TunnelProcess[];
  /** iperf3 and perf processes still running. */
  children: Set<Deno.ChildProcess>;
  /** V8's perf maps of the tunnel processes (V8 leaves them in /tmp). */
  maps: string[];
}

/** What to record. */
export interface ProfileOptions {
  seconds: number;
  streams: number;
  reverse: boolean;
  event: string;
  /** The profiling module (`TUNSLAB_WASM`). */
  wasm: string;
  dir: string;
  say: (msg: string) => void;
}

/** One recorded tunnel process. */
export interface RecordedSide {
  side: Side;
  /** "a (sender)" etc. */
  role: string;
  pid: number;
  data: string;
  map: string;
  /** CPU seconds (all threads) it spent while perf recorded it. */
  cpuSeconds: number | null;
  /** Wall time of the CPU reading (the recording's length, to a few ms). */
  wallSeconds: number;
  command: string;
}

/** The outcome of one recording. */
export interface ProfileRecording {
  sides: RecordedSide[];
  /** iperf3's receiver-side rate over its 1-s intervals inside the recording, bit/s. */
  bitsPerSecond: number | null;
  /** Over the whole iperf3 run, bit/s. */
  totalBitsPerSecond: number | null;
  iperfCommand: string;
}

/** Which side sends: a is the iperf3 client, so it sends unless `-R`. */
export function roles(reverse: boolean): Record<Side, string> {
  return reverse ? { a: "a (receiver)", b: "b (sender)" } : { a: "a (sender)", b: "b (receiver)" };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function spawnTracked(live: ProfileLive, child: Deno.ChildProcess): Deno.ChildProcess {
  live.children.add(child);
  child.status.finally(() => live.children.delete(child));
  return child;
}

async function startPair(live: ProfileLive, o: ProfileOptions): Promise<void> {
  const bed = live.bed!;
  const keys = { a: generatePrivateKey(), b: generatePrivateKey() };
  for (const side of ["a", "b"] as const) {
    const t = await startTunnel(bed, side, "tunslab", {
      ...pairSpec(bed, side, keys, { v4: INNER }, `pf${side}${Deno.pid % 100000}`),
      denoArgs: ["--v8-flags=--perf-basic-prof"],
      env: { TUNSLAB_WASM: o.wasm },
    });
    live.tunnels.push(t);
    // `ip netns exec` execs the program, so the child's pid is deno's and names its map.
    live.maps.push(`/tmp/perf-${t.pid}.map`);
  }
}

/** iperf3's rate over its intervals that lie inside [from, to] seconds of the test, bit/s. */
export function windowRate(report: unknown, from: number, to: number): number | null {
  const intervals = (report as { intervals?: { sum: Record<string, number> }[] }).intervals ?? [];
  let bits = 0, secs = 0;
  for (const { sum } of intervals) {
    if (sum.start >= from - 0.05 && sum.end <= to + 0.05) {
      bits += sum.bits_per_second * sum.seconds;
      secs += sum.seconds;
    }
  }
  return secs > 0 ? bits / secs : null;
}

/** Sets up the pair, runs iperf3 and records both tunnel processes. */
export async function recordProfile(
  live: ProfileLive,
  o: ProfileOptions,
): Promise<ProfileRecording> {
  live.bed = await Testbed.create("prof");
  const bed = live.bed;
  o.say(`testbed ${bed.ns.a} ↔ ${bed.ns.b}; starting tunslab up in both (--perf-basic-prof)`);
  await startPair(live, o);
  await bed.reachable("a", INNER.b);
  const server = spawnTracked(
    live,
    bed.spawn("b", ["iperf3", "-s", "-1", "-B", INNER.b, "-p", String(PORT)], {
      stdout: "null",
      stderr: "null",
    }),
  );
  await bed.waitListening("b", PORT);
  const total = WARMUP_S + o.seconds + TAIL_S;
  const iperf = ["iperf3", "-c", INNER.b, "-p", String(PORT), "-t", String(total)];
  iperf.push("-P", String(o.streams), "-J", "--connect-timeout", "5000");
  if (o.reverse) iperf.push("-R");
  o.say(`${iperf.join(" ")}; recording from ${WARMUP_S} s for ${o.seconds} s (${o.event})`);
  const client = spawnTracked(live, bed.spawn("a", iperf));
  const clientOut = client.output();
  await sleep(WARMUP_S * 1000);
  const role = roles(o.reverse);
  const sides = live.tunnels.map((t, i): RecordedSide => {
    const side = t.side;
    const data = `${o.dir}/${side}.perf.data`;
    const args = recordArgs(o.event, t.pid, data, o.seconds);
    return {
      side,
      role: role[side],
      pid: t.pid,
      data,
      map: live.maps[i],
      cpuSeconds: null,
      wallSeconds: 0,
      command: args.join(" "),
    };
  });
  const cpu0 = live.tunnels.map((t) => readProcStats(t.pid)?.cpuSeconds);
  const t0 = performance.now();
  const records = sides.map((s) =>
    spawnTracked(live, startRecord(recordArgs(o.event, s.pid, s.data, o.seconds)))
  );
  // Read when the recording ends, not when perf exits: it post-processes for a second or more.
  let cpu1: (number | undefined)[] = [];
  let wall = 0;
  const reading = new Promise<void>((res) =>
    setTimeout(() => {
      cpu1 = live.tunnels.map((t) => readProcStats(t.pid)?.cpuSeconds);
      wall = (performance.now() - t0) / 1000;
      res();
    }, o.seconds * 1000)
  );
  await Promise.all(records.map((r, i) => finishRecord(r, sides[i].data)));
  await reading;
  sides.forEach((s, i) => {
    const before = cpu0[i], after = cpu1[i];
    s.cpuSeconds = before !== undefined && after !== undefined ? after - before : null;
    s.wallSeconds = wall;
  });
  const out = await clientOut;
  await server.status;
  let report: { error?: string; end?: { sum_received?: { bits_per_second?: number } } };
  try {
    report = JSON.parse(new TextDecoder().decode(out.stdout));
  } catch {
    const err = new TextDecoder().decode(out.stderr).trim();
    throw new Error(`iperf3 exited ${out.code} without a JSON report: ${err}`);
  }
  if (report.error) throw new Error(`iperf3: ${report.error}`);
  return {
    sides,
    bitsPerSecond: windowRate(report, WARMUP_S, WARMUP_S + o.seconds),
    totalBitsPerSecond: report.end?.sum_received?.bits_per_second ?? null,
    iperfCommand: iperf.join(" "),
  };
}

/**
 * Stops everything {@link recordProfile} started but keeps the map files (`perf script` still
 * needs them). Idempotent.
 */
export async function stopProfile(live: ProfileLive): Promise<void> {
  for (const c of live.children) {
    try {
      c.kill("SIGTERM");
    } catch { /* gone */ }
  }
  await Promise.all([...live.children].map((c) => c.status.catch(() => undefined)));
  await Promise.all(live.tunnels.map((t) => t.stop().catch(() => undefined)));
  live.tunnels.length = 0;
  await live.bed?.destroy();
}

/** {@link stopProfile}, then the map files go too. Idempotent. */
export async function cleanupProfile(live: ProfileLive): Promise<void> {
  await stopProfile(live);
  for (const m of live.maps) await Deno.remove(m).catch(() => {});
  live.maps.length = 0;
}
