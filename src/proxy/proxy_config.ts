/**
 * `tunslab proxy` configuration, as wireproxy reads it so its users keep their files: the
 * WireGuard part as in wg-quick (`[Interface]`, `[Peer]`), or in another file named by a
 * top-level `WGConfig = path`; a value `$NAME` is the environment variable NAME; a `[Peer]`
 * without `AllowedIPs` routes everything (`0.0.0.0/0, ::/0`). Front ends, several of each:
 *
 * - `[TCPClientTunnel]` `BindAddress = host:port` (local), `Target = ip:port` (through the tunnel)
 * - `[TCPServerTunnel]` `ListenPort = N` (on the tunnel address), `Target = host:port` (local)
 * - `[Socks5]` `BindAddress = host:port`, optional `Username` and `Password` (both or neither)
 *
 * A name in a tunnel-side Target is resolved through the tunnel with `DNS` of `[Interface]` (a
 * name without `DNS` is an error: never the host's resolver). `[http]` takes the keys of
 * `[Socks5]`; `[UDPProxyTunnel]` `BindAddress`, `Target` (UDP); `[STDIOTunnel]` `Target =
 * host:port` joins standard input and output to it (one). `[Interface]` also takes wireproxy's
 * `CheckAlive = ip, ip, ...` (addresses pinged through the tunnel) and `CheckAliveInterval =
 * seconds` (default 5; only with CheckAlive). Each front end takes tunslab's limits and timeouts
 * (src/proxy/tuning.ts): `MaxConnections`, `MaxConnectionsPerClient`, `ConnectTimeout`,
 * `IdleTimeout`. Errors name file, line and key.
 *
 * @example
 * ```ts
 * import { parseProxyConfig } from "./proxy_config.ts";
 * const p = parseProxyConfig(`[Interface]
 * PrivateKey = WAmgVYXkbT2bCtdcDwolI88/iVi/aV3/PHcUBTQSYmo=
 * Address = 10.0.0.2/32
 * [Peer]
 * PublicKey = xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=
 * Endpoint = 192.0.2.1:51820
 * [TCPClientTunnel]
 * BindAddress = 127.0.0.1:8080
 * Target = 10.0.0.1:80`, "proxy.conf", {});
 * console.log(p.clientTunnels[0].target); // { hostname: "10.0.0.1", port: 80 }
 * ```
 * @module
 */

import { parseCidr, parseIp } from "../wg/cidr.ts";
import { type Config, parseConfig } from "../wg/config.ts";
import { parseTuning, TCP_TUNING, type Tuning, TUNING_KEYS, UDP_TUNING } from "./tuning.ts";
import { ConfigError } from "../wg/config_error.ts";

/** A `host:port` (IPv6 in brackets). */
export interface HostPort {
  hostname: string;
  port: number;
}

/** `[TCPClientTunnel]`: a local listener whose connections go to `target` through the tunnel. */
export interface ClientTunnel {
  bind: HostPort;
  target: HostPort;
  tuning: Tuning;
  line: number;
}

/** `[UDPProxyTunnel]`: a local UDP port whose datagrams go to `target` through the tunnel. */
export interface UdpTunnel {
  bind: HostPort;
  target: HostPort;
  /** MaxConnections: clients (each its own stack socket); IdleTimeout: a client's. */
  tuning: Tuning;
  line: number;
}

/** `[TCPServerTunnel]`: a port of the tunnel address whose connections go to a local `target`. */
export interface ServerTunnel {
  listenPort: number;
  target: HostPort;
  tuning: Tuning;
  line: number;
}

/** `[Socks5]`: a SOCKS5 listener whose CONNECTs go through the tunnel. */
export interface Socks5 {
  bind: HostPort;
  username?: string;
  password?: string;
  tuning: Tuning;
  line: number;
}

/** `CheckAlive` of `[Interface]`: addresses pinged every `intervalS` seconds (src/proxy/check_alive.ts). */
export interface CheckAliveSpec {
  targets: string[];
  intervalS: number;
  line: number;
}

/** wireproxy's default `CheckAliveInterval`, seconds. */
export const DEFAULT_CHECK_ALIVE_INTERVAL = 5;

