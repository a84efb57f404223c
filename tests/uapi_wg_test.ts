/**
 * Stock `wg` (wireguard-tools) drives a running `tunslab up` through the
 * cross-platform UAPI socket: show/dump, allowed-ips changes (checked with
 * ping), peer removal, setconf, listen-port moves; a second `up` of the same
 * name is refused while the first runs.
 */
import { equal, match, ok } from "node:assert/strict";
import { run } from "../src/demo/testbed.ts";
import { uapiRequest, uapiSocketPath } from "../src/uapi/uapi_client.ts";
import { malformedRequest, rng } from "./fixtures/uapi_fuzz.ts";
import { assertPing, INNER, INNER6, logsOf, ROOT, startPair } from "./tunnel_helpers.ts";

const WG =
  new Deno.Command("sh", { args: ["-c", "command -v wg"], stdout: "null" }).outputSync().success;
if (!ROOT) console.warn("uapi_wg_test: not root; IGNORED");
else if (!WG) console.warn("uapi_wg_test: wg (wireguard-tools) missing; IGNORED");
const MAIN = new URL("../main.ts", import.meta.url).pathname;

async function wg(...args: string[]): Promise<string> {
  return (await run(["wg", ...args])).stdout;
}

async function pingFails(
  bed: Parameters<typeof assertPing>[0],
  from: "a" | "b",
  to: string,
): Promise<void> {
  const r = await bed.run(from, ["ping", "-c", "2", "-i", "0.2", "-W", "1", to], true);
  ok(r.code !== 0 && /100% packet loss/.test(r.stdout), `ping ${to} should fail:\n${r.stdout}`);
}

interface DumpPeer {
  publicKey: string;
  endpoint: string;
  allowedIps: string;
  latestHandshake: number;
  rx: number;
  tx: number;
  keepalive: string;
}

function parseDump(text: string): { listenPort: number; peers: DumpPeer[] } {
  const [head, ...rest] = text.trim().split("\n");
  return {
    listenPort: Number(head.split("\t")[2]),
    peers: rest.filter(Boolean).map((l) => {
      const f = l.split("\t");
      return {
        publicKey: f[0],
        endpoint: f[2],
        allowedIps: f[3],
        latestHandshake: Number(f[4]),
        rx: Number(f[5]),
        tx: Number(f[6]),
        keepalive: f[7],
      };
    }),
  };
}

