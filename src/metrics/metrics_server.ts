/**
 * `--metrics ADDR` (`MetricsAddress` in `[Interface]`): an HTTP listener bound only where the
 * user says (`host:port` or `[v6]:port`), serving the Prometheus text format on `/metrics` and
 * `/healthz` (200 while the device loop has turned within the last 2 s, else 503), and for the proxy
 * `/readyz` (200 while every `CheckAlive` target answers, else 503; a JSON body says which).
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
import { parseListenAddress } from "./listen_address.ts";

const log = logger("metrics");

/** What the server asks the device. */
export interface MetricsSource {
  /** The exposition text (may be produced in slices over thousands of peers). */
  metrics(): string | Promise<string>;
  healthy(): boolean;
  /** `/readyz` (the proxy's, as wireproxy's): ready or not, and why as JSON. Absent: 404. */
  ready?(): { ok: boolean; detail: Record<string, unknown> };
}

/** The metrics address could not be bound (in use, not an address of this host, …). */
export class MetricsListenError extends Error {
  override name = "MetricsListenError";
  constructor(readonly address: string, cause: unknown) {
    super(`cannot serve metrics on ${address}: ${(cause as Error)?.message ?? cause}`, { cause });
  }
}

/** The running listener. */
export class MetricsServer {
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly addr: Deno.NetAddr;

  private constructor(server: Deno.HttpServer<Deno.NetAddr>) {
    this.#server = server;
    this.addr = server.addr;
  }

  /**
   * Binds `address` and serves `source`; throws `ListenAddressError` for a bad address and
   * {@link MetricsListenError} if it cannot be bound.
   */
  static start(address: string, source: MetricsSource): MetricsServer {
    const { hostname, port } = parseListenAddress(address);
    let server: Deno.HttpServer<Deno.NetAddr>;
    try {
      server = Deno.serve({ hostname, port, onListen: () => {} }, (req) => respond(req, source));
    } catch (e) {
      throw new MetricsListenError(address, e);
    }
    log.info("Metrics on http://{address}/metrics", { address });
    return new MetricsServer(server);
  }

  async close(): Promise<void> {
    await this.#server.shutdown();
  }
}

async function respond(req: Request, source: MetricsSource): Promise<Response> {
  const path = new URL(req.url).pathname;
  if (req.method !== "GET" && req.method !== "HEAD") {
    return new Response("method not allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
  }
  if (path === "/metrics") {
    let text: string;
    try {
      text = await source.metrics();
    } catch (e) {
      // Deno.serve's own handler would print a stack to stderr, outside the JSON Lines.
      log.error("Metrics failed: {error}", { error: String(e) });
      return new Response("metrics failed\n", { status: 500 });
    }
    return new Response(text, {
      headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
    });
  }
  if (path === "/healthz") {
    const ok = source.healthy();
    return new Response(ok ? "ok\n" : "the device loop has not turned for 2 s\n", {
      status: ok ? 200 : 503,
    });
  }
  if (path === "/readyz" && source.ready !== undefined) {
    const { ok, detail } = source.ready();
    return new Response(`${JSON.stringify(detail)}\n`, {
      status: ok ? 200 : 503,
      headers: { "content-type": "application/json" },
    });
  }
  return new Response("not found\n", { status: 404 });
}
