/**
 * The port forwards of `tunslab proxy` (wireproxy's `[TCPClientTunnel]` and `[TCPServerTunnel]`):
 * a local listener whose connections are joined to connections through the tunnel, and a port of
 * the tunnel address whose connections are joined to a local target. Each direction is piped on
 * its own, an end of data is passed on as a half close, and an error on either side ends both.
 * The forwards' local sockets are libc's and their bytes go straight between the kernel and the
 * slots (src/proxy/slot_join.ts); the SOCKS5, HTTP and STDIO front ends {@link join} `Deno.Conn`s.
 *
 * @example
 * ```ts ignore
 * const fwd = startClientTunnel(tunnel, { bind, target, line: 7 });
 * // … later
 * await fwd.close();
 * ```
 * @module
 */

import { logger } from "../log.ts";
import type { UserspaceTunnel } from "../netstack/userspace_tunnel.ts";
import type { TcpConn } from "../netstack/tcp_conn.ts";
import { parseEndpoint } from "../endpoint.ts";
import { resolveHost } from "../resolve/getaddrinfo.ts";
import type { ClientTunnel, HostPort, ServerTunnel } from "./proxy_config.ts";
import { closeFd, listenLocalTcp, localIp, resetFd } from "./local_tcp.ts";
import { TCP_TUNING, type Tuning } from "./tuning.ts";
import { type SlotJoin, SlotPump } from "./slot_join.ts";

const log = logger("proxy");

/** A running forward. */
export interface Forward {
  /** Where it listens (the local address, or the tunnel port). */
  readonly addr: string;
  /** Connections joined so far, and open now. */
  readonly stats: { accepted: number; open: number; failed: number };
  close(): Promise<void>;
}

/** Connections at once: per client address and in total (the config keys' defaults). */
export interface Limits {
  perClient: number;
  total: number;
}

export const DEFAULT_LIMITS: Limits = {
  perClient: TCP_TUNING.maxPerClient,
  total: TCP_TUNING.maxConnections,
};

/** A section's connection limits. */
export const limitsOf = (t: Tuning): Limits => ({
  perClient: t.maxPerClient,
  total: t.maxConnections,
});

/** Keepalive of the forwards' tunnel-side connections: a peer gone silent ends in minutes. */
export const TUNNEL_KEEPALIVE = { idleMs: 60_000, intervalMs: 10_000, count: 6 };

/** Counts connections per client and in total; `take` is null at a limit. */
export function limiter(limits: Limits = DEFAULT_LIMITS) {
  const byClient = new Map<string, number>();
  let total = 0;
  return {
    clientFull: (client: string) => (byClient.get(client) ?? 0) >= limits.perClient,
    take(client: string): (() => void) | null {
      const n = byClient.get(client) ?? 0;
      if (n >= limits.perClient || total >= limits.total) return null;
      byClient.set(client, n + 1);
      total++;
      let done = false;
      return () => {
        if (done) return;
        done = true;
        total--;
        const m = byClient.get(client)! - 1;
        if (m === 0) byClient.delete(client);
        else byClient.set(client, m);
      };
    },
  };
}

/** `host:port`, an IPv6 host in brackets. */
export const show = (hp: HostPort): string =>
  hp.hostname.includes(":") ? `[${hp.hostname}]:${hp.port}` : `${hp.hostname}:${hp.port}`;

/** A local TCP listener on the section's `BindAddress`; a refusal names the section and its line. */
export function listenLocal(
  section: string,
  spec: { bind: HostPort; line: number },
): Deno.Listener {
  try {
    return Deno.listen({ hostname: spec.bind.hostname, port: spec.bind.port });
  } catch (e) {
    throw new Error(
      `[${section}] of line ${spec.line}: BindAddress ${show(spec.bind)}: ${(e as Error).message}`,
    );
  }
}

