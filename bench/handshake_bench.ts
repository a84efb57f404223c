/**
 * Handshake speed (issue 13, "fast handshakes"), all in one run on one core:
 *
 * - X25519 per second: the handshake's WASM (`src/wg/wasm_crypto.ts`), `@noble/curves`,
 *   and OpenSSL (`openssl speed -seconds 3 ecdhx25519`, its "op/s"); the public key too.
 * - Responder handshakes per second: N distinct peers each send an initiation (made
 *   beforehand); the responder runs the real path of `src/wg/` for each (mac1 check,
 *   `consumeInitiation`, `createResponse`, mac1 on the response, `deriveTransportKeys`).
 *   Round 0 is every peer's first handshake (it also computes the static-static DH, which
 *   the peer then keeps); rounds 1.. are later handshakes of the same peers.
 * - Where a responder handshake's time goes: each primitive timed alone (best of three short
 *   runs), times how often one handshake calls it, for the WASM primitives and for @noble's
 *   (what the same handshake cost before they moved to WASM).
 *
 * Prints markdown tables and the two checks (≥ 2,000 responder handshakes/s; WASM
 * X25519 ≥ 0.25× OpenSSL), and writes everything (with the checks, the CPU and the Deno and
 * OpenSSL versions) to `bench/results/handshake-YYYY-MM-DD.json`, or to `--json FILE`. Exit 1
 * when a check fails. Under `deno bench` the file registers the same operations as
 * `Deno.bench` cases instead.
 *
 * @example
 * ```sh
 * deno task bench:handshake                       # ~40 s
 * deno run -A bench/handshake_bench.ts --peers 2000 --rounds 6 --json out.json
 * deno bench -A bench/handshake_bench.ts
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { x25519 as nobleX25519 } from "@noble/curves/ed25519.js";
import { blake2s as nobleBlake2s } from "@noble/hashes/blake2.js";
import { hmac as nobleHmac } from "@noble/hashes/hmac.js";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import {
  consumeInitiation,
  createInitiation,
  createResponse,
  deriveTransportKeys,
  Handshake,
  type LocalStatic,
  randomIndexAllocator,
} from "../src/wg/handshake.ts";
import { CookieChecker, CookieVerdict } from "../src/wg/cookie_checker.ts";
import { CookieGenerator } from "../src/wg/cookie_generator.ts";
import { encodeBase64Key, generatePrivateKey, publicKey } from "../src/wg/keys.ts";
import { tai64n } from "../src/wg/tai64n.ts";
import * as P from "../src/wg/primitives.ts";

/** One responder-side peer, as the device keeps it (handshake and cookie state). */
interface Peer {
  handshake: Handshake;
  cookies: CookieGenerator;
}

/** A responder with `n` peers, and each peer's own initiator side. */
export class HandshakeWorld {
  readonly server: LocalStatic;
  readonly checker: CookieChecker;
  readonly peers: Peer[] = [];
  readonly #byKey = new Map<string, Peer>();
  readonly #initiators: { hs: Handshake; cookies: CookieGenerator }[] = [];
  readonly #indices = randomIndexAllocator();
  readonly #response = new Uint8Array(92);
  readonly #keys = new Uint8Array(64);
  readonly #src = Uint8Array.of(192, 0, 2, 1);
  #sent = 0;

