/**
 * The nftables table a full tunnel adds, as wg-quick's `add_default` writes it (one per family,
 * named `tunslab-IFACE` where wg-quick says `wg-quick-IFACE`), applied with the `nft` binary
 * (`nft -f -`, the script on stdin):
 *
 * - `preraw` (prerouting, priority -300): a packet for a tunnel address arriving on another
 *   interface, from a source that is not local, is dropped (no one on the LAN reaches the
 *   tunnel's address from outside);
 * - `postmangle` (postrouting, -150): the tunnel's own UDP (mark T) saves its mark in conntrack;
 * - `premangle` (prerouting, -150): replies get it back, so that with `src_valid_mark` the
 *   reverse-path check of a strict `rp_filter` host looks them up as the mark's routes say and
 *   accepts them.
 *
 * @example
 * ```ts
 * import { nftScript, nftTableName } from "./nft_table.ts";
 * import { parseCidr } from "../wg/cidr.ts";
 * console.log(nftTableName("wg0")); // "tunslab-wg0"
 * console.log(nftScript(4, "wg0", 51820, [parseCidr("10.0.0.2/32")]));
 * ```
 * @module
 */

import { type Cidr, formatIp } from "../wg/cidr.ts";

/** Name of a tunnel's table (the same in the `ip` and `ip6` families). */
export function nftTableName(ifname: string): string {
  return `tunslab-${ifname}`;
}

/** `ip` or `ip6`: the nftables family of an address family. */
export function nftFamily(family: 4 | 6): "ip" | "ip6" {
  return family === 4 ? "ip" : "ip6";
}

/** The script that creates the table of `family` for interface `ifname` and fwmark `mark`. */
export function nftScript(
  family: 4 | 6,
  ifname: string,
  mark: number,
  addresses: readonly Cidr[],
): string {
  const pf = nftFamily(family);
  const t = `${pf} ${nftTableName(ifname)}`;
  const lines = [
    `add table ${t}`,
    `add chain ${t} preraw { type filter hook prerouting priority -300; }`,
    `add chain ${t} premangle { type filter hook prerouting priority -150; }`,
    `add chain ${t} postmangle { type filter hook postrouting priority -150; }`,
  ];
  for (const a of addresses) {
    if (a.family !== family) continue;
    lines.push(
      `add rule ${t} preraw iifname != "${ifname}" ${pf} daddr ${
        formatIp(a.bytes)
      } fib saddr type != local drop`,
    );
  }
  lines.push(`add rule ${t} postmangle meta l4proto udp mark ${mark} ct mark set mark`);
  lines.push(`add rule ${t} premangle meta l4proto udp meta mark set ct mark`);
  return lines.join("\n") + "\n";
}

/** The script that deletes the given tables (`ip tunslab-wg0`, ...). */
export function nftDeleteScript(tables: readonly string[]): string {
  return tables.map((t) => `delete table ${t}\n`).join("");
}

/** `nft` failed; the message has its stderr and the script's first line. */
export class NftError extends Error {
  override name = "NftError";
  constructor(readonly args: readonly string[], readonly stderr: string, code: number) {
    super(
      `nft ${args.join(" ")} exited ${code}: ${stderr.trim().split("\n").slice(0, 3).join(" / ")}`,
    );
  }
}

/** The `nft` binary is not installed. */
export class NftMissingError extends Error {
  override name = "NftMissingError";
  constructor() {
    super("nft not found on PATH (install nftables)");
  }
}

/** Runs `nft -f -` with `script` on stdin. */
export async function nftApply(script: string, nft = "nft"): Promise<void> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(nft, {
      args: ["-f", "-"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new NftMissingError();
    throw e;
  }
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(script));
  await w.close();
  const out = await child.output();
  if (!out.success) {
    throw new NftError(["-f", "-"], new TextDecoder().decode(out.stderr) + `\n${script}`, out.code);
  }
}

/** The tables of the ruleset as `FAMILY NAME` (`nft list tables`); empty when nft is missing. */
export async function nftListTables(nft = "nft"): Promise<string[]> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(nft, {
      args: ["list", "tables"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  if (!out.success) {
    throw new NftError(["list", "tables"], new TextDecoder().decode(out.stderr), out.code);
  }
  return new TextDecoder().decode(out.stdout).split("\n")
    .map((l) => /^table (\S+) (\S+)$/.exec(l.trim()))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => `${m[1]} ${m[2]}`);
}
