/**
 * wg-quick style configuration files (the format of wg(8) and wg-quick(8)): `[Interface]` with the `wg`
 * keys (PrivateKey, ListenPort, FwMark) and the wg-quick ones (Address, DNS,
 * MTU, Table, PreUp/PostUp/PreDown/PostDown, SaveConfig), tunslab's own
 * `Offload = on|off` (TUN and UDP offloads, default on), `MaxPool = N` (the packet pool's cap in
 * MiB, default 32) and `MaxPeers = N` (the peer limit, default 65,536), and any number of
 * `[Peer]` sections (PublicKey, PresharedKey, AllowedIPs, Endpoint,
 * PersistentKeepalive). Keys and section names are case-insensitive, `#`
 * starts a comment. Every problem is a {@link ConfigError} naming the line.
 *
 * Endpoint host names are not resolved here: the caller resolves `host`.
 *
 * @example
 * ```ts
 * import { parseConfig } from "./config.ts";
 * import { encodeBase64Key, generatePrivateKey, publicKey } from "./keys.ts";
 * const text = `[Interface]
 * PrivateKey = ${encodeBase64Key(generatePrivateKey())}
 * Address = 10.0.0.1/24, fd00::1/64
 * [Peer]
 * PublicKey = ${encodeBase64Key(publicKey(generatePrivateKey()))}
 * AllowedIPs = 10.0.0.2/32
 * Endpoint = [2001:db8::1]:51820`;
 * const cfg = parseConfig(text, "wg0.conf");
 * console.log(cfg.interface.mtu, cfg.peers[0].endpoint); // 1420 { host: "2001:db8::1", port: 51820 }
 * ```
 *
 * @module
 */

import { type Cidr, CidrError, maskCidr, parseCidr, parseIp } from "./cidr.ts";
import { ConfigError } from "./config_error.ts";
import { ListenAddressError, parseListenAddress } from "../metrics/listen_address.ts";
import { decodeBase64Key, KeyFormatError, publicKey } from "./keys.ts";

/** Default tunnel MTU: 1500 − 80. */
export const DEFAULT_MTU = 1420;
/** Largest config file read (10,000 peers with 16 prefixes each are ~4 MB). */
export const MAX_CONFIG_BYTES = 64 << 20;
/** Least MTU an interface with an IPv6 address may have (RFC 8200; the kernel refuses less). */
export const MIN_IPV6_MTU = 1280;
/** Largest `MaxPool` (MiB): the data plane's limit. */
export const MAX_POOL_MIB = 512;
export const MAX_PEERS_LIMIT = 1 << 20; // largest `MaxPeers`: the data plane's MAX_PEERS
/** Longest line accepted (an AllowedIPs list of a few thousand prefixes fits). */
export const MAX_LINE_CHARS = 64 << 10;

/** A peer endpoint as written: `host` is an IP literal (no brackets) or a name to resolve. */
export interface Endpoint {
  host: string;
  port: number;
}

/** The `[Interface]` section. */
export interface Interface {
  privateKey: Uint8Array;
  /** Derived from `privateKey`. */
  publicKey: Uint8Array;
  /** null = not set (random port). */
  listenPort: number | null;
  /** null = not set; 0 = off. */
  fwMark: number | null;
  /** Interface addresses, host bits kept. */
  addresses: Cidr[];
  mtu: number;
  /** The file sets `MTU`; unset, `up` chooses one as wg-quick does (src/host/auto_mtu.ts). */
  mtuSet?: boolean;
  /** DNS entries that are IP addresses. */
  dns: string[];
  /** DNS entries that are not IP addresses: search domains. */
  dnsSearch: string[];
  /** `off`, `auto`, a table number or name; null = not set (auto). */
  table: string | null;
  /** Line of the `Table` key (0: none), for an error about its value found at `up`. */
  tableLine?: number;
  preUp: string[];
  postUp: string[];
  preDown: string[];
  postDown: string[];
  saveConfig: boolean;
  /** `Offload = on|off` (tunslab only): TUN TSO/USO and UDP GSO/GRO; default true. */
  offload: boolean;
  /** `MaxPool = N` (tunslab only): the packet pool's cap in MiB; null = not set (32 MiB). */
  maxPool: number | null;
  maxPeers?: number | null; // `MaxPeers = N` (tunslab only): the peer limit; null = not set (65,536)
  /** `MetricsAddress = host:port` (tunslab only): where `/metrics` is served; null = nowhere. */
  metricsAddress?: string | null;
  /** Line of the (first) `[Interface]` header. */
  line: number;
}

