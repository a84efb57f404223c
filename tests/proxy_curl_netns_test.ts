/**
 * Files of tens of MiB fetched with curl through `tunslab proxy` (uid 65534, no capability, in
 * namespace a) from an HTTP server behind modern wireguard-go in namespace b, SHA-256 checked:
 * through a `[TCPClientTunnel]`, `[Socks5]` (`--socks5`, `--socks5-hostname`: the name resolved
 * through the tunnel) and `[http]` (`-x`, `-p -x`); 48 fetches in parallel; Deno's `fetch` through
 * the SOCKS5 listener (the README's example); the same with 5 %
 * of the WireGuard datagrams dropped each way (nftables `numgen random`: this kernel has no
 * netem); 64 connections opened back to back through a forward, twice, none refused (b's
 * server closing first, so the first round's 4-tuples are in b's TIME-WAIT during the
 * second); every slot back in the pool at exit.
 * @module
 */
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { modernWireguardGo } from "../src/demo/modern_wireguard_go.ts";
import { curlSha256, reap, sha256, started, startProxyBed } from "./fixtures/proxy_bed.ts";

const ROOT = Deno.uid() === 0;
const MODERN = ROOT ? modernWireguardGo() : null;
if (!ROOT) console.warn("proxy_curl_netns_test: not root (namespaces): IGNORED");
else if (MODERN === null) {
  console.warn("proxy_curl_netns_test: modern wireguard-go missing: IGNORED");
}

const DNS = new URL("./fixtures/dns_responder.ts", import.meta.url).pathname;
const BIG = 24 << 20, MID = 1 << 20, PARALLEL = 48, LOSSY = 16 << 20;

