/**
 * What a wg-quick user relies on, with tunslab in network namespaces: hooks in wg-quick's order
 * with `%i` and its failure semantics, DNS through a recording `resolvconf` stand-in, SaveConfig
 * (a round trip), `down`, `save`, `reload` (an unchanged peer keeps its session) and `up IFACE`
 * reading /etc/wireguard/IFACE.conf.
 * @module
 */
import { deepStrictEqual, equal, match, ok, throws } from "node:assert/strict";
import { Testbed } from "../src/demo/testbed.ts";
import { parseConfigFile } from "../src/wg/config.ts";
import { encodeBase64Key, generatePrivateKey, publicKey } from "../src/wg/keys.ts";

const ROOT = Deno.uid() === 0;
if (!ROOT) console.warn("wg_quick_test: not root; IGNORED");
const MAIN = new URL("../main.ts", import.meta.url).pathname;
const dec = new TextDecoder();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let seq = 0;

interface Up {
  child: Deno.ChildProcess;
  logs: string[];
  name: string;
}

/** `tunslab up ARGS` in a side's namespace (PATH may put a stand-in first). */
function up(bed: Testbed, side: "a" | "b", args: string[], env: Record<string, string> = {}): Up {
  const child = bed.spawn(side, [
    "env",
    ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
    Deno.execPath(),
    "run",
    "-A",
    MAIN,
    "up",
    ...args,
    "--log-format",
    "json",
  ]);
  const logs: string[] = [];
  (async () => {
    for await (const c of child.stderr.pipeThrough(new TextDecoderStream())) logs.push(c);
  })();
  child.stdout.cancel().catch(() => {});
  const name = (args.find((a) => a.endsWith(".conf")) ?? args[0]).split("/").pop()!.replace(
    /\.conf$/,
    "",
  );
  return { child, logs, name };
}

async function waitUp(bed: Testbed, side: "a" | "b", u: Up): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const r = await bed.run(side, ["ip", "link", "show", u.name], true);
    if (r.code === 0 && /[<,]UP[,>]/.test(r.stdout)) {
      // The socket answers once the device exists.
      const s = await new Deno.Command("wg", {
        args: ["show", u.name],
        stdout: "null",
        stderr: "null",
      }).output();
      // Up, and DNS and PostUp done (the line comes after them): a SIGTERM now is a stop, not
      // a start cut short.
      if (s.success && u.logs.join("").includes(" is ready")) return;
    }
    await sleep(50);
  }
  throw new Error(`${u.name} did not come up:\n${u.logs.join("").slice(-3000)}`);
}

async function tunslab(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: o.code, out: dec.decode(o.stdout), err: dec.decode(o.stderr) };
}

interface Keys {
  a: Uint8Array;
  b: Uint8Array;
}

function conf(
  bed: Testbed,
  side: "a" | "b",
  keys: Keys,
  extra: string[] = [],
  peerExtra: string[] = [],
): string {
  const other = side === "a" ? "b" : "a";
  const n = side === "a" ? 1 : 2, m = side === "a" ? 2 : 1;
  return [
    "[Interface]",
    `PrivateKey = ${encodeBase64Key(keys[side])}`,
    "ListenPort = 51820",
    `Address = 10.95.0.${n}/24`,
    ...extra,
    "",
    "[Peer]",
    `PublicKey = ${encodeBase64Key(publicKey(keys[other]))}`,
    `AllowedIPs = 10.95.0.${m}/32`,
    `Endpoint = ${bed.underlay(other)}:51820`,
    ...peerExtra,
    "",
  ].join("\n");
}

function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = Deno.makeTempDirSync({ prefix: "tsl-wgq-" });
  return fn(dir).finally(() => Deno.removeSync(dir, { recursive: true }));
}

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name, ignore: !ROOT, sanitizeResources: false, sanitizeOps: false, fn });

