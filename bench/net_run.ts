/**
 * One row of `bench:net`, run once: the two tunnel processes (or none, for the bare veth) in the
 * testbed's namespaces, an iperf3 server in namespace b, and the four iperf3 tests (1 and 8
 * streams, both directions), each with the CPU seconds and peak RSS of both tunnel processes.
 *
 * @example
 * ```ts
 * import { TESTS } from "./net_run.ts";
 * console.log(TESTS.length); // 4
 * ```
 * @module
 */
import { run, type Testbed } from "../src/demo/testbed.ts";
import { pairSpec, startTunnel, type TunnelProcess } from "../src/demo/tunnel_process.ts";
import { generatePrivateKey } from "../src/wg/keys.ts";
import { type ProcStats, readHostCpu, readProcStats } from "./proc_stats.ts";
import type { NobodyCopy } from "../src/demo/nobody_copy.ts";
import { type Held, hold64, PROXY_IPERF, startProxy } from "./net_proxy.ts";
import { iperfJson } from "./net_iperf.ts";
import { type ExtraName, type ExtrasRecord, ExtrasRun } from "./net_extras.ts";

export const IPERF_PORT = 5201;
const INNER = { a: "10.99.0.1", b: "10.99.0.2" } as const;

/** "proxy": `tunslab proxy` (side a only), iperf3 through its TCPClientTunnel (bench/net_proxy.ts). */
export type Kind = "tunslab" | "wireguard-go" | "proxy";

/** One end of a row: what runs, from where. */
export interface End {
  kind: Kind;
  /**
   * tunslab: the main.ts to run; wireguard-go: the binary; proxy: the checkout (copied for uid
   * 65534). Default: this checkout / PATH.
   */
  program?: string;
}

/** One row: what runs in namespace a and b (null: the bare veth pair). */
export interface ConfigDef {
  id: string;
  label: string;
  ends: { a: End; b: End } | null;
  upArgs?: string[];
  /** Runs only when `--only` names it. */
  optIn?: boolean;
}

/** One tunnel process of one run. */
export interface ProcRecord {
  side: "a" | "b";
  kind: Kind;
  program: string | null;
  pid: number;
  comm: string;
  /** Right after the interface came up (and the first ping). */
  start?: ProcStats;
  /** After the last test, before SIGTERM. */
  end?: ProcStats;
  /** The pool figures tunslab logs when it stops. */
  pool?: { highWater: number; highWaterBytes: number; inUseAtExit: number };
  finalStats?: Record<string, unknown>;
}

/** One iperf3 test of one run. */
export interface TestRecord {
  streams: number;
  reverse: boolean;
  direction: "a→b" | "b→a";
  seconds: number;
  bitsPerSecond: number | null;
  retransmits: number | null;
  error?: string;
  /** Whole machine during the test: busy CPU seconds (all cores) and their share of the time. */
  host?: { busySeconds: number; busyPercent: number; cpus: number };
  /** Per tunnel process: CPU seconds spent during this test, peak RSS after it. */
  procs: { side: "a" | "b"; cpuSeconds: number | null; hwmKiB: number | null }[];
}

/** One run of one row. */
export interface RunRecord {
  id: string;
  round: number;
  processes: ProcRecord[];
  tests: TestRecord[];
  /** Proxy rows: its RSS with 64 connections open through it. */
  held?: Held;
  heldError?: string;
  /** Tunnel rows other than the proxy's: UDP packet rates, ping RTT under load (net_extras.ts). */
  extras?: ExtrasRecord;
  /** Wall time of the whole run (start to stop of its tunnels), seconds. */
  wallSeconds?: number;
  error?: string;
}

export const TESTS: readonly { streams: number; reverse: boolean }[] = [
  { streams: 1, reverse: false },
  { streams: 1, reverse: true },
  { streams: 8, reverse: false },
  { streams: 8, reverse: true },
];

