/**
 * `deno task bench:peers`: a server with thousands of peers, tunslab and modern wireguard-go side
 * by side in one run (the issue's "servers" figures). Per program and size N, in fresh network
 * namespaces: the server in b (tunslab `up CONF`, or wireguard-go configured by `wg`), one real
 * client in a (modern wireguard-go, the same for every row) pinging the server every 10 ms
 * through the tunnel, then
 * - `wg setconf` of N peers plus the client (the peers are replaced: the client re-handshakes):
 *   its wall time and the longest gap between ping replies while it applies;
 * - `wg addconf` of N/10 more peers (sessions kept): time and longest gap;
 * - `wg syncconf` back to the setconf file (removes those, keeps the rest): time and longest gap;
 * - ΔRSS of the server 5 s after the setconf over N (memory per peer), and the number of peers
 *   `wg show dump` lists.
 * Prints a table, writes JSON to bench/results/peers-DATE.json.
 *
 * ```sh
 * sudo deno task bench:peers                  # N = 1000 and 10000
 * sudo deno task bench:peers --sizes 1000 --only tunslab
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { Testbed } from "../src/demo/testbed.ts";
import { startTunnel, type TunnelProcess } from "../src/demo/tunnel_process.ts";
import { modernWireguardGo } from "../src/demo/modern_wireguard_go.ts";
import { encodeBase64Key, generatePrivateKey, publicKey } from "../src/wg/keys.ts";
import { readProcStats } from "./proc_stats.ts";

const INNER = { a: "10.98.0.1", b: "10.98.0.2" } as const;
const PORT = 51820;

/** One program's figures at one size. */
export interface PeersRow {
  program: "tunslab" | "wireguard-go";
  peers: number;
  setconfSeconds: number | null;
  setconfGapMs: number | null;
  addconfSeconds: number | null;
  addconfGapMs: number | null;
  syncconfSeconds: number | null;
  syncconfGapMs: number | null;
  rssBeforeKiB: number | null;
  rssAfterKiB: number | null;
  kibPerPeer: number | null;
  listed: number | null;
  error?: string;
}

/** `[Peer]` sections of made-up peers, a /32 each (numbered from `from`). */
function fakePeers(fake: string[], from: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < fake.length; i++) {
    const k = from + i;
    out.push("[Peer]", `PublicKey = ${fake[i]}`);
    out.push(`AllowedIPs = 172.${16 + (k >> 16)}.${(k >> 8) & 255}.${k & 255}/32`, "");
  }
  return out;
}

/** A `wg setconf` file: the server's key and port, the client, then made-up peers. */
function serverConf(
  priv: string,
  client: { pub: string; endpoint: string },
  fake: string[],
): string {
  const out = ["[Interface]", `PrivateKey = ${priv}`, `ListenPort = ${PORT}`, ""];
  out.push("[Peer]", `PublicKey = ${client.pub}`, `AllowedIPs = ${INNER.a}/32`);
  out.push(`Endpoint = ${client.endpoint}`, "");
  return [...out, ...fakePeers(fake, 0)].join("\n");
}

/** Random 32-byte public keys (what a server's peer list holds; no handshake happens). */
function fakeKeys(n: number): string[] {
  const keys: string[] = [];
  for (let i = 0; i < n; i++) {
    keys.push(encodeBase64Key(crypto.getRandomValues(new Uint8Array(32))));
  }
  return keys;
}

/** Pings every 10 ms from a; `stop()` returns the longest gap between replies (ms). */
function pinger(bed: Testbed): { stop(): Promise<number> } {
  const child = bed.spawn("a", ["ping", "-n", "-D", "-i", "0.01", "-W", "1", INNER.b], {
    stdout: "piped",
    stderr: "null",
  });
  const text = new Response(child.stdout).text();
  return {
    async stop(): Promise<number> {
      try {
        child.kill("SIGINT");
      } catch { /* ended */ }
      await child.status;
      const times = [...(await text).matchAll(/^\[(\d+\.\d+)\] \d+ bytes from/gm)].map((m) =>
        Number(m[1]) * 1000
      );
      let gap = 0;
      for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i] - times[i - 1]);
      return times.length < 2 ? Infinity : gap;
    },
  };
}

/** Runs `wg CMD IFACE FILE` in b with pings running; returns its seconds and the longest gap. */
async function timed(
  bed: Testbed,
  args: string[],
): Promise<{ seconds: number; gapMs: number }> {
  const ping = pinger(bed);
  await new Promise((r) => setTimeout(r, 500)); // replies flowing before the change
  const t0 = performance.now();
  await bed.run("b", args);
  const seconds = (performance.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 1000)); // and after it (a re-handshake after setconf)
  const gapMs = await ping.stop();
  return { seconds, gapMs };
}

async function waitPing(bed: Testbed): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const r = await bed.run("a", ["ping", "-c", "1", "-W", "1", INNER.b], true);
    if (r.code === 0) return;
  }
  throw new Error(`no ping through the tunnel to ${INNER.b}`);
}

