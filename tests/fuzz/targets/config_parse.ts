/**
 * config_parse: wg-quick configs through `parseConfig` (src/wg/config.ts).
 * Valid ones are generated from a random structure (keys in any case and
 * order, repeated keys, comments, blank lines, CRLF, a BOM, every address
 * spelling) and must parse to exactly that structure, the public key derived
 * with @noble/curves. Mutated ones (byte flips, lines inserted, deleted,
 * duplicated, swapped, long lines, NUL, controls) must give a Config or a
 * ConfigError whose line lies in the text, whose message is short and free of
 * control characters: never another exception.
 * @module
 */
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { x25519 } from "@noble/curves/ed25519.js";
import { type Config, type Interface, parseConfig, type Peer } from "../../../src/wg/config.ts";
import { ConfigError } from "../../../src/wg/config_error.ts";
import type { Cidr } from "../../../src/wg/cidr.ts";
import { joinBlobs, Reader, splitBlobs, toBase64, Writer } from "../bytes.ts";
import { Rng } from "../rng.ts";
import { flipUtf8, hostName, mutateLines, randomV6, v4Text, v6Text } from "../text_gen.ts";
import type { Target } from "../harness.ts";

const PATH = "fuzz.conf";
const MODE_VALID = 0, MODE_MUTATED = 1;
/** Control characters (C0 but tab, DEL, C1) that must never reach a log line. */
// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f-\x9f]/;
const KEYS = [
  "PrivateKey",
  "ListenPort",
  "FwMark",
  "Address",
  "DNS",
  "MTU",
  "Table",
  "PreUp",
  "PostUp",
  "PreDown",
  "PostDown",
  "SaveConfig",
  "Offload",
  "MaxPool",
  "MaxPeers",
  "PublicKey",
  "PresharedKey",
  "AllowedIPs",
  "Endpoint",
  "PersistentKeepalive",
  "[Interface]",
  "[Peer]",
  "Bogus",
  "",
];

function anyCase(rng: Rng, s: string): string {
  const k = rng.below(4);
  if (k === 0) return s.toLowerCase();
  if (k === 1) return s.toUpperCase();
  if (k === 2) return s;
  return [...s].map((c) => (rng.chance(0.5) ? c.toUpperCase() : c.toLowerCase())).join("");
}

function ws(rng: Rng): string {
  return rng.pick(["", " ", " ", "  ", "\t"]);
}

/** An address and its text: `{bytes, text}`. */
function addr(rng: Rng, v6 = rng.chance(0.4)): { bytes: Uint8Array; text: string } {
  if (v6) {
    const b = randomV6(rng);
    return { bytes: b, text: v6Text(rng, b) };
  }
  const b = rng.bytes(4);
  return { bytes: b, text: v4Text(b) };
}

function prefix(rng: Rng, bare: boolean): { cidr: Cidr; text: string } {
  const a = addr(rng);
  const max = a.bytes.length * 8;
  if (bare && rng.chance(0.2)) {
    return { cidr: { family: max === 32 ? 4 : 6, bytes: a.bytes, cidr: max }, text: a.text };
  }
  const len = rng.int(0, max);
  return {
    cidr: { family: max === 32 ? 4 : 6, bytes: a.bytes, cidr: len },
    text: `${a.text}/${len}`,
  };
}

function masked(c: Cidr): Cidr {
  const bytes = new Uint8Array(c.bytes);
  for (let bit = c.cidr; bit < bytes.length * 8; bit++) bytes[bit >> 3] &= ~(0x80 >> (bit & 7));
  return { family: c.family, bytes, cidr: c.cidr };
}

function list<T>(rng: Rng, n: number, f: () => { v: T; text: string }): { vs: T[]; text: string } {
  const items = Array.from({ length: n }, f);
  return {
    vs: items.map((x) => x.v),
    text: items.map((x) => x.text).join(`${ws(rng)},${ws(rng)}`),
  };
}

