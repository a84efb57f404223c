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
import { encodeLiveCounters, liveCounters } from "../device/live_counters.ts";
import { PolicyRouting } from "../host/policy_routing.ts";
import { causeOf, logger, setupLogging, shutdownLogging } from "../log.ts";
import {
  type Config,
  MAX_PEERS_LIMIT,
  MAX_POOL_MIB,
  parseConfigFile,
  unconfigured,
} from "../wg/config.ts";
import { ConfigError } from "../wg/config_error.ts";
import { TableSettingError } from "../host/routing_plan.ts";
import { uapiFor } from "../device/device_uapi.ts";
import { TunnelHost } from "../host/tunnel_host.ts";
import { ListenAddressError, parseListenAddress } from "../metrics/listen_address.ts";
import { MetricsServer } from "../metrics/metrics_server.ts";
import { formatMetrics } from "../metrics/prometheus_text.ts";
import { peerStatsInSlices } from "../device/slices.ts";
import { VERSION } from "../version.ts";
import { UapiServer } from "../uapi/uapi_server.ts";
import type { UapiDevice } from "../uapi/uapi_types.ts";
import { InspectorGuard, inspectorRefusal } from "../process/inspector_guard.ts";
import { noCoreDumps } from "../process/no_core_dumps.ts";
import { sdNotify } from "../process/sd_notify.ts";
import { configPathFor } from "./config_path.ts";
import { LOG_OPTIONS, logFlags } from "./log_flags.ts";
import { parseCommand } from "./parse_command.ts";
import { UsageError } from "./usage_error.ts";

