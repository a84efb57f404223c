/**
 * UDP ASSOCIATE of the `[Socks5]` front end (RFC 1928 §7). The relay is a local UDP socket bound
 * to the address the client's control connection came in on (never to all addresses), on a port
 * the kernel picks; the reply names it. The client's datagrams carry a header (RSV, FRAG, ATYP,
 * DST.ADDR, DST.PORT); each goes through the tunnel from the association's own UDP socket on the
 * stack (one per address family), names resolved through the tunnel as CONNECT's are. Answers
 * come back with the header of their source. Fragments (FRAG ≠ 0) are dropped, as most servers
 * do; so are datagrams from anyone but the client: the DST.ADDR/DST.PORT the request gave (the
 * parts not zero), else the first sender from the control connection's IP.
 *
 * The association is the far side of the control connection's join (a `Deno.Conn` that takes
 * and discards what the client sends on it), so it counts against the front end's limits like a
 * CONNECT and ends with the connection; 60 s without a datagram either way ends both. Drops are
 * counted in {@link socks5UdpStats}.
 *
 * @example
 * ```ts ignore
 * // in the SOCKS5 handshake, after the request (CMD 3):
 * return await udpAssociate(tunnel, control, { hostname: "0.0.0.0", port: 0 });
 * ```
 * @module
 */

import dgram from "node:dgram";
import { logger } from "../log.ts";
import { MIN_TTL } from "../netstack/tunnel_dns.ts";
import type { UserspaceTunnel } from "../netstack/userspace_tunnel.ts";
import { HEADROOM } from "../wasm/abi.ts";
import { formatIp, parseIp } from "../wg/cidr.ts";
import { UDP_TUNING } from "./tuning.ts";

const log = logger("proxy");

/** Where a client's datagram goes in its slot (its SOCKS header lands in the room in front). */
const DATA_OFF = HEADROOM + 64;
/** A name's address is reused this long (the shortest the tunnel's resolver keeps one), ms. */
const NAME_MS = MIN_TTL * 1000;
/** Names remembered per association; datagrams held per association while names resolve. */
const NAMES = 256, HELD = 16;

/** The UDP ASSOCIATE counters of the process (every `[Socks5]`). */
export const socks5UdpStats = {
  associations: 0,
  open: 0,
  /** Datagrams sent into the tunnel, and answers sent back to clients. */
  toTunnel: 0,
  toClient: 0,
  /** Dropped: FRAG ≠ 0; not from the client; a bad header; a name with no address; refused. */
  fragmented: 0,
  foreign: 0,
  malformed: 0,
  unresolved: 0,
  failed: 0,
};

/** Why {@link udpHeaderLen} refuses a datagram. */
export const HDR_SHORT = -1, HDR_FRAG = -2, HDR_ATYP = -3;

/** The length of a client datagram's SOCKS header, or HDR_SHORT/HDR_FRAG/HDR_ATYP. */
export function udpHeaderLen(m: Uint8Array): number {
  if (m.length < 4) return HDR_SHORT;
  if (m[2] !== 0) return HDR_FRAG;
  const atyp = m[3];
  const n = atyp === 1 ? 10 : atyp === 4 ? 22 : atyp === 3 && m.length > 4 ? 7 + m[4] : 0;
  if (n === 0) return atyp === 3 ? HDR_SHORT : HDR_ATYP;
  if (atyp === 3 && m[4] === 0) return HDR_ATYP;
  return m.length < n ? HDR_SHORT : n;
}

/** An IPv4-mapped IPv6 address as plain IPv4 (a dual-stack listener's view of a v4 client). */
const plain = (h: string) => /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(h) ? h.slice(7) : h;

