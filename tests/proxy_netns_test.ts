/**
 * `tunslab proxy` as uid 65534 with no capability, in namespace a, against modern wireguard-go in
 * namespace b: the peer pings the proxy's stack and the proxy's CheckAlive pings the peer; a
 * `[TCPClientTunnel]` carries 32 MiB from a local socket in a to a receiver in b and `curl`
 * fetches a page through another and through
 * `[Socks5]` and `[http]` (a name resolved through the tunnel by a DNS server in b, an IP, a
 * login; ICMP host unreachable and prohibited from b's kernel as SOCKS 0x04 and 0x02, HTTP 502),
 * and `[UDPProxyTunnel]` carries a datagram to a UDP echo server in b and back; a
 * `[TCPServerTunnel]` carries 32 MiB from b to a local receiver in a; SHA-256 on both ends;
 * SIGTERM with a connection open through a forward ends that connection and the proxy (exit 0, no
 * slot in use); a `[STDIOTunnel]` proxy carries 1 MiB of its stdin to a server and its answer back.
 */
import { equal, match, ok } from "node:assert/strict";
import { Testbed } from "../src/demo/testbed.ts";
import { startTunnel } from "../src/demo/tunnel_process.ts";
import { modernWireguardGo } from "../src/demo/modern_wireguard_go.ts";
import { encodeBase64Key, generatePrivateKey, publicKey } from "../src/wg/keys.ts";
import { asNobody, copyForNobody, run } from "../src/demo/nobody_copy.ts";
import { started, text, waitFor } from "./fixtures/proxy_bed.ts";
import { PROXY_FILES as FILES } from "../src/demo/rootless_proxy.ts";

const ROOT = Deno.uid() === 0;
const MODERN = ROOT ? modernWireguardGo() : null;
if (!ROOT) console.warn("proxy_netns_test: not root (namespaces): IGNORED");
else if (MODERN === null) console.warn("proxy_netns_test: modern wireguard-go missing: IGNORED");

const BLAST = new URL("./fixtures/tcp_blast.ts", import.meta.url).pathname;
const DNS = new URL("./fixtures/dns_responder.ts", import.meta.url).pathname;
const BYTES = 32 << 20;

/** Runs tcp_blast `recv` in one place and `send` in another; returns both reports. */
async function blast(
  bed: Testbed,
  recv: ["a" | "b", string, number],
  send: ["a" | "b", string, number],
): Promise<{ bytes: number; sha256: string; seconds: number }[]> {
  const receiver = bed.spawn(recv[0], [
    Deno.execPath(),
    "run",
    "-A",
    BLAST,
    "recv",
    recv[1],
    String(recv[2]),
  ]);
  const rErr: string[] = [];
  const rOut = new Response(receiver.stdout).text();
  const rErrDone = text(receiver.stderr, rErr);
  await waitFor("the receiver", () => rErr.join("").includes("listening"));
  const t0 = performance.now();
  const s = await bed.run(send[0], [
    Deno.execPath(),
    "run",
    "-A",
    BLAST,
    "send",
    send[1],
    String(send[2]),
    String(BYTES),
  ]);
  const status = await receiver.status;
  await rErrDone;
  const seconds = (performance.now() - t0) / 1000;
  equal(status.code, 0, `receiver: ${rErr.join("")}`);
  return [{ ...JSON.parse(await rOut), seconds }, { ...JSON.parse(s.stdout), seconds }];
}

