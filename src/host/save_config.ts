/**
 * `SaveConfig = true` and `tunslab save`: the running configuration written back to its file as
 * wg-quick's `save_config` writes it — an `[Interface]` with the addresses, DNS, MTU, Table,
 * `SaveConfig = true` and the hooks, then what `wg showconf` prints (listen port, fwmark, private
 * key, the peers with their keys, AllowedIPs, endpoints and keepalives) — plus tunslab's own keys
 * (`Offload`, `MaxPool`, `MaxPeers`, `MetricsAddress`) when they differ from the defaults. Comments are dropped, as wg-quick
 * drops them. Written atomically (a 0600 temporary file next to it, fsync, rename).
 *
 * @example
 * ```ts
 * import { formatShowconf } from "./save_config.ts";
 * console.log(formatShowconf({ privateKey: null, listenPort: 51820, fwmark: 0, peers: [] }));
 * // [Interface]
 * // ListenPort = 51820
 * ```
 * @module
 */
import { type Cidr, formatCidr } from "../wg/cidr.ts";
import type { Interface } from "../wg/config.ts";
import { encodeBase64Key } from "../wg/keys.ts";
import type { UapiState } from "../uapi/uapi_types.ts";

/** What `wg showconf` prints for `state` (wireguard-tools' showconf.c, line for line). */
export function formatShowconf(state: UapiState): string {
  const out = ["[Interface]"];
  if (state.listenPort) out.push(`ListenPort = ${state.listenPort}`);
  if (state.fwmark) out.push(`FwMark = 0x${state.fwmark.toString(16)}`);
  if (state.privateKey !== null) out.push(`PrivateKey = ${encodeBase64Key(state.privateKey)}`);
  out.push("");
  state.peers.forEach((p, i) => {
    out.push("[Peer]", `PublicKey = ${encodeBase64Key(p.publicKey)}`);
    if (p.presharedKey !== null) out.push(`PresharedKey = ${encodeBase64Key(p.presharedKey)}`);
    if (p.allowedIps.length > 0) {
      out.push(`AllowedIPs = ${p.allowedIps.map((c: Cidr) => formatCidr(c)).join(", ")}`);
    }
    if (p.endpoint !== null) out.push(`Endpoint = ${p.endpoint}`);
    if (p.persistentKeepaliveInterval) {
      out.push(`PersistentKeepalive = ${p.persistentKeepaliveInterval}`);
    }
    if (i < state.peers.length - 1) out.push("");
  });
  return out.join("\n") + "\n";
}

/** The `[Interface]` lines wg-quick adds in front of showconf's, and tunslab's own keys. */
export function interfaceLines(
  i: Interface,
  live: { addresses: string[]; mtu: number | null },
): string[] {
  const out = live.addresses.map((a) => `Address = ${a}`);
  const dns = [...i.dns, ...i.dnsSearch];
  if (dns.length > 0) out.push(`DNS = ${dns.join(", ")}`);
  if (live.mtu !== null) out.push(`MTU = ${live.mtu}`);
  if (i.table !== null) out.push(`Table = ${i.table}`);
  out.push("SaveConfig = true");
  for (
    const [key, hooks] of [
      ["PreUp", i.preUp],
      ["PostUp", i.postUp],
      ["PreDown", i.preDown],
      ["PostDown", i.postDown],
    ] as const
  ) {
    for (const h of hooks) out.push(`${key} = ${h}`);
  }
  if (!i.offload) out.push("Offload = off");
  if (i.maxPool !== null) out.push(`MaxPool = ${i.maxPool}`);
  if (i.maxPeers) out.push(`MaxPeers = ${i.maxPeers}`);
  if (i.metricsAddress) out.push(`MetricsAddress = ${i.metricsAddress}`);
  return out;
}

/** The whole saved file: wg-quick's `[Interface]` lines spliced into showconf's output. */
export function formatSavedConfig(
  i: Interface,
  state: UapiState,
  live: { addresses: string[]; mtu: number | null },
): string {
  const show = formatShowconf(state);
  return show.replace("[Interface]\n", ["[Interface]", ...interfaceLines(i, live), ""].join("\n"));
}

/** Writes `text` to `path` atomically: a 0600 temporary file beside it, fsync, rename. */
export async function writeAtomically(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp`;
  try {
    await Deno.remove(tmp).catch(() => {}); // a leftover keeps its old mode through `create`
    using f = await Deno.open(tmp, { write: true, createNew: true, mode: 0o600 });
    await f.write(new TextEncoder().encode(text));
    await f.sync();
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw new Error(`Could not write configuration file ${tmp}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  await Deno.rename(tmp, path);
}
