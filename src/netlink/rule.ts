/**
 * Policy routing rules over rtnetlink (`struct fib_rule_hdr` + `FRA_*`, `linux/fib_rules.h`):
 * add, delete and dump per family, with priority, fwmark/mask, `not` (FIB_RULE_INVERT), table,
 * suppress_prefixlength and protocol. Requests are laid out as iproute2 lays them (`ip -4 rule
 * add not fwmark 51820 table 51820` sends the bytes of `encodeRule(RTM_NEWRULE, …)` for the same
 * rule). A delete names every field of the rule, so the kernel removes that rule and no other
 * (its protocol included).
 *
 * @example
 * ```ts ignore
 * import { addRule, dumpRules, RT_TABLE_MAIN } from "./rule.ts";
 * import { NetlinkSocket } from "./netlink_socket.ts";
 * using nl = NetlinkSocket.open();
 * addRule(nl, { family: 4, invert: true, fwmark: 51820, table: 51820, protocol: 84 });
 * addRule(nl, { family: 4, table: RT_TABLE_MAIN, suppressPrefixlen: 0, protocol: 84 });
 * console.log(dumpRules(nl, 4).map((r) => r.priority)); // [0, 32764, 32765, 32766, 32767]
 * ```
 * @module
 */

import { EEXIST, ENOENT } from "../ffi/errno.ts";
import { AF_INET, AF_INET6 } from "../ffi/libc.ts";
import {
  attrU32,
  attrU8,
  MessageBuilder,
  type NetlinkMessage,
  NLM_F_CREATE,
  NLM_F_EXCL,
  parseAttributes,
  RTM_DELRULE,
  RTM_GETRULE,
  RTM_NEWRULE,
} from "./netlink_message.ts";
import type { NetlinkSocket } from "./netlink_socket.ts";
import { RT_TABLE_MAIN, RT_TABLE_UNSPEC } from "./route.ts";

export { RT_TABLE_MAIN } from "./route.ts";

/** `sizeof(struct fib_rule_hdr)`. */
export const FIB_RULE_HDR_SIZE = 12;
export const FR_ACT_TO_TBL = 1;
export const FIB_RULE_INVERT = 0x2;

export const FRA_PRIORITY = 6;
export const FRA_FWMARK = 10;
export const FRA_SUPPRESS_PREFIXLEN = 14;
export const FRA_TABLE = 15;
export const FRA_FWMASK = 16;
export const FRA_PROTOCOL = 21;

/** A rule as added, deleted or dumped. */
export interface Rule {
  readonly family: 4 | 6;
  /** Unset on add: the kernel picks (one below the first rule after priority 0). */
  readonly priority?: number;
  readonly fwmark?: number;
  /** With {@link fwmark}; the kernel's default is all ones. */
  readonly fwmask?: number;
  /** `not`: the rule applies to packets that do NOT match. */
  readonly invert?: boolean;
  /** Table looked up (`lookup N`); RT_TABLE_MAIN when unset on add. */
  readonly table?: number;
  /** `suppress_prefixlength N`: reject lookup results with a prefix of N bits or fewer. */
  readonly suppressPrefixlen?: number;
  /** `rtm_protocol` of the rule (FRA_PROTOCOL): who added it. */
  readonly protocol?: number;
  /** `action` (FR_ACT_TO_TBL when unset on add). */
  readonly action?: number;
}

/** A rule read back from the kernel. */
export interface RuleEntry extends Rule {
  readonly priority: number;
  readonly table: number;
  readonly invert: boolean;
  readonly protocol: number;
  readonly action: number;
}

/** `32765: not fwmark 51820 lookup 51820 proto 84`: names a rule in errors and logs. */
export function describeRule(r: Rule): string {
  const parts: string[] = [];
  if (r.priority !== undefined) parts.push(`${r.priority}:`);
  if (r.invert) parts.push("not");
  if (r.fwmark !== undefined) {
    parts.push(`fwmark ${r.fwmark}${r.fwmask !== undefined ? `/${r.fwmask}` : ""}`);
  }
  parts.push(`lookup ${r.table ?? RT_TABLE_MAIN}`);
  if (r.suppressPrefixlen !== undefined) parts.push(`suppress_prefixlength ${r.suppressPrefixlen}`);
  if (r.protocol !== undefined) parts.push(`proto ${r.protocol}`);
  return `-${r.family} ${parts.join(" ")}`;
}

