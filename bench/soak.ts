/**
 * `deno task soak [--minutes N]` (root): two tunslab tunnels between two network namespaces run
 * for N minutes with their real timers (so a rekey happens every two minutes), iperf3 bursts
 * (10 s, 1 or 8 streams, alternating direction) separated by idle gaps (20 s), and pings all
 * along (every 0.2 s). Prints, and writes as the last stdout line in JSON: the RSS slope of each
 * tunnel after its first minute (least squares over 5 s samples, KiB per minute), slots in use at
 * exit and the pool's high-water mark, handshakes completed per side, ping loss, and the bursts'
 * throughput. Exits 1 when a bound is broken: slots left in use, fewer handshakes than the
 * rekey timer implies, ping loss above 2 %, RSS growing more than 4 MiB from the run's second
 * quarter to its last (medians), or, for runs of 10 minutes and more, an RSS slope above 1 MiB/min.
 *
 * @example
 * ```sh
 * sudo deno task soak --minutes 3
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { isRoot, Testbed } from "../src/demo/testbed.ts";
import { pairSpec, startTunnel, type TunnelProcess } from "../src/demo/tunnel_process.ts";
import { generatePrivateKey } from "../src/wg/keys.ts";
import { readProcStats } from "./proc_stats.ts";

const INNER = { a: "10.98.0.1", b: "10.98.0.2" } as const;
const BURST_S = 10;
const GAP_S = 20;
/** The bounds a soak must stay within. */
export const BOUNDS = { pingLossPercent: 2, rssSlopeKiBPerMin: 1024, rssGrowthMiB: 4 } as const;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const say = (m: string) => console.error(`soak: ${m}`);

/** Least-squares slope of `ys` over `xs`. */
export function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n, my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0, den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

interface Burst {
  at: number;
  streams: number;
  reverse: boolean;
  gbps: number | null;
  error?: string;
}

async function burst(bed: Testbed, streams: number, reverse: boolean): Promise<Burst> {
  const at = performance.now();
  const args = ["iperf3", "-c", INNER.b, "-t", String(BURST_S), "-P", String(streams), "-J"];
  if (reverse) args.push("-R");
  const r = await bed.run("a", args, true);
  try {
    const j = JSON.parse(r.stdout);
    if (j.error) return { at, streams, reverse, gbps: null, error: String(j.error) };
    return { at, streams, reverse, gbps: j.end.sum_received.bits_per_second / 1e9 };
  } catch {
    return { at, streams, reverse, gbps: null, error: (r.stderr || r.stdout).slice(0, 300) };
  }
}

