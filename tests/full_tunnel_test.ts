// Full-tunnel client routing as wg-quick does it, in the topology of
// tests/fixtures/full_tunnel_bed.ts: client a reaches the server's endpoint only through its default
// gateway, sends everything (0.0.0.0/0, ::/0) through the tunnel, reaches b behind the server in v4
// and v6, and after SIGTERM (or kill -9 and a new up) its rules, routes and nftables are as before.
// Root only; everything happens in namespaces these tests create (never the root namespace).
import { deepStrictEqual, equal, match, ok } from "node:assert/strict";
import { modernWireguardGo } from "../src/demo/modern_wireguard_go.ts";
import {
  FullTunnelBed,
  type Keys,
  keys,
  type Node,
  routingSnapshot,
} from "./fixtures/full_tunnel_bed.ts";

const ROOT = Deno.uid() === 0;
if (!ROOT) console.warn("full_tunnel_test: not root; full-tunnel namespace tests IGNORED");
const HAVE_NFT = new Deno.Command("sh", { args: ["-c", "command -v nft"], stdout: "null" })
  .outputSync().success;
if (ROOT && !HAVE_NFT) console.warn("full_tunnel_test: nft missing; tests IGNORED");
const WG_GO = modernWireguardGo();
if (ROOT && WG_GO === null) {
  console.warn("full_tunnel_test: modern wireguard-go not found; its server test IGNORED");
}
const ignore = !ROOT || !HAVE_NFT;
const FULL_READY = /Full tunnel on/;
let seq = 0;

interface Pair {
  a: Keys;
  s: Keys;
  /** Interface names (unique: the UAPI socket directory is the host's). */
  client: string;
  server: string;
}

function pair(): Pair {
  const id = `${Deno.pid % 1000}${seq++}`;
  return { a: keys(), s: keys(), client: `tsfa${id}`, server: `tsfs${id}` };
}

function serverConf(p: Pair, port = 51820, inner = 9): string {
  return `[Interface]
PrivateKey = ${p.s.priv}
ListenPort = ${port}
Address = 10.${inner}.0.1/24, fd0${inner}::1/64

[Peer]
PublicKey = ${p.a.pub}
AllowedIPs = 10.${inner}.0.2/32, fd0${inner}::2/128
`;
}

function clientConf(p: Pair, extra = "", port = 51820, inner = 9): string {
  return `[Interface]
PrivateKey = ${p.a.priv}
Address = 10.${inner}.0.2/24, fd0${inner}::2/64
${extra}
[Peer]
PublicKey = ${p.s.pub}
AllowedIPs = 0.0.0.0/0, ::/0
Endpoint = 10.2.0.2:${port}
`;
}

async function assertPing(bed: FullTunnelBed, from: Node, to: string): Promise<void> {
  const r = await bed.sh(from, `ping -c 3 -i 0.2 -W 3 ${to}`, true);
  ok(/\b[1-9]\d* received/.test(r.stdout), `ping ${to} from ${from}:\n${r.stdout}${r.stderr}`);
}

type Json = Record<string, unknown>;

