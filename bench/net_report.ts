/**
 * `bench:net`'s figures from its runs: per row and test, the median and range over the
 * interleaved rounds of throughput and of Gbit per CPU-second of both tunnel processes; ratios
 * are medians over medians (a row's median over the reference row's median, same test).
 *
 * @example
 * ```ts
 * import { median } from "./net_report.ts";
 * console.log(median([3, 1, 2])); // 2
 * ```
 * @module
 */
import type { ProcStats } from "./proc_stats.ts";
import type { ConfigDef, End, RunRecord, TestRecord } from "./net_run.ts";

const MIB = 1024;

/** Median of finite values (the mean of the middle two for an even count), or null. */
export function median(xs: number[]): number | null {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const m = v.length >> 1;
  return v.length % 2 === 1 ? v[m] : (v[m - 1] + v[m]) / 2;
}

/** Values of one measure over the rounds. */
export interface Cell {
  values: number[];
  median: number | null;
  min: number | null;
  max: number | null;
}

/** The median and range of the finite `values`. */
export function cell(values: number[]): Cell {
  const v = values.filter(Number.isFinite);
  return {
    values: v,
    median: median(v),
    min: v.length ? Math.min(...v) : null,
    max: v.length ? Math.max(...v) : null,
  };
}

/** One row and test over all rounds. */
export interface RowStat {
  id: string;
  label: string;
  streams: number;
  direction: string;
  /** Sender→receiver by program where the two ends differ ("tunslab→wg-go"), else null. */
  flow: string | null;
  gbps: Cell;
  /** Gbit moved per CPU-second of both tunnel processes (null for the bare veth). */
  gbitPerCpuSecond: Cell;
  /** Peak RSS of each tunnel process, the largest over the rounds, MiB. */
  peakRssMiB: { a: number | null; b: number | null };
  failures: number;
}

/** Pool high-water of each tunslab process of a row over the rounds. */
export interface PoolStat {
  id: string;
  side: "a" | "b";
  highWater: Cell;
  inUseAtExit: number[];
}

function gbitPerCpu(t: TestRecord): number {
  if (t.bitsPerSecond === null || t.procs.length === 0) return NaN;
  const cpu = t.procs.reduce((s, p) => s + (p.cpuSeconds ?? NaN), 0);
  return cpu > 0 ? (t.bitsPerSecond * t.seconds / 1e9) / cpu : NaN;
}

/** A short name of what runs at one end, for direction labels. */
export function endName(end: End): string {
  if (end.kind === "proxy") return end.program === undefined ? "proxy" : "baseline proxy";
  if (end.kind === "tunslab") return end.program === undefined ? "tunslab" : "baseline tunslab";
  return end.program === undefined ? "Debian wg-go" : "wg-go";
}

/** Who sends to whom in `direction` of a row whose ends run different programs, else null. */
export function flow(def: ConfigDef, direction: string): string | null {
  if (def.ends === null) return null;
  const a = endName(def.ends.a), b = endName(def.ends.b);
  if (a === b) return null;
  return direction === "a→b" ? `${a}→${b}` : `${b}→${a}`;
}

/** Aggregates the runs of every row. */
export function aggregate(defs: ConfigDef[], runs: RunRecord[]): RowStat[] {
  const out: RowStat[] = [];
  for (const def of defs) {
    const mine = runs.filter((r) => r.id === def.id);
    if (mine.length === 0) continue;
    const keys = new Map<string, TestRecord[]>();
    for (const r of mine) {
      for (const t of r.tests) {
        const k = `${t.streams} ${t.direction}`;
        keys.set(k, [...(keys.get(k) ?? []), t]);
      }
    }
    for (const ts of keys.values()) {
      const hwm = (side: "a" | "b") => {
        const v = ts.map((t) => t.procs.find((p) => p.side === side)?.hwmKiB ?? NaN)
          .filter(Number.isFinite);
        return v.length ? Math.max(...v) / MIB : null;
      };
      out.push({
        id: def.id,
        label: def.label,
        streams: ts[0].streams,
        direction: ts[0].direction,
        flow: flow(def, ts[0].direction),
        gbps: cell(ts.map((t) => (t.bitsPerSecond ?? NaN) / 1e9)),
        gbitPerCpuSecond: cell(ts.map(gbitPerCpu)),
        peakRssMiB: { a: hwm("a"), b: hwm("b") },
        failures: ts.filter((t) => t.error !== undefined).length +
          (mine.length - ts.length),
      });
    }
  }
  return out;
}

