import { deepStrictEqual, equal, ok, rejects } from "node:assert/strict";
import {
  formatBytes,
  formatDuration,
  formatEndpointC,
  formatIpC,
  show,
  SHOW_FIELDS,
  type ShowFormat,
  sortPeers,
} from "../src/cli/show_cmd.ts";
import { COMMANDS } from "../src/cli/commands.ts";
import { UsageError } from "../src/cli/usage_error.ts";
import { UapiServer } from "../src/uapi/uapi_server.ts";
import { newPeerState } from "../src/uapi/uapi_protocol.ts";
import type { UapiPeerState, UapiState } from "../src/uapi/uapi_types.ts";
import { parseCidr, parseIp } from "../src/wg/cidr.ts";
import {
  encodeBase64Key,
  generatePresharedKey,
  generatePrivateKey,
  publicKey,
} from "../src/wg/keys.ts";
import { MemoryDevice } from "./fixtures/uapi_memory_device.ts";
import {
  startWireguardGo,
  UAPI_REFERENCE_READY,
  uniqueName,
  wg,
  WG_READY,
} from "./fixtures/uapi_reference.ts";

if (!WG_READY) console.warn("show_cmd_test: not root or no wg; comparisons with `wg show` IGNORED");

const PLAIN: ShowFormat = { color: false, hideKeys: true, now: 1_000_000 };

function peer(over: Partial<UapiPeerState> = {}): UapiPeerState {
  return { ...newPeerState(publicKey(generatePrivateKey())), ...over };
}

Deno.test("formatBytes: wg's units and glibc's %.2f rounding (ties to even)", () => {
  const b = (n: number): string => formatBytes(n, PLAIN);
  equal(b(0), "0 B");
  equal(b(1023), "1023 B");
  equal(b(1024), "1.00 KiB");
  equal(b(1152), "1.12 KiB", "1.125 exactly: ties to even, not 1.13");
  equal(b(1408), "1.38 KiB", "1.375 exactly");
  equal(b(1064), "1.04 KiB");
  equal(b(1024 * 1024 - 1), "1024.00 KiB");
  equal(b(5 * 1024 * 1024 + 123), "5.00 MiB");
  equal(b(3 * 1024 ** 3 + 5), "3.00 GiB");
  equal(b(2 * 1024 ** 4 + 1024 ** 3 * 512), "2.50 TiB");
  equal(formatBytes(7, { ...PLAIN, color: true }), "7 \x1b[36mB\x1b[0m");
});

Deno.test("formatDuration and formatIpC match wg's pretty_time and inet_ntop", () => {
  const d = (n: number): string => formatDuration(n, PLAIN);
  equal(d(1), "1 second");
  equal(d(25), "25 seconds");
  equal(d(3661), "1 hour, 1 minute, 1 second");
  equal(
    d(365 * 86400 + 2 * 86400 + 3 * 3600 + 4 * 60 + 5),
    "1 year, 2 days, 3 hours, 4 minutes, 5 seconds",
  );
  equal(d(120), "2 minutes");
  const ip = (t: string): string => formatIpC(parseIp(t)!);
  equal(ip("10.0.0.1"), "10.0.0.1");
  equal(ip("::"), "::");
  equal(ip("::1"), "::1");
  equal(ip("1::"), "1::");
  equal(ip("::102:304"), "::1.2.3.4", "v4-compatible: glibc prints a dotted quad");
  equal(ip("::ffff:1.2.3.4"), "::ffff:1.2.3.4");
  equal(ip("1:0:0:1:0:0:0:1"), "1:0:0:1::1");
  equal(ip("1:0:0:1:0:0:1:1"), "1::1:0:0:1:1", "first of equal runs");
  equal(ip("fe80::1:0:0:0"), "fe80::1:0:0:0", "first of two equal runs");
  equal(ip("1:2:3:4:5:6:7:8"), "1:2:3:4:5:6:7:8");
  equal(formatEndpointC("[::ffff:1.2.3.4]:09"), "[::ffff:1.2.3.4]:9");
  equal(formatEndpointC("[fe80::1%1]:5"), "[fe80::1%lo]:5", "link-local scope by name");
  equal(formatEndpointC("[fd00::1%1]:5"), "[fd00::1%1]:5", "other scopes stay numeric");
  equal(formatEndpointC("not an endpoint"), "not an endpoint");
});

