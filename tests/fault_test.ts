/**
 * Faults a tunnel meets outside the lab, between two tunslab processes in network namespaces:
 * - the peer process crashes and restarts (same static key, fresh state): the side that restarted
 *   and sends first recovers within one handshake; the other side, still sending on the old
 *   session, within KEEPALIVE_TIMEOUT + REKEY_TIMEOUT (15 s) plus jitter — mid-transfer, the
 *   SHA-256 of the transfer still matches;
 * - the peer moves to another address (roaming): the endpoint follows it;
 * - 5 % packet loss on the link (nftables `numgen random`, this kernel has no netem): transfers
 *   both ways still arrive intact;
 * - SIGTERM during an 8-stream transfer: exit 0, interface and UAPI socket gone, no slot in use.
 * Deadlines are generous bounds; the measured figures are printed.
 * @module
 */
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import type { Side } from "../src/demo/testbed.ts";
import {
  assertPing,
  assertTransfer,
  INNER,
  logsOf,
  type Pair,
  ROOT,
  startPair,
} from "./tunnel_helpers.ts";

if (!ROOT) console.warn("fault_test: not root; fault tests IGNORED");

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Seconds until one ping from `from` to `to` is answered, pinging every 0.2 s (bounded). */
async function secondsUntilPing(p: Pair, from: Side, to: string, limit: number): Promise<number> {
  const t0 = performance.now();
  while ((performance.now() - t0) / 1000 < limit) {
    const r = await p.bed.run(from, ["ping", "-c", "1", "-W", "1", to], true);
    if (r.code === 0) return (performance.now() - t0) / 1000;
    await sleep(200);
  }
  throw new Error(`no ping ${from}→${to} within ${limit} s\n${logsOf(p)}`);
}

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name, ignore: !ROOT, sanitizeResources: false, sanitizeOps: false, fn });

test("fault: the restarted side sends first and recovers within one handshake", async () => {
  await using p = await startPair("flt-rs", { b: "tunslab" });
  await assertPing(p.bed, "a", INNER.b);
  await p.restart("b");
  const s = await secondsUntilPing(p, "b", INNER.a, 10);
  console.log(`restarted side b → a answered after ${s.toFixed(2)} s`);
  ok(s < 5, `${s} s`);
  await assertPing(p.bed, "a", INNER.b);
});

test("fault: the peer restarts mid-transfer; the other side recovers within 15 s + jitter, SHA-256 intact", async () => {
  await using p = await startPair("flt-rt", { b: "tunslab" });
  await assertPing(p.bed, "a", INNER.b);
  // a → b; b crashes and restarts while a sends on the old session, which b no longer knows.
  const transfer = assertTransfer(p.bed, "a", "b", 256 << 20, INNER.b);
  // The crash comes once the transfer runs: the receiver listens (its Deno may take a second to
  // start on a busy machine) and the sender's connection is established.
  for (let i = 0; i < 200; i++) {
    const ss = await p.bed.run("b", ["ss", "-Htn", "state", "established", "src", INNER.b], true);
    if (ss.stdout.trim() !== "") break;
    await sleep(50);
  }
  await sleep(100);
  const t0 = performance.now();
  await p.restart("b");
  const up = (performance.now() - t0) / 1000;
  const gbps = await transfer;
  const total = (performance.now() - t0) / 1000;
  console.log(
    `b back up after ${up.toFixed(2)} s; the transfer finished ${
      total.toFixed(2)
    } s after the crash (${gbps.toFixed(2)} Gbit/s on average)`,
  );
  // KEEPALIVE_TIMEOUT (10 s) + REKEY_TIMEOUT (5 s) + jitter (≤ 0.333 s) + TCP's retransmission backoff.
  ok(total < 45, `${total} s`);
  const logs = p.a.logs();
  ok(/Handshake complete/.test(logs), logsOf(p));
});

