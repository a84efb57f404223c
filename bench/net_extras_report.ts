/**
 * The extras' figures (bench/net_extras.ts) over the interleaved rounds, and their markdown
 * tables: UDP packets per second per row, payload and direction (median and range of the rounds,
 * ×(m) a median over the median of (m) in the same test); ping RTT idle and under load (every
 * reply of the rounds pooled: median, p90, max); and the TCP figures of the rows whose two ends
 * run different programs, each direction named by who sends.
 *
 * @example
 * ```ts
 * import { percentile } from "./net_extras_report.ts";
 * console.log(percentile([4, 1, 3, 2, 5, 6, 7, 8, 9, 10], 0.9)); // 9
 * ```
 * @module
 */
import type { ConfigDef, RunRecord } from "./net_run.ts";
import {
  LOAD_RAMP,
  LOAD_STREAMS,
  PING_IDLE,
  PING_INTERVAL,
  type PingSeries,
  UDP_SECONDS,
  type UdpRecord,
} from "./net_extras.ts";
import { type Cell, cell, dir, flow, fmt, median, range, type RowStat } from "./net_report.ts";

/** The nearest-rank `q` quantile of the finite values (0 < q ≤ 1), or null. */
export function percentile(xs: number[], q: number): number | null {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return null;
  return v[Math.min(v.length, Math.max(1, Math.ceil(q * v.length))) - 1];
}

/** One row, payload and direction of the UDP extra over all rounds. */
export interface UdpStat {
  id: string;
  label: string;
  payload: number;
  direction: string;
  flow: string | null;
  /** Packets the receiver got per second, thousands. */
  kpps: Cell;
  /** Packets the sender offered per second, thousands. */
  sentKpps: Cell;
  lossPercent: Cell;
  /** Packets received per CPU-second of both tunnel processes, thousands. */
  kpktPerCpuSecond: Cell;
  failures: number;
}

function perCpu(u: UdpRecord): number {
  if (u.receivedPps === null || u.measuredSeconds === null || u.procs.length === 0) return NaN;
  const cpu = u.procs.reduce((s, p) => s + (p.cpuSeconds ?? NaN), 0);
  return cpu > 0 ? u.receivedPps * u.measuredSeconds / cpu / 1e3 : NaN;
}

/** The UDP extra's figures of every row that ran it. */
export function aggregateUdp(defs: ConfigDef[], runs: RunRecord[]): UdpStat[] {
  const out: UdpStat[] = [];
  for (const def of defs) {
    const mine = runs.filter((r) => r.id === def.id && r.extras?.udp !== undefined);
    const keys = new Map<string, UdpRecord[]>();
    for (const r of mine) {
      for (const u of r.extras!.udp!) {
        const k = `${u.payload} ${u.direction}`;
        keys.set(k, [...(keys.get(k) ?? []), u]);
      }
    }
    for (const us of keys.values()) {
      const ok = us.filter((u) => u.error === undefined);
      out.push({
        id: def.id,
        label: def.label,
        payload: us[0].payload,
        direction: us[0].direction,
        flow: flow(def, us[0].direction),
        kpps: cell(ok.map((u) => (u.receivedPps ?? NaN) / 1e3)),
        sentKpps: cell(ok.map((u) => (u.sentPps ?? NaN) / 1e3)),
        lossPercent: cell(ok.map((u) => u.lostPercent ?? NaN)),
        kpktPerCpuSecond: cell(ok.map(perCpu)),
        failures: us.length - ok.length + (mine.length - us.length),
      });
    }
  }
  return out;
}

/** The RTTs of one kind of ping series over the rounds, pooled. */
export interface RttStat {
  replies: number;
  transmitted: number;
  medianMs: number | null;
  p90Ms: number | null;
  maxMs: number | null;
}

/** One row's ping extra over all rounds. */
export interface PingStat {
  id: string;
  label: string;
  rounds: number;
  idle: RttStat;
  load: RttStat;
  loadStreams: number;
  /** The load's throughput over the rounds, Gbit/s. */
  loadGbps: Cell;
  /** Series or loads that failed. */
  failures: number;
}

function rtt(series: PingSeries[]): RttStat {
  const all = series.flatMap((s) => s.rttMs);
  return {
    replies: all.length,
    transmitted: series.reduce((n, s) => n + (s.transmitted ?? 0), 0),
    medianMs: median(all),
    p90Ms: percentile(all, 0.9),
    maxMs: all.length ? Math.max(...all) : null,
  };
}

