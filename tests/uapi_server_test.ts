import { deepStrictEqual, equal, match, ok, rejects } from "node:assert/strict";
import { UapiInUseError, UapiServer, UapiServerError } from "../src/uapi/uapi_server.ts";
import { formatGetResponse, parseGetResponse } from "../src/uapi/uapi_protocol.ts";
import { uapiRequest } from "../src/uapi/uapi_client.ts";
import type { UapiSetRequest } from "../src/uapi/uapi_types.ts";
import { formatField } from "../src/cli/show_cmd.ts";
import { parseCidr } from "../src/wg/cidr.ts";
import {
  encodeBase64Key,
  encodeHexKey,
  generatePresharedKey,
  generatePrivateKey,
  publicKey,
} from "../src/wg/keys.ts";
import { MemoryDevice } from "./fixtures/uapi_memory_device.ts";
import { malformedRequest, rng } from "./fixtures/uapi_fuzz.ts";
import { uniqueName, wg, WG_READY } from "./fixtures/uapi_reference.ts";

if (!WG_READY) console.warn("uapi_server_test: not root or no wg; stock-wg tests IGNORED");

const K1 = "11".repeat(32);
const K2 = "22".repeat(32);
const enc = new TextEncoder();
const dec = new TextDecoder();

interface Started extends AsyncDisposable {
  server: UapiServer;
  device: MemoryDevice;
  dir: string;
}

