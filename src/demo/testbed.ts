/**
 * Two network namespaces joined by a veth pair: the stage for the demo, the
 * interop tests and the network benchmark. Everything it creates carries a
 * unique prefix and is removed by {@link Testbed.destroy} (also on SIGINT,
 * through the caller's `using`/finally). Traffic only ever goes to addresses
 * inside these namespaces.
 *
 * @example
 * ```ts
 * import { Testbed } from "./testbed.ts";
 * await using bed = await Testbed.create("demo");
 * await bed.run("a", ["ping", "-c1", bed.underlay("b")]);
 * ```
 * @module
 */

import { defaultSignals } from "../process/inspector_guard.ts";

/** Side of the testbed. */
export type Side = "a" | "b";

/** Output of a finished command. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Thrown when a set-up command fails. */
export class CommandError extends Error {
  override name = "CommandError";
  constructor(readonly args: string[], readonly result: RunResult) {
    super(
      `${args.join(" ")} exited ${result.code}: ${result.stderr.trim() || result.stdout.trim()}`,
    );
  }
}

const dec = new TextDecoder();

/** Runs a command to completion; throws {@link CommandError} unless `allowFail`. */
export async function run(args: string[], allowFail = false): Promise<RunResult> {
  const out = await new Deno.Command(args[0], {
    args: args.slice(1),
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  const result = { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  if (out.code !== 0 && !allowFail) throw new CommandError(args, result);
  return result;
}

/** True when running as root (namespaces and TUN need CAP_NET_ADMIN/CAP_SYS_ADMIN). */
export function isRoot(): boolean {
  return Deno.uid() === 0;
}

/** A pair of namespaces `a` and `b` with veth underlay 10.X.0.1/24 ↔ 10.X.0.2/24 and fdX::1/64 ↔ ::2. */
export class Testbed implements AsyncDisposable {
  readonly ns: Record<Side, string>;
  readonly #subnet: number;
  #destroyed = false;

  private constructor(ns: Record<Side, string>, subnet: number) {
    this.ns = ns;
    this.#subnet = subnet;
  }

  /** Creates both namespaces and the veth pair; removes what it made if a step fails. */
  static async create(label: string): Promise<Testbed> {
    const tag = `${label}-${Deno.pid}-${Math.floor(Math.random() * 1e6)}`;
    const subnet = 100 + Math.floor(Math.random() * 100);
    const bed = new Testbed({ a: `tsl-${tag}-a`, b: `tsl-${tag}-b` }, subnet);
    try {
      await run(["ip", "netns", "add", bed.ns.a]);
      await run(["ip", "netns", "add", bed.ns.b]);
      await run([
        "ip",
        "-n",
        bed.ns.a,
        "link",
        "add",
        "veth0",
        "type",
        "veth",
        "peer",
        "name",
        "veth0",
        "netns",
        bed.ns.b,
      ]);
      for (const side of ["a", "b"] as const) {
        const n = side === "a" ? 1 : 2;
        const ns = bed.ns[side];
        await run(["ip", "-n", ns, "link", "set", "lo", "up"]);
        await run(["ip", "-n", ns, "addr", "add", `10.${subnet}.0.${n}/24`, "dev", "veth0"]);
        await run([
          "ip",
          "-n",
          ns,
          "addr",
          "add",
          `fd00:${subnet}::${n}/64`,
          "dev",
          "veth0",
          "nodad",
        ]);
        await run(["ip", "-n", ns, "link", "set", "veth0", "up"]);
      }
    } catch (e) {
      await bed.destroy();
      throw e;
    }
    return bed;
  }

  /** Underlay IPv4 address of a side (on its veth). */
  underlay(side: Side): string {
    return `10.${this.#subnet}.0.${side === "a" ? 1 : 2}`;
  }

  /** Underlay IPv6 address of a side. */
  underlay6(side: Side): string {
    return `fd00:${this.#subnet}::${side === "a" ? 1 : 2}`;
  }

  /**
   * Command prefix that runs inside a side's namespace, with SIGUSR1 back at its default
   * disposition (a tunslab process that spawns it ignores SIGUSR1, and an ignored signal stays
   * ignored across exec).
   */
  exec(side: Side, args: string[]): string[] {
    return defaultSignals(["ip", "netns", "exec", this.ns[side], ...args]);
  }

  /** Runs a command inside a side's namespace. */
  run(side: Side, args: string[], allowFail = false): Promise<RunResult> {
    return run(this.exec(side, args), allowFail);
  }

  /** Starts a long-running process inside a side's namespace. */
  spawn(side: Side, args: string[], opts: Deno.CommandOptions = {}): Deno.ChildProcess {
    const full = this.exec(side, args);
    return new Deno.Command(full[0], {
      args: full.slice(1),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      ...opts,
    }).spawn();
  }

  /** Waits (up to 5 s) until a TCP socket listens on `port` in `side` (an iperf3 server). */
  async waitListening(side: Side, port: number): Promise<void> {
    for (let i = 0; i < 100; i++) {
      const r = await this.run(side, ["ss", "-Hltn", `sport = :${port}`], true);
      if (r.stdout.trim() !== "") return;
      await new Promise((res) => setTimeout(res, 50));
    }
    throw new Error(`nothing listens on TCP port ${port} in namespace ${side}`);
  }

  /** Pings `to` from `from` until it answers, 5 tries (the first one carries the handshake). */
  async reachable(from: Side, to: string): Promise<void> {
    for (let i = 0; i < 5; i++) {
      const r = await this.run(from, ["ping", "-c", "1", "-W", "3", to], true);
      if (r.code === 0) return;
    }
    throw new Error(`${to} does not answer ping through the tunnel`);
  }

  /** Deletes both namespaces (and with them the veth pair and any TUN inside). */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const ns of Object.values(this.ns)) {
      // Kill what still runs inside first, so the namespace can go.
      const pids = await run(["ip", "netns", "pids", ns], true);
      for (const pid of pids.stdout.split(/\s+/).filter(Boolean)) {
        try {
          Deno.kill(Number(pid), "SIGKILL");
        } catch { /* already gone */ }
      }
      await run(["ip", "netns", "del", ns], true);
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.destroy();
  }
}
