/**
 * `tunslab up` waits for the next packets on the loop's own thread for a second after packets
 * moved (`hotWait`, src/device/device.ts). That thread also runs the event loop, so this checks
 * what must not break meanwhile: while a ping keeps both tunnels busy every 10 ms, `wg show`
 * (the UAPI, served by the event loop) answers again and again, the ping loses nothing, and
 * SIGTERM still ends the process with every slot back.
 */
import { equal, ok } from "node:assert/strict";
import { INNER, logsOf, ROOT, startPair } from "./tunnel_helpers.ts";

if (!ROOT) console.warn("hot_wait_test: not root; namespace/TUN tests IGNORED");

Deno.test({
  name: "hot wait: UAPI answers and SIGTERM stops while a ping keeps the loop hot",
  ignore: !ROOT,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using p = await startPair("hot", { b: "tunslab" });
    try {
      const first = await p.bed.run("a", ["ping", "-c", "1", "-W", "3", INNER.b], true);
      equal(first.code, 0, `first ping:\n${first.stdout}${first.stderr}`);
      // 300 pings 10 ms apart: the loop never idles a second, so it stays in its own poll(2).
      const ping = p.bed.run("a", ["ping", "-c", "300", "-i", "0.01", "-W", "2", INNER.b], true);
      let answered = 0;
      for (let i = 0; i < 10; i++) {
        const show = await p.bed.run("a", ["wg", "show", p.a.name, "dump"], true);
        equal(show.code, 0, `wg show #${i}: ${show.stderr}`);
        ok(show.stdout.includes("\t"), `wg show #${i} printed the device: ${show.stdout}`);
        answered++;
      }
      const r = await ping;
      equal(answered, 10);
      ok(/ 0% packet loss/.test(r.stdout), `ping under hot wait:\n${r.stdout}${r.stderr}`);
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${logsOf(p)}`);
    }
    const stats = await p.a.stop();
    ok(stats !== undefined, `no final stats:\n${p.a.logs().slice(-2000)}`);
    equal(stats.inUse, 0, "every slot went back to the pool");
  },
});
