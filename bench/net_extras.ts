/**
 * `bench:net`'s extras, reported beside the TCP table and never gates (issue 15, "Honest
 * numbers"), run in a tunnel row around its TCP tests, against the same iperf3 server in b:
 *
 * - `ping`: latency under load. {@link PING_IDLE} pings from a to b's inner address every
 *   {@link PING_INTERVAL} s before the TCP tests, the tunnel idle, then as many as fit in the
 *   8-stream a→b TCP test, {@link LOAD_RAMP} s after its start to as long before its end.
 * - `udp`: small packets, after the TCP tests. iperf3 `-u -b 0 -l 64` and `-l 512`, one stream, a→b and b→a (`-R`),
 *   {@link UDP_SECONDS} s each: received packets per second, (packets − lost) / seconds of
 *   iperf3's `end.sum`, the loss, and the CPU seconds of both tunnel processes.
 *
 * A failed extra is recorded with its error; no step of {@link ExtrasRun} throws.
 *
 * @example
 * ```ts
 * import { parsePing } from "./net_extras.ts";
 * const p = parsePing("64 bytes from 10.99.0.2: icmp_seq=1 ttl=64 time=0.42 ms\n" +
 *   "1 packets transmitted, 1 received, 0% packet loss, time 0ms\n");
 * console.log(p.rttMs); // [0.42]
 * ```
 * @module
 */
import type { Testbed } from "../src/demo/testbed.ts";
import { readProcStats } from "./proc_stats.ts";
import { type IperfJson, iperfJson } from "./net_iperf.ts";

/** The extras. */
export const EXTRAS = ["ping", "udp"] as const;
/** One extra. */
export type ExtraName = typeof EXTRAS[number];

/** UDP payload sizes, bytes. */
export const UDP_PAYLOADS: readonly number[] = [64, 512];
/** Length of a UDP test, seconds: each extra lengthens every tunnel row's round. */
export const UDP_SECONDS = 1;
/** Idle pings before the load. */
export const PING_IDLE = 10;
/** Interval between pings, seconds (root may go below 0.2): 40 replies in a 5 s test. */
export const PING_INTERVAL = 0.1;
/** What the load's streams get to ramp up before the pings start, and end with none, seconds. */
export const LOAD_RAMP = 0.5;
/** Streams of the load the second series of pings runs under. */
export const LOAD_STREAMS = 8;

/**
 * `--no-extras` / `--extras udp,ping` to the set to run, or an error message for an unknown name.
 */
export function parseExtras(off: boolean, list: string | undefined): Set<ExtraName> | string {
  if (off) return new Set();
  if (list === undefined) return new Set(EXTRAS);
  const out = new Set<ExtraName>();
  for (const s of list.split(",").map((x) => x.trim()).filter((x) => x !== "")) {
    if (!(EXTRAS as readonly string[]).includes(s)) {
      return `--extras: unknown extra "${s}" (known: ${EXTRAS.join(", ")})`;
    }
    out.add(s as ExtraName);
  }
  return out;
}

/** CPU seconds one tunnel process spent during one extra. */
export interface ProcCpu {
  side: "a" | "b";
  cpuSeconds: number | null;
}

/** One UDP test of one run. */
export interface UdpRecord {
  payload: number;
  direction: "a→b" | "b→a";
  /** Asked for (`-t`). */
  seconds: number;
  /** iperf3's `end.sum`: its seconds, packets sent, packets the receiver counted lost. */
  measuredSeconds: number | null;
  packets: number | null;
  lost: number | null;
  lostPercent: number | null;
  /** (packets − lost) / seconds. */
  receivedPps: number | null;
  /** packets / seconds: what the sender offered. */
  sentPps: number | null;
  procs: ProcCpu[];
  error?: string;
}

/** One series of pings. */
export interface PingSeries {
  /** Asked for (`-c`). */
  count: number;
  transmitted: number | null;
  received: number | null;
  /** The round-trip time of every reply, in order, ms. */
  rttMs: number[];
  error?: string;
}

/** Ping RTT from a to b's inner address, idle and under an 8-stream a→b load. */
export interface PingRecord {
  intervalSeconds: number;
  idle: PingSeries;
  load: PingSeries;
  loadStreams: number;
  loadDirection: "a→b";
  loadSeconds: number;
  /** The load's throughput (iperf3's receiver), and its error if it failed. */
  loadBitsPerSecond: number | null;
  loadError?: string;
}