test("hooks run in wg-quick's order with %i; a failing PostUp removes the interface, no Pre/PostDown; SIGTERM during PostUp stops cleanly", async () => {
  await using bed = await Testbed.create("hooks");
  await withDir(async (dir) => {
    const keys = { a: generatePrivateKey(), b: generatePrivateKey() };
    const log = `${dir}/hooks.log`;
    const name = `thk${Deno.pid % 1000}${seq++}`;
    const hooks = [
      `PreUp = ip link show %i >/dev/null 2>&1 && echo "PreUp %i exists" >> ${log} || echo "PreUp %i absent" >> ${log}`,
      `PostUp = ip link show %i >/dev/null 2>&1 && echo "PostUp %i exists # not a comment" >> ${log}`,
      `PostUp = echo "to stdout from %i"; echo "to stderr" >&2`,
      `PreDown = echo "PreDown %i" >> ${log}`,
      `PostDown = echo "PostDown %i" >> ${log}`,
    ];
    const path = `${dir}/${name}.conf`;
    Deno.writeTextFileSync(path, conf(bed, "a", keys, hooks), { mode: 0o600 });
    const u = up(bed, "a", [path]);
    await waitUp(bed, "a", u);
    u.child.kill("SIGTERM");
    equal((await u.child.status).code, 0, u.logs.join(""));
    deepStrictEqual(Deno.readTextFileSync(log).trim().split("\n"), [
      `PreUp ${name} absent`,
      `PostUp ${name} exists # not a comment`,
      `PreDown ${name}`,
      `PostDown ${name}`,
    ]);
    const logs = u.logs.join("");
    match(logs, /to stdout from/);
    match(logs, /"level":"WARN(ING)?".*to stderr/);

    // A PostUp that fails: exit 1, the interface gone, PreDown and PostDown never run.
    Deno.removeSync(log);
    const bad = [
      `PreUp = echo "PreUp %i" >> ${log}`,
      "PostUp = false",
      `PreDown = echo "PreDown %i" >> ${log}`,
      `PostDown = echo "PostDown %i" >> ${log}`,
    ];
    Deno.writeTextFileSync(path, conf(bed, "a", keys, bad), { mode: 0o600 });
    const f = up(bed, "a", [path]);
    const st = await f.child.status;
    equal(st.code, 1);
    match(f.logs.join(""), /PostUp hook failed \(exit 1\): false/);
    deepStrictEqual(Deno.readTextFileSync(log).trim().split("\n"), [`PreUp ${name}`]);
    const link = await bed.run("a", ["ip", "link", "show", name], true);
    ok(link.code !== 0, "interface removed after the failed PostUp");

    // SIGTERM while PostUp still runs: the start completes, then the whole down path (PreDown,
    // PostDown), exit 0, and no UAPI socket left behind.
    Deno.removeSync(log);
    const slow = [
      `PostUp = echo "PostUp %i" >> ${log}; sleep 1.5`,
      `PreDown = echo "PreDown %i" >> ${log}`,
      `PostDown = echo "PostDown %i" >> ${log}`,
    ];
    Deno.writeTextFileSync(path, conf(bed, "a", keys, slow), { mode: 0o600 });
    const t = up(bed, "a", [path]);
    const written = () => {
      try {
        return Deno.readTextFileSync(log);
      } catch {
        return ""; // not yet
      }
    };
    for (let i = 0; i < 200 && !written().includes("PostUp"); i++) await sleep(20);
    t.child.kill("SIGTERM");
    equal((await t.child.status).code, 0, t.logs.join(""));
    match(t.logs.join(""), /Stop requested while .* starts/);
    deepStrictEqual(Deno.readTextFileSync(log).trim().split("\n"), [
      `PostUp ${name}`,
      `PreDown ${name}`,
      `PostDown ${name}`,
    ]);
    throws(() => Deno.statSync(`/var/run/wireguard/${name}.sock`), "no UAPI socket left");
  });
});

