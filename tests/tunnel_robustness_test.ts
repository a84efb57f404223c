/**
 * Bad datagrams at tunslab's listen port: replayed, bit-flipped (as a wrong
 * key gives), truncated, oversized, garbage, unknown receiver index, bad
 * mac1. Each is dropped and counted by reason; the tunnel keeps working; the
 * pool's in-use count returns to zero.
 *
 * A relay (fixtures/udp_tap.ts) in tunslab's namespace sits between the peers
 * so the test can capture real transport packets and send them again.
 */
import { equal, ok } from "node:assert/strict";
import { assertPing, assertTransfer, INNER, logsOf, ROOT, startPair } from "./tunnel_helpers.ts";

if (!ROOT) console.warn("tunnel_robustness_test: not root; namespace/TUN tests IGNORED");
const TAP = new URL("./fixtures/udp_tap.ts", import.meta.url).pathname;

Deno.test({
  name: "malformed, truncated, wrong-key and replayed datagrams are dropped and counted",
  ignore: !ROOT,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const TAP_PORT = 41000;
    // b reaches a through the relay at a's underlay address, port 41000.
    await using p = await startPair("rb", {
      b: "tunslab",
      knows: "b",
      endpointOfA: (bed) => `${bed.underlay("a")}:${TAP_PORT}`,
    });
    const bed = p.bed;
    const tap = bed.spawn("a", [
      Deno.execPath(),
      "run",
      "-A",
      TAP,
      bed.underlay("a"),
      String(TAP_PORT),
      "127.0.0.1",
      "51820",
    ], {
      stdin: "piped",
    });
    const lines = tap.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const readLine = async (): Promise<string> => {
      const { value } = await lines.read();
      return value ?? "";
    };
    const writer = tap.stdin.getWriter();
    try {
      ok((await readLine()).includes("ready"));
      await assertPing(bed, "b", INNER.a, 5);
      await assertTransfer(bed, "b", "a", 1 << 20, INNER.a);
      await writer.write(new TextEncoder().encode("attack\n"));
      const report = JSON.parse(await readLine()) as {
        sent: Record<string, number>;
        captured: number;
      };
      ok(report.captured > 0, "the relay captured transport packets");
      await writer.write(new TextEncoder().encode("flood\n"));
      const flood = JSON.parse(await readLine()) as { flood: number };
      equal(flood.flood, 300);
      // The tunnel still works after the flood of bad datagrams.
      await assertPing(bed, "b", INNER.a, 3);
      await assertPing(bed, "a", INNER.b, 3);
      await new Promise((r) => setTimeout(r, 300));
      const stats = await p.a.stop();
      ok(stats !== undefined, p.a.logs().slice(-2000));
      const dropped = stats.raw.dropped as Record<string, number>;
      const data = stats.raw.data as Record<string, number>;
      const rejected = (stats.raw.handshake as { rejected: Record<string, number> }).rejected;
      const s = report.sent;
      ok((dropped.replay ?? 0) >= s.replay, `replays counted: ${JSON.stringify(dropped)}`);
      ok((dropped.auth ?? 0) >= s.flipped, `bad tags counted: ${JSON.stringify(dropped)}`);
      ok(
        (dropped.unknown_index ?? 0) >= s.unknownIndex,
        `unknown indices counted: ${JSON.stringify(dropped)}`,
      );
      ok(
        (dropped.truncated ?? 0) + (dropped.bad_msg_len ?? 0) >= s.truncated,
        `truncated: ${JSON.stringify(dropped)}`,
      );
      // Larger than a slot: received whole (any MTU is carried), then judged like any other
      // datagram (these are type 4 with an unknown index) — not cut short.
      ok(
        data.udpBigReceived >= s.oversized && data.truncated === 0,
        `oversized datagrams received whole: ${JSON.stringify(data)}`,
      );
      const garbageDrops = Object.values(dropped).reduce((x, y) => x + y, 0) +
        (rejected.bad_mac1 ?? 0);
      ok(
        garbageDrops >=
          s.replay + s.flipped + s.truncated + s.unknownIndex + s.garbage + s.badMac1 - 8,
      );
      ok(s.badMac1 > 0, "the relay captured initiations to corrupt");
      // Under a flood of initiations the responder answers with cookie replies (mac2
      // missing) instead of doing the handshake's Diffie-Hellman work.
      const hs = stats.raw.handshake as { cookiesSent: number };
      ok(hs.cookiesSent > 0, `cookie replies under load: ${JSON.stringify(stats.raw.handshake)}`);
      ok(
        Object.keys(rejected).some((k) => k.startsWith("initiation_")),
        `replayed initiations rejected: ${JSON.stringify(rejected)}`,
      );
      ok((rejected.bad_mac1 ?? 0) >= s.badMac1, `bad mac1 counted: ${JSON.stringify(rejected)}`);
      equal(stats.inUse, 0, "no slot leaked");
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${logsOf(p)}`);
    } finally {
      await writer.write(new TextEncoder().encode("quit\n")).catch(() => {});
      await writer.close().catch(() => {});
      await tap.status;
      await lines.cancel().catch(() => {});
    }
  },
});