  constructor(n: number) {
    const sk = generatePrivateKey();
    this.server = { privateKey: sk, publicKey: publicKey(sk) };
    this.checker = new CookieChecker(this.server.publicKey);
    for (let i = 0; i < n; i++) {
      const ik = generatePrivateKey();
      const id = { privateKey: ik, publicKey: publicKey(ik) };
      this.#initiators.push({
        hs: new Handshake(id, this.server.publicKey),
        cookies: new CookieGenerator(this.server.publicKey),
      });
      const peer = {
        handshake: new Handshake(this.server, id.publicKey),
        cookies: new CookieGenerator(id.publicKey),
      };
      this.peers.push(peer);
      this.#byKey.set(encodeBase64Key(id.publicKey), peer);
    }
  }

  /** The next initiation of peer `i` (timestamps strictly increase, as a real peer's do). */
  initiation(i: number): Uint8Array {
    const msg = new Uint8Array(148);
    const me = this.#initiators[i];
    const ts = tai64n(1_700_000_000_000 + 1000 * ++this.#sent);
    if (createInitiation(me.hs, msg, { indices: this.#indices, timestamp: ts }) !== 148) {
      throw new Error("createInitiation failed");
    }
    me.cookies.addMacs(msg, 0);
    return msg;
  }

  /** The responder's whole work for one initiation at clock `now` (ms); throws on failure. */
  respond(msg: Uint8Array, now: number): void {
    if (this.checker.check(msg, this.#src, 51820, false, now) !== CookieVerdict.ACCEPT) {
      throw new Error("mac1 refused");
    }
    const peer = consumeInitiation(this.server, msg, {
      lookup: (k) => this.#byKey.get(encodeBase64Key(k)),
      now,
    });
    if (typeof peer === "number") throw new Error(`consumeInitiation: ${peer}`);
    const n = createResponse(peer.handshake, this.#response, { indices: this.#indices });
    if (n !== 92) throw new Error(`createResponse: ${n}`);
    peer.cookies.addMacs(this.#response, now, n);
    const info = deriveTransportKeys(peer.handshake, this.#keys);
    if (typeof info === "number") throw new Error(`deriveTransportKeys: ${info}`);
    this.#indices.release(info.localIndex); // the device's keypair would own it
  }
}

/** Seconds per call of `op`, over `seconds` (after a warm-up of `round` calls). */
function timePerCall(op: () => unknown, seconds: number, round: number): number {
  for (let i = 0; i < round; i++) op();
  let calls = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < seconds * 1000) {
    for (let i = 0; i < round; i++) op();
    calls += round;
    t = performance.now();
  }
  return (t - t0) / 1000 / calls;
}

const RESULTS = new URL("./results/", import.meta.url).pathname;

/** `openssl speed -seconds N ecdhx25519`: op/s, or null if openssl is missing or says otherwise. */
export async function opensslX25519(seconds = 3): Promise<number | null> {
  try {
    const out = await new Deno.Command("openssl", {
      args: ["speed", "-seconds", String(seconds), "ecdhx25519"],
      stdout: "piped",
      stderr: "null",
    }).output();
    // " 253 bits ecdh (X25519)   0.0000s  27879.3" — seconds per op, then op/s.
    const m = /ecdh \(X25519\)\s+[\d.]+s\s+([\d.]+)\s*$/m.exec(
      new TextDecoder().decode(out.stdout),
    );
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Everything one run measures. */
export interface HandshakeReport {
  x25519: { wasm: number; noble: number; openssl: number | null };
  publicKey: { wasm: number; noble: number };
  responder: { peers: number; first: number; later: number[] };
  split: { op: string; count: number; wasmUs: number; nobleUs: number }[];
}

const PER_HANDSHAKE: [string, number][] = [
  ["X25519 (DH)", 3],
  ["X25519 public key", 1],
  ["HASH (BLAKE2s)", 7],
  ["MAC (keyed BLAKE2s-128)", 2],
  ["KDF1", 4],
  ["KDF2", 3],
  ["KDF3", 1],
  ["AEAD open (48/28 B)", 2],
  ["AEAD seal (0 B)", 1],
];

/** µs per call of each primitive a responder handshake uses, WASM and @noble. */
function splitTable(seconds: number): HandshakeReport["split"] {
  const k = generatePrivateKey(), pub = publicKey(generatePrivateKey());
  const k32 = crypto.getRandomValues(new Uint8Array(32)), d64 = new Uint8Array(64);
  const nonce = new Uint8Array(12), ct48 = P.aeadSeal(k32, 0, d64.subarray(0, 32), k32);
  const nobleHm = (key: Uint8Array, ...m: Uint8Array[]) => {
    const h = nobleHmac.create(nobleBlake2s, key);
    for (const x of m) h.update(x);
    return h.digest();
  };
  const nobleKdf = (n: number, key: Uint8Array, x: Uint8Array) => {
    const prk = nobleHm(key, x);
    let t = nobleHm(prk, Uint8Array.of(1));
    for (let i = 2; i <= n; i++) t = nobleHm(prk, t, Uint8Array.of(i));
    return t;
  };
  const ops: Record<string, [() => unknown, () => unknown]> = {
    "X25519 (DH)": [() => P.dh(k, pub), () => nobleX25519.getSharedSecret(k, pub)],
    "X25519 public key": [
      () => P.dhPublicKey(k),
      () => nobleX25519.scalarMult(k, nobleX25519.GuBytes),
    ],
    "HASH (BLAKE2s)": [
      () => P.hash(k32, k32),
      () => nobleBlake2s.create().update(k32).update(k32).digest(),
    ],
    "MAC (keyed BLAKE2s-128)": [
      () => P.mac(k32, d64, d64.subarray(0, 52)),
      () =>
        nobleBlake2s.create({ key: k32, dkLen: 16 }).update(d64).update(d64.subarray(0, 52))
          .digest(),
    ],
    "KDF1": [() => P.kdf1(k32, k32), () => nobleKdf(1, k32, k32)],
    "KDF2": [() => P.kdf2(k32, k32), () => nobleKdf(2, k32, k32)],
    "KDF3": [() => P.kdf3(k32, k32), () => nobleKdf(3, k32, k32)],
    "AEAD open (48/28 B)": [
      () => P.aeadOpen(k32, 0, ct48, k32),
      () => chacha20poly1305(k32, nonce, k32).decrypt(ct48),
    ],
    "AEAD seal (0 B)": [
      () => P.aeadSeal(k32, 0, new Uint8Array(0), k32),
      () => chacha20poly1305(k32, nonce, k32).encrypt(new Uint8Array(0)),
    ],
  };
  // The best of three short runs each: a shared machine only ever makes a call slower.
  const best = (op: () => unknown, round: number) =>
    Math.min(...[0, 1, 2].map(() => timePerCall(op, seconds / 3, round)));
  return PER_HANDSHAKE.map(([op, count]) => {
    const [w, n] = ops[op];
    const slow = op.startsWith("X25519");
    return {
      op,
      count,
      wasmUs: 1e6 * best(w, slow ? 20 : 500),
      nobleUs: 1e6 * best(n, slow ? 2 : 200),
    };
  });
}

/** Responder rounds: every peer once per round; handshakes per second of each round. */
function responderRounds(world: HandshakeWorld, rounds: number): number[] {
  const n = world.peers.length;
  const rates: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const msgs = Array.from({ length: n }, (_, i) => world.initiation(i));
    const now = 1000 * (r + 1); // > 20 ms since each peer's last one: no flood refusal
    const t0 = performance.now();
    for (let i = 0; i < n; i++) world.respond(msgs[i], now);
    rates.push(n / ((performance.now() - t0) / 1000));
  }
  return rates;
}

/** Runs every measurement. */
export async function measureHandshakes(
  opts: { peers: number; rounds: number; seconds: number; openssl: boolean },
): Promise<HandshakeReport> {
  const world = new HandshakeWorld(opts.peers);
  const [first, ...later] = responderRounds(world, opts.rounds + 1);
  const k = generatePrivateKey(), pub = publicKey(generatePrivateKey());
  const rate = (op: () => unknown, round: number) => 1 / timePerCall(op, opts.seconds, round);
  const report: HandshakeReport = {
    x25519: {
      wasm: rate(() => P.dh(k, pub), 50),
      noble: rate(() => nobleX25519.getSharedSecret(k, pub), 5),
      openssl: null,
    },
    publicKey: {
      wasm: rate(() => publicKey(k), 50),
      noble: rate(() => nobleX25519.scalarMult(k, nobleX25519.GuBytes), 5),
    },
    responder: { peers: opts.peers, first, later },
    split: splitTable(opts.seconds / 2),
  };
  if (opts.openssl) report.x25519.openssl = await opensslX25519(3);
  return report;
}

const f0 = (x: number): string => x.toFixed(0).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b), m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** The markdown tables. */
export function formatHandshakes(r: HandshakeReport): string {
  const ssl = r.x25519.openssl;
  const ratio = (
    x: number,
    y: number | null,
  ) => (y === null || y === 0 ? "n/a" : `${(x / y).toFixed(2)}×`);
  const lines = [
    "| per second | WASM | @noble | OpenSSL | WASM / noble | WASM / OpenSSL |",
    "| ---------- | ---: | -----: | ------: | -----------: | -------------: |",
    `| X25519 | ${f0(r.x25519.wasm)} | ${f0(r.x25519.noble)} | ${
      ssl === null ? "n/a" : f0(ssl)
    } | ${ratio(r.x25519.wasm, r.x25519.noble)} | ${ratio(r.x25519.wasm, ssl)} |`,
    `| X25519 public key | ${f0(r.publicKey.wasm)} | ${f0(r.publicKey.noble)} | | ${
      ratio(r.publicKey.wasm, r.publicKey.noble)
    } | |`,
    "",
    `Responder handshakes per second, one core, ${f0(r.responder.peers)} distinct peers:`,
    "",
    "| round | handshakes/s |",
    "| ----- | -----------: |",
    `| first of each peer (+ its static-static DH) | ${f0(r.responder.first)} |`,
    ...r.responder.later.map((x, i) => `| later ${i + 1} | ${f0(x)} |`),
    `| later, mean | ${f0(mean(r.responder.later))} |`,
    `| later, median | ${f0(median(r.responder.later))} |`,
    "",
    "Where one responder handshake's time goes (each primitive alone × calls per handshake):",
    "",
    "| primitive | calls | WASM µs | WASM total µs | @noble µs | @noble total µs |",
    "| --------- | ----: | ------: | ------------: | --------: | --------------: |",
  ];
  let w = 0, n = 0;
  for (const s of r.split) {
    w += s.count * s.wasmUs;
    n += s.count * s.nobleUs;
    lines.push(
      `| ${s.op} | ${s.count} | ${s.wasmUs.toFixed(2)} | ${(s.count * s.wasmUs).toFixed(1)} | ${
        s.nobleUs.toFixed(2)
      } | ${(s.count * s.nobleUs).toFixed(1)} |`,
    );
  }
  const measured = 1e6 / median(r.responder.later);
  lines.push(
    `| sum of the primitives | | | ${w.toFixed(1)} | | ${n.toFixed(1)} |`,
    `| measured handshake (later rounds, median) | | | ${measured.toFixed(1)} | | |`,
    `| the rest (lookups, messages, allocation) | | | ${(measured - w).toFixed(1)} | | |`,
  );
  return lines.join("\n");
}

/** One of the targets. */
export interface HandshakeVerdict {
  check: string;
  pass: boolean;
  value: string;
}

/**
 * The two targets (the OpenSSL one only when OpenSSL was measured). Handshakes: the median
 * of the later rounds, so that one round slowed by another process on a shared machine does not
 * decide.
 */
export function handshakeVerdicts(r: HandshakeReport): HandshakeVerdict[] {
  const hs = median(r.responder.later);
  const out = [{ check: "responder handshakes ≥ 2,000/s", pass: hs >= 2000, value: `${f0(hs)}/s` }];
  if (r.x25519.openssl !== null) {
    const x = r.x25519.wasm / r.x25519.openssl;
    out.push({ check: "WASM X25519 ≥ 0.25× OpenSSL", pass: x >= 0.25, value: `${x.toFixed(2)}×` });
  }
  return out;
}

/** Where the numbers were taken: CPU model, Deno and OpenSSL versions. */
async function environment(): Promise<Record<string, string | number>> {
  let cpu = "unknown", openssl = "none";
  try {
    cpu = /^model name\s*:\s*(.*)$/m.exec(Deno.readTextFileSync("/proc/cpuinfo"))?.[1] ?? cpu;
  } catch { /* not Linux */ }
  try {
    const out = await new Deno.Command("openssl", { args: ["version"], stderr: "null" }).output();
    openssl = new TextDecoder().decode(out.stdout).trim();
  } catch { /* no openssl */ }
  return { cpu, cpus: navigator.hardwareConcurrency, deno: Deno.version.deno, openssl };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    strict: true,
    options: {
      peers: { type: "string", default: "1000" },
      rounds: { type: "string", default: "8" },
      seconds: { type: "string", default: "2" },
      json: { type: "string" },
      "no-openssl": { type: "boolean", default: false },
    },
  });
  const report = await measureHandshakes({
    peers: Number(values.peers),
    rounds: Number(values.rounds),
    seconds: Number(values.seconds),
    openssl: !values["no-openssl"],
  });
  const verdicts = handshakeVerdicts(report);
  console.log(formatHandshakes(report));
  console.log("");
  for (const v of verdicts) console.log(`${v.check}: ${v.pass ? "PASS" : "FAIL"} (${v.value})`);
  const date = new Date().toISOString();
  const out = values.json ?? `${RESULTS}handshake-${date.slice(0, 10)}.json`;
  if (values.json === undefined) Deno.mkdirSync(RESULTS, { recursive: true });
  Deno.writeTextFileSync(
    out,
    JSON.stringify({ date, env: await environment(), checks: verdicts, ...report }, null, 2) +
      "\n",
  );
  console.log(`\nWritten to ${out}`);
  if (!verdicts.every((v) => v.pass)) Deno.exit(1);
} else {
  // Under `deno bench`: the same operations as bench cases.
  const k = generatePrivateKey(), pub = publicKey(generatePrivateKey());
  Deno.bench({
    name: "noble X25519",
    group: "x25519",
    baseline: true,
    fn: () => void nobleX25519.getSharedSecret(k, pub),
  });
  Deno.bench({ name: "wasm X25519", group: "x25519", fn: () => void P.dh(k, pub) });
  Deno.bench({
    name: "noble public key",
    group: "public key",
    baseline: true,
    fn: () => void nobleX25519.scalarMult(k, nobleX25519.GuBytes),
  });
  Deno.bench({ name: "wasm public key", group: "public key", fn: () => void publicKey(k) });
  const world = new HandshakeWorld(64);
  let turn = 0;
  Deno.bench({
    name: "responder handshake (mac1, consume, respond, derive)",
    group: "handshake",
    fn(b) {
      const i = turn++ % world.peers.length;
      const msg = world.initiation(i);
      b.start();
      world.respond(msg, 25 * turn); // each peer's initiations 64 × 25 ms apart: no flood
      b.end();
    },
  });
}