async function row(
  program: PeersRow["program"],
  n: number,
  modern: string,
): Promise<PeersRow> {
  const r: PeersRow = {
    program,
    peers: n,
    setconfSeconds: null,
    setconfGapMs: null,
    addconfSeconds: null,
    addconfGapMs: null,
    syncconfSeconds: null,
    syncconfGapMs: null,
    rssBeforeKiB: null,
    rssAfterKiB: null,
    kibPerPeer: null,
    listed: null,
  };
  const bed = await Testbed.create("bpeer");
  const procs: TunnelProcess[] = [];
  const dir = Deno.makeTempDirSync({ prefix: "bench-peers-" });
  try {
    const keys = { a: generatePrivateKey(), b: generatePrivateKey() };
    const name = { a: `bpa${n}`, b: `bpb${n}` };
    const spec = (side: "a" | "b") => {
      const peer = side === "a" ? "b" : "a";
      return {
        name: name[side],
        privateKey: encodeBase64Key(keys[side]),
        listenPort: PORT,
        addresses: [`${INNER[side]}/24`],
        peer: {
          publicKey: encodeBase64Key(publicKey(keys[peer])),
          allowedIps: [`${INNER[peer]}/32`],
          endpoint: `${bed.underlay(peer)}:${PORT}`,
        },
        program: side === "a" || program === "wireguard-go" ? modern : undefined,
      };
    };
    procs.push(await startTunnel(bed, "b", program, spec("b")));
    procs.push(await startTunnel(bed, "a", "wireguard-go", spec("a")));
    await waitPing(bed);
    const server = procs[0];
    const client = {
      pub: encodeBase64Key(publicKey(keys.a)),
      endpoint: `${bed.underlay("a")}:${PORT}`,
    };
    const priv = encodeBase64Key(keys.b);
    const fake = fakeKeys(n + Math.ceil(n / 10));
    const setFile = `${dir}/set.conf`, addFile = `${dir}/add.conf`;
    Deno.writeTextFileSync(setFile, serverConf(priv, client, fake.slice(0, n)));
    Deno.writeTextFileSync(addFile, fakePeers(fake.slice(n), n).join("\n")); // the new ones only
    r.rssBeforeKiB = readProcStats(server.pid)?.rssKiB ?? null;
    const set = await timed(bed, ["wg", "setconf", name.b, setFile]);
    [r.setconfSeconds, r.setconfGapMs] = [set.seconds, set.gapMs];
    await new Promise((res) => setTimeout(res, 5000));
    r.rssAfterKiB = readProcStats(server.pid)?.rssKiB ?? null;
    if (r.rssBeforeKiB !== null && r.rssAfterKiB !== null) {
      r.kibPerPeer = (r.rssAfterKiB - r.rssBeforeKiB) / n;
    }
    const dump = await bed.run("b", ["wg", "show", name.b, "dump"]);
    r.listed = dump.stdout.trim().split("\n").length - 1; // the first line is the interface
    await waitPing(bed);
    const add = await timed(bed, ["wg", "addconf", name.b, addFile]);
    [r.addconfSeconds, r.addconfGapMs] = [add.seconds, add.gapMs];
    const sync = await timed(bed, ["wg", "syncconf", name.b, setFile]);
    [r.syncconfSeconds, r.syncconfGapMs] = [sync.seconds, sync.gapMs];
  } catch (e) {
    r.error = (e as Error).message.slice(0, 500);
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
    await bed.destroy();
    Deno.removeSync(dir, { recursive: true });
  }
  return r;
}

const f = (v: number | null, digits: number): string => (v === null ? "—" : v.toFixed(digits));

/** The Markdown table of the rows. */
export function formatPeersTable(rows: PeersRow[]): string {
  const head =
    "| program | peers | setconf s | gap ms | addconf s | gap ms | syncconf s | gap ms | KiB/peer | listed |\n" +
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|";
  const lines = rows.map((r) =>
    `| ${r.program} | ${r.peers} | ${f(r.setconfSeconds, 2)} | ${f(r.setconfGapMs, 0)} | ${
      f(r.addconfSeconds, 2)
    } | ${f(r.addconfGapMs, 0)} | ${f(r.syncconfSeconds, 2)} | ${f(r.syncconfGapMs, 0)} | ${
      f(r.kibPerPeer, 1)
    } | ${r.listed ?? "—"}${r.error ? ` (error: ${r.error.split("\n")[0].slice(0, 80)})` : ""} |`
  );
  return [head, ...lines].join("\n");
}

/** Runs the bench; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      sizes: { type: "string", default: "1000,10000" },
      only: { type: "string" },
      out: { type: "string" },
    },
  });
  if (Deno.uid() !== 0) {
    console.error("bench:peers needs root (network namespaces, TUN): run it with sudo");
    return 1;
  }
  const modern = modernWireguardGo();
  if (modern === null) {
    console.error("modern wireguard-go not found (see ../shared/peers/README.md)");
    return 1;
  }
  const sizes = values.sizes.split(",").map(Number);
  if (sizes.some((s) => !Number.isInteger(s) || s < 1 || s > 100_000)) {
    console.error(`--sizes: integers 1..100000, not "${values.sizes}"`);
    return 2;
  }
  const programs =
    (values.only?.split(",") ?? ["tunslab", "wireguard-go"]) as PeersRow["program"][];
  const rows: PeersRow[] = [];
  for (const n of sizes) {
    for (const p of programs) {
      console.error(`bench:peers: ${p}, ${n} peers`);
      rows.push(await row(p, n, modern));
    }
  }
  const date = new Date().toISOString();
  const out = values.out ??
    new URL(`./results/peers-${date.slice(0, 10)}.json`, import.meta.url).pathname;
  Deno.writeTextFileSync(out, JSON.stringify({ date, modern, rows }, null, 2) + "\n");
  console.log(
    `## bench:peers ${
      date.slice(0, 10)
    } (client: modern wireguard-go; gap: longest between 10 ms pings)\n`,
  );
  console.log(formatPeersTable(rows));
  console.log(`\n(${out})`);
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
