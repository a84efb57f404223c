/**
 * What a running `up` has added to the host's routing, written down before each addition (a
 * write-ahead journal, `/run/tunslab/IFACE.NETNS.json`, mode 0600) so that a later `up` of the
 * same interface in the same network namespace finds the leftovers of one that was killed
 * (`kill -9`, a crash, a power cut of the process) and removes exactly those: its rules (by
 * every field, protocol tag included), its nftables tables, its `src_valid_mark` change. Routes
 * are not journaled: every route tunslab adds goes through its interface, and the kernel removes
 * them with it.
 *
 * @example
 * ```ts ignore
 * import { currentNetns, journalPath, readJournal } from "./routing_journal.ts";
 * const j = readJournal(journalPath("wg0", currentNetns()));
 * console.log(j?.rules.length ?? 0);
 * ```
 * @module
 */

import type { Rule } from "../netlink/rule.ts";

/** Where journals live (tmpfs: gone after a reboot, as the state they describe). */
export const JOURNAL_DIR = "/run/tunslab";

/** The record of one running `up`. */
export interface RoutingJournal {
  readonly version: 1;
  readonly interface: string;
  readonly pid: number;
  /** `/proc/self/ns/net` as readlink gives it: `net:[4026531840]`. */
  readonly netns: string;
  /** Rules added (or about to be). */
  rules: Rule[];
  /** nftables tables added (or about to be), as `FAMILY NAME`. */
  nftTables: string[];
  /** This run set (or inherited the duty to reset) `net.ipv4.conf.all.src_valid_mark`. */
  srcValidMark: boolean;
}

/** The calling process's network namespace, as `net:[INODE]`. */
export function currentNetns(): string {
  return Deno.readLinkSync("/proc/self/ns/net");
}

/** The journal file of `ifname` in namespace `netns`. */
export function journalPath(ifname: string, netns: string, dir = JOURNAL_DIR): string {
  const ino = /\[(\d+)\]/.exec(netns)?.[1] ?? "0";
  return `${dir}/${ifname}.${ino}.json`;
}

function isJournal(j: unknown): j is RoutingJournal {
  const o = j as Partial<RoutingJournal>;
  return o !== null && typeof o === "object" && o.version === 1 &&
    typeof o.interface === "string" && Array.isArray(o.rules) && Array.isArray(o.nftTables);
}

/** The journal at `path`, or null if there is none (or it is not one). */
export function readJournal(path: string): RoutingJournal | null {
  try {
    const j = JSON.parse(Deno.readTextFileSync(path));
    return isJournal(j) ? j : null;
  } catch {
    return null;
  }
}

/** Every journal in `dir` (for the namespace's shared `src_valid_mark`). */
export function listJournals(dir = JOURNAL_DIR): RoutingJournal[] {
  const out: RoutingJournal[] = [];
  try {
    for (const e of Deno.readDirSync(dir)) {
      if (!e.isFile || !e.name.endsWith(".json")) continue;
      const j = readJournal(`${dir}/${e.name}`);
      if (j !== null) out.push(j);
    }
  } catch { /* no directory: no journals */ }
  return out;
}

/** Writes `j` atomically (temporary file, then rename), creating the directory (0700). */
export function writeJournal(path: string, j: RoutingJournal): void {
  const dir = path.slice(0, path.lastIndexOf("/"));
  Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = `${path}.${Deno.pid}.tmp`;
  Deno.writeTextFileSync(tmp, JSON.stringify(j, null, 1) + "\n", { mode: 0o600 });
  Deno.renameSync(tmp, path);
}

/** Removes the journal (nothing if it is gone). */
export function removeJournal(path: string): void {
  try {
    Deno.removeSync(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}
