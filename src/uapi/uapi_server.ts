/**
 * The UAPI socket `/var/run/wireguard/<iface>.sock`, served like wireguard-go
 * so stock `wg show`/`wg set`/`wg setconf` drive a tunslab device.
 *
 * - The directory is created (mode 0755) if missing; the socket is
 *   `srwx------` (root only), as wireguard-go's umask 077 makes it, but set
 *   without changing the process umask. Permissions: `--allow-read` and
 *   `--allow-write` on the directory, `--allow-net` (Deno gates unix sockets).
 * - A socket file already at the path is probed: if something answers, start
 *   fails with {@link UapiInUseError}; a dead one is removed and replaced. A
 *   path that is not a socket is left alone ({@link UapiServerError}).
 * - Requests on one connection are served in order: `get=1\n\n`, `set=1\n`…`\n`.
 *   A `set` is buffered to its blank line and parsed before the device sees it,
 *   so a client that disconnects mid-request changes nothing. An unknown
 *   operation closes the connection (wireguard-go does the same); a line over
 *   64 KiB gets `errno=-5` (EIO) and a request over `maxRequestBytes` gets
 *   `errno=-90` (EMSGSIZE), then the connection is closed. A connection that
 *   stays silent (or stops reading) for `idleTimeoutMs`, or takes longer than
 *   `requestTimeoutMs` to send one request, is closed.
 * - Operations from all connections are serialized: the device never sees a
 *   `uapiGet`/`uapiSet` while another runs.
 *
 * @example
 * ```ts
 * import { UapiServer } from "./uapi_server.ts";
 * import type { UapiState } from "./uapi_types.ts";
 * const state: UapiState = { privateKey: null, listenPort: 51820, fwmark: 0, peers: [] };
 * await using server = await UapiServer.start("wg0", { uapiGet: () => state, uapiSet: () => 0 }, {
 *   dir: await Deno.makeTempDir(),
 * });
 * console.log(server.path); // ".../wg0.sock"; `printf 'get=1\n\n' | socat - UNIX-CONNECT:...`
 * ```
 * @module
 */

import { logger } from "../log.ts";
import { Pacer } from "../pacer.ts";
import {
  formatErrnoResponse,
  getResponseParts,
  type ParseSetOptions,
  parseSetRequestSteps,
  UAPI_ERRNO,
  UAPI_MAX_LINE,
  UapiProtocolError,
} from "./uapi_protocol.ts";
import type { UapiDevice } from "./uapi_types.ts";
import { UapiConnection as Client } from "./uapi_connection.ts";

/** Where wireguard-go and `wg` put UAPI sockets on Linux. */
export const UAPI_SOCKET_DIR = "/var/run/wireguard";

/**
 * Default request size limit. Measured `set=1` sizes for 1000 peers with a PSK
 * and an endpoint: 0.64 MB with 16 prefixes each, 1.4 MB with 40; ~150 fit.
 */
/**
 * Largest `set` request by default: a `wg setconf` of 10,000 peers with 16 prefixes, a key, a
 * preshared key and an endpoint each is ~6.5 MB; 32 MiB leaves room and still bounds what a
 * connection can make the server hold.
 */
export const UAPI_DEFAULT_MAX_REQUEST = 32 * 1024 * 1024;

/** Options for {@link UapiServer.start}. */
export interface UapiServerOptions {
  /** Socket directory (default {@link UAPI_SOCKET_DIR}). */
  dir?: string;
  /** Largest request in bytes, operation line included (default {@link UAPI_DEFAULT_MAX_REQUEST}). */
  maxRequestBytes?: number;
  /** Close a connection that neither sends nor accepts a byte for this long (default 10 s). */
  idleTimeoutMs?: number;
  /** Close a connection whose request is not complete this long after its first byte (default 30 s). */
  requestTimeoutMs?: number;
  /** Connections served at once; more are closed at once (default 64). */
  maxConnections?: number;
  /**
   * Called once if the socket file disappears or is replaced (checked every
   * `socketCheckMs`). wireguard-go shuts the device down then.
   */
  onSocketRemoved?: () => void;
  /** Poll interval for `onSocketRemoved` (default 1000 ms). */
  socketCheckMs?: number;
  /** Passed to {@link parseSetRequest}. */
  parse?: ParseSetOptions;
}

