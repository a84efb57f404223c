/**
 * wireproxy-format configs for `tunslab proxy`: front-end sections, `$VAR` values, `WGConfig`,
 * a `[Peer]` without AllowedIPs, and every refusal naming file and line.
 */
import { deepStrictEqual, equal, throws } from "node:assert/strict";
import { parseProxyConfig } from "../src/proxy/proxy_config.ts";
import { parseDuration, TCP_TUNING, UDP_TUNING } from "../src/proxy/tuning.ts";
import { formatCidr } from "../src/wg/cidr.ts";
import { ConfigError } from "../src/wg/config_error.ts";

const PRIV = "WAmgVYXkbT2bCtdcDwolI88/iVi/aV3/PHcUBTQSYmo=";
const PUB = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";
const WG =
  `[Interface]\nPrivateKey = ${PRIV}\nAddress = 10.0.0.2/32\n[Peer]\nPublicKey = ${PUB}\nEndpoint = 192.0.2.1:51820\n`;

Deno.test("proxy config: forwards, $VAR, a peer without AllowedIPs takes everything", () => {
  const p = parseProxyConfig(
    `${WG}\n[TCPClientTunnel]\nBindAddress = 127.0.0.1:8080\nTarget = $TARGET\n\n# two of a kind\n[TCPClientTunnel]\nBindAddress = [::1]:8081\nTarget = [fd00::1]:443\n[tcpservertunnel]\nlistenport = 2222\ntarget = localhost:22\n`,
    "px.conf",
    { TARGET: "10.0.0.1:80" },
  );
  deepStrictEqual(p.clientTunnels.map((t) => [t.bind, t.target]), [
    [{ hostname: "127.0.0.1", port: 8080 }, { hostname: "10.0.0.1", port: 80 }],
    [{ hostname: "::1", port: 8081 }, { hostname: "fd00::1", port: 443 }],
  ]);
  deepStrictEqual(p.serverTunnels.map((t) => [t.listenPort, t.target]), [
    [2222, { hostname: "localhost", port: 22 }],
  ]);
  deepStrictEqual(p.config.peers[0].allowedIps.map(formatCidr), ["0.0.0.0/0", "::/0"]);
});

Deno.test("proxy config: [Socks5] with and without a login; a named Target with DNS", () => {
  const p = parseProxyConfig(
    `${
      WG.replace("[Peer]", "DNS = 10.0.0.1\n[Peer]")
    }[Socks5]\nBindAddress = 127.0.0.1:1080\n[Socks5]\nBindAddress = 127.0.0.1:1081\nUsername = u\nPassword = $PW\n[TCPClientTunnel]\nBindAddress = 127.0.0.1:8080\nTarget = web.internal:80\n[http]\nBindAddress = 127.0.0.1:3128\n[UDPProxyTunnel]\nBindAddress = 127.0.0.1:5353\nTarget = 10.0.0.1:53\n[STDIOTunnel]\nTarget = 10.0.0.1:22\n`,
    "px.conf",
    { PW: "secret" },
  );
  deepStrictEqual(p.http.map((s) => s.bind.port), [3128]);
  deepStrictEqual(p.udpTunnels.map((t) => [t.bind.port, t.target.hostname]), [[5353, "10.0.0.1"]]);
  deepStrictEqual(p.stdio?.target, { hostname: "10.0.0.1", port: 22 });
  deepStrictEqual(p.socks5.map((s) => [s.bind.port, s.username, s.password]), [
    [1080, undefined, undefined],
    [1081, "u", "secret"],
  ]);
  equal(p.clientTunnels[0].target.hostname, "web.internal");
});

Deno.test("proxy config: WGConfig names the WireGuard file; $VAR in it too", () => {
  const files: Record<string, string> = { "/etc/tunslab/wg0.conf": WG.replace(PRIV, "$KEY") };
  const p = parseProxyConfig(
    "WGConfig = wg0.conf\n[TCPServerTunnel]\nListenPort = 80\nTarget = 127.0.0.1:8080\n",
    "/etc/tunslab/px.conf",
    { KEY: PRIV },
    (f) =>
      files[f] ?? (() => {
        throw new Deno.errors.NotFound(f);
      })(),
  );
  equal(p.config.peers.length, 1);
  equal(p.serverTunnels[0].listenPort, 80);
});

