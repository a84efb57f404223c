/**
 * `demo --rootless`: `tunslab proxy` as uid 65534 with no capability in namespace a, a second peer
 * of b's tunnel at 10.99.0.3 and fd99::3 (added live through b's UAPI socket with `wg set`). b
 * pings the proxy's own stack, iperf3 runs a→b through a `[TCPClientTunnel]`, and the rows join
 * the demo's table.
 * @module
 */
import { encodeBase64Key, generatePrivateKey, publicKey } from "../wg/keys.ts";
import { asNobody, copyForNobody, run } from "./nobody_copy.ts";
import type { Testbed } from "./testbed.ts";
import { iperfCell } from "./iperf_run.ts";
import { parseFinal } from "./tunnel_process.ts";

/** What a run of `main.ts proxy` as nobody needs from the checkout. */
export const PROXY_FILES = ["main.ts", "deno.json", "deno.lock", "src", "wasm/tunslab.wasm"];

/** b's end: its interface name and keys, its inner addresses. */
export interface RootlessPeer {
  name: string;
  publicKey: string;
  inner: string;
  inner6: string;
}

const PROXY = { v4: "10.99.0.3", v6: "fd99::3", port: 51821, forward: 15202, iperf: 5202 };

/** Runs the proxy beside the demo's tunnels; its table rows. */
export async function rootlessRows(
  bed: Testbed,
  b: RootlessPeer,
  seconds: number,
  parsePing: (out: string) => { loss: number; avgMs: number },
): Promise<{ check: string; result: string }[]> {
  const rows: { check: string; result: string }[] = [];
  const copy = await copyForNobody(PROXY_FILES);
  const key = generatePrivateKey();
  let proxy: Deno.ChildProcess | undefined;
  const log: string[] = [];
  try {
    const conf = `${copy.work}/rootless.conf`;
    Deno.writeTextFileSync(
      conf,
      `[Interface]
PrivateKey = ${encodeBase64Key(key)}
Address = ${PROXY.v4}/24, ${PROXY.v6}/64
ListenPort = ${PROXY.port}

[Peer]
PublicKey = ${b.publicKey}
Endpoint = ${bed.underlay("b")}:51820
AllowedIPs = ${b.inner}/32, ${b.inner6}/128

[TCPClientTunnel]
BindAddress = 127.0.0.1:${PROXY.forward}
Target = ${b.inner}:${PROXY.iperf}
`,
      { mode: 0o600 },
    );
    await run("chown", ["65534:65534", conf]);
    await bed.run("b", [
      "wg",
      "set",
      b.name,
      "peer",
      encodeBase64Key(publicKey(key)),
      "allowed-ips",
      `${PROXY.v4}/32,${PROXY.v6}/128`,
      "endpoint",
      `${bed.underlay("a")}:${PROXY.port}`,
    ]);
    const args = ["run", "-A", "--cached-only", "main.ts", "proxy", "rootless.conf"];
    proxy = bed.spawn("a", asNobody([copy.deno, ...args, "--log-format", "json"]), {
      cwd: copy.work,
      clearEnv: true,
      env: copy.env,
    });
    const child = proxy;
    const done = Promise.all(
      [child.stdout, child.stderr].map((s) =>
        s.pipeThrough(new TextDecoderStream()).pipeTo(
          new WritableStream({ write: (t) => void log.push(t) }),
        )
      ),
    );
    const end = Date.now() + 20_000;
    while (!log.join("").includes("forward(s)")) {
      if (Date.now() > end) throw new Error(`the proxy did not start:\n${log.join("")}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const status = Deno.readTextFileSync(`/proc/${child.pid}/status`);
    const uid = /^Uid:\s+(\d+)/m.exec(status)?.[1];
    const caps = /^CapEff:\s+([0-9a-f]+)/m.exec(status)?.[1];
    rows.push({
      check: "rootless proxy (a)",
      result: `uid ${uid}, CapEff ${caps}, ${PROXY.v4} / ${PROXY.v6} on its own TCP/IP stack`,
    });
    for (const [label, to] of [["v4", PROXY.v4], ["v6", PROXY.v6]]) {
      const p = parsePing(
        (await bed.run("b", ["ping", "-c", "5", "-i", "0.2", "-W", "2", to], true)).stdout,
      );
      rows.push({
        check: `ping ${label} b→proxy`,
        result: `${p.loss}% loss, rtt ${p.avgMs.toFixed(3)} ms`,
      });
    }
    const tput = await iperfCell(bed, {
      bind: b.inner,
      serverPort: PROXY.iperf,
      connect: "127.0.0.1",
      clientPort: PROXY.forward,
      seconds,
      label: `TCP through a TCPClientTunnel, ${seconds} s`,
    });
    rows.push({ check: "proxy throughput a→b", result: tput });
    child.kill("SIGTERM");
    const st = await child.status;
    await done;
    proxy = undefined;
    const final = parseFinal(log.join(""));
    rows.push({
      check: "proxy pool",
      result: final === undefined || st.code !== 0
        ? `FAILED (exit ${st.code})`
        : `high-water ${final.highWater} slots, in use at exit ${final.inUse}`,
    });
    if (rows.some((r) => /FAILED|[1-9][\d.]*% loss/.test(r.result))) {
      console.error(
        `demo: a rootless check failed; the proxy's log:\n${log.join("").slice(-20000)}`,
      );
    }
    return rows;
  } finally {
    try {
      proxy?.kill("SIGKILL");
    } catch { /* gone */ }
    await proxy?.status;
    await Deno.remove(copy.dir, { recursive: true });
  }
}
