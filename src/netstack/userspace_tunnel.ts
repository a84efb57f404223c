/**
 * A WireGuard tunnel for a Deno program without root or a TUN device: the device's handshake,
 * timers, transport and UDP socket as with `up`, but the decrypted packets go to the module's
 * TCP/IP stack (src/netstack/netstack_tun.ts), at the `Address`es of `[Interface]`. Connections
 * are `Deno.Conn`-shaped ({@link TcpConn}); `listen` serves a port of the tunnel address.
 * Needs `--allow-ffi` (and read for a config file), no other privilege.
 *
 * `connect` resolves names through the tunnel with the `[Interface]` `DNS` servers (never the
 * host's resolver). The MTU must fit a small slot (it defaults to 1420).
 *
 * @example
 * ```ts ignore
 * import { UserspaceTunnel } from "./userspace_tunnel.ts";
 * import { parseConfigFile } from "../wg/config.ts";
 * await using tunnel = await UserspaceTunnel.start((await parseConfigFile("wg0.conf")).config);
 * const conn = await tunnel.connect({ hostname: "10.0.0.1", port: 80 });
 * ```
 * @module
 */

import { Device } from "../device/device.ts";
import { UdpSocket } from "../udp_socket.ts";
import type { Config } from "../wg/config.ts";
import { formatIp } from "../wg/cidr.ts";
import { packetCapacity } from "../wasm/abi.ts";
import type { SlabPool } from "../wasm/slab.ts";
import { ACCEPTABLE, CLOSED } from "./netstack.ts";
import { NetstackTun } from "./netstack_tun.ts";
import type { FdReactor } from "./fd_reactor.ts";
import { type ConnHost, TcpConn } from "./tcp_conn.ts";
import { type DnsHost, TunnelDns } from "./tunnel_dns.ts";
import { parseIp } from "../wg/cidr.ts";

/** What gets a connection's events (and is closed with the tunnel). */
export interface TcpUser {
  wake(readiness: number): void;
  close(): void;
}

/** How long a connect waits for the handshake by default (ms); then TimedOut (SOCKS 0x04, 504). */
export const CONNECT_TIMEOUT_MS = 10_000;

/** Options of {@link UserspaceTunnel.start}. */
export interface UserspaceTunnelOptions {
  /** Labels logs and stats (default "tunslab"). */
  name?: string;
}

/** A listener on a port of the tunnel's address: async-iterable connections. */
export class TcpListener implements AsyncIterable<TcpConn>, Disposable {
  readonly addr: Deno.NetAddr;
  readonly #tunnel: UserspaceTunnel;
  readonly handle: number;
  #waiter: (() => void) | undefined;
  #closed = false;

  constructor(tunnel: UserspaceTunnel, handle: number, addr: Deno.NetAddr) {
    this.#tunnel = tunnel;
    this.handle = handle;
    this.addr = addr;
  }

  /** An event for the listener (a connection to accept, or its end). */
  wake(): void {
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.();
  }

