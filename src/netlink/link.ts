/**
 * Links over rtnetlink (`struct ifinfomsg` + `IFLA_*`): an interface by name or index (its
 * index, name, MTU and flags), every link, and setting the MTU (`ip link set NAME mtu N`).
 *
 * @example
 * ```ts ignore
 * import { getLink, setLinkMtu } from "./link.ts";
 * import { NetlinkSocket } from "./netlink_socket.ts";
 * using nl = NetlinkSocket.open();
 * const lo = getLink(nl, "lo")!;
 * console.log(lo.index, lo.mtu); // 1 65536
 * setLinkMtu(nl, lo.index, 65536);
 * ```
 * @module
 */

import { ENODEV } from "../ffi/errno.ts";
import { ifNameBytes } from "../ffi/ifreq.ts";
import {
  attrString,
  attrU32,
  MessageBuilder,
  type NetlinkMessage,
  parseAttributes,
  RTM_GETLINK,
  RTM_NEWLINK,
} from "./netlink_message.ts";
import type { NetlinkSocket } from "./netlink_socket.ts";

/** `sizeof(struct ifinfomsg)`. */
export const IFINFOMSG_SIZE = 16;
export const IFLA_IFNAME = 3;
export const IFLA_MTU = 4;
export const IFF_UP = 0x1;

/** A network interface. */
export interface LinkEntry {
  readonly index: number;
  readonly name: string;
  readonly mtu: number;
  /** IFF_* of `ifi_flags`. */
  readonly flags: number;
}

/** Reads an RTM_NEWLINK message. */
export function parseLink(msg: NetlinkMessage): LinkEntry {
  const b = msg.body;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const a = parseAttributes(b, IFINFOMSG_SIZE);
  return {
    index: dv.getInt32(4, true),
    name: attrString(a, IFLA_IFNAME) ?? "",
    mtu: attrU32(a, IFLA_MTU) ?? 0,
    flags: dv.getUint32(8, true),
  };
}

/** The link with this name or index, or null if there is none (ENODEV). */
export function getLink(nl: NetlinkSocket, which: string | number): LinkEntry | null {
  const m = new MessageBuilder(RTM_GETLINK, 0, IFINFOMSG_SIZE);
  if (typeof which === "number") m.view.setInt32(4, which, true);
  else {
    ifNameBytes(which); // validates: a bad name is our error, not ENODEV
    m.string(IFLA_IFNAME, which);
  }
  const r = nl.request(`RTM_GETLINK ${which}`, m, { tolerate: [ENODEV] });
  const reply = r.messages.find((x) => x.type === RTM_NEWLINK);
  return r.errno !== 0 || reply === undefined ? null : parseLink(reply);
}

/** Every link (`ip link show`). */
export function dumpLinks(nl: NetlinkSocket): LinkEntry[] {
  const m = new MessageBuilder(RTM_GETLINK, 0, IFINFOMSG_SIZE);
  return nl.dump("RTM_GETLINK(dump)", m).filter((x) => x.type === RTM_NEWLINK).map(parseLink);
}

/** The request that sets the MTU of interface `index`, as `ip link set … mtu N` writes it. */
export function encodeLinkMtu(index: number, mtu: number): MessageBuilder {
  const m = new MessageBuilder(RTM_NEWLINK, 0, IFINFOMSG_SIZE);
  m.view.setInt32(4, index, true);
  m.u32(IFLA_MTU, mtu);
  return m;
}

/** Sets the MTU of interface `index`. */
export function setLinkMtu(nl: NetlinkSocket, index: number, mtu: number): void {
  if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) {
    throw new RangeError(`MTU must be an integer in 68..65535, got ${mtu}`);
  }
  nl.request(`RTM_NEWLINK #${index} mtu ${mtu}`, encodeLinkMtu(index, mtu));
}
