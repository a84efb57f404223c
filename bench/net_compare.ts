/**
 * `deno task bench:net` (root): TCP throughput through the tunnel, side by
 * side in one run over one veth pair between two network namespaces:
 *
 * - (a)  tunslab ↔ tunslab
 * - (a') tunslab ↔ tunslab with `--no-offload`, when `tunslab up` accepts it
 * - (b)  tunslab (a) ↔ wireguard-go (b)
 * - (c)  wireguard-go ↔ wireguard-go, the reference
 * - (d)  the bare veth pair, the ceiling
 *
 * Each runs iperf3 with 1 and 8 streams in both directions (server in
 * namespace b, client in a; "a→b" is the client sending, "b→a" is `-R`).
 * Every tunnel process's peak RSS (`VmHWM`) and CPU seconds are read from
 * procfs after each test, as are, in the same run, the peak RSS of an idle
 * `deno run` and of one that only loads tunslab's dependencies
 * (`deps_floor.ts`: the part of tunslab's memory the runtime and libraries set). Writes `bench/results/net-YYYY-MM-DD.json` (all raw numbers,
 * kernel, Deno and tool versions) and prints a markdown table with the ratios
 * to (c) and (d) and the issue's targets. Everything it creates (namespaces,
 * veth, tunnels, iperf3) is removed at the end, on failure and on SIGINT.
 *
 * Traffic only flows between the two namespaces it creates; the root
 * namespace gets no address or route.
 *
 * @example
 * ```sh
 * sudo deno task bench:net             # 5 s per test
 * sudo deno task bench:net --quick     # 2 s per test
 * sudo deno task bench:net --seconds 10 --only a,c
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { isRoot, run, Testbed } from "../src/demo/testbed.ts";
import { startTunnel, type TunnelProcess } from "../src/demo/tunnel_process.ts";
import { encodeBase64Key, generatePrivateKey, publicKey } from "../src/wg/keys.ts";
import { CLK_TCK, type ProcStats, readHostCpu, readProcStats } from "./proc_stats.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const IDLE = new URL("./idle_deno.ts", import.meta.url).pathname;
const FLOOR = new URL("./deps_floor.ts", import.meta.url).pathname;
const RESULTS = new URL("./results/", import.meta.url).pathname;
const IPERF_PORT = 5201;
const INNER = { a: "10.99.0.1", b: "10.99.0.2" } as const;
const MIB = 1024;

type Kind = "tunslab" | "wireguard-go";
type ConfigId = "a" | "a'" | "b" | "c" | "d";

/** One row group: what runs in namespace a and b (null: bare veth). */
interface ConfigDef {
  id: ConfigId;
  label: string;
  ends: { a: Kind; b: Kind } | null;
  upArgs?: string[];
}

