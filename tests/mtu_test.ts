/**
 * Any MTU the kernel allows, over real TUN devices and sockets in network namespaces (root):
 * MTU 9,000 and 34,736 (wireguard-go's `tests/netns.sh`) set in the config and with
 * `ip link set mtu` on a running tunnel, also after the interface was moved to another namespace
 * (where tunslab cannot read it); tunslab↔tunslab and tunslab↔wireguard-go (the modern one with
 * offloads, and Debian's without), offloads on and `--no-offload`. The underlay is the testbed's
 * veth at MTU 1500 (datagrams are IP-fragmented) or at 65535 (as netns.sh's loopback; the modern
 * wireguard-go needs it: it switches UDP GSO off only on EIO, so the EINVAL a GSO message of
 * datagrams longer than the route MTU gets loses its batches). Each case moves a TCP transfer
 * checked with SHA-256 and pings with a payload up to the MTU (`ping -s N -M do`), and asserts
 * from tunslab's final stats that nothing was dropped for its size (`too_big`, `truncated`), that
 * every drop there is has a name, and that no slot is left in use.
 * @module
 */
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import type { Side } from "../src/demo/testbed.ts";
import type { FinalStats } from "../src/demo/tunnel_process.ts";
import { modernWireguardGo } from "../src/demo/modern_wireguard_go.ts";
import { DROP_REASONS } from "../src/wasm/abi.ts";
import {
  assertTransfer,
  haveWireguardGo,
  INNER,
  INNER6,
  logsOf,
  type Pair,
  type PairOptions,
  ROOT,
  startPair,
} from "./tunnel_helpers.ts";

if (!ROOT) console.warn("mtu_test: not root; MTU tests IGNORED");
const WG = haveWireguardGo();
const MODERN = modernWireguardGo();
if (ROOT && !WG) console.warn("mtu_test: wireguard-go or wg missing; interop cases IGNORED");
if (ROOT && MODERN === null) {
  console.warn("mtu_test: modern wireguard-go not found; its cases IGNORED");
}

const BYTES = 32 << 20;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const test = (name: string, fn: () => Promise<void>, ignore = false) =>
  Deno.test({ name, ignore: !ROOT || ignore, sanitizeResources: false, sanitizeOps: false, fn });

/**
 * `count` pings with DF set whose IP packets are `size` bytes (`ping -s size-28 -M do`; IPv6:
 * size-48); returns how many were answered, at least one or it fails.
 */