/** The ping extra's figures of every row that ran it. */
export function aggregatePing(defs: ConfigDef[], runs: RunRecord[]): PingStat[] {
  const out: PingStat[] = [];
  for (const def of defs) {
    const ps = runs.filter((r) => r.id === def.id && r.extras?.ping !== undefined)
      .map((r) => r.extras!.ping!);
    if (ps.length === 0) continue;
    out.push({
      id: def.id,
      label: def.label,
      rounds: ps.length,
      idle: rtt(ps.map((p) => p.idle)),
      load: rtt(ps.map((p) => p.load)),
      loadStreams: ps[0].loadStreams,
      loadGbps: cell(ps.map((p) => (p.loadBitsPerSecond ?? NaN) / 1e9)),
      failures: ps.reduce(
        (n, p) => n + (p.idle.error ? 1 : 0) + (p.load.error ? 1 : 0) + (p.loadError ? 1 : 0),
        0,
      ),
    });
  }
  return out;
}

function over(a: number | null, b: number | null | undefined): number | null {
  return a !== null && b !== null && b !== undefined && b > 0 ? a / b : null;
}

/** The UDP table, one line per row, payload and direction. */
export function formatUdpTable(stats: UdpStat[]): string {
  const lines = [
    "| config | payload B | dir | received kpps median | range | ×(m) | loss % median | sent kpps | kpkt per CPU-s | ×(m) |",
    "| ------ | --------: | --- | -------------------: | ----: | ---: | ------------: | --------: | -------------: | ---: |",
  ];
  for (const s of stats) {
    const m = stats.find((x) =>
      x.id === "m" && x.payload === s.payload && x.direction === s.direction
    );
    lines.push(
      `| (${s.id}) ${s.label} | ${s.payload} | ${dir(s)} | ${fmt(s.kpps.median, 1)}${
        s.failures ? ` (${s.failures} failed)` : ""
      } | ${range(s.kpps, 1)} | ${fmt(over(s.kpps.median, m?.kpps.median))} | ${
        fmt(s.lossPercent.median, 1)
      } | ${fmt(s.sentKpps.median, 1)} | ${fmt(s.kpktPerCpuSecond.median, 1)} | ${
        fmt(over(s.kpktPerCpuSecond.median, m?.kpktPerCpuSecond.median))
      } |`,
    );
  }
  return lines.join("\n");
}

const rttCells = (r: RttStat): string =>
  `${fmt(r.medianMs, 3)} / ${fmt(r.p90Ms, 3)} / ${fmt(r.maxMs, 3)} | ${r.replies}/${r.transmitted}`;

/** The ping table, one line per row. */
export function formatPingTable(stats: PingStat[]): string {
  const lines = [
    "| config | idle RTT ms median / p90 / max | replies | under load RTT ms median / p90 / max | replies | ×(m) median under load | load Gbit/s |",
    "| ------ | -----------------------------: | ------: | -----------------------------------: | ------: | ---------------------: | ----------: |",
  ];
  const m = stats.find((x) => x.id === "m");
  for (const s of stats) {
    lines.push(
      `| (${s.id}) ${s.label}${s.failures ? ` (${s.failures} failed)` : ""} | ${
        rttCells(s.idle)
      } | ${rttCells(s.load)} | ${fmt(over(s.load.medianMs, m?.load.medianMs))} | ${
        fmt(s.loadGbps.median, 3)
      } |`,
    );
  }
  return lines.join("\n");
}

/**
 * tunslab → wireguard-go beside wireguard-go → tunslab: the TCP figures of every row with one
 * end of each, by who sends; empty when no such row ran.
 */
