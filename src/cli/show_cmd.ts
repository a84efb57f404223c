/**
 * `tunslab show [IFACE | all | interfaces] [FIELD] [--json]`: asks the UAPI
 * socket (`get=1`) and prints what `wg show` (wireguard-tools 1.0.20210914)
 * prints, byte for byte: the same layout, wording and units, peers sorted by
 * latest handshake, keys hidden unless `WG_HIDE_KEYS=never`, colour only on a
 * terminal (or `WG_COLOR_MODE=always|never`). FIELD is one of `wg show`'s
 * (`public-key`, `private-key`, `listen-port`, `fwmark`, `peers`,
 * `preshared-keys`, `endpoints`, `allowed-ips`, `latest-handshakes`,
 * `transfer`, `persistent-keepalive`, `dump`). `--json` prints one object keyed
 * by interface, shaped like wireguard-tools' `wg-json` (absent or zero fields
 * omitted; private and preshared keys hidden the same way), plus, for a tunslab interface, its
 * live pool, drop and handshake counters under `tunslab` (asked with tunslab's own `tsl=1`).
 *
 * Without IFACE (or with `all`) every interface with a live socket in
 * `/var/run/wireguard` is shown, in directory order like `wg` (kernel interfaces are not
 * listed: tunslab has none).
 *
 * @example
 * ```sh
 * tunslab show wg0
 * tunslab show wg0 dump
 * tunslab show --json | jq '.wg0.peers | keys'
 * ```
 * @module
 */

import { errnoDescription } from "../ffi/errno.ts";
import { formatIp as formatIpGo, ipv6Words, longestZeroRun, parseIp } from "../wg/cidr.ts";
import { encodeBase64Key, publicKey } from "../wg/keys.ts";
import {
  listUapiInterfaces,
  UapiClientError,
  uapiGetState,
  uapiSocketPath,
} from "../uapi/uapi_client.ts";
import { UapiProtocolError } from "../uapi/uapi_protocol.ts";
import { UAPI_SOCKET_DIR } from "../uapi/uapi_server.ts";
import { findSocketDir, socketDirs, untrusted } from "../uapi/socket_dirs.ts";
import type { UapiPeerState, UapiState } from "../uapi/uapi_types.ts";
import type { LiveCounters } from "../device/live_counters.ts";
import { parseCommand } from "./parse_command.ts";
import { NotTunslabError, runningTunnel } from "./running_tunnel.ts";
import { UsageError } from "./usage_error.ts";

/** `wg show`'s FIELD names. */
export const SHOW_FIELDS = [
  "public-key",
  "private-key",
  "listen-port",
  "fwmark",
  "peers",
  "preshared-keys",
  "endpoints",
  "allowed-ips",
  "latest-handshakes",
  "transfer",
  "persistent-keepalive",
  "dump",
] as const;

/** One of {@link SHOW_FIELDS}. */
export type ShowField = typeof SHOW_FIELDS[number];

/** How to render. */
export interface ShowFormat {
  /** ANSI colours as `wg` uses them on a terminal. */
  color: boolean;
  /** Print `(hidden)` for private and preshared keys (`wg`'s default). */
  hideKeys: boolean;
  /** Current time in whole seconds (`time(NULL)`), for "latest handshake". */
  now: number;
}

/** Where `show` reads and writes; tests replace parts. */
export interface ShowIo {
  /** Socket directory (default `/var/run/wireguard`). */
  dir?: string;
  stdout?: (text: string) => void;
  stderr?: (text: string) => void;
  /** Seconds since the epoch (default: the clock). */
  now?: () => number;
  /** Environment lookup (default `Deno.env.get`, or nothing without --allow-env). */
  env?: (name: string) => string | undefined;
  /** Whether stdout is a terminal (default `Deno.stdout.isTerminal()`). */
  isTerminal?: boolean;
}

const RESET = "\x1b[0m";
const BOLD = "\x1b[1m";
const RED = "\x1b[31m";
const GREEN = "\x1b[32m";
const YELLOW = "\x1b[33m";
const CYAN = "\x1b[36m";