/** Retries `check` for up to 5 s (nftables changes at run time are applied in the background). */
async function eventually(check: () => Promise<void>): Promise<void> {
  for (let i = 0;; i++) {
    try {
      return await check();
    } catch (e) {
      if (i >= 50) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Rules and routes carrying tunslab's protocol tag (84). */
async function tagged(bed: FullTunnelBed, n: Node): Promise<{ rules: Json[]; routes: Json[] }> {
  const rules: Json[] = [];
  const routes: Json[] = [];
  for (const f of ["-4", "-6"]) {
    rules.push(...(await bed.json(n, `ip ${f} -j rule show`) as Json[]));
    routes.push(...(await bed.json(n, `ip ${f} -j route show table all`) as Json[]));
  }
  const ours = (x: Json) => String(x.protocol) === "84";
  return { rules: rules.filter(ours), routes: routes.filter(ours) };
}

async function nftTables(bed: FullTunnelBed, n: Node): Promise<string[]> {
  return (await bed.sh(n, "nft list tables")).stdout.trim().split("\n").filter(Boolean);
}

/** Asserts a's full tunnel with table `table` on `ifname` is in place and carries traffic. */
async function assertFullTunnel(
  bed: FullTunnelBed,
  ifname: string,
  table: number,
  inner = 9,
): Promise<void> {
  await assertPing(bed, "a", "10.3.0.2");
  await assertPing(bed, "a", "fd03::2");
  await assertPing(bed, "a", `10.${inner}.0.1`);
  const t = await tagged(bed, "a");
  const mine = t.rules.filter((r) => r.table === String(table) || r.fwmark !== undefined);
  equal(t.rules.length >= 4, true, JSON.stringify(t.rules));
  ok(
    mine.some((r) => r.not === null && r.fwmark === `0x${table.toString(16)}`),
    JSON.stringify(t.rules),
  );
  ok(t.rules.some((r) => r.table === "main" && r.suppress_prefixlen === 0));
  ok(
    t.routes.some((r) => r.dst === "default" && r.dev === ifname && r.table === String(table)),
    JSON.stringify(t.routes),
  );
  // Unmarked traffic (all of it) goes into the tunnel; the tunnel's own, marked, to the gateway.
  match((await bed.sh("a", "ip route get 10.3.0.2")).stdout, new RegExp(`dev ${ifname} `));
  match(
    (await bed.sh("a", `ip route get 10.2.0.2 mark ${table}`)).stdout,
    /via 10\.1\.0\.1 dev a0/,
  );
  match((await bed.sh("a", "ip -6 route get fd03::2")).stdout, new RegExp(`dev ${ifname} `));
  deepStrictEqual(
    (await nftTables(bed, "a")).filter((x) => x.endsWith(`tunslab-${ifname}`)),
    [`table ip tunslab-${ifname}`, `table ip6 tunslab-${ifname}`],
  );
  equal((await bed.sh("a", "sysctl -n net.ipv4.conf.all.src_valid_mark")).stdout.trim(), "1");
  equal((await bed.sh("a", `wg show ${ifname} fwmark`)).stdout.trim(), `0x${table.toString(16)}`);
}

Deno.test({
  name: "full tunnel, tunslab server: v4/v6 behind the server, handshake over the underlay, " +
    "MTU from the route, SIGTERM leaves rules/routes/nftables as before; kill -9 leftovers replaced",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using bed = await FullTunnelBed.create("ts");
    const p = pair();
    const before = await routingSnapshot(bed, "a");
    await bed.tunslab("s", p.server, bed.writeConfig(p.server, serverConf(p)));
    const conf = bed.writeConfig(p.client, clientConf(p));
    let a = await bed.tunslab("a", p.client, conf, FULL_READY);
    await assertFullTunnel(bed, p.client, 51820);
    // The handshake came over the underlay from a's own address (not through the tunnel).
    match((await bed.sh("s", `wg show ${p.server} endpoints`)).stdout, /\t10\.1\.0\.2:\d+/);
    // MTU unset: a0's 1400 (the route toward the endpoint has none) minus 80.
    match((await bed.sh("a", `ip link show ${p.client}`)).stdout, / mtu 1320 /);
    // `wg set … allowed-ips` at run time: ::/0 out (its rules and table go), a /16 in (main).
    const wgSet = (ips: string) =>
      bed.sh("a", `wg set ${p.client} peer ${p.s.pub} allowed-ips ${ips}`);
    await wgSet("0.0.0.0/0,10.44.0.0/16");
    await eventually(async () => {
      const t = await tagged(bed, "a");
      deepStrictEqual(t.rules.length, 2, JSON.stringify(t.rules));
      ok(t.routes.some((r) => r.dst === "10.44.0.0/16" && r.table === undefined));
      deepStrictEqual(await nftTables(bed, "a"), [`table ip tunslab-${p.client}`]);
    });
    await wgSet("0.0.0.0/0,::/0");
    await eventually(async () => {
      const t = await tagged(bed, "a");
      equal(t.rules.length, 4);
      ok(!t.routes.some((r) => r.dst === "10.44.0.0/16"));
      equal((await nftTables(bed, "a")).length, 2);
    });
    await assertPing(bed, "a", "fd03::2");
    equal(await a.stop(), 0, a.logs());
    deepStrictEqual(await routingSnapshot(bed, "a"), before, a.logs());

    // kill -9: rules and nftables stay behind (the interface and its routes go with the process).
    a = await bed.tunslab("a", p.client, conf, FULL_READY);
    a.kill("SIGKILL");
    await a.status;
    const left = await tagged(bed, "a");
    equal(left.rules.length, 4, JSON.stringify(left.rules));
    equal((await nftTables(bed, "a")).length, 2);
    // A new up finds its own leftovers and replaces them: one set of rules, working tunnel.
    a = await bed.tunslab("a", p.client, conf, FULL_READY);
    match(a.logs(), /Removed what an earlier run of .* left behind/);
    await assertFullTunnel(bed, p.client, 51820);
    equal((await tagged(bed, "a")).rules.length, 4);
    equal(await a.stop(), 0, a.logs());
    deepStrictEqual(await routingSnapshot(bed, "a"), before, a.logs());
  },
});

Deno.test({
  name: "full tunnel, modern wireguard-go server: v4/v6 behind it; SIGTERM restores a's routing",
  ignore: ignore || WG_GO === null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using bed = await FullTunnelBed.create("wg");
    const p = pair();
    const before = await routingSnapshot(bed, "a");
    await bed.wireguardGo("s", WG_GO!, p.server, {
      key: p.s,
      port: 51820,
      addresses: ["10.9.0.1/24", "fd09::1/64"],
      peer: p.a.pub,
      allowedIps: ["10.9.0.2/32", "fd09::2/128"],
    });
    const a = await bed.tunslab(
      "a",
      p.client,
      bed.writeConfig(p.client, clientConf(p)),
      FULL_READY,
    );
    await assertFullTunnel(bed, p.client, 51820);
    match((await bed.sh("s", `wg show ${p.server} endpoints`)).stdout, /\t10\.1\.0\.2:\d+/);
    equal(await a.stop(), 0, a.logs());
    deepStrictEqual(await routingSnapshot(bed, "a"), before, a.logs());
  },
});

Deno.test({
  name: "Table = off adds no routes; Table = 1234 puts them all in table 1234, no rules, no fwmark",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using bed = await FullTunnelBed.create("tb");
    const p = pair();
    const before = await routingSnapshot(bed, "a");
    await bed.tunslab("s", p.server, bed.writeConfig(p.server, serverConf(p)));
    const conf = bed.writeConfig(p.client, clientConf(p, "Table = off\nMTU = 1380\n"));
    let a = await bed.tunslab("a", p.client, conf);
    deepStrictEqual(await tagged(bed, "a"), { rules: [], routes: [] });
    const during = await routingSnapshot(bed, "a") as Json;
    deepStrictEqual([during.rules4, during.rules6, during.nft], [
      (before as Json).rules4,
      (before as Json).rules6,
      (before as Json).nft,
    ]);
    match((await bed.sh("a", `ip link show ${p.client}`)).stdout, / mtu 1380 /, "MTU as set");
    equal((await bed.sh("a", `wg show ${p.client} fwmark`)).stdout.trim(), "off");
    equal(await a.stop(), 0, a.logs());
    deepStrictEqual(await routingSnapshot(bed, "a"), before);

    bed.writeConfig(p.client, clientConf(p, "Table = 1234\n"));
    a = await bed.tunslab("a", p.client, conf);
    const t = await tagged(bed, "a");
    deepStrictEqual(t.rules, []);
    deepStrictEqual(
      t.routes.map((r) => [r.dst, r.dev, r.table]).sort(),
      [["default", p.client, "1234"], ["default", p.client, "1234"]],
    );
    const main4 = await bed.json("a", "ip -4 -j route show table main");
    deepStrictEqual(
      (main4 as Json[]).filter((r) => r.dev === p.client).map((r) => r.protocol),
      ["kernel"],
      "main holds only the address's own route",
    );
    equal((await bed.sh("a", `wg show ${p.client} fwmark`)).stdout.trim(), "off");
    deepStrictEqual(await bed.json("a", "nft -j list ruleset"), (before as Json).nft);
    await bed.sh("a", `wg set ${p.client} peer ${p.s.pub} allowed-ips 0.0.0.0/0,::/0,10.3.0.0/24`);
    ok((await tagged(bed, "a")).routes.some((r) => r.dst === "10.3.0.0/24" && r.table === "1234"));
    // Routed there by a rule of one's own, table 1234 carries the traffic.
    await bed.sh("a", "ip rule add to 10.3.0.0/24 lookup 1234 pref 100");
    await assertPing(bed, "a", "10.3.0.2");
    await bed.sh("a", "ip rule del to 10.3.0.0/24 lookup 1234 pref 100");
    equal(await a.stop(), 0, a.logs());
    deepStrictEqual(await routingSnapshot(bed, "a"), before);
  },
});