export function formatDirections(stats: RowStat[]): string {
  const fwd = "tunslab→wg-go", back = "wg-go→tunslab";
  const mixed = stats.filter((s) => s.flow === fwd || s.flow === back);
  if (mixed.length === 0) return "";
  const lines = [
    `| config | streams | ${fwd} Gbit/s | dir | ×(m) | ${back} Gbit/s | dir | ×(m) | ${fwd} / ${back} |`,
    "| ------ | ------: | ------------: | --- | ---: | ------------: | --- | ---: | ------: |",
  ];
  const mOf = (s: RowStat) =>
    stats.find((x) => x.id === "m" && x.streams === s.streams && x.direction === s.direction);
  const seen = new Set<string>();
  for (const s of mixed) {
    const key = `${s.id} ${s.streams}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const f = mixed.find((x) => x.id === s.id && x.streams === s.streams && x.flow === fwd);
    const b = mixed.find((x) => x.id === s.id && x.streams === s.streams && x.flow === back);
    const g = (x: RowStat | undefined) => x?.gbps.median ?? null;
    const r = (x: RowStat | undefined) => x === undefined ? null : over(g(x), mOf(x)?.gbps.median);
    lines.push(
      `| (${s.id}) ${s.label} | ${s.streams} | ${fmt(g(f), 3)} | ${f?.direction ?? "—"} | ${
        fmt(r(f))
      } | ${fmt(g(b), 3)} | ${b?.direction ?? "—"} | ${fmt(r(b))} | ${fmt(over(g(f), g(b)))} |`,
    );
  }
  return lines.join("\n");
}

/** One line per extra that failed in a run, with its error. */
export function extrasErrors(runs: RunRecord[]): string[] {
  const out: string[] = [];
  for (const r of runs) {
    const at = `(${r.id}) round ${r.round}`;
    for (const u of r.extras?.udp ?? []) {
      if (u.error) out.push(`${at}: UDP ${u.payload} B ${u.direction} FAILED: ${u.error}`);
    }
    const p = r.extras?.ping;
    if (p?.idle.error) out.push(`${at}: idle ping FAILED: ${p.idle.error}`);
    if (p?.load.error) out.push(`${at}: ping under load FAILED: ${p.load.error}`);
    if (p?.loadError) {
      out.push(`${at}: the ping's ${p.loadStreams}-stream load FAILED: ${p.loadError}`);
    }
  }
  return out;
}

/** What the extras cost: their wall time against the rest of the runs', or null without any. */
export function extrasCost(runs: RunRecord[]): string | null {
  let extra = 0, rest = 0, n = 0;
  for (const r of runs) {
    if (r.wallSeconds === undefined) continue;
    const e = r.extras?.wallSeconds ?? 0;
    if (r.extras !== undefined) n++;
    extra += e;
    rest += r.wallSeconds - e;
  }
  if (n === 0 || rest <= 0) return null;
  return `The extras took ${fmt(extra, 0)} s of ${fmt(extra + rest, 0)} s of row runs (${
    fmt(extra / n, 1)
  } s in each of ${n}): +${fmt(100 * extra / rest, 0)} % on the runs without them.`;
}

/**
 * What `bench:net` prints after the TCP table: the directions, the UDP and ping tables with a
 * line on how each was measured, what the extras cost, and every extra that failed.
 */
export function extrasLines(
  stats: RowStat[],
  udp: UdpStat[],
  ping: PingStat[],
  runs: RunRecord[],
): string[] {
  const out: string[] = [];
  const directions = formatDirections(stats);
  if (directions !== "") {
    out.push(
      "Each direction by who sends (TCP, medians; ×(m) against (m) in the same direction):\n",
      directions + "\n",
    );
  }
  if (udp.length > 0) {
    out.push(
      `UDP (not a gate): iperf3 -u -b 0, 1 stream, ${UDP_SECONDS} s per test; received kpps = (packets − lost) / seconds of iperf3's end.sum, median of the rounds; kpkt per CPU-s: received packets over the CPU seconds of both tunnel processes.\n`,
      formatUdpTable(udp) + "\n",
    );
  }
  if (ping.length > 0) {
    out.push(
      `Ping RTT a → b's inner address (not a gate), every ${PING_INTERVAL} s: ${PING_IDLE} before the TCP tests (idle), then during the ${LOAD_STREAMS}-stream a→b TCP test (under load; from ${LOAD_RAMP} s after its start to ${LOAD_RAMP} s before its end); every reply of the rounds pooled; ×(m) is the median under load over (m)'s (lower is better); load Gbit/s: that test's.\n`,
      formatPingTable(ping) + "\n",
    );
  }
  const cost = extrasCost(runs);
  if (cost !== null) out.push(cost + "\n");
  const errors = extrasErrors(runs);
  if (errors.length > 0) out.push(...errors, "");
  return out;
}