test("DNS through resolvconf (a recording stand-in on PATH): -a at up, -d at down", async () => {
  await using bed = await Testbed.create("dns");
  await withDir(async (dir) => {
    const keys = { a: generatePrivateKey(), b: generatePrivateKey() };
    const name = `tdn${Deno.pid % 1000}${seq++}`;
    const bin = `${dir}/bin`;
    Deno.mkdirSync(bin);
    const record = `${dir}/resolvconf.log`;
    Deno.writeTextFileSync(
      `${bin}/resolvconf`,
      `#!/bin/sh\necho "ARGS $*" >> ${record}\n[ "$1" = "-a" ] && sed 's/^/IN /' >> ${record}\nexit 0\n`,
      { mode: 0o755 },
    );
    const path = `${dir}/${name}.conf`;
    Deno.writeTextFileSync(
      path,
      conf(bed, "a", keys, ["DNS = 10.95.0.53, fd95::53, corp.example"]),
      { mode: 0o600 },
    );
    const u = up(bed, "a", [path], { PATH: `${bin}:/usr/sbin:/usr/bin:/sbin:/bin` });
    await waitUp(bed, "a", u);
    const during = Deno.readTextFileSync(record);
    u.child.kill("SIGTERM");
    equal((await u.child.status).code, 0, u.logs.join(""));
    deepStrictEqual(during.trim().split("\n"), [
      `ARGS -a ${name} -m 0 -x`,
      "IN nameserver 10.95.0.53",
      "IN nameserver fd95::53",
      "IN search corp.example",
    ]);
    equal(Deno.readTextFileSync(record).trim().split("\n").at(-1), `ARGS -d ${name} -f`);
  });
});

