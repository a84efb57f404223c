/**
 * Interface configuration through ioctl only (no `ip` subprocess, no netlink): MTU, up/down,
 * IPv4/IPv6 addresses and device routes. Needs CAP_NET_ADMIN in the interface's network namespace
 * (EPERM/EACCES errors say so). Every call opens a short-lived datagram socket for its ioctl.
 *
 * The legacy ioctls have legacy semantics: an interface has one primary IPv4 address through this
 * API (adding another replaces it), while IPv6 addresses accumulate.
 *
 * @example
 * ```ts ignore
 * import { addAddress, addRoute, setMtu, setUp } from "./net_config.ts";
 * setMtu("tsl0", 1420);
 * setUp("tsl0");
 * addAddress("tsl0", "10.77.0.1/24");
 * addAddress("tsl0", "fd77::1/64");
 * addRoute("tsl0", "10.78.0.0/24");
 * addRoute("tsl0", "fd78::/64");
 * ```
 * @module
 */

import { parseCidr } from "./endpoint.ts";
import { EADDRNOTAVAIL, EEXIST, ENODEV, ENOENT, ESRCH } from "./ffi/errno.ts";
import { ifNameBytes, IFNAMSIZ, ifreq, IFRU, InterfaceNameError } from "./ffi/ifreq.ts";
import {
  AF_INET,
  AF_INET6,
  checkSetup,
  libc,
  putAddress,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
} from "./ffi/libc.ts";
import { capNetAdminHint } from "./ffi/syscall_error.ts";

export const SIOCADDRT = 0x890b;
export const SIOCDELRT = 0x890c;
export const SIOCGIFFLAGS = 0x8913;
export const SIOCSIFFLAGS = 0x8914;
export const SIOCGIFADDR = 0x8915;
export const SIOCSIFADDR = 0x8916;
export const SIOCGIFNETMASK = 0x891b;
export const SIOCSIFNETMASK = 0x891c;
export const SIOCGIFMTU = 0x8921;
export const SIOCSIFMTU = 0x8922;
export const SIOCGIFINDEX = 0x8933;
export const SIOCDIFADDR = 0x8936;
export const SIOCSIFTXQLEN = 0x8943;
export const IFF_UP = 0x1;
export const IFF_RUNNING = 0x40;
export const RTF_UP = 0x1;
export const RTF_HOST = 0x4;

/** `sizeof(struct rtentry)` on LP64, and the offsets used. */
const RTENTRY_SIZE = 120, RT_DST = 8, RT_GENMASK = 40, RT_FLAGS = 56, RT_METRIC = 80, RT_DEV = 88;
/** `sizeof(struct in6_rtmsg)` on LP64, and the offsets used. */
const IN6_RTMSG_SIZE = 80, RTMSG_DST_LEN = 52, RTMSG_METRIC = 56, RTMSG_FLAGS = 72;
const RTMSG_IFINDEX = 76;
/** `struct in6_ifreq { struct in6_addr addr; u32 prefixlen; int ifindex; }` */
const IN6_IFREQ_SIZE = 24;

function withSocket<T>(family: number, fn: (fd: number) => T): T {
  const L = libc();
  const fd = checkSetup(
    family === AF_INET6 ? "socket(AF_INET6, SOCK_DGRAM)" : "socket(AF_INET, SOCK_DGRAM)",
    L.socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0),
  );
  try {
    return fn(fd);
  } finally {
    L.close(fd);
  }
}

function ioctl(
  fd: number,
  req: number,
  call: string,
  ifname: string,
  arg: Uint8Array<ArrayBuffer>,
  tolerate?: readonly number[],
): number {
  return checkSetup(`ioctl(${call}, ${ifname})`, libc().ioctl(fd, BigInt(req), arg), {
    hint: capNetAdminHint,
    tolerate,
  });
}

/** Host bits of `addr` beyond `prefix` cleared (a copy). */
function maskPrefix(addr: Uint8Array, prefix: number): Uint8Array {
  const out = addr.slice();
  for (let bit = prefix; bit < out.length * 8; bit++) out[bit >> 3] &= ~(0x80 >> (bit & 7));
  return out;
}

function netmask4(prefix: number): Uint8Array {
  return maskPrefix(new Uint8Array([255, 255, 255, 255]), prefix);
}

/** Writes `struct sockaddr_in { AF_INET, port 0, addr }` at `u8[off]`. */
function putSockaddrIn(u8: Uint8Array, off: number, a4: Uint8Array): void {
  u8[off] = AF_INET; // sa_family_t, little endian
  u8[off + 1] = 0;
  u8.set(a4, off + 4);
}

/** ifindex of `name` (if_nametoindex); throws SyscallError ENODEV if there is none. */
export function interfaceIndex(name: string): number {
  const bytes = ifNameBytes(name);
  const c = new Uint8Array(new ArrayBuffer(IFNAMSIZ));
  c.set(bytes);
  return checkSetup(`if_nametoindex(${name})`, libc().if_nametoindex(c) || -1);
}