/**
 * A front end that speaks a protocol before the join (SOCKS5, HTTP): per client the limit (over
 * it, `refuse` answers), then `handshake` (at most `ms`; null: it answered the client itself),
 * then the join of the two. Failures are logged at debug as `name addr: client …`.
 */
export function serveHandshakes(
  name: string,
  addr: string,
  listener: Deno.Listener,
  tuning: Tuning,
  ms: number,
  refuse: (local: Deno.Conn, clientFull: boolean) => Promise<void>,
  handshake: (local: Deno.Conn) => Promise<Deno.Conn | null>,
): Forward {
  const limit = limiter(limitsOf(tuning));
  return serveEach(addr, listener, async (local, conns, stats) => {
    const client = (local.remoteAddr as Deno.NetAddr).hostname;
    const release = limit.take(client);
    try {
      if (release === null) {
        stats.failed++;
        await refuse(local, limit.clientFull(client));
        return;
      }
      const timer = setTimeout(() => local.close(), ms);
      let remote: Deno.Conn | null;
      try {
        remote = await handshake(local);
      } finally {
        clearTimeout(timer);
      }
      if (remote === null) {
        stats.failed++;
        return;
      }
      await joinTracked(local, remote, conns, stats, tuning.idleTimeoutMs);
    } catch (e) {
      stats.failed++;
      log.debug("{name} {bind}: client {client}: {error}", {
        name,
        bind: addr,
        client,
        error: (e as Error).message,
      });
    } finally {
      release?.();
    }
  });
}

/** Copies `from` to `to` until the end of data, then half-closes `to`; `touch` on each read. */
async function pipe(from: Deno.Conn, to: Deno.Conn, touch: () => void): Promise<void> {
  const buf = new Uint8Array(64 * 1024);
  for (;;) {
    const n = await from.read(buf);
    if (n === null) break;
    touch();
    let off = 0;
    while (off < n) off += await to.write(buf.subarray(off, n));
  }
  await to.closeWrite();
}

/** A joined pair with nothing moving either way for this long is closed (ms). */
export const IDLE_MS = 15 * 60_000;

/**
 * Joins two connections until both directions have ended (an error ends both, and so does
 * `idleMs` without a byte either way); closes both.
 */
export async function join(a: Deno.Conn, b: Deno.Conn, idleMs = IDLE_MS): Promise<void> {
  const closeBoth = () => {
    for (const c of [a, b]) {
      try {
        c.close();
      } catch { /* closed already */ }
    }
  };
  let last = Date.now(), idle = false;
  const touch = () => void (last = Date.now());
  const watch = setInterval(() => {
    if (Date.now() - last > idleMs) (idle = true, closeBoth());
  }, Math.min(idleMs, 10_000));
  try {
    await Promise.all(
      [pipe(a, b, touch), pipe(b, a, touch)].map((p) =>
        p.catch((e) => (closeBoth(), Promise.reject(e)))
      ),
    );
  } catch (e) {
    if (!idle) throw e; // closed for idleness: an end, not an error
  } finally {
    clearInterval(watch);
    closeBoth();
  }
}

/** Closes every connection of `conns` (their joins end with them). */
function closeAll(conns: Set<Deno.Conn>): void {
  for (const c of conns) {
    try {
      c.close();
    } catch { /* closed already */ }
  }
}

/** What a front end does with one accepted connection; `conns` holds what close() must end. */
export type Handler<C> = (conn: C, conns: Set<Deno.Conn>, stats: Forward["stats"]) => Promise<void>;