const USAGE = `up CONF|IFACE [-i|--interface NAME] [--log-level LEVEL] [--log-format auto|json|text]
           [--no-offload] [--max-pool-mib N] [--max-peers N] [--metrics HOST:PORT]
       up --interface NAME [options]

Brings up a WireGuard interface from a wg-quick style config file and runs it
in the foreground until SIGINT or SIGTERM. IFACE means /etc/wireguard/IFACE.conf,
as with wg-quick. The interface is named after CONF without ".conf" unless
--interface is given. Without CONF it creates the
interface unconfigured, as "wireguard-go NAME" does (no key, peers or
addresses; link down; no routes follow AllowedIPs): "wg" and "ip" configure it. Logs go to stderr as JSON Lines
(a human format on a terminal). --no-offload (or "Offload = off" in
[Interface]) moves packets one by one instead of as TUN super-packets with
UDP GSO/GRO. --max-pool-mib N (or "MaxPool = N" in [Interface]; the flag
wins; default 32) bounds the memory of packet slots (1..512 MiB): past it,
packets are dropped and counted as "exhausted". --max-peers N (or "MaxPeers =
N"; the flag wins; default 65536, at most 1048576; set at start) bounds the
number of peers; the data plane's tables grow with the peers there are, so a
high limit costs nothing until used. --metrics HOST:PORT (or
"MetricsAddress" in [Interface]) serves Prometheus metrics on /metrics and a
health check on /healthz there, and only there. Needs CAP_NET_ADMIN.`;

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
      ...LOG_OPTIONS,
      "no-offload": { type: "boolean" },
      "max-pool-mib": { type: "string" },
      "max-peers": { type: "string" },
      metrics: { type: "string" },
    },
  });
  if (r === null) return 0;
  // `up wg0` reads /etc/wireguard/wg0.conf, as wg-quick does.
  const path: string | undefined = r.positionals[0] === undefined
    ? undefined
    : configPathFor(r.positionals[0]);
  if (path === undefined && r.values.interface === undefined) {
    throw new UsageError(
      "missing argument CONF (or --interface NAME for an unconfigured interface)",
    );
  }
  const { level, format } = logFlags(r.values);
  const maxPool = r.values["max-pool-mib"] as string | undefined;
  if (
    maxPool !== undefined &&
    !(/^[0-9]{1,3}$/.test(maxPool) && +maxPool > 0 && +maxPool <= MAX_POOL_MIB)
  ) {
    throw new UsageError(`--max-pool-mib must be 1..${MAX_POOL_MIB} (MiB), not "${maxPool}"`);
  }
  const maxPeers = r.values["max-peers"] as string | undefined;
  if (
    maxPeers !== undefined &&
    !(/^[0-9]{1,7}$/.test(maxPeers) && +maxPeers > 0 && +maxPeers <= MAX_PEERS_LIMIT)
  ) {
    throw new UsageError(`--max-peers must be 1..${MAX_PEERS_LIMIT}, not "${maxPeers}"`);
  }
  const name = (r.values.interface as string | undefined) ?? interfaceNameFor(path!);
  if (name.length === 0 || new TextEncoder().encode(name).length > 15 || /[\s/]/.test(name)) {
    throw new UsageError(
      `interface name "${name}" is not valid (1 to 15 bytes, no spaces or "/"); use --interface NAME`,
    );
  }
  const metricsFlag = r.values.metrics as string | undefined;
  if (metricsFlag !== undefined) {
    try {
      parseListenAddress(metricsFlag);
    } catch (e) {
      if (e instanceof ListenAddressError) throw new UsageError(`--metrics: ${e.message}`);
      throw e;
    }
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
  // SIGINT/SIGTERM are ours from the first moment: one that comes during the start is kept and
  // acted on once the tunnel is up, so the whole down path runs (never the default death, which
  // left the UAPI socket, and rules and DNS of a full tunnel, behind).
  let stopRequested = false;
  let stopNow = (): void => {
    if (!stopRequested) log.info("Stop requested while {interface} starts", { interface: name });
    stopRequested = true;
  };
  const onStop = () => stopNow();
  // SIGHUP (reload) and SIGUSR2 (save) too: `tunslab reload` during a slow PostUp must not kill
  // the start. Kept, and done once the tunnel is up.
  const pending = { reload: false, save: false };
  let reloadNow = (): void => void (pending.reload = true);
  let saveNow = (): void => void (pending.save = true);
  const onHup = () => reloadNow(), onUsr2 = () => saveNow();
  const signals: [Deno.Signal, () => void][] = [
    ["SIGINT", onStop],
    ["SIGTERM", onStop],
    ["SIGHUP", onHup],
    ["SIGUSR2", onUsr2],
  ];
  for (const [sig, fn] of signals) Deno.addSignalListener(sig, fn);
  try {
    const { config, warnings } = path === undefined
      ? { config: unconfigured(), warnings: [] }
      : await parseConfigFile(path);
    for (const w of warnings) log.warning(w);
    // The UAPI socket is claimed first: a live socket of the same name means
    // another tunnel owns the name, and nothing must be created then.
    let uapi: UapiDevice | undefined = undefined;
    // A `set` that comes before the device exists (wg right after the socket appeared) waits
    // for it instead of failing.
    let ready: (d: UapiDevice | undefined) => void = () => {};
    const readyDevice = new Promise<UapiDevice | undefined>((r) => (ready = r));
    let dev: Device | undefined;
    const host = new TunnelHost(name, path, config);
    const server = await UapiServer.start(name, {
      uapiGet: () => uapi?.uapiGet() ?? { privateKey: null, listenPort: 0, fwmark: 0, peers: [] },
      uapiSet: async (req) => {
        const u = uapi ?? await readyDevice;
        return u === undefined ? -5 : u.uapiSet(req);
      },
      uapiInfo: () => ({
        program: "tunslab",
        version: VERSION,
        pid: Deno.pid,
        config: path ?? "",
        reloads: host.reloads,
        reload_error: host.reloadError,
        saves: host.saves,
        save_error: host.saveError,
        // `show --json` reads the live counters here; stock `wg` never sends tsl=1.
        // Without per-peer figures: `reload`/`save` ask this every 100 ms while they wait.
        ...(dev === undefined ? {} : encodeLiveCounters(
          liveCounters(dev.stats(false), dev.peers().reduce((a, p) => a + p.handshakes, 0)),
        )),
      }),
    }, {
      onSocketRemoved: () => {
        log.warning("UAPI socket of {interface} removed: shutting down", { interface: name });
        dev?.stop();
      },
    });
    const metricsAt = metricsFlag ?? config.interface.metricsAddress;
    let metrics: MetricsServer | undefined;
    // Routes, rules and nftables as wg-quick's (src/host/policy_routing.ts); none for a bare interface.
    let routing: PolicyRouting | undefined;
    try {
      await guard.settled; // nothing is created while SIGUSR1 could still open an inspector
      await host.beforeCreate(); // PreUp
      const offload = r.values["no-offload"] === true ? false : config.interface.offload;
      if (maxPool !== undefined) config.interface.maxPool = Number(maxPool); // the flag wins
      if (maxPeers !== undefined) config.interface.maxPeers = Number(maxPeers);
      if (path !== undefined) routing = await prepareRouting(name, config, path);
      const pr = routing;
      dev = await Device.create({
        name,
        config: pr?.config ?? config,
        offload,
        bare: path === undefined,
        source: path,
        // SIGUSR1 stays ignored and no inspector opens: checked on every tick of the loop.
        onTick: (now) => guard.check(now),
        hotWait: true, // this process is the tunnel: its event loop can wait 50 ms (UAPI, signals)
        kernelRoutes: pr && ((ifname) => pr.kernelRoutes(ifname)),
        chooseMtu: pr && !config.interface.mtuSet ? (eps) => pr.autoMtu(eps) : undefined,
      });
      if (pr !== undefined) {
        const d = dev;
        pr.setFwmark = (mark) => d.setFwmark(mark);
        await pr.settled();
      }
      try {
        // Bound once the interface has its addresses (the metrics may be served on the tunnel's
        // own address) and before PostUp: a port in use fails the start like a failing hook.
        if (metricsAt) {
          const d = dev;
          metrics = MetricsServer.start(metricsAt, {
            metrics: async () => {
              const s = d.stats(false), loop = d.loopStats(); // the loop's figures before slicing
              return formatMetrics({ ...s, peers: await peerStatsInSlices(d) }, loop);
            },
            healthy: () => d.turnedWithin(2000),
          });
        }
        await host.afterCreate(dev); // DNS, PostUp
      } catch (e) {
        await metrics?.close();
        metrics = undefined;
        // As wg-quick's `trap del_if`: the interface goes, PreDown/PostDown do not run.
        await routing?.close();
        routing = undefined;
        dev.close();
        dev = undefined;
        await host.abort();
        throw e;
      }
    } catch (e) {
      ready(undefined);
      await routing?.close();
      dev?.close();
      dev = undefined;
      await server.close();
      throw e;
    }
    uapi = uapiFor(dev);
    ready(uapi);
    log.info("Interface {interface} is ready", { interface: name, pid: Deno.pid });
    sdNotify(`READY=1\nMAINPID=${Deno.pid}\nSTATUS=${name} is up`);
    const running = dev;
    stopNow = () => running.stop();
    if (stopRequested) running.stop(); // asked during the start: straight to the down path
    // SIGHUP (and `tunslab reload`): the changed file applied without dropping sessions.
    let reloading = Promise.resolve();
    reloadNow = () => {
      reloading = reloading.then(() => host.reload(running)).then(() => {}, () => {});
    };
    saveNow = () => {
      reloading = reloading.then(() => host.saveRequested(running));
    };
    if (pending.reload) reloadNow();
    if (pending.save) saveNow();
    try {
      await dev.run();
    } finally {
      sdNotify(`STOPPING=1\nSTATUS=${name} is going down`);
      reloadNow = saveNow = () => {}; // going down: nothing more to reload or save
      await reloading;
      await metrics?.close();
      await server.close();
      const stats = dev.stats();
      // PreDown, SaveConfig, the routing (rules first, as wg-quick's del_if), the interface,
      // DNS, PostDown.
      await host.down(dev, () => routing?.close() ?? Promise.resolve());
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
    for (const [sig, fn] of signals) Deno.removeSignalListener(sig, fn);
    await shutdownLogging();
  }
}

/** Policy routing for `config`; a `Table` name rt_tables does not know names file and line. */
async function prepareRouting(
  ifname: string,
  config: Config,
  path: string,
): Promise<PolicyRouting> {
  try {
    return await PolicyRouting.prepare({ ifname, config });
  } catch (e) {
    if (!(e instanceof TableSettingError)) throw e;
    const line = config.interface.tableLine ?? config.interface.line;
    throw new ConfigError(path, line, e.message, { cause: e });
  }
}