function hook(rng: Rng): string {
  const chars = "abcdefghijklmnopqrstuvwxyz0123456789 _-./$;|&'\"%";
  let s = "x";
  for (let k = rng.int(0, 40); k > 0; k--) s += chars[rng.below(chars.length)];
  return s + "y";
}

function number(rng: Rng, v: number, zeros = 5): string {
  const s = String(v);
  return rng.chance(0.1) ? s.padStart(Math.max(s.length, rng.int(1, zeros)), "0") : s;
}

type Item<T> = [key: string, value: string, apply: (x: T) => void];

/** A valid config's text and the Config it must parse to. */
export function validConfig(rng: Rng): { text: string; config: Config } {
  const lines: string[] = [];
  const emit = (l: string): number => (lines.push(l), lines.length);
  const noise = () => {
    while (rng.chance(0.2)) {
      emit(rng.pick(["", "   ", "# comment", `${ws(rng)}# [Peer] = x`, "\t"]));
    }
  };
  const kv = (k: string, v: string) =>
    `${ws(rng)}${anyCase(rng, k)}${ws(rng)}=${ws(rng)}${v}${ws(rng)}${
      rng.chance(0.1) ? "# note" : ""
    }`;

  const priv = rng.bytes(32);
  const iface: Interface = {
    privateKey: priv,
    publicKey: x25519.getPublicKey(priv),
    listenPort: null,
    fwMark: null,
    addresses: [],
    mtu: 1420,
    mtuSet: false,
    dns: [],
    dnsSearch: [],
    table: null,
    tableLine: 0,
    preUp: [],
    postUp: [],
    preDown: [],
    postDown: [],
    saveConfig: false,
    offload: true,
    maxPool: null,
    maxPeers: null,
    metricsAddress: null,
    line: 0,
  };
  const ifaceItems = (): Item<Interface>[] => {
    const items: Item<Interface>[] = [];
    const add = (p: number, it: () => Item<Interface>) => {
      if (rng.chance(p)) items.push(it());
    };
    add(0.6, () => {
      const v = rng.int(0, 65535);
      return ["ListenPort", number(rng, v), (x) => (x.listenPort = v)];
    });
    add(0.3, () => {
      const k = rng.below(3);
      const v = k === 0 ? 0 : rng.u32();
      const text = k === 0
        ? anyCase(rng, "off")
        : k === 1
        ? number(rng, v, 12)
        : `0x${anyCase(rng, v.toString(16))}`;
      return ["FwMark", text, (x) => (x.fwMark = v)];
    });
    let v6 = false;
    for (let k = rng.int(0, 2); k > 0; k--) {
      items.push((() => {
        const l = list(rng, rng.int(1, 4), () => {
          const p = prefix(rng, true);
          return { v: p.cidr, text: p.text };
        });
        v6 ||= l.vs.some((c) => c.family === 6);
        return ["Address", l.text, (x) => x.addresses.push(...l.vs)];
      })());
    }
    add(0.3, () => {
      const v = rng.int(v6 ? 1280 : 68, 65535); // IPv6 needs 1280
      return ["MTU", number(rng, v), (x) => (x.mtu = v, x.mtuSet = true)];
    });
    add(0.4, () => {
      const l = list(rng, rng.int(1, 4), () => {
        const ip = rng.chance(0.7);
        const t = ip ? addr(rng).text : hostName(rng);
        return { v: { ip, t }, text: t };
      });
      return ["DNS", l.text, (x) => {
        for (const { ip, t } of l.vs) (ip ? x.dns : x.dnsSearch).push(t);
      }];
    });
    add(0.2, () => {
      const v = rng.pick(["off", "auto", "main", String(rng.int(1, 65535)), "custom_table"]);
      return ["Table", v, (x) => (x.table = v)];
    });
    for (
      const [key, field] of [["PreUp", "preUp"], ["PostUp", "postUp"], ["PreDown", "preDown"], [
        "PostDown",
        "postDown",
      ]] as const
    ) {
      for (let k = rng.chance(0.2) ? rng.int(1, 3) : 0; k > 0; k--) {
        const v = hook(rng);
        items.push([key, v, (x) => x[field].push(v)]);
      }
    }
    add(0.2, () => {
      const v = rng.chance(0.5);
      return ["SaveConfig", anyCase(rng, String(v)), (x) => (x.saveConfig = v)];
    });
    add(0.2, () => {
      const v = rng.chance(0.5);
      return ["Offload", anyCase(rng, v ? "on" : "off"), (x) => (x.offload = v)];
    });
    add(0.2, () => {
      const v = rng.int(1, 512);
      return ["MaxPool", number(rng, v, 3), (x) => (x.maxPool = v)];
    });
    add(0.2, () => {
      const v = rng.chance(0.5) ? rng.int(1, 1 << 20) : rng.pick([1, 10000, 65536, 1 << 20]);
      return ["MaxPeers", number(rng, v, 7), (x) => (x.maxPeers = v)];
    });
    return items;
  };

  const peers: Peer[] = [];
  const peerSection = (): void => {
    const pub = rng.bytes(32);
    const p: Peer = {
      publicKey: pub,
      presharedKey: null,
      allowedIps: [],
      endpoint: null,
      endpointLine: 0,
      persistentKeepalive: 0,
      line: 0,
    };
    const items: Item<Peer>[] = [["PublicKey", toBase64(pub), () => {}]];
    if (rng.chance(0.3)) {
      const k = rng.bytes(32);
      items.push(["PresharedKey", toBase64(k), (x) => (x.presharedKey = k)]);
    }
    for (let k = rng.int(0, 3); k > 0; k--) {
      const l = list(rng, rng.int(1, 6), () => {
        const q = prefix(rng, true);
        return { v: masked(q.cidr), text: q.text };
      });
      items.push(["AllowedIPs", l.text, (x) => x.allowedIps.push(...l.vs)]);
    }
    if (rng.chance(0.6)) {
      const port = rng.int(1, 65535);
      const k = rng.below(3);
      const host = k === 0
        ? v4Text(rng.bytes(4))
        : k === 1
        ? v6Text(rng, randomV6(rng))
        : hostName(rng);
      const text = k === 1 ? `[${host}]:${number(rng, port)}` : `${host}:${number(rng, port)}`;
      items.push(["Endpoint", text, (x) => (x.endpoint = { host, port })]);
    }
    if (rng.chance(0.4)) {
      const off = rng.chance(0.2);
      const v = off ? 0 : rng.int(0, 65535);
      items.push([
        "PersistentKeepalive",
        off ? anyCase(rng, "off") : number(rng, v),
        (x) => (x.persistentKeepalive = v),
      ]);
    }
    shuffle(rng, items);
    noise();
    p.line = emit(`${ws(rng)}${anyCase(rng, "[Peer]")}${ws(rng)}`);
    for (const [k, v, apply] of items) {
      noise();
      const at = emit(kv(k, v));
      apply(p);
      if (k === "Endpoint") p.endpointLine = at;
    }
    peers.push(p);
  };
  const ifaceSection = (items: Item<Interface>[]): void => {
    noise();
    const line = emit(
      `${ws(rng)}${anyCase(rng, "[Interface]")}${ws(rng)}${rng.chance(0.2) ? "# main" : ""}`,
    );
    if (iface.line === 0) iface.line = line;
    for (const [k, v, apply] of items) {
      noise();
      const at = emit(kv(k, v)), line = lines[at - 1];
      apply(iface);
      if (k.toLowerCase() === "table") iface.tableLine = at; // the last Table line wins
      // wg-quick runs a hook's whole rest of the line, a trailing `# comment` included.
      const hooks = {
        preup: iface.preUp,
        postup: iface.postUp,
        predown: iface.preDown,
        postdown: iface.postDown,
      };
      const list = hooks[k.toLowerCase() as keyof typeof hooks];
      if (list !== undefined) list[list.length - 1] = line.slice(line.indexOf("=") + 1).trim();
    }
  };

  // The [Interface] first (or after some peers), its items maybe split over two sections.
  const items: Item<Interface>[] = [["PrivateKey", toBase64(priv), () => {}], ...ifaceItems()];
  shuffle(rng, items);
  const nPeers = rng.chance(0.1) ? rng.int(10, 60) : rng.int(0, 5);
  const ifaceAt = rng.chance(0.8) ? 0 : rng.int(0, nPeers);
  const split = rng.chance(0.1) ? rng.int(0, items.length) : items.length;
  for (let k = 0; k <= nPeers; k++) {
    if (k === ifaceAt) ifaceSection(items.slice(0, split));
    if (k < nPeers) peerSection();
  }
  if (split < items.length) ifaceSection(items.slice(split));
  noise();
  const crlf = rng.weighted([6, 2, 1]);
  let text = crlf === 2
    ? lines.map((l) => l + (rng.chance(0.5) ? "\r\n" : "\n")).join("")
    : lines.join(crlf === 1 ? "\r\n" : "\n");
  if (rng.chance(0.1)) text = "\ufeff" + text;
  return { text, config: { interface: iface, peers } };
}

