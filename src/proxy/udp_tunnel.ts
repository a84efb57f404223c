/**
 * `[UDPProxyTunnel]` of `tunslab proxy`, as wireproxy's: datagrams to a local UDP `BindAddress`
 * go to `Target` through the tunnel, each local client from a UDP socket of its own on the stack,
 * and the target's answers go back to that client. A client's socket is closed after `IdleTimeout`
 * (60 s) without a datagram; at most `MaxConnections` (256) clients at once (the oldest one idle is
 * let go for a new one).
 *
 * @example
 * ```ts ignore
 * const fwd = await startUdpTunnel(tunnel, { bind, target, tuning: UDP_TUNING, line: 14 });
 * ```
 * @module
 */

import dgram from "node:dgram";
import { logger } from "../log.ts";
import type { UserspaceTunnel } from "../netstack/userspace_tunnel.ts";
import { HEADROOM } from "../wasm/abi.ts";
import { type Forward, show } from "./forwards.ts";
import type { HostPort } from "./proxy_config.ts";
import type { Tuning } from "./tuning.ts";

const log = logger("proxy");

/** Where a datagram's payload goes in its slot (room for the headers in front). */
const DATA_OFF = HEADROOM + 64;

/** `[UDPProxyTunnel]`. */
export interface UdpTunnelSpec {
  bind: HostPort;
  target: HostPort;
  /** `MaxConnections`: clients at once; `IdleTimeout`: a client's socket (src/proxy/tuning.ts). */
  tuning: Tuning;
  line: number;
}

interface Client {
  handle: number;
  address: string;
  port: number;
  last: number;
  off: () => void;
}

/** Binds the local socket and forwards until close(). */
export async function startUdpTunnel(
  tunnel: UserspaceTunnel,
  spec: UdpTunnelSpec,
): Promise<Forward> {
  const [target] = await tunnel.dns.resolve(spec.target.hostname);
  const v6 = spec.bind.hostname.includes(":");
  const sock = dgram.createSocket(v6 ? "udp6" : "udp4");
  await new Promise<void>((resolve, reject) => {
    sock.once(
      "error",
      (e: Error) =>
        reject(
          new Error(
            `[UDPProxyTunnel] of line ${spec.line}: BindAddress ${show(spec.bind)}: ${e.message}`,
          ),
        ),
    );
    sock.bind(spec.bind.port, spec.bind.hostname, () => resolve());
  });
  const stats = { accepted: 0, open: 0, failed: 0 };
  const clients = new Map<string, Client>();
  const { stack, pool } = tunnel;
  const forget = (key: string) => {
    const c = clients.get(key);
    if (c === undefined) return;
    clients.delete(key);
    c.off();
    stack.udpClose(c.handle);
    stats.open--;
  };
  const clientFor = (address: string, port: number): Client => {
    const key = `${address}|${port}`;
    let c = clients.get(key);
    if (c !== undefined) return c;
    if (clients.size >= spec.tuning.maxConnections) {
      const oldest = [...clients.entries()].sort((a, b) => a[1].last - b[1].last)[0];
      forget(oldest[0]);
    }
    const handle = stack.udpBind(target.includes(":") ? "::" : "0.0.0.0", 0);
    const back = () =>
      stack.udpRecv(handle, (payload) => {
        sock.send(payload.slice(), port, address); // the copy at the local socket
      });
    c = { handle, address, port, last: Date.now(), off: tunnel.onUdp(handle, back) };
    clients.set(key, c);
    stats.accepted++;
    stats.open++;
    return c;
  };
  sock.on("message", (msg: Uint8Array, rinfo: { address: string; port: number }) => {
    const c = clientFor(rinfo.address, rinfo.port);
    c.last = Date.now();
    const slot = pool.allocSlot();
    if (slot === 0 || msg.length > pool.slotSize - DATA_OFF) {
      if (slot !== 0) pool.free(slot);
      stats.failed++;
      return;
    }
    pool.u8.set(msg, slot + DATA_OFF);
    const rc = stack.udpSend(c.handle, slot, DATA_OFF, msg.length, target, spec.target.port);
    if (rc !== 0) {
      pool.free(slot);
      stats.failed++;
      return;
    }
    tunnel.kick();
  });
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [key, c] of clients) if (now - c.last > spec.tuning.idleTimeoutMs) forget(key);
  }, 5_000);
  const addr = show(spec.bind);
  log.info("UDPProxyTunnel {bind} → {target} through the tunnel", {
    bind: addr,
    target: `${target}:${spec.target.port}`,
  });
  return {
    addr,
    stats,
    close() {
      clearInterval(sweep);
      for (const key of [...clients.keys()]) forget(key);
      return new Promise<void>((r) => sock.close(() => r()));
    },
  };
}
