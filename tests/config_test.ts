import assert from "node:assert/strict";
import { parseConfig, parseConfigFile } from "../src/wg/config.ts";
import { ConfigError } from "../src/wg/config_error.ts";
import { formatCidr } from "../src/wg/cidr.ts";
import { encodeBase64Key, generatePrivateKey, publicKey } from "../src/wg/keys.ts";

const PRIV = generatePrivateKey();
const PRIV_B64 = encodeBase64Key(PRIV);
const SELF_PUB = encodeBase64Key(publicKey(PRIV));
const PUB1 = encodeBase64Key(publicKey(generatePrivateKey()));
const PUB2 = encodeBase64Key(publicKey(generatePrivateKey()));
const PSK = encodeBase64Key(crypto.getRandomValues(new Uint8Array(32)));

const GOOD = `# wg0: two peers, v4 + v6
[Interface]
PrivateKey = ${PRIV_B64}
ListenPort = 51820
Address = 10.9.0.1/24, fd00:9::1/64
Address = 10.10.0.1/16
DNS = 10.9.0.53, fd00:9::53, corp.example
MTU = 1380
Table = off
PreUp = echo pre-up %i
PostUp = iptables -A FORWARD -i %i -j ACCEPT
PostUp = ip rule add pref 100 table main
PreDown = true
PostDown = iptables -D FORWARD -i %i -j ACCEPT
SaveConfig = false
FwMark = 0x10

[Peer]  # laptop
publickey = ${PUB1}
PresharedKey = ${PSK}
AllowedIPs = 10.9.0.2/32, fd00:9::2/128
AllowedIPs = 192.168.7.9/24
Endpoint = vpn.example.com:51821
PersistentKeepalive = 25

[peer]
PublicKey = ${PUB2}
AllowedIPs = 0.0.0.0/0, ::/0
Endpoint = [2001:db8::7]:443
PersistentKeepalive = off
`;

Deno.test("parses a good multi-peer v4+v6 config", () => {
  const cfg = parseConfig(GOOD, "wg0.conf");
  const i = cfg.interface;
  assert.deepEqual(i.privateKey, PRIV);
  assert.equal(encodeBase64Key(i.publicKey), SELF_PUB);
  assert.equal(i.listenPort, 51820);
  assert.equal(i.fwMark, 16);
  assert.deepEqual(i.addresses.map(formatCidr), ["10.9.0.1/24", "fd00:9::1/64", "10.10.0.1/16"]);
  assert.deepEqual(i.addresses.map((a) => a.family), [4, 6, 4]);
  assert.equal(i.mtu, 1380);
  assert.deepEqual(i.dns, ["10.9.0.53", "fd00:9::53"]);
  assert.deepEqual(i.dnsSearch, ["corp.example"]);
  assert.equal(i.table, "off");
  assert.deepEqual(i.preUp, ["echo pre-up %i"]);
  assert.deepEqual(i.postUp, [
    "iptables -A FORWARD -i %i -j ACCEPT",
    "ip rule add pref 100 table main",
  ]);
  assert.deepEqual(i.preDown, ["true"]);
  assert.deepEqual(i.postDown, ["iptables -D FORWARD -i %i -j ACCEPT"]);
  assert.equal(i.saveConfig, false);
  assert.equal(i.line, 2);
  assert.equal(cfg.peers.length, 2);
  const [a, b] = cfg.peers;
  assert.equal(encodeBase64Key(a.publicKey), PUB1);
  assert.equal(encodeBase64Key(a.presharedKey!), PSK);
  assert.deepEqual(a.allowedIps.map(formatCidr), [
    "10.9.0.2/32",
    "fd00:9::2/128",
    "192.168.7.0/24",
  ]);
  assert.deepEqual(a.endpoint, { host: "vpn.example.com", port: 51821 });
  assert.equal(a.persistentKeepalive, 25);
  assert.equal(a.line, 18);
  assert.equal(encodeBase64Key(b.publicKey), PUB2);
  assert.equal(b.presharedKey, null);
  assert.deepEqual(b.allowedIps.map(formatCidr), ["0.0.0.0/0", "::/0"]);
  assert.deepEqual(b.endpoint, { host: "2001:db8::7", port: 443 });
  assert.equal(b.persistentKeepalive, 0);
  assert.equal(b.line, 26);
});