/** The `int` an SIOCGIF* request reads into the ifreq union. */
function getIfreqInt(name: string, request: number, label: string): number {
  const r = ifreq(name);
  withSocket(AF_INET, (fd) => ioctl(fd, request, label, name, r.bytes));
  return r.view.getInt32(IFRU, true);
}

/** An SIOCSIF* request that takes an `int` in the ifreq union. */
function setIfreqInt(name: string, request: number, label: string, value: number): void {
  const r = ifreq(name);
  r.view.setInt32(IFRU, value, true);
  withSocket(AF_INET, (fd) => ioctl(fd, request, label, name, r.bytes));
}

/** The interface's MTU (SIOCGIFMTU). */
export function getMtu(name: string): number {
  return getIfreqInt(name, SIOCGIFMTU, "SIOCGIFMTU");
}

/**
 * The MTU of interface `index` if it is still called `name` in this network namespace
 * (SIOCGIFINDEX, then SIOCGIFMTU), else null: moved to another namespace (as wireguard-go's
 * `tests/netns.sh` does), renamed or deleted. Another interface that took the name is not it.
 */
export function mtuIfStill(name: string, index: number): number | null {
  const r = ifreq(name);
  return withSocket(AF_INET, (fd) => {
    if (ioctl(fd, SIOCGIFINDEX, "SIOCGIFINDEX", name, r.bytes, [ENODEV]) < 0) return null;
    if (r.view.getInt32(IFRU, true) !== index) return null;
    if (ioctl(fd, SIOCGIFMTU, "SIOCGIFMTU", name, r.bytes, [ENODEV]) < 0) return null;
    return r.view.getInt32(IFRU, true);
  });
}

/** Sets the MTU (SIOCSIFMTU). IPv6 on the interface needs at least 1280. */
export function setMtu(name: string, mtu: number): void {
  if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) {
    throw new RangeError(`MTU must be an integer in 68..65535, got ${mtu}`);
  }
  setIfreqInt(name, SIOCSIFMTU, "SIOCSIFMTU", mtu);
}

/**
 * Sets the transmit queue length (SIOCSIFTXQLEN, `ip link set … txqueuelen`). On a TUN
 * device it is the ring of packets waiting for the process to read them.
 */
export function setTxQueueLen(name: string, packets: number): void {
  if (!Number.isInteger(packets) || packets < 0 || packets > 0x7fffffff) {
    throw new RangeError(`txqueuelen must be a non-negative integer, got ${packets}`);
  }
  setIfreqInt(name, SIOCSIFTXQLEN, "SIOCSIFTXQLEN", packets);
}

/** `ifr_flags` (IFF_UP, IFF_RUNNING, ...) via SIOCGIFFLAGS. */
export function getFlags(name: string): number {
  const r = ifreq(name);
  withSocket(AF_INET, (fd) => ioctl(fd, SIOCGIFFLAGS, "SIOCGIFFLAGS", name, r.bytes));
  return r.view.getUint16(IFRU, true);
}

/** Brings the interface up (default) or down: read-modify-write of IFF_UP. */
export function setUp(name: string, up = true): void {
  const r = ifreq(name);
  withSocket(AF_INET, (fd) => {
    ioctl(fd, SIOCGIFFLAGS, "SIOCGIFFLAGS", name, r.bytes);
    const flags = r.view.getUint16(IFRU, true);
    r.view.setUint16(IFRU, up ? flags | IFF_UP : flags & ~IFF_UP, true);
    ioctl(fd, SIOCSIFFLAGS, "SIOCSIFFLAGS", name, r.bytes);
  });
}

/** Whether IFF_UP is set. */
export function isUp(name: string): boolean {
  return (getFlags(name) & IFF_UP) !== 0;
}

/**
 * Adds `addr/prefix` (`"10.77.0.1/24"`, `"fd77::1/64"`). IPv4: SIOCSIFADDR then SIOCSIFNETMASK on
 * an AF_INET socket (replaces the primary IPv4 address). IPv6: SIOCSIFADDR with `struct in6_ifreq`
 * on an AF_INET6 socket. Returns false if the IPv6 address was already there (EEXIST).
 */
export function addAddress(name: string, cidr: string, opts: { label?: number } = {}): boolean {
  const { addr, prefix } = parseCidr(cidr);
  if (addr.length === 4) {
    const r = ifreq(name);
    // The ioctl API holds one IPv4 address per name: further ones go on the
    // alias label "name:N", which the kernel keeps as a secondary address.
    if (opts.label) {
      const suffix = new TextEncoder().encode(`:${opts.label}`);
      const n = ifNameBytes(name).length;
      if (n + suffix.length > IFNAMSIZ - 1) {
        throw new InterfaceNameError(
          `${name}:${opts.label}`,
          "alias label too long for a second IPv4 address",
        );
      }
      r.bytes.set(suffix, n);
    }
    withSocket(AF_INET, (fd) => {
      putSockaddrIn(r.bytes, IFRU, addr);
      ioctl(fd, SIOCSIFADDR, "SIOCSIFADDR", name, r.bytes);
      putSockaddrIn(r.bytes, IFRU, netmask4(prefix));
      ioctl(fd, SIOCSIFNETMASK, "SIOCSIFNETMASK", name, r.bytes);
    });
    return true;
  }
  const req = in6Ifreq(name, addr, prefix);
  const r = withSocket(
    AF_INET6,
    (fd) => ioctl(fd, SIOCSIFADDR, "SIOCSIFADDR", name, req, [EEXIST]),
  );
  return r >= 0;
}