/** One tunnel process as recorded. */
interface ProcRecord {
  side: "a" | "b";
  kind: Kind;
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

/** One iperf3 run. */
interface TestRecord {
  streams: number;
  reverse: boolean;
  direction: "a→b" | "b→a";
  seconds: number;
  bitsPerSecond: number | null;
  gbps: number | null;
  retransmits: number | null;
  error?: string;
  /** iperf3's own CPU figures (percent of one CPU) for its sender/receiver. */
  iperfCpu?: Record<string, number>;
  /** Whole machine during the test: busy CPU seconds (all cores) and their share of the time. */
  host?: { busySeconds: number; busyPercent: number; cpus: number };
  /** Per tunnel process: CPU seconds spent during this test, peak RSS after it. */
  procs: { side: "a" | "b"; cpuSeconds: number | null; hwmKiB: number | null }[];
  ratioToC?: number | null;
  ratioToD?: number | null;
}

interface ConfigRecord {
  id: ConfigId;
  label: string;
  upArgs: string[];
  processes: ProcRecord[];
  tests: TestRecord[];
  error?: string;
}

interface Check {
  target: string;
  pass: boolean;
  detail: string;
}

const TESTS: { streams: number; reverse: boolean }[] = [
  { streams: 1, reverse: false },
  { streams: 1, reverse: true },
  { streams: 8, reverse: false },
  { streams: 8, reverse: true },
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function say(msg: string): void {
  console.error(`bench:net: ${msg}`);
}

async function need(tool: string): Promise<void> {
  const r = await run(["sh", "-c", `command -v ${tool}`], true);
  if (r.code !== 0) throw new Error(`bench:net needs ${tool} (apt-get install ${tool})`);
}

async function firstLine(args: string[]): Promise<string> {
  const r = await run(args, true);
  return (r.stdout || r.stderr).split("\n").find((l) => l.trim() !== "")?.trim() ?? "";
}

/** Does `tunslab up` know `--no-offload` yet? */
async function upHasNoOffload(): Promise<boolean> {
  const r = await run([Deno.execPath(), "run", "-A", MAIN, "up", "--help"], true);
  return (r.stdout + r.stderr).includes("--no-offload");
}

/**
 * Peak RSS of a `deno run` of `script` (same flags as tunslab's), read like a tunnel's,
 * once it has printed "ready": the idle reference, or the dependencies' floor.
 */
async function measureDeno(script: string): Promise<ProcStats> {
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

/** Waits until something listens on the iperf3 port in namespace b. */
async function waitListening(bed: Testbed): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const r = await bed.run("b", ["ss", "-Hltn", `sport = :${IPERF_PORT}`], true);
    if (r.stdout.trim() !== "") return;
    await sleep(50);
  }
  throw new Error("iperf3 server did not start listening");
}

/** Pings `to` from a until it answers (the first one carries the handshake). */
async function reachable(bed: Testbed, to: string): Promise<void> {
  for (let i = 0; i < 5; i++) {
    const r = await bed.run("a", ["ping", "-c", "1", "-W", "3", to], true);
    if (r.code === 0) return;
  }
  throw new Error(`${to} does not answer ping through the tunnel`);
}

interface IperfResult {
  bitsPerSecond: number | null;
  retransmits: number | null;
  error?: string;
  iperfCpu?: Record<string, number>;
}

async function iperf(
  bed: Testbed,
  server: string,
  seconds: number,
  streams: number,
  reverse: boolean,
  signal: AbortSignal,
): Promise<IperfResult> {
  const args = ["iperf3", "-c", server, "-p", String(IPERF_PORT), "-t", String(seconds)];
  args.push("-P", String(streams), "-J", "--connect-timeout", "5000");
  if (reverse) args.push("-R");
  const full = bed.exec("a", args);
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
    return { bitsPerSecond: null, retransmits: null, error: `iperf3 failed: ${e}` };
  }
  const text = new TextDecoder().decode(out.stdout);
  try {
    const j = JSON.parse(text);
    if (j.error) return { bitsPerSecond: null, retransmits: null, error: String(j.error) };
    const cpu = j.end?.cpu_utilization_percent ?? {};
    return {
      bitsPerSecond: Number(j.end.sum_received.bits_per_second),
      retransmits: j.end.sum_sent?.retransmits ?? null,
      iperfCpu: {
        hostTotal: cpu.host_total,
        remoteTotal: cpu.remote_total,
      },
    };
  } catch {
    const err = new TextDecoder().decode(out.stderr).trim() || text.slice(0, 200);
    return {
      bitsPerSecond: null,
      retransmits: null,
      error: `iperf3 exited ${out.code}${timer.aborted ? " (timed out)" : ""}: ${err}`,
    };
  }
}

/** Shared state for cleanup from a signal handler. */
interface Live {
  bed?: Testbed;
  tunnels: TunnelProcess[];
  server?: Deno.ChildProcess;
  abort: AbortController;
}

async function stopServer(live: Live): Promise<void> {
  const s = live.server;
  live.server = undefined;
  if (s === undefined) return;
  try {
    s.kill("SIGTERM");
  } catch { /* gone */ }
  await s.status;
}