/** glibc `inet_ntop`: like RFC 5952 but `::a.b.c.d` for v4-compatible and v4-mapped addresses. */
export function formatIpC(bytes: Uint8Array): string {
  if (bytes.length === 4) return formatIpGo(bytes);
  const w = ipv6Words(bytes);
  const [best, bestLen] = longestZeroRun(w);
  let s = "";
  for (let i = 0; i < 8; i++) {
    if (best >= 0 && i >= best && i < best + bestLen) {
      if (i === best) s += ":";
      continue;
    }
    if (i !== 0) s += ":";
    if (i === 6 && best === 0 && (bestLen === 6 || (bestLen === 5 && w[5] === 0xffff))) {
      return s + `${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
    }
    s += w[i].toString(16);
  }
  if (best >= 0 && best + bestLen === 8) s += ":";
  return s;
}

/** Interface name for an index (sysfs), or null. */
function interfaceName(index: number): string | null {
  try {
    for (const ent of Deno.readDirSync("/sys/class/net")) {
      const text = Deno.readTextFileSync(`/sys/class/net/${ent.name}/ifindex`);
      if (Number(text.trim()) === index) return ent.name;
    }
  } catch { /* no sysfs or no permission */ }
  return null;
}

/**
 * An endpoint as `wg` prints it: `getnameinfo(NI_NUMERICHOST)` of what it
 * resolved, so IPv4-mapped addresses stay IPv6 and link-local scopes show as
 * interface names. Text that is not an endpoint is printed as is.
 */
export function formatEndpointC(text: string): string {
  const colon = text.lastIndexOf(":");
  const port = text.slice(colon + 1);
  if (colon < 0 || !/^[0-9]{1,5}$/.test(port) || Number(port) > 65535) return text;
  const host = text.slice(0, colon);
  if (!host.startsWith("[")) {
    const v4 = parseIp(host);
    return v4 !== null && v4.length === 4 ? `${formatIpC(v4)}:${Number(port)}` : text;
  }
  if (!host.endsWith("]")) return text;
  const [addr, zone = ""] = host.slice(1, -1).split("%", 2);
  const a = parseIp(addr);
  if (a === null || a.length !== 16) return text;
  let scope = "";
  if (/^[0-9]+$/.test(zone) && Number(zone) !== 0) {
    const linkLocal = (a[0] === 0xfe && (a[1] & 0xc0) === 0x80) ||
      (a[0] === 0xff && (a[1] & 0x0f) === 0x02);
    scope = `%${(linkLocal ? interfaceName(Number(zone)) : null) ?? Number(zone)}`;
  } else if (zone !== "" && zone !== "0") {
    scope = `%${zone}`;
  }
  return `[${formatIpC(a)}${scope}]:${Number(port)}`;
}

/** `%.2f` of `b / 2^shift` with glibc's rounding (exact value, ties to even). */
function fixed2(b: number, shift: number): string {
  const den = 1n << BigInt(shift);
  const num = BigInt(b) * 100n;
  let q = num / den;
  const twice = 2n * (num % den);
  if (twice > den || (twice === den && (q & 1n) === 1n)) q++;
  return `${q / 100n}.${(q % 100n).toString().padStart(2, "0")}`;
}

function paint(f: ShowFormat, code: string): string {
  return f.color ? code : "";
}

/** `wg`'s byte counts: `N B`, `N.NN KiB` … `TiB`. */
export function formatBytes(b: number, f: ShowFormat): string {
  const unit = (u: string): string => `${paint(f, CYAN)}${u}${paint(f, RESET)}`;
  if (b < 1024) return `${b} ${unit("B")}`;
  if (b < 1024 ** 2) return `${fixed2(b, 10)} ${unit("KiB")}`;
  if (b < 1024 ** 3) return `${fixed2(b, 20)} ${unit("MiB")}`;
  if (b < 1024 ** 4) return `${fixed2(b, 30)} ${unit("GiB")}`;
  return `${fixed2(b, 40)} ${unit("TiB")}`;
}

/** `wg`'s durations: `1 year, 2 days, 3 hours, 4 minutes, 5 seconds` (zero parts left out). */
export function formatDuration(seconds: number, f: ShowFormat): string {
  const parts: [number, string][] = [
    [Math.floor(seconds / (365 * 86400)), "year"],
    [Math.floor((seconds % (365 * 86400)) / 86400), "day"],
    [Math.floor((seconds % 86400) / 3600), "hour"],
    [Math.floor((seconds % 3600) / 60), "minute"],
    [seconds % 60, "second"],
  ];
  return parts.filter(([n]) => n !== 0)
    .map(([n, u]) => `${n} ${paint(f, CYAN)}${u}${n === 1 ? "" : "s"}${paint(f, RESET)}`)
    .join(", ");
}

function ago(sec: number, f: ShowFormat): string {
  if (f.now === sec) return "Now";
  if (f.now < sec) {
    return `(${paint(f, RED)}System clock wound backward; connection problems may ensue.${
      paint(f, RESET)
    })`;
  }
  return `${formatDuration(f.now - sec, f)} ago`;
}

function never(p: UapiPeerState): boolean {
  return p.lastHandshakeTimeSec === 0 && p.lastHandshakeTimeNsec === 0;
}

/** `wg show`'s peer order: latest handshake first, never-handshaked last; stable. */
export function sortPeers(peers: readonly UapiPeerState[]): UapiPeerState[] {
  return [...peers].sort((a, b) => {
    if (never(a) && !never(b)) return 1;
    if (never(b) && !never(a)) return -1;
    const d = a.lastHandshakeTimeSec - b.lastHandshakeTimeSec ||
      a.lastHandshakeTimeNsec - b.lastHandshakeTimeNsec;
    return d < 0 ? 1 : d > 0 ? -1 : 0;
  });
}

function hasKey(k: Uint8Array | null): k is Uint8Array {
  return k !== null && k.some((x) => x !== 0);
}

function b64(k: Uint8Array): string {
  return encodeBase64Key(k);
}

function maskedKey(k: Uint8Array, f: ShowFormat): string {
  return f.hideKeys ? "(hidden)" : b64(k);
}

function cidrText(c: { bytes: Uint8Array; cidr: number }): string {
  return `${formatIpC(c.bytes)}/${c.cidr}`;
}

/** `wg show IFACE` (the pretty form), ending in a newline. */
export function formatShow(name: string, state: UapiState, f: ShowFormat): string {
  const bold = (label: string): string => `  ${paint(f, BOLD)}${label}${paint(f, RESET)}: `;
  let s = paint(f, RESET);
  s += `${paint(f, GREEN + BOLD)}interface${paint(f, RESET)}: ${paint(f, GREEN)}${name}${
    paint(f, RESET)
  }\n`;
  if (hasKey(state.privateKey)) {
    s += `${bold("public key")}${b64(publicKey(state.privateKey))}\n`;
    s += `${bold("private key")}${maskedKey(state.privateKey, f)}\n`;
  }
  if (state.listenPort !== 0) s += `${bold("listening port")}${state.listenPort}\n`;
  if (state.fwmark !== 0) s += `${bold("fwmark")}0x${state.fwmark.toString(16)}\n`;
  const peers = sortPeers(state.peers);
  if (peers.length > 0) s += "\n";
  peers.forEach((p, i) => {
    s += `${paint(f, YELLOW + BOLD)}peer${paint(f, RESET)}: ${paint(f, YELLOW)}${b64(p.publicKey)}${
      paint(f, RESET)
    }\n`;
    if (hasKey(p.presharedKey)) s += `${bold("preshared key")}${maskedKey(p.presharedKey, f)}\n`;
    if (p.endpoint !== null) s += `${bold("endpoint")}${formatEndpointC(p.endpoint)}\n`;
    s += bold("allowed ips");
    s += p.allowedIps.length === 0
      ? "(none)\n"
      : `${
        p.allowedIps.map((c) =>
          `${formatIpC(c.bytes)}${paint(f, CYAN)}/${paint(f, RESET)}${c.cidr}`
        ).join(", ")
      }\n`;
    if (p.lastHandshakeTimeSec !== 0) {
      s += `${bold("latest handshake")}${ago(p.lastHandshakeTimeSec, f)}\n`;
    }
    if (p.rxBytes !== 0 || p.txBytes !== 0) {
      s += `${bold("transfer")}${formatBytes(p.rxBytes, f)} received, ${
        formatBytes(p.txBytes, f)
      } sent\n`;
    }
    if (p.persistentKeepaliveInterval !== 0) {
      s += `${bold("persistent keepalive")}every ${
        formatDuration(p.persistentKeepaliveInterval, f)
      }\n`;
    }
    if (i < peers.length - 1) s += "\n";
  });
  return s;
}

function maybeKey(k: Uint8Array | null): string {
  return hasKey(k) ? b64(k) : "(none)";
}

/** `wg show IFACE FIELD` (or, with `withInterface`, one interface of `wg show all FIELD`). */
export function formatField(
  name: string,
  state: UapiState,
  field: ShowField,
  withInterface: boolean,
): string {
  const pre = withInterface ? `${name}\t` : "";
  const pub = hasKey(state.privateKey) ? publicKey(state.privateKey) : null;
  const ep = (p: UapiPeerState): string =>
    p.endpoint === null ? "(none)" : formatEndpointC(p.endpoint);
  const fw = state.fwmark !== 0 ? `0x${state.fwmark.toString(16)}` : "off";
  const each = (line: (p: UapiPeerState) => string): string =>
    state.peers.map((p) => `${pre}${line(p)}\n`).join("");
  switch (field) {
    case "public-key":
      return `${pre}${maybeKey(pub)}\n`;
    case "private-key":
      return `${pre}${maybeKey(state.privateKey)}\n`;
    case "listen-port":
      return `${pre}${state.listenPort}\n`;
    case "fwmark":
      return `${pre}${fw}\n`;
    case "endpoints":
      // wg prints the interface name once, before the first peer (and even with no peers).
      return pre + state.peers.map((p) => `${b64(p.publicKey)}\t${ep(p)}\n`).join("");
    case "allowed-ips":
      return each((p) =>
        `${b64(p.publicKey)}\t${
          p.allowedIps.length === 0 ? "(none)" : p.allowedIps.map(cidrText).join(" ")
        }`
      );
    case "latest-handshakes":
      return each((p) => `${b64(p.publicKey)}\t${p.lastHandshakeTimeSec}`);
    case "transfer":
      return each((p) => `${b64(p.publicKey)}\t${p.rxBytes}\t${p.txBytes}`);
    case "persistent-keepalive":
      return each((p) =>
        `${b64(p.publicKey)}\t${
          p.persistentKeepaliveInterval !== 0 ? p.persistentKeepaliveInterval : "off"
        }`
      );
    case "preshared-keys":
      return each((p) => `${b64(p.publicKey)}\t${maybeKey(p.presharedKey)}`);
    case "peers":
      return each((p) => b64(p.publicKey));
    case "dump":
      return `${pre}${maybeKey(state.privateKey)}\t${maybeKey(pub)}\t${state.listenPort}\t${fw}\n` +
        each((p) =>
          [
            b64(p.publicKey),
            maybeKey(p.presharedKey),
            ep(p),
            p.allowedIps.length === 0 ? "(none)" : p.allowedIps.map(cidrText).join(","),
            p.lastHandshakeTimeSec,
            p.rxBytes,
            p.txBytes,
            p.persistentKeepaliveInterval !== 0 ? p.persistentKeepaliveInterval : "off",
          ].join("\t")
        );
  }
}

/**
 * JSON value of one interface, shaped like `wg-json`; a tunslab interface's live counters go
 * under `tunslab` (a key wg-json never has).
 */
export function jsonInterface(
  state: UapiState,
  f: ShowFormat,
  counters: LiveCounters | null = null,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (hasKey(state.privateKey)) {
    out.privateKey = maskedKey(state.privateKey, f);
    out.publicKey = b64(publicKey(state.privateKey));
  }
  if (state.listenPort !== 0) out.listenPort = state.listenPort;
  if (state.fwmark !== 0) out.fwmark = state.fwmark;
  const peers: Record<string, unknown> = {};
  for (const p of state.peers) {
    const o: Record<string, unknown> = {};
    if (hasKey(p.presharedKey)) o.presharedKey = maskedKey(p.presharedKey, f);
    if (p.endpoint !== null) o.endpoint = formatEndpointC(p.endpoint);
    if (p.lastHandshakeTimeSec !== 0) o.latestHandshake = p.lastHandshakeTimeSec;
    if (p.rxBytes !== 0) o.transferRx = p.rxBytes;
    if (p.txBytes !== 0) o.transferTx = p.txBytes;
    if (p.persistentKeepaliveInterval !== 0) {
      o.persistentKeepalive = p.persistentKeepaliveInterval;
    }
    o.allowedIps = p.allowedIps.map(cidrText);
    peers[b64(p.publicKey)] = o;
  }
  out.peers = peers;
  if (counters !== null) out.tunslab = counters;
  return out;
}

/** The live counters behind `name`'s socket; null for another program's (wireguard-go). */
async function countersOf(name: string, dir: string): Promise<LiveCounters | null> {
  try {
    return (await runningTunnel(name, dir)).stats;
  } catch (e) {
    if (e instanceof NotTunslabError) return null;
    throw e;
  }
}

function describe(e: unknown): string {
  if (e instanceof UapiClientError) return errnoDescription(e.errno);
  if (e instanceof UapiProtocolError) return errnoDescription(Math.abs(e.errno));
  throw e;
}

const USAGE = `show [IFACE | all | interfaces] [FIELD] [--json]

Shows interfaces served on ${UAPI_SOCKET_DIR}/IFACE.sock, as \`wg show\` does, and those
of \`tunslab proxy\` run by this user in $XDG_RUNTIME_DIR/wireguard/ or /tmp/tunslab-$UID/.
FIELD: ${SHOW_FIELDS.join(" | ")}
  --json   one JSON object keyed by interface (wg-json's shape; tunslab's
           pool, drop and handshake counters under "tunslab")
Environment: WG_HIDE_KEYS=never shows keys, WG_COLOR_MODE=always|never.`;

/** `tunslab show`; returns the exit code. */
export async function show(args: string[], io: ShowIo = {}): Promise<number> {
  const parsed = parseCommand(args, {
    usage: USAGE,
    min: 0,
    max: 2,
    options: { json: { type: "boolean" } },
  });
  if (parsed === null) return 0;
  const [target = "all", fieldArg] = parsed.positionals;
  const json = parsed.values.json === true;
  let field: ShowField | undefined;
  if (fieldArg !== undefined) {
    if (!(SHOW_FIELDS as readonly string[]).includes(fieldArg)) {
      throw new UsageError(`invalid FIELD "${fieldArg}" (one of ${SHOW_FIELDS.join(", ")})`);
    }
    if (json) throw new UsageError("--json prints every field; drop FIELD");
    field = fieldArg as ShowField;
  }
  if (target === "interfaces" && field !== undefined) {
    throw new UsageError("`show interfaces` takes no FIELD");
  }
  // A proxy run by an ordinary user serves in a private directory (src/uapi/socket_dirs.ts).
  const dirs = io.dir !== undefined ? [io.dir] : socketDirs();
  const stdout = io.stdout ?? ((t: string) => Deno.stdout.writeSync(new TextEncoder().encode(t)));
  const stderr = io.stderr ?? ((t: string) => Deno.stderr.writeSync(new TextEncoder().encode(t)));
  const env = io.env ?? ((n: string) => {
    try {
      return Deno.env.get(n);
    } catch {
      return undefined;
    }
  });
  const colorMode = env("WG_COLOR_MODE");
  const fmt: ShowFormat = {
    color: colorMode === "always" ||
      (colorMode !== "never" && (io.isTerminal ?? Deno.stdout.isTerminal())),
    hideKeys: env("WG_HIDE_KEYS") !== "never",
    now: Math.floor(io.now?.() ?? Date.now() / 1000),
  };

  const served = new Map<string, string>(); // name → its directory (the first one wins)
  for (const [i, d] of dirs.entries()) {
    const why = i > 0 && io.dir === undefined ? untrusted(d) : null;
    if (why !== null) {
      stderr(`Skipping ${d}/: it ${why}\n`);
      continue;
    }
    let names: string[];
    try {
      names = await listUapiInterfaces(d);
    } catch (e) {
      if (i === 0) throw e;
      stderr(`Skipping ${d}/: ${(e as Error).message}\n`);
      continue;
    }
    for (const n of names) if (!served.has(n)) served.set(n, d);
  }
  if (target === "interfaces") {
    const names = [...served.keys()];
    if (json) stdout(`${JSON.stringify(names)}\n`);
    else if (names.length > 0) stdout(`${names.join(" ")}\n`);
    return 0;
  }

  if (target !== "all") {
    let state: UapiState;
    const dir = served.get(target) ?? findSocketDir(target, dirs) ?? dirs[0];
    try {
      uapiSocketPath(target, dir);
      state = await uapiGetState(target, dir);
    } catch (e) {
      stderr(`Unable to access interface: ${describe(e)}\n`);
      return 1;
    }
    if (json) {
      const counters = await countersOf(target, dir);
      stdout(`${JSON.stringify({ [target]: jsonInterface(state, fmt, counters) }, null, "\t")}\n`);
    } else if (field !== undefined) stdout(formatField(target, state, field, false));
    else stdout(formatShow(target, state, fmt));
    return 0;
  }

  const names = [...served.keys()];
  let code = names.length > 0 ? 1 : 0;
  const all: Record<string, unknown> = {};
  for (const [i, name] of names.entries()) {
    const dir = served.get(name)!;
    let state: UapiState;
    try {
      state = await uapiGetState(name, dir);
    } catch (e) {
      stderr(`Unable to access interface ${name}: ${describe(e)}\n`);
      continue;
    }
    code = 0;
    if (json) all[name] = jsonInterface(state, fmt, await countersOf(name, dir));
    else if (field !== undefined) stdout(formatField(name, state, field, true));
    // Like wg: a blank line after each interface that is not the last one listed.
    else stdout(formatShow(name, state, fmt) + (i < names.length - 1 ? "\n" : ""));
  }
  if (json) stdout(`${JSON.stringify(all, null, "\t")}\n`);
  return code;
}
