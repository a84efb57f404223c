/**
 * The client side of the UAPI socket, as `wg` uses it: one connection per
 * request, read until the reply's blank line. Finds the interfaces that have a
 * live socket (and, like `wg`, removes socket files nobody listens on).
 *
 * @example
 * ```ts
 * import { listUapiInterfaces, uapiGetState } from "./uapi_client.ts";
 * for (const name of await listUapiInterfaces()) {
 *   const state = await uapiGetState(name);
 *   console.log(name, state.listenPort, state.peers.length);
 * }
 * ```
 * @module
 */

import { EACCES, ECONNREFUSED, EIO, EMSGSIZE, ENODEV } from "../ffi/errno.ts";
import { parseErrnoResponse, parseGetResponse } from "./uapi_protocol.ts";
import { UAPI_SOCKET_DIR } from "./uapi_server.ts";
import type { UapiState } from "./uapi_types.ts";

/** A UAPI request that failed; `errno` is positive, as in `strerror(errno)`. */
export class UapiClientError extends Error {
  override name = "UapiClientError";
  constructor(
    readonly path: string,
    readonly errno: number,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(`${path}: ${detail}`, options);
  }
}

/** Options for {@link uapiRequest}. */
export interface UapiRequestOptions {
  /** Give up after this long (default 10 s). */
  timeoutMs?: number;
}

const MAX_REPLY = 64 * 1024 * 1024;
const EPROTO = 71;
const ETIMEDOUT = 110;

/** `<dir>/<iface>.sock`; throws for names `wg` refuses (containing `/`). */
export function uapiSocketPath(iface: string, dir: string = UAPI_SOCKET_DIR): string {
  if (iface === "" || iface.includes("/") || iface.includes("\0")) {
    throw new UapiClientError(`${dir}/${iface}.sock`, ENODEV, "invalid interface name");
  }
  return `${dir}/${iface}.sock`;
}

function errnoOf(e: unknown): number {
  // No socket: `wg` then asks the kernel, which answers "No such device".
  if (e instanceof Deno.errors.NotFound) return ENODEV;
  if (e instanceof Deno.errors.ConnectionRefused) return ECONNREFUSED;
  if (e instanceof Deno.errors.PermissionDenied) return EACCES;
  return EIO;
}

/** Length of the reply up to and including its blank line, or -1 if incomplete. */
function replyEnd(s: string): number {
  if (s.startsWith("\n")) return 1;
  const i = s.indexOf("\n\n");
  return i < 0 ? -1 : i + 2;
}

/**
 * Sends one request (`"get=1\n\n"` or `"set=1\n…\n\n"`) on a new connection and
 * returns the reply up to and including its blank line.
 */
export async function uapiRequest(
  path: string,
  request: string,
  opts: UapiRequestOptions = {},
): Promise<string> {
  let conn: Deno.UnixConn;
  try {
    conn = await Deno.connect({ transport: "unix", path });
  } catch (e) {
    throw new UapiClientError(path, errnoOf(e), "cannot connect", { cause: e });
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      conn.close();
    } catch { /* closed */ }
  }, opts.timeoutMs ?? 10_000);
  try {
    const bytes = new TextEncoder().encode(request);
    for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
    const decoder = new TextDecoder();
    const buf = new Uint8Array(64 * 1024);
    let reply = "";
    for (;;) {
      const end = replyEnd(reply);
      if (end >= 0) return reply.slice(0, end);
      const n = await conn.read(buf);
      if (n === null) break;
      reply += decoder.decode(buf.subarray(0, n), { stream: true });
      if (reply.length > MAX_REPLY) {
        throw new UapiClientError(path, EMSGSIZE, `reply larger than ${MAX_REPLY} bytes`);
      }
    }
    throw new UapiClientError(path, EPROTO, "connection closed before the end of the reply");
  } catch (e) {
    if (e instanceof UapiClientError) throw e;
    if (timedOut) throw new UapiClientError(path, ETIMEDOUT, "no reply", { cause: e });
    throw new UapiClientError(path, errnoOf(e), "request failed", { cause: e });
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed by the timer */ }
  }
}

/** `get=1` for one interface, parsed. */
export async function uapiGetState(
  iface: string,
  dir: string = UAPI_SOCKET_DIR,
  opts: UapiRequestOptions = {},
): Promise<UapiState> {
  const path = uapiSocketPath(iface, dir);
  return parseGetResponse(await uapiRequest(path, "get=1\n\n", opts));
}

/** Sends a `set=1` body (lines without the final blank line) and returns the reply's errno. */
export async function uapiSet(
  iface: string,
  body: string,
  dir: string = UAPI_SOCKET_DIR,
  opts: UapiRequestOptions = {},
): Promise<number> {
  const path = uapiSocketPath(iface, dir);
  return parseErrnoResponse(await uapiRequest(path, `set=1\n${body}\n`, opts));
}

/**
 * Names of the interfaces with a live socket in `dir`, in directory order (as `wg`). Like `wg`, a
 * socket that refuses connections (its process is gone) is deleted.
 */
export async function listUapiInterfaces(dir: string = UAPI_SOCKET_DIR): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const ent of Deno.readDir(dir)) {
      if (ent.name.length <= 5 || !ent.name.endsWith(".sock")) continue;
      names.push(ent.name.slice(0, -5));
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  const live: string[] = [];
  for (const name of names) {
    const path = `${dir}/${name}.sock`;
    try {
      if (!Deno.lstatSync(path).isSocket) continue;
      const conn = await Deno.connect({ transport: "unix", path });
      conn.close();
      live.push(name);
    } catch (e) {
      if (e instanceof Deno.errors.ConnectionRefused) {
        try {
          Deno.removeSync(path);
        } catch { /* raced */ }
      }
    }
  }
  return live;
}