Deno.test({
  name: "wg show/set/setconf drive a running tunslab up",
  ignore: !ROOT || !WG,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using p = await startPair("uw", { b: "tunslab" });
    const { bed } = p;
    const A = p.a.name;
    try {
      let dump = parseDump(await wg("show", A, "dump"));
      equal(dump.listenPort, 51820);
      equal(dump.peers.length, 1);
      const peerB = dump.peers[0].publicKey;
      equal(dump.peers[0].allowedIps, `${INNER.b}/32,${INNER6.b}/128`);
      equal(dump.peers[0].endpoint, `${bed.underlay("b")}:51820`);
      equal(dump.peers[0].latestHandshake, 0);
      await assertPing(bed, "a", INNER.b);
      dump = parseDump(await wg("show", A, "dump"));
      ok(dump.peers[0].latestHandshake > 0, "latest handshake moved");
      ok(
        dump.peers[0].rx > 0 && dump.peers[0].tx > 0,
        `transfer moved: ${JSON.stringify(dump.peers[0])}`,
      );
      match(await wg("show", A), new RegExp(`peer: ${peerB.replace(/[+/=]/g, "\\$&")}`));

      // allowed-ips decides what crosses: drop the IPv6 prefix, v6 stops, v4 goes on.
      await wg("set", A, "peer", peerB, "allowed-ips", `${INNER.b}/32`);
      equal(parseDump(await wg("show", A, "dump")).peers[0].allowedIps, `${INNER.b}/32`);
      await pingFails(bed, "a", INNER6.b);
      await assertPing(bed, "a", INNER.b);
      await wg("set", A, "peer", peerB, "allowed-ips", `${INNER.b}/32,${INNER6.b}/128`);
      await assertPing(bed, "a", INNER6.b);

      // remove stops it.
      await wg("set", A, "peer", peerB, "remove");
      equal(parseDump(await wg("show", A, "dump")).peers.length, 0);
      await pingFails(bed, "a", INNER.b);

      // setconf replaces the peers (here: brings B back).
      const dir = Deno.makeTempDirSync();
      const conf = `${dir}/a.conf`;
      const priv = (await wg("show", A, "private-key")).trim();
      Deno.writeTextFileSync(
        conf,
        `[Interface]\nPrivateKey = ${priv}\nListenPort = 51820\n\n[Peer]\nPublicKey = ${peerB}\n` +
          `AllowedIPs = ${INNER.b}/32, ${INNER6.b}/128\nEndpoint = ${bed.underlay("b")}:51820\n`,
        { mode: 0o600 },
      );
      await wg("setconf", A, conf);
      dump = parseDump(await wg("show", A, "dump"));
      equal(dump.peers.length, 1);
      equal(dump.peers[0].publicKey, peerB);
      await assertPing(bed, "a", INNER.b);
      await assertPing(bed, "b", INNER.a);

      // listen-port moves the socket; traffic from A re-teaches B the endpoint.
      await wg("set", A, "listen-port", "51830");
      equal(parseDump(await wg("show", A, "dump")).listenPort, 51830);
      const ss = await bed.run("a", ["ss", "-uln"]);
      match(ss.stdout, /:51830\b/);
      await assertPing(bed, "a", INNER.b);
      await assertPing(bed, "b", INNER.a);
      const bDump = parseDump(await wg("show", p.b.name, "dump"));
      equal(bDump.peers[0].endpoint, `${bed.underlay("a")}:51830`, "B roamed to A's new port");
      Deno.removeSync(dir, { recursive: true });

      // A second `up` with the same interface name is refused while the first runs.
      const again = `${Deno.makeTempDirSync()}/${A}.conf`;
      Deno.writeTextFileSync(again, `[Interface]\nPrivateKey = ${priv}\n`, { mode: 0o600 });
      const r = await bed.run("b", [Deno.execPath(), "run", "-A", MAIN, "up", again], true);
      equal(r.code, 1);
      match(r.stderr, new RegExp(`${A} is in use`));
      equal((await bed.run("b", ["ip", "link", "show", A], true)).code, 1, "nothing was created");
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${logsOf(p)}`);
    }
    const stats = await p.a.stop();
    equal(stats?.inUse, 0);
  },
});

/** Reads from `conn` until `n` errno replies arrived, the server closed, or `ms` passed. */
async function readReplies(
  conn: Deno.UnixConn,
  n: number,
  ms: number,
): Promise<{ text: string; closed: boolean }> {
  const buf = new Uint8Array(4096);
  const dec = new TextDecoder();
  let text = "";
  const deadline = Date.now() + ms;
  while (text.split("\n\n").length - 1 < n && Date.now() < deadline) {
    const timer = new Promise<null | "timeout">((r) =>
      setTimeout(() => r("timeout"), deadline - Date.now())
    );
    const got = await Promise.race([conn.read(buf).catch(() => null), timer]);
    if (got === "timeout") break;
    if (got === null) return { text, closed: true };
    text += dec.decode(buf.subarray(0, got));
  }
  return { text, closed: false };
}

/** `get=1` with the traffic-driven fields (counters, handshake time) masked. */
async function stateOf(path: string): Promise<string> {
  return (await uapiRequest(path, "get=1\n\n"))
    .split("\n")
    .filter((l) => !/^(rx_bytes|tx_bytes|last_handshake_time_(sec|nsec))=/.test(l))
    .join("\n");
}

Deno.test({
  name:
    "thousands of malformed UAPI requests to a running tunnel: errno or close, state kept, traffic passes",
  ignore: !ROOT,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using p = await startPair("uf", { b: "tunslab" });
    const path = uapiSocketPath(p.a.name);
    await assertPing(p.bed, "a", INNER.b);
    const before = await stateOf(path);
    const seed = Number(Deno.env.get("UAPI_FUZZ_SEED") ?? Date.now() % 1e9);
    const malformed = malformedRequest(rng(seed));
    let requests = 0;
    let errnos = 0;
    for (let c = 0; c < 200; c++) {
      const conn = await Deno.connect({ transport: "unix", path });
      try {
        const batch = Array.from({ length: 1 + (c % 15) }, malformed);
        requests += batch.length;
        await conn.write(new TextEncoder().encode(batch.join(""))).catch(() => {});
        const r = await readReplies(conn, batch.length, 5000);
        match(r.text, /^(errno=-[1-9][0-9]*\n\n)*$/, `seed ${seed}: ${JSON.stringify(batch)}`);
        errnos += r.text.split("\n\n").length - 1;
      } finally {
        conn.close();
      }
    }
    ok(
      requests >= 1500 && errnos > 500,
      `${requests} requests, ${errnos} errno replies (seed ${seed})`,
    );
    equal(await stateOf(path), before, `state unchanged (seed ${seed})`);
    await assertPing(p.bed, "a", INNER.b);
    await assertPing(p.bed, "b", INNER6.a);
    equal((await p.a.stop())?.inUse, 0);
  },
});