/** A `[Peer]` section. */
export interface Peer {
  publicKey: Uint8Array;
  presharedKey: Uint8Array | null;
  /** Host bits masked, in file order. */
  allowedIps: Cidr[];
  endpoint: Endpoint | null;
  /** Line of the `Endpoint` key (0 when there is none), for messages about it. */
  endpointLine?: number;
  /** Seconds, 0 = off. */
  persistentKeepalive: number;
  /** Line of the `[Peer]` header. */
  line: number;
}

/** A parsed configuration file. */
export interface Config {
  interface: Interface;
  peers: Peer[];
}

/** Result of {@link parseConfigFile}: the config and warnings for the caller to log. */
export interface ConfigFile {
  config: Config;
  warnings: string[];
}

interface PeerDraft {
  publicKey: Uint8Array | null;
  publicKeyLine: number;
  endpointLine: number;
  presharedKey: Uint8Array | null;
  allowedIps: Cidr[];
  endpoint: Endpoint | null;
  persistentKeepalive: number;
  line: number;
}

/**
 * The configuration of an interface created with nothing configured, as `wireguard-go NAME`
 * creates one: no private key (all zero), no peers, no addresses, MTU 1420; `wg` and `ip` do the
 * rest. Its all-zero key means "none".
 */
export function unconfigured(): Config {
  return {
    interface: {
      privateKey: new Uint8Array(32),
      publicKey: new Uint8Array(32),
      listenPort: null,
      fwMark: null,
      addresses: [],
      mtu: DEFAULT_MTU,
      dns: [],
      dnsSearch: [],
      table: null,
      preUp: [],
      postUp: [],
      preDown: [],
      postDown: [],
      saveConfig: false,
      offload: true,
      maxPool: null,
      line: 0,
    },
    peers: [],
  };
}

