/**
 * What `tunslab proxy` serves besides its front ends, as `up` does: the UAPI socket (stock `wg`
 * and `tunslab show` read it; `wg set` changes peers live) in `/var/run/wireguard` when this
 * process may create sockets there, else in a private directory of this user
 * (src/uapi/socket_dirs.ts); and with `--info ADDR` (wireproxy's flag; `--metrics` is the same)
 * Prometheus metrics on /metrics, /healthz, and /readyz for `CheckAlive`.
 * @module
 */
import { uapiFor } from "../device/device_uapi.ts";
import { encodeLiveCounters, liveCounters } from "../device/live_counters.ts";
import { peerStatsInSlices } from "../device/slices.ts";
import { logger } from "../log.ts";
import { MetricsServer } from "../metrics/metrics_server.ts";
import { formatMetrics } from "../metrics/prometheus_text.ts";
import { formatProxyMetrics, type FrontEndStats } from "../metrics/proxy_metrics.ts";
import type { UserspaceTunnel } from "../netstack/userspace_tunnel.ts";
import { chooseSocketDir } from "../uapi/socket_dirs.ts";
import { UapiServer } from "../uapi/uapi_server.ts";
import { VERSION } from "../version.ts";

const log = logger("proxy");

/** Readiness as `CheckAlive` reports it (src/proxy/check_alive.ts). */
export interface Readiness {
  ready(): boolean;
  detail(): Record<string, unknown>;
}

/** What {@link startProxyOps} serves from. */
export interface ProxyOpsOptions {
  /** The UAPI name (`<name>.sock`). */
  name: string;
  /** The config file, as `wg show`'s tunslab info reports it. */
  config: string;
  /** `--info`/`--metrics` address, if any. */
  info?: string;
  /** The front ends, for the metrics (read at each scrape). */
  fronts: () => readonly FrontEndStats[];
  /** CheckAlive, once started. */
  alive: () => Readiness | undefined;
  /** SIGHUP and SIGUSR2 seen (`tunslab reload`/`save`): the proxy has neither, and says so. */
  control: { reloads: number; saves: number };
}

/** The running UAPI socket and metrics listener of a proxy. */
export interface ProxyOps {
  readonly socketPath: string;
  close(): Promise<void>;
}

/** Binds the UAPI socket (and the info listener); throws with the path or address that failed. */
export async function startProxyOps(
  tunnel: UserspaceTunnel,
  opts: ProxyOpsOptions,
): Promise<ProxyOps> {
  const dev = tunnel.device;
  const dir = chooseSocketDir();
  const uapi = uapiFor(dev);
  const server = await UapiServer.start(opts.name, {
    uapiGet: () => uapi.uapiGet(),
    uapiSet: (req) => uapi.uapiSet(req),
    uapiInfo: () => ({
      program: "tunslab",
      kind: "proxy",
      version: VERSION,
      pid: Deno.pid,
      config: opts.config,
      reloads: opts.control.reloads,
      reload_error: opts.control.reloads > 0 ? "the proxy does not reload: restart it" : "",
      saves: opts.control.saves,
      save_error: opts.control.saves > 0 ? "the proxy does not save its config" : "",
      ...encodeLiveCounters(
        liveCounters(dev.stats(false), dev.peers().reduce((a, p) => a + p.handshakes, 0)),
      ),
    }),
  }, {
    dir,
    onSocketRemoved: () => log.warning("UAPI socket {path} removed", { path: server.path }),
  });
  let metrics: MetricsServer | undefined;
  if (opts.info !== undefined) {
    try {
      metrics = MetricsServer.start(opts.info, {
        metrics: async () => {
          const s = dev.stats(false), loop = dev.loopStats();
          return formatMetrics({ ...s, peers: await peerStatsInSlices(dev) }, loop) +
            formatProxyMetrics(opts.name, tunnel.stack.stats(), opts.fronts());
        },
        healthy: () => dev.turnedWithin(2000),
        ready: () => {
          const alive = opts.alive();
          const up = dev.turnedWithin(2000);
          return { ok: up && (alive?.ready() ?? true), detail: alive?.detail() ?? {} };
        },
      });
    } catch (e) {
      await server.close();
      throw e;
    }
  }
  return {
    socketPath: server.path,
    close: async () => {
      await metrics?.close();
      await server.close();
    },
  };
}
