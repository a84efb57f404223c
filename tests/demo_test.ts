/**
 * The README's main command: `tunslab demo` runs end to end and prints its
 * table; interrupted half-way, it still removes the namespaces it created.
 */
import { equal, match, ok } from "node:assert/strict";
import { run } from "../src/demo/testbed.ts";
import { haveWireguardGo } from "./tunnel_helpers.ts";

const ROOT = Deno.uid() === 0;
if (!ROOT) console.warn("demo_test: not root; demo tests IGNORED");
const MAIN = new URL("../main.ts", import.meta.url).pathname;

async function namespacesOf(pid: number): Promise<string[]> {
  const r = await run(["ip", "netns", "list"]);
  return r.stdout.split("\n").map((l) => l.split(" ")[0]).filter((n) =>
    n.startsWith(`tsl-demo-${pid}-`)
  );
}

for (const peer of ["tunslab", "wireguard-go"] as const) {
  Deno.test({
    name: `demo --peer ${peer}${
      peer === "wireguard-go" ? " --rootless" : ""
    }: pings and TCP cross, table printed, nothing left behind`,
    ignore: !ROOT || (peer === "wireguard-go" && !haveWireguardGo()),
    async fn() {
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          MAIN,
          "demo",
          "--peer",
          peer,
          "--seconds",
          "1",
          "--quiet",
          ...(peer === "wireguard-go" ? ["--rootless"] : []),
        ],
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const [status, out, err] = await Promise.all([
        child.status,
        new Response(child.stdout).text(),
        new Response(child.stderr).text(),
      ]);
      equal(status.code, 0, `${out}\n${err}`);
      for (const row of ["ping v4 a→b", "ping v4 b→a", "ping v6 a→b", "ping v6 b→a"]) {
        match(out, new RegExp(`\\| ${row} +\\| 0% loss`), `${out}\n${err}`);
      }
      match(out, /throughput a→b +\| \d+\.\d+ Gbit\/s/, `${out}\n${err}`);
      match(out, /pool +\| high-water \d+ slots .* in use at exit 0/);
      if (peer === "wireguard-go") {
        // The proxy as nobody, a second peer of b: its own stack answers pings, TCP crosses.
        match(out, /rootless proxy \(a\) +\| uid 65534, CapEff 0+,/, out);
        for (const row of ["ping v4 b→proxy", "ping v6 b→proxy"]) {
          match(out, new RegExp(`\\| ${row} +\\| 0% loss`), `${out}\n${err}`);
        }
        match(out, /proxy throughput a→b +\| \d+\.\d+ Gbit\/s/, `${out}\n${err}`);
        match(out, /proxy pool +\| high-water \d+ slots, in use at exit 0 \|/, `${out}\n${err}`);
      }
      equal((await namespacesOf(child.pid)).length, 0);
    },
  });
}

Deno.test({
  name: "demo: SIGINT half-way removes everything it created",
  ignore: !ROOT,
  async fn() {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, "demo", "--seconds", "10", "--quiet"],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const out = new Response(child.stdout).text();
    const err = new Response(child.stderr).text();
    let seen = false;
    for (let i = 0; i < 200 && !seen; i++) {
      seen = (await namespacesOf(child.pid)).length === 2;
      if (!seen) await new Promise((r) => setTimeout(r, 50));
    }
    ok(seen, "the demo created its two namespaces");
    await new Promise((r) => setTimeout(r, 1500)); // tunnels up, traffic running
    child.kill("SIGINT");
    const status = await child.status;
    await out;
    await err;
    equal(status.code, 130);
    equal((await namespacesOf(child.pid)).length, 0, "namespaces removed");
    const links = await run(["ip", "link", "show"]);
    ok(
      !links.stdout.includes(`tsla${child.pid % 10000}`),
      "no tunnel interface left in the root namespace",
    );
  },
});