Deno.test("sortPeers: latest handshake first, never last, otherwise stable", () => {
  const ps = [
    peer({ txBytes: 1 }),
    peer({ lastHandshakeTimeSec: 5 }),
    peer({ txBytes: 2 }),
    peer({ lastHandshakeTimeSec: 5, lastHandshakeTimeNsec: 1 }),
    peer({ lastHandshakeTimeSec: 0, lastHandshakeTimeNsec: 9 }),
    peer({ lastHandshakeTimeSec: 7 }),
  ];
  deepStrictEqual(sortPeers(ps).map((p) => ps.indexOf(p)), [5, 3, 1, 4, 0, 2]);
});

/** A state exercising every line of `wg show`, relative to `now`. */
function richState(now: number): UapiState {
  return {
    privateKey: generatePrivateKey(),
    listenPort: 51820,
    fwmark: 0x2a,
    peers: [
      peer({
        presharedKey: generatePresharedKey(),
        endpoint: "192.0.2.1:51820",
        lastHandshakeTimeSec: now - 5,
        lastHandshakeTimeNsec: 5,
        rxBytes: 1152,
        txBytes: 1023,
        persistentKeepaliveInterval: 25,
        allowedIps: ["10.0.0.0/8", "::1.2.3.4/128", "::ffff:1.2.3.4/128", "fd00::/64"].map(
          parseCidr,
        ),
      }),
      peer({
        endpoint: "[fe80::1%1]:51820",
        lastHandshakeTimeSec: now - (365 * 86400 + 2 * 86400 + 3 * 3600 + 4 * 60 + 5),
        rxBytes: 5 * 1024 * 1024 + 123,
        txBytes: 3 * 1024 ** 3 + 5,
        persistentKeepaliveInterval: 3661,
        allowedIps: [parseCidr("0.0.0.0/0")],
      }),
      peer(),
      peer({
        endpoint: "[2001:db8::1]:1",
        lastHandshakeTimeSec: now + 100,
        txBytes: 2 * 1024 ** 4 + 3,
        allowedIps: [parseCidr("192.168.0.0/16"), parseCidr("::/0")],
      }),
      peer({
        endpoint: "[::ffff:198.51.100.7]:9",
        lastHandshakeTimeSec: now,
        rxBytes: 1024 * 1024 - 1,
      }),
      peer({ lastHandshakeTimeNsec: 9, rxBytes: 1 }),
    ],
  };
}

interface Captured {
  code: number;
  out: string;
  err: string;
}

async function runShow(
  args: string[],
  dir: string,
  extra: { now?: number; env?: Record<string, string>; isTerminal?: boolean } = {},
): Promise<Captured> {
  let out = "";
  let err = "";
  const code = await show(args, {
    dir,
    stdout: (t) => (out += t),
    stderr: (t) => (err += t),
    now: extra.now === undefined ? undefined : () => extra.now!,
    env: (n) => extra.env?.[n],
    isTerminal: extra.isTerminal ?? false,
  });
  return { code, out, err };
}