/** Another process serves this interface's socket. */
export class UapiInUseError extends Error {
  override name = "UapiInUseError";
  constructor(readonly iface: string, readonly path: string) {
    super(`interface name ${iface} is in use: ${path} answers`);
  }
}

/** Characters of a `get` reply written at a time. */
const GET_CHUNK = 64 * 1024;

/** The socket could not be set up. */
export class UapiServerError extends Error {
  override name = "UapiServerError";
  constructor(readonly path: string, detail: string, options?: ErrorOptions) {
    super(`UAPI socket ${path}: ${detail}`, options);
  }
}

const log = logger("uapi");
const NL = 0x0a;
const CR = 0x0d;
const OP_GET = "get=1\n";
const OP_SET = "set=1\n";
/** tunslab's own request: facts about the serving process (see `UapiDevice.uapiInfo`). */
const OP_INFO = "tsl=1\n";
const encoder = new TextEncoder();

function isErrno(n: unknown): n is number {
  return typeof n === "number" && Number.isSafeInteger(n) && n <= 0;
}

/** True if a UAPI server answers at `path`; false if the file is a dead socket or gone. */
async function answers(path: string): Promise<boolean> {
  let conn: Deno.UnixConn;
  try {
    conn = await Deno.connect({ transport: "unix", path });
  } catch (e) {
    if (e instanceof Deno.errors.ConnectionRefused || e instanceof Deno.errors.NotFound) {
      return false;
    }
    throw new UapiServerError(path, "cannot tell whether it is in use", { cause: e });
  }
  conn.close();
  return true;
}

/**
 * Creates the socket directory 0755 if it is missing, and refuses one through which someone else
 * could redirect or replace our socket: a symlink (never followed), not a directory, owned by
 * another user, or writable by group or others.
 */
function secureDirectory(dir: string): void {
  let st: Deno.FileInfo;
  try {
    st = Deno.lstatSync(dir);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) {
      throw new UapiServerError(`${dir}/`, "cannot stat the socket directory", { cause: e });
    }
    try {
      Deno.mkdirSync(dir, { recursive: true, mode: 0o755 });
      Deno.chmodSync(dir, 0o755); // the umask may have taken bits away
    } catch (e) {
      const hint = e instanceof Deno.errors.PermissionDenied
        ? ` (uid ${Deno.uid()} may not create it: run as root, or create it owned by this user)`
        : "";
      throw new UapiServerError(`${dir}/`, `cannot create the socket directory${hint}`, {
        cause: e,
      });
    }
    st = Deno.lstatSync(dir);
  }
  const mode = (st.mode ?? 0) & 0o7777;
  const why = st.isSymlink
    ? "is a symlink (not followed)"
    : !st.isDirectory
    ? "is not a directory"
    : st.uid !== Deno.uid()
    ? `is owned by uid ${st.uid}, not by us (uid ${Deno.uid()}): run as uid ${st.uid}, or give this user a directory of its own`
    : (mode & 0o022) !== 0
    ? `is writable by group or others (mode ${mode.toString(8)})`
    : null;
  if (why !== null) throw new UapiServerError(`${dir}/`, `socket directory ${why}`);
}

/**
 * Binds a socket that only root can reach and puts it at `path`, race-free and
 * without touching the process umask: bind inside a fresh 0700 directory,
 * chmod the socket 0700 (wireguard-go's umask 077 gives the same `srwx------`),
 * hard-link it to `path` (fails if something is there), drop the directory.
 * Returns null if `path` exists by then.
 */
function bindPrivately(
  dir: string,
  path: string,
): Deno.Listener<Deno.UnixConn, Deno.UnixAddr> | null {
  let tmpDir: string;
  try {
    tmpDir = Deno.makeTempDirSync({ dir, prefix: ".uapi" }); // mode 0700
  } catch (e) {
    throw new UapiServerError(path, `cannot create a temporary directory in ${dir}`, { cause: e });
  }
  const tmpPath = `${tmpDir}/s`;
  try {
    let listener: Deno.Listener<Deno.UnixConn, Deno.UnixAddr>;
    try {
      listener = Deno.listen({ transport: "unix", path: tmpPath });
    } catch (e) {
      if (e instanceof Deno.errors.NotCapable) throw e; // needs --allow-net (unix sockets)
      throw new UapiServerError(path, "cannot listen", { cause: e });
    }
    try {
      Deno.chmodSync(tmpPath, 0o700);
      Deno.linkSync(tmpPath, path);
    } catch (e) {
      listener.close();
      if (e instanceof Deno.errors.AlreadyExists) return null;
      throw new UapiServerError(path, "cannot create", { cause: e });
    }
    return listener;
  } finally {
    try {
      Deno.removeSync(tmpDir, { recursive: true });
    } catch { /* best effort */ }
  }
}

