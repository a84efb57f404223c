/**
 * Local TCP sockets of the proxy's forwards opened through libc (src/ffi/libc.ts), so their bytes
 * can go between the kernel and the pool's slots with no copy in JavaScript
 * (src/proxy/slot_join.ts): a listener (`socket`, `SO_REUSEADDR`, `bind`, `listen`), `accept4`
 * of nonblocking, close-on-exec connections, a nonblocking `connect` finished on writability, and
 * the close with a RST. Every fd is `SOCK_NONBLOCK | SOCK_CLOEXEC`; setup failures throw a
 * `SyscallError` naming the call.
 *
 * @example
 * ```ts
 * import { acceptLocal, listenLocalTcp, closeFd } from "./local_tcp.ts";
 * const l = listenLocalTcp("127.0.0.1", 0);
 * console.log(l.port > 0, acceptLocal(l.fd) < 0); // true true (nothing to accept: -EAGAIN)
 * closeFd(l.fd);
 * ```
 * @module
 */

const EINPROGRESS = 115;
import {
  AF_INET,
  AF_INET6,
  check,
  checkSetup,
  libc,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_STREAM,
} from "../ffi/libc.ts";
import { SyscallError } from "../ffi/syscall_error.ts";
import { formatIp, parseIp } from "../wg/cidr.ts";

const SOL_SOCKET = 1, SO_REUSEADDR = 2, SO_ERROR = 4, SO_LINGER = 13;
const IPPROTO_TCP = 6, TCP_NODELAY = 1;
const IPPROTO_IPV6 = 41, IPV6_V6ONLY = 26;
export const SHUT_WR = 1;

/** One scratch for addresses and option values (setup only, never concurrent). */
const addr = new Uint8Array(new ArrayBuffer(32));
const addrLen = new Uint32Array(1);
const addrLen8 = new Uint8Array(addrLen.buffer);
const opt = new Int32Array(2);
const opt8 = new Uint8Array(opt.buffer);

/** Parses an IP of a config ("localhost" is 127.0.0.1); null for any other name. */
export function localIp(host: string): Uint8Array | null {
  return host === "localhost" ? new Uint8Array([127, 0, 0, 1]) : parseIp(host);
}

/** Writes `ip:port` as a sockaddr_in / sockaddr_in6 into the scratch; returns its length. */
function sockaddr(ip: Uint8Array, port: number): number {
  addr.fill(0);
  const dv = new DataView(addr.buffer);
  dv.setUint16(0, ip.length === 4 ? AF_INET : AF_INET6, true);
  dv.setUint16(2, port, false);
  if (ip.length === 4) {
    addr.set(ip, 4);
    return 16;
  }
  addr.set(ip, 8);
  return 28;
}

function setInt(fd: number, level: number, name: number, value: number, what: string): void {
  opt[0] = value;
  checkSetup(`setsockopt(${what})`, libc().setsockopt(fd, level, name, opt8, 4));
}

function stream(v6: boolean): number {
  return checkSetup(
    "socket(SOCK_STREAM)",
    libc().socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0),
  );
}

/** A listening socket on `host:port` (an IP or localhost; port 0: any) and its port. */
export function listenLocalTcp(host: string, port: number, backlog = 511): {
  fd: number;
  port: number;
} {
  const ip = localIp(host);
  if (ip === null) throw new TypeError(`not an IP address: "${host}"`);
  const fd = stream(ip.length === 16);
  try {
    setInt(fd, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
    if (ip.length === 16) setInt(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1, "IPV6_V6ONLY");
    const len = sockaddr(ip, port);
    checkSetup(`bind(${host}:${port})`, libc().bind(fd, addr, len));
    checkSetup("listen", libc().listen(fd, backlog));
    addrLen[0] = addr.length;
    checkSetup("getsockname", libc().getsockname(fd, addr, addrLen8));
    return { fd, port: new DataView(addr.buffer).getUint16(2, false) };
  } catch (e) {
    libc().close(fd);
    throw e;
  }
}

/**
 * The next connection of listener `fd` (nonblocking, close-on-exec, TCP_NODELAY), or `-EAGAIN`
 * when none waits. Errors of the connection itself (ECONNABORTED, ...) are returned negated too.
 */
export function acceptLocal(fd: number): number {
  addrLen[0] = addr.length;
  const c = libc().accept4(fd, addr, addrLen8, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (c < 0) return check("accept4", c, { tolerate: [103, 24, 23, 105, 12] }); // ECONNABORTED, EMFILE, ENFILE, ENOBUFS, ENOMEM
  noDelay(c);
  return c;
}

/** The peer's address of the last {@link acceptLocal} (the client, for logs and limits). */
export function acceptedPeer(): string {
  const v6 = new DataView(addr.buffer).getUint16(0, true) === AF_INET6;
  return formatIp(addr.subarray(v6 ? 8 : 4, v6 ? 24 : 8));
}

function noDelay(fd: number): void {
  opt[0] = 1;
  libc().setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, opt8, 4); // best effort: a latency matter
}

/**
 * Starts a nonblocking connect to `ip:port`; the fd is writable once it completed, and
 * {@link socketError} then tells how. Throws on an immediate failure (ECONNREFUSED, ...).
 */
export function connectLocal(ip: Uint8Array, port: number): number {
  const fd = stream(ip.length === 16);
  noDelay(fd);
  const len = sockaddr(ip, port);
  const r = check(`connect(${formatIp(ip)}:${port})`, libc().connect(fd, addr, len), {
    tolerate: [EINPROGRESS],
  });
  if (r < 0 && r !== -EINPROGRESS) {
    libc().close(fd);
    throw new SyscallError(`connect(${formatIp(ip)}:${port})`, -r);
  }
  return fd;
}

/** SO_ERROR of `fd`: 0, or the errno a nonblocking connect ended with. */
export function socketError(fd: number): number {
  opt[0] = 0;
  addrLen[0] = 4;
  checkSetup("getsockopt(SO_ERROR)", libc().getsockopt(fd, SOL_SOCKET, SO_ERROR, opt8, addrLen8));
  return opt[0];
}

/** Closes `fd` with a RST (SO_LINGER 0): the local peer sees ECONNRESET, as the tunnel's did. */
export function resetFd(fd: number): void {
  opt[0] = 1;
  opt[1] = 0;
  libc().setsockopt(fd, SOL_SOCKET, SO_LINGER, opt8, 8);
  libc().close(fd);
}

/** Closes `fd` (a FIN, unless unread data makes it a RST). */
export function closeFd(fd: number): void {
  libc().close(fd);
}