Deno.test("show: the pretty form, fields, --json, interfaces, errors", async () => {
  const dir = await Deno.makeTempDir();
  const device = new MemoryDevice();
  const now = 1_800_000_000;
  device.state = richState(now);
  const server = await UapiServer.start("tsa0", device, { dir });
  try {
    const st = device.state;
    const [a, b, c, d, e, f] = st.peers.map((p) => encodeBase64Key(p.publicKey));
    const r = await runShow(["tsa0"], dir, { now });
    equal(r.code, 0);
    equal(
      r.out,
      [
        "interface: tsa0",
        `  public key: ${encodeBase64Key(publicKey(st.privateKey!))}`,
        "  private key: (hidden)",
        "  listening port: 51820",
        "  fwmark: 0x2a",
        "",
        `peer: ${d}`,
        "  endpoint: [2001:db8::1]:1",
        "  allowed ips: 192.168.0.0/16, ::/0",
        "  latest handshake: (System clock wound backward; connection problems may ensue.)",
        "  transfer: 0 B received, 2.00 TiB sent",
        "",
        `peer: ${e}`,
        "  endpoint: [::ffff:198.51.100.7]:9",
        "  allowed ips: (none)",
        "  latest handshake: Now",
        "  transfer: 1024.00 KiB received, 0 B sent",
        "",
        `peer: ${a}`,
        "  preshared key: (hidden)",
        "  endpoint: 192.0.2.1:51820",
        "  allowed ips: 10.0.0.0/8, ::1.2.3.4/128, ::ffff:1.2.3.4/128, fd00::/64",
        "  latest handshake: 5 seconds ago",
        "  transfer: 1.12 KiB received, 1023 B sent",
        "  persistent keepalive: every 25 seconds",
        "",
        `peer: ${b}`,
        "  endpoint: [fe80::1%lo]:51820",
        "  allowed ips: 0.0.0.0/0",
        "  latest handshake: 1 year, 2 days, 3 hours, 4 minutes, 5 seconds ago",
        "  transfer: 5.00 MiB received, 3.00 GiB sent",
        "  persistent keepalive: every 1 hour, 1 minute, 1 second",
        "",
        `peer: ${f}`,
        "  allowed ips: (none)",
        "  transfer: 1 B received, 0 B sent",
        "",
        `peer: ${c}`,
        "  allowed ips: (none)",
        "",
      ].join("\n"),
    );
    const shown = await runShow(["tsa0", "private-key"], dir);
    equal(shown.out, `${encodeBase64Key(st.privateKey!)}\n`, "FIELD private-key is not hidden");
    equal((await runShow(["tsa0", "fwmark"], dir)).out, "0x2a\n");
    equal(
      (await runShow(["tsa0", "latest-handshakes"], dir)).out.split("\n")[0],
      `${a}\t${now - 5}`,
    );
    const revealed = await runShow(["tsa0"], dir, { now, env: { WG_HIDE_KEYS: "never" } });
    ok(revealed.out.includes(`  private key: ${encodeBase64Key(st.privateKey!)}\n`));
    const colored = await runShow(["tsa0"], dir, { now, isTerminal: true });
    ok(colored.out.startsWith("\x1b[0m\x1b[32m\x1b[1minterface\x1b[0m: \x1b[32mtsa0\x1b[0m\n"));
    equal(
      (await runShow(["tsa0"], dir, { now, isTerminal: true, env: { WG_COLOR_MODE: "never" } }))
        .out,
      r.out,
    );

    const json = JSON.parse((await runShow(["tsa0", "--json"], dir)).out);
    deepStrictEqual(Object.keys(json), ["tsa0"]);
    equal(json.tsa0.privateKey, "(hidden)");
    equal(json.tsa0.listenPort, 51820);
    equal(json.tsa0.fwmark, 42);
    deepStrictEqual(json.tsa0.peers[a], {
      presharedKey: "(hidden)",
      endpoint: "192.0.2.1:51820",
      latestHandshake: now - 5,
      transferRx: 1152,
      transferTx: 1023,
      persistentKeepalive: 25,
      allowedIps: ["10.0.0.0/8", "::1.2.3.4/128", "::ffff:1.2.3.4/128", "fd00::/64"],
    });
    deepStrictEqual(json.tsa0.peers[c], { allowedIps: [] });

    // Several interfaces, a dead socket (removed, like wg does), a missing one.
    const second = await UapiServer.start("tsa1", new MemoryDevice(), { dir });
    const l = Deno.listen({ transport: "unix", path: `${dir}/tmp.sock` });
    Deno.linkSync(`${dir}/tmp.sock`, `${dir}/dead.sock`);
    l.close();
    try {
      const all = await runShow([], dir, { now });
      equal(all.code, 0);
      const names = (await runShow(["interfaces"], dir)).out.trim().split(" ").sort();
      deepStrictEqual(names, ["tsa0", "tsa1"]);
      await rejects(() => Deno.lstat(`${dir}/dead.sock`), Deno.errors.NotFound);
      ok(all.out.includes("interface: tsa0\n") && all.out.includes("interface: tsa1\n"));
      ok(all.out.includes("\n\ninterface: "), "a blank line between interfaces");
      const allJson = JSON.parse((await runShow(["all", "--json"], dir)).out);
      deepStrictEqual(Object.keys(allJson).sort(), ["tsa0", "tsa1"]);
      deepStrictEqual(allJson.tsa1, { peers: {} });
      const dumps = (await runShow(["all", "dump"], dir)).out.split("\n");
      ok(dumps.includes("tsa1\t(none)\t(none)\t0\toff"), dumps.join("\n"));
    } finally {
      await second.close();
    }
    const missing = await runShow(["nosuch"], dir);
    deepStrictEqual(missing, {
      code: 1,
      out: "",
      err: "Unable to access interface: No such device\n",
    });
    await rejects(() => runShow(["tsa0", "bogus"], dir), UsageError);
    await rejects(() => runShow(["tsa0", "dump", "--json"], dir), UsageError);
    await rejects(() => runShow(["interfaces", "dump"], dir), UsageError);
    await rejects(() => runShow(["a", "b", "c"], dir), UsageError);
    await rejects(() => runShow(["--bogus"], dir), { code: "ERR_PARSE_ARGS_UNKNOWN_OPTION" });
    equal((await runShow([], `${dir}/none`)).out, "", "no socket directory: nothing to show");
    ok(Object.hasOwn(COMMANDS, "show"));
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

/** Runs `wg ARGS` and our `show ARGS` within one wall-clock second (retrying), returns both. */
async function bothWithin(
  args: string[],
  dir: string,
  env: Record<string, string> = {},
): Promise<[string, Captured]> {
  for (let i = 0;; i++) {
    const t0 = Math.floor(Date.now() / 1000);
    const theirs = await wg(["show", ...args], env);
    const ours = await runShow(args, dir, { now: t0, env });
    if (Math.floor(Date.now() / 1000) === t0 || i >= 4) {
      equal(theirs.stderr, ours.err, `stderr of show ${args.join(" ")}`);
      equal(theirs.code, ours.code, `exit code of show ${args.join(" ")}`);
      return [theirs.stdout, ours];
    }
  }
}

/** `wg show` sections of the given interfaces only (other tests' interfaces may come and go). */
function sections(text: string, names: string[]): string[] {
  return text.split(/\n(?=interface: )/).filter((s) =>
    names.some((n) => s.startsWith(`interface: ${n}\n`))
  ).map((s) => s.replace(/\n$/, ""));
}

Deno.test({
  name: "show prints exactly what stock `wg show` prints for our server",
  ignore: !WG_READY,
  async fn() {
    const dir = "/var/run/wireguard";
    const now = Math.floor(Date.now() / 1000);
    const names = [uniqueName("tslu"), uniqueName("tslu")];
    const devices = [new MemoryDevice(), new MemoryDevice()];
    devices[0].state = richState(now);
    devices[1].state.peers = [peer({ allowedIps: [parseCidr("10.9.0.0/24")] })];
    const servers = [
      await UapiServer.start(names[0], devices[0]),
      await UapiServer.start(names[1], devices[1]),
    ];
    try {
      const envs: Record<string, string>[] = [{}, { WG_COLOR_MODE: "always" }, {
        WG_HIDE_KEYS: "never",
      }];
      for (const env of envs) {
        const [theirs, ours] = await bothWithin([names[0]], dir, env);
        equal(ours.out, theirs, `show ${names[0]} ${JSON.stringify(env)}`);
      }
      for (const field of SHOW_FIELDS) {
        for (const name of names) {
          const [theirs, ours] = await bothWithin([name, field], dir);
          equal(ours.out, theirs, `show ${name} ${field}`);
        }
        const [theirs, ours] = await bothWithin(["all", field], dir);
        const mine = (t: string): string[] =>
          t.split("\n").filter((l) => names.some((n) => l.startsWith(`${n}\t`)));
        deepStrictEqual(mine(ours.out), mine(theirs), `show all ${field}`);
      }
      const [theirs, ours] = await bothWithin([], dir);
      deepStrictEqual(sections(ours.out, names), sections(theirs, names), "show (all)");
      // wg asks the kernel for a name without a socket: its message depends on the host.
      const missing = await wg(["show", "tslnosuch0"]);
      equal((await runShow(["tslnosuch0"], dir)).code, missing.code);
    } finally {
      for (const s of servers) await s.close();
    }
  },
});

Deno.test({
  name: "show prints exactly what stock `wg show` prints for a real wireguard-go",
  ignore: !UAPI_REFERENCE_READY,
  async fn() {
    await using ref = await startWireguardGo("show");
    const dir = await Deno.makeTempDir();
    try {
      const conf = [
        "[Interface]",
        `PrivateKey = ${encodeBase64Key(generatePrivateKey())}`,
        "ListenPort = 51820",
        "FwMark = 0x1234",
        "[Peer]",
        `PublicKey = ${encodeBase64Key(publicKey(generatePrivateKey()))}`,
        `PresharedKey = ${encodeBase64Key(generatePresharedKey())}`,
        "Endpoint = [::ffff:192.0.2.9]:51820",
        "AllowedIPs = 10.9.0.2/32, fd00::2/128, 192.168.0.0/16, ::1.2.3.4/128",
        "PersistentKeepalive = 25",
        "",
      ].join("\n");
      await Deno.writeTextFile(`${dir}/wg.conf`, conf, { mode: 0o600 });
      const r = await wg(["setconf", ref.name, `${dir}/wg.conf`]);
      equal(r.code, 0, r.stderr);
      for (const args of [[ref.name], [ref.name, "dump"], [ref.name, "endpoints"]]) {
        const [theirs, ours] = await bothWithin(args, "/var/run/wireguard");
        equal(ours.out, theirs, `show ${args.join(" ")}`);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