Deno.test("defaults: MTU 1420, no port, no fwmark, CRLF and BOM tolerated", () => {
  const cfg = parseConfig(`\uFEFF[Interface]\r\nPrivateKey=${PRIV_B64}\r\nFwMark = off\r\n`);
  assert.equal(cfg.interface.mtu, 1420);
  assert.equal(cfg.interface.listenPort, null);
  assert.equal(cfg.interface.fwMark, 0);
  assert.equal(cfg.interface.table, null);
  assert.equal(cfg.interface.offload, true);
  assert.equal(cfg.interface.maxPool, null);
  assert.deepEqual(cfg.peers, []);
});

Deno.test("MTU 68..65535 (IPv6 addresses need 1280) and MaxPool = N MiB (1..512) in [Interface]", () => {
  const iface = (extra: string) =>
    parseConfig(`[Interface]\nPrivateKey=${PRIV_B64}\n${extra}`, "m.conf").interface;
  assert.equal(iface("MTU = 9000\n").mtu, 9000);
  assert.equal(iface("MTU = 34736\nAddress = fd00::1/64\n").mtu, 34736);
  assert.equal(iface("MTU = 65535\n").mtu, 65535);
  assert.equal(iface("MTU = 68\nAddress = 10.0.0.1/24\n").mtu, 68, "IPv4 only: 68 is fine");
  assert.equal(iface("Address = fd00::1/64\nMTU = 1280\n").mtu, 1280);
  assert.equal(iface("MaxPool = 2\n").maxPool, 2);
  assert.equal(iface("maxpool = 512\n").maxPool, 512);
  // The IPv6 check names the MTU line, whichever comes first.
  assert.throws(
    () => iface("Address = fd00::1/64\nMTU = 576\n"),
    (e: unknown) =>
      e instanceof ConfigError && e.line === 4 && /IPv6 address \(line 3\)/.test(e.message),
  );
});

Deno.test("Offload = on|off (any case) sets interface.offload; anything else is a ConfigError", () => {
  const offload = (v: string) =>
    parseConfig(`[Interface]\nPrivateKey=${PRIV_B64}\nOffload = ${v}\n`).interface.offload;
  assert.equal(offload("off"), false);
  assert.equal(offload("OFF"), false);
  assert.equal(offload("on"), true);
  assert.equal(offload("On"), true);
  for (const bad of ["yes", "0", "true", "of"]) {
    assert.throws(
      () => parseConfig(`[Interface]\nPrivateKey=${PRIV_B64}\nOffload = ${bad}\n`, "o.conf"),
      (e: unknown) =>
        e instanceof ConfigError && e.line === 3 &&
        /Offload: ".*" is neither on nor off/.test(e.message),
    );
  }
  assert.throws(
    () =>
      parseConfig(`[Interface]\nPrivateKey=${PRIV_B64}\n[Peer]\nPublicKey=${PUB1}\nOffload=off\n`),
    /Unknown key "Offload" in \[Peer\] section/,
  );
});

Deno.test("Endpoint forms: host:port, [v6]:port, v6 without brackets splits at the last colon", () => {
  const ep = (v: string) =>
    parseConfig(`[Interface]\nPrivateKey=${PRIV_B64}\n[Peer]\nPublicKey=${PUB1}\nEndpoint=${v}\n`)
      .peers[0].endpoint;
  assert.deepEqual(ep("1.2.3.4:51820"), { host: "1.2.3.4", port: 51820 });
  assert.deepEqual(ep("[fe80::1%eth0]:1"), { host: "fe80::1%eth0", port: 1 });
  assert.deepEqual(ep("fe80::1:51820"), { host: "fe80::1", port: 51820 });
  assert.deepEqual(ep("host.example:65535"), { host: "host.example", port: 65535 });
});