/** Pool high-water marks of every tunslab process. */
export function poolStats(defs: ConfigDef[], runs: RunRecord[]): PoolStat[] {
  const out: PoolStat[] = [];
  for (const def of defs) {
    for (const side of ["a", "b"] as const) {
      const procs = runs.filter((r) => r.id === def.id)
        .map((r) => r.processes.find((p) => p.side === side && p.pool !== undefined))
        .filter((p) => p !== undefined);
      if (procs.length === 0) continue;
      out.push({
        id: def.id,
        side,
        highWater: cell(procs.map((p) => p.pool!.highWater)),
        inUseAtExit: procs.map((p) => p.pool!.inUseAtExit),
      });
    }
  }
  return out;
}

/** `row`'s median over the median of row `ref` in the same test, or null. */
export function ratio(
  stats: RowStat[],
  row: RowStat,
  ref: string,
  per: "gbps" | "cpu",
): number | null {
  const r = stats.find((s) =>
    s.id === ref && s.streams === row.streams && s.direction === row.direction
  );
  const pick = (s: RowStat) => (per === "gbps" ? s.gbps : s.gbitPerCpuSecond).median;
  const a = pick(row), b = r === undefined ? null : pick(r);
  return a !== null && b !== null && b > 0 ? a / b : null;
}

/** `x` with `d` decimals, "—" for none. */
export const fmt = (x: number | null | undefined, d = 2): string =>
  x === null || x === undefined || !Number.isFinite(x) ? "—" : x.toFixed(d);

/** "min–max" of a cell. */
export const range = (c: Cell, d: number): string =>
  c.min === null ? "—" : `${fmt(c.min, d)}–${fmt(c.max, d)}`;

/** The direction column: "a→b", with the programs where the ends differ. */
export const dir = (s: { direction: string; flow: string | null }): string =>
  s.flow === null ? s.direction : `${s.direction} ${s.flow}`;

/** The markdown table: one line per row, streams and direction. */
export function formatTable(stats: RowStat[]): string {
  const lines = [
    "| config | streams | dir | Gbit/s median | range | ×(m) | ×(c) | Gbit per CPU-s | ×(m) | peak RSS MiB a / b |",
    "| ------ | ------: | --- | ------------: | ----: | ---: | ---: | -------------: | ---: | -----------------: |",
  ];
  for (const s of stats) {
    const rss = s.peakRssMiB.a === null
      ? "—"
      : `${fmt(s.peakRssMiB.a, 0)} / ${fmt(s.peakRssMiB.b, 0)}`;
    lines.push(
      `| (${s.id}) ${s.label} | ${s.streams} | ${dir(s)} | ${fmt(s.gbps.median, 3)}${
        s.failures ? ` (${s.failures} failed)` : ""
      } | ${range(s.gbps, 2)} | ${fmt(ratio(stats, s, "m", "gbps"))} | ${
        fmt(ratio(stats, s, "c", "gbps"))
      } | ${fmt(s.gbitPerCpuSecond.median, 2)} | ${fmt(ratio(stats, s, "m", "cpu"))} | ${rss} |`,
    );
  }
  return lines.join("\n");
}

/** One verdict line. */
export interface Check {
  target: string;
  pass: boolean;
  detail: string;
}

/**
 * Targets: issue 15's (tunslab ↔ tunslab against modern wireguard-go ↔ itself) and, with a
 * baseline checkout, issue 10's (medians within 10% of the baseline's, pool within 10%).
 */
