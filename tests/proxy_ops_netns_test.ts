/**
 * `tunslab proxy` operated as `up` is, against modern wireguard-go in namespace b:
 * - as uid 65534 with no capability: its UAPI socket in /tmp/tunslab-65534/ (0700, its own; it
 *   may not create /var/run/wireguard), found there by `tunslab show` run as the same user, a peer
 *   added live through the socket, `tunslab reload` told it does not reload; `--info` serves /readyz (503 until every CheckAlive target
 *   answered, then 200 with the detail), /metrics with the stack's and the front ends' families;
 *   the socket gone at exit;
 * - as root: the socket in /var/run/wireguard, where stock `wg show` reads it and `wg set` adds a
 *   peer.
 * @module
 */
import { equal, match, ok } from "node:assert/strict";
import { modernWireguardGo } from "../src/demo/modern_wireguard_go.ts";
import { asNobody } from "../src/demo/nobody_copy.ts";
import { encodeBase64Key, generatePrivateKey, publicKey } from "../src/wg/keys.ts";
import { startProxyBed } from "./fixtures/proxy_bed.ts";

const ROOT = Deno.uid() === 0;
const MODERN = ROOT ? modernWireguardGo() : null;
if (!ROOT) console.warn("proxy_ops_netns_test: not root (namespaces): IGNORED");
else if (MODERN === null) {
  console.warn("proxy_ops_netns_test: modern wireguard-go missing: IGNORED");
}

const SOCKS = `[Socks5]
BindAddress = 127.0.0.1:1080

[Socks5]
BindAddress = 127.0.0.1:1081
MaxConnections = 2
`;

/** Holds two connections to the limited listener, then asks a third for a CONNECT: its reply code. */
const OVER_LIMIT = `const held = [];
for (let i = 0; i < 2; i++) held.push(await Deno.connect({ hostname: "127.0.0.1", port: 1081 }));
await new Promise((r) => setTimeout(r, 200));
const c = await Deno.connect({ hostname: "127.0.0.1", port: 1081 });
await c.write(new Uint8Array([5, 1, 0, 5, 1, 0, 1, 10, 99, 0, 2, 0, 80]));
const got = []; const b = new Uint8Array(64);
for (let n; got.length < 4 && (n = await c.read(b)) !== null;) got.push(...b.subarray(0, n));
console.log(got[3]);
for (const h of held) h.close();`;

/** A UAPI exchange on the socket at `path` (as root: any socket is reachable). */
async function uapi(path: string, request: string): Promise<string> {
  const c = await Deno.connect({ transport: "unix", path });
  try {
    await c.write(new TextEncoder().encode(request));
    let out = "";
    const buf = new Uint8Array(65536);
    while (!out.endsWith("\n\n")) {
      const n = await c.read(buf);
      if (n === null) break;
      out += new TextDecoder().decode(buf.subarray(0, n));
    }
    return out;
  } finally {
    c.close();
  }
}

