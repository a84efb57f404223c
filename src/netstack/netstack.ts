/**
 * The module's TCP/IP stack (wasm/ABI.md "Netstack") as TypeScript calls it: addresses as text,
 * sockets as handles, events and received data as views into the slots. One per module instance
 * (a device's); {@link NetstackTun} carries its packets through the device's data path.
 *
 * @example
 * ```ts
 * import { Netstack } from "./netstack.ts";
 * import { SlabPool } from "../wasm/slab.ts";
 * import { instantiate } from "../wasm/module.ts";
 * const wasm = instantiate();
 * const stack = new Netstack(wasm, SlabPool.create({}, wasm), { mtu: 1420, addresses: ["10.0.0.2"] });
 * const listener = stack.tcpListen("0.0.0.0", 80);
 * console.log(listener > 0); // true
 * ```
 * @module
 */

import { formatIp, parseIp } from "../wg/cidr.ts";
import {
  dropReasonName,
  NET_ADDR_LEN,
  NET_DGRAM_LEN,
  NET_EVENT_LEN,
  NET_SECRET_LEN,
  NET_SEG_LEN,
  NET_STATS_LEN,
  NET_TCP_INFO_LEN,
} from "../wasm/abi.ts";
import type { TunslabExports } from "../wasm/module.ts";
import type { SlabPool } from "../wasm/slab.ts";

/** Readiness bits of an event (wasm/ABI.md). */
export const READABLE = 1, WRITABLE = 2, ACCEPTABLE = 4, CONNECTED = 8, EOF = 16, CLOSED = 32;
export const ERROR = 64;

/** Options of {@link Netstack}. */
export interface NetstackOptions {
  /** The tunnel's MTU (576..65535). */
  mtu: number;
  /** The stack's own addresses (`[Interface] Address` without the prefix length). */
  addresses: readonly string[];
  /** Per-connection receive and send buffers, bytes (default 256 KiB each). */
  rcvBuf?: number;
  sndBuf?: number;
}

/** Events taken at once by {@link Netstack.events}. */
export const MAX_EVENTS = 256;
/** Pieces of received data listed at once by {@link Netstack.tcpRecv}. */
export const MAX_SEGS = 64;
/** Datagrams taken at once by {@link Netstack.udpRecv}. */
export const MAX_DGRAMS = 16;

/** A failed call, with the module's code. */
export class NetstackError extends Error {
  override name = "NetstackError";
  constructor(readonly call: string, readonly code: number) {
    super(`${call}: ${dropReasonName(code)}`);
  }
}

/** The stack of one module instance. */
export class Netstack {
  readonly #wasm: TunslabExports;
  readonly #pool: SlabPool;
  /** Scratch: an address record, the events, the received pieces, the stats. */
  readonly #addr: number;
  readonly #events: number;
  readonly #segs: number;
  readonly #stats: number;
  readonly #info: number;
  readonly #dgrams: number;

