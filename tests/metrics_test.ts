/**
 * `up --metrics ADDR` / `MetricsAddress`, in network namespaces the tests create: `/metrics`
 * scraped with curl inside the namespace parses line by line as Prometheus text (see
 * prometheus_exposition.ts), the wireguard_* families carry the peer's key and allowed IPs, the
 * counters move with traffic and match `wg show dump`, `/healthz` answers 200 and other paths
 * 404; the listener is bound to the given address only (ss, and refused connections to the
 * namespace's other addresses). `show --json` carries the same pool, drop and handshake counters
 * through tunslab's `tsl=1` request while stock `wg show` on the socket keeps working. Bad
 * addresses exit 2; a port in use fails the start cleanly.
 */
import { deepStrictEqual, equal, match, ok, throws } from "node:assert/strict";
import { run, type Side, type Testbed } from "../src/demo/testbed.ts";
import { runningTunnel } from "../src/cli/running_tunnel.ts";
import {
  decodeLiveCounters,
  emptyLiveCounters,
  encodeLiveCounters,
  type LiveCounters,
} from "../src/device/live_counters.ts";
import { ListenAddressError, parseListenAddress } from "../src/metrics/listen_address.ts";
import { parseConfigFile } from "../src/wg/config.ts";
import { encodeBase64Key, generatePrivateKey, publicKey } from "../src/wg/keys.ts";
import { type Family, parseExposition } from "./prometheus_exposition.ts";
import {
  assertPing,
  haveWireguardGo,
  INNER,
  INNER6,
  logsOf,
  type Pair,
  ROOT,
  startPair,
} from "./tunnel_helpers.ts";

if (!ROOT) console.warn("metrics_test: not root; namespace tests IGNORED");
const WG = haveWireguardGo();
if (ROOT && !WG) console.warn("metrics_test: wireguard-go or wg missing; tunslab ↔ tunslab only");
const MAIN = new URL("../main.ts", import.meta.url).pathname;
const PORT = 9586;
const opts = { sanitizeOps: false, sanitizeResources: false };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface CurlResult {
  /** curl's exit code (7: connection refused). */
  exit: number;
  status: number;
  contentType: string;
  body: string;
  stderr: string;
}

/** curl inside `side`'s namespace; never through a proxy. */
async function curl(
  bed: Testbed,
  side: Side,
  url: string,
  extra: string[] = [],
): Promise<CurlResult> {
  const r = await bed.run(side, [
    "curl",
    "-sS",
    "-g",
    "--noproxy",
    "*",
    "--max-time",
    "5",
    "-w",
    "\n%{http_code}\n%{content_type}",
    ...extra,
    url,
  ], true);
  const lines = r.stdout.split("\n");
  const contentType = lines.pop() ?? "";
  const status = Number(lines.pop());
  return { exit: r.code, status, contentType, body: lines.join("\n"), stderr: r.stderr };
}

/** GET /metrics: 200, the 0.0.4 content type, every line valid. */
async function scrape(bed: Testbed, base: string): Promise<Map<string, Family>> {
  const r = await curl(bed, "a", `${base}/metrics`);
  equal(r.exit, 0, `curl ${base}/metrics: ${r.stderr}`);
  equal(r.status, 200);
  equal(r.contentType, "text/plain; version=0.0.4; charset=utf-8");
  return parseExposition(r.body);
}

/** The one sample of `name` whose labels include `labels`. */
function value(f: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const fam = f.get(name);
  ok(fam !== undefined, `no family ${name}`);
  const hits = fam.samples.filter((s) =>
    Object.entries(labels).every(([k, v]) => s.labels[k] === v)
  );
  equal(hits.length, 1, `${name}${JSON.stringify(labels)}: ${hits.length} samples`);
  return hits[0].value;
}

/** Samples of `name` keyed by one label (e.g. drops by reason). */
function byLabel(f: Map<string, Family>, name: string, label: string): Record<string, number> {
  return Object.fromEntries((f.get(name)?.samples ?? []).map((s) => [s.labels[label], s.value]));
}