/** Parses config text; `path` only labels errors. Throws {@link ConfigError}. */
export function parseConfig(text: string, path = "<config>"): Config {
  const iface = {
    privateKey: null as Uint8Array | null,
    listenPort: null as number | null,
    fwMark: null as number | null,
    addresses: [] as Cidr[],
    mtu: DEFAULT_MTU,
    mtuSet: false,
    dns: [] as string[],
    dnsSearch: [] as string[],
    table: null as string | null,
    tableLine: 0,
    preUp: [] as string[],
    postUp: [] as string[],
    preDown: [] as string[],
    postDown: [] as string[],
    saveConfig: false,
    offload: true,
    maxPool: null as number | null,
    maxPeers: null as number | null,
    metricsAddress: null as string | null,
    line: 0,
  };
  /** Lines of the MTU key and of the first IPv6 address (0: none), for the IPv6 MTU check. */
  let mtuLine = 0, v6Line = 0;
  const peers: PeerDraft[] = [];
  let section: "interface" | "peer" | null = null;
  let peer: PeerDraft | null = null;
  const nul = text.indexOf("\0");
  if (nul >= 0) {
    throw new ConfigError(path, lineAt(text, nul), "contains a NUL byte (not a text file?)");
  }
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);

  const endPeer = (): void => {
    if (peer !== null && peer.publicKey === null) {
      throw new ConfigError(path, peer.line, "[Peer] section has no PublicKey");
    }
  };

  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const err = (detail: string, cause?: unknown): ConfigError =>
      new ConfigError(path, lineNo, detail, cause === undefined ? undefined : { cause });
    if (lines[i].length > MAX_LINE_CHARS) {
      throw err(`line is longer than ${MAX_LINE_CHARS} characters (${lines[i].length})`);
    }
    const hash = lines[i].indexOf("#");
    const line = (hash >= 0 ? lines[i].slice(0, hash) : lines[i]).trim();
    if (line === "") continue;

    if (line.startsWith("[")) {
      const name = line.toLowerCase();
      endPeer();
      if (name === "[interface]") {
        section = "interface";
        peer = null;
        if (iface.line === 0) iface.line = lineNo;
      } else if (name === "[peer]") {
        section = "peer";
        peer = {
          publicKey: null,
          publicKeyLine: 0,
          endpointLine: 0,
          presharedKey: null,
          allowedIps: [],
          endpoint: null,
          persistentKeepalive: 0,
          line: lineNo,
        };
        peers.push(peer);
      } else {
        throw err(`Unknown section "${line}" (expected [Interface] or [Peer])`);
      }
      continue;
    }

    const eq = line.indexOf("=");
    if (eq < 0) throw err(`Line unrecognized: "${line}" (expected Key = Value)`);
    const rawKey = line.slice(0, eq).trim();
    const key = rawKey.toLowerCase();
    const value = line.slice(eq + 1).trim();
    if (section === null) throw err(`Key "${rawKey}" outside of a section`);
    const needValue = (): void => {
      if (value === "") throw err(`${rawKey}: value is empty`);
    };

    if (section === "interface") {
      switch (key) {
        case "privatekey":
          needValue();
          iface.privateKey = parseKey(value, rawKey, err);
          break;
        case "listenport":
          needValue();
          iface.listenPort = parsePort(value, 0, rawKey, err);
          break;
        case "fwmark":
          needValue();
          iface.fwMark = parseFwMark(value, rawKey, err);
          break;
        case "address":
          needValue();
          for (const item of splitList(value, rawKey, err)) {
            const c = cidr(item, rawKey, err);
            if (c.family === 6 && v6Line === 0) v6Line = lineNo;
            iface.addresses.push(c);
          }
          break;
        case "mtu":
          needValue();
          if (!/^[0-9]{1,5}$/.test(value) || Number(value) < 68 || Number(value) > 65535) {
            throw err(`${rawKey}: "${value}" is not an MTU (68..65535)`);
          }
          iface.mtu = Number(value);
          mtuLine = lineNo;
          iface.mtuSet = true;
          break;
        case "dns":
          needValue();
          for (const item of splitList(value, rawKey, err)) {
            if (/^[0-9.]+$/.test(item) || item.includes(":")) {
              if (parseIp(item) === null) throw err(`${rawKey}: "${item}" is not an IP address`);
              iface.dns.push(item);
            } else {
              iface.dnsSearch.push(item);
            }
          }
          break;
        case "table":
          needValue();
          if (/\s/.test(value)) throw err(`${rawKey}: "${value}" is not a routing table`);
          iface.table = value;
          iface.tableLine = lineNo;
          break;
        case "preup":
        case "postup":
        case "predown":
        case "postdown": {
          needValue();
          const hooks = {
            preup: iface.preUp,
            postup: iface.postUp,
            predown: iface.preDown,
            postdown: iface.postDown,
          };
          // wg-quick runs the whole rest of the line, `#` included (`echo "a#b"` stays intact).
          const raw = lines[i].slice(lines[i].indexOf("=") + 1).trim();
          hooks[key].push(raw);
          break;
        }
        case "saveconfig": {
          const v = value.toLowerCase();
          if (v !== "true" && v !== "false") {
            throw err(`${rawKey}: "${value}" is neither true nor false`);
          }
          iface.saveConfig = v === "true";
          break;
        }
        case "offload": {
          const v = value.toLowerCase();
          if (v !== "on" && v !== "off") throw err(`${rawKey}: "${value}" is neither on nor off`);
          iface.offload = v === "on";
          break;
        }
        case "maxpool":
          needValue();
          if (!/^[0-9]{1,3}$/.test(value) || Number(value) < 1 || Number(value) > MAX_POOL_MIB) {
            throw err(`${rawKey}: "${value}" is not a pool size in MiB (1..${MAX_POOL_MIB})`);
          }
          iface.maxPool = Number(value);
          break;
        case "maxpeers": // an empty value is not a number either
          if (!/^[0-9]{1,7}$/.test(value) || !(+value >= 1 && +value <= MAX_PEERS_LIMIT)) {
            throw err(`${rawKey}: "${value}" is not a number of peers (1..${MAX_PEERS_LIMIT})`);
          }
          iface.maxPeers = +value;
          break;
        case "metricsaddress": {
          needValue();
          try {
            parseListenAddress(value);
          } catch (e) {
            if (!(e instanceof ListenAddressError)) throw e;
            throw err(`${rawKey}: "${value}" ${e.detail}`);
          }
          iface.metricsAddress = value;
          break;
        }
        default:
          throw err(`Unknown key "${rawKey}" in [Interface] section`);
      }
      continue;
    }

    const p = peer!;
    switch (key) {
      case "publickey":
        needValue();
        p.publicKey = parseKey(value, rawKey, err);
        p.publicKeyLine = lineNo;
        break;
      case "presharedkey":
        needValue();
        p.presharedKey = parseKey(value, rawKey, err);
        break;
      case "allowedips":
        needValue();
        for (const item of splitList(value, rawKey, err)) {
          p.allowedIps.push(maskCidr(cidr(item, rawKey, err)));
        }
        break;
      case "endpoint":
        needValue();
        p.endpoint = parseEndpoint(value, rawKey, err);
        p.endpointLine = lineNo;
        break;
      case "persistentkeepalive":
        needValue();
        if (value.toLowerCase() === "off") p.persistentKeepalive = 0;
        else if (/^[0-9]{1,5}$/.test(value) && Number(value) <= 65535) {
          p.persistentKeepalive = Number(value);
        } else throw err(`${rawKey}: "${value}" is neither 0/off nor 1..65535`);
        break;
      default:
        throw err(`Unknown key "${rawKey}" in [Peer] section`);
    }
  }
  endPeer();

  if (iface.privateKey === null) {
    throw new ConfigError(path, iface.line, "[Interface] section has no PrivateKey");
  }
  if (v6Line > 0 && iface.mtu < MIN_IPV6_MTU) {
    throw new ConfigError(
      path,
      mtuLine,
      `MTU: ${iface.mtu} is below ${MIN_IPV6_MTU}, the least an interface with an IPv6 address (line ${v6Line}) may have`,
    );
  }
  const ownPublic = publicKey(iface.privateKey);
  const seen = new Map<string, number>();
  const done: Peer[] = [];
  for (const d of peers) {
    const pub = d.publicKey!;
    const k = pub.join(",");
    const first = seen.get(k);
    if (first !== undefined) {
      throw new ConfigError(
        path,
        d.publicKeyLine,
        `PublicKey: duplicate peer (same key as the peer at line ${first})`,
      );
    }
    seen.set(k, d.line);
    if (equal(pub, ownPublic)) {
      throw new ConfigError(
        path,
        d.publicKeyLine,
        "PublicKey: equals the interface's own public key",
      );
    }
    done.push({
      publicKey: pub,
      presharedKey: d.presharedKey,
      allowedIps: d.allowedIps,
      endpoint: d.endpoint,
      endpointLine: d.endpointLine,
      persistentKeepalive: d.persistentKeepalive,
      line: d.line,
    });
  }
  return {
    interface: { ...iface, privateKey: iface.privateKey, publicKey: ownPublic },
    peers: done,
  };
}