/** Binds the relay and answers the request; the association runs until closed. */
export async function udpAssociate(
  tunnel: UserspaceTunnel,
  control: Deno.Conn,
  dst: { hostname: string; port: number },
  idleMs = UDP_TUNING.idleTimeoutMs,
): Promise<UdpAssociation> {
  const here = plain((control.localAddr as Deno.NetAddr).hostname);
  const sock = dgram.createSocket(here.includes(":") ? "udp6" : "udp4");
  try {
    await new Promise<void>((resolve, reject) => {
      sock.once("error", reject);
      sock.bind(0, here, () => (sock.off("error", reject), resolve()));
    });
  } catch (e) {
    try {
      sock.close();
    } catch { /* never bound */ }
    await control.write(new Uint8Array([5, 1, 0, 1, 0, 0, 0, 0, 0, 0])).catch(() => {});
    throw new Error(`UDP ASSOCIATE: no relay on ${here}: ${(e as Error).message}`);
  }
  const bound = sock.address(); // the reply names what the kernel bound
  const ip = parseIp(plain(bound.address))!;
  const ok = new Uint8Array(6 + ip.length);
  ok.set([5, 0, 0, ip.length === 4 ? 1 : 4]);
  ok.set(ip, 4);
  ok[4 + ip.length] = bound.port >> 8;
  ok[5 + ip.length] = bound.port & 0xff;
  // The client's address: DST.ADDR when it is an address and not zero, else the control
  // connection's; its port: DST.PORT when not zero, else the first datagram's.
  const given = parseIp(dst.hostname);
  const from = given !== null && given.some((b) => b !== 0)
    ? plain(dst.hostname)
    : plain((control.remoteAddr as Deno.NetAddr).hostname);
  const a = new UdpAssociation(tunnel, control, sock, { hostname: from, port: dst.port }, idleMs);
  try {
    await control.write(ok);
  } catch (e) {
    a.close();
    throw e;
  }
  return a;
}

type Reader = { resolve: (n: number | null) => void; reject: (e: Error) => void };

/**
 * One association: the relay socket, the stack's sockets, the client. As a `Deno.Conn` it is
 * the far side of the control connection: writes are discarded, reads wait for the end (a read
 * of 0 bytes now and then while datagrams move keeps the join from thinking the pair idle).
 */
export class UdpAssociation implements Deno.Conn {
  readonly localAddr: Deno.NetAddr;
  readonly remoteAddr: Deno.NetAddr;
  readonly #tunnel: UserspaceTunnel;
  readonly #sock: dgram.Socket;
  readonly #control: Deno.Conn;
  readonly #idleMs: number;
  readonly #clientAddr: string;
  #clientPort: number;
  /** The stack's UDP sockets (0: not yet bound) and their event hooks. */
  #h4 = 0;
  #h6 = 0;
  readonly #offs: (() => void)[] = [];
  /** The last destination's ATYP and address bytes, and the IP they mean (until `#lastUntil`). */
  readonly #lastKey = new Uint8Array(256);
  #lastLen = 0;
  #lastHost = "";
  #lastUntil = 0;
  /** Names: their address (null: none) until when; datagrams waiting for a name. */
  readonly #names = new Map<string, { addr: string | null; until: number }>();
  readonly #held = new Map<string, Uint8Array[]>();
  #heldCount = 0;
  /** The last answer's source and its SOCKS header. */
  readonly #hdr = new Uint8Array(22);
  #hdrLen = 0;
  #hdrHost = "";
  #hdrPort = 0;
  #last = Date.now();
  #moved = false;
  readonly #timer: ReturnType<typeof setInterval>;
  #reader: Reader | undefined;
  #end: Error | null | undefined; // undefined: running; null: ended; an Error: ended by it
  readonly #started = Date.now();
  #readable: ReadableStream<Uint8Array<ArrayBuffer>> | undefined;
  #writable: WritableStream<Uint8Array<ArrayBufferLike>> | undefined;

