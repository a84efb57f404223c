/**
 * `--metrics ADDR` (`MetricsAddress` in `[Interface]`): an HTTP listener bound only where the
 * user says (`host:port` or `[v6]:port`), serving the Prometheus text format on `/metrics` and
 * `/healthz` (200 while the device loop has turned within the last 2 s, else 503).
 *
 * @example
 * ```ts ignore
 * import { MetricsServer } from "./metrics_server.ts";
 * const m = MetricsServer.start("127.0.0.1:9586", { metrics: () => "…", healthy: () => true });
 * await m.close();
 * ```
 * @module
 */
import { logger } from "../log.ts";

const log = logger("metrics");

/** What the server asks the device. */
export interface MetricsSource {
  metrics(): string;
  healthy(): boolean;
}

/** A bad `--metrics` / `MetricsAddress` value. */
export class MetricsAddressError extends Error {
  override name = "MetricsAddressError";
  constructor(value: string) {
    super(`metrics address "${value}" is not host:port or [v6]:port`);
  }
}

/** `host:port` / `[v6]:port` → hostname and port. */
export function parseListenAddress(value: string): { hostname: string; port: number } {
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/.exec(value) ?? /^([^:\[\]]+):(\d{1,5})$/.exec(value);
  if (m === null || Number(m[2]) > 65535) throw new MetricsAddressError(value);
  return { hostname: m[1], port: Number(m[2]) };
}

/** The running listener. */
export class MetricsServer {
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly addr: Deno.NetAddr;

  private constructor(server: Deno.HttpServer<Deno.NetAddr>) {
    this.#server = server;
    this.addr = server.addr;
  }

  /** Binds `address` and serves `source`; throws if the address is bad or cannot be bound. */
  static start(address: string, source: MetricsSource): MetricsServer {
    const { hostname, port } = parseListenAddress(address);
    const server = Deno.serve({ hostname, port, onListen: () => {} }, (req) => {
      const path = new URL(req.url).pathname;
      if (req.method !== "GET" && req.method !== "HEAD") {
        return new Response("method not allowed\n", {
          status: 405,
          headers: { allow: "GET, HEAD" },
        });
      }
      if (path === "/metrics") {
        return new Response(source.metrics(), {
          headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
        });
      }
      if (path === "/healthz") {
        const ok = source.healthy();
        return new Response(ok ? "ok\n" : "the device loop has not turned for 2 s\n", {
          status: ok ? 200 : 503,
        });
      }
      return new Response("not found\n", { status: 404 });
    });
    log.info("Metrics on http://{address}/metrics", { address });
    return new MetricsServer(server);
  }

  async close(): Promise<void> {
    await this.#server.shutdown();
  }
}
