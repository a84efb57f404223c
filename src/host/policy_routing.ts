/**
 * A tunnel's routing on the host, applied and undone: the kernel routes that follow AllowedIPs
 * (through the {@link KernelRoutes} the device calls), placed as src/host/routing_plan.ts says,
 * and for a full tunnel (`0.0.0.0/0`, `::/0` with `Table = auto`) what wg-quick's `add_default`
 * adds: the fwmark (the configured one, else 51820 or the next free table), the `/0` route in the
 * table of that number, the rules `not fwmark T lookup T` and `lookup main suppress_prefixlength
 * 0`, `net.ipv4.conf.all.src_valid_mark = 1` and the nftables table of src/host/nft_table.ts.
 *
 * Every route and rule carries the protocol tag {@link RTPROT_TUNSLAB}; every rule and nftables
 * table is written to the journal (src/host/routing_journal.ts) before it is added. On
 * {@link PolicyRouting.close} (SIGTERM, SIGINT, a failed start, the interface deleted from
 * outside) everything is removed again; {@link PolicyRouting.prepare} first removes what a
 * killed run of the same interface in the same namespace left (its journal's rules, matched on
 * every field, and the `tunslab-IFACE` tables), and nothing else.
 *
 * @example
 * ```ts ignore
 * import { PolicyRouting } from "./policy_routing.ts";
 * import { parseConfigFile } from "../wg/config.ts";
 * const { config } = await parseConfigFile("wg0.conf");
 * const routing = await PolicyRouting.prepare({ ifname: "wg0", config });
 * // Device.create({ name: "wg0", config: routing.config, kernelRoutes: (n) => routing.kernelRoutes(n) })
 * await routing.settled();
 * await routing.close();
 * ```
 * @module
 */

import type { KernelRoutes, RouteFailure } from "../device/peer_table.ts";
import { logger } from "../log.ts";
import { getLink } from "../netlink/link.ts";
import { type BatchRequest, NetlinkSocket } from "../netlink/netlink_socket.ts";
import {
  addRoute,
  addRouteRequest,
  deleteRoute,
  deleteRouteRequest,
  dumpRoutes,
  type Route,
} from "../netlink/route.ts";
import { addRule, deleteRule, dumpRules, type Rule } from "../netlink/rule.ts";
import { type Cidr, formatCidr, maskCidr, parseCidr } from "../wg/cidr.ts";
import type { Config } from "../wg/config.ts";
import { autoMtu } from "./auto_mtu.ts";
import {
  nftApply,
  nftDeleteScript,
  nftFamily,
  nftListTables,
  NftMissingError,
  nftScript,
  nftTableName,
} from "./nft_table.ts";
import {
  currentNetns,
  JOURNAL_DIR,
  journalPath,
  listJournals,
  readJournal,
  removeJournal,
  type RoutingJournal,
  writeJournal,
} from "./routing_journal.ts";
import {
  chooseTable,
  fullTunnelFamilies,
  MAIN_TABLE,
  parseTableSetting,
  placeRoute,
  RTPROT_TUNSLAB,
  rulePriorities,
  type TableSetting,
} from "./routing_plan.ts";
import { readSrcValidMark, writeSrcValidMark } from "./src_valid_mark.ts";

export { RTPROT_TUNSLAB } from "./routing_plan.ts";

const log = logger("routing");

/** Options of {@link PolicyRouting.prepare}. */
export interface PolicyRoutingOptions {
  /** The interface (it does not exist yet). */
  readonly ifname: string;
  readonly config: Config;
  /** Where journals go; default /run/tunslab. */
  readonly runDir?: string;
  /** The nft binary; default `nft` on PATH. */
  readonly nft?: string;
  /** Text of /etc/iproute2/rt_tables (for `Table = NAME`); read from there when unset. */
  readonly rtTables?: string;
}

/** What one family's full tunnel added. */
interface FullTunnel {
  readonly route: Route;
  readonly rules: Rule[];
  readonly nftTable: string;
}

function readRtTables(): string {
  try {
    return Deno.readTextFileSync("/etc/iproute2/rt_tables");
  } catch {
    return "";
  }
}

/** The routing of one tunnel: its plan, what it added, and the undoing of it. */
export class PolicyRouting {
  /** The config to create the device with: FwMark set when a full tunnel needs one. */
  readonly config: Config;
  readonly setting: TableSetting;
  /** Called with the mark when a full tunnel first appears at run time (`wg set … 0.0.0.0/0`). */
  setFwmark: ((mark: number) => number) | undefined;
  #table: number | null;
  readonly #nl: NetlinkSocket;
  readonly #ifname: string;
  readonly #addresses: readonly Cidr[];
  readonly #nft: string;
  readonly #dir: string;
  readonly #path: string;
  readonly #journal: RoutingJournal;
  #journalWritten = false;
  #journalWarned = false;
  #index = 0;
  readonly #routes = new Map<string, Route>();
  readonly #full = new Map<4 | 6, FullTunnel>();
  #nftQueue: Promise<void> = Promise.resolve();
  #failures: Error[] = [];
  #started = false;
  #closed = false;

