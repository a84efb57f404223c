/**
 * `tunslab proxy CONF`: a WireGuard peer with its own TCP/IP stack in the WASM module, for users
 * without root or a TUN device (src/netstack/userspace_tunnel.ts); the front ends of CONF (wireproxy's
 * format, src/proxy/proxy_config.ts) join local sockets to connections through the tunnel.
 * SIGINT/SIGTERM end it cleanly. Needs no capability.
 * @module
 */

import { logger, setupLogging, shutdownLogging } from "../log.ts";
import { UserspaceTunnel } from "../netstack/userspace_tunnel.ts";
import { CheckAlive } from "../proxy/check_alive.ts";
import { type Forward, startClientTunnel, startServerTunnel } from "../proxy/forwards.ts";
import { parseProxyConfig } from "../proxy/proxy_config.ts";
import { startSocks5 } from "../proxy/socks5.ts";
import { startHttpProxy } from "../proxy/http_proxy.ts";
import { runStdioTunnel } from "../proxy/stdio_tunnel.ts";
import { startUdpTunnel } from "../proxy/udp_tunnel.ts";
import { InspectorGuard, inspectorRefusal } from "../process/inspector_guard.ts";
import { noCoreDumps } from "../process/no_core_dumps.ts";
import { ConfigError } from "../wg/config_error.ts";
import { LOG_OPTIONS, logFlags } from "./log_flags.ts";
import { parseCommand } from "./parse_command.ts";
import { UsageError } from "./usage_error.ts";
import { type ProxyOps, startProxyOps } from "./proxy_ops.ts";
import { ListenAddressError, parseListenAddress } from "../metrics/listen_address.ts";

const USAGE =
  `proxy CONF [--name NAME] [--info HOST:PORT] [--log-level LEVEL] [--log-format auto|json|text]

Runs a WireGuard peer whose packets go to a TCP/IP stack of its own: no root, no TUN device.
CONF is a wireproxy-style file: [Interface] and [Peer] as in wg-quick (or WGConfig = path),
and front ends, several of each:
  [TCPClientTunnel]  BindAddress = 127.0.0.1:8080   Target = 10.0.0.1:80
  [TCPServerTunnel]  ListenPort = 8080              Target = 127.0.0.1:80
  [Socks5]           BindAddress = 127.0.0.1:1080   (Username = u, Password = p)
  [http]             BindAddress = 127.0.0.1:3128   (Username = u, Password = p)
  [UDPProxyTunnel]   BindAddress = 127.0.0.1:5353   Target = 10.0.0.1:53
  [STDIOTunnel]      Target = 10.0.0.1:22           (stdin/stdout: ssh's ProxyCommand)
[Interface] CheckAlive = ip, ... (and CheckAliveInterval = seconds, default 5) pings those
addresses through the tunnel; readiness changes are logged.
A value $NAME is the environment variable NAME. SIGINT or SIGTERM stops it.

Its UAPI socket NAME.sock (NAME: --name, else CONF's file name without .conf) is in
/var/run/wireguard when this process may create it there (stock wg sees it; wg set changes
peers live), else in $XDG_RUNTIME_DIR/wireguard/ or /tmp/tunslab-$UID/ (mode 0700; tunslab
show looks there too). --info HOST:PORT (or --metrics) serves /metrics (Prometheus), /healthz
and /readyz (200 while every CheckAlive target answers, else 503; JSON detail).`;

