/**
 * bench:net's extras without a network: parsing iperf3's UDP report and iputils ping's output
 * (both as the tools print them here), the `--extras` switch, and the aggregation and tables of
 * the UDP, ping and direction figures over rounds.
 */
import { deepStrictEqual, match, ok } from "node:assert/strict";
import { parseExtras, parsePing, udpFigures, type UdpRecord } from "../bench/net_extras.ts";
import {
  aggregatePing,
  aggregateUdp,
  extrasCost,
  extrasErrors,
  extrasLines,
  formatDirections,
  formatPingTable,
  formatUdpTable,
  percentile,
} from "../bench/net_extras_report.ts";
import { aggregate, formatTable } from "../bench/net_report.ts";
import type { ConfigDef, RunRecord, TestRecord } from "../bench/net_run.ts";

function has(text: string, part: string): void {
  ok(text.includes(part), `expected ${JSON.stringify(part)} in:\n${text}`);
}

const wg = { kind: "wireguard-go", program: "/peers/wireguard-go" } as const;
const ts = { kind: "tunslab" } as const;
const DEFS: ConfigDef[] = [
  { id: "b", label: "tunslab (a)↔wg-go (b)", ends: { a: ts, b: wg } },
  { id: "b'", label: "wg-go (a)↔tunslab (b)", ends: { a: wg, b: ts } },
  { id: "m", label: "wg-go↔itself", ends: { a: wg, b: wg } },
];

// `iperf3 -c 127.0.0.1 -u -b 0 -l 64 -t 1 -J` (iperf 3.12), end.sum as printed.
const UDP_JSON = {
  end: {
    sum: {
      start: 0,
      end: 1.004595,
      seconds: 1.004595,
      bytes: 11118720,
      bits_per_second: 88948870.5112949,
      jitter_ms: 0.0004,
      lost_packets: 78758,
      packets: 173730,
      lost_percent: 45.33356357566338,
      sender: true,
    },
  },
};

const PING_OUT = `PING 10.99.0.2 (10.99.0.2) 56(84) bytes of data.
64 bytes from 10.99.0.2: icmp_seq=1 ttl=64 time=0.032 ms
64 bytes from 10.99.0.2: icmp_seq=3 ttl=64 time=12.5 ms

--- 10.99.0.2 ping statistics ---
3 packets transmitted, 2 received, 33.3333% packet loss, time 206ms
rtt min/avg/max/mdev = 0.032/6.266/12.500/6.234 ms
`;

function udp(payload: number, direction: "a→b" | "b→a", pps: number, cpu = 0.5): UdpRecord {
  return {
    payload,
    direction,
    seconds: 1,
    measuredSeconds: 1,
    packets: pps * 2,
    lost: pps,
    lostPercent: 50,
    receivedPps: pps,
    sentPps: pps * 2,
    procs: [{ side: "a", cpuSeconds: cpu }, { side: "b", cpuSeconds: cpu }],
  };
}

function tcp(direction: "a→b" | "b→a", gbps: number, streams = 1): TestRecord {
  return {
    streams,
    reverse: direction === "b→a",
    direction,
    seconds: 2,
    bitsPerSecond: gbps * 1e9,
    retransmits: 0,
    procs: [{ side: "a", cpuSeconds: 1, hwmKiB: 81920 }, { side: "b", cpuSeconds: 1, hwmKiB: 1 }],
  };
}

function ping(idle: number[], load: number[], loadError?: string): RunRecord["extras"] {
  const series = (rttMs: number[]) => ({
    count: rttMs.length,
    transmitted: rttMs.length,
    received: rttMs.length,
    rttMs,
  });
  return {
    ping: {
      intervalSeconds: 0.1,
      idle: series(idle),
      load: series(load),
      loadStreams: 8,
      loadDirection: "a→b",
      loadSeconds: 3,
      loadBitsPerSecond: 2e9,
      ...(loadError ? { loadError } : {}),
    },
  };
}

Deno.test("parseExtras: both by default, none with --no-extras, a list, an unknown name refused", () => {
  deepStrictEqual([...parseExtras(false, undefined) as Set<string>], ["ping", "udp"]);
  deepStrictEqual((parseExtras(true, "udp") as Set<string>).size, 0);
  deepStrictEqual([...parseExtras(false, "ping") as Set<string>], ["ping"]);
  deepStrictEqual([...parseExtras(false, " udp , ping,") as Set<string>], ["udp", "ping"]);
  match(parseExtras(false, "udp,tcp") as string, /unknown extra "tcp"/);
});

