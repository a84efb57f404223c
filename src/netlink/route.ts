/**
 * Routes over rtnetlink (`struct rtmsg` + `RTA_*`, rtnetlink(7)): add, replace, delete and dump
 * per family and table, and the kernel's route lookup toward an address (`ip route get`), which
 * gives the output interface, gateway, source and MTU. Requests are laid out as iproute2 lays
 * them (`ip route add 0.0.0.0/0 dev wg0 table 51820 proto 84` sends the same bytes as
 * `encodeRoute(RTM_NEWROUTE, …)`), tests/netlink_encoding_test.ts holds both.
 *
 * @example
 * ```ts ignore
 * import { addRoute, lookupRoute, RT_TABLE_MAIN } from "./route.ts";
 * import { NetlinkSocket } from "./netlink_socket.ts";
 * import { parseCidr, parseIp } from "../wg/cidr.ts";
 * using nl = NetlinkSocket.open();
 * addRoute(nl, { dst: parseCidr("0.0.0.0/0"), oif: 5, table: 51820, protocol: 84 });
 * const r = lookupRoute(nl, parseIp("192.0.2.1")!);
 * console.log(r.oif, r.mtu, r.table === RT_TABLE_MAIN);
 * ```
 * @module
 */

import { EEXIST, ENODEV, ESRCH } from "../ffi/errno.ts";
import { AF_INET, AF_INET6 } from "../ffi/libc.ts";
import { type Cidr, formatCidr, formatIp, maskCidr } from "../wg/cidr.ts";
import {
  attrBytes,
  type Attributes,
  attrU32,
  MessageBuilder,
  type NetlinkMessage,
  NLM_F_CREATE,
  NLM_F_EXCL,
  NLM_F_REPLACE,
  parseAttributes,
  RTM_DELROUTE,
  RTM_GETROUTE,
  RTM_NEWROUTE,
} from "./netlink_message.ts";
import type { BatchRequest, NetlinkSocket } from "./netlink_socket.ts";

/** `sizeof(struct rtmsg)`. */
export const RTMSG_SIZE = 12;

export const RT_TABLE_UNSPEC = 0;
export const RT_TABLE_DEFAULT = 253;
export const RT_TABLE_MAIN = 254;
export const RT_TABLE_LOCAL = 255;

export const RTPROT_UNSPEC = 0;
export const RTPROT_KERNEL = 2;
export const RTPROT_BOOT = 3;
export const RTPROT_STATIC = 4;

export const RT_SCOPE_UNIVERSE = 0;
export const RT_SCOPE_LINK = 253;
export const RT_SCOPE_HOST = 254;
export const RT_SCOPE_NOWHERE = 255;

export const RTN_UNSPEC = 0;
export const RTN_UNICAST = 1;
export const RTN_LOCAL = 2;
export const RTN_BLACKHOLE = 6;
export const RTN_UNREACHABLE = 7;
export const RTN_THROW = 9;

export const RTA_DST = 1;
export const RTA_OIF = 4;
export const RTA_GATEWAY = 5;
export const RTA_PRIORITY = 6;
export const RTA_PREFSRC = 7;
export const RTA_METRICS = 8;
export const RTA_TABLE = 15;
export const RTA_MARK = 16;
export const RTAX_MTU = 2;
/** rtm_flags of a lookup: report the table the route came from. */
export const RTM_F_LOOKUP_TABLE = 0x1000;

/** A route as added or dumped. */
export interface Route {
  /** Destination (host bits cleared when sent); `0.0.0.0/0` and `::/0` are the default routes. */
  readonly dst: Cidr;
  /** Table id (RT_TABLE_MAIN when unset). */
  readonly table?: number;
  /** `rtm_protocol`: who added it (RTPROT_BOOT when unset, as `ip route add`). */
  readonly protocol?: number;
  /** `rtm_scope`; unset: link for an IPv4 unicast route without gateway, else universe. */
  readonly scope?: number;
  /** `rtm_type` (RTN_UNICAST when unset). */
  readonly type?: number;
  /** Output interface index. */
  readonly oif?: number;
  readonly gateway?: Uint8Array;
  /** Metric (RTA_PRIORITY). */
  readonly metric?: number;
  readonly prefsrc?: Uint8Array;
  /** RTAX_MTU of RTA_METRICS. */
  readonly mtu?: number;
}

