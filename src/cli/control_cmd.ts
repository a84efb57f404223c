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
import { interfaceOf, runningTunnel } from "./running_tunnel.ts";

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
  Deno.kill(before.pid, "SIGHUP");
  for (let i = 0; i < 300; i++) {
    await sleep(100);
    const now = await runningTunnel(name);
    if (now.reloads > before.reloads) {
      if (now.reloadError === "") return 0;
      console.error(`tunslab reload: ${now.reloadError}`);
      return 1;
    }
  }
  console.error(`tunslab reload: ${name} did not finish its reload within 30 s`);
  return 1;
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
  Deno.kill(before.pid, "SIGUSR2");
  for (let i = 0; i < 100; i++) {
    await sleep(100);
    const now = await runningTunnel(name);
    if (now.saves > before.saves) {
      if (now.saveError === "") return 0;
      console.error(`tunslab save: ${now.saveError}`);
      return 1;
    }
  }
  console.error(`tunslab save: ${name} did not save within 10 s`);
  return 1;
}