/** Runs `handle` for each connection of `listener`; close() ends the listener and them all. */
export function serveEach<C extends Deno.Conn>(
  addr: string,
  listener: AsyncIterable<C> & { close(): void },
  handle: Handler<C>,
): Forward {
  const stats = { accepted: 0, open: 0, failed: 0 };
  const open = new Set<Promise<void>>(), conns = new Set<Deno.Conn>();
  const serve = (async () => {
    for await (const c of listener) {
      stats.accepted++;
      conns.add(c);
      const p = handle(c, conns, stats).catch(() => {}).finally(() => {
        conns.delete(c);
        try {
          c.close();
        } catch { /* closed */ }
      });
      open.add(p);
      p.finally(() => open.delete(p));
    }
  })().catch(() => {});
  return {
    addr,
    stats,
    async close() {
      listener.close();
      await serve;
      closeAll(conns);
      await Promise.allSettled([...open]);
    },
  };
}

/** Joins `a` to `b` (already connected), counted and tracked for close(). */
export async function joinTracked(
  a: Deno.Conn,
  b: Deno.Conn,
  conns: Set<Deno.Conn>,
  stats: Forward["stats"],
  idleMs = IDLE_MS,
): Promise<void> {
  conns.add(b);
  stats.open++;
  try {
    await join(a, b, idleMs).catch(() => {});
  } finally {
    stats.open--;
    conns.delete(b);
  }
}

/**
 * `[TCPClientTunnel]`: listens on `bind` locally; each connection goes to `target` via the tunnel,
 * joined over slots (src/proxy/slot_join.ts). A `BindAddress` given by name (not an IP or
 * localhost) is served by Deno's listener and {@link join} instead.
 */
export function startClientTunnel(tunnel: UserspaceTunnel, spec: ClientTunnel): Forward {
  if (localIp(spec.bind.hostname) === null) return startClientTunnelConns(tunnel, spec);
  const addr = show(spec.bind), target = show(spec.target);
  let lfd: number;
  try {
    lfd = listenLocalTcp(spec.bind.hostname, spec.bind.port).fd;
  } catch (e) {
    throw new Error(
      `[TCPClientTunnel] of line ${spec.line}: BindAddress ${addr}: ${(e as Error).message}`,
    );
  }
  log.info("TCPClientTunnel {bind} → {target} through the tunnel", { bind: addr, target });
  const pump = SlotPump.of(tunnel);
  const fwd = new SlotForward(addr);
  const limit = limiter(limitsOf(spec.tuning));
  const stopAccepting = pump.listen(lfd, (fd, client) => {
    const release = limit.take(client);
    if (release === null) {
      resetFd(fd); // over MaxConnections(PerClient): refused at once
      fwd.stats.failed++;
      log.debug("TCPClientTunnel {bind}: {client} refused: at the limit", { bind: addr, client });
      return;
    }
    fwd.run(async () => {
      try {
        let remote: TcpConn;
        try {
          remote = await tunnel.connect({
            ...spec.target,
            timeoutMs: spec.tuning.connectTimeoutMs,
          });
        } catch (e) {
          closeFd(fd);
          fwd.stats.failed++;
          log.warning("TCPClientTunnel {bind}: connect to {target} failed: {error}", {
            bind: addr,
            target,
            error: (e as Error).message,
          });
          return;
        }
        await fwd.joined(pump, fd, remote, spec.tuning.idleTimeoutMs);
      } finally {
        release();
      }
    });
  });
  fwd.onClose = () => {
    stopAccepting();
    closeFd(lfd);
  };
  return fwd;
}

/**
 * `[TCPServerTunnel]`: listens on `listenPort` of the tunnel; each connection goes to `target`
 * (connected through libc, nonblocking; a name resolved with getaddrinfo), joined over slots.
 */