/** A route read back from the kernel: every field known. */
export interface RouteEntry extends Route {
  readonly table: number;
  readonly protocol: number;
  readonly scope: number;
  readonly type: number;
}

function familyOf(c: Cidr): number {
  return c.family === 4 ? AF_INET : AF_INET6;
}

/** `0.0.0.0/0 dev #5 table 51820 proto 84`: names a route in errors and logs. */
export function describeRoute(r: Route): string {
  const parts = [formatCidr(r.dst)];
  if (r.gateway) parts.push(`via ${formatIp(r.gateway)}`);
  if (r.oif !== undefined) parts.push(`dev #${r.oif}`);
  parts.push(`table ${r.table ?? RT_TABLE_MAIN}`);
  if (r.protocol !== undefined) parts.push(`proto ${r.protocol}`);
  return parts.join(" ");
}

/**
 * The request for `cmd` (RTM_NEWROUTE or RTM_DELROUTE) with `flags` (NLM_F_CREATE | NLM_F_EXCL
 * to add, | NLM_F_REPLACE to replace), header and attributes as iproute2 writes them.
 */
export function encodeRoute(cmd: number, flags: number, r: Route): MessageBuilder {
  const m = new MessageBuilder(cmd, flags, RTMSG_SIZE);
  const del = cmd === RTM_DELROUTE;
  const table = r.table ?? RT_TABLE_MAIN;
  const type = r.type ?? (del ? RTN_UNSPEC : RTN_UNICAST);
  const scope = r.scope ??
    (r.dst.family === 6
      ? RT_SCOPE_UNIVERSE
      : del
      ? RT_SCOPE_NOWHERE
      : type === RTN_UNICAST && r.gateway === undefined
      ? RT_SCOPE_LINK
      : RT_SCOPE_UNIVERSE);
  const h = m.header;
  h[0] = familyOf(r.dst);
  h[1] = r.dst.cidr;
  h[4] = table < 256 ? table : RT_TABLE_UNSPEC;
  h[5] = r.protocol ?? (del ? RTPROT_UNSPEC : RTPROT_BOOT);
  h[6] = scope;
  h[7] = type;
  m.bytes(RTA_DST, maskCidr(r.dst).bytes);
  if (table >= 256) m.u32(RTA_TABLE, table);
  if (r.gateway) m.bytes(RTA_GATEWAY, r.gateway);
  if (r.metric !== undefined) m.u32(RTA_PRIORITY, r.metric);
  if (r.prefsrc) m.bytes(RTA_PREFSRC, r.prefsrc);
  if (r.mtu !== undefined) m.beginNested(RTA_METRICS).u32(RTAX_MTU, r.mtu).endNested();
  if (r.oif !== undefined) m.u32(RTA_OIF, r.oif);
  return m;
}

/** Reads an RTM_NEWROUTE message. */
export function parseRoute(msg: NetlinkMessage): RouteEntry {
  const b = msg.body;
  const a = parseAttributes(b, RTMSG_SIZE);
  const family = b[0] === AF_INET6 ? 6 : 4;
  const len = family === 4 ? 4 : 16;
  const dst = attrBytes(a, RTA_DST) ?? new Uint8Array(len);
  return {
    dst: { family, bytes: dst, cidr: b[1] },
    table: attrU32(a, RTA_TABLE) ?? b[4],
    protocol: b[5],
    scope: b[6],
    type: b[7],
    oif: attrU32(a, RTA_OIF),
    gateway: attrBytes(a, RTA_GATEWAY),
    metric: attrU32(a, RTA_PRIORITY),
    prefsrc: attrBytes(a, RTA_PREFSRC),
    mtu: metricsMtu(a),
  };
}

function metricsMtu(a: Attributes): number | undefined {
  const m = a.get(RTA_METRICS);
  if (m === undefined) return undefined;
  const mtu = attrU32(parseAttributes(m, 0), RTAX_MTU);
  return mtu === 0 ? undefined : mtu;
}

