/**
 * The cross-platform UAPI text protocol (wireguard.com/xplatform), both ways:
 * `set=1` bodies → {@link UapiSetRequest} with wireguard-go 0.0.20220316's error
 * codes, {@link UapiState} → `get=1` replies in its key order, and the client
 * side (`wg`'s parser) for `tunslab show`.
 *
 * Value syntax follows Go, as wireguard-go parses it: keys are 64 hex digits in
 * either case (`hex.DecodeString`); ports, fwmark and keepalive are unsigned
 * decimals with leading zeros allowed (`strconv.ParseUint`); `allowed_ip` is
 * `netip.ParsePrefix` (no bare address, no zone, the length may carry a sign
 * or leading zeros: `10.0.0.0/+08` is a /8); `endpoint` is
 * `netip.ParseAddrPort` (IPv6 in brackets, IPv4 without, no host names) with a
 * zone that is an interface name or a number. Lines end in `\n` with one
 * optional `\r` before it (`bufio.ScanLines`).
 *
 * Deliberate differences from wireguard-go, all invisible to `wg`: a body is
 * parsed completely before anything is applied (wireguard-go applies line by
 * line and keeps the lines before an error); `remove=true` or `update_only=true`
 * make the other lines of their section no-ops even when they came first; an
 * endpoint's zone is kept as a number and IPv4-mapped endpoints become IPv4.
 * `allowed_ip=-P` (removal, newer wireguard-go) is accepted.
 *
 * @example
 * ```ts
 * import { formatGetResponse, parseSetRequest } from "./uapi_protocol.ts";
 * import { formatCidr } from "../wg/cidr.ts";
 * const req = parseSetRequest(`listen_port=51820\npublic_key=${"ab".repeat(32)}\nallowed_ip=10.0.0.1/24\n\n`);
 * const op = req.peers[0].allowedIpOps[0];
 * console.log(req.listenPort, op.kind === "add" && formatCidr(op.cidr)); // 51820 "10.0.0.0/24"
 * console.log(formatGetResponse({ privateKey: null, listenPort: 51820, fwmark: 0, peers: [] }));
 * // "listen_port=51820\nerrno=0\n\n"
 * ```
 * @module
 */

import { type Cidr, formatCidr, formatIp, maskCidr, parseIp } from "../wg/cidr.ts";
import { clampPrivateKey, decodeHexKey, encodeHexKey, isZeroKey } from "../wg/keys.ts";
import { formatEndpoint, parseEndpoint } from "../endpoint.ts";
import type {
  UapiAllowedIpOp,
  UapiGetState,
  UapiPeerChange,
  UapiPeerState,
  UapiSetRequest,
  UapiState,
} from "./uapi_types.ts";

/** The negative errno values wireguard-go (and this server) put in `errno=` replies. */
export const UAPI_ERRNO = {
  /** Read/write failure, or a line longer than 64 KiB. */
  EIO: -5,
  /** A bad key or value. */
  EINVAL: -22,
  /** Anything else (wireguard-go: "other UAPI error"). */
  ENOANO: -55,
  /** A line without `=`, or a request cut short. */
  EPROTO: -71,
  /** A request larger than the server's limit (ours; wireguard-go has none). */
  EMSGSIZE: -90,
  /** `listen_port` cannot be bound, or `fwmark` cannot be set. */
  EADDRINUSE: -98,
} as const;

/** The longest line wireguard-go's `bufio.Scanner` accepts (64 KiB incl. `\n`). */
export const UAPI_MAX_LINE = 65535;

/** A malformed `set=1` line, or a malformed or failed reply; `errno` is negative. */
export class UapiProtocolError extends Error {
  override name = "UapiProtocolError";
  /**
   * @param errno negative errno for the `errno=` reply
   * @param line 1-based line of the request (`set=1` is line 1), 0 when not about a line
   */
  constructor(readonly errno: number, readonly line: number, detail: string) {
    super(line > 0 ? `UAPI request line ${line}: ${detail}` : `UAPI: ${detail}`);
  }
}