/** prometheus_wireguard_exporter's three families: one series for the one peer, its labels. */
function assertPeerFamilies(
  f: Map<string, Family>,
  labels: { interface: string; public_key: string; allowed_ips: string },
): void {
  for (
    const [name, type] of [
      ["wireguard_sent_bytes_total", "counter"],
      ["wireguard_received_bytes_total", "counter"],
      ["wireguard_latest_handshake_seconds", "gauge"],
    ] as const
  ) {
    const fam = f.get(name);
    ok(fam !== undefined, `no ${name}`);
    equal(fam.type, type, name);
    ok(fam.help !== undefined && fam.help.length > 0, `${name} has a HELP`);
    equal(fam.samples.length, 1, name);
    deepStrictEqual(fam.samples[0].labels, labels, name);
  }
}

/** `ss -ltn` in `side`: the local address of every TCP listener. */
async function listeners(bed: Testbed, side: Side): Promise<string[]> {
  const out = (await bed.run(side, ["ss", "-Hltn"])).stdout.trim();
  return out === "" ? [] : out.split("\n").map((l) => l.trim().split(/\s+/)[3]);
}

/** Connections to these addresses of `side` are refused (curl exit 7). */
async function assertRefused(bed: Testbed, side: Side, hosts: string[]): Promise<void> {
  for (const h of hosts) {
    const r = await curl(bed, side, `http://${h}:${PORT}/metrics`);
    equal(r.exit, 7, `${h}:${PORT} must refuse (curl exit ${r.exit}: ${r.stderr.trim()})`);
  }
}

/** What the test reads of one interface in `show --json`. */
interface ShownInterface {
  peers: Record<string, { allowedIps: string[] }>;
  tunslab?: LiveCounters;
}

/** `tunslab show IFACE --json` inside `side`. */
async function showJson(bed: Testbed, side: Side, iface: string): Promise<ShownInterface> {
  const r = await bed.run(side, [Deno.execPath(), "run", "-A", MAIN, "show", iface, "--json"]);
  const all: Record<string, ShownInterface> = JSON.parse(r.stdout);
  return all[iface];
}

/** Waits for the pool's in-use slots to come back to `baseline` or below; returns the scrape. */
async function settled(
  bed: Testbed,
  base: string,
  baseline: number,
): Promise<Map<string, Family>> {
  let f = await scrape(bed, base);
  for (let i = 0; i < 20 && value(f, "tunslab_pool_in_use_slots") > baseline; i++) {
    await sleep(100);
    f = await scrape(bed, base);
  }
  return f;
}

/**
 * The whole check of one running pair whose side a serves metrics at `base` (`local` in `ss`'s
 * spelling) and nowhere else: `refused` lists a's other addresses.
 */