  private constructor(
    opts: PolicyRoutingOptions,
    nl: NetlinkSocket,
    setting: TableSetting,
    table: number | null,
    netns: string,
  ) {
    this.#nl = nl;
    this.#ifname = opts.ifname;
    this.#addresses = opts.config.interface.addresses;
    this.#nft = opts.nft ?? "nft";
    this.#dir = opts.runDir ?? JOURNAL_DIR;
    this.#path = journalPath(opts.ifname, netns, this.#dir);
    this.setting = setting;
    this.#table = table;
    this.#journal = {
      version: 1,
      interface: opts.ifname,
      pid: Deno.pid,
      netns,
      rules: [],
      nftTables: [],
      srcValidMark: false,
    };
    const i = opts.config.interface;
    this.config = table === null || (i.fwMark ?? 0) !== 0
      ? opts.config
      : { ...opts.config, interface: { ...i, fwMark: table } };
  }

  /**
   * Parses `Table`, removes the leftovers of a killed run of this interface (when no link of that
   * name exists here), and chooses the full tunnel's table and fwmark. Nothing is added yet.
   */
  static async prepare(opts: PolicyRoutingOptions): Promise<PolicyRouting> {
    const setting = parseTableSetting(opts.config.interface.table, opts.rtTables ?? readRtTables());
    const nl = NetlinkSocket.open();
    try {
      const netns = currentNetns();
      const dir = opts.runDir ?? JOURNAL_DIR;
      if (getLink(nl, opts.ifname) === null) {
        await removeLeftovers(nl, opts.ifname, journalPath(opts.ifname, netns, dir), {
          nft: opts.nft ?? "nft",
          dir,
        });
      }
      const families = fullTunnelFamilies(opts.config.peers.flatMap((p) => p.allowedIps));
      const table = setting.kind === "auto" && families.size > 0
        ? chooseTable(opts.config.interface.fwMark, takenTables(nl))
        : null;
      return new PolicyRouting(opts, nl, setting, table, netns);
    } catch (e) {
      nl.close();
      throw e;
    }
  }

  /** The full tunnel's table and fwmark, or null (no `/0`, or `Table` not auto). */
  get table(): number | null {
    return this.#table;
  }

  /** The routes the device keeps in step with AllowedIPs, through interface `ifname`. */
  kernelRoutes(ifname: string): KernelRoutes {
    const link = getLink(this.#nl, ifname);
    if (link === null) throw new Error(`RTM_GETLINK ${ifname}: no such interface`);
    this.#index = link.index;
    return {
      everyPrefix: this.setting.kind === "table",
      add: (prefix) => this.#guard(() => this.#add(prefix)),
      remove: (prefix) => this.#guard(() => this.#remove(prefix)),
      apply: (add, remove) => this.#apply(add, remove),
    };
  }

  /**
   * Many route changes in one rtnetlink stream (thousands of peers' prefixes). The full-tunnel
   * prefixes (rules, nftables) go one by one as in {@link #add}. Returns the failures.
   */
  #apply(add: readonly string[], remove: readonly string[]): RouteFailure[] {
    const failures: RouteFailure[] = [];
    const reqs: BatchRequest[] = [], after: (() => void)[] = [], prefixes: string[] = [];
    const one = (prefix: string, fn: () => void) => {
      try {
        this.#guard(fn);
      } catch (e) {
        failures.push({ prefix, error: e as Error });
      }
    };
    for (const prefix of remove) {
      const c = maskCidr(parseCidr(prefix));
      const key = formatCidr(c);
      const route = this.#routes.get(key);
      if (c.cidr === 0 && this.#full.has(c.family)) one(prefix, () => this.#remove(prefix));
      else if (route !== undefined) {
        this.#routes.delete(key);
        reqs.push(deleteRouteRequest(route));
        after.push(() => {});
        prefixes.push(prefix);
      }
    }
    for (const prefix of add) {
      const c = maskCidr(parseCidr(prefix));
      if (this.setting.kind === "auto" && c.cidr === 0) {
        one(prefix, () => this.#add(prefix));
        continue;
      }
      const place = placeRoute(this.setting, c, this.#table);
      if (place === null) continue;
      const route: Route = {
        dst: c,
        oif: this.#index,
        table: place.table,
        protocol: RTPROT_TUNSLAB,
      };
      reqs.push(addRouteRequest(route));
      after.push(() => this.#routes.set(formatCidr(c), route));
      prefixes.push(prefix);
    }
    const results = this.#nl.requestMany(reqs);
    results.forEach((r, i) => {
      if (r === 0) after[i]();
      else if (typeof r !== "number") {
        failures.push({ prefix: prefixes[i], error: r });
        if (!this.#started) this.#failures.push(r); // a start that cannot route fails
      }
    });
    return failures;
  }

  /** The MTU for an interface without `MTU`, toward these endpoints (src/host/auto_mtu.ts). */
  autoMtu(endpoints: readonly string[]): number {
    return autoMtu(this.#nl, endpoints, this.#table ?? undefined);
  }

  /**
   * Waits for the nftables work queued so far; throws the first failure of the start (a rule or
   * route the full tunnel needs that could not be added). Later failures are only logged.
   */
  async settled(): Promise<void> {
    await this.#nftQueue;
    this.#started = true;
    if (this.#failures.length > 0) throw this.#failures[0];
    if (this.#table !== null && this.#full.size > 0) {
      log.info("Full tunnel on {interface} for {families} through table {table}, fwmark {table}", {
        interface: this.#ifname,
        families: [...this.#full.keys()].sort().map((f) => `IPv${f}`),
        table: this.#table,
      });
    }
  }

  #guard(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      if (!this.#started) this.#failures.push(e as Error);
      throw e;
    }
  }

  #add(prefix: string): void {
    const c = maskCidr(parseCidr(prefix));
    if (this.setting.kind === "auto" && c.cidr === 0) return this.#addFullTunnel(c);
    const place = placeRoute(this.setting, c, this.#table);
    if (place === null) return;
    const route: Route = { dst: c, oif: this.#index, table: place.table, protocol: RTPROT_TUNSLAB };
    if (addRoute(this.#nl, route)) this.#routes.set(formatCidr(c), route);
  }

  #remove(prefix: string): void {
    const c = maskCidr(parseCidr(prefix));
    if (c.cidr === 0 && this.#full.has(c.family)) return this.#removeFullTunnel(c.family);
    const key = formatCidr(c);
    const route = this.#routes.get(key);
    if (route === undefined) return;
    this.#routes.delete(key);
    deleteRoute(this.#nl, route);
  }

  #addFullTunnel(dst: Cidr): void {
    const family = dst.family;
    if (this.#full.has(family)) return;
    if (this.#table === null) {
      this.#table = chooseTable(null, takenTables(this.#nl));
      if ((this.setFwmark?.(this.#table) ?? -1) < 0) {
        log.warning("Full tunnel on {interface}: cannot set fwmark {table}", {
          interface: this.#ifname,
          table: this.#table,
        });
      }
    }
    const table = this.#table;
    const route: Route = { dst, oif: this.#index, table, protocol: RTPROT_TUNSLAB };
    const full: FullTunnel = {
      route,
      rules: [],
      nftTable: `${nftFamily(family)} ${nftTableName(this.#ifname)}`,
    };
    this.#full.set(family, full);
    addRoute(this.#nl, route);
    const prio = rulePriorities(dumpRules(this.#nl, family).map((r) => r.priority));
    const rules: Rule[] = [
      {
        family,
        priority: prio.mark,
        invert: true,
        fwmark: table,
        table,
        protocol: RTPROT_TUNSLAB,
      },
      {
        family,
        priority: prio.suppress,
        table: MAIN_TABLE,
        suppressPrefixlen: 0,
        protocol: RTPROT_TUNSLAB,
      },
    ];
    for (const r of rules) {
      this.#journal.rules.push(r);
      this.#save();
      addRule(this.#nl, r);
      full.rules.push(r);
    }
    if (family === 4) this.#setSrcValidMark();
    this.#journal.nftTables.push(full.nftTable);
    this.#save();
    const script = nftScript(family, this.#ifname, table, this.#addresses);
    this.#queue(() => nftApply(script, this.#nft), `add table ${full.nftTable}`);
  }

  #removeFullTunnel(family: 4 | 6): void {
    const full = this.#full.get(family);
    if (full === undefined) return;
    this.#full.delete(family);
    const errors: Error[] = [];
    for (const r of full.rules) {
      try {
        deleteRule(this.#nl, r);
      } catch (e) {
        errors.push(e as Error);
      }
    }
    this.#journal.rules = this.#journal.rules.filter((r) => !full.rules.includes(r));
    this.#save();
    try {
      deleteRoute(this.#nl, full.route);
    } catch (e) {
      errors.push(e as Error);
    }
    if (family === 4) {
      try {
        resetSrcValidMark(this.#nl, this.#journal);
      } catch (e) {
        errors.push(e as Error);
      }
    }
    this.#queue(async () => {
      await deleteNftTables([full.nftTable], this.#nft);
      this.#journal.nftTables = this.#journal.nftTables.filter((t) => t !== full.nftTable);
      this.#save();
    }, `delete table ${full.nftTable}`);
    if (errors.length > 0) throw errors[0];
  }

  #setSrcValidMark(): void {
    const value = readSrcValidMark();
    if (value === 0) {
      this.#journal.srcValidMark = true;
      this.#save();
      writeSrcValidMark(1);
    } else if (value === 1) {
      // Set by another tunslab here that may leave first: the last one out resets it.
      const netns = this.#journal.netns;
      if (listJournals(this.#dir).some((j) => j.netns === netns && j.srcValidMark)) {
        this.#journal.srcValidMark = true;
        this.#save();
      }
    }
  }

  #queue(job: () => Promise<void>, what: string): void {
    this.#nftQueue = this.#nftQueue.then(job).catch((e: Error) => {
      if (e instanceof NftMissingError) {
        log.warning(
          "{interface}: {error}; without nftables the tunnel address is not guarded against " +
            "other interfaces and a strict rp_filter may drop the replies",
          { interface: this.#ifname, error: e.message },
        );
        return;
      }
      if (!this.#started) this.#failures.push(e);
      log.error("nftables {what} for {interface} failed: {error}", {
        what,
        interface: this.#ifname,
        error: e.message,
      });
    });
  }

  #save(): void {
    try {
      writeJournal(this.#path, this.#journal);
      this.#journalWritten = true;
    } catch (e) {
      if (this.#journalWarned) return;
      this.#journalWarned = true;
      log.warning("Cannot write {path}: {error} (a killed run's leftovers will not be found)", {
        path: this.#path,
        error: (e as Error).message,
      });
    }
  }

  /** Removes everything added (rules first, as wg-quick's `del_if`), then the journal. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#started = true;
    for (const family of [...this.#full.keys()]) {
      try {
        this.#removeFullTunnel(family);
      } catch (e) {
        log.warning("Cannot remove the full tunnel's routing: {error}", {
          error: (e as Error).message,
        });
      }
    }
    for (const route of this.#routes.values()) {
      try {
        deleteRoute(this.#nl, route);
      } catch (e) {
        log.warning("Cannot remove route {route}: {error}", {
          route: formatCidr(route.dst),
          error: (e as Error).message,
        });
      }
    }
    this.#routes.clear();
    await this.#nftQueue;
    if (this.#journalWritten) removeJournal(this.#path);
    this.#nl.close();
  }
}

/** Tables a new full tunnel must not take: those with routes, or named by a rule (table or fwmark). */
function takenTables(nl: NetlinkSocket): (table: number) => boolean {
  const used = new Set<number>();
  for (const r of dumpRoutes(nl)) used.add(r.table);
  for (const family of [4, 6] as const) {
    for (const r of dumpRules(nl, family)) {
      if (r.table !== MAIN_TABLE) used.add(r.table);
      if (r.fwmark !== undefined) used.add(r.fwmark);
    }
  }
  return (t) => used.has(t);
}

/**
 * Resets `src_valid_mark` to 0 when the journal says this run set it (or inherited that duty)
 * and no full tunnel (an inverted fwmark rule) is left in the namespace.
 */
function resetSrcValidMark(nl: NetlinkSocket, journal: RoutingJournal): void {
  if (!journal.srcValidMark) return;
  journal.srcValidMark = false;
  if (dumpRules(nl, 4).some((r) => r.invert && r.fwmark !== undefined)) return;
  writeSrcValidMark(0);
}

async function deleteNftTables(tables: readonly string[], nft: string): Promise<number> {
  const present = await nftListTables(nft);
  const gone = tables.filter((t) => present.includes(t));
  if (gone.length > 0) await nftApply(nftDeleteScript(gone), nft);
  return gone.length;
}

/**
 * What a killed run of `ifname` left in this namespace: the rules of its journal at `path`
 * (deleted by every field, so only those), the `tunslab-IFACE` nftables tables, its
 * `src_valid_mark` change. Called only while no link of that name exists here.
 */
async function removeLeftovers(
  nl: NetlinkSocket,
  ifname: string,
  path: string,
  opts: { nft: string; dir: string },
): Promise<void> {
  const j = readJournal(path);
  let rules = 0;
  for (const r of j?.rules ?? []) if (deleteRule(nl, r)) rules++;
  const name = nftTableName(ifname);
  const tables = await deleteNftTables([`ip ${name}`, `ip6 ${name}`], opts.nft);
  if (j !== null) {
    resetSrcValidMark(nl, j);
    removeJournal(path);
  }
  if (rules > 0 || tables > 0) {
    log.info(
      "Removed what an earlier run of {interface} left behind: {rules} rule(s), {tables} nftables table(s)",
      { interface: ifname, pid: j?.pid, rules, tables },
    );
  }
}