  constructor(
    tunnel: UserspaceTunnel,
    control: Deno.Conn,
    sock: dgram.Socket,
    client: { hostname: string; port: number },
    idleMs: number,
  ) {
    this.#tunnel = tunnel;
    this.#control = control;
    this.#sock = sock;
    this.#idleMs = idleMs;
    this.#clientAddr = client.hostname;
    this.#clientPort = client.port;
    const relay = sock.address();
    this.localAddr = { transport: "udp", hostname: relay.address, port: relay.port };
    this.remoteAddr = { transport: "udp", hostname: client.hostname, port: client.port };
    sock.on("message", this.#fromClient);
    sock.on("error", (e: Error) => this.#finish(e));
    this.#timer = setInterval(this.#tick, Math.min(idleMs / 2, 5_000));
    socks5UdpStats.associations++;
    socks5UdpStats.open++;
  }

  /** A datagram on the relay. */
  #fromClient = (msg: Uint8Array, rinfo: { address: string; port: number }): void => {
    const s = socks5UdpStats;
    if (
      rinfo.address !== this.#clientAddr ||
      (this.#clientPort !== 0 && rinfo.port !== this.#clientPort)
    ) {
      s.foreign++;
      return;
    }
    if (this.#clientPort === 0) this.#clientPort = rinfo.port; // the client is this one now
    const hlen = udpHeaderLen(msg);
    if (hlen < 0) {
      if (hlen === HDR_FRAG) s.fragmented++;
      else s.malformed++;
      return;
    }
    this.#last = Date.now();
    this.#moved = true;
    const port = (msg[hlen - 2] << 8) | msg[hlen - 1];
    if (port === 0) {
      s.malformed++;
      return;
    }
    const host = this.#cached(msg, hlen);
    if (host !== null) this.#forward(msg, hlen, host, port);
    else if (msg[3] === 3) this.#byName(msg, hlen, port);
    else {this.#forward(
        msg,
        hlen,
        this.#remember(msg, hlen, formatIp(msg.subarray(4, hlen - 2)), Infinity),
        port,
      );}
  };

  /** The IP of the destination if it is the last one's (no string or object made). */
  #cached(msg: Uint8Array, hlen: number): string | null {
    const n = hlen - 5; // ATYP and the address field
    if (n !== this.#lastLen || this.#lastUntil < this.#last) return null;
    for (let i = 0; i < n; i++) if (msg[3 + i] !== this.#lastKey[i]) return null;
    return this.#lastHost;
  }

  #remember(msg: Uint8Array, hlen: number, host: string, until: number): string {
    this.#lastLen = hlen - 5;
    this.#lastKey.set(msg.subarray(3, hlen - 2));
    this.#lastHost = host;
    this.#lastUntil = until;
    return host;
  }

  /** A datagram to a name: its address if known, else held while the tunnel resolves it. */
  #byName(msg: Uint8Array, hlen: number, port: number): void {
    const name = new TextDecoder().decode(msg.subarray(5, hlen - 2)).toLowerCase();
    const known = this.#names.get(name);
    if (known !== undefined && known.until > this.#last) {
      if (known.addr === null) socks5UdpStats.unresolved++;
      else this.#forward(msg, hlen, this.#remember(msg, hlen, known.addr, known.until), port);
      return;
    }
    if (this.#heldCount >= HELD) {
      socks5UdpStats.failed++;
      return;
    }
    this.#heldCount++;
    const waiting = this.#held.get(name);
    const copy = new Uint8Array(msg); // a Buffer's slice() would be a view
    if (waiting !== undefined) return void waiting.push(copy);
    this.#held.set(name, [copy]);
    this.#tunnel.dns.resolve(name).then((addrs) => addrs[0], () => null).then((addr) => {
      const held = this.#held.get(name) ?? [];
      this.#held.delete(name);
      this.#heldCount -= held.length;
      if (this.#end !== undefined) return;
      if (this.#names.size >= NAMES) this.#names.clear();
      this.#names.set(name, { addr, until: Date.now() + NAME_MS });
      for (const m of held) {
        const h = udpHeaderLen(m);
        if (addr === null) socks5UdpStats.unresolved++;
        else this.#forward(m, h, addr, (m[h - 2] << 8) | m[h - 1]);
      }
    });
  }

  /** The payload after `hlen` to `host:port` from the stack socket of its family. */
  #forward(msg: Uint8Array, hlen: number, host: string, port: number): void {
    const { stack, pool } = this.#tunnel;
    const h = host.includes(":") ? this.#h6 || this.#bind(6) : this.#h4 || this.#bind(4);
    const slot = h === 0 ? 0 : pool.allocSlot();
    if (slot === 0 || msg.length > pool.slotSize - DATA_OFF) {
      if (slot !== 0) pool.free(slot);
      socks5UdpStats.failed++;
      return;
    }
    pool.u8.set(msg, slot + DATA_OFF); // the header too: the payload is at DATA_OFF + hlen
    if (stack.udpSend(h, slot, DATA_OFF + hlen, msg.length - hlen, host, port) !== 0) {
      pool.free(slot);
      socks5UdpStats.failed++;
      return;
    }
    socks5UdpStats.toTunnel++;
    this.#tunnel.kick();
  }