async function pingDf(
  p: Pair,
  from: Side | string[],
  to: string,
  size: number,
  count = 3,
): Promise<number> {
  const v6 = to.includes(":");
  const args = [
    "ping",
    "-c",
    String(count),
    "-i",
    "0.2",
    "-W",
    "3",
    "-s",
    String(size - (v6 ? 48 : 28)),
    "-M",
    "do",
    to,
  ];
  const r = typeof from === "string"
    ? await p.bed.run(from, args, true)
    : await run([...from, ...args]);
  const got = Number(/(\d+) received/.exec(r.stdout)?.[1] ?? 0);
  ok(got > 0, `ping -s ${size} → ${to}:\n${r.stdout}${r.stderr}\n${logsOf(p)}`);
  return got;
}

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const o = await new Deno.Command(args[0], {
    args: args.slice(1),
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const dec = new TextDecoder();
  return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
}

/**
 * A tunslab side's final stats: no slot in use, every drop under a name of DROP_REASONS, and none
 * for a packet's size (`too_big`, `truncated`) unless `allow`ed.
 */
function assertCarried(fin: FinalStats | undefined, who: string, allow: string[] = []): void {
  ok(fin !== undefined, `${who}: no final stats`);
  const dropped = (fin.raw.dropped ?? {}) as Record<string, number>;
  const data = fin.raw.data as Record<string, number>;
  console.log(
    `  ${who}: dropped ${
      JSON.stringify(dropped)
    }, big TUN reads ${data.tunBigRead}, big datagrams ${data.udpBigReceived}, large slots high-water ${
      (fin.raw.pool as { large: { highWater: number } }).large.highWater
    }`,
  );
  equal(fin.inUse, 0, `${who}: slots in use at exit`);
  for (const k of Object.keys(dropped)) ok(DROP_REASONS.includes(k), `${who}: unnamed drop ${k}`);
  for (const k of ["too_big", "truncated"]) {
    if (!allow.includes(k)) {
      equal(dropped[k] ?? 0, 0, `${who}: ${k} drops ${JSON.stringify(dropped)}`);
    }
  }
  if (!allow.includes("truncated")) equal(data.truncated, 0, `${who}: truncated datagrams`);
}

/** Stops both ends and checks the tunslab ones. */
async function finish(p: Pair, allow: { a?: string[]; b?: string[] } = {}): Promise<void> {
  const [fa, fb] = await Promise.all([p.a.stop(), p.b.stop()]);
  assertCarried(fa, "a", allow.a);
  if (p.b.kind === "tunslab") assertCarried(fb, "b", allow.b);
}

/** `promise`, or a failure after `seconds` (a stalled transfer must not hang the suite). */
async function within<T>(seconds: number, what: string, p: Pair, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what}: not done in ${seconds} s\n${logsOf(p)}`)),
      seconds * 1000,
    );
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Transfers both ways and pings near the MTU over IPv4 and IPv6. */
async function exercise(p: Pair, mtu: number, label: string): Promise<void> {
  const ab = await within(60, "a→b", p, assertTransfer(p.bed, "a", "b", BYTES, INNER.b));
  const ba = await within(60, "b→a", p, assertTransfer(p.bed, "b", "a", BYTES, INNER.a));
  const got = await pingDf(p, "a", INNER.b, mtu);
  const got6 = await pingDf(p, "b", INNER6.a, mtu);
  console.log(
    `${label}: MTU ${mtu}: a→b ${ab.toFixed(2)}, b→a ${ba.toFixed(2)} Gbit/s; ` +
      `pings of ${mtu} B answered ${got}/3 (v4), ${got6}/3 (v6)`,
  );
}

async function pair(label: string, opts: PairOptions): Promise<Pair> {
  const p = await startPair(label, opts);
  // Over the 1500-byte underlay every datagram is IP-fragmented. A fragment lost in a burst holds
  // reassembly memory for ipfrag_time (30 s), and with the memory full every later fragment is
  // dropped until those expire: a TCP transfer then stalls for tens of seconds (one CI run's 60 s
  // timeout looked like that). The namespaces' own sysctls: more room, incomplete ones freed sooner.
  for (const side of ["a", "b"] as const) {
    await p.bed.run(side, [
      "sysctl",
      "-q",
      "-w",
      "net.ipv4.ipfrag_high_thresh=67108864",
      "net.ipv4.ipfrag_time=3",
      "net.ipv6.ip6frag_high_thresh=67108864",
      "net.ipv6.ip6frag_time=3",
    ]);
  }
  return p;
}

/** The underlay's MTU (the veth of both sides). */
async function underlay(p: Pair, mtu: number): Promise<void> {
  for (const side of ["a", "b"] as const) {
    await p.bed.run(side, ["ip", "link", "set", "dev", "veth0", "mtu", String(mtu)]);
  }
}

/** `ip link set mtu` on a side's tunnel interface. */
async function setMtu(p: Pair, side: Side, mtu: number): Promise<void> {
  await p.bed.run(side, ["ip", "link", "set", "dev", p[side].name, "mtu", String(mtu)]);
}

// --- tunslab ↔ tunslab ---------------------------------------------------------------------

for (const mtu of [9000, 34736]) {
  for (const offload of [true, false]) {
    const mode = offload ? "offloads" : "--no-offload";
    test(`mtu: tunslab↔tunslab, MTU ${mtu} in the config, ${mode}: TCP and pings near the MTU`, async () => {
      const flags = offload ? [] : ["--no-offload"];
      await using p = await pair(`mtu-${mtu}${offload ? "o" : "n"}`, {
        b: "tunslab",
        mtu,
        upArgs: flags,
        upArgsB: flags,
      });
      const link = await p.bed.run("a", ["ip", "link", "show", p.a.name]);
      ok(link.stdout.includes(`mtu ${mtu} `), link.stdout);
      await exercise(p, mtu, `tunslab↔tunslab ${mode}`);
      await finish(p);
    });
  }
}

for (const offload of [true, false]) {
  const mode = offload ? "offloads" : "--no-offload";
  test(`mtu: tunslab↔tunslab, ip link set mtu 9000 then 34736 on a running tunnel, ${mode}`, async () => {
    const flags = offload ? [] : ["--no-offload"];
    await using p = await pair(`mtu-set${offload ? "o" : "n"}`, {
      b: "tunslab",
      upArgs: flags,
      upArgsB: flags,
    });
    // With offloads over a 65535-byte underlay (UDP GSO of big datagrams), without over 1500.
    if (offload) await underlay(p, 65535);
    await assertTransfer(p.bed, "a", "b", 4 << 20, INNER.b); // at 1420 first
    for (const mtu of [9000, 34736]) {
      await setMtu(p, "a", mtu);
      await setMtu(p, "b", mtu);
      await sleep(1500); // the device re-reads the MTU about once a second (padding)
      await exercise(p, mtu, `tunslab↔tunslab ${mode}, set from outside`);
    }
    await finish(p);
  });
}

test("mtu: the interface moved to another namespace, then ip link set mtu 34736 there (netns.sh)", async () => {
  await using p = await pair("mtu-mv", { b: "tunslab" });
  // As netns.sh: the tunnel interfaces live in namespaces of their own, the sockets stay behind.
  const ns = { a: `${p.bed.ns.a}-c`, b: `${p.bed.ns.b}-c` };
  try {
    for (const side of ["a", "b"] as const) {
      const peer = side === "a" ? "b" : "a";
      await run(["ip", "netns", "add", ns[side]]);
      await p.bed.run(side, ["ip", "link", "set", "dev", p[side].name, "netns", ns[side]]);
      const inNs = (args: string[]) => run(["ip", "netns", "exec", ns[side], ...args]);
      await inNs(["ip", "link", "set", "lo", "up"]);
      await inNs(["ip", "addr", "add", `${INNER[side]}/24`, "dev", p[side].name]);
      await inNs(["ip", "addr", "add", `${INNER6[side]}/64`, "dev", p[side].name, "nodad"]);
      await inNs(["ip", "link", "set", "dev", p[side].name, "mtu", "34736", "up"]);
      await inNs(["ip", "route", "replace", `${INNER6[peer]}/128`, "dev", p[side].name]);
    }
    const inA = ["ip", "netns", "exec", ns.a];
    const got = await pingDf(p, inA, INNER.b, 34736, 5);
    const got6 = await pingDf(p, inA, INNER6.b, 34736, 5);
    // A SHA-256-checked transfer from the new namespace of a to that of b.
    const FIX = new URL("./fixtures/tcp_blast.ts", import.meta.url).pathname;
    const recv = new Deno.Command("ip", {
      args: ["netns", "exec", ns.b, Deno.execPath(), "run", "-A", FIX, "recv", INNER.b, "5299"],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const recvOut = new Response(recv.stdout).text();
    await sleep(400);
    const sent = await run([
      ...inA,
      Deno.execPath(),
      "run",
      "-A",
      FIX,
      "send",
      INNER.b,
      "5299",
      String(BYTES),
    ]);
    equal((await recv.status).code, 0);
    equal(sent.code, 0, sent.stderr);
    const s = JSON.parse(sent.stdout), g = JSON.parse(await recvOut);
    deepStrictEqual({ bytes: g.bytes, sha256: g.sha256 }, { bytes: BYTES, sha256: s.sha256 });
    console.log(
      `moved away, MTU 34736 set there: pings ${got}/5 (v4), ${got6}/5 (v6), ${
        ((BYTES * 8) / s.seconds / 1e9).toFixed(2)
      } Gbit/s`,
    );
    await finish(p);
  } finally {
    await Promise.all([p.a.stop(), p.b.stop()]);
    for (const n of Object.values(ns)) await run(["ip", "netns", "del", n]);
  }
});

// --- tunslab ↔ wireguard-go ------------------------------------------------------------------

for (
  const [peer, program] of [["modern wireguard-go", MODERN], [
    "Debian's wireguard-go",
    "wireguard-go",
  ]] as const
) {
  for (const offload of [true, false]) {
    const mode = offload ? "offloads" : "--no-offload";
    const over = program === MODERN ? "65535" : "1500";
    test(
      `mtu: tunslab (${mode}) ↔ ${peer} over a ${over}-byte underlay, MTU 9000 then 34736: TCP, pings`,
      async () => {
        const flags = offload ? [] : ["--no-offload"];
        await using p = await pair(`mtu-wg${offload ? "o" : "n"}`, {
          b: "wireguard-go",
          mtu: 9000,
          upArgs: flags,
          programB: program ?? undefined,
        });
        if (program === MODERN) await underlay(p, 65535);
        await exercise(p, 9000, `tunslab ${mode} ↔ ${peer}`);
        await setMtu(p, "a", 34736);
        await setMtu(p, "b", 34736);
        await sleep(1500);
        await exercise(p, 34736, `tunslab ${mode} ↔ ${peer}`);
        await finish(p);
      },
      !WG || program === null,
    );
  }
}