async function checkPair(p: Pair, base: string, local: string, refused: string[]): Promise<void> {
  const { bed, a, b } = p;
  const peerKey = (await bed.run("b", ["wg", "show", b.name, "public-key"])).stdout.trim();
  // The real wg reads the allowed IPs off the socket; the label joins them with commas.
  const allowedLine = (await bed.run("a", ["wg", "show", a.name, "allowed-ips"])).stdout.trim();
  const labels = {
    interface: a.name,
    public_key: peerKey,
    allowed_ips: allowedLine.split("\t")[1].split(" ").join(","),
  };
  deepStrictEqual(labels.allowed_ips.split(",").sort(), [`${INNER.b}/32`, `${INNER6.b}/128`]);

  const before = await scrape(bed, base);
  assertPeerFamilies(before, labels);
  const sent0 = value(before, "wireguard_sent_bytes_total");
  const recv0 = value(before, "wireguard_received_bytes_total");
  const inUse0 = value(before, "tunslab_pool_in_use_slots");
  const capacity = value(before, "tunslab_pool_capacity_slots");
  ok(capacity > 0 && inUse0 <= capacity, `pool ${inUse0}/${capacity}`);
  equal(value(before, "tunslab_peers"), 1);

  await assertPing(bed, "a", INNER.b, 5);
  await assertPing(bed, "b", INNER6.a, 5);
  // A datagram that is not WireGuard: dropped, under a reason.
  await bed.run("b", ["bash", "-c", `printf junk >/dev/udp/${bed.underlay("a")}/51820`]);
  await sleep(200);

  const after = await settled(bed, base, inUse0);
  assertPeerFamilies(after, labels);
  const sent = value(after, "wireguard_sent_bytes_total");
  const recv = value(after, "wireguard_received_bytes_total");
  // 10 pings each way, at least an 84-byte IP packet each, plus the handshake.
  ok(sent - sent0 >= 10 * 84, `sent ${sent0} → ${sent}`);
  ok(recv - recv0 >= 10 * 84, `received ${recv0} → ${recv}`);
  const hs = value(after, "wireguard_latest_handshake_seconds");
  const now = Date.now() / 1000;
  // A Unix timestamp (as the exporter reports it), of a handshake this test caused.
  ok(hs >= now - 30 && hs <= now + 1, `latest handshake ${hs} is a recent Unix time (now ${now})`);
  ok(value(after, "tunslab_handshakes_completed_total") >= 1);
  const kinds = byLabel(after, "tunslab_handshake_messages_total", "kind");
  ok(kinds.initiation_sent + kinds.initiation_received >= 1, JSON.stringify(kinds));
  ok(kinds.response_sent + kinds.response_received >= 1, JSON.stringify(kinds));
  const inUse = value(after, "tunslab_pool_in_use_slots");
  const high = value(after, "tunslab_pool_high_water_slots");
  ok(inUse <= inUse0, `in-use slots back to ${inUse0} at rest, not ${inUse}`);
  ok(high >= 1 && high <= capacity && inUse <= high, `high-water ${high}, capacity ${capacity}`);
  ok(value(after, "tunslab_loop_turns_total") > value(before, "tunslab_loop_turns_total"));
  ok(value(after, "tunslab_loop_turn_max_seconds") >= 0);
  const drops = byLabel(after, "tunslab_dropped_packets_total", "reason");
  const received = value(after, "tunslab_received_datagrams_total");
  ok(received >= 10, `received datagrams ${received}`);

  // The same figures as the real wg reads off the UAPI socket (taken between two equal scrapes).
  for (let i = 0;; i++) {
    const m1 = await scrape(bed, base);
    const dump = (await bed.run("a", ["wg", "show", a.name, "dump"])).stdout.trim().split("\n");
    const m2 = await scrape(bed, base);
    const pick = (m: Map<string, Family>) =>
      [
        "wireguard_latest_handshake_seconds",
        "wireguard_received_bytes_total",
        "wireguard_sent_bytes_total",
      ]
        .map((n) => value(m, n));
    if (JSON.stringify(pick(m1)) !== JSON.stringify(pick(m2)) && i < 5) continue;
    equal(dump.length, 2, dump.join("\n"));
    const f = dump[1].split("\t");
    equal(f[0], peerKey);
    deepStrictEqual(pick(m2), [Number(f[4]), Number(f[5]), Number(f[6])], dump[1]);
    break;
  }

  const health = await curl(bed, "a", `${base}/healthz`);
  deepStrictEqual([health.status, health.body], [200, "ok\n"]);
  equal((await curl(bed, "a", `${base}/nope`)).status, 404);
  equal((await curl(bed, "a", `${base}/metrics`, ["-I"])).status, 200);
  equal((await curl(bed, "a", `${base}/metrics`, ["-X", "POST"])).status, 405);

  deepStrictEqual(await listeners(bed, "a"), [local], "the one TCP listener in a's namespace");
  await assertRefused(bed, "a", refused);

  // show --json: wg-json's shape plus the live counters, the same as the metrics scraped just
  // before and after it (the kernel's own IPv6 packets may still add no_route drops).
  const lo = await scrape(bed, base);
  const j = await showJson(bed, "a", a.name);
  const hi = await scrape(bed, base);
  deepStrictEqual(j.peers[peerKey].allowedIps.sort(), [`${INNER.b}/32`, `${INNER6.b}/128`]);
  const c = j.tunslab;
  ok(c !== undefined, `show --json has no tunslab counters: ${JSON.stringify(j)}`);
  const within = (what: string, x: number, name: string, l: Record<string, string> = {}) => {
    const [min, max] = [lo, hi].map((m) =>
      m.get(name)?.samples.find((s) => Object.entries(l).every(([k, v]) => s.labels[k] === v))
        ?.value ?? 0
    );
    ok(x >= min && x <= max, `${what} = ${x}, metrics ${name}${JSON.stringify(l)} ${min}..${max}`);
  };
  within("pool.capacity", c.pool.capacity, "tunslab_pool_capacity_slots");
  within("pool.highWater", c.pool.highWater, "tunslab_pool_high_water_slots");
  ok(c.pool.inUse <= c.pool.highWater);
  within(
    "pool.refusedAllocations",
    c.pool.refusedAllocations,
    "tunslab_pool_refused_allocations_total",
  );
  const reasons = new Set([
    ...Object.keys(c.dropped),
    ...Object.keys(byLabel(hi, "tunslab_dropped_packets_total", "reason")),
  ]);
  for (const reason of reasons) {
    within(`dropped.${reason}`, c.dropped[reason] ?? 0, "tunslab_dropped_packets_total", {
      reason,
    });
  }
  ok(drops.bad_type >= 1, `the junk datagram is counted as bad_type: ${JSON.stringify(drops)}`);
  ok(c.dropped.bad_type >= 1 && c.received.dropped.bad_type >= 1, JSON.stringify(c));
  within("received.datagrams", c.received.datagrams, "tunslab_received_datagrams_total");
  within("handshakes.completed", c.handshakes.completed, "tunslab_handshakes_completed_total");
  for (
    const [field, kind] of [
      ["initiationsSent", "initiation_sent"],
      ["initiationsReceived", "initiation_received"],
      ["responsesSent", "response_sent"],
      ["responsesReceived", "response_received"],
      ["cookiesSent", "cookie_sent"],
      ["cookiesReceived", "cookie_received"],
    ] as const
  ) {
    within(`handshakes.${field}`, c.handshakes[field], "tunslab_handshake_messages_total", {
      kind,
    });
  }
  deepStrictEqual(c.handshakes.rejected, byLabel(hi, "tunslab_handshake_rejected_total", "reason"));

  // Stock wg on the same socket, after the tsl=1 requests.
  const shown = await bed.run("a", ["wg", "show", a.name]);
  match(shown.stdout, new RegExp(`peer: ${peerKey.replace(/[+/]/g, "\\$&")}\n`));
  match(shown.stdout, /latest handshake: /);
}