/** A parsed proxy configuration. */
export interface ProxyConfig {
  config: Config;
  clientTunnels: ClientTunnel[];
  serverTunnels: ServerTunnel[];
  socks5: Socks5[];
  /** `[http]`: the same keys as `[Socks5]`. */
  http: Socks5[];
  udpTunnels: UdpTunnel[];
  /** `[STDIOTunnel]`: standard input and output joined to `target` (e.g. ssh's ProxyCommand). */
  stdio: { target: HostPort; tuning: Tuning; line: number } | null;
  /** `CheckAlive` of `[Interface]`, or null without it. */
  checkAlive: CheckAliveSpec | null;
}

const WG = new Set(["interface", "peer"]);

/** A `Key = $NAME` line of a WireGuard file with the variable's value (an unset one: an error). */
function expandValues(text: string, path: string, env: Record<string, string | undefined>): string {
  return text.split(/\r?\n/).map((raw, i) => {
    const m = /^\s*([^=#\s]+)\s*=\s*\$([A-Za-z_][A-Za-z0-9_]*)\s*$/.exec(raw);
    if (m === null) return raw;
    const v = env[m[2]];
    if (v === undefined) {
      throw new ConfigError(path, i + 1, `${m[1]}: environment variable ${m[2]} is not set`);
    }
    return `${m[1]} = ${v}`;
  }).join("\n");
}

/**
 * Takes `CheckAlive` and `CheckAliveInterval` out of the `[Interface]` sections of a WireGuard
 * text (their lines left blank, so line numbers stay) for the WireGuard parser, which does not know
 * them; `$NAME` values are expanded.
 */
function takeCheckAlive(
  text: string,
  path: string,
  env: Record<string, string | undefined>,
): { text: string; spec: CheckAliveSpec | null } {
  let inInterface = false;
  let alive: { value: string; line: number } | null = null;
  let interval: { value: string; line: number } | null = null;
  const lines = text.split(/\r?\n/).map((raw, i) => {
    const t = raw.trim();
    const header = /^\[([^\]]*)\]$/.exec(t);
    if (header !== null) {
      inInterface = header[1].trim().toLowerCase() === "interface";
      return raw;
    }
    const m = /^([^=#;\s]+)\s*=\s*(.*)$/.exec(t);
    if (!inInterface || m === null) return raw;
    const key = m[1].toLowerCase();
    if (key !== "checkalive" && key !== "checkaliveinterval") return raw;
    const line = i + 1;
    if ((key === "checkalive" ? alive : interval) !== null) {
      throw new ConfigError(path, line, `${m[1]} is given twice`);
    }
    let value = m[2].trim();
    const v = /^\$([A-Za-z_][A-Za-z0-9_]*)$/.exec(value);
    if (v !== null) {
      const e = env[v[1]];
      if (e === undefined) {
        throw new ConfigError(path, line, `${m[1]}: environment variable ${v[1]} is not set`);
      }
      value = e;
    }
    if (key === "checkalive") alive = { value, line };
    else interval = { value, line };
    return "";
  });
  const a = alive as { value: string; line: number } | null;
  const iv = interval as { value: string; line: number } | null;
  const targets: string[] = [];
  for (const part of a?.value.split(",") ?? []) {
    const ip = part.trim();
    if (ip === "") continue;
    if (parseIp(ip) === null) {
      throw new ConfigError(path, a!.line, `CheckAlive: "${ip}" is not an IP address`);
    }
    targets.push(ip);
  }
  // As wireproxy: an empty CheckAlive is none, and an interval needs an address to ping.
  if (targets.length === 0) {
    if (iv !== null) {
      throw new ConfigError(path, iv.line, "CheckAliveInterval is only valid with CheckAlive");
    }
    return { text: lines.join("\n"), spec: null };
  }
  let intervalS = DEFAULT_CHECK_ALIVE_INTERVAL;
  if (iv !== null) {
    intervalS = Number(iv.value);
    if (!/^\d{1,7}$/.test(iv.value) || intervalS < 1) {
      throw new ConfigError(
        path,
        iv.line,
        `CheckAliveInterval "${iv.value}" is not a whole number of seconds (1 or more)`,
      );
    }
  }
  return { text: lines.join("\n"), spec: { targets, intervalS, line: a!.line } };
}

/** Splits `host:port` / `[v6]:port`; null if it is not one. */
export function parseHostPort(text: string): HostPort | null {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text) ?? /^([^:\[\]]+):(\d{1,5})$/.exec(text);
  if (m === null) return null;
  const port = Number(m[2]);
  return port >= 1 && port <= 65535 ? { hostname: m[1], port } : null;
}

/**
 * Parses a proxy config; `readFile` reads a `WGConfig` file (relative to `path`'s directory).
 * `env` is where `$NAME` values come from.
 */
export function parseProxyConfig(
  text: string,
  path: string,
  env: Record<string, string | undefined>,
  readFile: (p: string) => string = (p) => Deno.readTextFileSync(p),
): ProxyConfig {
  const alive = takeCheckAlive(text.replace(/^\uFEFF/, ""), path, env);
  let checkAlive = alive.spec;
  const lines = alive.text.split(/\r?\n/);
  const wgLines: string[] = [];
  const clientTunnels: ClientTunnel[] = [], serverTunnels: ServerTunnel[] = [];
  const socks5: Socks5[] = [], http: Socks5[] = [], udpTunnels: UdpTunnel[] = [];
  let stdio: ProxyConfig["stdio"] = null;
  /** Lines of tunnel-side targets given by name: they need `DNS` (checked once it is parsed). */
  const named: { line: number; name: string }[] = [];
  let section: string | null = null, sectionLine = 0;
  let keys = new Map<string, { value: string; line: number }>();
  let wgConfig: { value: string; line: number } | null = null;
  let wgSections = 0;

  const expand = (value: string, line: number, key: string): string => {
    const m = /^\$([A-Za-z_][A-Za-z0-9_]*)$/.exec(value);
    if (m === null) return value;
    const v = env[m[1]];
    if (v === undefined) {
      throw new ConfigError(path, line, `${key}: environment variable ${m[1]} is not set`);
    }
    return v;
  };
  const need = (key: string): { value: string; line: number } => {
    const k = keys.get(key.toLowerCase());
    if (k === undefined) throw new ConfigError(path, sectionLine, `[${section}] has no ${key}`);
    return k;
  };
  const hostPort = (key: string): HostPort => {
    const k = need(key);
    const hp = parseHostPort(k.value);
    if (hp === null) throw new ConfigError(path, k.line, `${key} "${k.value}" is not host:port`);
    return hp;
  };
  const tuning = (base = TCP_TUNING) => parseTuning(keys, path, base);
  const endSection = (): void => {
    if (section === null) return;
    const s = section.toLowerCase();
    if (s === "tcpclienttunnel") {
      const target = hostPort("Target");
      if (parseIp(target.hostname) === null) {
        named.push({ line: need("Target").line, name: target.hostname });
      }
      clientTunnels.push({
        bind: hostPort("BindAddress"),
        target,
        tuning: tuning(),
        line: sectionLine,
      });
    } else if (s === "udpproxytunnel") {
      const target = hostPort("Target");
      if (parseIp(target.hostname) === null) {
        named.push({ line: need("Target").line, name: target.hostname });
      }
      udpTunnels.push({
        bind: hostPort("BindAddress"),
        target,
        tuning: tuning(UDP_TUNING),
        line: sectionLine,
      });
    } else if (s === "stdiotunnel") {
      if (stdio !== null) {
        throw new ConfigError(
          path,
          sectionLine,
          "a second [STDIOTunnel]: there is one standard input",
        );
      }
      const target = hostPort("Target");
      if (parseIp(target.hostname) === null) {
        named.push({ line: need("Target").line, name: target.hostname });
      }
      stdio = { target, tuning: tuning(), line: sectionLine };
    } else if (s === "socks5" || s === "http") {
      const user = keys.get("username"), pass = keys.get("password");
      if ((user === undefined) !== (pass === undefined)) {
        throw new ConfigError(
          path,
          (user ?? pass)!.line,
          `[${section}]: Username and Password go together`,
        );
      }
      (s === "http" ? http : socks5).push({
        bind: hostPort("BindAddress"),
        username: user?.value,
        password: pass?.value,
        tuning: tuning(),
        line: sectionLine,
      });
    } else if (s === "tcpservertunnel") {
      const k = need("ListenPort");
      const port = Number(k.value);
      if (!/^\d{1,5}$/.test(k.value) || port < 1 || port > 65535) {
        throw new ConfigError(path, k.line, `ListenPort "${k.value}" is not a port (1..65535)`);
      }
      serverTunnels.push({
        listenPort: port,
        target: hostPort("Target"),
        tuning: tuning(),
        line: sectionLine,
      });
    }
  };
  const allowed: Record<string, string[]> = {
    tcpclienttunnel: ["bindaddress", "target", ...TUNING_KEYS],
    tcpservertunnel: ["listenport", "target", ...TUNING_KEYS],
    socks5: ["bindaddress", "username", "password", ...TUNING_KEYS],
    http: ["bindaddress", "username", "password", ...TUNING_KEYS],
    stdiotunnel: ["target", "connecttimeout"],
    udpproxytunnel: ["bindaddress", "target", "maxconnections", "idletimeout"],
  };

  lines.forEach((raw, i) => {
    const line = i + 1;
    const t = raw.trim();
    const header = /^\[([^\]]*)\]$/.exec(t);
    if (header !== null) {
      endSection();
      section = header[1].trim();
      sectionLine = line;
      keys = new Map();
      const s = section.toLowerCase();
      if (WG.has(s)) {
        wgSections++;
        wgLines.push(raw);
        return;
      }
      if (!(s in allowed)) throw new ConfigError(path, line, `Unknown section "${t}"`);
      wgLines.push("");
      return;
    }
    const inWg = section !== null && WG.has(section.toLowerCase());
    const eq = t.indexOf("=");
    if (t === "" || t.startsWith("#") || t.startsWith(";") || eq < 0) {
      // Blank, comments and anything else: the WireGuard parser judges what is in its sections.
      wgLines.push(section === null || inWg ? raw : "");
      if (!inWg && t !== "" && !t.startsWith("#") && !t.startsWith(";")) {
        throw new ConfigError(path, line, `Line unrecognized: "${t}"`);
      }
      return;
    }
    const key = t.slice(0, eq).trim(), value = t.slice(eq + 1).trim();
    const v = expand(value, line, key);
    if (inWg) {
      wgLines.push(v === value ? raw : `${key} = ${v}`);
      return;
    }
    wgLines.push("");
    if (section === null) {
      if (key.toLowerCase() !== "wgconfig") {
        throw new ConfigError(path, line, `Unknown key "${key}" outside of a section`);
      }
      wgConfig = { value: v, line };
      return;
    }
    const k = key.toLowerCase();
    if (!allowed[section.toLowerCase()].includes(k)) {
      throw new ConfigError(path, line, `Unknown key "${key}" in [${section}] section`);
    }
    keys.set(k, { value: v, line });
  });
  endSection();

  let config: Config;
  if (wgConfig !== null) {
    const ref: { value: string; line: number } = wgConfig;
    if (wgSections > 0) {
      throw new ConfigError(
        path,
        ref.line,
        "WGConfig and [Interface]/[Peer] sections in one file: one or the other",
      );
    }
    const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/") + 1) : "";
    const wgPath = ref.value.startsWith("/") ? ref.value : dir + ref.value;
    let wgText: string;
    try {
      wgText = readFile(wgPath);
    } catch (e) {
      throw new ConfigError(path, ref.line, `WGConfig ${wgPath}: ${(e as Error).message}`);
    }
    const fromWg = takeCheckAlive(wgText, wgPath, env);
    checkAlive = fromWg.spec;
    config = parseConfig(expandValues(fromWg.text, wgPath, env), wgPath);
  } else config = parseConfig(wgLines.join("\n"), path);
  if (named.length > 0 && config.interface.dns.length === 0) {
    throw new ConfigError(
      path,
      named[0].line,
      `Target "${
        named[0].name
      }": a name is resolved through the tunnel with the DNS servers of [Interface], and there is no DNS key (the host's resolver is never asked)`,
    );
  }
  // wireproxy: a peer without AllowedIPs is the way to everything.
  for (const p of config.peers) {
    if (p.allowedIps.length === 0) p.allowedIps.push(parseCidr("0.0.0.0/0"), parseCidr("::/0"));
  }
  return { config, clientTunnels, serverTunnels, socks5, http, udpTunnels, stdio, checkAlive };
}
