/**
 * Interface addresses over rtnetlink (`struct ifaddrmsg` + `IFA_*`): add, delete and dump, IPv4
 * and IPv6 alike. Unlike the legacy ioctls (src/net_config.ts), any number of IPv4 addresses go
 * on one interface, each under the interface's own name: no `wg0:1` alias label. Requests are
 * laid out as `ip addr add 10.7.0.1/24 dev wg0` lays them (IFA_LOCAL, then IFA_ADDRESS).
 *
 * @example
 * ```ts ignore
 * import { addAddress, dumpAddresses } from "./address.ts";
 * import { NetlinkSocket } from "./netlink_socket.ts";
 * import { parseCidr } from "../wg/cidr.ts";
 * using nl = NetlinkSocket.open();
 * addAddress(nl, 5, parseCidr("10.7.0.1/24"));
 * addAddress(nl, 5, parseCidr("10.8.0.1/24")); // a second IPv4 address, label "wg0" too
 * console.log(dumpAddresses(nl, 5).length);
 * ```
 * @module
 */

import { EADDRNOTAVAIL, EEXIST, ENODEV } from "../ffi/errno.ts";
import { AF_INET, AF_INET6 } from "../ffi/libc.ts";
import { type Cidr, formatCidr } from "../wg/cidr.ts";
import {
  attrBytes,
  attrString,
  attrU32,
  MessageBuilder,
  type NetlinkMessage,
  NLM_F_CREATE,
  NLM_F_EXCL,
  parseAttributes,
  RTM_DELADDR,
  RTM_GETADDR,
  RTM_NEWADDR,
} from "./netlink_message.ts";
import { getLink } from "./link.ts";
import { NetlinkSocket } from "./netlink_socket.ts";

/** `sizeof(struct ifaddrmsg)`. */
export const IFADDRMSG_SIZE = 8;
export const IFA_ADDRESS = 1;
export const IFA_LOCAL = 2;
export const IFA_LABEL = 3;
export const IFA_FLAGS = 8;
export const IFA_F_SECONDARY = 0x01;
export const IFA_F_NODAD = 0x02;
export const IFA_F_PERMANENT = 0x80;

/** An address on an interface. */
export interface AddressEntry {
  readonly index: number;
  /** Address with its prefix length (host bits kept). */
  readonly address: Cidr;
  /** IFA_F_* (the 32-bit IFA_FLAGS when the kernel sent it). */
  readonly flags: number;
  readonly scope: number;
  /** IPv4 label (the interface name, or an alias `name:N`). */
  readonly label?: string;
}

/** The request for `cmd` (RTM_NEWADDR or RTM_DELADDR) for `address` on interface `index`. */
export function encodeAddress(
  cmd: number,
  flags: number,
  index: number,
  address: Cidr,
  ifaFlags = 0,
): MessageBuilder {
  const m = new MessageBuilder(cmd, flags, IFADDRMSG_SIZE);
  m.header[0] = address.family === 4 ? AF_INET : AF_INET6;
  m.header[1] = address.cidr;
  if (ifaFlags <= 0xff) m.header[2] = ifaFlags;
  m.view.setUint32(4, index, true);
  m.bytes(IFA_LOCAL, address.bytes);
  m.bytes(IFA_ADDRESS, address.bytes);
  if (ifaFlags > 0xff) m.u32(IFA_FLAGS, ifaFlags);
  return m;
}

/** Reads an RTM_NEWADDR message. */
export function parseAddress(msg: NetlinkMessage): AddressEntry {
  const b = msg.body;
  const a = parseAttributes(b, IFADDRMSG_SIZE);
  const family = b[0] === AF_INET6 ? 6 : 4;
  const bytes = attrBytes(a, IFA_LOCAL) ?? attrBytes(a, IFA_ADDRESS) ??
    new Uint8Array(family === 4 ? 4 : 16);
  return {
    index: new DataView(b.buffer, b.byteOffset + 4, 4).getUint32(0, true),
    address: { family, bytes, cidr: b[1] },
    flags: attrU32(a, IFA_FLAGS) ?? b[2],
    scope: b[3],
    label: attrString(a, IFA_LABEL),
  };
}

/** Adds `address` to interface `index`; false if it was there already (EEXIST). */
export function addAddress(nl: NetlinkSocket, index: number, address: Cidr, flags = 0): boolean {
  const m = encodeAddress(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, index, address, flags);
  const call = `RTM_NEWADDR ${formatCidr(address)} dev #${index}`;
  return nl.request(call, m, { tolerate: [EEXIST] }).errno === 0;
}

/** Removes `address` from interface `index`; false if it was not there. */
export function deleteAddress(nl: NetlinkSocket, index: number, address: Cidr): boolean {
  const m = encodeAddress(RTM_DELADDR, 0, index, address);
  const call = `RTM_DELADDR ${formatCidr(address)} dev #${index}`;
  return nl.request(call, m, { tolerate: [EADDRNOTAVAIL, ENODEV] }).errno === 0;
}

/** The addresses of interface `index` (every interface when unset), IPv4 then IPv6. */
export function dumpAddresses(nl: NetlinkSocket, index?: number): AddressEntry[] {
  const out: AddressEntry[] = [];
  for (const family of [AF_INET, AF_INET6]) {
    const m = new MessageBuilder(RTM_GETADDR, 0, IFADDRMSG_SIZE);
    m.header[0] = family;
    for (const msg of nl.dump(`RTM_GETADDR(dump)`, m)) {
      if (msg.type !== RTM_NEWADDR) continue;
      const a = parseAddress(msg);
      if (index === undefined || a.index === index) out.push(a);
    }
  }
  return out;
}

/**
 * Adds `addresses` to the interface named `ifname` over a socket of its own (an address already
 * there is no error): any number of IPv4 ones, each labelled with the interface's name.
 */
export function addAddresses(ifname: string, addresses: readonly Cidr[]): void {
  if (addresses.length === 0) return;
  using nl = NetlinkSocket.open();
  const link = getLink(nl, ifname);
  if (link === null) throw new Error(`RTM_GETLINK ${ifname}: no such interface`);
  for (const a of addresses) addAddress(nl, link.index, a);
}
