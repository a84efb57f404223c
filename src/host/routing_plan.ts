/**
 * Where a tunnel's routes go, decided as wg-quick decides (wireguard-tools
 * `src/wg-quick/linux.bash`: `add_route`, `add_default`, `get_fwmark`), as pure functions of the
 * config and of what the host's tables hold. src/host/policy_routing.ts carries the decisions
 * out.
 *
 * - `Table = off`: no routes at all.
 * - `Table = N` (a number or a name of `/etc/iproute2/rt_tables`): every AllowedIPs prefix goes to
 *   table N, with no rules and no fwmark.
 * - `Table = auto` (or unset): a `/0` (per family) is a full tunnel: its route goes to table T
 *   (the configured FwMark, else 51820 or the next free table), packets without mark T are sent
 *   there by the rule `not fwmark T lookup T`, and `lookup main suppress_prefixlength 0` keeps
 *   the main table's more specific routes; the device's own UDP carries mark T and so leaves
 *   through the main table. Other prefixes go to the main table.
 *
 * @example
 * ```ts
 * import { chooseTable, parseTableSetting, placeRoute } from "./routing_plan.ts";
 * import { parseCidr } from "../wg/cidr.ts";
 * const setting = parseTableSetting(null); // { kind: "auto" }
 * const table = chooseTable(null, (t) => t === 51820); // 51821: 51820 has routes
 * console.log(placeRoute(setting, parseCidr("0.0.0.0/0"), table)); // { table: 51821, fullTunnel: true }
 * console.log(placeRoute(setting, parseCidr("10.0.0.0/8"), table)); // { table: 254, fullTunnel: false }
 * ```
 * @module
 */

import type { Cidr } from "../wg/cidr.ts";

/**
 * `rtm_protocol` of every route and rule tunslab adds (`ip route show proto 84`): how cleanup
 * tells its own objects from everyone else's. 84 is ASCII "T"; no routing daemon in
 * `/etc/iproute2/rt_protos` uses it.
 */
export const RTPROT_TUNSLAB = 84;
/** wg-quick's first table and fwmark for a full tunnel. */
export const FULL_TUNNEL_TABLE = 51820;
/** The main table. */
export const MAIN_TABLE = 254;

/** The `Table` key, parsed. */
export type TableSetting =
  | { readonly kind: "auto" }
  | { readonly kind: "off" }
  | { readonly kind: "table"; readonly id: number };

/** A `Table` value that is neither off, auto, a number nor a known table name. */
export class TableSettingError extends Error {
  override name = "TableSettingError";
  constructor(readonly value: string, detail: string) {
    super(`Table = ${value}: ${detail}`);
  }
}

/** Names iproute2 knows without its file. */
const BUILTIN_TABLES: Record<string, number> = { default: 253, main: 254, local: 255 };

/**
 * Parses `Table`: null/`auto` → auto, `off`, a number 1..2^32-1, or a name looked up in
 * `rtTables` (the text of `/etc/iproute2/rt_tables`, `ID NAME` lines) and the built-in names.
 */
export function parseTableSetting(value: string | null, rtTables = ""): TableSetting {
  if (value === null) return { kind: "auto" };
  const v = value.trim();
  const lower = v.toLowerCase();
  if (lower === "auto") return { kind: "auto" };
  if (lower === "off") return { kind: "off" };
  if (/^(0x[0-9a-fA-F]+|[0-9]+)$/.test(v)) {
    const id = Number(v);
    if (id < 1 || id > 0xffffffff) throw new TableSettingError(value, "not a table id (1..2^32-1)");
    return { kind: "table", id };
  }
  for (const line of rtTables.split("\n")) {
    const m = /^\s*(0x[0-9a-fA-F]+|[0-9]+)\s+(\S+)/.exec(line.replace(/#.*/, ""));
    if (m !== null && m[2] === v) return { kind: "table", id: Number(m[1]) };
  }
  const builtin = BUILTIN_TABLES[v];
  if (builtin !== undefined) return { kind: "table", id: builtin };
  throw new TableSettingError(value, "neither off, auto, a number nor a table in rt_tables");
}

/** The families (4, 6) that have a `/0` among `prefixes`. */
export function fullTunnelFamilies(prefixes: Iterable<Cidr>): Set<4 | 6> {
  const out = new Set<4 | 6>();
  for (const c of prefixes) if (c.cidr === 0) out.add(c.family);
  return out;
}

/**
 * The table (and fwmark) of a full tunnel: the configured FwMark when set (not 0), else 51820, or
 * the next number whose table is not `taken` (has routes or rules), as wg-quick's `add_default`.
 */
export function chooseTable(fwMark: number | null, taken: (table: number) => boolean): number {
  if (fwMark !== null && fwMark !== 0) return fwMark;
  let t = FULL_TUNNEL_TABLE;
  while (taken(t)) t++;
  return t;
}

/** Where one route goes: its table, and whether it is a full tunnel's `/0`. */
export interface Placement {
  readonly table: number;
  readonly fullTunnel: boolean;
}

/**
 * Where the route for `prefix` goes, or null for none (`Table = off`). `fullTunnelTable` is the
 * table {@link chooseTable} gave (auto mode with a `/0`).
 */
export function placeRoute(
  setting: TableSetting,
  prefix: Cidr,
  fullTunnelTable: number | null,
): Placement | null {
  switch (setting.kind) {
    case "off":
      return null;
    case "table":
      return { table: setting.id, fullTunnel: false };
    case "auto":
      if (prefix.cidr === 0) {
        if (fullTunnelTable === null) throw new Error("a full tunnel needs its table chosen");
        return { table: fullTunnelTable, fullTunnel: true };
      }
      return { table: MAIN_TABLE, fullTunnel: false };
  }
}

/**
 * The priority of the rule `not fwmark T lookup T` and the one below it for `lookup main
 * suppress_prefixlength 0`: what the kernel picks for a rule added without one (one below the
 * first rule after priority 0), so the pair lands where wg-quick's lands (32765 and 32764 on a
 * host with the default rules).
 */
export function rulePriorities(existing: readonly number[]): { mark: number; suppress: number } {
  const first = [...existing].sort((a, b) => a - b).find((p) => p > 0);
  const mark = first === undefined ? 32765 : Math.max(2, first - 1);
  return { mark, suppress: mark - 1 };
}
