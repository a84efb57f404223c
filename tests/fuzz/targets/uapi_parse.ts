/**
 * uapi_parse: `set=1` bodies through `parseSetRequest`
 * (src/uapi/uapi_protocol.ts). Valid random requests (device keys, peers,
 * endpoints in every spelling, prefixes with signs and leading zeros,
 * remove/update_only, garbage after the blank line) must parse to exactly
 * the request generated; one known-bad line inserted anywhere must fail at
 * that line with its errno; mutated bodies give a request or a
 * UapiProtocolError (errno EINVAL or EPROTO, line inside the body, a message
 * under 1000 characters whatever the line's length, without control characters), never another exception.
 * @module
 */
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { type Cidr, formatIp } from "../../../src/wg/cidr.ts";
import { parseSetRequest, UapiProtocolError } from "../../../src/uapi/uapi_protocol.ts";
import type {
  UapiAllowedIpOp,
  UapiPeerChange,
  UapiSetRequest,
} from "../../../src/uapi/uapi_types.ts";
import { joinBlobs, Reader, splitBlobs, Writer } from "../bytes.ts";
import { Rng } from "../rng.ts";
import { flipUtf8, mutateLines, randomV6, v4Text, v6Text } from "../text_gen.ts";
import type { Target } from "../harness.ts";

const MODE_VALID = 0, MODE_MUTATED = 1, MODE_ONE_BAD = 2;
const EINVAL = -22, EPROTO = -71;
// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f-\x9f]/;
const opts = { resolveZone: (name: string) => (name === "eth7" ? 7 : null) };
const KEYS = [
  "private_key",
  "listen_port",
  "fwmark",
  "replace_peers",
  "public_key",
  "update_only",
  "remove",
  "preshared_key",
  "endpoint",
  "persistent_keepalive_interval",
  "replace_allowed_ips",
  "allowed_ip",
  "protocol_version",
  "get",
  "set",
  "errno",
  "",
  "Public_Key",
];
/** Lines refused in the device section and in a peer section alike, with their errno. */
const BAD_LINES: [string, number][] = [
  ["no-equals", EPROTO],
  ["listen_port", EPROTO],
  [" ", EPROTO],
  ["\t", EPROTO],
  ["zz=top", EINVAL],
  ["=", EINVAL],
  ["=x", EINVAL],
  ["public_key=", EINVAL],
  [`public_key=${"1".repeat(63)}`, EINVAL],
  [`public_key=${"g".repeat(64)}`, EINVAL],
  [`private_key=${"1".repeat(65)}`, EINVAL],
  ["fwmark=-1", EINVAL],
  ["remove=false", EINVAL],
  ["replace_peers=1", EINVAL],
  ["protocol_version=2", EINVAL],
  ["endpoint=[1.2.3.4]:5", EINVAL],
  ["allowed_ip=10.0.0.1", EINVAL],
  ["allowed_ip=1.2.3.4/33", EINVAL],
  ["Public_Key=x", EINVAL],
  ["listen_port= 5", EINVAL],
  ["update_only=TRUE", EINVAL],
  ["get=1", EINVAL],
];

function hexText(rng: Rng, b: Uint8Array): string {
  const s = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return rng.chance(0.2) ? s.toUpperCase() : s;
}

function uintText(rng: Rng, v: number): string {
  return rng.chance(0.1) ? "0".repeat(rng.int(1, 4)) + v : String(v);
}

function maskedCidr(family: 4 | 6, bytes: Uint8Array, cidr: number): Cidr {
  const b = new Uint8Array(bytes);
  for (let bit = cidr; bit < b.length * 8; bit++) b[bit >> 3] &= ~(0x80 >> (bit & 7));
  return { family, bytes: b, cidr };
}

function endpoint(rng: Rng): { text: string; want: string } {
  const port = rng.int(0, 65535);
  const k = rng.below(5);
  if (k <= 1) {
    const b = rng.bytes(4);
    return { text: `${v4Text(b)}:${uintText(rng, port)}`, want: `${v4Text(b)}:${port}` };
  }
  if (k === 2) { // IPv4-mapped: becomes IPv4
    const b = rng.bytes(4);
    return { text: `[::ffff:${v4Text(b)}]:${uintText(rng, port)}`, want: `${v4Text(b)}:${port}` };
  }
  let b = randomV6(rng);
  if (b[10] === 0xff && b[11] === 0xff && b.subarray(0, 10).every((x) => x === 0)) {
    b = new Uint8Array(16).fill(0x20);
  }
  const zone = k === 4 ? rng.pick([["eth7", 7], ["12", 12], ["0", 0]] as const) : null;
  const text = `[${v6Text(rng, b)}${zone ? `%${zone[0]}` : ""}]:${uintText(rng, port)}`;
  return { text, want: `[${formatIp(b)}${zone && zone[1] ? `%${zone[1]}` : ""}]:${port}` };
}

