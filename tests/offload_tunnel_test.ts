/**
 * Offloads end to end, in network namespaces the tests create and remove: 64 MiB over TCP
 * through tunslab ↔ tunslab with TUN TSO + UDP GSO/GRO + coalesced TUN writes, with
 * `--no-offload`, against wireguard-go, and with the kernel refusing UDP GSO (an underlay MTU
 * below the tunnel's). SHA-256 intact every time; the final stats say which path carried it.
 */
import { equal, ok } from "node:assert/strict";
import { Testbed } from "../src/demo/testbed.ts";
import {
  type FinalStats,
  pairSpec,
  startTunnel,
  type TunnelProcess,
} from "../src/demo/tunnel_process.ts";
import { generatePrivateKey } from "../src/wg/keys.ts";
import {
  assertPing,
  assertTransfer,
  haveWireguardGo,
  INNER,
  INNER6,
  ROOT,
} from "./tunnel_helpers.ts";

const MiB = 1 << 20;
const WG = haveWireguardGo();
if (!ROOT) console.warn("offload_tunnel_test: not root; namespace/TUN tests IGNORED");
if (ROOT && !WG) console.warn("offload_tunnel_test: wireguard-go or wg missing; interop IGNORED");

const opts = { sanitizeOps: false, sanitizeResources: false };

/** The data-path counters of a final stats line. */
type Counters = Record<string, number>;

interface Pair extends AsyncDisposable {
  bed: Testbed;
  a: TunnelProcess;
  b: TunnelProcess;
}

let counter = 0;

/** tunslab on side a, `b` on side b, each `up` with its own flags. */
async function pair(
  label: string,
  b: "tunslab" | "wireguard-go",
  flags: { a?: string[]; b?: string[] } = {},
  before?: (bed: Testbed) => Promise<void>,
  env: { a?: Record<string, string>; b?: Record<string, string> } = {},
): Promise<Pair> {
  const bed = await Testbed.create(label);
  const keys = { a: generatePrivateKey(), b: generatePrivateKey() };
  const started: TunnelProcess[] = [];
  try {
    await before?.(bed);
    const id = `${Deno.pid % 1000}${counter++}`;
    for (const side of ["a", "b"] as const) {
      started.push(
        await startTunnel(bed, side, side === "a" ? "tunslab" : b, {
          ...pairSpec(bed, side, keys, { v4: INNER, v6: INNER6 }, `tso${side}${id}`),
          // Set: an unset MTU would follow the underlay (1400 - 80 in the GSO refusal test).
          mtu: 1420,
          upArgs: flags[side],
          env: env[side],
        }),
      );
    }
  } catch (e) {
    await Promise.all(started.map((t) => t.stop()));
    await bed.destroy();
    throw e;
  }
  const [ta, tb] = started;
  return {
    bed,
    a: ta,
    b: tb,
    async [Symbol.asyncDispose]() {
      await Promise.all([ta.stop(), tb.stop()]);
      await bed.destroy();
    },
  };
}

function logsOf(p: Pair): string {
  return `--- a ---\n${p.a.logs().slice(-3000)}\n--- b (${p.b.kind}) ---\n${
    p.b.logs().slice(-3000)
  }`;
}