test("fault: the peer moves to another address and the endpoint follows (roaming)", async () => {
  await using p = await startPair("flt-roam", { b: "tunslab" });
  await assertPing(p.bed, "a", INNER.b);
  const old = p.bed.underlay("b");
  const moved = old.replace(/\.2$/, ".3");
  // Deleting a primary address takes its secondaries along unless they are promoted.
  await p.bed.run("b", ["sysctl", "-qw", "net.ipv4.conf.veth0.promote_secondaries=1"]);
  await p.bed.run("b", ["ip", "addr", "add", `${moved}/24`, "dev", "veth0"]);
  await p.bed.run("b", ["ip", "addr", "del", `${old}/24`, "dev", "veth0"]);
  const s = await secondsUntilPing(p, "b", INNER.a, 10);
  console.log(`b moved ${old} → ${moved}; b → a answered after ${s.toFixed(2)} s`);
  await assertPing(p.bed, "a", INNER.b);
  const ep = await p.bed.run("a", ["wg", "show", p.a.name, "endpoints"]);
  ok(ep.stdout.includes(`${moved}:51820`), ep.stdout);
});

test("fault: 5 % packet loss on the link; 32 MiB each way arrive intact", async () => {
  await using p = await startPair("flt-loss", { b: "tunslab" });
  await assertPing(p.bed, "a", INNER.b);
  const nft = [
    "add table inet tsl_loss",
    "add chain inet tsl_loss in { type filter hook input priority 0 ; }",
    "add rule inet tsl_loss in udp dport 51820 numgen random mod 100 < 5 counter drop",
  ];
  for (const side of ["a", "b"] as const) {
    for (const c of nft) await p.bed.run(side, ["nft", ...c.split(" ")]);
  }
  const ab = await assertTransfer(p.bed, "a", "b", 32 << 20, INNER.b);
  const ba = await assertTransfer(p.bed, "b", "a", 32 << 20, INNER.a);
  const dropped = await p.bed.run("b", ["nft", "list", "table", "inet", "tsl_loss"]);
  const packets = Number(/counter packets (\d+)/.exec(dropped.stdout)?.[1] ?? 0);
  console.log(
    `with 5 % loss: a→b ${ab.toFixed(2)}, b→a ${
      ba.toFixed(2)
    } Gbit/s; b dropped ${packets} datagrams`,
  );
  ok(packets > 0, "the loss rule dropped nothing: the test tested nothing");
});

test("fault: SIGTERM during an 8-stream transfer: exit 0, interface and socket gone, no slot in use", async () => {
  await using p = await startPair("flt-term", { b: "tunslab" });
  await assertPing(p.bed, "a", INNER.b);
  const server = p.bed.spawn("b", ["iperf3", "-s", "-1", "-B", INNER.b], {
    stdout: "null",
    stderr: "null",
  });
  await sleep(300);
  const client = p.bed.spawn("a", ["iperf3", "-c", INNER.b, "-P", "8", "-t", "8"], {
    stdout: "null",
    stderr: "null",
  });
  await sleep(2500);
  p.a.kill("SIGTERM");
  const t0 = performance.now();
  const st = await p.a.status;
  const seconds = (performance.now() - t0) / 1000;
  const fin = await p.a.stop();
  client.kill("SIGKILL");
  server.kill("SIGKILL");
  await Promise.all([client.status, server.status]);
  console.log(
    `exit ${st.code} ${
      seconds.toFixed(2)
    } s after SIGTERM under load; in use at exit ${fin?.inUse}`,
  );
  equal(st.code, 0, p.a.logs().slice(-2000));
  deepStrictEqual(fin?.inUse, 0);
  const link = await p.bed.run("a", ["ip", "link", "show", p.a.name], true);
  ok(link.code !== 0, `interface still there: ${link.stdout}`);
  let socket = true;
  try {
    Deno.statSync(`/var/run/wireguard/${p.a.name}.sock`);
  } catch {
    socket = false;
  }
  equal(socket, false, "UAPI socket still there");
});