Deno.test("proxy config: refusals name the line", () => {
  const cases: [string, number, RegExp][] = [
    [`${WG}[UDPProxyTunnel]\nBindAddress = 127.0.0.1:1080\n`, 7, /has no Target/],
    [
      `${WG}[STDIOTunnel]\nTarget = 10.0.0.1:22\n[STDIOTunnel]\nTarget = 10.0.0.1:22\n`,
      9,
      /a second \[STDIOTunnel\]/,
    ],
    [
      `${WG}[TCPClientTunnel]\nBindAddress = 127.0.0.1:1\nTarget = example.com:80\n`,
      9,
      /resolved through the tunnel with the DNS servers of \[Interface\], and there is no DNS key/,
    ],
    [`${WG}[TCPClientTunnel]\nTarget = 10.0.0.1:80\n`, 7, /has no BindAddress/],
    [
      `${WG}[TCPClientTunnel]\nBindAddress = 127.0.0.1\nTarget = 10.0.0.1:80\n`,
      8,
      /is not host:port/,
    ],
    [`${WG}[TCPServerTunnel]\nListenPort = 70000\nTarget = 127.0.0.1:1\n`, 8, /not a port/],
    [`${WG}[TCPServerTunnel]\nColour = red\n`, 8, /Unknown key "Colour" in \[TCPServerTunnel\]/],
    [`${WG}[Nonsense]\n`, 7, /Unknown section/],
    [
      `${WG}[Socks5]\nBindAddress = 127.0.0.1:1080\nUsername = u\n`,
      9,
      /Username and Password go together/,
    ],
    [`Key = 1\n${WG}`, 1, /Unknown key "Key" outside of a section/],
    [`${WG}[TCPClientTunnel]\nBindAddress = $NOPE\n`, 8, /environment variable NOPE is not set/],
    [`${WG.replace("Address = 10.0.0.2/32", "Address = nope")}`, 3, /./], // the WireGuard parser's own
    [`WGConfig = /nonexistent\n`, 1, /WGConfig \/nonexistent/],
    [
      `${WG}[Socks5]\nBindAddress = 127.0.0.1:1080\nMaxConnections = 0\n`,
      9,
      /MaxConnections "0" is not a count/,
    ],
    [
      `${WG}[http]\nBindAddress = 127.0.0.1:1080\nIdleTimeout = soon\n`,
      9,
      /IdleTimeout "soon" is not a duration/,
    ],
    [
      `${WG}[TCPClientTunnel]\nBindAddress = 127.0.0.1:1\nTarget = 10.0.0.1:2\nConnectTimeout = 8d\n`,
      10,
      /ConnectTimeout "8d" is not a duration/,
    ],
    [
      `${WG}[STDIOTunnel]\nTarget = 10.0.0.1:22\nIdleTimeout = 1m\n`,
      9,
      /Unknown key "IdleTimeout"/,
    ],
  ];
  for (const [text, line, re] of cases) {
    throws(() => parseProxyConfig(text, "px.conf", {}), (e) => {
      equal(e instanceof ConfigError, true, String(e));
      equal((e as ConfigError).line, line, (e as Error).message);
      equal(
        (e as ConfigError).path.endsWith(".conf") || (e as ConfigError).path === "px.conf",
        true,
      );
      return re.test((e as Error).message);
    }, text);
  }
});