/**
 * Removes `addr/prefix`. IPv4: sets the address to 0.0.0.0, which deletes the primary address.
 * IPv6: SIOCDIFADDR. Returns false if the IPv6 address was not there.
 */
export function deleteAddress(name: string, cidr: string): boolean {
  const { addr, prefix } = parseCidr(cidr);
  if (addr.length === 4) {
    const r = ifreq(name);
    putSockaddrIn(r.bytes, IFRU, new Uint8Array(4));
    withSocket(AF_INET, (fd) => ioctl(fd, SIOCSIFADDR, "SIOCSIFADDR", name, r.bytes));
    return true;
  }
  const req = in6Ifreq(name, addr, prefix);
  const r = withSocket(
    AF_INET6,
    (fd) => ioctl(fd, SIOCDIFADDR, "SIOCDIFADDR", name, req, [EADDRNOTAVAIL, ENOENT]),
  );
  return r >= 0;
}

function in6Ifreq(name: string, addr: Uint8Array, prefix: number): Uint8Array<ArrayBuffer> {
  const req = new Uint8Array(new ArrayBuffer(IN6_IFREQ_SIZE));
  const dv = new DataView(req.buffer);
  req.set(addr, 0);
  dv.setUint32(16, prefix, true);
  dv.setInt32(20, interfaceIndex(name), true);
  return req;
}

/** Options for {@link addRoute} and {@link deleteRoute}. */
export interface RouteOptions {
  /** Route metric. IPv6 default 1; IPv4 default 0 (stored in `rt_metric` + 1, as route(8) does). */
  readonly metric?: number;
}

/**
 * Adds a route for `cidr` through the interface (no gateway): IPv4 via SIOCADDRT with
 * `struct rtentry` (RTF_UP, `rt_dev` = the name), IPv6 via SIOCADDRT with `struct in6_rtmsg`
 * (RTF_UP, `rtmsg_ifindex`, metric 1). Host bits are cleared. The interface must be up.
 * Returns false if the route already existed (EEXIST).
 */
export function addRoute(name: string, cidr: string, opts: RouteOptions = {}): boolean {
  return route(name, cidr, opts, SIOCADDRT, "SIOCADDRT", EEXIST);
}

/** Deletes the route {@link addRoute} adds. Returns false if there was none (ESRCH). */
export function deleteRoute(name: string, cidr: string, opts: RouteOptions = {}): boolean {
  return route(name, cidr, opts, SIOCDELRT, "SIOCDELRT", ESRCH);
}

function route(
  name: string,
  cidr: string,
  opts: RouteOptions,
  req: number,
  call: string,
  benign: number,
): boolean {
  const parsed = parseCidr(cidr);
  const dst = maskPrefix(parsed.addr, parsed.prefix);
  const prefix = parsed.prefix;
  if (dst.length === 4) {
    const dev = ifNameBytes(name);
    // struct rtentry followed by the name rt_dev points to. The kernel copies IFNAMSIZ-1 bytes
    // from rt_dev whatever the NUL, so the name gets a full IFNAMSIZ slot in the same buffer.
    const buf = new Uint8Array(new ArrayBuffer(RTENTRY_SIZE + IFNAMSIZ));
    const dv = new DataView(buf.buffer);
    putSockaddrIn(buf, RT_DST, dst);
    putSockaddrIn(buf, RT_GENMASK, netmask4(prefix));
    dv.setUint16(RT_FLAGS, RTF_UP | (prefix === 32 ? RTF_HOST : 0), true);
    dv.setInt16(RT_METRIC, (opts.metric ?? 0) + 1, true);
    buf.set(dev, RTENTRY_SIZE);
    const u32 = new Uint32Array(buf.buffer, RT_DEV, 2);
    putAddress(u32, 0, Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf))) + RTENTRY_SIZE);
    const r = withSocket(AF_INET, (fd) => ioctl(fd, req, call, name, buf, [benign]));
    return r >= 0;
  }
  const buf = new Uint8Array(new ArrayBuffer(IN6_RTMSG_SIZE));
  const dv = new DataView(buf.buffer);
  buf.set(dst, 0);
  dv.setUint16(RTMSG_DST_LEN, prefix, true);
  dv.setUint32(RTMSG_METRIC, opts.metric ?? 1, true);
  dv.setUint32(RTMSG_FLAGS, RTF_UP, true);
  dv.setInt32(RTMSG_IFINDEX, interfaceIndex(name), true);
  const r = withSocket(AF_INET6, (fd) => ioctl(fd, req, call, name, buf, [benign]));
  return r >= 0;
}