async function startServer(
  opts: Parameters<typeof UapiServer.start>[2] = {},
  device = new MemoryDevice(),
): Promise<Started> {
  const dir = await Deno.makeTempDir({ prefix: "tslu" });
  const server = await UapiServer.start("wg0", device, { dir, ...opts });
  return {
    server,
    device,
    dir,
    async [Symbol.asyncDispose]() {
      await server.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

function connect(path: string): Promise<Deno.UnixConn> {
  return Deno.connect({ transport: "unix", path });
}

async function send(conn: Deno.UnixConn, text: string | Uint8Array): Promise<void> {
  const bytes = typeof text === "string" ? enc.encode(text) : text;
  for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
}

/** Reads until `done(text)` or EOF; fails after `ms`. */
async function readUntil(
  conn: Deno.UnixConn,
  done: (text: string) => boolean,
  ms = 3000,
): Promise<{ text: string; closed: boolean }> {
  let text = "";
  const buf = new Uint8Array(65536);
  const deadline = Date.now() + ms;
  while (!done(text)) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((r) => {
      timer = setTimeout(() => r("timeout"), Math.max(0, deadline - Date.now()));
    });
    const n = await Promise.race([conn.read(buf).catch(() => null), timeout]);
    clearTimeout(timer);
    if (n === "timeout") {
      throw new Error(`no complete reply within ${ms} ms; got ${JSON.stringify(text)}`);
    }
    if (n === null) return { text, closed: true };
    text += dec.decode(buf.subarray(0, n));
  }
  return { text, closed: false };
}

/** True once `text` holds `n` replies (each ends in a blank line). */
function replies(n: number): (text: string) => boolean {
  return (text) => text.split("\n\n").length - 1 >= n;
}

/** Waits for the server to close the connection (EOF or reset). */
async function closedByServer(conn: Deno.UnixConn, ms = 3000): Promise<string> {
  const r = await readUntil(conn, () => false, ms);
  ok(r.closed, "connection closed");
  return r.text;
}

async function get(path: string): Promise<string> {
  return await uapiRequest(path, "get=1\n\n");
}

Deno.test("serves several requests on one connection, one write or many", async () => {
  await using s = await startServer();
  const conn = await connect(s.server.path);
  try {
    await send(conn, "get=1\n\n");
    equal((await readUntil(conn, replies(1))).text, "errno=0\n\n");
    await send(conn, `set=1\nlisten_port=51820\npublic_key=${K1}\nallowed_ip=10.0.0.1/8\n\n`);
    equal((await readUntil(conn, replies(1))).text, "errno=0\n\n");
    // Pipelined: wireguard-go loses the requests after a set in the same write; we do not.
    await send(conn, "set=1\nfwmark=7\n\nget=1\n\nset=1\nbad\n\nget=1\n\n");
    const r = await readUntil(conn, replies(4));
    const expected = formatGetResponse(s.device.uapiGet());
    equal(r.text, `errno=0\n\n${expected}errno=-71\n\n${expected}`);
    equal(s.device.state.fwmark, 7);
    equal(s.device.state.listenPort, 51820);
    deepStrictEqual(s.device.state.peers[0].allowedIps, [parseCidr("10.0.0.0/8")]);
    // Byte by byte works too.
    for (const ch of "get=1\n\n") await send(conn, ch);
    equal((await readUntil(conn, replies(1))).text, expected);
  } finally {
    conn.close();
  }
});

Deno.test("get=1 followed by anything but \\n: errno=-22 for that byte, connection stays", async () => {
  await using s = await startServer();
  const conn = await connect(s.server.path);
  try {
    await send(conn, "get=1\nxget=1\n\n");
    equal((await readUntil(conn, replies(2))).text, "errno=-22\n\nerrno=0\n\n");
  } finally {
    conn.close();
  }
});

Deno.test("unknown operations close the connection without a reply", async () => {
  await using s = await startServer();
  for (const op of ["foo\n", "get=2\n\n", "set=1\r\n\n", "GET=1\n\n", "\n", "get=1 \n\n", "x"]) {
    const conn = await connect(s.server.path);
    await send(conn, op);
    equal(await closedByServer(conn), "", JSON.stringify(op));
    conn.close();
  }
  equal(await get(s.server.path), "errno=0\n\n", "still serving");
});

Deno.test("socket srwx------ in a directory it creates 0755; close() removes it", async () => {
  const base = await Deno.makeTempDir();
  try {
    const dir = `${base}/run/wireguard`;
    const server = await UapiServer.start("tslx", new MemoryDevice(), { dir });
    equal(server.path, `${dir}/tslx.sock`);
    equal(Deno.statSync(dir).mode! & 0o777, 0o755);
    const st = Deno.lstatSync(server.path);
    ok(st.isSocket);
    equal(st.mode! & 0o777, 0o700);

    await server.close();
    await server.close(); // idempotent
    await rejects(() => Deno.lstat(server.path), Deno.errors.NotFound);
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});

Deno.test("a live socket at the path is refused, a stale one replaced, a non-socket kept", async () => {
  await using s = await startServer();
  await rejects(() => UapiServer.start("wg0", new MemoryDevice(), { dir: s.dir }), (e) => {
    ok(e instanceof UapiInUseError);
    equal(e.name, "UapiInUseError");
    equal(e.message, `interface name wg0 is in use: ${s.dir}/wg0.sock answers`);
    return true;
  });
  equal(await get(s.server.path), "errno=0\n\n", "the first server is unharmed");

  // A stale socket: a hard link to a listener's inode outlives the listener.
  const stale = `${s.dir}/old.sock`;
  const l = Deno.listen({ transport: "unix", path: `${s.dir}/tmp.sock` });
  Deno.linkSync(`${s.dir}/tmp.sock`, stale);
  l.close();
  await rejects(() => connect(stale), Deno.errors.ConnectionRefused);
  const dev = new MemoryDevice();
  dev.state.listenPort = 9;
  const second = await UapiServer.start("old", dev, { dir: s.dir });
  try {
    equal(await get(stale), "listen_port=9\nerrno=0\n\n");
  } finally {
    await second.close();
  }

  await Deno.writeTextFile(`${s.dir}/file.sock`, "keep me");
  await rejects(() => UapiServer.start("file", new MemoryDevice(), { dir: s.dir }), (e) => {
    ok(e instanceof UapiServerError);
    match(e.message, /exists and is not a socket/);
    return true;
  });
  equal(await Deno.readTextFile(`${s.dir}/file.sock`), "keep me");
  await rejects(() => UapiServer.start("a/b", new MemoryDevice(), { dir: s.dir }), UapiServerError);
  await rejects(
    () => UapiServer.start("x".repeat(120), new MemoryDevice(), { dir: s.dir }),
    UapiServerError,
  );
});

Deno.test("silent clients are closed after idleTimeoutMs; a half-sent request changes nothing", async () => {
  await using s = await startServer({ idleTimeoutMs: 150 });
  const t0 = Date.now();
  const quiet = await connect(s.server.path);
  equal(await closedByServer(quiet), "");
  quiet.close();
  ok(Date.now() - t0 >= 140, "not before the timeout");
  const half = await connect(s.server.path);
  await send(half, "set=1\nlisten_port=1234\n");
  await closedByServer(half);
  half.close();
  equal(s.device.requests.length, 0);
  equal(s.device.state.listenPort, 0);
  equal(s.server.connections, 0);
});

Deno.test("a request trickling in slower than requestTimeoutMs is cut off", async () => {
  await using s = await startServer({ idleTimeoutMs: 1000, requestTimeoutMs: 300 });
  const conn = await connect(s.server.path);
  const t0 = Date.now();
  let closed = false;
  try {
    await send(conn, "set=1\n");
    for (let i = 0; i < 40 && !closed; i++) {
      await new Promise((r) => setTimeout(r, 50));
      await send(conn, "fwmark=1\n").catch(() => (closed = true));
      const r = await readUntil(conn, (t) => t !== "", 1).catch(() => ({ closed: false }));
      closed ||= r.closed;
    }
  } finally {
    conn.close();
  }
  ok(closed, "closed");
  ok(Date.now() - t0 < 1500, "closed by the request deadline, not by idleness");
  equal(s.device.requests.length, 0);
});

Deno.test("oversized requests get errno=-90, long lines errno=-5, then the connection closes", async () => {
  await using s = await startServer({ maxRequestBytes: 1024 * 1024 });
  const conn = await connect(s.server.path);
  const line = `public_key=${K1}\nallowed_ip=10.0.0.0/8\n`;
  const big = "set=1\n" + line.repeat(Math.ceil((1024 * 1024 + 10) / line.length)) + "\n";
  const writing = send(conn, big).catch(() => {}); // the server stops reading at the limit
  const r = await readUntil(conn, () => false);
  await writing;
  conn.close();
  equal(r.text, "errno=-90\n\n");
  equal(s.device.requests.length, 0);

  const c2 = await connect(s.server.path);
  send(c2, `set=1\nfwmark=${"1".repeat(70000)}\n\n`).catch(() => {});
  equal((await readUntil(c2, () => false)).text, "errno=-5\n\n");
  c2.close();
  equal(s.device.requests.length, 0);
  equal(await get(s.server.path), "errno=0\n\n");
});

Deno.test("the default limit takes a 10,000-peer setconf with 16 prefixes each and rejects six of them at once", async () => {
  await using s = await startServer();
  const parts = [`private_key=${K2}\nlisten_port=51820\nreplace_peers=true\n`];
  for (let i = 0; i < 10_000; i++) {
    let p = `public_key=${encodeHexKey(crypto.getRandomValues(new Uint8Array(32)))}\n`;
    p += `preshared_key=${K1}\nendpoint=[2001:db8::${i.toString(16)}]:51820\n`;
    p += "persistent_keepalive_interval=25\nreplace_allowed_ips=true\n";
    for (let j = 0; j < 16; j++) p += `allowed_ip=10.${i >> 8}.${i & 255}.${j}/32\n`;
    parts.push(p);
  }
  const body = parts.join("");
  ok(body.length > 6 * 1024 * 1024, `${body.length} bytes`);
  const t0 = performance.now();
  equal(await uapiRequest(s.server.path, `set=1\n${body}\n`), "errno=0\n\n");
  console.log(
    `${(body.length / 2 ** 20).toFixed(1)} MiB set request in ${
      (performance.now() - t0).toFixed(0)
    } ms`,
  );
  equal(s.device.state.peers.length, 10_000);
  const conn = await connect(s.server.path);
  send(conn, `set=1\n${body.repeat(6)}\n`).catch(() => {});
  equal((await readUntil(conn, () => false)).text, "errno=-90\n\n");
  conn.close();
  equal(s.device.requests.length, 1);
});

Deno.test("a client leaving mid-request changes nothing; a half-close gets errno=-71", async () => {
  await using s = await startServer();
  const gone = await connect(s.server.path);
  await send(gone, `set=1\nreplace_peers=true\nlisten_port=1234\npublic_key=${K1}\n`);
  gone.close();
  const half = await connect(s.server.path);
  await send(half, "set=1\nlisten_port=1234\n");
  await half.closeWrite();
  deepStrictEqual(await readUntil(half, () => false), { text: "errno=-71\n\n", closed: true });
  half.close();
  equal(await get(s.server.path), "errno=0\n\n");
  equal(s.device.requests.length, 0);
});

Deno.test("bad requests and device failures come back as errno replies", async () => {
  const device = new MemoryDevice();
  device.busyPorts.add(4242);
  await using s = await startServer({}, device);
  const set = (body: string): Promise<string> => uapiRequest(s.server.path, `set=1\n${body}\n\n`);
  equal(await set(`listen_port=1\npublic_key=${K1}\nendpoint=nowhere`), "errno=-22\n\n");
  equal(await set("listen_port=1\nno equals sign"), "errno=-71\n\n");
  equal(device.requests.length, 0, "nothing reached the device");
  equal(await set("listen_port=4242"), "errno=-98\n\n");
  const thrower = {
    uapiGet: () => {
      throw new Error("boom");
    },
    uapiSet: (): number => {
      throw new Error("boom");
    },
  };
  await using t = await startServer({}, thrower as unknown as MemoryDevice);
  equal(await uapiRequest(t.server.path, "set=1\nfwmark=1\n\n"), "errno=-55\n\n");
  equal(await uapiRequest(t.server.path, "get=1\n\n"), "errno=-55\n\n");
  const weird = { uapiGet: () => device.uapiGet(), uapiSet: () => 3 };
  await using w = await startServer({}, weird as unknown as MemoryDevice);
  equal(await uapiRequest(w.server.path, "set=1\nfwmark=1\n\n"), "errno=-55\n\n");
});

Deno.test("operations from many connections never overlap in the device", async () => {
  const device = new MemoryDevice();
  let inFlight = 0;
  let maxInFlight = 0;
  const slow = {
    uapiGet: () => {
      maxInFlight = Math.max(maxInFlight, inFlight + 1);
      return device.uapiGet();
    },
    async uapiSet(req: UapiSetRequest): Promise<number> {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, 5));
      const r = device.uapiSet(req);
      inFlight--;
      return r;
    },
  };
  await using s = await startServer({}, slow as unknown as MemoryDevice);
  const jobs: Promise<string>[] = [];
  for (let i = 1; i <= 20; i++) {
    jobs.push(uapiRequest(s.server.path, `set=1\nfwmark=${i}\n\n`));
    jobs.push(get(s.server.path));
  }
  const out = await Promise.all(jobs);
  ok(out.every((r) => r.endsWith("errno=0\n\n")));
  equal(maxInFlight, 1);
  equal(device.requests.length, 20);
});

Deno.test("connections beyond maxConnections are closed at once", async () => {
  await using s = await startServer({ maxConnections: 2 });
  const a = await connect(s.server.path);
  const b = await connect(s.server.path);
  await send(a, "get=1\n\n");
  await send(b, "get=1\n\n");
  await readUntil(a, replies(1));
  await readUntil(b, replies(1));
  const c = await connect(s.server.path);
  await send(c, "get=1\n\n").catch(() => {});
  equal(await closedByServer(c), "");
  for (const x of [a, b, c]) x.close();
  await new Promise((r) => setTimeout(r, 50));
  equal(await get(s.server.path), "errno=0\n\n");
});

Deno.test("onSocketRemoved fires when the socket file goes away", async () => {
  let fired = 0;
  await using s = await startServer({ onSocketRemoved: () => fired++, socketCheckMs: 20 });
  await new Promise((r) => setTimeout(r, 60));
  equal(fired, 0);
  Deno.removeSync(s.server.path);
  for (let i = 0; i < 50 && fired === 0; i++) await new Promise((r) => setTimeout(r, 20));
  equal(fired, 1);
});

Deno.test("fuzz: thousands of malformed requests get errno replies or a close; state unchanged", async () => {
  const seed = Number(Deno.env.get("UAPI_FUZZ_SEED") ?? Date.now() % 1e9);
  const rand = rng(seed);
  await using s = await startServer({ idleTimeoutMs: 2000, maxRequestBytes: 64 * 1024 });
  const initial =
    `set=1\nprivate_key=${K2}\nlisten_port=1\npublic_key=${K1}\nallowed_ip=10.0.0.0/8\n\n`;
  equal(await uapiRequest(s.server.path, initial), "errno=0\n\n");
  const before = await get(s.server.path);
  const malformed = malformedRequest(rand);
  let requests = 0;
  let closes = 0;
  let errnos = 0;
  for (let c = 0; c < 300; c++) {
    const conn = await connect(s.server.path);
    try {
      const batch: string[] = [];
      const n = 1 + Math.floor(rand() * 15);
      for (let i = 0; i < n; i++) batch.push(malformed());
      requests += batch.length;
      await send(conn, batch.join("")).catch(() => {});
      // Every request is answered by one errno reply until the server closes (an unknown op).
      const r = await readUntil(conn, replies(batch.length), 5000);
      match(r.text, /^(errno=-[1-9][0-9]*\n\n)*$/, `seed ${seed}: ${JSON.stringify(batch)}`);
      errnos += r.text.split("\n\n").length - 1;
      if (r.closed) closes++;
    } finally {
      conn.close();
    }
  }
  ok(requests >= 2000, `${requests} requests`);
  ok(closes > 0 && errnos > 1000, `${errnos} errno replies, ${closes} closes (seed ${seed})`);
  equal(await get(s.server.path), before, `state unchanged (seed ${seed})`);
  equal(s.device.requests.length, 1, "only the initial set reached the device");
});

Deno.test({
  name: "stock wg set/setconf/addconf/syncconf/show/showconf drive the server",
  ignore: !WG_READY,
  async fn() {
    const name = uniqueName("tslu");
    const device = new MemoryDevice();
    device.busyPorts.add(4242);
    const server = await UapiServer.start(name, device);
    const dir = await Deno.makeTempDir();
    try {
      equal(server.path, `/var/run/wireguard/${name}.sock`);
      const priv = generatePrivateKey();
      const psk = generatePresharedKey();
      const peers = [0, 1, 2].map(() => publicKey(generatePrivateKey()));
      await Deno.writeTextFile(`${dir}/priv`, encodeBase64Key(priv), { mode: 0o600 });
      await Deno.writeTextFile(`${dir}/psk`, encodeBase64Key(psk), { mode: 0o600 });
      let r = await wg([
        "set",
        name,
        "private-key",
        `${dir}/priv`,
        "listen-port",
        "51820",
        "fwmark",
        "0x2a",
        "peer",
        encodeBase64Key(peers[0]),
        "preshared-key",
        `${dir}/psk`,
        "endpoint",
        "192.0.2.1:51820",
        "allowed-ips",
        "10.1.2.3/16,fd00::1/64",
        "persistent-keepalive",
        "25",
        "peer",
        encodeBase64Key(peers[1]),
        "endpoint",
        "[2001:db8::1]:443",
        "allowed-ips",
        "0.0.0.0/0",
      ]);
      equal(r.code, 0, r.stderr);
      const st = device.state;
      equal(encodeHexKey(st.privateKey!), encodeHexKey(priv));
      equal(st.listenPort, 51820);
      equal(st.fwmark, 42);
      equal(st.peers.length, 2);
      equal(encodeHexKey(st.peers[0].presharedKey!), encodeHexKey(psk));
      equal(st.peers[0].endpoint, "192.0.2.1:51820");
      equal(st.peers[0].persistentKeepaliveInterval, 25);
      deepStrictEqual(st.peers[0].allowedIps, [parseCidr("10.1.0.0/16"), parseCidr("fd00::/64")]);
      equal(st.peers[1].endpoint, "[2001:db8::1]:443");
      deepStrictEqual(device.requests[0].peers[0].allowedIpOps[0], { kind: "replace" });

      // wg show reads back what it set, in its own dump format.
      r = await wg(["show", name, "dump"]);
      equal(r.code, 0, r.stderr);
      equal(r.stdout, formatField(name, parseGetResponse(await get(server.path)), "dump", false));
      r = await wg(["showconf", name]);
      match(r.stdout, new RegExp(`PublicKey = ${encodeBase64Key(peers[1]).replace(/\+/g, "\\+")}`));

      // Errors reach wg: a busy port, and wg's own refusal of a bad key never reaches us.
      r = await wg(["set", name, "listen-port", "4242"]);
      ok(r.code !== 0);
      match(r.stderr, /Address already in use/);
      equal(st.listenPort, 51820);

      // Removal, setconf (replace_peers), addconf, syncconf.
      r = await wg(["set", name, "peer", encodeBase64Key(peers[1]), "remove"]);
      equal(r.code, 0, r.stderr);
      equal(device.state.peers.length, 1);
      const conf = (ps: Uint8Array[]): string =>
        [
          "[Interface]",
          `PrivateKey = ${encodeBase64Key(priv)}`,
          "ListenPort = 51821",
          ...ps.flatMap((
            p,
            i,
          ) => ["[Peer]", `PublicKey = ${encodeBase64Key(p)}`, `AllowedIPs = 10.7.${i}.0/24`]),
          "",
        ].join("\n");
      await Deno.writeTextFile(`${dir}/a.conf`, conf([peers[2]]), { mode: 0o600 });
      r = await wg(["setconf", name, `${dir}/a.conf`]);
      equal(r.code, 0, r.stderr);
      deepStrictEqual(device.state.peers.map((p) => encodeHexKey(p.publicKey)), [
        encodeHexKey(peers[2]),
      ]);
      equal(device.state.fwmark, 0, "setconf resets fwmark");
      equal(device.state.listenPort, 51821);
      await Deno.writeTextFile(`${dir}/b.conf`, conf([peers[0]]).replace(/ListenPort.*\n/, ""), {
        mode: 0o600,
      });
      r = await wg(["addconf", name, `${dir}/b.conf`]);
      equal(r.code, 0, r.stderr);
      equal(device.state.peers.length, 2);
      await Deno.writeTextFile(`${dir}/c.conf`, conf([peers[1]]), { mode: 0o600 });
      r = await wg(["syncconf", name, `${dir}/c.conf`]);
      equal(r.code, 0, r.stderr);
      deepStrictEqual(device.state.peers.map((p) => encodeHexKey(p.publicKey)), [
        encodeHexKey(peers[1]),
      ]);

      // 1000 peers through wg setconf.
      const many = Array.from({ length: 1000 }, () => crypto.getRandomValues(new Uint8Array(32)));
      await Deno.writeTextFile(
        `${dir}/big.conf`,
        conf(many).replace(
          /10\.7\.(\d+)\.0\/24/g,
          (_m, i) =>
            `10.${Number(i) >> 8}.${Number(i) & 255}.0/24, fd00::${Number(i).toString(16)}/128`,
        ),
        { mode: 0o600 },
      );
      r = await wg(["setconf", name, `${dir}/big.conf`]);
      equal(r.code, 0, r.stderr);
      equal(device.state.peers.length, 1000);
      r = await wg(["show", name, "peers"]);
      equal(r.stdout.split("\n").length - 1, 1000);
      r = await wg(["show", "interfaces"]);
      ok(r.stdout.split(/\s+/).includes(name), r.stdout);
    } finally {
      await server.close();
      await Deno.remove(dir, { recursive: true });
    }
    await rejects(() => Deno.lstat(`/var/run/wireguard/${name}.sock`), Deno.errors.NotFound);
  },
});

Deno.test("socket directory: a symlink, a foreign owner or group/world write access are refused", async () => {
  const base = await Deno.makeTempDir();
  try {
    const real = `${base}/real`;
    Deno.mkdirSync(real, { mode: 0o755 });
    Deno.chmodSync(real, 0o755);
    const link = `${base}/link`;
    Deno.symlinkSync(real, link);
    await rejects(
      () => UapiServer.start("tslx", new MemoryDevice(), { dir: link }),
      (e) => e instanceof UapiServerError && /symlink/.test(e.message),
    );
    deepStrictEqual([...Deno.readDirSync(real)], [], "nothing created through the symlink");
    const open = `${base}/open`;
    Deno.mkdirSync(open);
    Deno.chmodSync(open, 0o777);
    await rejects(
      () => UapiServer.start("tslx", new MemoryDevice(), { dir: open }),
      (e) => e instanceof UapiServerError && /writable by group or others/.test(e.message),
    );
    if (Deno.uid() === 0) {
      const foreign = `${base}/foreign`;
      Deno.mkdirSync(foreign, { mode: 0o755 });
      Deno.chownSync(foreign, 65534, 65534);
      await rejects(
        () => UapiServer.start("tslx", new MemoryDevice(), { dir: foreign }),
        (e) => e instanceof UapiServerError && /owned by uid 65534/.test(e.message),
      );
    }
    const file = `${base}/file`;
    Deno.writeTextFileSync(file, "");
    await rejects(
      () => UapiServer.start("tslx", new MemoryDevice(), { dir: file }),
      (e) => e instanceof UapiServerError && /not a directory/.test(e.message),
    );
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});
