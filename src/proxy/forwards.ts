/**
 * The port forwards of `tunslab proxy` (wireproxy's `[TCPClientTunnel]` and `[TCPServerTunnel]`):
 * a local listener whose connections are joined to connections through the tunnel, and a port of
 * the tunnel address whose connections are joined to a local target. Each direction is piped on
 * its own, an end of data is passed on as a half close, and an error on either side ends both.
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
import type { ClientTunnel, HostPort, ServerTunnel } from "./proxy_config.ts";

const log = logger("proxy");

/** A running forward. */
export interface Forward {
  /** Where it listens (the local address, or the tunnel port). */
  readonly addr: string;
  /** Connections joined so far, and open now. */
  readonly stats: { accepted: number; open: number; failed: number };
  close(): Promise<void>;
}

const show = (hp: HostPort) =>
  hp.hostname.includes(":") ? `[${hp.hostname}]:${hp.port}` : `${hp.hostname}:${hp.port}`;

/** Copies `from` to `to` until the end of data, then half-closes `to`. */
async function pipe(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(64 * 1024);
  for (;;) {
    const n = await from.read(buf);
    if (n === null) break;
    let off = 0;
    while (off < n) off += await to.write(buf.subarray(off, n));
  }
  await to.closeWrite();
}

/** Joins two connections until both directions have ended (an error ends both); closes both. */
export async function join(a: Deno.Conn, b: Deno.Conn): Promise<void> {
  const closeBoth = () => {
    for (const c of [a, b]) {
      try {
        c.close();
      } catch { /* closed already */ }
    }
  };
  try {
    await Promise.all(
      [pipe(a, b), pipe(b, a)].map((p) => p.catch((e) => (closeBoth(), Promise.reject(e)))),
    );
  } finally {
    closeBoth();
  }
}

function closeAll(conns: Set<Deno.Conn>): void {
  for (const c of conns) {
    try {
      c.close();
    } catch { /* closed already */ }
  }
}

/** `[TCPClientTunnel]`: listens on `bind` locally; each connection goes to `target` via the tunnel. */
export function startClientTunnel(tunnel: UserspaceTunnel, spec: ClientTunnel): Forward {
  let listener: Deno.Listener;
  try {
    listener = Deno.listen({ hostname: spec.bind.hostname, port: spec.bind.port });
  } catch (e) {
    throw new Error(
      `[TCPClientTunnel] of line ${spec.line}: BindAddress ${show(spec.bind)}: ${
        (e as Error).message
      }`,
    );
  }
  const stats = { accepted: 0, open: 0, failed: 0 };
  const open = new Set<Promise<void>>(), conns = new Set<Deno.Conn>();
  const addr = show(spec.bind);
  log.info("TCPClientTunnel {bind} → {target} through the tunnel", {
    bind: addr,
    target: show(spec.target),
  });
  const serve = (async () => {
    for await (const local of listener) {
      stats.accepted++;
      const p = (async () => {
        let remote: Deno.Conn;
        try {
          remote = await tunnel.connect(spec.target);
        } catch (e) {
          stats.failed++;
          log.warning("TCPClientTunnel {bind}: connect to {target} failed: {error}", {
            bind: addr,
            target: show(spec.target),
            error: (e as Error).message,
          });
          local.close();
          return;
        }
        stats.open++;
        conns.add(local).add(remote);
        await join(local, remote).catch(() => {});
        conns.delete(local);
        conns.delete(remote);
        stats.open--;
      })();
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
      closeAll(conns); // the joins end with them
      await Promise.allSettled([...open]);
    },
  };
}

/** `[TCPServerTunnel]`: listens on `listenPort` of the tunnel; each connection goes to `target`. */
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
  const stats = { accepted: 0, open: 0, failed: 0 };
  const open = new Set<Promise<void>>(), conns = new Set<Deno.Conn>();
  const addr = `tunnel port ${spec.listenPort}`;
  log.info("TCPServerTunnel {port} of the tunnel → {target}", {
    port: spec.listenPort,
    target: show(spec.target),
  });
  const serve = (async () => {
    for await (const remote of listener) {
      stats.accepted++;
      const p = (async () => {
        let local: Deno.Conn;
        try {
          local = await Deno.connect({ hostname: spec.target.hostname, port: spec.target.port });
        } catch (e) {
          stats.failed++;
          log.warning("TCPServerTunnel {port}: connect to {target} failed: {error}", {
            port: spec.listenPort,
            target: show(spec.target),
            error: (e as Error).message,
          });
          remote.close();
          return;
        }
        stats.open++;
        conns.add(local).add(remote);
        await join(remote, local).catch(() => {});
        conns.delete(local);
        conns.delete(remote);
        stats.open--;
      })();
      open.add(p);
      p.finally(() => open.delete(p));
    }
  })();
  return {
    addr,
    stats,
    async close() {
      listener.close();
      await serve;
      closeAll(conns); // the joins end with them
      await Promise.allSettled([...open]);
    },
  };
}