export function checks(stats: RowStat[], pools: PoolStat[], baseline: boolean): Check[] {
  const out: Check[] = [];
  const worst = (id: string, ref: string, per: "gbps" | "cpu", streams?: number) => {
    const rs = stats.filter((s) => s.id === id && (streams === undefined || s.streams === streams))
      .map((s) => ratio(stats, s, ref, per));
    return rs.length === 0 || rs.some((r) => r === null) ? null : Math.min(...(rs as number[]));
  };
  for (const streams of [1, 8]) {
    const w = worst("a", "m", "gbps", streams);
    if (w !== null) {
      out.push({
        target: `(a) tunslab↔tunslab ≥ 1.3× (m) modern wireguard-go↔itself, ${streams} stream(s)`,
        pass: w >= 1.3,
        detail: `worst direction ${w.toFixed(2)}× (medians of the rounds)`,
      });
    }
  }
  const c = worst("a", "m", "cpu");
  if (c !== null) {
    out.push({
      target: "(a) tunslab↔tunslab ≥ 1.5× (m) in Gbit per CPU-second of the tunnel processes",
      pass: c >= 1.5,
      detail: `worst test ${c.toFixed(2)}×`,
    });
  }
  const px = worst("p", "b", "gbps");
  if (px !== null) {
    out.push({
      target: "(p) proxy TCPClientTunnel ≥ 0.5× (b) tunslab up to the same peer, every test",
      pass: px >= 0.5,
      detail: `worst test ${px.toFixed(2)}× (medians of the rounds)`,
    });
  }
  if (!baseline) return out;
  for (const [now, before] of [["a", "A"], ["a'", "A'"]]) {
    const w = worst(now, before, "gbps");
    if (w !== null) {
      out.push({
        target: `(${now}) this checkout ≥ 0.9× (${before}) the baseline, every test`,
        pass: w >= 0.9,
        detail: `worst test ${w.toFixed(2)}×`,
      });
    }
    for (const side of ["a", "b"] as const) {
      const p = pools.find((x) => x.id === now && x.side === side)?.highWater.median;
      const q = pools.find((x) => x.id === before && x.side === side)?.highWater.median;
      if (p === undefined || q === undefined || p === null || q === null) continue;
      out.push({
        target: `(${now}) pool high-water in ${side} within 10% of (${before})`,
        pass: Math.abs(p / q - 1) <= 0.1,
        detail: `${p} against ${q} slots (medians)`,
      });
    }
  }
  return out;
}

/** Lines on memory: idle Deno, the dependencies' floor, each tunslab's pool. */
export function memoryLines(idle: ProcStats, floor: ProcStats, pools: PoolStat[]): string[] {
  const lines = [
    `Idle Deno (\`deno run -A\` of a sleeping script): peak RSS ${
      fmt(idle.hwmKiB / MIB, 1)
    } MiB; ` +
    `Deno with tunslab's dependencies loaded and no tunnel (\`bench/deps_floor.ts\`): ${
      fmt(floor.hwmKiB / MIB, 1)
    } MiB.`,
  ];
  for (const p of pools) {
    lines.push(
      `(${p.id}) tunslab in ${p.side}: pool high-water ${fmt(p.highWater.median, 0)} slots (range ${
        range(p.highWater, 0)
      }), in use at exit ${p.inUseAtExit.join(", ")}`,
    );
  }
  return lines;
}

/**
 * The proxy rows side by side: per test (p) against (b) (`tunslab up` to the same peer) and, with
 * a baseline, against (P); then the RSS with 64 connections open through each proxy.
 */
export function proxyLines(stats: RowStat[], runs: RunRecord[]): string[] {
  const lines: string[] = [];
  const ps = stats.filter((s) => s.id === "p");
  if (ps.length > 0) {
    const hasP = stats.some((s) => s.id === "P");
    lines.push(
      "",
      `| test | (p) proxy Gbit/s | (b) up Gbit/s | (p)/(b) |${
        hasP ? " (P) baseline Gbit/s | (p)/(P) |" : ""
      }`,
      `| ---- | ---------------: | ------------: | ------: |${
        hasP ? " ------------------: | ------: |" : ""
      }`,
    );
    for (const s of ps) {
      const b = stats.find((x) =>
        x.id === "b" && x.streams === s.streams && x.direction === s.direction
      );
      const P = stats.find((x) =>
        x.id === "P" && x.streams === s.streams && x.direction === s.direction
      );
      lines.push(
        `| ${s.streams} stream(s) ${s.direction} | ${fmt(s.gbps.median, 3)} | ${
          fmt(b?.gbps.median, 3)
        } | ${fmt(ratio(stats, s, "b", "gbps"))} |${
          hasP ? ` ${fmt(P?.gbps.median, 3)} | ${fmt(ratio(stats, s, "P", "gbps"))} |` : ""
        }`,
      );
    }
  }
  for (const id of ["p", "P"]) {
    const held = runs.filter((r) => r.id === id && r.held !== undefined).map((r) => r.held!);
    for (const r of runs.filter((r) => r.id === id && r.heldError !== undefined)) {
      lines.push(`(${id}) round ${r.round}: 64 connections FAILED: ${r.heldError}`);
    }
    if (held.length === 0) continue;
    lines.push(
      `(${id}) RSS of the proxy with ${held[0].connections} connections open through it: ${
        fmt(median(held.map((h) => h.rssKiB / MIB)), 1)
      } MiB (median of ${held.length}; before they opened, after the iperf3 tests: ${
        fmt(median(held.map((h) => h.rssBeforeKiB / MIB)), 1)
      } MiB; connections tried again: ${held.map((h) => h.retries).join(", ")})`,
    );
  }
  return lines;
}
