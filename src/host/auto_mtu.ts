/**
 * The MTU of an interface whose config sets none, as wg-quick's `set_mtu_up` chooses it: the
 * smallest MTU of the routes toward the peers' endpoints (the route's own `mtu`, else its
 * output interface's), or, without endpoints, of the main table's IPv4 default route (1500
 * without one), minus the 80 bytes of WireGuard's worst-case overhead (IPv6 40 + UDP 8 +
 * WireGuard 32). An endpoint without a route is skipped, as `ip route get` failing is there.
 *
 * @example
 * ```ts ignore
 * import { autoMtu } from "./auto_mtu.ts";
 * import { NetlinkSocket } from "../netlink/netlink_socket.ts";
 * using nl = NetlinkSocket.open();
 * console.log(autoMtu(nl, ["192.0.2.1:51820"])); // 1420 behind a 1500-byte link
 * ```
 * @module
 */

import { parseEndpoint } from "../endpoint.ts";
import { getLink } from "../netlink/link.ts";
import type { NetlinkSocket } from "../netlink/netlink_socket.ts";
import { dumpRoutes, lookupRoute, type RouteEntry, RT_TABLE_MAIN } from "../netlink/route.ts";

/** WireGuard's overhead on the worst (IPv6) underlay. */
export const WIREGUARD_OVERHEAD = 80;
/** The underlay MTU assumed when nothing says otherwise. */
const FALLBACK_UNDERLAY_MTU = 1500;

function routeMtu(nl: NetlinkSocket, r: RouteEntry): number | undefined {
  if (r.mtu !== undefined && r.mtu > 0) return r.mtu;
  if (r.oif === undefined) return undefined;
  return getLink(nl, r.oif)?.mtu;
}

/**
 * The MTU for a tunnel to `endpoints` (`host:port` / `[v6]:port` literals). `mark` is the fwmark
 * the tunnel's UDP carries (the lookup then sees what those packets see).
 */
export function autoMtu(nl: NetlinkSocket, endpoints: readonly string[], mark?: number): number {
  let mtu = Infinity;
  for (const text of endpoints) {
    let found: number | undefined;
    try {
      const ep = parseEndpoint(text);
      found = routeMtu(nl, lookupRoute(nl, ep.addr, { mark }));
    } catch {
      continue; // no route toward it (ENETUNREACH), as `ip route get … || true`
    }
    if (found !== undefined && found < mtu) mtu = found;
  }
  if (mtu === Infinity) {
    const def = dumpRoutes(nl, { family: 4, table: RT_TABLE_MAIN }).find((r) => r.dst.cidr === 0);
    const found = def === undefined ? undefined : routeMtu(nl, def);
    if (found !== undefined) mtu = found;
  }
  if (!(mtu > 0 && mtu < Infinity)) mtu = FALLBACK_UNDERLAY_MTU;
  return mtu - WIREGUARD_OVERHEAD;
}
