/**
 * `tunslab up CONF`: the contract users and tests rely on. Creates the TUN
 * interface named after the file (without `.conf`; `--interface` overrides),
 * sets addresses, MTU and routes, brings it up and runs in the foreground
 * until SIGINT or SIGTERM; then removes the interface, logs the final stats
 * and exits 0.
 * @module
 */

import { basename } from "node:path";
import { Device } from "../device/device.ts";
import { causeOf, logger, parseLogLevel, setupLogging, shutdownLogging } from "../log.ts";
import { MAX_POOL_MIB, parseConfigFile, unconfigured } from "../wg/config.ts";
import { uapiFor } from "../device/device_uapi.ts";
import { UapiServer } from "../uapi/uapi_server.ts";
import type { UapiDevice } from "../uapi/uapi_types.ts";
import { InspectorGuard, inspectorRefusal } from "./inspector_guard.ts";
import { noCoreDumps } from "./no_core_dumps.ts";
import { parseCommand } from "./parse_command.ts";
import { UsageError } from "./usage_error.ts";

const USAGE = `up CONF [--interface NAME] [--log-level LEVEL] [--log-format auto|json|text]
           [--no-offload] [--max-pool-mib N]
       up --interface NAME [options]

Brings up a WireGuard interface from a wg-quick style config file and runs it
in the foreground until SIGINT or SIGTERM. The interface is named after CONF
without ".conf" unless --interface is given. Without CONF it creates the
interface unconfigured, as "wireguard-go NAME" does (no key, peers or
addresses; link down; no routes follow AllowedIPs): "wg" and "ip" configure it. Logs go to stderr as JSON Lines
(a human format on a terminal). --no-offload (or "Offload = off" in
[Interface]) moves packets one by one instead of as TUN super-packets with
UDP GSO/GRO. --max-pool-mib N (or "MaxPool = N" in [Interface]; the flag
wins; default 32) bounds the memory of packet slots (1..512 MiB): past it,
packets are dropped and counted as "exhausted". Needs CAP_NET_ADMIN.`;

/** Interface name from a config path: `/etc/wireguard/wg0.conf` → `wg0`. */
export function interfaceNameFor(path: string): string {
  return basename(path).replace(/\.conf$/, "");
}

/** Runs `up`; resolves with the exit code after shutdown. */
export async function up(args: string[]): Promise<number> {
  const r = parseCommand(args, {
    usage: USAGE,
    min: 0,
    max: 1,
    options: {
      interface: { type: "string", short: "i" },
      "log-level": { type: "string", default: "info" },
      "log-format": { type: "string", default: "auto" },
      "no-offload": { type: "boolean" },
      "max-pool-mib": { type: "string" },
    },
  });
  if (r === null) return 0;
  const path: string | undefined = r.positionals[0];
  if (path === undefined && r.values.interface === undefined) {
    throw new UsageError(
      "missing argument CONF (or --interface NAME for an unconfigured interface)",
    );
  }
  const format = r.values["log-format"] as string;
  if (format !== "auto" && format !== "json" && format !== "text") {
    throw new UsageError(`--log-format must be auto, json or text, not "${format}"`);
  }
  let level;
  try {
    level = parseLogLevel(r.values["log-level"] as string);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const maxPool = r.values["max-pool-mib"] as string | undefined;
  if (
    maxPool !== undefined &&
    !(/^[0-9]{1,3}$/.test(maxPool) && +maxPool > 0 && +maxPool <= MAX_POOL_MIB)
  ) {
    throw new UsageError(`--max-pool-mib must be 1..${MAX_POOL_MIB} (MiB), not "${maxPool}"`);
  }
  const name = (r.values.interface as string | undefined) ?? interfaceNameFor(path!);
  if (name.length === 0 || new TextEncoder().encode(name).length > 15 || /[\s/]/.test(name)) {
    throw new UsageError(
      `interface name "${name}" is not valid (1 to 15 bytes, no spaces or "/"); use --interface NAME`,
    );
  }
  await setupLogging(level, format);
  const log = logger("up");
  const refusal = inspectorRefusal();
  if (refusal !== null) {
    log.fatal("Cannot run {interface}: {error}", { interface: name, error: refusal });
    await shutdownLogging();
    return 1;
  }
  const guard = InspectorGuard.start();
  noCoreDumps(); // private keys must not end up in a core file
  try {
    const { config, warnings } = path === undefined
      ? { config: unconfigured(), warnings: [] }
      : await parseConfigFile(path);
    for (const w of warnings) log.warning(w);
    // The UAPI socket is claimed first: a live socket of the same name means
    // another tunnel owns the name, and nothing must be created then.
    let uapi: UapiDevice | undefined = undefined;
    let dev: Device | undefined;
    const server = await UapiServer.start(name, {
      uapiGet: () => uapi?.uapiGet() ?? { privateKey: null, listenPort: 0, fwmark: 0, peers: [] },
      uapiSet: (req) => uapi === undefined ? -5 : uapi.uapiSet(req),
    }, {
      onSocketRemoved: () => {
        log.warning("UAPI socket of {interface} removed: shutting down", { interface: name });
        dev?.stop();
      },
    });
    try {
      await guard.settled; // nothing is created while SIGUSR1 could still open an inspector
      const offload = r.values["no-offload"] === true ? false : config.interface.offload;
      if (maxPool !== undefined) config.interface.maxPool = Number(maxPool); // the flag wins
      dev = await Device.create({ name, config, offload, bare: path === undefined });
    } catch (e) {
      await server.close();
      throw e;
    }
    uapi = uapiFor(dev);
    const stop = () => dev!.stop();
    Deno.addSignalListener("SIGINT", stop);
    Deno.addSignalListener("SIGTERM", stop);
    const watch = setInterval(() => guard.check(performance.now()), 250);
    try {
      await dev.run();
    } finally {
      clearInterval(watch);
      Deno.removeSignalListener("SIGINT", stop);
      Deno.removeSignalListener("SIGTERM", stop);
      await server.close();
      const stats = dev.stats();
      dev.close();
      log.info("Final stats for {interface}", { ...stats });
      log.info("Interface {interface} removed", { interface: dev.name });
    }
    return 0;
  } catch (e) {
    // The one line saying why: JSON Lines in JSON mode (`2>&1 | jq .` keeps working).
    log.fatal("Cannot run {interface}: {error}", {
      interface: name,
      error: (e as Error).message,
      cause: causeOf(e),
    });
    return 1;
  } finally {
    await shutdownLogging();
  }
}