Deno.test({
  name:
    "proxy as uid 65534 ↔ modern wireguard-go: 24 MiB by curl through a forward, SOCKS5 and HTTP, 48 in parallel, 5 % loss",
  ignore: !ROOT || MODERN === null,
  sanitizeResources: false,
  async fn() {
    const p = await startProxyBed(
      "pxcurl",
      `[TCPClientTunnel]
BindAddress = 127.0.0.1:18081
Target = 10.99.0.2:8081

[TCPClientTunnel]
BindAddress = 127.0.0.1:18082
Target = 10.99.0.2:5202

[Socks5]
BindAddress = 127.0.0.1:1080

[http]
BindAddress = 127.0.0.1:3128
`,
    );
    const helpers: Deno.ChildProcess[] = [];
    const out = await Deno.makeTempDir({ prefix: "tunslab-curl-" });
    try {
      const big = randomBytes(BIG);
      const file = `${out}/big.bin`;
      Deno.writeFileSync(file, big);
      const want = {
        big: await sha256(big),
        mid: await sha256(big.slice(0, MID)),
        lossy: await sha256(big.slice(0, LOSSY)),
      };
      // /big, /mid (its first MiB) and /lossy (its first 16 MiB) from 10.99.0.2:8081 in b.
      helpers.push(
        (await started(p.bed, "b", [
          Deno.execPath(),
          "eval",
          `const b = Deno.readFileSync(${JSON.stringify(file)});
const part = { "/big": b, "/mid": b.subarray(0, ${MID}), "/lossy": b.subarray(0, ${LOSSY}) };
Deno.serve({ hostname: "10.99.0.2", port: 8081, onListen: () => console.error("listening") },
  (r) => { const x = part[new URL(r.url).pathname]; return x ? new Response(x) : new Response("no", { status: 404 }); });`,
        ], "the HTTP server"))[0],
        (await started(p.bed, "b", [
          Deno.execPath(),
          "run",
          "-A",
          DNS,
          "10.99.0.2",
          "web.test=10.99.0.2",
        ], "the DNS server"))[0],
      );

      const ways: [string, string[]][] = [
        ["TCPClientTunnel", ["http://127.0.0.1:18081/big"]],
        ["--socks5", ["--socks5", "127.0.0.1:1080", "http://10.99.0.2:8081/big"]],
        ["--socks5-hostname", ["--socks5-hostname", "127.0.0.1:1080", "http://web.test:8081/big"]],
        ["-x", ["-x", "http://127.0.0.1:3128", "http://web.test:8081/big"]],
        ["-p -x", ["-p", "-x", "http://127.0.0.1:3128", "http://web.test:8081/big"]],
      ];
      for (const [what, args] of ways) {
        const t0 = performance.now();
        equal(await curlSha256(p.bed, "a", args), want.big, `${what}: SHA-256`);
        const s = (performance.now() - t0) / 1000;
        console.log(
          `${what}: 24 MiB in ${s.toFixed(2)} s (${(BIG * 8 / s / 1e9).toFixed(2)} Gbit/s)`,
        );
      }

      // 48 fetches at once through SOCKS5, each its own connection through the tunnel.
      const par = await p.bed.run("a", [
        "curl",
        "-sS",
        "--max-time",
        "120",
        "--parallel",
        "--parallel-max",
        String(PARALLEL),
        "--socks5-hostname",
        "127.0.0.1:1080",
        `http://web.test:8081/mid?[1-${PARALLEL}]`,
        "-o",
        `${out}/mid_#1`,
      ], true);
      equal(par.code, 0, `parallel curl: ${par.stderr}`);
      const got = await Promise.all(
        Array.from(
          { length: PARALLEL },
          (_, i) => sha256(Deno.readFileSync(`${out}/mid_${i + 1}`)),
        ),
      );
      deepStrictEqual(got, Array(PARALLEL).fill(want.mid), "every parallel fetch intact");

      // The README's example: Deno's fetch through the SOCKS5 listener, the name resolved there.
      const fetched = await p.bed.run("a", [
        Deno.execPath(),
        "eval",
        `const client = Deno.createHttpClient({ proxy: { url: "socks5h://127.0.0.1:1080" } });
const body = new Uint8Array(await (await fetch("http://web.test:8081/mid", { client })).arrayBuffer());
const d = new Uint8Array(await crypto.subtle.digest("SHA-256", body));
console.log(Array.from(d, (b) => b.toString(16).padStart(2, "0")).join(""));`,
      ], true);
      equal(fetched.stdout.trim(), want.mid, `fetch through SOCKS5: ${fetched.stderr}`);

      // 64 connects at once through the forward, twice; b's server answers 1 KiB and closes
      // first, so its side keeps the TIME-WAITs. A refused connect is one the proxy closes.
      helpers.push(
        (await started(p.bed, "b", [
          Deno.execPath(),
          "eval",
          `const l = Deno.listen({ hostname: "10.99.0.2", port: 5202 }); console.error("listening");
for await (const c of l) (async () => { const b = new Uint8Array(1024); let got = 0;
  while (got < 1024) { const k = await c.read(b.subarray(got)); if (k === null) break; got += k; }
  await c.write(b.subarray(0, got)); c.close(); })().catch(() => {});`,
        ], "the 1 KiB server"))[0],
      );
      const rounds = await p.bed.run("a", [
        Deno.execPath(),
        "eval",
        `const one = async () => { const c = await Deno.connect({ hostname: "127.0.0.1", port: 18082 });
  try { await c.write(new Uint8Array(1024).fill(7)); const b = new Uint8Array(2048); let got = 0;
    for (;;) { const k = await c.read(b); if (k === null) break; got += k; } return got === 1024 ? 0 : 1; }
  catch { return 1; } finally { c.close(); } };
for (let r = 0; r < 2; r++) { const t0 = performance.now();
  const bad = (await Promise.all(Array.from({ length: 64 }, one))).reduce((a, b) => a + b, 0);
  console.log("refused " + bad + " in " + (performance.now() - t0).toFixed(0) + " ms"); }`,
      ], true);
      equal(rounds.code, 0, rounds.stderr);
      console.log(`64 connects, twice: ${rounds.stdout.trim().split("\n").join("; ")}`);
      deepStrictEqual(
        [...rounds.stdout.matchAll(/refused (\d+)/g)].map((m) => Number(m[1])),
        [0, 0],
        "64 connections back to back, twice, none refused",
      );
      const tw = await p.bed.run("b", ["ss", "-Htan", "state", "time-wait", "sport", "= :5202"]);
      const held = tw.stdout.trim().split("\n").filter((l) => l !== "").length;
      ok(held >= 64, `b's TIME-WAITs on :5202: ${held}`);

      // 5 % of the WireGuard datagrams dropped on the way into each namespace.
      for (const side of ["a", "b"] as const) {
        for (
          const c of [
            "add table inet tsl_loss",
            "add chain inet tsl_loss in { type filter hook input priority 0 ; }",
            "add rule inet tsl_loss in udp dport 51820 numgen random mod 100 < 5 counter drop",
          ]
        ) await p.bed.run(side, ["nft", ...c.split(" ")]);
      }
      for (
        const [what, args] of [
          ["TCPClientTunnel", ["http://127.0.0.1:18081/lossy"]],
          ["--socks5-hostname", [
            "--socks5-hostname",
            "127.0.0.1:1080",
            "http://web.test:8081/lossy",
          ]],
        ] as [string, string[]][]
      ) {
        const t0 = performance.now();
        equal(await curlSha256(p.bed, "a", args), want.lossy, `${what} with loss: SHA-256`);
        console.log(
          `${what} with 5 % loss: 16 MiB in ${((performance.now() - t0) / 1000).toFixed(2)} s`,
        );
      }
      let dropped = 0;
      for (const side of ["a", "b"] as const) {
        const l = await p.bed.run(side, ["nft", "list", "table", "inet", "tsl_loss"]);
        dropped += Number(/counter packets (\d+)/.exec(l.stdout)?.[1] ?? 0);
        await p.bed.run(side, ["nft", "delete", "table", "inet", "tsl_loss"]);
      }
      ok(dropped > 0, "the loss rule dropped nothing: the test tested nothing");
      console.log(`WireGuard datagrams (or GSO batches of them) dropped: ${dropped}`);

      const { code, final } = await p.stop();
      equal(code, 0, p.logs.join(""));
      equal(final.inUse, 0, "no slot in use at exit");
    } finally {
      for (const h of helpers) await reap(h);
      await Deno.remove(out, { recursive: true });
      await p.destroy();
    }
  },
});

/** `n` random bytes (getRandomValues fills at most 64 KiB a call). */
function randomBytes(n: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(b.subarray(i, i + 65536));
  return b;
}