/** Adds a route; false if it was there already (EEXIST). */
export function addRoute(nl: NetlinkSocket, r: Route): boolean {
  const q = addRouteRequest(r);
  return nl.request(q.call, q.msg, { tolerate: q.tolerate }).errno === 0;
}

/** {@link addRoute} as a request of a batch (`NetlinkSocket.requestMany`): 0 added, EEXIST there. */
export function addRouteRequest(r: Route): BatchRequest {
  const msg = encodeRoute(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, r);
  return { call: `RTM_NEWROUTE ${describeRoute(r)}`, msg, tolerate: [EEXIST] };
}

/** {@link deleteRoute} as a request of a batch: 0 deleted, ESRCH/ENODEV none there. */
export function deleteRouteRequest(r: Route): BatchRequest {
  const msg = encodeRoute(RTM_DELROUTE, 0, r);
  return { call: `RTM_DELROUTE ${describeRoute(r)}`, msg, tolerate: [ESRCH, ENODEV] };
}

/** Adds or replaces a route (`ip route replace`). */
export function replaceRoute(nl: NetlinkSocket, r: Route): void {
  const m = encodeRoute(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, r);
  nl.request(`RTM_NEWROUTE(replace) ${describeRoute(r)}`, m);
}

/**
 * Deletes the route matching `r` (destination, table, and protocol/oif when given: a delete
 * with our protocol never removes another's route). False if there was none (ESRCH, or ENODEV
 * when the interface is gone and took its routes with it).
 */
export function deleteRoute(nl: NetlinkSocket, r: Route): boolean {
  const m = encodeRoute(RTM_DELROUTE, 0, r);
  return nl.request(`RTM_DELROUTE ${describeRoute(r)}`, m, { tolerate: [ESRCH, ENODEV] })
    .errno === 0;
}

/** Options of {@link dumpRoutes}. */
export interface RouteFilter {
  /** 4 or 6; both when unset. */
  readonly family?: 4 | 6;
  readonly table?: number;
  readonly protocol?: number;
  readonly oif?: number;
}

/** Every route of the kernel's tables (all of them, `ip route show table all`), filtered. */
export function dumpRoutes(nl: NetlinkSocket, f: RouteFilter = {}): RouteEntry[] {
  const m = new MessageBuilder(RTM_GETROUTE, 0, RTMSG_SIZE);
  m.header[0] = f.family === 4 ? AF_INET : f.family === 6 ? AF_INET6 : 0;
  return nl.dump("RTM_GETROUTE(dump)", m).filter((x) => x.type === RTM_NEWROUTE).map(parseRoute)
    .filter((r) =>
      (f.family === undefined || r.dst.family === f.family) &&
      (f.table === undefined || r.table === f.table) &&
      (f.protocol === undefined || r.protocol === f.protocol) &&
      (f.oif === undefined || r.oif === f.oif)
    );
}

/** Options of {@link lookupRoute}. */
export interface LookupOptions {
  /** The fwmark of the packet looked up (`ip route get … mark N`). */
  readonly mark?: number;
}

/** The request of {@link lookupRoute}, as `ip route get ADDR [mark N]` writes it. */
export function encodeLookup(addr: Uint8Array, opts: LookupOptions = {}): MessageBuilder {
  const m = new MessageBuilder(RTM_GETROUTE, 0, RTMSG_SIZE);
  const v4 = addr.length === 4;
  m.header[0] = v4 ? AF_INET : AF_INET6;
  m.header[1] = addr.length * 8;
  if (v4) m.view.setUint32(8, RTM_F_LOOKUP_TABLE, true);
  m.bytes(RTA_DST, addr);
  if (opts.mark !== undefined) m.u32(RTA_MARK, opts.mark);
  return m;
}

/** The route the kernel picks toward `addr` (4 or 16 bytes): `ip route get ADDR`. */
export function lookupRoute(
  nl: NetlinkSocket,
  addr: Uint8Array,
  opts: LookupOptions = {},
): RouteEntry {
  const r = nl.request(`RTM_GETROUTE ${formatIp(addr)}`, encodeLookup(addr, opts));
  const reply = r.messages.find((x) => x.type === RTM_NEWROUTE);
  if (reply === undefined) throw new Error(`RTM_GETROUTE ${formatIp(addr)}: no route in the reply`);
  return parseRoute(reply);
}