function allowedIp(rng: Rng): { text: string; cidr: Cidr } {
  const v6 = rng.chance(0.4);
  const bytes = v6 ? randomV6(rng) : rng.bytes(4);
  const max = v6 ? 128 : 32;
  const bits = rng.int(0, max);
  let bitsText = String(bits);
  const k = rng.below(10);
  if (k === 0) bitsText = "+" + bitsText;
  else if (k === 1) bitsText = "0".repeat(rng.int(1, 3)) + bitsText;
  else if (k === 2 && bits === 0) bitsText = "-0";
  return {
    text: `${v6 ? v6Text(rng, bytes) : v4Text(bytes)}/${bitsText}`,
    cidr: maskedCidr(v6 ? 6 : 4, bytes, bits),
  };
}

/** A valid body (its lines) and the request it must parse to. */
export function validRequest(rng: Rng): { lines: string[]; want: UapiSetRequest } {
  const lines: string[] = [];
  const want: UapiSetRequest = { replacePeers: false, peers: [] };
  for (let k = rng.int(0, 5); k > 0; k--) {
    switch (rng.below(4)) {
      case 0: {
        const key = rng.chance(0.1) ? new Uint8Array(32) : rng.bytes(32);
        lines.push(`private_key=${hexText(rng, key)}`);
        const c = new Uint8Array(key);
        if (c.some((x) => x !== 0)) {
          c[0] &= 248;
          c[31] = (c[31] & 127) | 64;
        }
        want.privateKey = c;
        break;
      }
      case 1: {
        const v = rng.int(0, 65535);
        lines.push(`listen_port=${uintText(rng, v)}`);
        want.listenPort = v;
        break;
      }
      case 2: {
        const v = rng.chance(0.5) ? rng.u32() : rng.int(0, 10);
        lines.push(`fwmark=${uintText(rng, v)}`);
        want.fwmark = v;
        break;
      }
      default:
        lines.push("replace_peers=true");
        want.replacePeers = true;
    }
  }
  for (let p = rng.chance(0.1) ? rng.int(10, 40) : rng.int(0, 4); p > 0; p--) {
    const pub = rng.bytes(32);
    lines.push(`public_key=${hexText(rng, pub)}`);
    const peer: UapiPeerChange = {
      publicKey: pub,
      remove: false,
      updateOnly: false,
      allowedIpOps: [],
    };
    for (let k = rng.int(0, 8); k > 0; k--) {
      const live = !peer.remove;
      switch (rng.weighted([1, 1, 2, 3, 2, 1, 6, 1])) {
        case 0:
          lines.push("update_only=true");
          peer.updateOnly = true;
          break;
        case 1:
          lines.push("remove=true");
          peer.remove = true;
          delete peer.presharedKey;
          delete peer.endpoint;
          delete peer.persistentKeepaliveInterval;
          peer.allowedIpOps = [];
          break;
        case 2: {
          const key = rng.bytes(32);
          lines.push(`preshared_key=${hexText(rng, key)}`);
          if (live) peer.presharedKey = key;
          break;
        }
        case 3: {
          const e = endpoint(rng);
          lines.push(`endpoint=${e.text}`);
          if (live) peer.endpoint = e.want;
          break;
        }
        case 4: {
          const v = rng.int(0, 65535);
          lines.push(`persistent_keepalive_interval=${uintText(rng, v)}`);
          if (live) peer.persistentKeepaliveInterval = v;
          break;
        }
        case 5:
          lines.push("replace_allowed_ips=true");
          if (live) peer.allowedIpOps.push({ kind: "replace" });
          break;
        case 6: {
          const a = allowedIp(rng);
          const removal = rng.chance(0.2);
          lines.push(`allowed_ip=${removal ? "-" : ""}${a.text}`);
          const op: UapiAllowedIpOp = removal
            ? { kind: "remove", cidr: a.cidr }
            : { kind: "add", cidr: a.cidr };
          if (live) peer.allowedIpOps.push(op);
          break;
        }
        default:
          lines.push("protocol_version=1");
      }
    }
    want.peers.push(peer);
  }
  return { lines, want };
}