/** A running UAPI socket for one interface. */
export class UapiServer implements AsyncDisposable {
  readonly path: string;
  #listener: Deno.Listener<Deno.UnixConn, Deno.UnixAddr>;
  #device: UapiDevice;
  #ino: number | null;
  #maxRequest: number;
  #idleMs: number;
  #requestMs: number;
  #maxConnections: number;
  #parse: ParseSetOptions;
  #clients = new Set<Client>();
  #tasks = new Set<Promise<void>>();
  #acceptLoop: Promise<void>;
  #closed = false;
  #watch: ReturnType<typeof setInterval> | undefined;
  #lock: Promise<void> = Promise.resolve();

  private constructor(
    path: string,
    listener: Deno.Listener<Deno.UnixConn, Deno.UnixAddr>,
    device: UapiDevice,
    opts: UapiServerOptions,
  ) {
    this.path = path;
    this.#listener = listener;
    this.#device = device;
    this.#ino = Deno.lstatSync(path).ino;
    this.#maxRequest = opts.maxRequestBytes ?? UAPI_DEFAULT_MAX_REQUEST;
    this.#idleMs = opts.idleTimeoutMs ?? 10_000;
    this.#requestMs = opts.requestTimeoutMs ?? 30_000;
    this.#maxConnections = opts.maxConnections ?? 64;
    this.#parse = opts.parse ?? {};
    const onRemoved = opts.onSocketRemoved;
    if (onRemoved !== undefined) {
      this.#watch = setInterval(() => {
        if (this.#socketIsOurs()) return;
        clearInterval(this.#watch);
        this.#watch = undefined;
        log.warning("UAPI socket {path} was removed or replaced", { path });
        onRemoved();
      }, opts.socketCheckMs ?? 1000);
    }
    this.#acceptLoop = this.#accept();
  }

