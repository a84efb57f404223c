/**
 * The `[http]` front end of `tunslab proxy`, as wireproxy's: `CONNECT host:port` (a tunnel for
 * TLS and anything else) and plain `http://` requests in absolute form, forwarded in origin form
 * with `Connection: close` (one request per connection to the origin). With `Username` and
 * `Password`, `Proxy-Authorization: Basic` is required (407 otherwise). Names are resolved through
 * the tunnel. Refusals: 400 a request it cannot read, 407, 502 a name that does not resolve or a
 * refused or unreachable connect, 503 at the connection limit, 504 a connect that timed out.
 *
 * @example
 * ```ts ignore
 * const fwd = startHttpProxy(tunnel, { bind: { hostname: "127.0.0.1", port: 8080 }, line: 12 });
 * // curl -x http://127.0.0.1:8080 http://10.0.0.1/
 * ```
 * @module
 */

import { logger } from "../log.ts";
import type { UserspaceTunnel } from "../netstack/userspace_tunnel.ts";
import { ConnReader } from "./conn_reader.ts";
import { type Forward, listenLocal, serveHandshakes, show } from "./forwards.ts";
import { parseHostPort, type Socks5 as LoginSpec } from "./proxy_config.ts";
import { sameText } from "./socks5.ts";

const log = logger("proxy");

/** Longest request head read (bytes), and the time a client has to send it (ms). */
const MAX_HEAD = 64 * 1024, HEAD_MS = 10_000;

const enc = new TextEncoder(), dec = new TextDecoder();

function status(code: number, reason: string, extra = ""): Uint8Array {
  return enc.encode(
    `HTTP/1.1 ${code} ${reason}\r\n${extra}Content-Length: 0\r\nConnection: close\r\n\r\n`,
  );
}

/** The status for a failed connect through the tunnel: 504 a timeout, else 502. */
function failure(e: unknown): Uint8Array {
  return e instanceof Deno.errors.TimedOut
    ? status(504, "Gateway Timeout")
    : status(502, "Bad Gateway");
}

/** A request head: method, target, version, headers in order. */
interface Head {
  method: string;
  target: string;
  version: string;
  headers: [string, string][];
}

function parseHead(bytes: Uint8Array): Head | null {
  const lines = dec.decode(bytes).split("\r\n");
  const m = /^([A-Z]+) (\S+) (HTTP\/1\.[01])$/.exec(lines[0]);
  if (m === null) return null;
  const headers: [string, string][] = [];
  for (const l of lines.slice(1)) {
    if (l === "") continue;
    const colon = l.indexOf(":");
    if (colon <= 0) return null;
    headers.push([l.slice(0, colon).trim(), l.slice(colon + 1).trim()]);
  }
  return { method: m[1], target: m[2], version: m[3], headers };
}

/** One client: read the head, check the login, connect through the tunnel, join. */
async function serveClient(
  tunnel: UserspaceTunnel,
  spec: LoginSpec,
  local: Deno.Conn,
): Promise<Deno.Conn | null> {
  const r = new ConnReader(local);
  const bytes = await r.head(MAX_HEAD);
  const head = bytes === null ? null : parseHead(bytes);
  if (head === null) {
    await local.write(status(400, "Bad Request"));
    return null;
  }
  if (spec.username !== undefined) {
    const login = enc.encode(`${spec.username}:${spec.password}`);
    const want = `Basic ${btoa(String.fromCharCode(...login))}`;
    const got = head.headers.find(([k]) => k.toLowerCase() === "proxy-authorization")?.[1] ?? "";
    if (sameText(got, want) === 0) {
      await local.write(
        status(
          407,
          "Proxy Authentication Required",
          'Proxy-Authenticate: Basic realm="tunslab"\r\n',
        ),
      );
      return null;
    }
  }
  let hostname: string, port: number, first: Uint8Array;
  if (head.method === "CONNECT") {
    const hp = parseHostPort(head.target);
    if (hp === null) {
      await local.write(status(400, "Bad Request"));
      return null;
    }
    ({ hostname, port } = hp);
    first = r.rest();
  } else {
    let url: URL;
    try {
      url = new URL(head.target);
    } catch {
      url = new URL("invalid:");
    }
    if (url.protocol !== "http:") {
      await local.write(status(400, "Bad Request"));
      return null;
    }
    hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
    port = url.port === "" ? 80 : Number(url.port);
    const kept = head.headers.filter(([k]) =>
      !/^(proxy-authorization|proxy-connection|connection|keep-alive)$/i.test(k)
    );
    const text = `${head.method} ${url.pathname}${url.search} ${head.version}\r\n` +
      kept.map(([k, v]) => `${k}: ${v}\r\n`).join("") + "Connection: close\r\n\r\n";
    const rest = r.rest(), h = enc.encode(text);
    first = new Uint8Array(h.length + rest.length);
    first.set(h);
    first.set(rest, h.length);
  }
  let remote: Deno.Conn;
  try {
    remote = await tunnel.connect({ hostname, port, timeoutMs: spec.tuning.connectTimeoutMs });
  } catch (e) {
    await local.write(failure(e)).catch(() => {});
    throw new Error(`${head.method} ${hostname}:${port}: ${(e as Error).message}`);
  }
  if (head.method === "CONNECT") {
    await local.write(enc.encode(`${head.version} 200 Connection established\r\n\r\n`));
  }
  if (first.length > 0) await remote.write(first);
  return remote;
}

/** `[http]`: an HTTP proxy on `bind` whose requests go through the tunnel. */
export function startHttpProxy(tunnel: UserspaceTunnel, spec: LoginSpec): Forward {
  const addr = show(spec.bind);
  log.info("HTTP proxy on {bind}{auth}", { bind: addr, auth: spec.username ? " (login)" : "" });
  return serveHandshakes(
    "HTTP proxy",
    addr,
    listenLocal("http", spec),
    spec.tuning,
    HEAD_MS,
    async (local) => void await local.write(status(503, "Service Unavailable")),
    (local) => serveClient(tunnel, spec, local),
  );
}