/** The lines as a body: "\n" or "\r\n" endings, a blank line (or not), maybe garbage after it. */
function body(rng: Rng, lines: string[]): string {
  const eol = () => (rng.chance(0.1) ? "\r\n" : "\n");
  let s = lines.map((l) => l + eol()).join("");
  const end = rng.below(4);
  if (end === 0) return s;
  s += eol();
  if (end === 3) s += `zz=top\nno-equals\n${"\0".repeat(3)}\n`;
  return s;
}

function parse(text: string): UapiSetRequest | UapiProtocolError {
  try {
    return parseSetRequest(text, opts);
  } catch (e) {
    if (e instanceof UapiProtocolError) return e;
    throw e;
  }
}

function checkError(e: UapiProtocolError, text: string): void {
  const lines = text.split("\n").length;
  ok(e.errno === EINVAL || e.errno === EPROTO, `errno ${e.errno}`);
  ok(
    Number.isInteger(e.line) && e.line >= 2 && e.line <= lines + 1,
    `line ${e.line} outside 2..${lines + 1}`,
  );
  equal(e.name, "UapiProtocolError");
  // quote() keeps 80 characters; JSON escapes make each at most 6: bounded whatever the line.
  ok(
    e.message.length < 1000,
    `message of ${e.message.length} chars: ${JSON.stringify(e.message.slice(0, 120))}…`,
  );
  const bad = CONTROL.exec(e.message);
  ok(
    bad === null,
    `control character U+${bad?.[0].charCodeAt(0).toString(16).padStart(4, "0")} in the message ${
      JSON.stringify(e.message)
    }`,
  );
}

export const uapiParse: Target<null> = {
  name: "uapi_parse",
  maxStepMs: 2000,
  setup: () => null,
  inUse: () => 0,
  generate(rng) {
    const mode = rng.weighted([3, 5, 2]);
    if (mode !== MODE_MUTATED) {
      return joinBlobs(new Uint8Array([mode]), [new Writer().u32(rng.u32()).done()]);
    }
    const { lines } = validRequest(rng);
    let text: string;
    if (rng.chance(0.8)) text = body(rng, mutateLines(rng, lines, KEYS, "="));
    else text = flipUtf8(rng, body(rng, lines));
    return joinBlobs(new Uint8Array([mode]), [new TextEncoder().encode(text)]);
  },
  split(input) {
    const { head, records } = splitBlobs(input);
    if (head[0] !== MODE_MUTATED) return { head, records };
    const text = new TextDecoder().decode(records[0] ?? new Uint8Array(0));
    return {
      head,
      records: (text.match(/[^\n]*\n|[^\n]+$/g) ?? []).map((l) => new TextEncoder().encode(l)),
    };
  },
  join(head, records) {
    if (head[0] !== MODE_MUTATED) return joinBlobs(head, records);
    const all = new Uint8Array(records.reduce((a, r) => a + r.length, 0));
    let at = 0;
    for (const r of records) (all.set(r, at), at += r.length);
    return joinBlobs(head, [all]);
  },
  check(_ctx, input) {
    const { head, records } = splitBlobs(input);
    const mode = head[0] ?? MODE_VALID; // anything but MUTATED and ONE_BAD: a valid request
    if (mode === MODE_MUTATED) {
      const text = new TextDecoder().decode(records[0] ?? new Uint8Array(0));
      const r = parse(text);
      if (r instanceof UapiProtocolError) checkError(r, text);
      return;
    }
    const rng = new Rng(new Reader(records[0] ?? new Uint8Array(4)).u32());
    const { lines, want } = validRequest(rng);
    if (mode !== MODE_ONE_BAD) {
      const text = body(rng, lines);
      const r = parse(text);
      if (r instanceof UapiProtocolError) {
        throw new Error(`valid request refused: ${r.message}\n${text.slice(0, 3000)}`);
      }
      deepStrictEqual(r, want, `request:\n${text.slice(0, 3000)}`);
      return;
    }
    const at = rng.int(0, lines.length);
    const [bad, errno] = rng.pick(BAD_LINES);
    const text = body(rng, [...lines.slice(0, at), bad, ...lines.slice(at)]);
    const r = parse(text);
    ok(
      r instanceof UapiProtocolError,
      `bad line ${JSON.stringify(bad)} at line ${at + 2} accepted:\n${text.slice(0, 2000)}`,
    );
    deepStrictEqual(
      [r.errno, r.line],
      [errno, at + 2],
      `bad line ${JSON.stringify(bad)}: ${r.message}`,
    );
    checkError(r, text);
  },
};