Deno.test("prometheus_exposition: the reader takes valid text and refuses each kind of bad line", () => {
  const good = [
    "# HELP a_total Help with \\\\ and \\n.",
    "# TYPE a_total counter",
    'a_total{x="q\\"\\\\\\n",y=""} 1.5e3 1700000000000',
    "# a plain comment",
    "# TYPE b gauge",
    "b NaN",
    'b{l="1",} -Inf',
    "",
  ].join("\n");
  const f = parseExposition(good);
  deepStrictEqual(f.get("a_total")?.samples[0], { labels: { x: 'q"\\\n', y: "" }, value: 1500 });
  equal(f.get("a_total")?.help, "Help with \\ and \n.");
  equal(f.get("b")?.samples.length, 2);
  for (
    const bad of [
      "# TYPE a counter\na 1\n", // counter without _total
      "a_total 1\n", // no TYPE
      '# TYPE a gauge\na{x="\\t"} 1\n', // bad escape
      '# TYPE a gauge\na{x="1" 1\n', // unterminated labels
      '# TYPE a gauge\na{0x="1"} 1\n', // bad label name
      "# TYPE a gauge\na 1,5\n", // bad value
      '# TYPE a gauge\n# TYPE b gauge\na 1\nb 1\na{x=""} 2\n', // family not together
      "# TYPE a gauge\na 1\na 2\n", // same series twice
      "# TYPE a gauge\n# TYPE a gauge\n", // two TYPEs
      "# TYPE a gauge\n\na 1\n", // empty line
      "# TYPE a gauge\na 1", // no final newline
      "# TYPE 1a gauge\n", // bad metric name
    ]
  ) throws(() => parseExposition(bad), { name: "ExpositionError" }, JSON.stringify(bad));
});

Deno.test("parseListenAddress: host:port, [v6]:port, a host name; ports 1 to 65535", () => {
  deepStrictEqual(parseListenAddress("10.0.0.1:9586"), { hostname: "10.0.0.1", port: 9586 });
  deepStrictEqual(parseListenAddress("[fd00::1]:1"), { hostname: "fd00::1", port: 1 });
  deepStrictEqual(parseListenAddress("localhost:65535"), { hostname: "localhost", port: 65535 });
  for (
    const bad of ["", ":80", "[]:80", "[::1]", "::1:80", "a b:80", "1.2.3:80", "h:+80", "h:080x"]
  ) {
    throws(() => parseListenAddress(bad), ListenAddressError, bad);
  }
});