  /** The association's stack socket of `family` (0 if the stack refuses one). */
  #bind(family: 4 | 6): number {
    if (this.#end !== undefined) return 0;
    let h: number;
    try {
      h = this.#tunnel.stack.udpBind(family === 4 ? "0.0.0.0" : "::", 0);
    } catch {
      return 0;
    }
    if (family === 4) this.#h4 = h;
    else this.#h6 = h;
    const { stack } = this.#tunnel;
    this.#offs.push(this.#tunnel.onUdp(h, () => {
      while (stack.udpRecv(h, this.#toClient) > 0) { /* until the queue is empty */ }
    }));
    return h;
  }

  /**
   * An answer from the tunnel: its SOCKS header is written over the datagram's own IP and UDP
   * headers in the slot (28 bytes at least; the header is at most 22), then both go in one copy.
   */
  #toClient = (payload: Uint8Array, from: Deno.NetAddr): void => {
    if (this.#end !== undefined || this.#clientPort === 0) return;
    if (from.hostname !== this.#hdrHost || from.port !== this.#hdrPort) {
      const ip = parseIp(from.hostname)!;
      this.#hdr.set([0, 0, 0, ip.length === 4 ? 1 : 4]);
      this.#hdr.set(ip, 4);
      this.#hdrLen = 6 + ip.length;
      this.#hdr[this.#hdrLen - 2] = from.port >> 8;
      this.#hdr[this.#hdrLen - 1] = from.port & 0xff;
      this.#hdrHost = from.hostname;
      this.#hdrPort = from.port;
    }
    const u8 = this.#tunnel.pool.u8, at = payload.byteOffset - this.#hdrLen;
    for (let i = 0; i < this.#hdrLen; i++) u8[at + i] = this.#hdr[i];
    this.#last = Date.now();
    this.#moved = true;
    socks5UdpStats.toClient++;
    this.#sock.send(
      u8.slice(at, payload.byteOffset + payload.length),
      this.#clientPort,
      this.#clientAddr,
    );
  };

  #tick = (): void => {
    if (Date.now() - this.#last > this.#idleMs) {
      this.#finish(new Deno.errors.TimedOut(`UDP association idle for ${this.#idleMs} ms`));
    } else if (this.#moved && this.#reader !== undefined) {
      this.#moved = false;
      const r = this.#reader;
      this.#reader = undefined;
      r.resolve(0); // the join's idle clock: something moved
    }
  };

  /** Ends the association: the relay, the stack's sockets and what they hold go back. */
  #finish(why: Error | null): void {
    if (this.#end !== undefined) return;
    this.#end = why;
    clearInterval(this.#timer);
    for (const off of this.#offs) off();
    if (this.#h4 !== 0) this.#tunnel.stack.udpClose(this.#h4);
    if (this.#h6 !== 0) this.#tunnel.stack.udpClose(this.#h6);
    this.#h4 = this.#h6 = 0;
    this.#held.clear();
    this.#heldCount = 0;
    try {
      this.#sock.close();
    } catch { /* closed */ }
    socks5UdpStats.open--;
    log.debug("Socks5 UDP association of {client} ended after {seconds} s{why}", {
      client: this.#clientAddr,
      seconds: Math.round((Date.now() - this.#started) / 1000),
      why: why === null ? "" : `: ${why.message}`,
    });
    const r = this.#reader;
    this.#reader = undefined;
    if (why === null) r?.resolve(null);
    else {
      r?.reject(why);
      try {
        this.#control.close(); // an idle end ends the control connection too
      } catch { /* closed */ }
    }
  }

  /** Resolves null at the end (a TimedOut error for an idle one), 0 while datagrams move. */
  read(_p: Uint8Array): Promise<number | null> {
    if (this.#end === null) return Promise.resolve(null);
    if (this.#end !== undefined) return Promise.reject(this.#end);
    return new Promise((resolve, reject) => this.#reader = { resolve, reject });
  }

  /** What the client sends on the control connection means nothing (RFC 1928 §7): discarded. */
  write(p: Uint8Array): Promise<number> {
    return Promise.resolve(p.length);
  }

  /** The control connection's end ends the association. */
  closeWrite(): Promise<void> {
    this.#finish(null);
    return Promise.resolve();
  }

  close(): void {
    this.#finish(null);
  }

  get readable(): ReadableStream<Uint8Array<ArrayBuffer>> {
    this.#readable ??= new ReadableStream({
      pull: async (c) => {
        while ((await this.read(new Uint8Array(0))) === 0) { /* keepalive reads */ }
        c.close();
      },
      cancel: () => this.close(),
    });
    return this.#readable;
  }

  get writable(): WritableStream<Uint8Array<ArrayBufferLike>> {
    this.#writable ??= new WritableStream({ close: () => this.closeWrite() });
    return this.#writable;
  }

  ref(): void {}
  unref(): void {}

  [Symbol.dispose](): void {
    this.close();
  }
}