Deno.test({
  name:
    "proxy as uid 65534 ↔ modern wireguard-go: ping, forwards (32 MiB each, curl), SOCKS5 and HTTP with DNS through the tunnel, UDPProxyTunnel, SIGTERM, STDIOTunnel",
  ignore: !ROOT || MODERN === null,
  sanitizeResources: false,
  async fn() {
    const bed = await Testbed.create("proxy");
    const copy = await copyForNobody(FILES);
    let proxy: Deno.ChildProcess | undefined;
    const logs: string[] = [];
    let http: Deno.ChildProcess | undefined;
    try {
      const kp = generatePrivateKey(), kw = generatePrivateKey();
      const wg = await startTunnel(bed, "b", "wireguard-go", {
        name: `tslpx${Deno.pid % 1000}`,
        privateKey: encodeBase64Key(kw),
        listenPort: 51820,
        addresses: ["10.99.0.2/24"],
        peer: {
          publicKey: encodeBase64Key(publicKey(kp)),
          allowedIps: ["10.99.0.1/32"],
          endpoint: `${bed.underlay("a")}:51820`,
        },
        program: MODERN!,
      });
      const conf = `${copy.work}/px.conf`;
      Deno.writeTextFileSync(
        conf,
        `# tunslab proxy, wireproxy's format
[Interface]
PrivateKey = $PROXY_KEY
Address = 10.99.0.1/24
ListenPort = 51820
DNS = 10.99.0.2
CheckAlive = 10.99.0.2
CheckAliveInterval = 1

[Peer]
PublicKey = ${encodeBase64Key(publicKey(kw))}
Endpoint = ${bed.underlay("b")}:51820
AllowedIPs = 10.99.0.2/32, 10.99.7.0/24, 10.99.8.0/24

[TCPClientTunnel]
BindAddress = 127.0.0.1:18080
Target = 10.99.0.2:8080

[TCPClientTunnel]
BindAddress = 127.0.0.1:18081
Target = 10.99.0.2:8081

[TCPServerTunnel]
ListenPort = 9000
Target = 127.0.0.1:19000

[Socks5]
BindAddress = 127.0.0.1:1080

[Socks5]
BindAddress = 127.0.0.1:1081
Username = tunslab
Password = $SOCKS_PASSWORD

[UDPProxyTunnel]
BindAddress = 127.0.0.1:15353
Target = 10.99.0.2:5353

[http]
BindAddress = 127.0.0.1:3128

[http]
BindAddress = 127.0.0.1:3129
Username = tunslab
Password = $SOCKS_PASSWORD
`,
        { mode: 0o600 },
      );
      await run("chown", ["65534:65534", conf]);
      proxy = bed.spawn(
        "a",
        asNobody([
          copy.deno,
          "run",
          "-A",
          "--cached-only",
          "main.ts",
          "proxy",
          "px.conf",
          "--log-format",
          "json",
        ]),
        {
          cwd: copy.work,
          clearEnv: true,
          env: { ...copy.env, PROXY_KEY: encodeBase64Key(kp), SOCKS_PASSWORD: "s3cret" },
        },
      );
      const done = Promise.all([text(proxy.stdout, logs), text(proxy.stderr, logs)]);
      await waitFor("the proxy", () => logs.join("").includes("forward(s)")).catch((e) => {
        throw new Error(`${e.message}:\n${logs.join("")}`);
      });
      // ip netns exec and setpriv exec: the child is the proxy, as uid 65534 with no capability.
      const status = Deno.readTextFileSync(`/proc/${proxy.pid}/status`);
      match(status, /^Uid:\s+65534\s+65534\s+65534\s+65534$/m, status);
      match(status, /^CapEff:\s+0+$/m, status);
      match(status, /^CapPrm:\s+0+$/m, status);

      // The peer pings the proxy's own stack.
      const ping = await bed.run(
        "b",
        ["ping", "-c", "3", "-i", "0.2", "-W", "2", "10.99.0.1"],
        true,
      );
      match(ping.stdout, / 0% packet loss/, `ping: ${ping.stdout}\n${logs.join("")}`);
      // CheckAlive: the proxy's pings to the peer's address are answered (by b's kernel).
      await waitFor("CheckAlive", () => logs.join("").includes("every target answers"));
      // b's kernel as a router: ICMP host unreachable for 10.99.7.0/24, administratively
      // prohibited (filtered) for 10.99.8.0/24.
      await bed.run("b", ["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
      await bed.run("b", ["ip", "route", "add", "unreachable", "10.99.7.0/24"]);
      await bed.run("b", ["ip", "route", "add", "prohibit", "10.99.8.0/24"]);

      // TCPClientTunnel: a local socket in a → the tunnel → a receiver in b.
      const [r1, s1] = await blast(bed, ["b", "10.99.0.2", 8080], ["a", "127.0.0.1", 18080]);
      equal(r1.bytes, BYTES, "client tunnel: bytes");
      equal(r1.sha256, s1.sha256, "client tunnel: SHA-256");
      console.log(`TCPClientTunnel: ${(BYTES * 8 / r1.seconds / 1e9).toFixed(2)} Gbit/s`);

      // curl through the other client tunnel to an HTTP server in b.
      [http] = await started(bed, "b", [
        Deno.execPath(),
        "eval",
        `Deno.serve({ hostname: "10.99.0.2", port: 8081, onListen: () => console.error("listening") }, () => new Response("through tunslab proxy\\n"))`,
      ], "the HTTP server");
      const c = await bed.run(
        "a",
        ["curl", "-s", "--max-time", "10", "http://127.0.0.1:18081/"],
        true,
      );
      equal(c.code, 0, `curl: ${c.stderr}`);
      equal(c.stdout, "through tunslab proxy\n");

      // SOCKS5: a name resolved through the tunnel (a DNS server in b), an IP, a login.
      const [dns, dnsErr] = await started(bed, "b", [
        Deno.execPath(),
        "run",
        "-A",
        DNS,
        "10.99.0.2",
        "web.test=10.99.0.2",
      ], "the DNS server");
      const socks = async (args: string[]) =>
        await bed.run("a", ["curl", "-sS", "--max-time", "10", ...args], true);
      const byName = await socks(["--socks5-hostname", "127.0.0.1:1080", "http://web.test:8081/"]);
      equal(
        byName.stdout,
        "through tunslab proxy\n",
        `socks5 by name: ${byName.stderr}\n${logs.join("")}`,
      );
      match(
        dnsErr.join(""),
        /query web\.test type 1 from 10\.99\.0\.1/,
        "the query went through the tunnel",
      );
      const byIp = await socks(["--socks5", "127.0.0.1:1080", "http://10.99.0.2:8081/"]);
      equal(byIp.stdout, "through tunslab proxy\n");
      const login = await socks([
        "-x",
        "socks5h://tunslab:s3cret@127.0.0.1:1081",
        "http://web.test:8081/",
      ]);
      equal(login.stdout, "through tunslab proxy\n", login.stderr);
      const wrong = await socks([
        "-x",
        "socks5h://tunslab:nope@127.0.0.1:1081",
        "http://web.test:8081/",
      ]);
      ok(wrong.code !== 0 && wrong.stdout === "", "a wrong password is refused");
      const noName = await socks([
        "--socks5-hostname",
        "127.0.0.1:1080",
        "http://nothing.test:8081/",
      ]);
      equal(noName.code, 97, `curl: the proxy refused the unknown name (${noName.stderr})`);
      const refused = await socks(["--socks5", "127.0.0.1:1080", "http://10.99.0.2:1/"]);
      equal(refused.code, 97, `curl: connection refused through the proxy (${refused.stderr})`);
      // An ICMP error from the kernel on the way ends the connect at once (not the 10 s timeout).
      for (const [to, code] of [["10.99.7.1", 4], ["10.99.8.1", 2]] as const) {
        const t0 = performance.now();
        const r = await socks(["--socks5", "127.0.0.1:1080", `http://${to}/`]);
        const ms = performance.now() - t0;
        equal(r.code, 97, `curl via SOCKS5 to ${to}: ${r.stderr}`);
        ok(r.stderr.includes(`(${code})`), `SOCKS5 reply ${code} for ${to}: ${r.stderr}`);
        ok(ms < 5000, `${to}: refused in ${ms.toFixed(0)} ms`);
      }
      // [http]: plain requests and CONNECT, by name, with a login and without.
      for (const args of [["-x", "http://127.0.0.1:3128"], ["-p", "-x", "http://127.0.0.1:3128"]]) {
        const h = await socks([...args, "http://web.test:8081/"]);
        equal(h.stdout, "through tunslab proxy\n", `http ${args.join(" ")}: ${h.stderr}`);
      }
      const hLogin = await socks([
        "-x",
        "http://tunslab:s3cret@127.0.0.1:3129",
        "http://web.test:8081/",
      ]);
      equal(hLogin.stdout, "through tunslab proxy\n", hLogin.stderr);
      const hCode = (args: string[]) => socks(["-o", "/dev/null", "-w", "%{http_code}", ...args]);
      equal((await hCode(["-x", "http://127.0.0.1:3129", "http://web.test:8081/"])).stdout, "407");
      equal(
        (await hCode(["-x", "http://127.0.0.1:3128", "http://nothing.test:8081/"])).stdout,
        "502",
      );
      equal((await hCode(["-x", "http://127.0.0.1:3128", "http://10.99.7.1/"])).stdout, "502");
      // [UDPProxyTunnel]: a datagram to a local port, echoed by a UDP server in b, comes back.
      const [echo] = await started(bed, "b", [
        Deno.execPath(),
        "eval",
        `import dgram from "node:dgram"; const s = dgram.createSocket("udp4"); s.on("message", (m, r) => s.send(m, r.port, r.address)); s.bind(5353, "10.99.0.2", () => console.error("listening"));`,
      ], "the UDP echo server");
      const udpClient = await bed.run("a", [
        Deno.execPath(),
        "eval",
        `import dgram from "node:dgram"; const s = dgram.createSocket("udp4"); const t = setTimeout(() => { console.log("no answer"); Deno.exit(1); }, 5000); s.on("message", (m) => { console.log(new TextDecoder().decode(m)); clearTimeout(t); s.close(); }); s.send(new TextEncoder().encode("datagram through tunslab"), 15353, "127.0.0.1");`,
      ], true);
      equal(udpClient.stdout.trim(), "datagram through tunslab", `udp: ${udpClient.stderr}`);
      // [Socks5] UDP ASSOCIATE: datagrams to that echo server by IP and by name, back intact.
      const assoc = await bed.run("a", [
        Deno.execPath(),
        "run",
        "-A",
        new URL("./fixtures/socks5_udp_client.ts", import.meta.url).pathname,
        "127.0.0.1:1080",
        "10.99.0.2:5353",
        "web.test:5353",
        "--count",
        "4",
      ], true);
      equal(assoc.code, 0, `socks5 udp: ${assoc.stdout}${assoc.stderr}\n${logs.join("")}`);
      const { results } = JSON.parse(assoc.stdout);
      equal(results.length, 8);
      for (const r of results) equal(r.from, "10.99.0.2:5353", JSON.stringify(r));
      try {
        echo.kill("SIGKILL");
      } catch { /* gone */ }
      await echo.status;

      try {
        dns.kill("SIGKILL");
      } catch { /* gone */ }
      await dns.status;

      // TCPServerTunnel: b → port 9000 of the proxy's address → a local receiver in a.
      const [r2, s2] = await blast(bed, ["a", "127.0.0.1", 19000], ["b", "10.99.0.1", 9000]);
      equal(r2.bytes, BYTES, "server tunnel: bytes");
      equal(r2.sha256, s2.sha256, "server tunnel: SHA-256");
      console.log(`TCPServerTunnel: ${(BYTES * 8 / r2.seconds / 1e9).toFixed(2)} Gbit/s`);

      // SIGTERM with a connection open through a forward: it is closed, the proxy exits.
      const [receiver] = await started(bed, "b", [
        Deno.execPath(),
        "run",
        "-A",
        BLAST,
        "recv",
        "10.99.0.2",
        "8080",
      ], "the receiver");
      const [idle] = await started(
        bed,
        "a",
        [
          Deno.execPath(),
          "eval",
          `const c = await Deno.connect({ hostname: "127.0.0.1", port: 18080 }); await c.write(new Uint8Array(1000)); console.error("connected"); console.log(await c.read(new Uint8Array(1)).catch((e) => e.name));`,
        ],
        "the idle client",
        "connected",
      );
      await new Promise((r) => setTimeout(r, 300)); // joined through the tunnel
      proxy.kill("SIGTERM");
      const st = await Promise.race([
        proxy.status,
        new Promise<never>((_, no) =>
          setTimeout(() => no(new Error("the proxy did not exit in 10 s")), 10_000)
        ),
      ]);
      equal((await idle.status).code, 0, "the idle client's connection ended");
      try {
        receiver.kill("SIGKILL");
      } catch { /* ended with the connection */ }
      await receiver.status;
      await done;
      equal(st.code, 0, logs.join(""));
      const final = logs.join("").split("\n").find((l) => l.includes("Final stats"));
      ok(final !== undefined, logs.join(""));
      equal(JSON.parse(final).properties.inUse, 0, "no slot in use at exit");
      proxy = undefined;

      // [STDIOTunnel]: 1 MiB on the proxy's stdin reaches a server in b, its answer is on stdout,
      // and the proxy ends with the connection.
      const [counter, counterErr] = await started(bed, "b", [
        Deno.execPath(),
        "eval",
        `const l = Deno.listen({ hostname: "10.99.0.2", port: 8082 }); console.error("listening"); const c = await l.accept(); const b = new Uint8Array(65536); let n = 0; for (let k; (k = await c.read(b)) !== null;) n += k; await c.write(new TextEncoder().encode(n + "\\n")); c.close();`,
      ], "the counting server");
      const stdioConf = `${copy.work}/stdio.conf`;
      Deno.writeTextFileSync(
        stdioConf,
        Deno.readTextFileSync(conf).replace(
          /\n\[TCPClientTunnel\][^]*$/,
          "\n[STDIOTunnel]\nTarget = 10.99.0.2:8082\n",
        ),
        { mode: 0o600 },
      );
      await run("chown", ["65534:65534", stdioConf]);
      const stdio = new Deno.Command("ip", {
        args: [
          "netns",
          "exec",
          bed.ns.a,
          ...asNobody([copy.deno, "run", "-A", "--cached-only", "main.ts", "proxy", "stdio.conf"]),
        ],
        cwd: copy.work,
        clearEnv: true,
        env: { ...copy.env, PROXY_KEY: encodeBase64Key(kp), SOCKS_PASSWORD: "s3cret" },
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const w = stdio.stdin.getWriter();
      await w.write(new Uint8Array(1 << 20).fill(7));
      await w.close();
      const out = await stdio.output();
      equal(out.code, 0, new TextDecoder().decode(out.stderr));
      const cs = await counter.status;
      equal(
        new TextDecoder().decode(out.stdout),
        `${1 << 20}\n`,
        `counter: ${cs.code} ${counterErr.join("")}\n${new TextDecoder().decode(out.stderr)}`,
      );

      await wg.stop();
    } finally {
      try {
        proxy?.kill("SIGKILL");
      } catch { /* gone */ }
      try {
        http?.kill("SIGKILL");
      } catch { /* gone */ }
      await http?.status;
      await proxy?.status;
      await bed.destroy();
      await Deno.remove(copy.dir, { recursive: true });
    }
  },
});
