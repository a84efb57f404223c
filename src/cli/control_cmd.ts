/**
 * `tunslab down IFACE|CONF`, `tunslab reload IFACE|CONF`, `tunslab save IFACE|CONF`: act on the
 * `up` that runs the interface, as wg-quick's commands of those names do. `down` sends it SIGTERM
 * (PreDown, SaveConfig, routes, DNS, PostDown run as on any SIGTERM) and waits for it to end;
 * `reload` sends SIGHUP (the file applied without dropping unchanged peers' sessions) and waits
 * for the outcome; `save` asks it to write its configuration back (SIGUSR2; SIGUSR1 is the one
 * tunslab ignores, see src/process/inspector_guard.ts). Exit 1 with "… is
 * not a tunslab interface" when no tunslab serves the name.
 * @module
 */
import { parseCommand } from "./parse_command.ts";
import { interfaceOf, type RunningTunnel, runningTunnel } from "./running_tunnel.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function alive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/** `down`: SIGTERM to the running `up`, then wait (up to 30 s) for it to finish. */
export async function down(args: string[]): Promise<number> {
  const r = parseCommand(args, {
    usage:
      "down IFACE|CONF\n\nStops the tunslab `up` running IFACE (or CONF's interface) as SIGTERM does.",
    min: 1,
    max: 1,
    options: {},
  });
  if (r === null) return 0;
  const t = await runningTunnel(interfaceOf(r.positionals[0]));
  Deno.kill(t.pid, "SIGTERM");
  for (let i = 0; i < 300 && alive(t.pid); i++) await sleep(100);
  if (alive(t.pid)) {
    console.error(`tunslab down: ${t.name} (pid ${t.pid}) did not stop within 30 s`);
    return 1;
  }
  return 0;
}

/** `reload`: SIGHUP, then wait for the reload count to move and report its outcome. */
export async function reload(args: string[]): Promise<number> {
  const r = parseCommand(args, {
    usage:
      "reload IFACE|CONF\n\nApplies the changed config file to the running tunnel (peers as `wg syncconf`,\nplus Address, MTU and DNS) without dropping the sessions of unchanged peers.",
    min: 1,
    max: 1,
    options: {},
  });
  if (r === null) return 0;
  const name = interfaceOf(r.positionals[0]);
  const before = await runningTunnel(name);
  return await signalAndWait(name, before, "SIGHUP", "reload", 30, "did not finish its reload");
}

/** `save`: SIGUSR2, then wait for the save count to move and report its outcome. */
export async function save(args: string[]): Promise<number> {
  const r = parseCommand(args, {
    usage:
      "save IFACE|CONF\n\nWrites the running configuration of IFACE back to its config file, as\nSaveConfig = true does at down (comments are dropped, as with wg-quick).",
    min: 1,
    max: 1,
    options: {},
  });
  if (r === null) return 0;
  const name = interfaceOf(r.positionals[0]);
  const before = await runningTunnel(name);
  if (before.config === "") {
    console.error(`tunslab save: ${name} was not started from a config file`);
    return 1;
  }
  return await signalAndWait(name, before, "SIGUSR2", "save", 10, "did not save");
}

/**
 * Sends `signal` to the `up` running `name`, then waits (up to `seconds`) for its `reload` or
 * `save` count to move past `before`'s and reports that attempt's outcome.
 */
async function signalAndWait(
  name: string,
  before: RunningTunnel,
  signal: Deno.Signal,
  what: "reload" | "save",
  seconds: number,
  late: string,
): Promise<number> {
  const count = (t: RunningTunnel) => (what === "reload" ? t.reloads : t.saves);
  Deno.kill(before.pid, signal);
  for (let i = 0; i < seconds * 10; i++) {
    await sleep(100);
    const now = await runningTunnel(name);
    if (count(now) > count(before)) {
      const error = what === "reload" ? now.reloadError : now.saveError;
      if (error === "") return 0;
      console.error(`tunslab ${what}: ${error}`);
      return 1;
    }
  }
  console.error(`tunslab ${what}: ${name} ${late} within ${seconds} s`);
  return 1;
}
