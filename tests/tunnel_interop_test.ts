/**
 * tunslab `up` against wireguard-go (configured with `wg set`) and against
 * itself, in network namespaces the tests create and remove: pings in IPv4
 * and IPv6 both ways, 64 MiB over TCP each way with SHA-256 intact, either
 * side initiating.
 */
import { equal, ok } from "node:assert/strict";
import {
  assertPing,
  assertTransfer,
  haveWireguardGo,
  INNER,
  INNER6,
  logsOf,
  ROOT,
  startPair,
} from "./tunnel_helpers.ts";

const MiB = 1 << 20;
const WG = haveWireguardGo();
if (!ROOT) console.warn("tunnel_interop_test: not root; namespace/TUN tests IGNORED");
if (ROOT && !WG) {
  console.warn("tunnel_interop_test: wireguard-go or wg missing; interop tests IGNORED");
}

const opts = { sanitizeOps: false, sanitizeResources: false };

for (const b of ["wireguard-go", "tunslab"] as const) {
  Deno.test({
    name: `tunslab ↔ ${b}: tunslab initiates; v4/v6 pings both ways; 64 MiB each way`,
    ignore: !ROOT || (b === "wireguard-go" && !WG),
    ...opts,
    async fn() {
      await using p = await startPair(`io-${b.slice(0, 2)}`, { b, psk: b === "tunslab" });
      try {
        await assertPing(p.bed, "a", INNER.b); // a sends first: a initiates
        await assertPing(p.bed, "b", INNER.a);
        await assertPing(p.bed, "a", INNER6.b);
        await assertPing(p.bed, "b", INNER6.a);
        const ab = await assertTransfer(p.bed, "a", "b", 64 * MiB, INNER.b);
        const ba = await assertTransfer(p.bed, "b", "a", 64 * MiB, INNER6.a);
        console.log(`tunslab ↔ ${b}: a→b ${ab.toFixed(3)} Gbit/s, b→a ${ba.toFixed(3)} Gbit/s`);
      } catch (e) {
        throw new Error(`${(e as Error).message}\n${logsOf(p)}`);
      }
      const stats = await p.a.stop();
      ok(stats !== undefined, `no final stats:\n${p.a.logs().slice(-2000)}`);
      equal(stats.inUse, 0, "every slot went back to the pool");
      const hs = stats.raw.handshake as { initiationsSent: number };
      ok(hs.initiationsSent >= 1, "tunslab sent the first initiation");
    },
  });

  Deno.test({
    name: `tunslab ↔ ${b}: ${b} initiates (only it knows the endpoint)`,
    ignore: !ROOT || (b === "wireguard-go" && !WG),
    ...opts,
    async fn() {
      // a (tunslab) has no endpoint for b: only b can start the handshake,
      // and a must learn b's endpoint from it (roaming).
      await using p = await startPair(`ir-${b.slice(0, 2)}`, { b, knows: "b", psk: true });
      try {
        await assertPing(p.bed, "b", INNER.a);
        await assertPing(p.bed, "a", INNER6.b);
        await assertTransfer(p.bed, "b", "a", 64 * MiB, INNER.a);
      } catch (e) {
        throw new Error(`${(e as Error).message}\n${logsOf(p)}`);
      }
      const stats = await p.a.stop();
      ok(stats !== undefined);
      equal(stats.inUse, 0);
      const hs = stats.raw.handshake as { responsesSent: number };
      ok(hs.responsesSent >= 1, "tunslab answered the peer's initiation");
    },
  });
}