/** Runs the soak; returns its summary. */
export async function soak(minutes: number): Promise<Record<string, unknown>> {
  await using bed = await Testbed.create("soak");
  const keys = { a: generatePrivateKey(), b: generatePrivateKey() };
  const tunnels: TunnelProcess[] = [];
  try {
    for (const side of ["a", "b"] as const) {
      const name = `soak${side}${Deno.pid % 10000}`;
      tunnels.push(
        await startTunnel(bed, side, "tunslab", pairSpec(bed, side, keys, { v4: INNER }, name)),
      );
    }
    const server = bed.spawn("b", ["iperf3", "-s", "-B", INNER.b], {
      stdout: "null",
      stderr: "null",
    });
    const t0 = performance.now();
    const end = t0 + minutes * 60_000;
    const pings = Math.floor((minutes * 60 - 2) / 0.2);
    const ping = bed.spawn("a", ["ping", "-i", "0.2", "-W", "2", "-c", String(pings), INNER.b]);
    const pingOut = new Response(ping.stdout).text();
    const samples: { t: number; rss: number[] }[] = [];
    const sampler = setInterval(() => {
      const rss = tunnels.map((t) => readProcStats(t.pid)?.rssKiB ?? NaN);
      samples.push({ t: (performance.now() - t0) / 60_000, rss });
    }, 5000);
    const bursts: Burst[] = [];
    let k = 0;
    await sleep(2000);
    while (performance.now() + (BURST_S + 5) * 1000 < end) {
      const b = await burst(bed, k % 2 === 0 ? 1 : 8, k % 4 >= 2);
      bursts.push(b);
      say(
        `burst ${k + 1}: ${b.streams} stream(s)${b.reverse ? " b→a" : ""} ${
          b.gbps?.toFixed(2) ?? b.error
        } Gbit/s`,
      );
      k++;
      await sleep(Math.min(GAP_S * 1000, Math.max(0, end - performance.now())));
    }
    await sleep(Math.max(0, end - performance.now()));
    clearInterval(sampler);
    await ping.status;
    const pingText = await pingOut;
    server.kill("SIGTERM");
    await server.status;
    const finals = [];
    for (const t of tunnels) finals.push(await t.stop());
    const loss = Number(/([\d.]+)% packet loss/.exec(pingText)?.[1] ?? NaN);
    const late = samples.filter((s) => s.t >= Math.min(1, minutes / 3));
    const slopes = tunnels.map((_, i) => slope(late.map((s) => s.t), late.map((s) => s.rss[i])));
    // Growth between the median RSS of the second quarter and of the last one: a leak grows it,
    // the garbage collector's sawtooth does not (a short run's slope mostly sees the sawtooth).
    const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[xs.length >> 1] ?? NaN;
    const q = Math.floor(samples.length / 4);
    const growth = tunnels.map((_, i) =>
      (median(samples.slice(samples.length - q).map((s) => s.rss[i])) -
        median(samples.slice(q, 2 * q).map((s) => s.rss[i]))) / 1024
    );
    const handshakes = finals.map((f) =>
      ((f?.raw.peers as { handshakes: number }[] | undefined)?.[0]?.handshakes) ?? 0
    );
    const result = {
      minutes,
      pingsSent: pings,
      pingLossPercent: loss,
      rssSlopeKiBPerMin: slopes.map((s) => Math.round(s)),
      rssGrowthMiB: growth.map((g) => +g.toFixed(1)),
      rssMiB: {
        first: samples[0]?.rss.map((r) => +(r / 1024).toFixed(1)),
        last: samples.at(-1)?.rss.map((r) => +(r / 1024).toFixed(1)),
      },
      inUseAtExit: finals.map((f) => f?.inUse ?? null),
      poolHighWater: finals.map((f) => f?.highWater ?? null),
      handshakes,
      // A rekey every REKEY_AFTER_TIME (120 s) from whichever side sends: the pair's handshakes.
      handshakesExpected: 1 + Math.floor((minutes * 60 - 5) / 120),
      bursts: bursts.map((b) => ({
        streams: b.streams,
        reverse: b.reverse,
        gbps: b.gbps,
        error: b.error,
      })),
    };
    return result;
  } finally {
    await Promise.all(tunnels.map((t) => t.stop().catch(() => undefined)));
  }
}

/** What broke the bounds, or an empty list. */
export function violations(r: Record<string, unknown>): string[] {
  const out: string[] = [];
  const inUse = r.inUseAtExit as (number | null)[];
  if (inUse.some((n) => n !== 0)) out.push(`slots in use at exit: ${inUse.join(", ")}`);
  const hs = Math.max(...(r.handshakes as number[]));
  if (hs < (r.handshakesExpected as number)) {
    out.push(`handshakes ${hs}, expected at least ${r.handshakesExpected}`);
  }
  const loss = r.pingLossPercent as number;
  if (!(loss <= BOUNDS.pingLossPercent)) out.push(`ping loss ${loss}%`);
  // Over ten minutes and more the slope is the measure; shorter runs look at the growth.
  if ((r.minutes as number) >= 10) {
    for (const s of r.rssSlopeKiBPerMin as number[]) {
      if (!(s <= BOUNDS.rssSlopeKiBPerMin)) out.push(`RSS slope ${s} KiB/min`);
    }
  }
  for (const g of r.rssGrowthMiB as number[]) {
    if (!(g <= BOUNDS.rssGrowthMiB)) {
      out.push(`RSS grew ${g} MiB from the second quarter to the last`);
    }
  }
  return out;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    strict: true,
    options: { minutes: { type: "string", default: "10" } },
  });
  const minutes = Number(values.minutes);
  if (!(minutes >= 1 && minutes <= 24 * 60)) {
    console.error(`--minutes must be 1..1440, not "${values.minutes}"`);
    Deno.exit(2);
  }
  if (!isRoot()) {
    console.error("soak creates network namespaces and TUN devices: run it as root");
    Deno.exit(1);
  }
  const r = await soak(minutes);
  const bad = violations(r);
  console.log(
    `soak ${minutes} min: ping loss ${r.pingLossPercent}%, RSS slope ${
      (r.rssSlopeKiBPerMin as number[]).join(" / ")
    } KiB/min, RSS ${JSON.stringify(r.rssMiB)} MiB, slots in use at exit ${
      (r.inUseAtExit as number[]).join(" / ")
    }, pool high-water ${(r.poolHighWater as number[]).join(" / ")}, handshakes ${
      (r.handshakes as number[]).join(" / ")
    } (≥ ${r.handshakesExpected} expected)`,
  );
  for (const v of bad) console.log(`FAIL ${v}`);
  console.log(JSON.stringify({ ...r, violations: bad }));
  Deno.exit(bad.length === 0 ? 0 : 1);
}