Deno.test("live counters: the tsl=1 lines round-trip; unknown, odd or hostile keys are skipped", () => {
  const c = emptyLiveCounters();
  c.pool = { capacity: 256, inUse: 3, highWater: 129, refusedAllocations: 1 };
  c.dropped = { no_route: 2, bad_type: 1 };
  c.received = { datagrams: 9, accepted: 7, handshake: 1, dropped: { bad_type: 1 } };
  c.handshakes.completed = 1;
  c.handshakes.responsesReceived = 1;
  c.handshakes.rejected = { bad_mac1: 4 };
  const lines = new Map(Object.entries(encodeLiveCounters(c)).map(([k, v]) => [k, String(v)]));
  equal(lines.get("stats.pool.in_use"), "3");
  equal(lines.get("stats.handshakes.rejected.bad_mac1"), "4");
  deepStrictEqual(decodeLiveCounters(lines), c);
  for (
    const [k, v] of [
      ["stats.pool.bogus", "1"],
      ["stats.dropped.__proto__", "1"],
      ["stats.dropped.Has-Caps", "1"],
      ["stats.dropped.x", "-1"],
      ["stats.dropped.y", "1e3"],
      ["stats.handshakes.rejected.a.b", "1"],
      ["program", "tunslab"],
    ]
  ) lines.set(k, v);
  deepStrictEqual(decodeLiveCounters(lines), c);
  equal(decodeLiveCounters(new Map([["program", "tunslab"], ["pid", "1"]])), null);
});

for (const b of ["wireguard-go", "tunslab"] as const) {
  Deno.test({
    name: `metrics: --metrics on the veth's IPv4 address (tunslab ↔ ${b})`,
    ignore: !ROOT || (b === "wireguard-go" && !WG),
    ...opts,
    async fn() {
      await using p = await startPair(`met-${b.slice(0, 2)}`, {
        b,
        upArgs: (bed) => ["--metrics", `${bed.underlay("a")}:${PORT}`],
      });
      const { bed } = p;
      const host = bed.underlay("a");
      try {
        await checkPair(p, `http://${host}:${PORT}`, `${host}:${PORT}`, [
          "127.0.0.1",
          "[::1]",
          INNER.a,
          `[${bed.underlay6("a")}]`,
        ]);
        deepStrictEqual(await listeners(bed, "b"), [], "b serves no metrics");
        if (b === "wireguard-go") {
          // wireguard-go closes the connection on tsl=1: no counters, the rest as wg-json.
          const j = await showJson(bed, "b", p.b.name);
          equal(j.tunslab, undefined);
          ok(Object.keys(j.peers).length === 1);
          equal((await bed.run("b", ["wg", "show", p.b.name])).code, 0, "wireguard-go lives on");
        }
      } catch (e) {
        throw new Error(`${(e as Error).message}\n${logsOf(p)}`);
      }
    },
  });
}

