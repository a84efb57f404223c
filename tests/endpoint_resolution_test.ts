/**
 * Endpoints given as host names: resolved as `wg` resolves them (`getaddrinfo`, so a namespace's
 * hosts file under `ip netns exec` applies), retried at start as wg retries, looked up again while
 * handshakes go unanswered so a moved server is found; and the warning about an unanswered
 * handshake, naming the peer and the endpoint.
 * @module
 */
import { deepStrictEqual, equal, match, ok, rejects } from "node:assert/strict";
import {
  EndpointHost,
  EndpointResolveError,
  resolutionRetries,
  resolveAtStart,
  STALE_HANDSHAKE_MS,
} from "../src/resolve/endpoint_resolution.ts";
import { EAI, ResolveError, resolveHost } from "../src/resolve/getaddrinfo.ts";
import { Testbed } from "../src/demo/testbed.ts";
import { startTunnel } from "../src/demo/tunnel_process.ts";
import { encodeBase64Key, generatePrivateKey, publicKey } from "../src/wg/keys.ts";

const ROOT = Deno.uid() === 0;
if (!ROOT) console.warn("endpoint_resolution_test: not root; namespace tests IGNORED");

Deno.test("getaddrinfo: /etc/hosts names, link-local zones, and the resolver's own errors", async () => {
  match(await resolveHost("localhost", 51820), /^(127\.0\.0\.1:51820|\[::1\]:51820)$/);
  equal(await resolveHost("fe80::1%lo", 51820), "[fe80::1%1]:51820");
  await rejects(resolveHost("no-such-host.invalid", 1), (e) => {
    ok(e instanceof ResolveError);
    equal(e.code, EAI.NONAME);
    ok(e.permanent);
    match(e.message, /no-such-host\.invalid/);
    return true;
  });
});

Deno.test("resolveAtStart: transient failures retried with wg's back-off, permanent ones not", async () => {
  const waits: number[] = [];
  let calls = 0;
  const flaky = (fail: number) => (host: string, port: number) => {
    calls++;
    if (calls <= fail) return Promise.reject(new ResolveError(host, EAI.AGAIN, "try again"));
    return Promise.resolve(`192.0.2.7:${port}`);
  };
  const sleep = (ms: number) => (waits.push(ms), Promise.resolve());
  equal(
    await resolveAtStart("vpn", 51820, "wg0.conf:9", { resolve: flaky(3), sleep }),
    "192.0.2.7:51820",
  );
  deepStrictEqual(waits, [1000, 1200, 1440]);
  calls = 0;
  waits.length = 0;
  await rejects(
    resolveAtStart("vpn", 1, "wg0.conf:9", { resolve: flaky(99), retries: 2, sleep }),
    (e) => {
      ok(e instanceof EndpointResolveError);
      match(e.message, /Endpoint host "vpn" \(wg0\.conf:9\): cannot resolve "vpn": try again/);
      return true;
    },
  );
  equal(calls, 3, "the first try and two retries");
  calls = 0;
  const gone = () => (calls++, Promise.reject(new ResolveError("x", EAI.NONAME, "no such name")));
  await rejects(
    resolveAtStart("x", 1, "wg0.conf:3", { resolve: gone, sleep }),
    EndpointResolveError,
  );
  equal(calls, 1, "a permanent failure is not retried");
  deepStrictEqual([
    resolutionRetries(undefined),
    resolutionRetries("infinity"),
    resolutionRetries("4"),
  ], [15, -1, 4]);
});

Deno.test("EndpointHost: looked up again while unanswered or stale, at most every 5 s", async () => {
  const h = new EndpointHost("vpn", 51820, "wg0.conf:9");
  equal(h.due(100_000, false, 99_000), false, "fresh handshake, no retry");
  equal(h.due(100_000, true, 99_000), true, "a retry");
  equal(await h.lookup(100_000, () => Promise.resolve("192.0.2.8:51820")), "192.0.2.8:51820");
  equal(h.due(104_000, true, 99_000), false, "4 s after the last lookup");
  equal(h.due(105_000, true, 99_000), true);
  equal(
    h.due(105_000 + STALE_HANDSHAKE_MS, false, 100_000),
    true,
    "latest handshake older than 135 s",
  );
});