export function startServerTunnel(tunnel: UserspaceTunnel, spec: ServerTunnel): Forward {
  let listener: ReturnType<UserspaceTunnel["listen"]>;
  try {
    listener = tunnel.listen({ port: spec.listenPort });
  } catch (e) {
    throw new Error(
      `[TCPServerTunnel] of line ${spec.line}: ListenPort ${spec.listenPort}: ${
        (e as Error).message
      }`,
    );
  }
  const target = show(spec.target);
  log.info("TCPServerTunnel {port} of the tunnel → {target}", { port: spec.listenPort, target });
  const pump = SlotPump.of(tunnel);
  const fwd = new SlotForward(`tunnel port ${spec.listenPort}`);
  const ip = localIp(spec.target.hostname);
  const limit = limiter(limitsOf(spec.tuning));
  const serving = (async () => {
    for await (const remote of listener) {
      const release = limit.take(remote.remoteAddr.hostname);
      if (release === null) {
        remote.abort(); // over MaxConnections(PerClient): a RST to the peer
        fwd.stats.failed++;
        continue;
      }
      fwd.run(async () => {
        try {
          let fd: number;
          try {
            const to = ip ??
              parseEndpoint(await resolveHost(spec.target.hostname, spec.target.port)).addr;
            fd = await pump.connect(to, spec.target.port, spec.tuning.connectTimeoutMs);
          } catch (e) {
            remote.close();
            fwd.stats.failed++;
            log.warning("TCPServerTunnel {port}: connect to {target} failed: {error}", {
              port: spec.listenPort,
              target,
              error: (e as Error).message,
            });
            return;
          }
          await fwd.joined(pump, fd, remote, spec.tuning.idleTimeoutMs);
        } finally {
          release();
        }
      });
    }
  })().catch(() => {});
  fwd.onClose = async () => {
    listener.close();
    await serving;
  };
  return fwd;
}

/** A forward whose connections are slot joins: counted, and all ended by close(). */
class SlotForward implements Forward {
  readonly addr: string;
  readonly stats = { accepted: 0, open: 0, failed: 0 };
  onClose: () => void | Promise<void> = () => {};
  readonly #joins = new Set<SlotJoin>();
  readonly #running = new Set<Promise<void>>();
  #closed = false;

  constructor(addr: string) {
    this.addr = addr;
  }

  /** One accepted connection's work, tracked for close(). */
  run(work: () => Promise<void>): void {
    this.stats.accepted++;
    const p = work().catch(() => {}).finally(() => this.#running.delete(p));
    this.#running.add(p);
  }

  /** Joins `fd` to `remote` until both end (at once closed if the forward is). */
  async joined(pump: SlotPump, fd: number, remote: TcpConn, idleMs = IDLE_MS): Promise<void> {
    if (this.#closed) {
      closeFd(fd);
      remote.close();
      return;
    }
    remote.setKeepAlive(true, TUNNEL_KEEPALIVE); // a peer gone silent ends the join
    const j = pump.join(fd, remote, idleMs);
    this.#joins.add(j);
    this.stats.open++;
    try {
      await j.done;
    } finally {
      this.stats.open--;
      this.#joins.delete(j);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.onClose();
    for (const j of this.#joins) j.close();
    await Promise.allSettled([...this.#running]);
  }
}

/** `[TCPClientTunnel]` with a named `BindAddress`: Deno's listener, {@link join}ed as Deno.Conns. */
function startClientTunnelConns(tunnel: UserspaceTunnel, spec: ClientTunnel): Forward {
  const listener = listenLocal("TCPClientTunnel", spec);
  const addr = show(spec.bind), target = show(spec.target);
  log.info("TCPClientTunnel {bind} → {target} through the tunnel", { bind: addr, target });
  return serveEach(addr, listener, async (local, conns, stats) => {
    let remote: Deno.Conn;
    try {
      const conn = await tunnel.connect({
        ...spec.target,
        timeoutMs: spec.tuning.connectTimeoutMs,
      });
      conn.setKeepAlive(true, TUNNEL_KEEPALIVE);
      remote = conn;
    } catch (e) {
      stats.failed++;
      log.warning("TCPClientTunnel {bind}: connect to {target} failed: {error}", {
        bind: addr,
        target,
        error: (e as Error).message,
      });
      return;
    }
    await joinTracked(local, remote, conns, stats, spec.tuning.idleTimeoutMs);
  });
}