/** What a signal handler must be able to stop. */
export interface Live {
  bed?: Testbed;
  /** Tunnel MTU of every row (`--mtu`; undefined: each program's default, 1420). */
  mtu?: number;
  tunnels: TunnelProcess[];
  server?: Deno.ChildProcess;
  /** The copy for uid 65534 the proxy rows run from, and the baseline's files in it. */
  nobody?: NobodyCopy;
  nobodyBaseline?: string;
  abort: AbortController;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function say(msg: string): void {
  console.error(`bench:net: ${msg}`);
}

/** Stops the iperf3 server, if one runs. */
export async function stopServer(live: Live): Promise<void> {
  const s = live.server;
  live.server = undefined;
  if (s === undefined) return;
  try {
    s.kill("SIGTERM");
  } catch { /* gone */ }
  await s.status;
}

/** Stops every tunnel of the current run. */
export async function stopTunnels(live: Live): Promise<void> {
  await Promise.all(live.tunnels.map((t) => t.stop().catch(() => undefined)));
  live.tunnels.length = 0;
}

interface IperfResult {
  bitsPerSecond: number | null;
  retransmits: number | null;
  error?: string;
}

async function iperf(
  bed: Testbed,
  server: { host: string; port: number },
  seconds: number,
  t: { streams: number; reverse: boolean },
  signal: AbortSignal,
): Promise<IperfResult> {
  const args = ["-c", server.host, "-p", String(server.port), "-t", String(seconds)];
  args.push("-P", String(t.streams));
  if (t.reverse) args.push("-R");
  const r = await iperfJson(bed, args, seconds, signal);
  if (r.error !== undefined) return { bitsPerSecond: null, retransmits: null, error: r.error };
  const bps = Number(r.json.end?.sum_received?.bits_per_second);
  if (!Number.isFinite(bps)) {
    return { bitsPerSecond: null, retransmits: null, error: "iperf3: no end.sum_received" };
  }
  return { bitsPerSecond: bps, retransmits: r.json.end.sum_sent?.retransmits ?? null };
}

/** Runs one row once (`index` keeps interface names unique within the run). */
export async function runConfig(
  live: Live,
  def: ConfigDef,
  round: number,
  index: number,
  seconds: number,
  extras: ReadonlySet<ExtraName> = new Set(),
): Promise<RunRecord> {
  const bed = live.bed!;
  const t0 = performance.now();
  const rec: RunRecord = { id: def.id, round, processes: [], tests: [] };
  let server: string = bed.underlay("b");
  if (def.ends !== null) {
    server = INNER.b;
    const keys = { a: generatePrivateKey(), b: generatePrivateKey() };
    for (const side of ["a", "b"] as const) {
      const end = def.ends[side];
      // ≤ 15 bytes and unique per run.
      const name = `nb${side}${index}${Deno.pid % 100000}`;
      const tspec = {
        ...pairSpec(bed, side, keys, { v4: INNER }, name),
        upArgs: end.kind === "tunslab" ? def.upArgs : undefined,
        program: end.program,
        mtu: live.mtu,
      };
      let t: TunnelProcess;
      if (end.kind === "proxy") {
        if (side !== "a" || live.nobody === undefined) throw new Error("a proxy runs in a");
        const work = end.program === undefined ? live.nobody.work : live.nobodyBaseline!;
        t = await startProxy(bed, { ...tspec, program: undefined }, live.nobody, work);
      } else t = await startTunnel(bed, side, end.kind, tspec);
      live.tunnels.push(t);
      const s = readProcStats(t.pid);
      rec.processes.push({
        side,
        kind: end.kind,
        program: end.program ?? null,
        pid: t.pid,
        comm: s?.comm ?? "?",
      });
    }
    // The proxy has no route in a: the peer pings the proxy's stack instead.
    if (def.ends.a.kind === "proxy") await bed.reachable("b", INNER.a);
    else await bed.reachable("a", INNER.b);
    for (const [i, t] of live.tunnels.entries()) rec.processes[i].start = readProcStats(t.pid);
  }
  live.server = bed.spawn("b", ["iperf3", "-s", "-B", server, "-p", String(IPERF_PORT)], {
    stdout: "null",
    stderr: "null",
  });
  await bed.waitListening("b", IPERF_PORT);
  // The proxy has no route in a to carry UDP or pings; the bare veth is no tunnel.
  const ex = extras.size > 0 && def.ends !== null && def.ends.a.kind !== "proxy"
    ? new ExtrasRun({
      bed,
      tunnels: live.tunnels,
      server: { host: server, port: IPERF_PORT },
      pingTo: INNER.b,
      signal: live.abort.signal,
      say: (m) => say(`(${def.id}) round ${round}: ${m}`),
    }, extras)
    : undefined;
  await ex?.idle();
  for (const t of TESTS) {
    if (live.abort.signal.aborted) break;
    const before = live.tunnels.map((p) => readProcStats(p.pid));
    say(`(${def.id}) round ${round}: ${t.streams} stream(s) ${t.reverse ? "b→a" : "a→b"}`);
    const host0 = readHostCpu();
    const to = def.ends?.a.kind === "proxy" ? PROXY_IPERF : { host: server, port: IPERF_PORT };
    const test = () => iperf(bed, to, seconds, t, live.abort.signal);
    const r = await (ex ? ex.underLoad(t, seconds, test) : test());
    const host1 = readHostCpu();
    const after = live.tunnels.map((p) => readProcStats(p.pid));
    rec.tests.push({
      streams: t.streams,
      reverse: t.reverse,
      direction: t.reverse ? "b→a" : "a→b",
      seconds,
      bitsPerSecond: r.bitsPerSecond,
      retransmits: r.retransmits,
      ...(r.error ? { error: r.error } : {}),
      host: {
        busySeconds: host1.busy - host0.busy,
        busyPercent: 100 * (host1.busy - host0.busy) / (host1.total - host0.total),
        cpus: navigator.hardwareConcurrency,
      },
      procs: live.tunnels.map((p, i) => ({
        side: p.side,
        cpuSeconds: before[i] && after[i] ? after[i]!.cpuSeconds - before[i]!.cpuSeconds : null,
        hwmKiB: after[i]?.hwmKiB ?? null,
      })),
    });
    if (r.error) say(`(${def.id}) ${r.error}`);
    await sleep(500); // let queues drain between tests
  }
  if (ex) rec.extras = await ex.after();
  await stopServer(live);
  if (def.ends?.a.kind === "proxy" && !live.abort.signal.aborted) {
    try {
      rec.held = await hold64(bed, live.tunnels[0].pid, INNER.b);
      say(
        `(${def.id}) RSS with ${rec.held.connections} connections: ${
          (rec.held.rssKiB / 1024).toFixed(1)
        } MiB (${(rec.held.rssBeforeKiB / 1024).toFixed(1)} MiB before)`,
      );
    } catch (e) {
      // The run's iperf3 figures stand; the failure is kept with them.
      rec.heldError = (e as Error).message;
      say(`(${def.id}) 64 connections failed: ${rec.heldError}`);
    }
  }
  for (const [i, t] of live.tunnels.entries()) {
    rec.processes[i].end = readProcStats(t.pid);
    const fin = await t.stop();
    if (fin !== undefined) {
      rec.processes[i].pool = {
        highWater: fin.highWater,
        highWaterBytes: fin.highWaterBytes,
        inUseAtExit: fin.inUse,
      };
      rec.processes[i].finalStats = fin.raw;
    }
  }
  live.tunnels.length = 0;
  rec.wallSeconds = (performance.now() - t0) / 1000;
  return rec;
}

/**
 * Peak RSS of a `deno run` of `script` (same flags as tunslab's), read once it has printed
 * "ready": the idle reference, or the dependencies' floor.
 */
export async function measureDeno(script: string): Promise<ProcStats> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  try {
    const reader = child.stdout.getReader();
    const timeout = setTimeout(() => child.kill("SIGKILL"), 30_000);
    const { value } = await reader.read();
    clearTimeout(timeout);
    reader.releaseLock();
    if (!value || !new TextDecoder().decode(value).includes("ready")) {
      throw new Error(`${script} did not start`);
    }
    await sleep(1000); // let start-up settle, as a tunnel has before its first reading
    const s = readProcStats(child.pid);
    if (s === undefined) throw new Error(`${script} exited early`);
    return s;
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
    await child.stdout.cancel().catch(() => {});
    await child.status;
  }
}

/** The first non-empty line a command prints (versions). */
export async function firstLine(args: string[]): Promise<string> {
  const r = await run(args, true);
  return (r.stdout || r.stderr).split("\n").find((l) => l.trim() !== "")?.trim() ?? "";
}