  constructor(wasm: TunslabExports, pool: SlabPool, opts: NetstackOptions) {
    this.#wasm = wasm;
    this.#pool = pool;
    const secret = pool.scratch(NET_SECRET_LEN);
    this.#addr = pool.scratch(NET_ADDR_LEN);
    this.#events = pool.scratch(NET_EVENT_LEN * MAX_EVENTS);
    this.#segs = pool.scratch(NET_SEG_LEN * MAX_SEGS);
    this.#stats = pool.scratch(8 * NET_STATS_LEN);
    this.#dgrams = pool.scratch(NET_DGRAM_LEN * MAX_DGRAMS);
    this.#info = pool.scratch(Math.max(8 * NET_TCP_INFO_LEN, 2 * NET_ADDR_LEN));
    pool.u8.set(crypto.getRandomValues(new Uint8Array(NET_SECRET_LEN)), secret);
    const rcv = opts.rcvBuf ?? 1 << 18, snd = opts.sndBuf ?? 1 << 18;
    check("ts_netstack_init", wasm.ts_netstack_init(secret, opts.mtu, rcv, snd));
    for (const a of opts.addresses) {
      const bytes = parseIp(a);
      if (bytes === null) throw new RangeError(`not an IP address: "${a}"`);
      pool.u8.set(bytes, this.#addr);
      check(
        `ts_netstack_add_address(${a})`,
        wasm.ts_netstack_add_address(bytes.length === 16 ? 6 : 4, this.#addr),
      );
    }
  }

  /** ms until the stack's next timer (0: due), or -1 if none runs. */
  nextTimer(now: number): number {
    return this.#wasm.ts_netstack_next_timer(now >>> 0);
  }

  /**
   * Sockets something happened to: `fn(handle, readiness)` for each (each socket once a call).
   * Returns how many.
   */
  events(fn: (handle: number, readiness: number) => void): number {
    const n = this.#wasm.ts_netstack_events(this.#events, MAX_EVENTS);
    if (n === 0) return 0;
    const ev = this.#pool.u32At(this.#events, 2 * n);
    for (let i = 0; i < n; i++) fn(ev[2 * i], ev[2 * i + 1]);
    return n;
  }

  /** A listener on `host:port` (`0.0.0.0` / `::`: any of the stack's addresses). */
  tcpListen(host: string, port: number, backlog = 128): number {
    return check(
      "ts_netstack_tcp_listen",
      this.#wasm.ts_netstack_tcp_listen(this.#record(host, port), backlog),
    );
  }

  /** The oldest connection a listener has established, or 0 if none. */
  tcpAccept(listener: number): number {
    const h = this.#wasm.ts_netstack_tcp_accept(listener);
    return h > 0 ? h : 0;
  }

  /** Opens a connection to `host:port` (its SYN goes at the next output). */
  tcpConnect(host: string, port: number, now: number): number {
    return check(
      "ts_netstack_tcp_connect",
      this.#wasm.ts_netstack_tcp_connect(this.#record(host, port), 0, now >>> 0),
    );
  }

  /**
   * Queues `len` bytes at `off + dataOff` of a live slot: the slot is the stack's if it returns
   * `len`; a code (E_AGAIN: the send buffer is full) leaves it the caller's.
   */
  tcpSend(h: number, off: number, dataOff: number, len: number): number {
    return this.#wasm.ts_netstack_tcp_send(h, off, dataOff, len);
  }

  /**
   * The data received in order: `fn(view)` for each piece (a view into a slot, valid until
   * {@link tcpConsume}). Returns the bytes listed, 0 at the end of the data, or a code (E_AGAIN).
   */
  tcpRecv(h: number, fn: (piece: Uint8Array) => void): number {
    const n = this.#wasm.ts_netstack_tcp_recv(h, this.#segs, MAX_SEGS);
    if (n <= 0) return n;
    const segs = this.#pool.u32At(this.#segs, 2 * n), u8 = this.#pool.u8;
    let bytes = 0;
    for (let i = 0; i < n; i++) {
      fn(u8.subarray(segs[2 * i], segs[2 * i] + segs[2 * i + 1]));
      bytes += segs[2 * i + 1];
    }
    return bytes;
  }

  /** Done with the first `n` bytes listed: their slots go back, the window opens. */
  tcpConsume(h: number, n: number): number {
    return check("ts_netstack_tcp_consume", this.#wasm.ts_netstack_tcp_consume(h, n));
  }

  /** A FIN after the queued data. */
  tcpShutdown(h: number): void {
    this.#wasm.ts_netstack_tcp_shutdown(h);
  }

  /** A RST now; the connection is CLOSED (error 4) until released. */
  tcpAbort(h: number, now: number): void {
    check("ts_netstack_tcp_abort", this.#wasm.ts_netstack_tcp_abort(h, now >>> 0));
  }

  /** Lets go of a connection (it goes on closing without the caller). */
  tcpRelease(h: number, now: number): void {
    check("ts_netstack_tcp_release", this.#wasm.ts_netstack_tcp_release(h, now >>> 0));
  }

  /** Closes a listener; connections it has not handed out are reset. */
  tcpUnlisten(h: number, now: number): void {
    check("ts_netstack_tcp_unlisten", this.#wasm.ts_netstack_tcp_unlisten(h, now >>> 0));
  }

  /** A connection's state and error (wasm/ABI.md: error 1 refused, 2 reset, 3 timed out, 4 aborted). */
  tcpState(h: number): { state: number; error: number } {
    check("ts_netstack_tcp_info", this.#wasm.ts_netstack_tcp_info(h, this.#info));
    const f = new Float64Array(this.#pool.u8.buffer, this.#info, 2);
    return { state: f[0], error: f[1] };
  }

  /** A connection's local and remote address as `Deno.NetAddr`s. */
  tcpEndpoints(h: number): [Deno.NetAddr, Deno.NetAddr] {
    check("ts_netstack_tcp_endpoints", this.#wasm.ts_netstack_tcp_endpoints(h, this.#info));
    const u8 = this.#pool.u8;
    return [netAddr(u8, this.#info), netAddr(u8, this.#info + NET_ADDR_LEN)];
  }

  /** A UDP socket on `host:port` (`0.0.0.0`/`::`: any address; port 0: an ephemeral one). */
  udpBind(host: string, port: number): number {
    return check("ts_netstack_udp_bind", this.#wasm.ts_netstack_udp_bind(this.#record(host, port)));
  }

  /** Closes a UDP socket; its queued datagrams go back to the pool. */
  udpClose(h: number): void {
    this.#wasm.ts_netstack_udp_close(h);
  }

  /**
   * Sends `len` bytes at `off + dataOff` of a live slot to `host:port`: 0 and the slot is the
   * stack's, or a code (E_TOO_BIG, E_AGAIN) and it stays the caller's.
   */
  udpSend(
    h: number,
    off: number,
    dataOff: number,
    len: number,
    host: string,
    port: number,
  ): number {
    return this.#wasm.ts_netstack_udp_send(h, off, dataOff, len, this.#record(host, port));
  }

  /**
   * The datagrams queued on a socket, oldest first: `fn(payload, from)` for each (the payload is
   * a view into its slot, freed after `fn`). Returns how many, or E_AGAIN if none.
   */
  udpRecv(h: number, fn: (payload: Uint8Array, from: Deno.NetAddr) => void): number {
    const n = this.#wasm.ts_netstack_udp_recv(h, this.#dgrams, MAX_DGRAMS);
    if (n <= 0) return n;
    const u8 = this.#pool.u8, dv = new DataView(u8.buffer);
    let failed: unknown = undefined;
    for (let i = 0; i < n; i++) {
      const rec = this.#dgrams + i * NET_DGRAM_LEN;
      const slot = dv.getUint32(rec, true), data = dv.getUint32(rec + 4, true);
      const len = dv.getUint32(rec + 8, true);
      try {
        fn(u8.subarray(data, data + len), { ...netAddr(u8, rec + 16), transport: "udp" });
      } catch (e) {
        failed ??= e; // the other datagrams are still handed out and their slots freed
      } finally {
        this.#pool.free(slot);
      }
    }
    if (failed !== undefined) throw failed;
    return n;
  }

  /** The stack's counters (wasm/ABI.md `ts_netstack_stats`). */
  stats(): {
    packetsIn: number;
    accepted: number;
    echoReplies: number;
    connections: number;
    udpSockets: number;
  } {
    check("ts_netstack_stats", this.#wasm.ts_netstack_stats(this.#stats));
    const f = new Float64Array(this.#pool.u8.buffer, this.#stats, NET_STATS_LEN);
    return {
      packetsIn: f[0],
      accepted: f[1],
      echoReplies: f[2],
      connections: f[14],
      udpSockets: f[15],
    };
  }

  /** Writes the address record of `host:port` at the scratch record; returns its pointer. */
  #record(host: string, port: number): number {
    const bytes = parseIp(host);
    if (bytes === null) throw new RangeError(`not an IP address: "${host}"`);
    const r = this.#pool.u8.subarray(this.#addr, this.#addr + NET_ADDR_LEN);
    r.fill(0);
    r[0] = bytes.length === 16 ? 6 : 4;
    r[2] = port & 0xff;
    r[3] = port >> 8;
    r.set(bytes, 4);
    return this.#addr;
  }
}

/** The address record at `at` as a `Deno.NetAddr`. */
function netAddr(u8: Uint8Array, at: number): Deno.NetAddr {
  const v6 = u8[at] === 6, port = u8[at + 2] | (u8[at + 3] << 8);
  const hostname = formatIp(u8.subarray(at + 4, at + (v6 ? 20 : 8)));
  return { transport: "tcp", hostname, port };
}

function check(call: string, rc: number): number {
  if (rc < 0) throw new NetstackError(call, rc);
  return rc;
}