Deno.test({
  name:
    "two full tunnels at once: tables 51820 and 51821; stopping or killing one leaves the other's",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using bed = await FullTunnelBed.create("two");
    const p1 = pair(), p2 = pair();
    const before = await routingSnapshot(bed, "a");
    await bed.tunslab("s", p1.server, bed.writeConfig(p1.server, serverConf(p1, 51820, 9)));
    await bed.tunslab("s", p2.server, bed.writeConfig(p2.server, serverConf(p2, 51821, 8)));
    const x = await bed.tunslab(
      "a",
      p1.client,
      bed.writeConfig(p1.client, clientConf(p1, "", 51820, 9)),
      FULL_READY,
    );
    await assertFullTunnel(bed, p1.client, 51820, 9);
    const onlyX = await routingSnapshot(bed, "a");
    // Unset, y's MTU would follow the route toward its endpoint, now through x (1320 - 80 < 1280,
    // too small for IPv6).
    const conf2 = bed.writeConfig(p2.client, clientConf(p2, "MTU = 1320", 51821, 8));
    let y = await bed.tunslab("a", p2.client, conf2, FULL_READY);
    const both = await tagged(bed, "a");
    equal(both.rules.length, 8, JSON.stringify(both.rules));
    ok(both.rules.some((r) => r.table === "51821" && r.fwmark === "0xca6d"));
    equal((await bed.sh("a", `wg show ${p2.client} fwmark`)).stdout.trim(), "0xca6d");
    equal(await y.stop(), 0, y.logs());
    deepStrictEqual(await routingSnapshot(bed, "a"), onlyX, "x's state untouched by y");

    y = await bed.tunslab("a", p2.client, conf2, FULL_READY);
    y.kill("SIGKILL");
    await y.status;
    y = await bed.tunslab("a", p2.client, conf2, FULL_READY);
    equal((await tagged(bed, "a")).rules.length, 8, "y replaced only its own leftovers");
    equal(await y.stop(), 0, y.logs());
    deepStrictEqual(await routingSnapshot(bed, "a"), onlyX);
    await assertFullTunnel(bed, p1.client, 51820, 9);
    equal(await x.stop(), 0, x.logs());
    deepStrictEqual(await routingSnapshot(bed, "a"), before);
  },
});

