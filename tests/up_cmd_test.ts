/**
 * The `tunslab up` contract, in a network namespace the test creates: the
 * interface is named after the file (or --interface), carries the config's
 * addresses and MTU, routes the AllowedIPs not covered by an address, and is
 * removed on SIGINT/SIGTERM with exit 0 and a final stats line. Bad configs
 * and bad flags fail with the file, line and key, or exit 2.
 */
import { deepStrictEqual, equal, match, ok } from "node:assert/strict";
import { run } from "../src/demo/testbed.ts";
import { TUN_TX_QUEUE_LEN } from "../src/device/device.ts";
import { encodeBase64Key, generatePrivateKey, publicKey } from "../src/wg/keys.ts";

const ROOT = Deno.uid() === 0;
if (!ROOT) console.warn("up_cmd_test: not root; namespace tests IGNORED");
const MAIN = new URL("../main.ts", import.meta.url).pathname;
const dec = new TextDecoder();

function conf(extra = ""): string {
  return [
    "[Interface]",
    `PrivateKey = ${encodeBase64Key(generatePrivateKey())}`,
    "ListenPort = 51999",
    "Address = 10.61.0.1/24, fd61::1/64",
    "Address = 10.62.0.1/24",
    "MTU = 1380",
    extra,
    "",
    "[Peer]",
    `PublicKey = ${encodeBase64Key(publicKey(generatePrivateKey()))}`,
    "AllowedIPs = 10.61.0.2/32, 10.70.0.0/16, fd70::/64",
    "",
  ].join("\n");
}

async function inNetns<T>(fn: (ns: string) => Promise<T>): Promise<T> {
  const ns = `tsl-up-${Deno.pid}-${Math.floor(Math.random() * 1e6)}`;
  await run(["ip", "netns", "add", ns]);
  try {
    return await fn(ns);
  } finally {
    await run(["ip", "netns", "del", ns], true);
  }
}

