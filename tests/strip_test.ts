/**
 * `tunslab strip`: what `wg setconf` accepts. Unit: the wg-quick keys (and tunslab's) go, every
 * other line stays as written. As root: the output of `tunslab strip` is fed to the real
 * `wg setconf` of a running unconfigured tunslab interface, and `wg showconf` shows the peers.
 * @module
 */
import { deepStrictEqual, equal, match, ok } from "node:assert/strict";
import { stripConfig } from "../src/wg/strip.ts";
import { encodeBase64Key, generatePrivateKey, publicKey } from "../src/wg/keys.ts";
import { withNetns } from "./netns_child.ts";

const ROOT = Deno.uid() === 0;
const MAIN = new URL("../main.ts", import.meta.url).pathname;
const dec = new TextDecoder();

const PRIV = encodeBase64Key(generatePrivateKey());
const PUB = encodeBase64Key(publicKey(generatePrivateKey()));
const CONF = `# a laptop
[Interface]
PrivateKey = ${PRIV}
Address = 10.7.0.2/24, fd07::2/64
DNS = 10.7.0.1, corp.example
MTU = 1380
Table = off
ListenPort = 51820   # fixed
PreUp = echo "a#b" %i
PostUp = iptables -A FORWARD -i %i -j ACCEPT
PreDown = true
PostDown = iptables -D FORWARD -i %i -j ACCEPT
SaveConfig = false
Offload = off
FwMark = 0x10

[Peer]
PublicKey = ${PUB}
AllowedIPs = 10.7.0.0/24
Endpoint = 192.0.2.1:51820
PersistentKeepalive = 25
`;

Deno.test("stripConfig drops exactly the wg-quick and tunslab keys of [Interface]", () => {
  deepStrictEqual(stripConfig(CONF).split("\n"), [
    "# a laptop",
    "[Interface]",
    `PrivateKey = ${PRIV}`,
    "ListenPort = 51820   # fixed",
    "FwMark = 0x10",
    "",
    "[Peer]",
    `PublicKey = ${PUB}`,
    "AllowedIPs = 10.7.0.0/24",
    "Endpoint = 192.0.2.1:51820",
    "PersistentKeepalive = 25",
    "",
  ]);
});

Deno.test({
  name: "tunslab strip: its output goes into the real wg setconf of a running interface",
  ignore: !ROOT,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = Deno.makeTempDirSync();
    const name = `tstr${Deno.pid % 10000}`;
    const conf = `${dir}/${name}.conf`;
    Deno.writeTextFileSync(conf, CONF, { mode: 0o600 });
    const strip = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, "strip", conf],
      stdout: "piped",
      stderr: "piped",
    }).output();
    equal(strip.code, 0, dec.decode(strip.stderr));
    const stripped = `${dir}/stripped.conf`;
    Deno.writeFileSync(stripped, strip.stdout, { mode: 0o600 });
    await withNetns("tsl-strip", async (ns) => {
      const up = new Deno.Command("ip", {
        args: ["netns", "exec", ns, Deno.execPath(), "run", "-A", MAIN, "up", "--interface", name],
        stdout: "null",
        stderr: "piped",
      }).spawn();
      try {
        for (let i = 0; i < 100; i++) {
          try {
            Deno.statSync(`/var/run/wireguard/${name}.sock`);
            break;
          } catch {
            await new Promise((r) => setTimeout(r, 100));
          }
        }
        const set = await new Deno.Command("wg", {
          args: ["setconf", name, stripped],
          stderr: "piped",
        })
          .output();
        equal(set.code, 0, dec.decode(set.stderr));
        const show = dec.decode(
          (await new Deno.Command("wg", { args: ["showconf", name], stdout: "piped" }).output())
            .stdout,
        );
        match(show, new RegExp(`PublicKey = ${PUB.replace(/[+/=]/g, "\\$&")}`));
        match(show, /ListenPort = 51820/);
        match(show, /FwMark = 0x10/);
        ok(show.includes("Endpoint = 192.0.2.1:51820"), show);
      } finally {
        up.kill("SIGTERM");
        await up.status;
        await up.stderr.cancel().catch(() => {});
      }
    });
    Deno.removeSync(dir, { recursive: true });
  },
});