/** Options for {@link parseSetRequest}. */
export interface ParseSetOptions {
  /**
   * Interface name → index for endpoint zones (`[fe80::1%eth0]:51820`); `null`
   * if there is no such interface. Default: `/sys/class/net/NAME/ifindex`.
   */
  resolveZone?: (name: string) => number | null;
}

const MAX_QUOTE = 80;

function quote(s: string): string {
  // JSON escapes C0 controls but not DEL or C1 (U+0080..U+009F, e.g. the 8-bit CSI).
  return JSON.stringify(s.length > MAX_QUOTE ? `${s.slice(0, MAX_QUOTE)}…` : s)
    .replace(/[\x7f-\x9f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** Interface index from sysfs, or null (no such interface, or no read permission). */
function sysfsIfIndex(name: string): number | null {
  if (!/^[^/\0]{1,15}$/.test(name) || name === "." || name === "..") return null;
  try {
    const n = Number(Deno.readTextFileSync(`/sys/class/net/${name}/ifindex`).trim());
    return Number.isSafeInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

/** `strconv.ParseUint(s, 10, bits)`, or null. */
function parseUint(s: string, max: number): number | null {
  if (!/^[0-9]+$/.test(s)) return null;
  const n = Number(s);
  return n <= max ? n : null;
}

/** `netip.ParseAddr`: the address bytes and the zone ("" if none), or null. */
function parseGoAddr(s: string): { bytes: Uint8Array; zone: string } | null {
  let zone = "";
  let addr = s;
  const firstSep = s.search(/[.:%]/);
  if (firstSep < 0 || s[firstSep] === "%") return null;
  if (s[firstSep] === ":") {
    const pct = s.indexOf("%");
    if (pct >= 0) {
      zone = s.slice(pct + 1);
      addr = s.slice(0, pct);
      if (zone === "") return null;
    }
  }
  const bytes = parseIp(addr);
  if (bytes === null || (s[firstSep] === ":" && bytes.length !== 16)) return null;
  return { bytes, zone };
}

/** `netip.ParsePrefix` (Go 1.19), masked; null if invalid. */
function parseGoPrefix(s: string): Cidr | null {
  const slash = s.lastIndexOf("/");
  if (slash < 0) return null;
  const addr = parseGoAddr(s.slice(0, slash));
  if (addr === null || addr.zone !== "") return null;
  const bitsText = s.slice(slash + 1);
  if (!/^[+-]?[0-9]+$/.test(bitsText)) return null;
  const bits = Number(bitsText);
  const max = addr.bytes.length * 8;
  if (bits < 0 || bits > max) return null;
  return maskCidr({ family: max === 32 ? 4 : 6, bytes: addr.bytes, cidr: bits + 0 });
}

/**
 * `netip.ParseAddrPort` plus wireguard-go's zone lookup, normalized to what
 * `parseEndpoint` accepts; null if invalid.
 */
function parseGoEndpoint(s: string, resolveZone: (name: string) => number | null): string | null {
  const colon = s.lastIndexOf(":");
  if (colon < 0) return null;
  let host = s.slice(0, colon);
  const portText = s.slice(colon + 1);
  if (host === "" || portText === "") return null;
  let bracketed = false;
  if (host[0] === "[") {
    if (host.length < 2 || host[host.length - 1] !== "]") return null;
    host = host.slice(1, -1);
    bracketed = true;
  }
  const port = parseUint(portText, 0xffff);
  if (port === null) return null;
  const addr = parseGoAddr(host);
  if (addr === null) return null;
  const v4 = addr.bytes.length === 4;
  if (bracketed === v4) return null; // brackets are for IPv6 only, and IPv6 needs them
  let scope = 0;
  if (addr.zone !== "") {
    const index = resolveZone(addr.zone) ?? parseUint(addr.zone, 0xffffffff);
    if (index === null) return null;
    scope = index;
  }
  const ip = formatIp(addr.bytes);
  const text = v4 ? `${ip}:${port}` : `[${ip}${scope !== 0 ? `%${scope}` : ""}]:${port}`;
  try {
    return formatEndpoint(parseEndpoint(text));
  } catch {
    return null; // not reached: src/endpoint.ts accepts every normalized form
  }
}

function hexKey(value: string, line: number, what: string): Uint8Array {
  try {
    return decodeHexKey(value);
  } catch {
    throw new UapiProtocolError(
      UAPI_ERRNO.EINVAL,
      line,
      `${what} must be 64 hex digits, got ${quote(value)}`,
    );
  }
}

function uintValue(value: string, max: number, line: number, what: string): number {
  const n = parseUint(value, max);
  if (n === null) {
    throw new UapiProtocolError(
      UAPI_ERRNO.EINVAL,
      line,
      `${what} must be an integer 0..${max}, got ${quote(value)}`,
    );
  }
  return n;
}

function trueValue(value: string, line: number, key: string): void {
  if (value !== "true") {
    throw new UapiProtocolError(
      UAPI_ERRNO.EINVAL,
      line,
      `${key} must be "true", got ${quote(value)}`,
    );
  }
}

/**
 * Parses the body of a `set=1` request: the lines after `set=1\n`, up to the
 * first empty line (which may be absent). Throws {@link UapiProtocolError} with
 * `errno` -71 (EPROTO) for a line without `=` and -22 (EINVAL) for an unknown
 * key or a bad value; the first bad line wins.
 */
export function parseSetRequest(body: string, opts: ParseSetOptions = {}): UapiSetRequest {
  const steps = parseSetRequestSteps(body, opts);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/** Lines {@link parseSetRequestSteps} parses between two yields. */
export const PARSE_STEP_LINES = 2048;

/**
 * {@link parseSetRequest} in steps: yields after every {@link PARSE_STEP_LINES} lines (the
 * server lets the loop run in between a request of 10,000 peers), returns the request.
 */
export function* parseSetRequestSteps(
  body: string,
  opts: ParseSetOptions = {},
): Generator<void, UapiSetRequest> {
  const resolveZone = opts.resolveZone ?? sysfsIfIndex;
  const req: UapiSetRequest = { replacePeers: false, peers: [] };
  let peer: UapiPeerChange | null = null;
  const lines = body.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (i % PARSE_STEP_LINES === PARSE_STEP_LINES - 1) yield;
    const lineNo = i + 2;
    let line = lines[i];
    if (line.endsWith("\r")) line = line.slice(0, -1);
    if (line === "") break;
    const eq = line.indexOf("=");
    if (eq < 0) {
      throw new UapiProtocolError(
        UAPI_ERRNO.EPROTO,
        lineNo,
        `expected key=value, got ${quote(line)}`,
      );
    }
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (key === "public_key") {
      peer = {
        publicKey: hexKey(value, lineNo, "public_key"),
        remove: false,
        updateOnly: false,
        allowedIpOps: [],
      };
      req.peers.push(peer);
      continue;
    }
    if (peer === null) {
      parseDeviceLine(req, key, value, lineNo);
    } else {
      parsePeerLine(peer, key, value, lineNo, resolveZone);
    }
  }
  return req;
}

function parseDeviceLine(req: UapiSetRequest, key: string, value: string, line: number): void {
  switch (key) {
    case "private_key": {
      const k = hexKey(value, line, "private_key");
      req.privateKey = isZeroKey(k) ? k : clampPrivateKey(k);
      return;
    }
    case "listen_port":
      req.listenPort = uintValue(value, 0xffff, line, "listen_port");
      return;
    case "fwmark":
      req.fwmark = uintValue(value, 0xffffffff, line, "fwmark");
      return;
    case "replace_peers":
      trueValue(value, line, key);
      req.replacePeers = true;
      return;
    default:
      throw new UapiProtocolError(UAPI_ERRNO.EINVAL, line, `invalid device key ${quote(key)}`);
  }
}

function parsePeerLine(
  peer: UapiPeerChange,
  key: string,
  value: string,
  line: number,
  resolveZone: (name: string) => number | null,
): void {
  // Every value is validated; after remove=true nothing is recorded (wireguard-go's dummy peer).
  const live = !peer.remove;
  switch (key) {
    case "update_only":
      trueValue(value, line, key);
      peer.updateOnly = true;
      return;
    case "remove":
      trueValue(value, line, key);
      peer.remove = true;
      delete peer.presharedKey;
      delete peer.endpoint;
      delete peer.persistentKeepaliveInterval;
      peer.allowedIpOps = [];
      return;
    case "preshared_key": {
      const k = hexKey(value, line, "preshared_key");
      if (live) peer.presharedKey = k;
      return;
    }
    case "endpoint": {
      const ep = parseGoEndpoint(value, resolveZone);
      if (ep === null) {
        throw new UapiProtocolError(UAPI_ERRNO.EINVAL, line, `invalid endpoint ${quote(value)}`);
      }
      if (live) peer.endpoint = ep;
      return;
    }
    case "persistent_keepalive_interval": {
      const n = uintValue(value, 0xffff, line, "persistent_keepalive_interval");
      if (live) peer.persistentKeepaliveInterval = n;
      return;
    }
    case "replace_allowed_ips":
      trueValue(value, line, key);
      if (live) peer.allowedIpOps.push({ kind: "replace" });
      return;
    case "allowed_ip": {
      const removal = value.startsWith("-");
      const cidr = parseGoPrefix(removal ? value.slice(1) : value);
      if (cidr === null) {
        throw new UapiProtocolError(UAPI_ERRNO.EINVAL, line, `invalid allowed_ip ${quote(value)}`);
      }
      const op: UapiAllowedIpOp = removal ? { kind: "remove", cidr } : { kind: "add", cidr };
      if (live) peer.allowedIpOps.push(op);
      return;
    }
    case "protocol_version":
      if (value !== "1") {
        throw new UapiProtocolError(
          UAPI_ERRNO.EINVAL,
          line,
          `protocol_version must be 1, got ${quote(value)}`,
        );
      }
      return;
    default:
      throw new UapiProtocolError(UAPI_ERRNO.EINVAL, line, `invalid peer key ${quote(key)}`);
  }
}

function uint(n: number, what: string): string {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new RangeError(`formatGetResponse: ${what} must be a non-negative integer, got ${n}`);
  }
  return String(n);
}

function peerLines(p: UapiPeerState): string {
  let s = `public_key=${encodeHexKey(p.publicKey)}\n`;
  s += `preshared_key=${encodeHexKey(p.presharedKey ?? new Uint8Array(32))}\n`;
  s += "protocol_version=1\n";
  if (p.endpoint !== null) s += `endpoint=${p.endpoint}\n`;
  s += `last_handshake_time_sec=${uint(p.lastHandshakeTimeSec, "lastHandshakeTimeSec")}\n`;
  s += `last_handshake_time_nsec=${uint(p.lastHandshakeTimeNsec, "lastHandshakeTimeNsec")}\n`;
  s += `tx_bytes=${uint(p.txBytes, "txBytes")}\n`;
  s += `rx_bytes=${uint(p.rxBytes, "rxBytes")}\n`;
  s += `persistent_keepalive_interval=${
    uint(p.persistentKeepaliveInterval, "persistentKeepaliveInterval")
  }\n`;
  for (const c of p.allowedIps) s += `allowed_ip=${formatCidr(maskCidr(c))}\n`;
  return s;
}

/**
 * The complete `get=1` reply, `errno=0\n\n` included, in wireguard-go's order:
 * `private_key` (if set), `listen_port` (if not 0), `fwmark` (if not 0), then per
 * peer `public_key`, `preshared_key` (zeros if none), `protocol_version=1`,
 * `endpoint` (if known), `last_handshake_time_sec`/`_nsec`, `tx_bytes`,
 * `rx_bytes`, `persistent_keepalive_interval`, `allowed_ip`×N (masked).
 */
export function formatGetResponse(state: UapiGetState): string {
  let s = "";
  for (const part of getResponseParts(state)) s += part;
  return s;
}

/** {@link formatGetResponse} in parts: the device's lines, each peer's, then `errno=0`. */
export function* getResponseParts(state: UapiGetState): Generator<string> {
  let s = "";
  if (state.privateKey !== null && !isZeroKey(state.privateKey)) {
    s += `private_key=${encodeHexKey(state.privateKey)}\n`;
  }
  if (state.listenPort !== 0) s += `listen_port=${uint(state.listenPort, "listenPort")}\n`;
  if (state.fwmark !== 0) s += `fwmark=${uint(state.fwmark, "fwmark")}\n`;
  yield s;
  for (const p of state.peers) yield peerLines(p);
  yield "errno=0\n\n";
}

/** `errno=N\n\n`, the reply to a `set=1` (0 = success) or a failed `get=1`. */
export function formatErrnoResponse(errno: number): string {
  return `errno=${errno}\n\n`;
}

/** `wg`'s NUM(max): digits only (no sign), at most `max`. */
function replyNum(value: string, max: bigint, line: number, key: string): bigint {
  if (!/^[0-9]+$/.test(value) || BigInt(value) > max) {
    throw new UapiProtocolError(UAPI_ERRNO.EPROTO, line, `bad ${key} ${quote(value)}`);
  }
  return BigInt(value);
}

function replyKey(value: string, line: number, key: string): Uint8Array {
  // wg's key_from_hex accepts either case, exactly 64 digits.
  if (!/^[0-9a-fA-F]{64}$/.test(value)) {
    throw new UapiProtocolError(UAPI_ERRNO.EPROTO, line, `bad ${key} ${quote(value)}`);
  }
  return decodeHexKey(value);
}

function replyPrefix(value: string, line: number): Cidr {
  // wg: inet_pton of the address, then a decimal length within the family's range.
  const slash = value.indexOf("/");
  const bytes = slash < 0 ? null : parseIp(value.slice(0, slash));
  const bitsText = slash < 0 ? "" : value.slice(slash + 1);
  if (bytes === null || !/^[0-9]+$/.test(bitsText) || Number(bitsText) > bytes.length * 8) {
    throw new UapiProtocolError(UAPI_ERRNO.EPROTO, line, `bad allowed_ip ${quote(value)}`);
  }
  return { family: bytes.length === 4 ? 4 : 6, bytes, cidr: Number(bitsText) };
}

function safe(n: bigint): number {
  return n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n);
}

/**
 * Parses a complete `get=1` reply as `wg` does (unknown keys ignored; device
 * keys only before the first peer). Throws {@link UapiProtocolError}: with the
 * reply's errno if it is not 0, with -71 (EPROTO) if the reply is malformed or
 * has no `errno=` line before its blank line.
 */
export function parseGetResponse(text: string): UapiState {
  const state: UapiState = { privateKey: null, listenPort: 0, fwmark: 0, peers: [] };
  let peer: UapiPeerState | null = null;
  let errno: number | null = null;
  const lines = text.split("\n");
  for (let i = 0; i < lines.length - 1; i++) {
    const line = lines[i];
    const n = i + 1;
    if (line === "") {
      if (errno === null) {
        throw new UapiProtocolError(UAPI_ERRNO.EPROTO, n, "reply has no errno= line");
      }
      if (errno !== 0) throw new UapiProtocolError(errno, 0, `get=1 failed with errno ${errno}`);
      return state;
    }
    const eq = line.indexOf("=");
    if (eq < 0) throw new UapiProtocolError(UAPI_ERRNO.EPROTO, n, `bad line ${quote(line)}`);
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (peer === null && key === "private_key") {
      state.privateKey = replyKey(value, n, key);
    } else if (peer === null && key === "listen_port") {
      state.listenPort = Number(replyNum(value, 0xffffn, n, key));
    } else if (peer === null && key === "fwmark") {
      state.fwmark = Number(replyNum(value, 0xffffffffn, n, key));
    } else if (key === "public_key") {
      peer = newPeerState(replyKey(value, n, key));
      state.peers.push(peer);
    } else if (peer !== null && key === "preshared_key") {
      const k = replyKey(value, n, key);
      peer.presharedKey = isZeroKey(k) ? null : k;
    } else if (peer !== null && key === "endpoint") {
      if (value === "") throw new UapiProtocolError(UAPI_ERRNO.EPROTO, n, "empty endpoint");
      peer.endpoint = value; // as sent: wg resolves it with getaddrinfo, show re-formats it
    } else if (peer !== null && key === "persistent_keepalive_interval") {
      peer.persistentKeepaliveInterval = Number(replyNum(value, 0xffffn, n, key));
    } else if (peer !== null && key === "allowed_ip") {
      peer.allowedIps.push(replyPrefix(value, n));
    } else if (peer !== null && key === "last_handshake_time_sec") {
      peer.lastHandshakeTimeSec = safe(replyNum(value, 0x7fffffffffffffffn, n, key));
    } else if (peer !== null && key === "last_handshake_time_nsec") {
      peer.lastHandshakeTimeNsec = safe(replyNum(value, 0x7fffffffffffffffn, n, key));
    } else if (peer !== null && key === "rx_bytes") {
      peer.rxBytes = safe(replyNum(value, 0xffffffffffffffffn, n, key));
    } else if (peer !== null && key === "tx_bytes") {
      peer.txBytes = safe(replyNum(value, 0xffffffffffffffffn, n, key));
    } else if (key === "errno") {
      // wg wants digits only here; a negative code is still a failure, so take it as one.
      errno = -Number(replyNum(value.replace(/^-/, ""), 0x7fffffffn, n, key));
    }
  }
  throw new UapiProtocolError(UAPI_ERRNO.EPROTO, 0, "reply ends before its blank line");
}

/**
 * Parses a `set=1` reply (`errno=N` lines, then a blank line) as `wg` does and
 * returns N (0 = success). Throws {@link UapiProtocolError} (EPROTO) if malformed.
 */
export function parseErrnoResponse(text: string): number {
  let errno: number = UAPI_ERRNO.EPROTO;
  const lines = text.split("\n");
  for (let i = 0; i < lines.length - 1; i++) {
    const line = lines[i];
    if (line === "") return errno;
    const eq = line.indexOf("=");
    if (eq < 0) break;
    if (line.slice(0, eq) === "errno") {
      const v = line.slice(eq + 1);
      if (!/^-?[0-9]+$/.test(v) || Math.abs(Number(v)) > 0x7fffffff) break;
      errno = Number(v);
    }
  }
  throw new UapiProtocolError(UAPI_ERRNO.EPROTO, 0, `malformed reply ${quote(text)}`);
}

/** A peer as `get=1` shows it before anything is known: no psk, endpoint, handshake or traffic. */
export function newPeerState(publicKey: Uint8Array): UapiPeerState {
  return {
    publicKey,
    presharedKey: null,
    endpoint: null,
    lastHandshakeTimeSec: 0,
    lastHandshakeTimeNsec: 0,
    txBytes: 0,
    rxBytes: 0,
    persistentKeepaliveInterval: 0,
    allowedIps: [],
  };
}