Deno.test("proxy config: limits and timeouts per front end, with defaults and units", () => {
  const p = parseProxyConfig(
    `${WG}[Socks5]\nBindAddress = 127.0.0.1:1080\nMaxConnections = 2\nMaxConnectionsPerClient = 1\nConnectTimeout = 500ms\nIdleTimeout = 15m\n[http]\nBindAddress = 127.0.0.1:3128\n[UDPProxyTunnel]\nBindAddress = 127.0.0.1:53\nTarget = 10.0.0.1:53\nIdleTimeout = 2.5\n[TCPServerTunnel]\nListenPort = 22\nTarget = 127.0.0.1:22\nconnecttimeout = 1h\n`,
    "px.conf",
    {},
  );
  deepStrictEqual(p.socks5[0].tuning, {
    maxConnections: 2,
    maxPerClient: 1,
    connectTimeoutMs: 500,
    idleTimeoutMs: 900_000,
  });
  deepStrictEqual(p.http[0].tuning, TCP_TUNING, "the defaults");
  deepStrictEqual(p.udpTunnels[0].tuning, { ...UDP_TUNING, idleTimeoutMs: 2500 });
  equal(p.serverTunnels[0].tuning.connectTimeoutMs, 3_600_000);
  deepStrictEqual(
    ["10", "10s", "1.5s", "250ms", "2m", "1h", "0", "-1", "1d", "", "7s "].map(parseDuration),
    [10_000, 10_000, 1500, 250, 120_000, 3_600_000, null, null, null, null, 7000],
  );
});

Deno.test("proxy config: CheckAlive and CheckAliveInterval of [Interface], as wireproxy reads them", () => {
  const withAlive = (keys: string) => WG.replace("[Peer]", `${keys}[Peer]`);
  const p = parseProxyConfig(
    withAlive("CheckAlive = 10.0.0.1, fd00::1 ,\nCheckAliveInterval = $EVERY\n"),
    "px.conf",
    { EVERY: "30" },
  );
  deepStrictEqual(p.checkAlive, { targets: ["10.0.0.1", "fd00::1"], intervalS: 30, line: 4 });
  equal(p.config.interface.addresses.length, 1); // the WireGuard parser saw the rest
  equal(
    parseProxyConfig(withAlive("checkalive = 10.0.0.1\n"), "px.conf", {}).checkAlive?.intervalS,
    5,
  );
  equal(parseProxyConfig(WG, "px.conf", {}).checkAlive, null);
  equal(parseProxyConfig(withAlive("CheckAlive =\n"), "px.conf", {}).checkAlive, null); // none
  // In the file WGConfig names.
  const q = parseProxyConfig(
    "WGConfig = wg0.conf\n",
    "/etc/px.conf",
    {},
    () => withAlive("CheckAlive = 10.0.0.9\n"),
  );
  deepStrictEqual(q.checkAlive?.targets, ["10.0.0.9"]);
  const cases: [string, number, RegExp][] = [
    [withAlive("CheckAlive = 10.0.0.1, nope\n"), 4, /CheckAlive: "nope" is not an IP address/],
    [withAlive("CheckAlive = ,\nCheckAliveInterval = 3\n"), 5, /only valid with CheckAlive/],
    [withAlive("CheckAlive = 10.0.0.1\nCheckAliveInterval = 0\n"), 5, /not a whole number/],
    [withAlive("CheckAlive = 10.0.0.1\nCheckAliveInterval = -3\n"), 5, /not a whole number/],
    [withAlive("CheckAlive = 10.0.0.1\nCheckAliveInterval = 1.5\n"), 5, /not a whole number/],
    [withAlive("CheckAliveInterval = 10\n"), 4, /only valid with CheckAlive/],
    [withAlive("CheckAlive = 10.0.0.1\nCheckAlive = 10.0.0.2\n"), 5, /given twice/],
    [withAlive("CheckAlive = $NOPE\n"), 4, /environment variable NOPE is not set/],
    [`${WG}[Socks5]\nBindAddress = 127.0.0.1:1\nCheckAlive = 10.0.0.1\n`, 9, /Unknown key/],
  ];
  for (const [text, line, re] of cases) {
    throws(() => parseProxyConfig(text, "px.conf", {}), (e) => {
      equal(e instanceof ConfigError, true, String(e));
      equal((e as ConfigError).line, line, (e as Error).message);
      return re.test((e as Error).message);
    }, text);
  }
});