Deno.test({
  name:
    "proxy as uid 65534: UAPI socket in its private directory, tunslab show, a live peer, /readyz with CheckAlive, /metrics",
  ignore: !ROOT || MODERN === null,
  sanitizeResources: false,
  async fn() {
    const p = await startProxyBed("pxops", SOCKS, {
      iface: "CheckAlive = 10.99.0.2\nCheckAliveInterval = 1\n",
      args: ["--info", "127.0.0.1:9100"],
    });
    try {
      const dir = "/tmp/tunslab-65534", sock = `${dir}/px.sock`;
      const st = Deno.lstatSync(dir);
      ok(st.isDirectory && !st.isSymlink, `${dir} is a directory`);
      equal(st.uid, 65534);
      equal((st.mode ?? 0) & 0o777, 0o700, "private");
      ok(Deno.lstatSync(sock).isSocket);
      ok(p.logs.join("").includes(sock), `the log names the socket: ${p.logs.join("")}`);

      // /readyz: 200 once the peer answered the pings, with the target in the detail.
      const curl = (path: string) =>
        p.bed.run("a", [
          "curl",
          "-s",
          "--max-time",
          "5",
          "-w",
          "\n%{http_code}",
          `http://127.0.0.1:9100${path}`,
        ], true);
      let ready = await curl("/readyz");
      for (let i = 0; i < 50 && !ready.stdout.endsWith("\n200"); i++) {
        await new Promise((r) => setTimeout(r, 200));
        ready = await curl("/readyz");
      }
      ok(ready.stdout.endsWith("\n200"), `/readyz: ${ready.stdout}\n${p.logs.join("")}`);
      const detail = JSON.parse(ready.stdout.split("\n")[0]);
      ok(detail["10.99.0.2"].received > 0, ready.stdout);

      // A connection through SOCKS5, then the metrics count it.
      const web = await p.bed.run("a", [
        "curl",
        "-s",
        "--max-time",
        "5",
        "--socks5",
        "127.0.0.1:1080",
        "http://10.99.0.2:1/",
      ], true);
      equal(web.code, 97, "refused through the proxy (nothing listens there)");
      const m = await curl("/metrics");
      ok(m.stdout.endsWith("\n200"), m.stdout);
      match(m.stdout, /tunslab_netstack_tcp_rsts_sent_total\{interface="px"\} \d+/);
      match(
        m.stdout,
        /tunslab_proxy_connections_total\{interface="px",frontend="Socks5",address="127\.0\.0\.1:1080"\} 1/,
      );
      match(m.stdout, /tunslab_proxy_connections_failed_total\{[^}]*Socks5[^}]*\} 1/);
      match(m.stdout, /wireguard_sent_bytes_total\{/, "the device's families too");
      match(m.stdout, /tunslab_pool_in_use_slots\{[^}]*\} \d+/);

      // MaxConnections = 2: a third connection at once is refused with 0x05.
      const over = await p.bed.run("a", [Deno.execPath(), "eval", OVER_LIMIT], true);
      equal(over.stdout.trim(), "5", `over the limit: ${over.stdout} ${over.stderr}`);

      // `tunslab show` as the same user finds the socket in the fallback directory.
      const show = (args: string[]) => cli(["show", ...args]);
      const cli = (args: string[]) =>
        p.bed.run("a", [
          "env",
          "-i",
          ...Object.entries(p.copy.env).map(([k, v]) => `${k}=${v}`),
          ...asNobody([
            p.copy.deno,
            "run",
            "-A",
            "--cached-only",
            `${p.copy.work}/main.ts`,
            ...args,
          ]),
        ], true);
      const shown = await show(["px"]);
      equal(shown.code, 0, shown.stderr);
      match(shown.stdout, /^interface: px$/m);
      match(shown.stdout, /listening port: 51820/);
      match(shown.stdout, /allowed ips: 10\.99\.0\.2\/32/);
      match(shown.stdout, /latest handshake:/);
      equal((await show(["interfaces"])).stdout, "px\n");

      // A peer added live through the socket.
      const added = encodeBase64Key(publicKey(generatePrivateKey()));
      const hex = Array.from(atob(added), (c) => c.charCodeAt(0).toString(16).padStart(2, "0"))
        .join("");
      const set = await uapi(sock, `set=1\npublic_key=${hex}\nallowed_ip=10.99.0.9/32\n\n`);
      equal(set, "errno=0\n\n");
      const peers = await show(["px", "peers"]);
      equal(peers.stdout.trim().split("\n").length, 2, peers.stdout);
      match((await show(["px", "allowed-ips"])).stdout, /10\.99\.0\.9\/32/);

      // `tunslab reload` finds the proxy through its socket and hears that it does not reload.
      const reload = await cli(["reload", "px"]);
      equal(reload.code, 1, `${reload.stdout}${reload.stderr}`);
      match(reload.stdout + reload.stderr, /does not reload/, JSON.stringify(reload));

      const { code, final } = await p.stop();
      equal(code, 0, p.logs.join(""));
      equal(final.inUse, 0);
      let gone = false;
      try {
        Deno.lstatSync(sock);
      } catch {
        gone = true;
      }
      ok(gone, "the socket is removed at exit");
    } finally {
      await p.destroy();
    }
  },
});

Deno.test({
  name: "proxy as root: UAPI socket in /var/run/wireguard, stock wg show and wg set",
  ignore: !ROOT || MODERN === null,
  sanitizeResources: false,
  async fn() {
    const name = `tslpo${Deno.pid % 10000}`;
    const p = await startProxyBed("pxroot", SOCKS, { root: true, args: ["--name", name] });
    try {
      const wg = (args: string[]) => p.bed.run("a", ["wg", ...args], true);
      let shown = await wg(["show", name]);
      equal(shown.code, 0, shown.stderr);
      match(shown.stdout, new RegExp(`^interface: ${name}$`, "m"));
      match(shown.stdout, /listening port: 51820/);
      const added = encodeBase64Key(publicKey(generatePrivateKey()));
      const set = await wg(["set", name, "peer", added, "allowed-ips", "10.99.0.9/32"]);
      equal(set.code, 0, set.stderr);
      shown = await wg(["show", name, "allowed-ips"]);
      match(shown.stdout, new RegExp(`${added.replace(/[+/]/g, "\\$&")}\\t10\\.99\\.0\\.9/32`));
      const { code } = await p.stop();
      equal(code, 0, p.logs.join(""));
    } finally {
      await p.destroy();
    }
  },
});