/**
 * Reads and parses a config file. If the file is readable or writable by
 * group or others (`mode & 0o077`), returns a wg-quick style warning
 * ("Warning: `PATH' is world accessible") for the caller to log. Read errors
 * other than `PermissionDenied` become a {@link ConfigError} at line 0.
 */
export async function parseConfigFile(path: string): Promise<ConfigFile> {
  let bytes: Uint8Array;
  let mode: number | null;
  try {
    const st = await Deno.stat(path);
    mode = st.mode;
    if (st.isFile && st.size > MAX_CONFIG_BYTES) {
      throw new ConfigError(path, 0, `file is larger than ${MAX_CONFIG_BYTES >> 20} MiB`);
    }
    // Read at most one byte past the limit (a FIFO or /proc file has no size up front).
    using f = await Deno.open(path);
    bytes = await readAtMost(f, MAX_CONFIG_BYTES + 1);
  } catch (e) {
    if (e instanceof Deno.errors.PermissionDenied || e instanceof ConfigError) throw e;
    throw new ConfigError(path, 0, `cannot read file: ${(e as Error).message}`, { cause: e });
  }
  if (bytes.length > MAX_CONFIG_BYTES) {
    throw new ConfigError(path, 0, `file is larger than ${MAX_CONFIG_BYTES >> 20} MiB`);
  }
  const bad = firstInvalidUtf8(bytes);
  if (bad >= 0) {
    let line = 1;
    for (let i = 0; i < bad; i++) if (bytes[i] === 10) line++;
    throw new ConfigError(
      path,
      line,
      `not UTF-8 text (byte 0x${bytes[bad].toString(16)} at offset ${bad})`,
    );
  }
  const text = new TextDecoder().decode(bytes);
  const warnings: string[] = [];
  if (mode !== null && (mode & 0o077) !== 0) {
    const who = (mode & 0o007) !== 0 ? "world" : "group";
    warnings.push(`Warning: \`${path}' is ${who} accessible`);
  }
  return { config: parseConfig(text, path), warnings };
}