Deno.test("udpFigures: received pps is (packets − lost) / seconds of end.sum", () => {
  const f = udpFigures(UDP_JSON);
  deepStrictEqual(f.error, undefined);
  deepStrictEqual(f.packets, 173730);
  deepStrictEqual(f.lost, 78758);
  deepStrictEqual(f.receivedPps, (173730 - 78758) / 1.004595);
  deepStrictEqual(f.sentPps, 173730 / 1.004595);
  deepStrictEqual(f.lostPercent, 45.33356357566338);
  const bad = udpFigures({ end: { sum: { seconds: 1, packets: 10 } } });
  deepStrictEqual(bad.receivedPps, null);
  match(bad.error!, /no end.sum/);
  match(udpFigures({}).error!, /no end.sum/);
});

Deno.test("parsePing: every reply's time and the summary, a lost reply counted", () => {
  deepStrictEqual(parsePing(PING_OUT), { transmitted: 3, received: 2, rttMs: [0.032, 12.5] });
  deepStrictEqual(parsePing("ping: connect: Network is unreachable\n"), {
    transmitted: null,
    received: null,
    rttMs: [],
  });
});

Deno.test("percentile: nearest rank", () => {
  const xs = [10, 1, 9, 2, 8, 3, 7, 4, 6, 5];
  deepStrictEqual(percentile(xs, 0.9), 9);
  deepStrictEqual(percentile(xs, 0.5), 5);
  deepStrictEqual(percentile(xs, 1), 10);
  deepStrictEqual(percentile([7], 0.9), 7);
  deepStrictEqual(percentile([], 0.9), null);
});

Deno.test("UDP: medians over rounds, ×(m), failures counted, directions named by sender", () => {
  const runs: RunRecord[] = [1, 2, 3].flatMap((round) => [
    {
      id: "b",
      round,
      processes: [],
      tests: [],
      extras: {
        udp: [
          round === 3
            ? { ...udp(64, "a→b", 0), receivedPps: null, error: "iperf3: boom" }
            : udp(64, "a→b", 100_000 * round),
          udp(64, "b→a", 30_000),
        ],
      },
    },
    {
      id: "m",
      round,
      processes: [],
      tests: [],
      extras: { udp: [udp(64, "a→b", 50_000 * round, 1), udp(64, "b→a", 60_000)] },
    },
  ]);
  const stats = aggregateUdp(DEFS, runs);
  const b = stats.find((s) => s.id === "b" && s.direction === "a→b")!;
  deepStrictEqual(b.kpps.values, [100, 200]);
  deepStrictEqual(b.kpps.median, 150);
  deepStrictEqual(b.failures, 1);
  deepStrictEqual(b.flow, "tunslab→wg-go");
  deepStrictEqual(stats.find((s) => s.id === "b" && s.direction === "b→a")!.flow, "wg-go→tunslab");
  deepStrictEqual(stats.find((s) => s.id === "m")!.flow, null);
  // 150 k received per 1 CPU-s (both processes 0.5 s) against (m): 100 k per 2 CPU-s.
  deepStrictEqual(b.kpktPerCpuSecond.median, 150);
  const table = formatUdpTable(stats);
  const line = table.split("\n").find((l) => l.startsWith("| (b) ") && l.includes("a→b"))!;
  has(line, "| 64 | a→b tunslab→wg-go | 150.0 (1 failed) | 100.0–200.0 | 1.50 |");
  has(line, "| 150.0 | 3.00 |");
  has(
    table.split("\n").find((l) => l.startsWith("| (m) ") && l.includes("b→a"))!,
    "| 60.0 | 60.0–60.0 | 1.00 |",
  );
  deepStrictEqual(extrasErrors(runs), ["(b) round 3: UDP 64 B a→b FAILED: iperf3: boom"]);
});

