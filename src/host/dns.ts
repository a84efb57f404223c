/**
 * `DNS = …` applied while the tunnel is up, as wg-quick applies it:
 * - where systemd-resolved manages `/etc/resolv.conf` (a link into /run/systemd/resolve/) and
 *   `resolvectl` is there: `resolvectl dns IFACE …` and `resolvectl domain IFACE …` on the link,
 *   with the routing-only domain `~.` for a full tunnel so no query leaks past the tunnel;
 *   `resolvectl revert IFACE` at down;
 * - else with `resolvconf` on PATH: `resolvconf -a PREFIXIFACE -m 0 -x` fed `nameserver` and
 *   `search` lines, `resolvconf -d PREFIXIFACE -f` at down, where PREFIX is derived from
 *   /etc/resolvconf/interface-order as wg-quick derives it (the first `name*` pattern gives
 *   `name.`);
 * - else a warning that DNS was not applied.
 *
 * @example
 * ```ts ignore
 * import { applyDns } from "./dns.ts";
 * const undo = await applyDns("wg0", ["10.0.0.53"], ["corp.example"], { fullTunnel: true });
 * await undo?.(); // at down
 * ```
 * @module
 */
import { logger } from "../log.ts";
import { defaultSignals } from "../process/inspector_guard.ts";

const log = logger("dns");
const dec = new TextDecoder();

/** A DNS step that failed. */
export class DnsError extends Error {
  override name = "DnsError";
}

/** Where a program is on PATH, or null. */
export function onPath(program: string): string | null {
  let path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  try {
    path = Deno.env.get("PATH") ?? path;
  } catch { /* no env permission: the default PATH */ }
  for (const dir of path.split(":")) {
    if (dir === "") continue;
    try {
      const st = Deno.statSync(`${dir}/${program}`);
      if (st.isFile && ((st.mode ?? 0) & 0o111) !== 0) return `${dir}/${program}`;
    } catch { /* not here */ }
  }
  return null;
}

/** wg-quick's `resolvconf_iface_prefix`: `name.` for the first `name*` line, else "". */
export function resolvconfPrefix(interfaceOrder: string | null): string {
  for (const line of (interfaceOrder ?? "").split("\n")) {
    const m = /^([A-Za-z0-9-]+)\*$/.exec(line.trim());
    if (m) return `${m[1]}.`;
  }
  return "";
}

function readOrNull(path: string): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return null;
  }
}

async function run(args: string[], input?: string): Promise<void> {
  const cmd = defaultSignals(args);
  const child = new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdin: input === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (input !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(input));
    await w.close();
  }
  const o = await child.output();
  if (!o.success) {
    throw new DnsError(`${args.join(" ")} exited ${o.code}: ${dec.decode(o.stderr).trim()}`);
  }
}

/** Whether systemd-resolved manages /etc/resolv.conf here. */
function resolvedManages(): boolean {
  try {
    return Deno.realPathSync("/etc/resolv.conf").startsWith("/run/systemd/resolve/");
  } catch {
    return false;
  }
}

/** Options of {@link applyDns}. */
export interface DnsOptions {
  /** The tunnel carries a default route: all queries go to these servers (`~.`). */
  fullTunnel?: boolean;
}

/**
 * Applies `servers` and `search` domains for `iface`; returns the undo, or null when there was
 * nothing to apply or no way to apply it (logged). Throws {@link DnsError} when the tool failed.
 */
export async function applyDns(
  iface: string,
  servers: readonly string[],
  search: readonly string[],
  opts: DnsOptions = {},
): Promise<(() => Promise<void>) | null> {
  if (servers.length === 0 && search.length === 0) return null;
  const resolvectl = onPath("resolvectl");
  if (resolvectl !== null && resolvedManages()) {
    if (servers.length > 0) await run([resolvectl, "dns", iface, ...servers]);
    const domains = [...search, ...(opts.fullTunnel ? ["~."] : [])];
    if (domains.length > 0) await run([resolvectl, "domain", iface, ...domains]);
    log.info("DNS of {interface} set with resolvectl: {servers}", {
      interface: iface,
      servers,
      search: domains,
    });
    return async () => {
      await run([resolvectl, "revert", iface]).catch((e) =>
        log.warning("resolvectl revert {interface}: {error}", {
          interface: iface,
          error: e.message,
        })
      );
    };
  }
  const resolvconf = onPath("resolvconf");
  if (resolvconf !== null) {
    const name = resolvconfPrefix(readOrNull("/etc/resolvconf/interface-order")) + iface;
    const text = servers.map((s) => `nameserver ${s}\n`).join("") +
      (search.length > 0 ? `search ${search.join(" ")}\n` : "");
    await run([resolvconf, "-a", name, "-m", "0", "-x"], text);
    log.info("DNS of {interface} set with resolvconf as {record}: {servers}", {
      interface: iface,
      record: name,
      servers,
      search,
    });
    return async () => {
      await run([resolvconf, "-d", name, "-f"]).catch((e) =>
        log.warning("resolvconf -d {record}: {error}", { record: name, error: e.message })
      );
    };
  }
  log.warning(
    "DNS = {servers} for {interface} was not applied: neither resolvconf nor systemd-resolved (resolvectl) is there",
    { interface: iface, servers, search },
  );
  return null;
}
