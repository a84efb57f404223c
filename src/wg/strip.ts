/**
 * `wg-quick strip`: the part of a config file that `wg setconf` accepts. As wg-quick does, every
 * line is kept as written (comments too) except, in `[Interface]`, the keys wg-quick handles
 * itself (Address, DNS, MTU, Table, PreUp, PostUp, PreDown, PostDown, SaveConfig) and tunslab's
 * own (Offload, MaxPool, MaxPeers, MetricsAddress).
 *
 * @example
 * ```ts
 * import { stripConfig } from "./strip.ts";
 * console.log(stripConfig("[Interface]\nAddress = 10.0.0.1/24\nListenPort = 51820\n"));
 * // [Interface]
 * // ListenPort = 51820
 * ```
 * @module
 */

/** Keys of `[Interface]` that are not `wg`'s (lower case). */
export const NOT_WG_KEYS: ReadonlySet<string> = new Set([
  "address",
  "dns",
  "mtu",
  "table",
  "preup",
  "postup",
  "predown",
  "postdown",
  "saveconfig",
  "offload",
  "maxpool",
  "maxpeers",
  "metricsaddress",
]);

/** `text` without the lines `wg setconf` would refuse (see the module doc). */
export function stripConfig(text: string): string {
  let iface = false;
  const out: string[] = [];
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  if (lines.at(-1) === "") lines.pop();
  for (const line of lines) {
    const stripped = line.replace(/#.*/, "");
    const key = stripped.split("=")[0].trim().toLowerCase();
    if (key.startsWith("[")) iface = key === "[interface]";
    else if (iface && stripped.includes("=") && NOT_WG_KEYS.has(key)) continue;
    out.push(line);
  }
  return out.join("\n") + "\n";
}