/** Runs the proxy until a signal; returns the exit code. */
export async function proxy(args: string[]): Promise<number> {
  const r = parseCommand(args, {
    usage: USAGE,
    min: 1,
    max: 1,
    options: {
      ...LOG_OPTIONS,
      name: { type: "string" },
      info: { type: "string" },
      metrics: { type: "string" },
    },
  });
  if (r === null) return 0;
  const path = r.positionals[0];
  if (path === undefined) throw new UsageError("missing argument CONF");
  const { level, format } = logFlags(r.values);
  const name = (r.values.name as string | undefined) ??
    (path.replace(/^.*\//, "").replace(/\.conf$/, "") || "proxy");
  if (!/^[a-zA-Z0-9_=+.-]{1,15}$/.test(name) || name === "." || name === "..") {
    throw new UsageError(
      `the UAPI name "${name}" is not an interface name ([a-zA-Z0-9_=+.-]{1,15}): pass --name`,
    );
  }
  const info = (r.values.info ?? r.values.metrics) as string | undefined;
  if (info !== undefined) {
    try {
      parseListenAddress(info);
    } catch (e) {
      if (e instanceof ListenAddressError) throw new UsageError(`--info: ${e.message}`);
      throw e;
    }
  }
  await setupLogging(level, format);
  const log = logger("proxy");
  const fail = async (msg: string, props: Record<string, unknown>) => {
    log.fatal(msg, props);
    await shutdownLogging();
    return 1;
  };
  const refusal = inspectorRefusal();
  if (refusal !== null) return await fail("Cannot run the proxy: {error}", { error: refusal });
  const guard = InspectorGuard.start();
  noCoreDumps(); // private keys must not end up in a core file
  let parsed;
  try {
    parsed = parseProxyConfig(await Deno.readTextFile(path), path, Deno.env.toObject());
  } catch (e) {
    if (e instanceof ConfigError || e instanceof Deno.errors.NotFound) {
      return await fail("{error}", { error: (e as Error).message });
    }
    throw e;
  }
  await guard.settled;
  // Signals from the first moment: one during the start is acted on once it is up.
  let stop: () => void = () => {};
  let stopping = false;
  const stopped = new Promise<void>((res) => stop = res);
  const onSignal = () => {
    stopping = true;
    stop();
  };
  // `tunslab reload`/`save` send SIGHUP/SIGUSR2: the proxy has neither, and says so through the
  // UAPI (they answer at once) instead of dying of the signals' default action.
  const control = { reloads: 0, saves: 0 };
  const signals: [Deno.Signal, () => void][] = [
    ["SIGINT", onSignal],
    ["SIGTERM", onSignal],
    ["SIGHUP", () => {
      control.reloads++;
      log.warning("SIGHUP: the proxy does not reload its config; restart it to apply changes");
    }],
    ["SIGUSR2", () => {
      control.saves++;
      log.warning("SIGUSR2: the proxy does not save its config");
    }],
  ];
  for (const [sig, fn] of signals) Deno.addSignalListener(sig, fn);
  const forwards: Forward[] = [];
  const kinds: string[] = []; // each forward's section, for the metrics
  let tunnel: UserspaceTunnel | undefined;
  let alive: CheckAlive | undefined;
  let ops: ProxyOps | undefined;
  try {
    tunnel = await UserspaceTunnel.start(parsed.config, { name });
    const add = (kind: string, f: Forward) => (forwards.push(f), kinds.push(kind));
    for (const t of parsed.clientTunnels) add("TCPClientTunnel", startClientTunnel(tunnel, t));
    for (const t of parsed.serverTunnels) add("TCPServerTunnel", startServerTunnel(tunnel, t));
    for (const t of parsed.socks5) add("Socks5", startSocks5(tunnel, t));
    for (const t of parsed.http) add("http", startHttpProxy(tunnel, t));
    for (const t of parsed.udpTunnels) add("UDPProxyTunnel", await startUdpTunnel(tunnel, t));
    ops = await startProxyOps(tunnel, {
      name,
      config: path,
      info,
      fronts: () => forwards.map((f, i) => ({ kind: kinds[i], addr: f.addr, stats: f.stats })),
      alive: () => alive,
      control,
    });
    if (parsed.checkAlive !== null) {
      const spec = parsed.checkAlive;
      alive = new CheckAlive(tunnel, {
        targets: spec.targets,
        intervalS: spec.intervalS,
        onChange: (ready) =>
          log.warning(
            ready ? "CheckAlive: every target answers: ready" : "CheckAlive: not ready {detail}",
            { detail: alive?.detail() },
          ),
      }).start();
      log.info("CheckAlive: pinging {targets} every {interval} s", {
        targets: spec.targets.join(", "),
        interval: spec.intervalS,
      });
      for (const [target, d] of Object.entries(alive.detail())) {
        const error = (d as { error?: string }).error;
        if (error !== undefined) log.warning("CheckAlive {target}: {error}", { target, error });
      }
    }
    log.info(
      "Proxy {name} up: listen port {port}, {peers} peer(s), {forwards} forward(s), UAPI {uapi}",
      {
        name,
        uapi: ops.socketPath,
        port: tunnel.device.listenPort,
        peers: parsed.config.peers.length,
        forwards: forwards.length,
      },
    );
    const watch = setInterval(() => guard.check(performance.now()), 1000);
    let stdioFailed: Error | undefined;
    if (parsed.stdio !== null) {
      // Standard input and output are the connection: the proxy ends with it.
      runStdioTunnel(tunnel, parsed.stdio).catch((e) => stdioFailed = e).finally(onSignal);
    }
    if (!stopping) await stopped;
    if (stdioFailed !== undefined) {
      clearInterval(watch);
      log.fatal("STDIOTunnel of line {line}: {error}", {
        line: parsed.stdio!.line,
        error: stdioFailed.message,
      });
      return 1;
    }
    clearInterval(watch);
    log.info("Proxy {name} stopping", { name });
    return 0;
  } catch (e) {
    log.fatal("Cannot start the proxy: {error}", { error: (e as Error).message });
    return 1;
  } finally {
    for (const [sig, fn] of signals) Deno.removeSignalListener(sig, fn);
    alive?.stop();
    await ops?.close();
    await Promise.allSettled(forwards.map((f) => f.close()));
    await tunnel?.close();
    if (tunnel !== undefined) {
      const s = tunnel.pool.stats();
      log.info("Final stats: pool high-water {highWater} slots, in use {inUse}", {
        highWater: s.highWater,
        inUse: s.inUse,
      });
    }
    await shutdownLogging();
  }
}