type ErrFn = (detail: string, cause?: unknown) => ConfigError;

/** 1-based line of character `at` of `text`. */
function lineAt(text: string, at: number): number {
  let line = 1;
  for (let i = text.indexOf("\n"); i >= 0 && i < at; i = text.indexOf("\n", i + 1)) line++;
  return line;
}

/** Up to `max` bytes of `f`. */
async function readAtMost(f: Deno.FsFile, max: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  while (total < max) {
    const buf = new Uint8Array(Math.min(1 << 20, max - total));
    const n = await f.read(buf);
    if (n === null) break;
    chunks.push(buf.subarray(0, n));
    total += n;
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) (out.set(c, at), at += c.length);
  return out;
}

/** Offset of the first byte that is not part of well-formed UTF-8, or -1. */
function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    // Sequence length and the allowed range of the second byte (no overlongs, surrogates, > U+10FFFF).
    let n: number, lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) n = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      (n = 2, lo = c === 0xe0 ? 0xa0 : 0x80, hi = c === 0xed ? 0x9f : 0xbf);
    } else if (c >= 0xf0 && c <= 0xf4) {
      (n = 3, lo = c === 0xf0 ? 0x90 : 0x80, hi = c === 0xf4 ? 0x8f : 0xbf);
    } else return i;
    if (i + n >= b.length) return i; // truncated sequence at the end
    if (b[i + 1] < lo || b[i + 1] > hi) return i;
    for (let k = 2; k <= n; k++) if (b[i + k] < 0x80 || b[i + k] > 0xbf) return i;
    i += n + 1;
  }
  return -1;
}

function parseKey(value: string, key: string, err: ErrFn): Uint8Array {
  try {
    return decodeBase64Key(value);
  } catch (e) {
    if (e instanceof KeyFormatError) throw err(`${key}: ${e.message}`, e);
    throw e;
  }
}

function cidr(item: string, key: string, err: ErrFn): Cidr {
  try {
    return parseCidr(item);
  } catch (e) {
    if (e instanceof CidrError) throw err(`${key}: ${e.message}`, e);
    throw e;
  }
}

function splitList(value: string, key: string, err: ErrFn): string[] {
  const items = value.split(",").map((s) => s.trim());
  if (items.some((s) => s === "")) throw err(`${key}: empty entry in list "${value}"`);
  return items;
}

function parsePort(value: string, min: number, key: string, err: ErrFn): number {
  if (!/^[0-9]{1,5}$/.test(value) || Number(value) < min || Number(value) > 65535) {
    throw err(`${key}: "${value}" is not a port number (${min}..65535)`);
  }
  return Number(value);
}

/** wireguard-tools `parse_fwmark`: `off`, decimal, or `0x` hex, up to 2^32 − 1. */
function parseFwMark(value: string, key: string, err: ErrFn): number {
  if (value.toLowerCase() === "off") return 0;
  const hex = /^0x[0-9a-fA-F]+$/.test(value);
  if (!hex && !/^[0-9]+$/.test(value)) throw err(`${key}: "${value}" is neither off nor a number`);
  const n = hex ? parseInt(value.slice(2), 16) : Number(value);
  if (!(n <= 0xffffffff)) throw err(`${key}: "${value}" exceeds 2^32 - 1`);
  return n;
}

/** wireguard-tools `parse_endpoint`: `[v6]:port`, else split at the last colon. */
function parseEndpoint(value: string, key: string, err: ErrFn): Endpoint {
  let host: string;
  let port: string;
  if (value.startsWith("[")) {
    const close = value.indexOf("]");
    if (close < 0) throw err(`${key}: no matching "]" in "${value}"`);
    host = value.slice(1, close);
    if (value[close + 1] !== ":") throw err(`${key}: no port in "${value}"`);
    port = value.slice(close + 2);
  } else {
    const colon = value.lastIndexOf(":");
    if (colon < 0) throw err(`${key}: no port in "${value}"`);
    host = value.slice(0, colon);
    port = value.slice(colon + 1);
  }
  if (host === "") throw err(`${key}: no host in "${value}"`);
  if (port === "") throw err(`${key}: no port in "${value}"`);
  return { host, port: parsePort(port, 1, key, err) };
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