function shuffle<T>(rng: Rng, xs: T[]): void {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
}

/** A valid config, then mutated: lines and bytes. */
function mutatedConfig(rng: Rng): string {
  const { text } = validConfig(rng);
  let t = text;
  const k = rng.weighted([6, 3, 1, 1, 1, 1]);
  if (k === 0) {
    t = mutateLines(rng, t.split("\n"), KEYS, rng.pick(["=", " = "])).join(
      rng.chance(0.9) ? "\n" : "\r\n",
    );
  } else if (k === 1) t = flipUtf8(rng, t);
  else if (k === 2) t = t.replaceAll("\n", rng.pick(["\r", "\r\r\n", "\n\r", "\u2028", "\x85"]));
  else if (k === 3) {
    const p = rng.below(t.length + 1);
    t = t.slice(0, p) + rng.pick(["\0", "\ufeff", "\x9b31m", "\x1b]0;x\x07"]) + t.slice(p);
  } else if (k === 4) t = t.slice(0, rng.below(t.length + 1));
  else t = "\0".repeat(rng.int(1, 5000)) + (rng.chance(0.5) ? t : "");
  return t;
}

function checkError(e: ConfigError, text: string): void {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/).length;
  ok(
    Number.isInteger(e.line) && e.line >= 0 && e.line <= lines,
    `line ${e.line} outside 0..${lines}`,
  );
  equal(e.path, PATH);
  ok(
    e.message.startsWith(`Invalid config at ${PATH}:${e.line}: `),
    `message prefix: ${JSON.stringify(e.message.slice(0, 80))}`,
  );
  ok(
    e.message.length < 400,
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

export const configParse: Target<null> = {
  name: "config_parse",
  maxStepMs: 2000,
  setup: () => null,
  inUse: () => 0,
  generate(rng) {
    if (rng.chance(0.35)) {
      return joinBlobs(new Uint8Array([MODE_VALID]), [new Writer().u32(rng.u32()).done()]);
    }
    return joinBlobs(new Uint8Array([MODE_MUTATED]), [
      new TextEncoder().encode(mutatedConfig(rng)),
    ]);
  },
  split(input) {
    // A mutated text shrinks by lines; a valid one is its generator's seed.
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
    if (head[0] === MODE_VALID) {
      const { text, config } = validConfig(
        new Rng(new Reader(records[0] ?? new Uint8Array(4)).u32()),
      );
      let got: Config;
      try {
        got = parseConfig(text, PATH);
      } catch (e) {
        throw new Error(`valid config refused: ${(e as Error).message}\n${text.slice(0, 3000)}`);
      }
      deepStrictEqual(got, config, `round trip of\n${text.slice(0, 3000)}`);
      return;
    }
    const text = new TextDecoder().decode(records[0] ?? new Uint8Array(0));
    try {
      parseConfig(text, PATH);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      checkError(e, text);
    }
  },
};