async function runConfig(
  live: Live,
  def: ConfigDef,
  index: number,
  seconds: number,
): Promise<ConfigRecord> {
  const bed = live.bed!;
  const rec: ConfigRecord = {
    id: def.id,
    label: def.label,
    upArgs: def.upArgs ?? [],
    processes: [],
    tests: [],
  };
  let server: string = bed.underlay("b");
  if (def.ends !== null) {
    server = INNER.b;
    const keys = { a: generatePrivateKey(), b: generatePrivateKey() };
    for (const side of ["a", "b"] as const) {
      const peer = side === "a" ? "b" : "a";
      const kind = def.ends[side];
      // ≤ 15 bytes and unique per config and run.
      const name = `nb${side}${index}${Deno.pid % 100000}`;
      const t = await startTunnel(bed, side, kind, {
        name,
        privateKey: encodeBase64Key(keys[side]),
        listenPort: 51820,
        addresses: [`${INNER[side]}/24`],
        peer: {
          publicKey: encodeBase64Key(publicKey(keys[peer])),
          allowedIps: [`${INNER[peer]}/32`],
          endpoint: `${bed.underlay(peer)}:51820`,
        },
        upArgs: kind === "tunslab" ? def.upArgs : undefined,
      });
      live.tunnels.push(t);
      const s = readProcStats(t.pid);
      rec.processes.push({ side, kind, pid: t.pid, comm: s?.comm ?? "?" });
    }
    await reachable(bed, INNER.b);
    for (const [i, t] of live.tunnels.entries()) rec.processes[i].start = readProcStats(t.pid);
  }
  live.server = bed.spawn("b", ["iperf3", "-s", "-B", server, "-p", String(IPERF_PORT)], {
    stdout: "null",
    stderr: "null",
  });
  await waitListening(bed);
  for (const t of TESTS) {
    if (live.abort.signal.aborted) break;
    const before = live.tunnels.map((p) => readProcStats(p.pid));
    say(`(${def.id}) ${t.streams} stream(s) ${t.reverse ? "b→a" : "a→b"}, ${seconds} s`);
    const host0 = readHostCpu();
    const r = await iperf(bed, server, seconds, t.streams, t.reverse, live.abort.signal);
    const host1 = readHostCpu();
    const after = live.tunnels.map((p) => readProcStats(p.pid));
    rec.tests.push({
      streams: t.streams,
      reverse: t.reverse,
      direction: t.reverse ? "b→a" : "a→b",
      seconds,
      bitsPerSecond: r.bitsPerSecond,
      gbps: r.bitsPerSecond === null ? null : r.bitsPerSecond / 1e9,
      retransmits: r.retransmits,
      ...(r.error ? { error: r.error } : {}),
      ...(r.iperfCpu ? { iperfCpu: r.iperfCpu } : {}),
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
  await stopServer(live);
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
  return rec;
}

function fillRatios(configs: ConfigRecord[]): void {
  const find = (id: ConfigId, t: TestRecord) =>
    configs.find((c) => c.id === id)?.tests.find((x) =>
      x.streams === t.streams && x.reverse === t.reverse
    )?.bitsPerSecond ?? null;
  for (const c of configs) {
    for (const t of c.tests) {
      const ref = find("c", t);
      const ceil = find("d", t);
      t.ratioToC = t.bitsPerSecond !== null && ref ? t.bitsPerSecond / ref : null;
      t.ratioToD = t.bitsPerSecond !== null && ceil ? t.bitsPerSecond / ceil : null;
    }
  }
}

function checks(configs: ConfigRecord[], idle: ProcStats, floor: ProcStats): Check[] {
  const out: Check[] = [];
  const ratioCheck = (id: ConfigId, min: number, what: string) => {
    const c = configs.find((x) => x.id === id);
    if (c === undefined) return;
    for (const streams of [1, 8]) {
      const rs = c.tests.filter((t) => t.streams === streams).map((t) => t.ratioToC ?? NaN);
      if (rs.length === 0 || c.tests.some((t) => t.ratioToC === null && t.error === undefined)) {
        continue; // no (c) in this run to compare with
      }
      const worst = Math.min(...rs.map((r) => (Number.isNaN(r) ? 0 : r)));
      out.push({
        target: `${what}, ${streams} stream${streams > 1 ? "s" : ""}: ≥ ${min}× (c)`,
        pass: worst >= min,
        detail: `worst direction ${worst.toFixed(2)}× (${rs.map((r) => r.toFixed(2)).join(", ")})`,
      });
    }
  };
  ratioCheck("a", 3, "(a) tunslab↔tunslab");
  ratioCheck("a'", 2, "(a') tunslab↔tunslab --no-offload");
  ratioCheck("b", 1, "(b) tunslab↔wireguard-go");
  for (const c of configs) {
    for (const p of c.processes) {
      if (p.kind !== "tunslab" || p.end === undefined) continue;
      const above = (p.end.hwmKiB - idle.hwmKiB) / MIB;
      out.push({
        target: `(${c.id}) tunslab in ${p.side}: peak RSS ≤ idle Deno + 16 MiB (8 streams ran)`,
        pass: above <= 16,
        detail: `${(p.end.hwmKiB / MIB).toFixed(1)} MiB, ${above.toFixed(1)} MiB above idle ${
          (idle.hwmKiB / MIB).toFixed(1)
        } MiB (the dependencies alone: +${((floor.hwmKiB - idle.hwmKiB) / MIB).toFixed(1)})`,
      });
    }
  }
  return out;
}

const fmt = (x: number | null | undefined, d = 2): string =>
  x === null || x === undefined || !Number.isFinite(x) ? "—" : x.toFixed(d);

/** The markdown table: one row per config, streams and direction. */
export function formatTable(configs: ConfigRecord[], idle: ProcStats): string {
  const lines = [
    "| config | streams | dir | Gbit/s | ×(c) | ×(d) | peak RSS MiB a / b | RSS above idle Deno MiB a / b | CPU s a / b | host CPU busy |",
    "| ------ | ------: | --- | -----: | ---: | ---: | -----------------: | ----------------------------: | ----------: | ------------: |",
  ];
  for (const c of configs) {
    for (const t of c.tests) {
      const per = (f: (side: "a" | "b") => string) =>
        c.processes.length === 0 ? "—" : `${f("a")} / ${f("b")}`;
      const proc = (side: "a" | "b") => t.procs.find((p) => p.side === side);
      const kind = (side: "a" | "b") => c.processes.find((p) => p.side === side)?.kind;
      lines.push(
        `| (${c.id}) ${c.label} | ${t.streams} | ${t.direction} | ${
          t.error ? "FAILED" : fmt(t.gbps, 3)
        } | ${fmt(t.ratioToC)} | ${fmt(t.ratioToD)} | ${
          per((s) => fmt((proc(s)?.hwmKiB ?? NaN) / MIB, 1))
        } | ${
          per((s) =>
            kind(s) === "tunslab" ? fmt(((proc(s)?.hwmKiB ?? NaN) - idle.hwmKiB) / MIB, 1) : "—"
          )
        } | ${per((s) => fmt(proc(s)?.cpuSeconds, 2))} | ${fmt(t.host?.busyPercent, 0)}% |`,
      );
    }
  }
  return lines.join("\n");
}

function dateStamp(d: Date): string {
  return d.toISOString().slice(0, 10);
}

async function environment(): Promise<Record<string, unknown>> {
  const cpu = Deno.readTextFileSync("/proc/cpuinfo").match(/^model name\s*:\s*(.*)$/m)?.[1];
  const git = await run(
    ["git", "-C", new URL("..", import.meta.url).pathname, "rev-parse", "HEAD"],
    true,
  );
  const dirty = await run(
    ["git", "-C", new URL("..", import.meta.url).pathname, "status", "--porcelain"],
    true,
  );
  return {
    kernel: Deno.osRelease(),
    deno: Deno.version,
    cpu: cpu ?? "unknown",
    cpus: navigator.hardwareConcurrency,
    commit: git.stdout.trim() || null,
    dirty: dirty.stdout.trim() !== "",
    iperf3: await firstLine(["iperf3", "--version"]),
    wireguardGo: await firstLine(["wireguard-go", "--version"]),
    clkTck: CLK_TCK,
  };
}

/** Runs the whole benchmark; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      seconds: { type: "string", default: "5" },
      quick: { type: "boolean", default: false },
      only: { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(
      "Usage: deno task bench:net [--seconds N | --quick] [--only a,a',b,c,d] [--out FILE]",
    );
    return 0;
  }
  const seconds = values.quick ? 2 : Number(values.seconds);
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 60) {
    console.error(`--seconds must be an integer 1..60, not "${values.seconds}"`);
    return 2;
  }
  if (!isRoot()) {
    console.error("bench:net creates network namespaces and TUN devices: run it as root");
    return 1;
  }
  for (const t of ["ip", "ping", "ss", "iperf3", "wireguard-go", "wg"]) await need(t);

  const noOffload = await upHasNoOffload();
  const defs: ConfigDef[] = [
    { id: "a", label: "tunslab↔tunslab", ends: { a: "tunslab", b: "tunslab" } },
    ...(noOffload
      ? [{
        id: "a'" as const,
        label: "tunslab↔tunslab --no-offload",
        ends: { a: "tunslab" as const, b: "tunslab" as const },
        upArgs: ["--no-offload"],
      }]
      : []),
    { id: "b", label: "tunslab↔wireguard-go", ends: { a: "tunslab", b: "wireguard-go" } },
    { id: "c", label: "wireguard-go↔wireguard-go", ends: { a: "wireguard-go", b: "wireguard-go" } },
    { id: "d", label: "bare veth", ends: null },
  ];
  const only = values.only?.split(",").map((s) => s.trim());
  const selected = only ? defs.filter((d) => only.includes(d.id)) : defs;
  if (!noOffload) say("tunslab up has no --no-offload yet: row (a') skipped");

  const started = new Date();
  const live: Live = { tunnels: [], abort: new AbortController() };
  let cleaning: Promise<void> | undefined;
  const cleanup = (): Promise<void> =>
    cleaning ??= (async () => {
      await stopServer(live).catch(() => {});
      await Promise.all(live.tunnels.map((t) => t.stop().catch(() => undefined)));
      live.tunnels.length = 0;
      await live.bed?.destroy();
    })();
  const onSignal = () => {
    say("interrupted: cleaning up");
    live.abort.abort();
    cleanup().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const configs: ConfigRecord[] = [];
  let idle: ProcStats, floor: ProcStats;
  try {
    const env = await environment();
    idle = await measureDeno(IDLE);
    floor = await measureDeno(FLOOR);
    say(
      `idle deno: peak RSS ${(idle.hwmKiB / MIB).toFixed(1)} MiB; deps floor ${
        (floor.hwmKiB / MIB).toFixed(1)
      } MiB`,
    );
    live.bed = await Testbed.create("bnet");
    say(`testbed ${live.bed.ns.a} ↔ ${live.bed.ns.b}`);
    for (const [i, def] of selected.entries()) {
      if (live.abort.signal.aborted) break;
      say(`(${def.id}) ${def.label}`);
      try {
        configs.push(await runConfig(live, def, i, seconds));
      } catch (e) {
        say(`(${def.id}) failed: ${(e as Error).message}`);
        configs.push({
          id: def.id,
          label: def.label,
          upArgs: def.upArgs ?? [],
          processes: [],
          tests: [],
          error: (e as Error).message,
        });
        await stopServer(live);
        await Promise.all(live.tunnels.map((t) => t.stop().catch(() => undefined)));
        live.tunnels.length = 0;
      }
    }
    if (live.abort.signal.aborted) return 130;
    fillRatios(configs);
    const verdicts = checks(configs, idle, floor);
    const result = {
      date: started.toISOString(),
      secondsPerTest: seconds,
      environment: env,
      idleDeno: idle,
      depsFloor: floor,
      noOffloadRow: noOffload,
      configs,
      checks: verdicts,
    };
    const out = values.out ?? `${RESULTS}net-${dateStamp(started)}.json`;
    Deno.mkdirSync(RESULTS, { recursive: true });
    Deno.writeTextFileSync(out, JSON.stringify(result, null, 2) + "\n");

    console.log(
      `## bench:net ${
        dateStamp(started)
      } — kernel ${env.kernel}, deno ${Deno.version.deno}, ${env.cpus} CPUs, ${seconds} s per test\n`,
    );
    console.log(formatTable(configs, idle));
    console.log(
      `\nIdle Deno (\`deno run -A\` of a sleeping script): peak RSS ${
        (idle.hwmKiB / MIB).toFixed(1)
      } MiB. Deno with tunslab's dependencies loaded and no tunnel (\`bench/deps_floor.ts\`: LogTape, @noble, libc FFI, the WASM module, one X25519): ${
        (floor.hwmKiB / MIB).toFixed(1)
      } MiB (+${
        ((floor.hwmKiB - idle.hwmKiB) / MIB).toFixed(1)
      }). Peak RSS = VmHWM after each test (cumulative); CPU s = utime+stime during the test; host CPU busy = all ${navigator.hardwareConcurrency} CPUs (100% = all saturated).`,
    );
    for (const c of configs) {
      for (const p of c.processes) {
        if (p.pool) {
          console.log(
            `(${c.id}) tunslab in ${p.side}: pool high-water ${p.pool.highWater} slots (${
              (p.pool.highWaterBytes / 2 ** 20).toFixed(2)
            } MiB), in use at exit ${p.pool.inUseAtExit}`,
          );
        }
      }
      for (const p of c.processes) {
        if (p.kind !== "tunslab" || p.start === undefined || p.end === undefined) continue;
        const m = (k: number, base: number) =>
          `${(k / MIB).toFixed(1)} (+${((k - base) / MIB).toFixed(1)})`;
        console.log(
          `(${c.id}) tunslab in ${p.side}: RSS MiB (+ above idle) anon / file-backed: before traffic ${
            m(p.start.rssAnonKiB, idle.rssAnonKiB)
          } / ${m(p.start.rssFileKiB, idle.rssFileKiB)}, after ${
            m(p.end.rssAnonKiB, idle.rssAnonKiB)
          } / ${m(p.end.rssFileKiB, idle.rssFileKiB)}`,
        );
      }
      if (c.error) console.log(`(${c.id}) FAILED: ${c.error}`);
    }
    console.log("\nTargets (issue 5):\n");
    for (const v of verdicts) {
      console.log(`- ${v.pass ? "PASS" : "FAIL"} ${v.target}: ${v.detail}`);
    }
    console.log(`\nwrote ${out}`);
    return configs.some((c) => c.error) ? 1 : 0;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    await cleanup();
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
