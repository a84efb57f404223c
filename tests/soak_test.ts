/**
 * A 3-minute soak (bench/soak.ts) in CI: two tunslab tunnels with their real timers, iperf3
 * bursts and idle gaps, pings all along. Passes when every bound of the soak holds (no slot left
 * in use, a rekey happened, ping loss ≤ 2 %, RSS growth ≤ 4 MiB from the second quarter to the last); the
 * figures are printed.
 * @module
 */
import { deepStrictEqual } from "node:assert/strict";
import { soak, violations } from "../bench/soak.ts";

const ROOT = Deno.uid() === 0;
if (!ROOT) console.warn("soak_test: not root; the soak is IGNORED");

Deno.test({
  name: "soak: 3 minutes of bursts, gaps, pings and a rekey stay within bounds",
  ignore: !ROOT,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const r = await soak(3);
    console.log(JSON.stringify(r));
    deepStrictEqual(violations(r), []);
  },
});
