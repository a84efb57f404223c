/**
 * The tunslab process behind an interface, found through its UAPI socket with tunslab's own
 * `tsl=1` request (stock `wg` never sends it; wireguard-go closes the connection on it, so a
 * wireguard-go interface is told apart): its pid, config file, reload count and live counters.
 * `down`, `save` and `reload` signal that process; `show --json` prints the counters.
 *
 * @example
 * ```ts ignore
 * import { runningTunnel } from "./running_tunnel.ts";
 * const t = await runningTunnel("wg0"); // { pid, config, reloads, reloadError }
 * ```
 * @module
 */
import { uapiRequest, uapiSocketPath } from "../uapi/uapi_client.ts";
import { findSocketDir } from "../uapi/socket_dirs.ts";
import { decodeLiveCounters, type LiveCounters } from "../device/live_counters.ts";
import { configPathFor } from "./config_path.ts";

/** What `tsl=1` says about a running tunnel. */
export interface RunningTunnel {
  name: string;
  pid: number;
  /** The config file it was started from ("" for an unconfigured interface). */
  config: string;
  reloads: number;
  reloadError: string;
  saves: number;
  saveError: string;
  /** Live pool, drop and handshake counters (null: none in the reply). */
  stats: LiveCounters | null;
}

/** The interface is not served by tunslab (not there, or another program's). */
export class NotTunslabError extends Error {
  override name = "NotTunslabError";
  constructor(readonly iface: string, detail: string) {
    super(`\`${iface}' is not a tunslab interface (${detail})`);
  }
}

/** The interface name of `arg`: an interface name, or a config path named after it. */
export function interfaceOf(arg: string): string {
  const path = configPathFor(arg);
  return (path.split("/").pop() ?? path).replace(/\.conf$/, "");
}

/** Asks the socket of `iface` who serves it; throws {@link NotTunslabError}. */
export async function runningTunnel(iface: string, dir?: string): Promise<RunningTunnel> {
  let reply: string;
  try {
    uapiSocketPath(iface); // the name checked before any directory is looked in
    // Without `dir`: /var/run/wireguard, else a proxy's private directory of this user.
    const d = dir ?? findSocketDir(iface) ?? undefined;
    reply = await uapiRequest(uapiSocketPath(iface, d), "tsl=1\n\n", { timeoutMs: 5000 });
  } catch (e) {
    throw new NotTunslabError(iface, (e as Error).message);
  }
  const kv = new Map<string, string>();
  for (const line of reply.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) kv.set(line.slice(0, eq), line.slice(eq + 1));
  }
  const pid = Number(kv.get("pid"));
  if (kv.get("program") !== "tunslab" || !(pid > 0)) {
    throw new NotTunslabError(iface, `its socket answered ${JSON.stringify(reply.trim())}`);
  }
  return {
    name: iface,
    pid,
    config: kv.get("config") ?? "",
    reloads: Number(kv.get("reloads") ?? 0),
    reloadError: kv.get("reload_error") ?? "",
    saves: Number(kv.get("saves") ?? 0),
    saveError: kv.get("save_error") ?? "",
    stats: decodeLiveCounters(kv),
  };
}