function errorOf(text: string): ConfigError {
  try {
    parseConfig(text, "t.conf");
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  assert.fail("expected a ConfigError");
}

/** Line numbers below are 1-based; each case names the line that must be reported. */
const HEAD = `[Interface]\nPrivateKey = ${PRIV_B64}\n`; // lines 1-2
const PEER1 = `[Peer]\nPublicKey = ${PUB1}\n`; // 2 lines

const ERROR_CASES: [string, string, number, RegExp][] = [
  [
    "unknown key in [Interface]",
    HEAD + "ListenPrt = 1\n",
    3,
    /Unknown key "ListenPrt" in \[Interface\] section/,
  ],
  [
    "unknown key in [Peer]",
    HEAD + PEER1 + "Endpiont = 1.2.3.4:5\n",
    5,
    /Unknown key "Endpiont" in \[Peer\]/,
  ],
  ["unknown section", HEAD + "\n[Peers]\n", 4, /Unknown section "\[Peers\]"/],
  [
    "key outside a section",
    "# hi\nPrivateKey = " + PRIV_B64 + "\n[Interface]\n",
    2,
    /Key "PrivateKey" outside of a section/,
  ],
  ["line without '='", HEAD + "ListenPort 51820\n", 3, /Line unrecognized: "ListenPort 51820"/],
  [
    "bad base64 PrivateKey",
    "[Interface]\nPrivateKey = " + PRIV_B64.replace(/^./, "*") + "\n",
    2,
    /PrivateKey: Key is not valid base64/,
  ],
  [
    "short PrivateKey",
    "[Interface]\nPrivateKey = AAAA\n",
    2,
    /PrivateKey: Key is not the correct length or format: expected 44 base64 chars ending in '=', got 4 chars/,
  ],
  [
    "48-byte PublicKey",
    HEAD + "[Peer]\nPublicKey = " + btoa("x".repeat(48)) + "\n",
    4,
    /PublicKey: Key is not the correct length/,
  ],
  [
    "bad PresharedKey",
    HEAD + PEER1 + "PresharedKey = " + PUB1.slice(0, 42) + "B=\n",
    5,
    /PresharedKey: Key is not valid base64/,
  ],
  [
    "bad AllowedIPs prefix",
    HEAD + PEER1 + "AllowedIPs = 10.0.0.0/8\nAllowedIPs = 10.0.0.1/33\n",
    6,
    /AllowedIPs: Invalid IP prefix "10.0.0.1\/33": prefix length 33 exceeds 32/,
  ],
  [
    "bad AllowedIPs address",
    HEAD + PEER1 + "AllowedIPs = 10.0.0.256/32\n",
    5,
    /AllowedIPs: Invalid IP prefix "10.0.0.256\/32": not an IPv4 or IPv6 address/,
  ],
  [
    "empty AllowedIPs entry",
    HEAD + PEER1 + "AllowedIPs = 10.0.0.1/32,\n",
    5,
    /AllowedIPs: empty entry/,
  ],
  ["bad Address", HEAD + "Address = fd00::1/129\n", 3, /Address: Invalid IP prefix "fd00::1\/129"/],
  [
    "bad ListenPort",
    HEAD + "ListenPort = 65536\n",
    3,
    /ListenPort: "65536" is not a port number \(0..65535\)/,
  ],
  [
    "non-numeric ListenPort",
    HEAD + "ListenPort = http\n",
    3,
    /ListenPort: "http" is not a port number/,
  ],
  [
    "Endpoint port 0",
    HEAD + PEER1 + "Endpoint = 1.2.3.4:0\n",
    5,
    /Endpoint: "0" is not a port number \(1..65535\)/,
  ],
  [
    "Endpoint without port",
    HEAD + PEER1 + "Endpoint = 1.2.3.4\n",
    5,
    /Endpoint: no port in "1.2.3.4"/,
  ],
  [
    "Endpoint bracket without port",
    HEAD + PEER1 + "Endpoint = [::1]51820\n",
    5,
    /Endpoint: no port in "\[::1\]51820"/,
  ],
  ["Endpoint without host", HEAD + PEER1 + "Endpoint = :51820\n", 5, /Endpoint: no host/],
  [
    "PersistentKeepalive too big",
    HEAD + PEER1 + "PersistentKeepalive = 65536\n",
    5,
    /PersistentKeepalive: "65536" is neither 0\/off nor 1..65535/,
  ],
  ["FwMark junk", HEAD + "FwMark = 0xZZ\n", 3, /FwMark: "0xZZ" is neither off nor a number/],
  ["FwMark too big", HEAD + "FwMark = 4294967296\n", 3, /FwMark: "4294967296" exceeds 2\^32 - 1/],
  ["MTU junk", HEAD + "MTU = 1500b\n", 3, /MTU: "1500b" is not an MTU/],
  ["MTU too big", HEAD + "MTU = 65536\n", 3, /MTU: "65536" is not an MTU \(68..65535\)/],
  ["MTU too small", HEAD + "MTU = 67\n", 3, /MTU: "67" is not an MTU/],
  [
    "MTU below 1280 with an IPv6 address",
    HEAD + "MTU = 1279\nAddress = 10.0.0.1/24, fd00::1/64\n",
    3,
    /MTU: 1279 is below 1280, the least an interface with an IPv6 address \(line 4\) may have/,
  ],
  [
    "MaxPool junk",
    HEAD + "MaxPool = 2M\n",
    3,
    /MaxPool: "2M" is not a pool size in MiB \(1..512\)/,
  ],
  ["MaxPool 0", HEAD + "MaxPool = 0\n", 3, /MaxPool: "0" is not a pool size in MiB/],
  ["MaxPool too big", HEAD + "maxpool = 513\n", 3, /maxpool: "513" is not a pool size in MiB/],
  ["MaxPool empty", HEAD + "MaxPool =\n", 3, /MaxPool: value is empty/],
  ["DNS bad IP", HEAD + "DNS = 1.2.3\n", 3, /DNS: "1.2.3" is not an IP address/],
  [
    "SaveConfig not bool",
    HEAD + "SaveConfig = yes\n",
    3,
    /SaveConfig: "yes" is neither true nor false/,
  ],
  ["empty value", HEAD + "ListenPort =\n", 3, /ListenPort: value is empty/],
  [
    "duplicate peer",
    HEAD + PEER1 + "\n[Peer]\n# same key\nPublicKey = " + PUB1 + "\n",
    8,
    /PublicKey: duplicate peer \(same key as the peer at line 3\)/,
  ],
  [
    "missing PrivateKey",
    "# c\n[Interface]\nListenPort = 1\n" + PEER1,
    2,
    /\[Interface\] section has no PrivateKey/,
  ],
  ["no [Interface] at all", PEER1, 0, /\[Interface\] section has no PrivateKey/],
  [
    "peer without PublicKey (mid-file)",
    HEAD + "[Peer]\nAllowedIPs = 10.0.0.2/32\n" + PEER1,
    3,
    /\[Peer\] section has no PublicKey/,
  ],
  [
    "peer without PublicKey (at EOF)",
    HEAD + PEER1 + "[Peer]\n",
    5,
    /\[Peer\] section has no PublicKey/,
  ],
  [
    "peer is ourselves",
    HEAD + "[Peer]\nAllowedIPs = 10.0.0.2/32\nPublicKey = " + SELF_PUB + "\n",
    5,
    /PublicKey: equals the interface's own public key/,
  ],
];

for (const [what, text, line, re] of ERROR_CASES) {
  Deno.test(`ConfigError: ${what} → line ${line}`, () => {
    const e = errorOf(text);
    assert.equal(e.name, "ConfigError");
    assert.equal(e.path, "t.conf");
    assert.equal(e.line, line, e.message);
    assert.ok(e.message.startsWith(`Invalid config at t.conf:${line}: `), e.message);
    assert.match(e.message, re);
  });
}

Deno.test("private keys never appear in error messages", () => {
  const bad = PRIV_B64.slice(0, 42) + "B=";
  const e = errorOf(`[Interface]\nPrivateKey = ${bad}\n`);
  assert.equal(e.message.includes(bad.slice(0, 20)), false);
});

Deno.test("host bits in AllowedIPs are masked; Address keeps them", () => {
  const cfg = parseConfig(
    HEAD + "Address = 10.1.2.3/8\n" + PEER1 + "AllowedIPs = 10.1.2.3/8, fd00::dead:beef/96\n",
  );
  assert.deepEqual(cfg.peers[0].allowedIps.map(formatCidr), ["10.0.0.0/8", "fd00::/96"]);
  assert.deepEqual(cfg.interface.addresses.map(formatCidr), ["10.1.2.3/8"]);
});

Deno.test("parseConfigFile warns when group/others can access the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/wg0.conf`;
    await Deno.writeTextFile(path, GOOD);
    await Deno.chmod(path, 0o600);
    let r = await parseConfigFile(path);
    assert.deepEqual(r.warnings, []);
    assert.equal(r.config.peers.length, 2);
    await Deno.chmod(path, 0o644);
    r = await parseConfigFile(path);
    assert.deepEqual(r.warnings, [`Warning: \`${path}' is world accessible`]);
    await Deno.chmod(path, 0o640);
    r = await parseConfigFile(path);
    assert.deepEqual(r.warnings, [`Warning: \`${path}' is group accessible`]);
    await Deno.writeTextFile(path, HEAD + "Bogus = 1\n");
    await assert.rejects(parseConfigFile(path), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(
        e.message,
        `Invalid config at ${path}:3: Unknown key "Bogus" in [Interface] section`,
      );
      return true;
    });
    await assert.rejects(parseConfigFile(`${dir}/missing.conf`), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.line, 0);
      assert.match(e.message, /missing\.conf:0: cannot read file/);
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

function wgAvailable(): boolean {
  try {
    return new Deno.Command("wg", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}
const WG = wgAvailable();
if (!WG) console.warn("config_test: `wg` not on PATH; cross-check with wg's parser IGNORED");

Deno.test({
  name: "accepts/rejects wg-only lines like `wg setconf`'s parser",
  ignore: !WG,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const lines = [
        "AllowedIPs = 10.0.0.1/32, fd00::/64",
        "AllowedIPs = 10.0.0.1/32,",
        "AllowedIPs = 10.0.0.1/33",
        "AllowedIPs = 010.0.0.1/32",
        "AllowedIPs = 10.0.0.1/24",
        "allowedips = 10.1.1.1",
        "PersistentKeepalive = 65535",
        "PersistentKeepalive = 65536",
        "PersistentKeepalive = OFF",
        "Endpoint = [::1]51820",
        "Endpoint = [::1]:51820",
        "Foo = bar",
        "PublicKey = AAAA",
      ];
      for (const line of lines) {
        const text = HEAD + PEER1 + line + "\n";
        const path = `${dir}/x.conf`;
        await Deno.writeTextFile(path, text, { mode: 0o600 });
        // A parse error is reported before wg touches the (nonexistent) interface.
        const out = await new Deno.Command("wg", {
          args: ["setconf", "tunslab-nonexistent0", path],
          stdout: "piped",
          stderr: "piped",
        }).output();
        const stderr = new TextDecoder().decode(out.stderr);
        const wgParses = !/parsing error|Invalid configuration/.test(stderr);
        let ours = true;
        try {
          parseConfig(text);
        } catch (e) {
          assert.ok(e instanceof ConfigError);
          ours = false;
        }
        assert.equal(ours, wgParses, `${line}: wg said ${stderr.trim()}`);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** Writes `bytes` to a fresh file and returns what parseConfigFile throws (or null). */
async function fileError(bytes: Uint8Array): Promise<ConfigError | null> {
  const dir = Deno.makeTempDirSync();
  const path = `${dir}/wg0.conf`;
  Deno.writeFileSync(path, bytes, { mode: 0o600 });
  try {
    await parseConfigFile(path);
    return null;
  } catch (e) {
    assert.ok(e instanceof ConfigError, `not a ConfigError: ${e}`);
    return e;
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

const enc = new TextEncoder();

Deno.test("hostile files: one short error naming the line, in bounded time", async () => {
  const head = enc.encode(`[Interface]\nPrivateKey = ${PRIV_B64}\n`);
  const cases: [string, Uint8Array, number, RegExp][] = [
    ["10 MB of NUL bytes", new Uint8Array(10 << 20), 1, /NUL byte/],
    ["a NUL on line 3", new Uint8Array([...head, 0x41, 0, 10]), 3, /NUL byte/],
    ["Latin-1 on line 3", new Uint8Array([...head, 0x23, 0xe9, 10]), 3, /not UTF-8 .*0xe9/],
    ["an overlong UTF-8 form", new Uint8Array([...head, 0xc0, 0xaf, 10]), 3, /not UTF-8/],
    ["a surrogate in UTF-8", new Uint8Array([...head, 0xed, 0xa0, 0x80, 10]), 3, /not UTF-8/],
    ["a cut sequence at the end", new Uint8Array([...head, 0xe2, 0x82]), 3, /not UTF-8/],
    // No newline: the first bad byte is on line 1 (a random "\n" before it made this flaky).
    [
      "random bytes",
      crypto.getRandomValues(new Uint8Array(65536)).map((b) => b === 10 ? 32 : b),
      1,
      /./,
    ],
    [
      "a line of 70,000 characters",
      enc.encode(`[Interface]\n# ${"x".repeat(70_000)}\n`),
      2,
      /longer than 65536/,
    ],
  ];
  for (const [what, bytes, line, re] of cases) {
    const t0 = performance.now();
    const e = await fileError(bytes);
    const ms = performance.now() - t0;
    assert.ok(e !== null, `${what}: accepted`);
    assert.equal(e.line, line, `${what}: ${e.message}`);
    assert.match(e.message, re, what);
    assert.ok(e.message.length < 400, `${what}: message of ${e.message.length} characters`);
    assert.ok(
      // deno-lint-ignore no-control-regex
      !/[\x00-\x08\x0a-\x1f]/.test(e.message),
      `${what}: control characters in the message`,
    );
    console.log(`${what}: line ${e.line}, ${ms.toFixed(1)} ms, ${e.message.length} chars`);
  }
});

Deno.test("hostile files: over 64 MiB refused before it is read whole", async () => {
  const dir = Deno.makeTempDirSync();
  const path = `${dir}/big.conf`;
  using f = Deno.openSync(path, { write: true, create: true, mode: 0o600 });
  f.truncateSync((64 << 20) + 1); // sparse: no disk used
  await assert.rejects(parseConfigFile(path), (e) => {
    assert.ok(e instanceof ConfigError);
    assert.equal(e.line, 0);
    assert.match(e.message, /larger than 64 MiB/);
    return true;
  });
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("a long garbage value is quoted cut short, never whole", () => {
  assert.throws(
    () => parseConfig(`[Interface]\nPrivateKey = ${PRIV_B64}\n${"z".repeat(60_000)}\n`),
    (e) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.line, 3);
      assert.match(e.message, /Line unrecognized: "zzz.*… \(cut\)$/);
      assert.ok(e.message.length < 400);
      return true;
    },
  );
});

Deno.test("a 10,000-peer config (16 prefixes each) loads", async () => {
  const lines = ["[Interface]", `PrivateKey = ${PRIV_B64}`, "ListenPort = 51820"];
  for (let i = 0; i < 10_000; i++) {
    // Distinct public keys without 10,000 X25519s: random 32 bytes are valid keys for a config.
    lines.push(
      "[Peer]",
      `PublicKey = ${encodeBase64Key(crypto.getRandomValues(new Uint8Array(32)))}`,
    );
    const ips = Array.from({ length: 16 }, (_, k) => `10.${i >> 8}.${i & 255}.${k}/32`);
    lines.push(`AllowedIPs = ${ips.join(", ")}`);
  }
  const text = lines.join("\n") + "\n";
  const dir = Deno.makeTempDirSync();
  Deno.writeTextFileSync(`${dir}/wg0.conf`, text, { mode: 0o600 });
  const t0 = performance.now();
  const { config } = await parseConfigFile(`${dir}/wg0.conf`);
  console.log(
    `${(text.length / 2 ** 20).toFixed(1)} MiB, ${config.peers.length} peers in ${
      (performance.now() - t0).toFixed(0)
    } ms`,
  );
  assert.equal(config.peers.length, 10_000);
  assert.equal(config.peers[9_999].allowedIps.length, 16);
  Deno.removeSync(dir, { recursive: true });
});