async function waitFor(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** `tunslab up ARGS` inside `ns`; its stderr is collected as it runs. */
function startUp(
  ns: string,
  args: string[],
): { child: Deno.ChildProcess; stderr: Promise<string> } {
  const child = new Deno.Command("ip", {
    args: ["netns", "exec", ns, Deno.execPath(), "run", "-A", MAIN, "up", ...args],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  return { child, stderr: new Response(child.stderr).text() };
}

/** Waits until interface `name` in `ns` exists and is up. */
function waitUp(ns: string, name: string): Promise<void> {
  return waitFor(
    async () => /[<,]UP[,>]/.test((await run(["ip", "-n", ns, "link", "show", name], true)).stdout),
    name,
  );
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.test({
    name:
      `up: interface named after the file, addresses, MTU, routes; removed on ${signal}, exit 0`,
    ignore: !ROOT,
    async fn() {
      await inNetns(async (ns) => {
        const dir = Deno.makeTempDirSync();
        const path = `${dir}/tsup${signal === "SIGINT" ? "i" : "t"}.conf`;
        const name = path.split("/").pop()!.replace(".conf", "");
        Deno.writeTextFileSync(path, conf(), { mode: 0o600 });
        const { child, stderr } = startUp(ns, [path]);
        try {
          await waitUp(ns, name);
          // The link comes up before the routes of its AllowedIPs are in (one stream, just after).
          await waitFor(
            async () =>
              /fd70::\/64/.test(
                (await run(["ip", "-n", ns, "-6", "route", "show", "dev", name])).stdout,
              ),
            `${name}'s routes`,
          );
          const link =
            JSON.parse((await run(["ip", "-n", ns, "-j", "link", "show", name])).stdout)[0];
          equal(link.mtu, 1380);
          equal(link.txqlen, TUN_TX_QUEUE_LEN);
          ok(link.flags.includes("UP"), `flags ${link.flags}`);
          const addrs = JSON.parse(
            (await run(["ip", "-n", ns, "-j", "addr", "show", name])).stdout,
          )[0]
            .addr_info.filter((a: { scope: string }) => a.scope === "global")
            .map((a: { local: string; prefixlen: number }) => `${a.local}/${a.prefixlen}`).sort();
          deepStrictEqual(addrs, ["10.61.0.1/24", "10.62.0.1/24", "fd61::1/64"]);
          const routes = (await run(["ip", "-n", ns, "route", "show", "dev", name])).stdout +
            (await run(["ip", "-n", ns, "-6", "route", "show", "dev", name])).stdout;
          match(routes, /10\.70\.0\.0\/16/);
          match(routes, /fd70::\/64/);
          ok(
            !/10\.61\.0\.2/.test(routes),
            "10.61.0.2/32 is covered by 10.61.0.1/24: no extra route",
          );
        } finally {
          child.kill(signal);
        }
        const status = await child.status;
        const log = await stderr;
        equal(status.code, 0, log);
        match(log, /"message":"Final stats for/);
        equal(
          (await run(["ip", "-n", ns, "link", "show", name], true)).code,
          1,
          "interface removed",
        );
        Deno.removeSync(dir, { recursive: true });
      });
    },
  });
}

Deno.test({
  name: "up: --interface overrides the name; a world-readable key file draws a warning",
  ignore: !ROOT,
  async fn() {
    await inNetns(async (ns) => {
      const dir = Deno.makeTempDirSync();
      const path = `${dir}/whatever.conf`;
      Deno.writeTextFileSync(path, conf("FwMark = 0x1234"));
      Deno.chmodSync(path, 0o644);
      const { child, stderr } = startUp(ns, [path, "--interface", "tsover0"]);
      try {
        await waitUp(ns, "tsover0");
        // FwMark from the config is set on the UDP socket and reported over UAPI.
        equal((await run(["wg", "show", "tsover0", "fwmark"])).stdout.trim(), "0x1234");
      } finally {
        child.kill("SIGINT");
      }
      equal((await child.status).code, 0);
      match(await stderr, /world accessible/);
      Deno.removeSync(dir, { recursive: true });
    });
  },
});

Deno.test("up: a bad config fails with file:line and key, exit 1; bad flags exit 2", async () => {
  const dir = Deno.makeTempDirSync();
  const path = `${dir}/bad.conf`;
  Deno.writeTextFileSync(path, conf("Bogus = 1"), { mode: 0o600 });
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "up", path, "--log-format", "json"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  equal(r.code, 1);
  match(dec.decode(r.stderr), new RegExp(`${path.replaceAll("/", "\\/")}:7: .*Bogus`));
  const u = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "up", path, "--no-such-flag"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  equal(u.code, 2);
  const m = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "up"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  equal(m.code, 2);
  match(dec.decode(m.stderr), /missing argument/);
  // A Table name rt_tables does not know is found at up, and still named by file and line.
  Deno.writeTextFileSync(path, conf("Table = nosuchtable"), { mode: 0o600 });
  const t = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "up", path, "--interface", "tsbadtab0"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  equal(t.code, 1);
  match(
    dec.decode(t.stderr),
    new RegExp(`${path.replaceAll("/", "\\/")}:7: .*Table = nosuchtable`),
  );
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("cli: help lists every command, unknown command exits 2, --help per command", async () => {
  const help = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN],
    stdout: "piped",
  }).output();
  equal(help.code, 0);
  for (const c of ["up", "demo", "genkey", "pubkey", "genpsk", "version"]) {
    match(dec.decode(help.stdout), new RegExp(`\\n  ${c} `));
    const h = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, c, "--help"],
      stdout: "piped",
    }).output();
    equal(h.code, 0);
    match(dec.decode(h.stdout), new RegExp(`^Usage: tunslab ${c}`));
  }
  const bad = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "frobnicate"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  equal(bad.code, 2);
  match(dec.decode(bad.stderr), /unknown command "frobnicate"/);
});