Deno.test("ping: replies of the rounds pooled, median/p90/max, ×(m) under load, a failed load shown", () => {
  const runs: RunRecord[] = [
    { id: "b", round: 1, processes: [], tests: [], extras: ping([0.5, 0.6], [10, 20, 30]) },
    {
      id: "b",
      round: 2,
      processes: [],
      tests: [],
      extras: ping([0.4], [40, 50], "iperf3: refused"),
    },
    { id: "m", round: 1, processes: [], tests: [], extras: ping([0.3], [60]) },
    { id: "m", round: 2, processes: [], tests: [], extras: ping([0.3], [60]) },
  ];
  const stats = aggregatePing(DEFS, runs);
  deepStrictEqual(stats.map((s) => s.id), ["b", "m"]);
  const b = stats[0];
  deepStrictEqual(b.rounds, 2);
  deepStrictEqual(b.idle, { replies: 3, transmitted: 3, medianMs: 0.5, p90Ms: 0.6, maxMs: 0.6 });
  deepStrictEqual(b.load, { replies: 5, transmitted: 5, medianMs: 30, p90Ms: 50, maxMs: 50 });
  deepStrictEqual(b.failures, 1);
  const line = formatPingTable(stats).split("\n").find((l) => l.startsWith("| (b) "))!;
  has(line, "(1 failed) | 0.500 / 0.600 / 0.600 | 3/3 |");
  has(line, "| 30.000 / 50.000 / 50.000 | 5/5 | 0.50 | 2.000 |");
  deepStrictEqual(extrasErrors(runs), [
    "(b) round 2: the ping's 8-stream load FAILED: iperf3: refused",
  ]);
});

Deno.test("TCP: (b) and (b') side by side by who sends, labels in the main table", () => {
  const runs: RunRecord[] = [
    { id: "b", round: 1, processes: [], tests: [tcp("a→b", 2), tcp("b→a", 1)] },
    { id: "b'", round: 1, processes: [], tests: [tcp("a→b", 1.5), tcp("b→a", 3)] },
    { id: "m", round: 1, processes: [], tests: [tcp("a→b", 1), tcp("b→a", 2)] },
  ];
  const stats = aggregate(DEFS, runs);
  const main = formatTable(stats);
  has(main, "| (b) tunslab (a)↔wg-go (b) | 1 | a→b tunslab→wg-go | 2.000 |");
  has(main, "| (b') wg-go (a)↔tunslab (b) | 1 | a→b wg-go→tunslab | 1.500 |");
  has(main, "| (m) wg-go↔itself | 1 | a→b | 1.000 |");
  const dirs = formatDirections(stats).split("\n");
  deepStrictEqual(dirs.length, 4);
  // (b): tunslab→wg-go is a→b (2 Gbit/s, 2× (m)'s a→b), back is b→a (1 against (m)'s 2).
  has(dirs[2], "| (b) tunslab (a)↔wg-go (b) | 1 | 2.000 | a→b | 2.00 |");
  has(dirs[2], "| 1.000 | b→a | 0.50 | 2.00 |");
  // (b'): the ends swapped, so tunslab→wg-go is its b→a.
  has(dirs[3], "| 1 | 3.000 | b→a | 1.50 | 1.500 | a→b | 1.50 | 2.00 |");
  deepStrictEqual(formatDirections(stats.filter((s) => s.id === "m")), "");
});

Deno.test("extrasCost and extrasLines: the time they add, nothing without extras", () => {
  const runs: RunRecord[] = [
    { id: "m", round: 1, processes: [], tests: [], wallSeconds: 30, extras: { wallSeconds: 10 } },
    { id: "d", round: 1, processes: [], tests: [], wallSeconds: 20 },
  ];
  deepStrictEqual(
    extrasCost(runs),
    "The extras took 10 s of 50 s of row runs (10.0 s in each of 1): +25 % on the runs without them.",
  );
  deepStrictEqual(extrasCost([runs[1]]), null);
  deepStrictEqual(extrasLines([], [], [], [runs[1]]), []);
  const lines = extrasLines(
    [],
    [],
    aggregatePing(DEFS, [{ ...runs[0], extras: ping([1], [2]) }]),
    runs,
  );
  const text = lines.join("\n");
  has(text, "\n| (m) wg-go↔itself | 1.000 / 1.000 / 1.000 | 1/1 | 2.000 / 2.000 / 2.000 | 1/1 |");
  has(text, "Ping RTT a → b's inner address");
  has(text, "The extras took 10 s of 50 s");
  ok(!text.includes("UDP (not a gate)"), "no UDP table without UDP figures");
});