  /** The next connection; null once closed. */
  async accept(): Promise<TcpConn | null> {
    for (;;) {
      if (this.#closed) return null;
      const h = this.#tunnel.stack.tcpAccept(this.handle);
      if (h > 0) return this.#tunnel.adopt(h);
      await new Promise<void>((r) => this.#waiter = r);
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<TcpConn> {
    for (;;) {
      const c = await this.accept();
      if (c === null) return;
      yield c;
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#tunnel.unlisten(this);
    this.wake();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** The tunnel: a device whose TUN is the stack, its loop running. */
export class UserspaceTunnel implements AsyncDisposable, ConnHost, DnsHost {
  readonly device: Device;
  /** Names through the tunnel, with the `[Interface]` `DNS` servers. */
  readonly dns: TunnelDns;
  readonly #tun: NetstackTun;
  /** Who gets each connection's events: a {@link TcpConn}, or a join over slots (src/proxy/slot_join.ts). */
  readonly #conns = new Map<number, TcpUser>();
  readonly #udp = new Map<number, () => void>();
  readonly #listeners = new Map<number, TcpListener>();
  readonly #loop: Promise<void>;
  #closed = false;

  private constructor(device: Device, tun: NetstackTun, dnsServers: readonly string[]) {
    this.device = device;
    this.#tun = tun;
    this.dns = new TunnelDns(this, dnsServers);
    this.#loop = device.run();
  }

  /** Starts the tunnel from a parsed config (keys, peers, `Address`, `ListenPort`, `MTU`). */
  static async start(config: Config, opts: UserspaceTunnelOptions = {}): Promise<UserspaceTunnel> {
    const name = opts.name ?? "tunslab";
    const addresses = config.interface.addresses.map((c) => formatIp(c.bytes));
    if (addresses.length === 0) throw new Error("[Interface] has no Address: the stack needs one");
    const mtu = config.interface.mtu;
    let tun: NetstackTun | undefined;
    const events = { to: (): void => {} }; // the tunnel's dispatch, once it exists
    const onEvents = () => events.to();
    const device = await Device.create({
      name,
      config,
      offload: false, // no TUN offloads: the stack is the TUN (its UDP socket sends with GSO below)
      io: (wasm, pool) => {
        if (mtu > packetCapacity(pool)) {
          throw new RangeError(`MTU ${mtu}: the proxy takes at most ${packetCapacity(pool)}`);
        }
        // UDP GSO for sending (runs of full segments in one sendmsg); no GRO: the stack takes
        // each datagram in its own slot.
        const udp = UdpSocket.bind({ port: config.interface.listenPort ?? 0, offload: "send" });
        tun = new NetstackTun(name, wasm, pool, { mtu, addresses, onEvents });
        return { tun, udp, bindUdp: (port) => UdpSocket.bind({ port, offload: "send" }) };
      },
    });
    const t = new UserspaceTunnel(device, tun!, config.interface.dns);
    events.to = () => t.#dispatch();
    return t;
  }

  get stack(): NetstackTun["stack"] {
    return this.#tun.stack;
  }

  get pool(): SlabPool {
    return this.device.pool;
  }

  /** The local sockets' readiness, dispatched in the device's loop. */
  get reactor(): FdReactor {
    return this.#tun.reactor;
  }

  /**
   * Hands connection `handle`'s events to `user` from now on (a {@link TcpConn} of it is left
   * unused); close() of the tunnel closes it too.
   */
  attach(handle: number, user: TcpUser): void {
    this.#conns.set(handle, user);
  }

  kick(): void {
    this.#tun.kick();
  }

  now(): number {
    return performance.now();
  }

  forget(handle: number): void {
    this.#conns.delete(handle);
  }

  /** Events of UDP socket `h` go to `fn` until the returned function is called. */
  onUdp(h: number, fn: () => void): () => void {
    this.#udp.set(h, fn);
    return () => this.#udp.delete(h);
  }

  /**
   * A connection to `hostname:port` through the tunnel; a name is resolved with the tunnel's
   * DNS servers ({@link dns}) and its addresses tried in order.
   */
  async connect(opts: { hostname: string; port: number; timeoutMs?: number }): Promise<TcpConn> {
    this.#open();
    const addrs = parseIp(opts.hostname) !== null
      ? [opts.hostname]
      : await this.dns.resolve(opts.hostname);
    let last: unknown;
    for (const addr of addrs) {
      const conn = this.adopt(this.stack.tcpConnect(addr, opts.port, this.now()));
      this.kick();
      try {
        await conn.established(
          `connect ${opts.hostname}:${opts.port}`,
          opts.timeoutMs ?? CONNECT_TIMEOUT_MS,
        );
        return conn;
      } catch (e) {
        conn.close();
        last = e;
      }
    }
    throw last;
  }

  /** A listener on `port` of the tunnel's addresses (`hostname`: one of them; default all). */
  listen(opts: { port: number; hostname?: string }): TcpListener {
    this.#open();
    const host = opts.hostname ?? "0.0.0.0";
    const h = this.stack.tcpListen(host, opts.port);
    const l = new TcpListener(this, h, { transport: "tcp", hostname: host, port: opts.port });
    this.#listeners.set(h, l);
    return l;
  }

  /** A handle the stack made (connect, accept) as a connection of this tunnel. */
  adopt(handle: number): TcpConn {
    const c = new TcpConn(this, handle);
    this.#conns.set(handle, c);
    return c;
  }

  unlisten(l: TcpListener): void {
    if (!this.#listeners.delete(l.handle) || this.#closed) return;
    this.stack.tcpUnlisten(l.handle, this.now());
    this.kick();
  }

  /** Ends every connection and listener, then the device. */
  async close(): Promise<void> {
    if (this.#closed) return;
    for (const l of [...this.#listeners.values()]) l.close();
    for (const c of [...this.#conns.values()]) c.close();
    this.#closed = true;
    await new Promise((r) => setTimeout(r, 50)); // the FINs go out, quick closes complete
    // What the stack still holds (closes going on without a user, UDP sockets) ends with RSTs.
    this.stack.close(this.now());
    this.kick();
    await new Promise((r) => setTimeout(r, 20)); // the RSTs go out before the loop ends
    this.device.stop();
    await this.#loop;
    this.device.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #open(): void {
    if (this.#closed) throw new Deno.errors.BadResource("the tunnel is closed");
  }

  /** The stack's events to the connections and listeners they are for. */
  #dispatch(): void {
    this.stack.events((h, r) => {
      const c = this.#conns.get(h);
      if (c !== undefined) c.wake(r);
      else if (this.#udp.has(h)) this.#udp.get(h)!();
      else if (r & (ACCEPTABLE | CLOSED)) this.#listeners.get(h)?.wake();
    });
  }
}
