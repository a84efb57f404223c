/**
 * systemd readiness (`Type=notify`): `up` sends READY=1 with its pid on `$NOTIFY_SOCKET` once the
 * interface is configured and STOPPING=1 when it goes down; `--interface` naming an existing link
 * that is not a TUN device is a clear error.
 * @module
 */
import { equal, match, ok } from "node:assert/strict";
import { encodeBase64Key, generatePrivateKey } from "../src/wg/keys.ts";
import { notifyAddress } from "../src/process/sd_notify.ts";
import { withNetns } from "./netns_child.ts";

const ROOT = Deno.uid() === 0;
const MAIN = new URL("../main.ts", import.meta.url).pathname;
const dec = new TextDecoder();

Deno.test("notifyAddress: a path with its NUL, an abstract @name without", () => {
  const p = notifyAddress("/run/systemd/notify")!;
  equal(p.len, 2 + 19 + 1);
  const a = notifyAddress("@sd")!;
  equal(a.len, 2 + 3);
  equal(a.sa[2], 0);
  equal(notifyAddress("/" + "x".repeat(200)), null);
});

Deno.test({
  name: "up tells systemd READY=1 once configured and STOPPING=1 when it goes down",
  ignore: !ROOT,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = Deno.makeTempDirSync();
    const sock = `${dir}/notify`;
    const conf = `${dir}/tsdn${Deno.pid % 1000}.conf`;
    Deno.writeTextFileSync(
      conf,
      `[Interface]\nPrivateKey = ${
        encodeBase64Key(generatePrivateKey())
      }\nAddress = 10.94.0.1/24\n`,
      { mode: 0o600 },
    );
    // A receiver: python prints each datagram as JSON, one per line.
    const rx = new Deno.Command("python3", {
      args: [
        "-c",
        `import socket,json,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind(${
          JSON.stringify(sock)
        })\nprint("bound",flush=True)\nfor _ in range(2):\n  print(json.dumps(s.recv(4096).decode()),flush=True)`,
      ],
      stdout: "piped",
    }).spawn();
    const lines = rx.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    const next = async () => {
      while (!out.includes("\n")) {
        const { value, done } = await lines.read();
        if (done) throw new Error("receiver ended");
        out += value;
      }
      const i = out.indexOf("\n");
      const l = out.slice(0, i);
      out = out.slice(i + 1);
      return l;
    };
    equal(await next(), "bound");
    await withNetns("tsl-sdn", async (ns) => {
      const up = new Deno.Command("ip", {
        args: [
          "netns",
          "exec",
          ns,
          "env",
          `NOTIFY_SOCKET=${sock}`,
          Deno.execPath(),
          "run",
          "-A",
          MAIN,
          "up",
          conf,
        ],
        stdout: "null",
        stderr: "piped",
      }).spawn();
      const ready = JSON.parse(await next());
      match(ready, /^READY=1\nMAINPID=\d+\nSTATUS=tsdn\d+ is up$/);
      // Configured by then: the interface is up with its address.
      const link = dec.decode(
        (await new Deno.Command("ip", { args: ["-n", ns, "-o", "addr"], stdout: "piped" }).output())
          .stdout,
      );
      ok(link.includes("10.94.0.1/24"), link);
      up.kill("SIGTERM");
      match(JSON.parse(await next()), /^STOPPING=1/);
      equal((await up.status).code, 0);
      await up.stderr.cancel().catch(() => {});
    });
    await rx.status;
    await lines.cancel().catch(() => {});
    Deno.removeSync(dir, { recursive: true });
  },
});

Deno.test({
  name: "--interface naming an existing link that is not a TUN device is a clear error",
  ignore: !ROOT,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withNetns("tsl-notun", async (ns) => {
      const conf = Deno.makeTempFileSync({ suffix: ".conf" });
      Deno.writeTextFileSync(
        conf,
        `[Interface]\nPrivateKey = ${encodeBase64Key(generatePrivateKey())}\n`,
      );
      const o = await new Deno.Command("ip", {
        args: [
          "netns",
          "exec",
          ns,
          Deno.execPath(),
          "run",
          "-A",
          MAIN,
          "up",
          conf,
          "--interface",
          "lo",
          "--log-format",
          "json",
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      Deno.removeSync(conf);
      equal(o.code, 1);
      match(dec.decode(o.stderr), /`lo' exists and is not a TUN interface/);
    });
  },
});
