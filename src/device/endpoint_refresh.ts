/**
 * A peer's endpoint given as a host name, looked up again while its handshakes go unanswered
 * (as `wg`'s reresolve-dns script would): a new address replaces the endpoint and, without a
 * session, an initiation goes to it at once. Called from the handshake plane's initiations.
 *
 * @example
 * ```ts
 * // refreshEndpoint(peer, peer.endpointHost!, now, resolve, peers, (p) => plane.sendInitiation(p));
 * ```
 * @module
 */

import { logger } from "../log.ts";
import type { EndpointHost, Resolve } from "../resolve/endpoint_resolution.ts";
import type { DevicePeer } from "./device_peer.ts";
import type { PeerTable } from "./peer_table.ts";

const log = logger("device");

/** Looks `peer`'s endpoint name up again; a new address replaces the endpoint. */
export function refreshEndpoint(
  peer: DevicePeer,
  host: EndpointHost,
  now: number,
  resolve: Resolve,
  peers: PeerTable,
  initiate: (peer: DevicePeer) => void,
): void {
  host.lookup(now, resolve).then((text) => {
    if (peers.byId[peer.id] !== peer || peer.endpointHost !== host) return;
    const old = peers.endpointText(peer);
    if (text === old) return;
    peers.setEndpoint(peer, text);
    log.info("Endpoint of {peer} is now {endpoint} ({host} looked up again; was {old})", {
      peer: peer.name,
      endpoint: text,
      host: host.host,
      old,
    });
    if (peer.keypairs.current === null) initiate(peer);
  }, (e) => {
    log.warning("Cannot look up endpoint host {host} of {peer} ({where}): {error}", {
      host: host.host,
      peer: peer.name,
      where: host.where,
      error: (e as Error).message,
    });
  });
}