Deno.test({
  name:
    "full tunnel undone on SIGINT, on the interface deleted from outside, and on a failed start",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using bed = await FullTunnelBed.create("end");
    const p = pair();
    const before = await routingSnapshot(bed, "a");
    await bed.tunslab("s", p.server, bed.writeConfig(p.server, serverConf(p)));
    const conf = bed.writeConfig(p.client, clientConf(p));

    let a = await bed.tunslab("a", p.client, conf, FULL_READY);
    await assertPing(bed, "a", "10.3.0.2");
    a.kill("SIGINT");
    equal((await a.status).code, 0, a.logs());
    deepStrictEqual(await routingSnapshot(bed, "a"), before, a.logs());

    a = await bed.tunslab("a", p.client, conf, FULL_READY);
    await bed.sh("a", `ip link del ${p.client}`);
    equal((await a.status).code, 0, a.logs());
    match(a.logs(), /deleted from outside/);
    deepStrictEqual(await routingSnapshot(bed, "a"), before, a.logs());

    // nft refuses the table: up fails after routes and rules were added, and takes them back.
    const nft = (await bed.sh("a", "command -v nft")).stdout.trim();
    const bin = `${bed.dir}/bin`;
    Deno.mkdirSync(bin);
    Deno.writeTextFileSync(
      `${bin}/nft`,
      `#!/bin/sh\nif [ "$1" = -f ]; then s=$(cat); case "$s" in *"add table"*) ` +
        `echo "Error: refused by the test" >&2; exit 1;; esac; printf %s "$s" | exec ` +
        `${nft} "$@"; fi\nexec ${nft} "$@"\n`,
      { mode: 0o755 },
    );
    const failed = await bed.tunslabRun("a", conf, { PATH: `${bin}:${Deno.env.get("PATH")}` });
    equal(failed.code, 1, failed.logs);
    match(failed.logs, /refused by the test/);
    deepStrictEqual(await routingSnapshot(bed, "a"), before, failed.logs);
  },
});