/** The extras of one run of one row. */
export interface ExtrasRecord {
  udp?: UdpRecord[];
  ping?: PingRecord;
  /** Wall time of all of them: what they add to the row's round. */
  wallSeconds?: number;
}

/** What an extra needs of the running row. */
export interface ExtrasContext {
  bed: Testbed;
  /** The tunnel processes, for their CPU seconds. */
  tunnels: readonly { side: "a" | "b"; pid: number }[];
  /** The iperf3 server in b. */
  server: { host: string; port: number };
  /** b's inner address, what a pings. */
  pingTo: string;
  signal: AbortSignal;
  say: (msg: string) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `fn`, returning its result and each tunnel's CPU seconds during it. */
async function withCpu<T>(
  tunnels: ExtrasContext["tunnels"],
  fn: () => Promise<T>,
): Promise<[T, ProcCpu[]]> {
  const before = tunnels.map((t) => readProcStats(t.pid));
  const r = await fn();
  const after = tunnels.map((t) => readProcStats(t.pid));
  return [
    r,
    tunnels.map((t, i) => ({
      side: t.side,
      cpuSeconds: before[i] && after[i] ? after[i]!.cpuSeconds - before[i]!.cpuSeconds : null,
    })),
  ];
}

const num = (x: unknown): number | null => {
  const n = Number(x);
  return x !== null && x !== undefined && Number.isFinite(n) ? n : null;
};

/** The figures of a UDP test. */
type UdpFigures = Pick<
  UdpRecord,
  "measuredSeconds" | "packets" | "lost" | "lostPercent" | "receivedPps" | "sentPps" | "error"
>;

/** The figures of a UDP test that did not run: none, and why. */
const noFigures = (error: string): UdpFigures => ({
  measuredSeconds: null,
  packets: null,
  lost: null,
  lostPercent: null,
  receivedPps: null,
  sentPps: null,
  error,
});

/** A UDP test's figures from iperf3's `-J` report (`end.sum`); an error if they are missing. */
export function udpFigures(j: IperfJson): UdpFigures {
  const sum = j?.end?.sum;
  const seconds = num(sum?.seconds), packets = num(sum?.packets), lost = num(sum?.lost_packets);
  if (seconds === null || packets === null || lost === null || seconds <= 0) {
    return {
      measuredSeconds: seconds,
      packets,
      lost,
      lostPercent: null,
      receivedPps: null,
      sentPps: null,
      error: "iperf3: no end.sum with seconds, packets and lost_packets",
    };
  }
  return {
    measuredSeconds: seconds,
    packets,
    lost,
    lostPercent: num(sum.lost_percent) ?? (packets > 0 ? 100 * lost / packets : null),
    receivedPps: Math.max(0, packets - lost) / seconds,
    sentPps: packets / seconds,
  };
}

async function udpTest(
  ctx: ExtrasContext,
  payload: number,
  reverse: boolean,
): Promise<UdpRecord> {
  const seconds = UDP_SECONDS;
  const direction = reverse ? "b→a" : "a→b";
  ctx.say(`UDP ${payload} B ${direction}`);
  const args = ["-c", ctx.server.host, "-p", String(ctx.server.port), "-u", "-b", "0"];
  args.push("-l", String(payload), "-t", String(seconds));
  if (reverse) args.push("-R");
  const [r, procs] = await withCpu(
    ctx.tunnels,
    () => iperfJson(ctx.bed, args, seconds, ctx.signal),
  );
  const fig = r.error !== undefined ? noFigures(r.error) : udpFigures(r.json);
  if (fig.error) ctx.say(`UDP ${payload} B ${direction}: ${fig.error}`);
  return { payload, direction, seconds, ...fig, procs };
}

/** Replies and the transmitted/received summary of iputils `ping -n` output. */
export function parsePing(
  text: string,
): { transmitted: number | null; received: number | null; rttMs: number[] } {
  const rttMs = [...text.matchAll(/icmp_seq=\d+ .*time[=<]([\d.]+) ms/g)].map((m) => Number(m[1]));
  const s = /(\d+) packets transmitted, (\d+) received/.exec(text);
  return {
    transmitted: s ? Number(s[1]) : null,
    received: s ? Number(s[2]) : null,
    rttMs,
  };
}

async function pings(ctx: ExtrasContext, count: number): Promise<PingSeries> {
  // The deadline (whole seconds) bounds a series whose replies stop coming.
  const deadline = Math.ceil(count * PING_INTERVAL) + 1;
  const r = await ctx.bed.run(
    "a",
    ["ping", "-n", "-i", String(PING_INTERVAL), "-c", String(count), "-w", String(deadline)]
      .concat(ctx.pingTo),
    true,
  ).then((x) => x, (e) => ({ code: -1, stdout: "", stderr: String(e) }));
  const p = parsePing(r.stdout);
  // ping exits 1 when a reply is missing (the figures say so), 2 on an error.
  const error = r.code === 0 || (r.code === 1 && p.transmitted !== null)
    ? undefined
    : `ping exited ${r.code}: ${(r.stderr || r.stdout).trim().slice(0, 200)}`;
  return { count, ...p, ...(error ? { error } : {}) };
}

/** The pings under load: they wait for the streams to ramp up and end before the test does. */
function loadPings(ctx: ExtrasContext, seconds: number): Promise<PingSeries> {
  const count = Math.max(1, Math.round((seconds - 2 * LOAD_RAMP) / PING_INTERVAL));
  ctx.say(`${count} pings under the load`);
  return sleep(LOAD_RAMP * 1000).then(() => pings(ctx, count));
}

const failedUdp = (payload: number, reverse: boolean, error: string): UdpRecord => ({
  payload,
  direction: reverse ? "b→a" : "a→b",
  seconds: UDP_SECONDS,
  ...noFigures(error),
  procs: [],
});

/**
 * The extras of one run of a tunnel row, in three steps around its TCP tests: {@link idle} before
 * them (a fresh tunnel, nothing queued), {@link underLoad} wrapping each (the pings run during the
 * 8-stream a→b one: the load is that test), {@link after} them the UDP tests. No step throws; the
 * record holds what each gave, errors included.
 */
export class ExtrasRun {
  readonly record: ExtrasRecord = { wallSeconds: 0 };
  #idle?: PingSeries;