  /**
   * Binds `<dir>/<iface>.sock` and starts serving `device`. Throws
   * {@link UapiInUseError} if a live server holds the path, and
   * {@link UapiServerError} for a bad name or a path that is not a socket.
   */
  static async start(
    iface: string,
    device: UapiDevice,
    opts: UapiServerOptions = {},
  ): Promise<UapiServer> {
    const dir = opts.dir ?? UAPI_SOCKET_DIR;
    const path = `${dir}/${iface}.sock`;
    if (iface === "" || iface === "." || iface === ".." || /[/\0]/.test(iface)) {
      throw new UapiServerError(path, `invalid interface name ${JSON.stringify(iface)}`);
    }
    if (encoder.encode(path).length > 107) {
      throw new UapiServerError(path, "path longer than 107 bytes (sockaddr_un limit)");
    }
    secureDirectory(dir);
    for (let attempt = 0;; attempt++) {
      let st: Deno.FileInfo | null = null;
      try {
        st = Deno.lstatSync(path);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) {
          throw new UapiServerError(path, "cannot stat", { cause: e });
        }
      }
      if (st !== null) {
        if (!st.isSocket) throw new UapiServerError(path, "exists and is not a socket");
        if (await answers(path)) throw new UapiInUseError(iface, path);
        try {
          Deno.removeSync(path);
          log.info("Removed stale UAPI socket {path}", { path });
        } catch (e) {
          if (!(e instanceof Deno.errors.NotFound)) {
            throw new UapiServerError(path, "cannot remove stale socket", { cause: e });
          }
        }
      }
      const listener = bindPrivately(dir, path);
      if (listener === null) {
        // Another process took the path between our check and our link: check again.
        if (attempt < 2) continue;
        throw new UapiServerError(path, "another process keeps creating it");
      }
      log.info("UAPI listening on {path}", { path });
      return new UapiServer(path, listener, device, opts);
    }
  }

  /** Connections being served now. */
  get connections(): number {
    return this.#clients.size;
  }

  #socketIsOurs(): boolean {
    try {
      return Deno.lstatSync(this.path).ino === this.#ino;
    } catch {
      return false;
    }
  }

  async #accept(): Promise<void> {
    while (!this.#closed) {
      let conn: Deno.UnixConn;
      try {
        conn = await this.#listener.accept();
      } catch (e) {
        if (this.#closed || e instanceof Deno.errors.BadResource) return;
        log.error("UAPI accept failed: {error}", { error: String(e) });
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      if (this.#closed) {
        conn.close();
        return;
      }
      if (this.#clients.size >= this.#maxConnections) {
        log.warning("Too many UAPI connections ({max}); closing a new one", {
          max: this.#maxConnections,
        });
        try {
          conn.close();
        } catch { /* gone */ }
        continue;
      }
      const client = new Client(conn, this.#idleMs);
      this.#clients.add(client);
      const task: Promise<void> = this.#serve(client)
        .catch((e) => log.error("UAPI connection failed: {error}", { error: String(e) }))
        .finally(() => {
          client.close();
          this.#clients.delete(client);
          this.#tasks.delete(task);
        });
      this.#tasks.add(task);
    }
  }

  /** Runs `fn` with no other UAPI operation in flight. */
  async #exclusive<T>(fn: () => T | Promise<T>): Promise<T> {
    const prev = this.#lock;
    let release!: () => void;
    this.#lock = new Promise((r) => release = r);
    await prev;
    try {
      return await fn();
    } finally {
      release();
    }
  }

  async #serve(c: Client): Promise<void> {
    while (!this.#closed) {
      // The operation line: exactly "get=1\n" or "set=1\n"; anything else closes.
      let deadline = Infinity;
      let nl: number;
      while ((nl = c.indexOf(NL, 0)) < 0 || nl >= OP_GET.length) {
        const have = Math.min(c.size, OP_GET.length);
        const seen = c.text(0, have);
        const known = OP_GET.startsWith(seen) || OP_SET.startsWith(seen) ||
          OP_INFO.startsWith(seen);
        if (c.size >= OP_GET.length || !known) {
          this.#invalidOp(c, Math.min(c.size, 32));
          return;
        }
        if (c.size > 0 && deadline === Infinity) deadline = Date.now() + this.#requestMs;
        if (!await c.fill(deadline)) return this.#ended(c, c.size > 0);
      }
      const op = c.text(0, nl + 1);
      if (op !== OP_GET && op !== OP_SET && op !== OP_INFO) {
        this.#invalidOp(c, nl + 1);
        return;
      }
      if (deadline === Infinity) deadline = Date.now() + this.#requestMs;
      c.consume(nl + 1);
      const ok = op === OP_GET
        ? await this.#get(c, deadline)
        : op === OP_INFO
        ? await this.#info(c, deadline)
        : await this.#set(c, deadline);
      if (!ok) return;
    }
  }

  #invalidOp(c: Client, n: number): void {
    log.warning("Invalid UAPI operation {op}; closing the connection", { op: c.text(0, n) });
  }

  #ended(c: Client, midRequest: boolean): void {
    if (c.stop === "timeout") {
      log.warning("UAPI client silent for too long; closed");
    } else if (midRequest && c.stop === "eof") {
      log.warning("UAPI client left in the middle of a request; nothing applied");
    }
  }

  /** `tsl=1\n\n`: the device's facts as `key=value` lines, then `errno=0` (or -95 without). */
  async #info(c: Client, deadline: number): Promise<boolean> {
    while (c.size < 1) {
      if (!await c.fill(deadline)) {
        this.#ended(c, true);
        return false;
      }
    }
    const next = c.byte(0);
    c.consume(1);
    if (next !== NL) return await c.write(formatErrnoResponse(UAPI_ERRNO.EINVAL));
    const info = this.#device.uapiInfo?.();
    if (info === undefined) return await c.write(formatErrnoResponse(-95)); // EOPNOTSUPP
    const lines = Object.entries(info).map(([k, v]) => `${k}=${String(v).replace(/\n/g, " ")}\n`);
    return await c.write(lines.join("") + formatErrnoResponse(0));
  }

  async #get(c: Client, deadline: number): Promise<boolean> {
    while (c.size < 1) {
      if (!await c.fill(deadline)) {
        this.#ended(c, true);
        return false;
      }
    }
    const next = c.byte(0);
    c.consume(1);
    if (next !== NL) return await c.write(formatErrnoResponse(UAPI_ERRNO.EINVAL));
    return await this.#exclusive(async () => {
      let state;
      try {
        state = await this.#device.uapiGet();
      } catch (e) {
        log.error("UAPI get failed: {error}", { error: String(e) });
        return await c.write(formatErrnoResponse(UAPI_ERRNO.ENOANO));
      }
      // Formatted peer by peer and written in chunks, the loop turning in between: 10,000
      // peers are megabytes, and held whole they made V8's collections pause the loop.
      const pace = new Pacer();
      let chunk = "";
      try {
        for (const part of getResponseParts(state)) {
          chunk += part;
          if (chunk.length >= GET_CHUNK) {
            if (!await c.write(chunk)) return false;
            chunk = "";
          }
          await pace.maybeYield();
        }
      } catch (e) {
        // Part of the reply is out: no errno line can follow it; the connection ends.
        log.error("UAPI get failed: {error}", { error: String(e) });
        return false;
      }
      return await c.write(chunk);
    });
  }

  async #set(c: Client, deadline: number): Promise<boolean> {
    let lineStart = 0;
    let body: string;
    for (;;) {
      const nl = c.indexOf(NL, lineStart);
      if (nl < 0) {
        if (c.size - lineStart > UAPI_MAX_LINE) return await this.#reject(c, UAPI_ERRNO.EIO);
        if (c.size + OP_SET.length > this.#maxRequest) {
          return await this.#reject(c, UAPI_ERRNO.EMSGSIZE);
        }
        if (!await c.fill(deadline)) {
          this.#ended(c, true);
          await c.write(formatErrnoResponse(UAPI_ERRNO.EPROTO)); // if only half-closed
          return false;
        }
        continue;
      }
      if (nl - lineStart > UAPI_MAX_LINE) return await this.#reject(c, UAPI_ERRNO.EIO);
      if (nl + 1 + OP_SET.length > this.#maxRequest) {
        return await this.#reject(c, UAPI_ERRNO.EMSGSIZE);
      }
      const empty = nl === lineStart || (nl === lineStart + 1 && c.byte(lineStart) === CR);
      if (empty) {
        body = c.text(0, lineStart);
        c.consume(nl + 1);
        break;
      }
      lineStart = nl + 1;
    }
    let errno: number;
    try {
      // Parsed in steps, the loop turning in between (a set of 10,000 peers is 40,000 lines).
      const steps = parseSetRequestSteps(body, this.#parse), pace = new Pacer();
      let step = steps.next();
      for (; !step.done; step = steps.next()) await pace.maybeYield();
      const req = step.value;
      errno = await this.#exclusive(async () => {
        try {
          const r = await this.#device.uapiSet(req);
          if (isErrno(r)) return r;
          log.error("UAPI device returned {result}, not 0 or a negative errno", {
            result: String(r),
          });
        } catch (e) {
          log.error("UAPI set failed: {error}", { error: String(e) });
        }
        return UAPI_ERRNO.ENOANO;
      });
    } catch (e) {
      if (!(e instanceof UapiProtocolError)) throw e;
      log.warning("UAPI set rejected: {error}", { error: e.message, errno: e.errno });
      errno = e.errno;
    }
    return await c.write(formatErrnoResponse(errno));
  }

  async #reject(c: Client, errno: number): Promise<false> {
    log.warning("UAPI request rejected with errno {errno}; closing the connection", { errno });
    await c.write(formatErrnoResponse(errno));
    return false;
  }

  /** Stops accepting, closes every connection, waits for them and removes the socket file. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#watch !== undefined) clearInterval(this.#watch);
    const ours = this.#socketIsOurs();
    try {
      this.#listener.close();
    } catch { /* already closed */ }
    for (const c of this.#clients) c.close();
    await this.#acceptLoop;
    await Promise.all([...this.#tasks]);
    if (ours) {
      try {
        Deno.removeSync(this.path);
      } catch { /* Deno removes it on close already */ }
    }
    log.info("UAPI socket {path} closed", { path: this.path });
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