Deno.test({
  name: "metrics: MetricsAddress = [v6]:port in the config file",
  ignore: !ROOT,
  ...opts,
  async fn() {
    await using p = await startPair("met-v6", {
      b: WG ? "wireguard-go" : "tunslab",
      interfaceLines: (bed) => [`MetricsAddress = [${bed.underlay6("a")}]:${PORT}`],
    });
    const { bed } = p;
    const host = `[${bed.underlay6("a")}]`;
    try {
      await checkPair(p, `http://${host}:${PORT}`, `${host}:${PORT}`, [
        "127.0.0.1",
        "[::1]",
        bed.underlay("a"),
        `[${INNER6.a}]`,
      ]);
      // `tunslab save` (SaveConfig's writer) keeps the key, so the next start serves metrics too.
      const saved = await bed.run("a", [Deno.execPath(), "run", "-A", MAIN, "save", p.a.name]);
      equal(saved.code, 0, saved.stderr);
      const { config: path } = await runningTunnel(p.a.name);
      const { config } = await parseConfigFile(path);
      equal(config.interface.metricsAddress, `${host}:${PORT}`);
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${logsOf(p)}`);
    }
  },
});

/** A namespace with only `lo` up, for starts that must fail. */
async function inNetns<T>(fn: (ns: string) => Promise<T>): Promise<T> {
  const ns = `tsl-met-${Deno.pid}-${Math.floor(Math.random() * 1e6)}`;
  await run(["ip", "netns", "add", ns]);
  try {
    await run(["ip", "-n", ns, "link", "set", "lo", "up"]);
    return await fn(ns);
  } finally {
    const pids = await run(["ip", "netns", "pids", ns], true);
    for (const pid of pids.stdout.split(/\s+/).filter(Boolean)) {
      try {
        Deno.kill(Number(pid), "SIGKILL");
      } catch { /* gone */ }
    }
    await run(["ip", "netns", "del", ns], true);
  }
}

function config(dir: string, name: string, extra: string[] = []): string {
  const path = `${dir}/${name}.conf`;
  Deno.writeTextFileSync(
    path,
    [
      "[Interface]",
      `PrivateKey = ${encodeBase64Key(generatePrivateKey())}`,
      "Address = 10.63.0.1/24",
      ...extra,
      "",
      "[Peer]",
      `PublicKey = ${encodeBase64Key(publicKey(generatePrivateKey()))}`,
      "AllowedIPs = 10.63.0.2/32",
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
  return path;
}

/** `tunslab up ARGS` in `ns`, expected to fail: killed after 30 s if it comes up instead. */
async function upIn(ns: string, args: string[]): Promise<RunResult> {
  const child = new Deno.Command("ip", {
    args: ["netns", "exec", ns, Deno.execPath(), "run", "-A", MAIN, "up", ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGTERM"), 30_000);
  const out = await child.output();
  clearTimeout(timer);
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}
type RunResult = Awaited<ReturnType<typeof run>>;

Deno.test({
  name:
    "metrics: a bad --metrics exits 2 naming the value; a bad MetricsAddress exits 1 with file:line",
  ignore: !ROOT,
  ...opts,
  async fn() {
    const dir = Deno.makeTempDirSync();
    const name = `tslmb${Deno.pid % 100000}`;
    try {
      await inNetns(async (ns) => {
        const path = config(dir, name);
        for (
          const [v, why] of [
            ["nonsense", /is not host:port or \[v6\]:port/],
            ["127.0.0.1:70000", /bad port "70000"/],
            ["127.0.0.1:0", /bad port "0"/],
            ["[127.0.0.1]:9586", /no IPv6 address in brackets/],
            ["fd00::1:9586", /is not host:port/],
            ["300.1.2.3:9586", /bad host "300.1.2.3"/],
          ] as const
        ) {
          const r = await upIn(ns, [path, "--log-format", "text", "--metrics", v]);
          equal(r.code, 2, `--metrics ${v}: ${r.stderr}`);
          match(
            r.stderr,
            new RegExp(`error: --metrics: metrics address "${v.replace(/[.[\]]/g, "\\$&")}" `),
          );
          match(r.stderr, why);
        }
        equal((await run(["ip", "-n", ns, "link", "show", name], true)).code, 1, "nothing created");
        const bad = config(dir, name, ["MetricsAddress = nonsense"]);
        const r = await upIn(ns, [bad, "--log-format", "text"]);
        equal(r.code, 1, r.stderr);
        match(
          r.stderr,
          new RegExp(
            `${bad.replaceAll("/", "\\/")}:4: MetricsAddress: "nonsense" is not host:port`,
          ),
        );
      });
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "metrics: a port in use fails the start (exit 1, a clear message) and leaves nothing",
  ignore: !ROOT,
  ...opts,
  async fn() {
    const dir = Deno.makeTempDirSync();
    const name = `tslmu${Deno.pid % 100000}`;
    try {
      await inNetns(async (ns) => {
        const holder = new Deno.Command("ip", {
          args: [
            "netns",
            "exec",
            ns,
            Deno.execPath(),
            "eval",
            `const l = Deno.listen({ hostname: "127.0.0.1", port: ${PORT} });` +
            ' console.log("listening"); for await (const c of l) c.close();',
          ],
          stdout: "piped",
          stderr: "inherit",
        }).spawn();
        try {
          const reader = holder.stdout.getReader();
          match(new TextDecoder().decode((await reader.read()).value), /listening/);
          reader.releaseLock();
          const r = await upIn(ns, [config(dir, name), "--metrics", `127.0.0.1:${PORT}`]);
          equal(r.code, 1, r.stderr);
          match(
            r.stderr,
            /cannot serve metrics on 127\.0\.0\.1:9586: Address already in use/,
          );
          equal((await run(["ip", "-n", ns, "link", "show", name], true)).code, 1, "no interface");
          throws(() => Deno.statSync(`/var/run/wireguard/${name}.sock`), Deno.errors.NotFound);
        } finally {
          holder.kill("SIGKILL");
          await holder.status;
          await holder.stdout.cancel().catch(() => {});
        }
      });
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
