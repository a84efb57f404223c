/**
 * `tunslab demo`: the netns demo, the README's main command.
 * @module
 */
import { DemoError, formatTable, runDemo } from "../demo/demo.ts";
import { InspectorGuard, inspectorRefusal } from "../process/inspector_guard.ts";
import { parseCommand } from "./parse_command.ts";
import { UsageError } from "./usage_error.ts";

const USAGE = `demo [--peer tunslab|wireguard-go] [--seconds N] [--rootless] [--quiet]

Creates two network namespaces joined by a veth pair, runs tunslab in one and
tunslab (or wireguard-go) in the other, pings across in IPv4 and IPv6, moves
data over TCP with iperf3, prints a table and removes everything. Needs root.

--rootless  also runs \`tunslab proxy\` as uid 65534 with no capability in the
            first namespace, a second peer of the other's tunnel: pings of its
            own TCP/IP stack and iperf3 through a TCPClientTunnel join the table.`;

/** Runs the demo and prints its table. */
export async function demo(args: string[]): Promise<number> {
  const r = parseCommand(args, {
    usage: USAGE,
    options: {
      peer: { type: "string", default: "tunslab" },
      seconds: { type: "string", default: "3" },
      quiet: { type: "boolean", default: false },
      rootless: { type: "boolean", default: false },
    },
  });
  if (r === null) return 0;
  const peer = r.values.peer as string;
  if (peer !== "tunslab" && peer !== "wireguard-go") {
    throw new UsageError(`--peer must be tunslab or wireguard-go, not "${peer}"`);
  }
  const seconds = Number(r.values.seconds);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 60) {
    throw new UsageError(`--seconds must be above 0 and at most 60, not "${r.values.seconds}"`);
  }
  // A root process that runs for a while: no inspector through SIGUSR1 either.
  const refusal = inspectorRefusal();
  if (refusal !== null) {
    console.error(`tunslab demo: ${refusal}`);
    return 1;
  }
  const guard = InspectorGuard.start();
  await guard.settled;
  const watch = setInterval(() => guard.check(performance.now()), 250);
  try {
    const rows = await runDemo({
      peer,
      seconds,
      verbose: !r.values.quiet,
      rootless: r.values.rootless as boolean,
    });
    console.log(formatTable(rows));
    return rows.some((row) => row.result.includes("FAILED")) ? 1 : 0;
  } catch (e) {
    if (e instanceof DemoError) {
      console.error(`tunslab demo: ${e.message}`);
      return 1;
    }
    throw e;
  } finally {
    clearInterval(watch);
  }
}
