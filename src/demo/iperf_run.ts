/**
 * One iperf3 TCP run of the demo: a one-shot server in b, a client in a, its throughput as a table
 * cell ("1.234 Gbit/s (…)") or "FAILED".
 * @module
 */
import type { Testbed } from "./testbed.ts";

/** Where the server binds (`-B`, `-p`) and where the client connects (`-c`, `-p`). */
export interface IperfRun {
  bind: string;
  serverPort?: number;
  connect: string;
  clientPort?: number;
  seconds: number;
  /** What the cell says after the figure, e.g. "TCP, 3 s". */
  label: string;
}

/** Runs it; the cell. */
export async function iperfCell(bed: Testbed, r: IperfRun): Promise<string> {
  const port = (p?: number) => (p === undefined ? [] : ["-p", String(p)]);
  const server = bed.spawn("b", ["iperf3", "-s", "-1", "-B", r.bind, ...port(r.serverPort)], {
    stdout: "null",
    stderr: "null",
  });
  await new Promise((res) => setTimeout(res, 300));
  const ip = await bed.run("a", [
    "iperf3",
    "-c",
    r.connect,
    ...port(r.clientPort),
    "-t",
    String(r.seconds),
    "-J",
  ], true);
  try {
    server.kill("SIGTERM");
  } catch { /* exited after one test */ }
  await server.status;
  try {
    const bps = JSON.parse(ip.stdout).end.sum_received.bits_per_second as number;
    return `${(bps / 1e9).toFixed(3)} Gbit/s (${r.label})`;
  } catch {
    return "FAILED";
  }
}