/** The request for `cmd` (RTM_NEWRULE or RTM_DELRULE), as iproute2 writes it. */
export function encodeRule(cmd: number, flags: number, r: Rule): MessageBuilder {
  const m = new MessageBuilder(cmd, flags, FIB_RULE_HDR_SIZE);
  const add = cmd === RTM_NEWRULE;
  const table = r.table ?? (add ? RT_TABLE_MAIN : undefined);
  const h = m.header;
  h[0] = r.family === 4 ? AF_INET : AF_INET6;
  if (table !== undefined && table < 256) h[4] = table;
  else h[4] = RT_TABLE_UNSPEC;
  h[7] = r.action ?? (add ? FR_ACT_TO_TBL : 0);
  m.view.setUint32(8, r.invert ? FIB_RULE_INVERT : 0, true);
  if (r.fwmark !== undefined) m.u32(FRA_FWMARK, r.fwmark);
  if (r.fwmask !== undefined) m.u32(FRA_FWMASK, r.fwmask);
  if (table !== undefined && table >= 256) m.u32(FRA_TABLE, table);
  if (r.suppressPrefixlen !== undefined) m.u32(FRA_SUPPRESS_PREFIXLEN, r.suppressPrefixlen);
  if (r.priority !== undefined) m.u32(FRA_PRIORITY, r.priority);
  if (r.protocol !== undefined) m.u8(FRA_PROTOCOL, r.protocol);
  return m;
}

/** Reads an RTM_NEWRULE message. */
export function parseRule(msg: NetlinkMessage): RuleEntry {
  const b = msg.body;
  const a = parseAttributes(b, FIB_RULE_HDR_SIZE);
  const flags = new DataView(b.buffer, b.byteOffset + 8, 4).getUint32(0, true);
  const suppress = attrU32(a, FRA_SUPPRESS_PREFIXLEN);
  return {
    family: b[0] === AF_INET6 ? 6 : 4,
    priority: attrU32(a, FRA_PRIORITY) ?? 0,
    fwmark: attrU32(a, FRA_FWMARK),
    fwmask: attrU32(a, FRA_FWMASK),
    invert: (flags & FIB_RULE_INVERT) !== 0,
    table: attrU32(a, FRA_TABLE) ?? b[4],
    // The kernel reports "no suppression" as -1 (0xffffffff).
    suppressPrefixlen: suppress === undefined || suppress === 0xffffffff ? undefined : suppress,
    protocol: attrU8(a, FRA_PROTOCOL) ?? 0,
    action: b[7],
  };
}

/** Adds a rule; false if the same rule is there already (EEXIST). */
export function addRule(nl: NetlinkSocket, r: Rule): boolean {
  const m = encodeRule(RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL, r);
  return nl.request(`RTM_NEWRULE ${describeRule(r)}`, m, { tolerate: [EEXIST] }).errno === 0;
}

/** Deletes the first rule matching every field given; false if there was none (ENOENT). */
export function deleteRule(nl: NetlinkSocket, r: Rule): boolean {
  const m = encodeRule(RTM_DELRULE, 0, r);
  return nl.request(`RTM_DELRULE ${describeRule(r)}`, m, { tolerate: [ENOENT] }).errno === 0;
}

/** The rules of one family in priority order (`ip -4 rule show`). */
export function dumpRules(nl: NetlinkSocket, family: 4 | 6): RuleEntry[] {
  const m = new MessageBuilder(RTM_GETRULE, 0, FIB_RULE_HDR_SIZE);
  m.header[0] = family === 4 ? AF_INET : AF_INET6;
  return nl.dump(`RTM_GETRULE(dump -${family})`, m).filter((x) => x.type === RTM_NEWRULE)
    .map(parseRule).filter((r) => r.family === family);
}

/** Same rule: every field that {@link Rule} names, the unset optional ones equal too. */
export function sameRule(a: Rule, b: Rule): boolean {
  return a.family === b.family && a.priority === b.priority && a.fwmark === b.fwmark &&
    (a.fwmask ?? (a.fwmark ? 0xffffffff : undefined)) ===
      (b.fwmask ?? (b.fwmark ? 0xffffffff : undefined)) &&
    !!a.invert === !!b.invert && (a.table ?? RT_TABLE_MAIN) === (b.table ?? RT_TABLE_MAIN) &&
    a.suppressPrefixlen === b.suppressPrefixlen && (a.protocol ?? 0) === (b.protocol ?? 0);
}
