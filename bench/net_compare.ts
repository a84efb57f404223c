/**
 * `deno task bench:net` (root): TCP throughput through the tunnel, every row in one run over one
 * veth pair between two network namespaces, the rows interleaved round by round (three rounds by
 * default) so that a noisy minute hits every row alike:
 *
 * - (a)  tunslab ↔ tunslab (offloads on)
 * - (a') tunslab ↔ tunslab with `--no-offload`
 * - (b)  tunslab (a) ↔ modern wireguard-go 0.0.20250522 (b), the peer users would pick today:
 *        its a→b is tunslab → wireguard-go, its b→a wireguard-go → tunslab
 * - (b') the same with the ends swapped (wireguard-go in a), only with `--only b'`
 * - (m)  modern wireguard-go ↔ itself: THE reference; `×(m)` is against it
 * - (c)  Debian's wireguard-go 0.0.20220316 ↔ itself (no offloads): `×(c)`
 * - (d)  the bare veth pair, the ceiling
 * - (p)  `tunslab proxy` in a as uid 65534, iperf3 through its `[TCPClientTunnel]` to the same
 *        modern wireguard-go peer as (b): `×(b)` (≥ 0.5× is the target), and its RSS with 64
 *        connections open through it (bench/net_proxy.ts)
 * - (P)  with `--baseline DIR`: (p) from the other checkout (before/after in the same run)
 * - (A), (A') with `--baseline DIR`: (a) and (a') run from another checkout's `main.ts`
 *   (before/after a change, measured in the same run)
 *
 * Each run is iperf3 with 1 and 8 streams in both directions (server in namespace b, client in a;
 * "a→b" is the client sending, "b→a" is `-R`; where the ends differ the table names the sender
 * and receiver). In tunnel rows other than (p) the extras run too (bench/net_extras.ts; not
 * gates; `--no-extras` or `--extras udp,ping`): ping RTT idle (before the TCP tests) and under
 * load (during the 8-stream a→b test), then UDP packets per second at 64 and 512 B. A row's
 * figure is the median of its rounds, a ratio the median of a row over the median of the
 * reference row; ranges are printed too. CPU seconds
 * and peak RSS (`VmHWM`) of both tunnel processes are read from procfs around every test, so
 * "Gbit per CPU-second" is the data moved over the CPU time both tunnels spent moving it. Writes
 * `bench/results/net-YYYY-MM-DD.json` (every run's raw numbers, kernel, Deno and tool versions)
 * and prints markdown tables. Everything it creates is removed at the end, on failure and on
 * SIGINT; traffic only flows between its two namespaces.
 *
 * @example
 * ```sh
 * sudo deno task bench:net                       # 3 rounds, 5 s per test
 * sudo deno task bench:net --rounds 1 --seconds 2 --only a,m
 * sudo deno task bench:net --no-extras                                     # TCP only
 * sudo deno task bench:net --only b,b',m --extras udp                      # both directions
 * sudo deno task bench:net --baseline /tmp/tunslab-before
 * sudo deno task bench:net --only a,a',m --mtu 9000 --underlay-mtu 65535   # jumbo tunnels
 * sudo deno task bench:net --only b,p,P --baseline /tmp/tunslab-before      # the proxy
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { isRoot, run, Testbed } from "../src/demo/testbed.ts";
import { modernWireguardGo } from "../src/demo/modern_wireguard_go.ts";
import { CLK_TCK, type ProcStats } from "./proc_stats.ts";
import {
  type ConfigDef,
  firstLine,
  type Live,
  measureDeno,
  runConfig,
  type RunRecord,
  say,
  stopServer,
  stopTunnels,
} from "./net_run.ts";
import {
  aggregate,
  checks,
  formatTable,
  memoryLines,
  poolStats,
  proxyLines,
} from "./net_report.ts";
import { addCheckout, nobodyCopy } from "./net_proxy.ts";
import { parseExtras } from "./net_extras.ts";
import { aggregatePing, aggregateUdp, extrasLines } from "./net_extras_report.ts";

const IDLE = new URL("./idle_deno.ts", import.meta.url).pathname;
const FLOOR = new URL("./deps_floor.ts", import.meta.url).pathname;
const RESULTS = new URL("./results/", import.meta.url).pathname;
const REPO = new URL("..", import.meta.url).pathname;

async function need(tool: string): Promise<void> {
  const r = await run(["sh", "-c", `command -v ${tool}`], true);
  if (r.code !== 0) throw new Error(`bench:net needs ${tool} (apt-get install ${tool})`);
}

function rows(modern: string | null, baseline: string | null): ConfigDef[] {
  const ts = { kind: "tunslab" } as const;
  const defs: ConfigDef[] = [
    { id: "a", label: "tunslab↔tunslab", ends: { a: ts, b: ts } },
    {
      id: "a'",
      label: "tunslab↔tunslab --no-offload",
      ends: { a: ts, b: ts },
      upArgs: ["--no-offload"],
    },
  ];
  if (baseline !== null) {
    const base = { kind: "tunslab", program: `${baseline}/main.ts` } as const;
    defs.push(
      { id: "A", label: "baseline tunslab↔tunslab", ends: { a: base, b: base } },
      {
        id: "A'",
        label: "baseline --no-offload",
        ends: { a: base, b: base },
        upArgs: ["--no-offload"],
      },
    );
  }
  if (modern !== null) {
    const wg = { kind: "wireguard-go", program: modern } as const;
    defs.push(
      { id: "b", label: "tunslab (a)↔wireguard-go 0.0.20250522 (b)", ends: { a: ts, b: wg } },
      {
        id: "b'",
        label: "wireguard-go 0.0.20250522 (a)↔tunslab (b)",
        ends: { a: wg, b: ts },
        optIn: true,
      },
      { id: "m", label: "wireguard-go 0.0.20250522↔itself", ends: { a: wg, b: wg } },
      {
        id: "p",
        label: "tunslab proxy TCPClientTunnel (uid 65534)↔wireguard-go 0.0.20250522",
        ends: { a: { kind: "proxy" }, b: wg },
      },
    );
    if (baseline !== null) {
      defs.push({
        id: "P",
        label: "baseline proxy↔wireguard-go 0.0.20250522",
        ends: { a: { kind: "proxy", program: baseline }, b: wg },
      });
    }
  }
  const deb = { kind: "wireguard-go" } as const;
  defs.push(
    { id: "c", label: "wireguard-go 0.0.20220316 (Debian)↔itself", ends: { a: deb, b: deb } },
    { id: "d", label: "bare veth", ends: null },
  );
  return defs;
}

async function environment(modern: string | null): Promise<Record<string, unknown>> {
  const cpu = Deno.readTextFileSync("/proc/cpuinfo").match(/^model name\s*:\s*(.*)$/m)?.[1];
  const git = await run(["git", "-C", REPO, "rev-parse", "HEAD"], true);
  const dirty = await run(["git", "-C", REPO, "status", "--porcelain"], true);
  return {
    kernel: Deno.osRelease(),
    deno: Deno.version,
    cpu: cpu ?? "unknown",
    cpus: navigator.hardwareConcurrency,
    commit: git.stdout.trim() || null,
    dirty: dirty.stdout.trim() !== "",
    iperf3: await firstLine(["iperf3", "--version"]),
    wireguardGoDebian: await firstLine(["wireguard-go", "--version"]),
    wireguardGoModern: modern === null ? null : await firstLine([modern, "--version"]),
    clkTck: CLK_TCK,
  };
}

const USAGE =
  "Usage: deno task bench:net [--rounds N] [--seconds N | --quick] [--only a,a',b,b',m,c,d,p,A,A',P] [--no-extras | --extras udp,ping] [--baseline DIR] [--mtu N] [--underlay-mtu N] [--out FILE]";

/** Runs the whole benchmark; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      seconds: { type: "string", default: "5" },
      rounds: { type: "string", default: "3" },
      quick: { type: "boolean", default: false },
      only: { type: "string" },
      extras: { type: "string" },
      "no-extras": { type: "boolean", default: false },
      baseline: { type: "string" },
      mtu: { type: "string" },
      "underlay-mtu": { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const seconds = values.quick ? 2 : Number(values.seconds);
  const rounds = Number(values.rounds);
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 60) {
    console.error(`--seconds must be an integer 1..60, not "${values.seconds}"`);
    return 2;
  }
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 9) {
    console.error(`--rounds must be an integer 1..9, not "${values.rounds}"`);
    return 2;
  }
  const mtus = [values.mtu, values["underlay-mtu"]].map((
    v,
  ) => (v === undefined ? undefined : Number(v)));
  for (const [k, v] of [["--mtu", mtus[0]], ["--underlay-mtu", mtus[1]]] as const) {
    if (v !== undefined && !(Number.isInteger(v) && v >= 1280 && v <= 65535)) {
      console.error(`${k} must be an integer 1280..65535`);
      return 2;
    }
  }
  const extras = parseExtras(values["no-extras"], values.extras);
  if (typeof extras === "string") {
    console.error(extras);
    return 2;
  }
  const baseline = values.baseline ?? null;
  if (baseline !== null) {
    try {
      Deno.statSync(`${baseline}/main.ts`);
    } catch {
      console.error(`--baseline ${baseline}: no main.ts there (a tunslab checkout is needed)`);
      return 2;
    }
  }
  if (!isRoot()) {
    console.error("bench:net creates network namespaces and TUN devices: run it as root");
    return 1;
  }
  for (const t of ["ip", "ping", "ss", "iperf3", "wireguard-go", "wg"]) await need(t);
  const modern = modernWireguardGo();
  if (modern === null) {
    say("modern wireguard-go (../shared/peers/) not found: rows (b) and (m) skipped");
  }
  const defs = rows(modern, baseline);
  const only = values.only?.split(",").map((s) => s.trim());
  const selected = only ? defs.filter((d) => only.includes(d.id)) : defs.filter((d) => !d.optIn);

  const started = new Date();
  const live: Live = { tunnels: [], abort: new AbortController(), mtu: mtus[0] };
  let cleaning: Promise<void> | undefined;
  const cleanup = (): Promise<void> =>
    cleaning ??= (async () => {
      await stopServer(live).catch(() => {});
      await stopTunnels(live);
      await live.bed?.destroy();
      if (live.nobody) await Deno.remove(live.nobody.dir, { recursive: true }).catch(() => {});
    })();
  const onSignal = () => {
    say("interrupted: cleaning up");
    live.abort.abort();
    cleanup().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const runs: RunRecord[] = [];
  try {
    const env = await environment(modern);
    const idle: ProcStats = await measureDeno(IDLE);
    const floor: ProcStats = await measureDeno(FLOOR);
    if (selected.some((d) => d.ends?.a.kind === "proxy")) {
      live.nobody = await nobodyCopy();
      if (baseline !== null) live.nobodyBaseline = await addCheckout(live.nobody, baseline, "base");
    }
    live.bed = await Testbed.create("bnet");
    if (mtus[1] !== undefined) {
      for (const side of ["a", "b"] as const) {
        await live.bed.run(side, ["ip", "link", "set", "dev", "veth0", "mtu", String(mtus[1])]);
      }
    }
    say(
      `testbed ${live.bed.ns.a} ↔ ${live.bed.ns.b}; ${rounds} round(s) of ${selected.length} rows`,
    );
    let index = 0;
    for (let round = 1; round <= rounds; round++) {
      for (const def of selected) {
        if (live.abort.signal.aborted) break;
        say(`(${def.id}) ${def.label}, round ${round}`);
        try {
          runs.push(await runConfig(live, def, round, index++, seconds, extras));
        } catch (e) {
          say(`(${def.id}) failed: ${(e as Error).message}`);
          runs.push({ id: def.id, round, processes: [], tests: [], error: (e as Error).message });
          await stopServer(live);
          await stopTunnels(live);
        }
      }
    }
    if (live.abort.signal.aborted) return 130;
    const stats = aggregate(selected, runs);
    const pools = poolStats(selected, runs);
    const verdicts = checks(stats, pools, baseline !== null);
    const udp = aggregateUdp(selected, runs);
    const ping = aggregatePing(selected, runs);
    const result = {
      date: started.toISOString(),
      secondsPerTest: seconds,
      rounds,
      extras: [...extras],
      mtu: mtus[0] ?? null,
      underlayMtu: mtus[1] ?? null,
      baseline,
      environment: env,
      idleDeno: idle,
      depsFloor: floor,
      rows: selected,
      stats,
      pools,
      udp,
      ping,
      checks: verdicts,
      runs,
    };
    const out = values.out ?? `${RESULTS}net-${started.toISOString().slice(0, 10)}.json`;
    Deno.mkdirSync(RESULTS, { recursive: true });
    Deno.writeTextFileSync(out, JSON.stringify(result, null, 2) + "\n");

    console.log(
      `## bench:net ${
        started.toISOString().slice(0, 10)
      } — kernel ${env.kernel}, deno ${Deno.version.deno}, ${env.cpus} CPUs, ${rounds} interleaved round(s) of ${seconds} s per test${
        mtus[0] === undefined ? "" : `, tunnel MTU ${mtus[0]}`
      }${mtus[1] === undefined ? "" : `, underlay MTU ${mtus[1]}`}\n`,
    );
    console.log(formatTable(stats));
    console.log(
      "\n×(m): median over the median of (m) modern wireguard-go 0.0.20250522 ↔ itself in the same run; ×(c): over (c) Debian's wireguard-go 0.0.20220316 ↔ itself. Gbit per CPU-s: data moved over the CPU seconds (utime+stime) of both tunnel processes.\n",
    );
    for (const l of extrasLines(stats, udp, ping, runs)) console.log(l);
    for (const l of memoryLines(idle, floor, pools)) console.log(l);
    for (const l of proxyLines(stats, runs)) console.log(l);
    for (const r of runs) if (r.error) console.log(`(${r.id}) round ${r.round} FAILED: ${r.error}`);
    if (verdicts.length > 0) console.log("\nTargets:\n");
    for (const v of verdicts) console.log(`- ${v.pass ? "PASS" : "FAIL"} ${v.target}: ${v.detail}`);
    console.log(`\nwrote ${out}`);
    return runs.some((r) => r.error) ? 1 : 0;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    await cleanup();
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