/** `ip netns exec` bind-mounts /etc/netns/NS/hosts over /etc/hosts: written in place, it changes. */
function writeHosts(ns: string, text: string): void {
  Deno.mkdirSync(`/etc/netns/${ns}`, { recursive: true });
  Deno.writeTextFileSync(`/etc/netns/${ns}/hosts`, text); // same inode: the mount sees it
}

Deno.test({
  name:
    "a hostname endpoint whose address changes is found again; the unanswered handshake is logged",
  ignore: !ROOT,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using bed = await Testbed.create("resolve");
    const host = "server.tunslab.test";
    writeHosts(bed.ns.a, `127.0.0.1 localhost\n${bed.underlay("b")} ${host}\n`);
    const keys = { a: generatePrivateKey(), b: generatePrivateKey() };
    const inner = { a: "10.97.0.1", b: "10.97.0.2" } as const;
    const spec = (side: "a" | "b") => {
      const peer = side === "a" ? "b" : "a";
      return {
        name: `tres${side}${Deno.pid % 10000}`,
        privateKey: encodeBase64Key(keys[side]),
        listenPort: 51820,
        addresses: [`${inner[side]}/24`],
        peer: {
          publicKey: encodeBase64Key(publicKey(keys[peer])),
          allowedIps: [`${inner[peer]}/32`],
          endpoint: side === "a" ? `${host}:51820` : undefined,
        },
      };
    };
    const a = await startTunnel(bed, "a", "tunslab", spec("a"));
    let b = await startTunnel(bed, "b", "tunslab", spec("b"));
    try {
      const ping = async (limit: number) => {
        const t0 = performance.now();
        while ((performance.now() - t0) / 1000 < limit) {
          if ((await bed.run("a", ["ping", "-c", "1", "-W", "1", inner.b], true)).code === 0) {
            return (performance.now() - t0) / 1000;
          }
        }
        throw new Error(`no answer within ${limit} s:\n${a.logs().slice(-3000)}`);
      };
      await ping(10);
      // The server restarts on another address (fresh state: it knows no endpoint of the client)
      // and the hosts file follows. The client keeps sending to the old address: no answer, a new
      // handshake after 15 s, unanswered too, and before its retry the client looks the name up
      // again and finds the server.
      await b.stop();
      const moved = bed.underlay("b").replace(/\.2$/, ".3");
      await bed.run("b", ["sysctl", "-qw", "net.ipv4.conf.veth0.promote_secondaries=1"]);
      await bed.run("b", ["ip", "addr", "add", `${moved}/24`, "dev", "veth0"]);
      await bed.run("b", ["ip", "addr", "del", `${bed.underlay("b")}/24`, "dev", "veth0"]);
      writeHosts(bed.ns.a, `127.0.0.1 localhost\n${moved} ${host}\n`);
      b = await startTunnel(bed, "b", "tunslab", spec("b"));
      const s = await ping(60);
      console.log(`client found the moved server after ${s.toFixed(1)} s`);
      const logs = a.logs();
      match(logs, new RegExp(`Endpoint of .* is now \\\\?"?${moved.replaceAll(".", "\\.")}:51820`));
      const ep = await bed.run("a", ["wg", "show", a.name, "endpoints"]);
      ok(ep.stdout.includes(`${moved}:51820`), ep.stdout);
      // Handshakes went unanswered meanwhile: a warning named the peer and the endpoint.
      match(logs, /No answer to the handshake with .*(attempts)/);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
      Deno.removeSync(`/etc/netns/${bed.ns.a}`, { recursive: true });
    }
  },
});

Deno.test({
  name: "an endpoint name that does not resolve fails up with the host and the config line",
  ignore: !ROOT,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = Deno.makeTempDirSync();
    const conf = `${dir}/tresx0.conf`;
    Deno.writeTextFileSync(
      conf,
      `[Interface]\nPrivateKey = ${encodeBase64Key(generatePrivateKey())}\n\n[Peer]\nPublicKey = ${
        encodeBase64Key(publicKey(generatePrivateKey()))
      }\nAllowedIPs = 10.96.0.2/32\nEndpoint = nowhere.invalid:51820\n`,
      { mode: 0o600 },
    );
    const o = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../main.ts", import.meta.url).pathname,
        "up",
        conf,
        "--log-format",
        "json",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    Deno.removeSync(dir, { recursive: true });
    const err = new TextDecoder().decode(o.stderr);
    equal(o.code, 1, err);
    match(err, /Endpoint host \\"nowhere\.invalid\\" \(.*tresx0\.conf:7\): cannot resolve/);
  },
});