/** 64 MiB a→b over IPv4 and b→a over IPv6; then stops both ends and returns their stats. */
async function transfer(p: Pair): Promise<{ a: FinalStats; b: FinalStats | undefined }> {
  try {
    await assertPing(p.bed, "a", INNER.b);
    const ab = await assertTransfer(p.bed, "a", "b", 64 * MiB, INNER.b);
    const ba = await assertTransfer(p.bed, "b", "a", 64 * MiB, INNER6.a);
    console.log(`  a→b ${ab.toFixed(3)} Gbit/s, b→a ${ba.toFixed(3)} Gbit/s`);
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${logsOf(p)}`);
  }
  const [a, b] = await Promise.all([p.a.stop(), p.b.stop()]);
  ok(a !== undefined, `no final stats from a:\n${p.a.logs().slice(-2000)}`);
  equal(a.inUse, 0, "every slot went back to the pool");
  if (b !== undefined) equal(b.inUse, 0);
  return { a, b };
}

function data(s: FinalStats): Counters {
  return s.raw.data as Counters;
}

/** Log lines of the `tunslab.offload` logger. */
function offloadLogs(t: TunnelProcess): string[] {
  return t.logs().split("\n").filter((l) => l.includes('"tunslab.offload"'));
}

Deno.test({
  name: "offload: tunslab ↔ tunslab moves 64 MiB each way as super-packets, GSO and GRO",
  ignore: !ROOT,
  ...opts,
  async fn() {
    await using p = await pair("off-ts", "tunslab");
    const { a, b } = await transfer(p);
    for (const [side, s] of [["a", a], ["b", b!]] as const) {
      const d = data(s);
      const at = `${side}: ${JSON.stringify(d)}`;
      // Sending: TSO super-packets from the TUN, cut into segments, sent as UDP_SEGMENT trains.
      ok(d.tunSuperRead > 100, at);
      ok(d.tunSegments > 10 * d.tunSuperRead, at);
      ok(d.udpGsoSends > 100 && d.udpGsoDatagrams > 10 * d.udpGsoSends, at);
      // Receiving: GRO trains, decrypted in place, written as coalesced super-packets.
      ok(d.udpGroReceived > 100 && d.udpGroDatagrams > 10 * d.udpGroReceived, at);
      ok(d.tunSuperWritten > 100 && d.tunCoalesced > 10 * d.tunSuperWritten, at);
      equal(d.offloadFallbacks, 0, at);
      equal(d.truncated, 0, at);
      const logs = offloadLogs(side === "a" ? p.a : p.b);
      equal(logs.length, 1, logs.join("\n"));
      ok(/TSO true.*coalesced TUN writes true, UDP GSO true, UDP GRO true/.test(logs[0]), logs[0]);
    }
  },
});

Deno.test({
  name: "offload: --no-offload moves 64 MiB each way one packet per slot, no offload counters",
  ignore: !ROOT,
  ...opts,
  async fn() {
    await using p = await pair("off-no", "tunslab", { a: ["--no-offload"], b: ["--no-offload"] });
    const { a, b } = await transfer(p);
    for (const s of [a, b!]) {
      const d = data(s);
      for (
        const k of [
          "tunSuperRead",
          "tunSegments",
          "tunSuperWritten",
          "udpGsoSends",
          "udpGroReceived",
          "offloadFallbacks",
        ]
      ) equal(d[k], 0, `${k}: ${JSON.stringify(d)}`);
      ok(d.tunRead > 40_000 && d.udpSent > 40_000, JSON.stringify(d));
    }
    equal(offloadLogs(p.a).length, 0);
  },
});

Deno.test({
  name: "offload: tunslab (offloads on) ↔ wireguard-go, 64 MiB each way",
  ignore: !ROOT || !WG,
  ...opts,
  async fn() {
    await using p = await pair("off-wg", "wireguard-go");
    const { a } = await transfer(p);
    const d = data(a);
    const at = JSON.stringify(d);
    // a→b: tunslab cuts super-packets and sends trains (the kernel segments them for wg-go);
    // b→a: whatever wireguard-go sends arrives as datagrams tunslab coalesces for its TUN.
    ok(d.tunSuperRead > 100 && d.udpGsoSends > 100, at);
    ok(d.tunSuperWritten > 100 && d.tunCoalesced > 2 * d.tunSuperWritten, at);
    equal(d.offloadFallbacks, 0, at);
  },
});

Deno.test({
  name:
    "offload: the kernel refuses UDP GSO (underlay MTU 1400 < 1452 + 28): logged once, per-packet sends, nothing lost",
  ignore: !ROOT,
  ...opts,
  async fn() {
    // Datagrams of a 1420-MTU tunnel are 1452 bytes: above a 1400-byte route MTU a UDP_SEGMENT
    // send is refused (EMSGSIZE; EINVAL before Linux 6.x), while a plain one is fragmented.
    await using p = await pair("off-fb", "tunslab", {}, async (bed) => {
      for (const side of ["a", "b"] as const) {
        await bed.run(side, ["ip", "link", "set", "veth0", "mtu", "1400"]);
      }
    });
    const { a, b } = await transfer(p);
    for (const [side, t, s] of [["a", p.a, a], ["b", p.b, b!]] as const) {
      const d = data(s);
      equal(d.offloadFallbacks, 1, `${side}: ${JSON.stringify(d)}`);
      ok(d.tunSuperRead > 0 && d.udpSent > 40_000, JSON.stringify(d));
      const refused = offloadLogs(t).filter((l) => l.includes("refused"));
      equal(refused.length, 1, refused.join("\n"));
      ok(/UDP_SEGMENT.*(EMSGSIZE|EINVAL)/.test(refused[0]), refused[0]);
    }
  },
});

Deno.test({
  name:
    "offload: the kernel refuses TUNSETOFFLOAD at set-up (TUNSLAB_TEST_REFUSE): logged, plain TUN reads, nothing lost",
  ignore: !ROOT,
  ...opts,
  async fn() {
    // b's TUNSETOFFLOAD asks for an unknown flag too: the kernel answers EINVAL (src/test_refusals.ts).
    const env = { b: { TUNSLAB_TEST_REFUSE: "tunsetoffload" } };
    await using p = await pair("off-so", "tunslab", {}, undefined, env);
    const { a, b } = await transfer(p);
    const db = data(b!), da = data(a);
    // b reads plain packets from its TUN (no TSO) yet still receives with GRO.
    equal(db.tunSuperRead, 0, JSON.stringify(db));
    ok(db.tunRead > 40_000 && db.udpGroReceived > 100, JSON.stringify(db));
    ok(da.tunSuperRead > 100, JSON.stringify(da));
    const refused = offloadLogs(p.b).filter((l) => l.includes("refused"));
    equal(refused.length, 1, refused.join("\n"));
    ok(/TUNSETOFFLOAD.*EINVAL/.test(refused[0]), refused[0]);
    equal(offloadLogs(p.a).filter((l) => l.includes("refused")).length, 0);
  },
});

Deno.test({
  name:
    "offload: the kernel refuses a coalesced TUN write (TUNSLAB_TEST_REFUSE): one fallback, then per-packet writes, nothing lost",
  ignore: !ROOT,
  ...opts,
  async fn() {
    // b's first super-packet write carries an undefined gso_type: the kernel refuses it (EINVAL).
    const env = { b: { TUNSLAB_TEST_REFUSE: "tun_gso_write" } };
    await using p = await pair("off-gw", "tunslab", {}, undefined, env);
    const { b } = await transfer(p);
    const db = data(b!);
    const at = JSON.stringify(db);
    equal(db.offloadFallbacks, 1, at);
    // The refused unit and everything after it went one packet per write.
    equal(db.tunSuperWritten, 0, at);
    ok(db.tunWritten > 40_000, at);
    const refused = offloadLogs(p.b).filter((l) => l.includes("refused"));
    equal(refused.length, 1, refused.join("\n"));
    ok(/coalesced TUN write.*EINVAL/.test(refused[0]), refused[0]);
  },
});
