/**
 * The netns demo (`deno task demo`): two namespaces joined by a veth pair,
 * tunslab `up` in one and tunslab or wireguard-go in the other; pings across
 * in IPv4 and IPv6, moves data over TCP with iperf3, prints a short table and
 * removes everything it created, also when interrupted.
 *
 * @example
 * ```sh
 * sudo deno task demo                      # tunslab ↔ tunslab
 * sudo deno task demo --peer wireguard-go  # tunslab ↔ wireguard-go
 * sudo deno task demo --rootless           # and `tunslab proxy` as nobody, a second peer of b
 * ```
 * @module
 */

import { encodeBase64Key as encodeKey, generatePrivateKey, publicKey } from "../wg/keys.ts";
import { isRoot, run, Testbed } from "./testbed.ts";
import { pairSpec, startTunnel, type TunnelProcess } from "./tunnel_process.ts";
import { rootlessRows } from "./rootless_proxy.ts";
import { iperfCell } from "./iperf_run.ts";

/** Options of {@link runDemo}. */
export interface DemoOptions {
  peer: "tunslab" | "wireguard-go";
  /** Seconds of iperf3 per direction. */
  seconds: number;
  /** Print progress lines to stderr. */
  verbose: boolean;
  /** Also run `tunslab proxy` as uid 65534 in a, a second peer of b's tunnel. */
  rootless?: boolean;
}

/** One row of the result table. */
export interface DemoRow {
  check: string;
  result: string;
}

/** Thrown when the demo cannot run here (no root, missing tools). */
export class DemoError extends Error {
  override name = "DemoError";
}

function parsePing(out: string): { loss: number; avgMs: number } {
  const loss = Number(/([\d.]+)% packet loss/.exec(out)?.[1] ?? 100);
  const avgMs = Number(/= [\d.]+\/([\d.]+)\//.exec(out)?.[1] ?? NaN);
  return { loss, avgMs };
}

async function need(tool: string): Promise<void> {
  const r = await run(["sh", "-c", `command -v ${tool}`], true);
  if (r.code !== 0) throw new DemoError(`the demo needs ${tool} (apt-get install ${tool})`);
}

/** Runs the demo; returns the table rows. Cleans up in every case. */
export async function runDemo(opts: DemoOptions): Promise<DemoRow[]> {
  if (!isRoot()) {
    throw new DemoError(
      "the demo creates network namespaces and TUN devices: it needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN); run it with sudo",
    );
  }
  for (const t of ["ip", "ping", "iperf3"]) await need(t);
  if (opts.peer === "wireguard-go" || opts.rootless) await need("wg");
  if (opts.peer === "wireguard-go") await need("wireguard-go");
  if (opts.rootless) await need("setpriv");
  const say = (msg: string) => opts.verbose && console.error(`demo: ${msg}`);
  // TUNSLAB_DEMO_LOG_LEVEL=debug: the tunnels' logs in detail, printed on a failed check.
  const logLevel = Deno.env.get("TUNSLAB_DEMO_LOG_LEVEL");
  const bed = await Testbed.create("demo");
  const tunnels: TunnelProcess[] = [];
  const onSignal = () => {
    say("interrupted: cleaning up");
    Promise.all(tunnels.map((t) => t.stop())).finally(() =>
      bed.destroy().finally(() => Deno.exit(130))
    );
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    const keys = { a: generatePrivateKey(), b: generatePrivateKey() };
    const inner = { a: "10.99.0.1", b: "10.99.0.2" };
    const inner6 = { a: "fd99::1", b: "fd99::2" };
    for (const side of ["a", "b"] as const) {
      const kind = side === "a" ? "tunslab" : opts.peer;
      const t = await startTunnel(bed, side, kind, {
        ...pairSpec(bed, side, keys, { v4: inner, v6: inner6 }, `tsl${side}${Deno.pid % 10000}`),
        upArgs: logLevel ? ["--log-level", logLevel] : [],
      });
      tunnels.push(t);
      say(`${kind} up in ${bed.ns[side]} as ${t.name}`);
    }
    const rows: DemoRow[] = [];
    let retried = false;
    rows.push({ check: "peers", result: `tunslab (a) ↔ ${opts.peer} (b)` });
    const t0 = performance.now();
    const first = await bed.run("a", ["ping", "-c", "1", "-W", "5", inner.b], true);
    const handshakeMs = performance.now() - t0;
    rows.push({
      check: "first ping (incl. handshake)",
      result: first.code === 0 ? `${handshakeMs.toFixed(1)} ms` : "FAILED",
    });
    for (
      const [label, from, to] of [
        ["ping v4 a→b", "a", inner.b],
        ["ping v4 b→a", "b", inner.a],
        ["ping v6 a→b", "a", inner6.b],
        ["ping v6 b→a", "b", inner6.a],
      ] as const
    ) {
      const ping = async () =>
        parsePing(
          (await bed.run(from, ["ping", "-c", "5", "-i", "0.2", "-W", "2", to], true)).stdout,
        );
      let p = await ping(), note = "";
      if (p.loss > 0) {
        // Once again, said in the table (and the tunnels' logs printed): in the rare losses seen
        // in CI runs on a busy 2-core VM, tunslab's counters showed nothing lost or dropped.
        note = ` (second try; the first lost ${p.loss}%)`;
        retried = true;
        p = await ping();
      }
      rows.push({ check: label, result: `${p.loss}% loss, rtt ${p.avgMs.toFixed(3)} ms${note}` });
    }
    const tput = await iperfCell(bed, {
      bind: inner.b,
      connect: inner.b,
      seconds: opts.seconds,
      label: `TCP, ${opts.seconds} s`,
    });
    rows.push({ check: "throughput a→b", result: tput });
    if (opts.rootless) {
      say("tunslab proxy as uid 65534 in a, a second peer of b");
      const b = {
        name: tunnels[1].name,
        publicKey: encodeKey(publicKey(keys.b)),
        inner: inner.b,
        inner6: inner6.b,
      };
      rows.push(...await rootlessRows(bed, b, opts.seconds, parsePing));
    }
    const failed = retried ||
      rows.some((r) => /FAILED|[1-9][\d.]*% loss, rtt [^(]*$/.test(r.result));
    for (const t of tunnels) {
      const stats = await t.stop();
      if (failed) {
        console.error(`demo: a check failed; ${t.name}'s log:\n${t.logs().slice(-20000)}`);
      }
      if (stats !== undefined) {
        rows.push({
          check: `${t.name} pool`,
          result:
            `high-water ${stats.highWater} slots (${stats.highWaterBytes} B), in use at exit ${stats.inUse}`,
        });
      }
    }
    tunnels.length = 0;
    return rows;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    await Promise.all(tunnels.map((t) => t.stop()));
    await bed.destroy();
  }
}

/** Renders rows as a markdown table. */
export function formatTable(rows: DemoRow[]): string {
  const w = Math.max(5, ...rows.map((r) => r.check.length));
  return [
    `| ${"check".padEnd(w)} | result |`,
    `|${"-".repeat(w + 2)}|--------|`,
    ...rows.map((r) => `| ${r.check.padEnd(w)} | ${r.result} |`),
  ].join("\n");
}