test("SaveConfig round trip, save, down, and down of what is not a tunslab interface", async () => {
  await using bed = await Testbed.create("save");
  await withDir(async (dir) => {
    const keys = { a: generatePrivateKey(), b: generatePrivateKey() };
    const name = `tsv${Deno.pid % 1000}${seq++}`;
    const path = `${dir}/${name}.conf`;
    Deno.writeTextFileSync(
      path,
      "# a comment wg-quick drops\n" +
        conf(bed, "a", keys, [
          "SaveConfig = true",
          "DNS = corp.example",
          "PostUp = true",
          "Offload = off",
        ]),
      { mode: 0o644 },
    );
    const u = up(bed, "a", [path]);
    await waitUp(bed, "a", u);
    // A change made with wg while it runs…
    const extra = encodeBase64Key(publicKey(generatePrivateKey()));
    const set = await new Deno.Command("wg", {
      args: [
        "set",
        name,
        "peer",
        extra,
        "allowed-ips",
        "10.95.9.0/24",
        "persistent-keepalive",
        "25",
      ],
    }).output();
    ok(set.success);
    // … reaches the file with `tunslab save` while it runs, and again at down.
    const s = await tunslab(["save", path]);
    equal(s.code, 0, s.err);
    ok(Deno.readTextFileSync(path).includes(extra), "saved while running");
    const d = await tunslab(["down", name]);
    equal(d.code, 0, d.err);
    equal((await u.child.status).code, 0, "up ended through down");
    const text = Deno.readTextFileSync(path);
    equal(Deno.statSync(path).mode! & 0o777, 0o600);
    ok(!text.includes("# a comment"), "comments are dropped, as wg-quick does");
    for (
      const want of [
        "SaveConfig = true",
        "Address = 10.95.0.1/24",
        "DNS = corp.example",
        "PostUp = true",
        "Offload = off",
        "ListenPort = 51820",
        `PublicKey = ${extra}`,
        "AllowedIPs = 10.95.9.0/24",
        "PersistentKeepalive = 25",
      ]
    ) {
      ok(text.includes(want), `${want} missing in:\n${text}`);
    }
    const { config } = await parseConfigFile(path);
    equal(config.peers.length, 2);
    equal(config.interface.saveConfig, true);
    // The saved file brings the tunnel up again.
    const again = up(bed, "a", [path]);
    await waitUp(bed, "a", again);
    equal((await tunslab(["down", path])).code, 0);
    equal((await again.child.status).code, 0);
    // An interface with no tunslab behind it.
    const none = await tunslab(["down", "tslnothere0"]);
    equal(none.code, 1);
    match(none.err, /`tslnothere0' is not a tunslab interface/);
  });
});

test("reload applies a changed file; the unchanged peer keeps its session", async () => {
  await using bed = await Testbed.create("reload");
  await withDir(async (dir) => {
    const keys = { a: generatePrivateKey(), b: generatePrivateKey() };
    const [na, nb] = [`trla${Deno.pid % 1000}${seq}`, `trlb${Deno.pid % 1000}${seq++}`];
    const pa = `${dir}/${na}.conf`, pb = `${dir}/${nb}.conf`;
    Deno.writeTextFileSync(pa, conf(bed, "a", keys), { mode: 0o600 });
    Deno.writeTextFileSync(pb, conf(bed, "b", keys), { mode: 0o600 });
    const a = up(bed, "a", [pa]), b = up(bed, "b", [pb]);
    await waitUp(bed, "a", a);
    await waitUp(bed, "b", b);
    await bed.run("a", ["ping", "-c", "2", "-W", "2", "10.95.0.2"]);
    // Peer b's line of `wg show … latest-handshakes`.
    const pubB = encodeBase64Key(publicKey(keys.b));
    const hs = async () =>
      dec.decode(
        (await new Deno.Command("wg", { args: ["show", na, "latest-handshakes"], stdout: "piped" })
          .output()).stdout,
      ).split("\n").find((l) => l.startsWith(pubB));
    const before = await hs();
    ok(before !== undefined && !before.endsWith("\t0"), `a handshake with b: ${before}`);
    // A second peer, a second address, another MTU; peer b unchanged.
    const third = encodeBase64Key(publicKey(generatePrivateKey()));
    Deno.writeTextFileSync(
      pa,
      conf(bed, "a", keys, ["Address = 10.96.0.1/24", "MTU = 1380"]) +
        `\n[Peer]\nPublicKey = ${third}\nAllowedIPs = 10.96.0.0/24\n`,
      { mode: 0o600 },
    );
    const r = await tunslab(["reload", pa]);
    equal(r.code, 0, r.err + a.logs.join("").slice(-2000));
    const peers = dec.decode(
      (await new Deno.Command("wg", { args: ["show", na, "peers"], stdout: "piped" }).output())
        .stdout,
    );
    ok(peers.includes(third), peers);
    const addrs = (await bed.run("a", ["ip", "-o", "addr", "show", "dev", na])).stdout;
    ok(addrs.includes("10.96.0.1/24") && addrs.includes("10.95.0.1/24"), addrs);
    match((await bed.run("a", ["ip", "link", "show", na])).stdout, /mtu 1380/);
    await bed.run("a", ["ping", "-c", "2", "-W", "2", "10.95.0.2"]);
    const after = await hs();
    equal(
      after,
      before,
      `no new handshake with the unchanged peer: ${JSON.stringify([before, after])}`,
    );
    match(a.logs.join(""), /Reloaded .*1 peer\(s\) added, 0 removed, 1 kept/);
    // SIGHUP does the same: dropping the third peer again.
    Deno.writeTextFileSync(pa, conf(bed, "a", keys), { mode: 0o600 });
    Deno.kill(a.child.pid, "SIGHUP");
    for (let i = 0; i < 50 && !/0 added, 1 removed/.test(a.logs.join("")); i++) await sleep(100);
    match(a.logs.join(""), /0 peer\(s\) added, 1 removed/);
    for (const u of [a, b]) {
      u.child.kill("SIGTERM");
      equal((await u.child.status).code, 0);
    }
  });
});

test("up IFACE reads /etc/wireguard/IFACE.conf", async () => {
  await using bed = await Testbed.create("etcwg");
  const keys = { a: generatePrivateKey(), b: generatePrivateKey() };
  const name = `tew${Deno.pid % 1000}${seq++}`;
  const path = `/etc/wireguard/${name}.conf`;
  Deno.mkdirSync("/etc/wireguard", { recursive: true, mode: 0o700 });
  Deno.writeTextFileSync(path, conf(bed, "a", keys), { mode: 0o600 });
  try {
    const u = up(bed, "a", [name]);
    await waitUp(bed, "a", u);
    equal((await tunslab(["down", name])).code, 0);
    equal((await u.child.status).code, 0);
  } finally {
    Deno.removeSync(path);
  }
});