  constructor(readonly ctx: ExtrasContext, readonly which: ReadonlySet<ExtraName>) {}

  async #timed(fn: () => Promise<void>): Promise<void> {
    const t0 = performance.now();
    try {
      await fn();
    } finally {
      this.record.wallSeconds! += (performance.now() - t0) / 1000;
    }
  }

  /** The idle pings, before the TCP tests. */
  idle(): Promise<void> {
    if (!this.which.has("ping")) return Promise.resolve();
    return this.#timed(async () => {
      this.ctx.say(`ping idle (${PING_IDLE})`);
      this.#idle = await pings(this.ctx, PING_IDLE);
      if (this.#idle.error) this.ctx.say(this.#idle.error);
    });
  }

  /** Runs the TCP test `t` (`test`), with the pings under load when it is the load. */
  async underLoad<R extends { bitsPerSecond: number | null; error?: string }>(
    t: { streams: number; reverse: boolean },
    seconds: number,
    test: () => Promise<R>,
  ): Promise<R> {
    if (!this.which.has("ping") || t.streams !== LOAD_STREAMS || t.reverse) return test();
    const pinging = loadPings(this.ctx, seconds);
    const r = await test();
    const load = await pinging;
    if (load.error) this.ctx.say(load.error);
    const none = (): PingSeries => ({
      count: PING_IDLE,
      transmitted: null,
      received: null,
      rttMs: [],
      error: "no idle pings ran",
    });
    this.record.ping = {
      intervalSeconds: PING_INTERVAL,
      idle: this.#idle ?? none(),
      load,
      loadStreams: LOAD_STREAMS,
      loadDirection: "a→b",
      loadSeconds: seconds,
      loadBitsPerSecond: r.bitsPerSecond,
      ...(r.error !== undefined ? { loadError: r.error } : {}),
    };
    return r;
  }

  /** The UDP tests, after the TCP tests; returns the record. */
  async after(): Promise<ExtrasRecord> {
    if (this.which.has("udp")) await this.#timed(() => this.#udp());
    return this.record;
  }

  async #udp(): Promise<void> {
    const out: UdpRecord[] = this.record.udp = [];
    for (const payload of UDP_PAYLOADS) {
      for (const reverse of [false, true]) {
        if (this.ctx.signal.aborted) return;
        out.push(
          await udpTest(this.ctx, payload, reverse).catch((e) =>
            failedUdp(payload, reverse, String(e))
          ),
        );
        await sleep(300); // let the queues drain
      }
    }
  }
}
