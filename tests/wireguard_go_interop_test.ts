/**
 * Handshake interop with the reference implementation: a real wireguard-go
 * (on a TUN device, configured through `wg`) and our handshake code over UDP
 * on loopback, in both directions. Needs root, /dev/net/tun, wireguard-go,
 * wg and ip; skips loudly otherwise.
 */
import assert from "node:assert/strict";
import dgram from "node:dgram";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import {
  consumeInitiation,
  consumeResponse,
  createInitiation,
  createResponse,
  deriveTransportKeys,
  Handshake,
  randomIndexAllocator,
  type TransportKeysInfo,
} from "../src/wg/handshake.ts";
import { CookieGenerator } from "../src/wg/cookie_generator.ts";
import { CookieChecker, CookieVerdict } from "../src/wg/cookie_checker.ts";
import { encodeBase64Key, generatePrivateKey, publicKey } from "../src/wg/keys.ts";
import { readU32LE, writeU32LE } from "../src/wg/messages.ts";
import { UAPI_REFERENCE_READY } from "./fixtures/uapi_reference.ts";

const READY = UAPI_REFERENCE_READY;
if (!READY) {
  console.warn(
    "wireguard_go_interop_test: needs root, /dev/net/tun, wireguard-go, wg, ip; interop tests IGNORED",
  );
}

async function sh(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return text;
}

class Udp {
  readonly sock = dgram.createSocket("udp4");
  readonly queue: Uint8Array[] = [];
  #wake: (() => void) | null = null;
  port = 0;
  async open(): Promise<void> {
    this.sock.on("message", (m: Uint8Array) => {
      this.queue.push(new Uint8Array(m));
      this.#wake?.();
    });
    await new Promise<void>((res) => this.sock.bind(0, "127.0.0.1", () => res()));
    this.port = this.sock.address().port;
  }
  send(buf: Uint8Array, port: number): Promise<void> {
    return new Promise((res, rej) =>
      this.sock.send(buf, port, "127.0.0.1", (e) => (e ? rej(e) : res()))
    );
  }
  /** Next datagram of the given type, skipping others; fails after `ms`. */
  async recv(type: number, ms = 5000): Promise<Uint8Array> {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.queue.findIndex((m) => m[0] === type);
      if (i >= 0) return this.queue.splice(i, 1)[0];
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no type-${type} datagram within ${ms} ms`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((res) => {
        this.#wake = res;
        timer = setTimeout(res, left);
      });
      clearTimeout(timer);
    }
  }
  close(): void {
    this.sock.close();
  }
}

function nonce(counter: number): Uint8Array {
  const n = new Uint8Array(12);
  new DataView(n.buffer).setUint32(4, counter, true);
  return n;
}

/** Starts wireguard-go on a fresh interface, keyed, up, with us as its only peer. */
async function startWireguardGo(ourPublic: Uint8Array, ourPort: number | null) {
  const name = `tswg${Deno.pid % 10000}${Math.floor(Math.random() * 100)}`;
  const child = new Deno.Command("wireguard-go", {
    args: ["-f", name],
    env: { LOG_LEVEL: "verbose" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const sockPath = `/var/run/wireguard/${name}.sock`;
  for (let i = 0; i < 100; i++) {
    try {
      Deno.statSync(sockPath);
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const priv = generatePrivateKey();
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/key`, encodeBase64Key(priv), { mode: 0o600 });
  const port = 20000 + Math.floor(Math.random() * 20000);
  const peerArgs = ["peer", encodeBase64Key(ourPublic), "allowed-ips", "10.213.77.2/32"];
  if (ourPort !== null) peerArgs.push("endpoint", `127.0.0.1:${ourPort}`);
  await sh("wg", [
    "set",
    name,
    "private-key",
    `${dir}/key`,
    "listen-port",
    String(port),
    ...peerArgs,
  ]);
  await Deno.remove(dir, { recursive: true });
  await sh("ip", ["addr", "add", "10.213.77.1/24", "dev", name]);
  await sh("ip", ["link", "set", name, "up"]);
  const stop = async (): Promise<string> => {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    const out = await child.output();
    return new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  };
  return { name, port, publicKey: publicKey(priv), stop };
}

Deno.test({
  name: "interop: we initiate, wireguard-go responds, our keepalive completes its handshake",
  ignore: !READY,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const ourPriv = generatePrivateKey();
    const us = { privateKey: ourPriv, publicKey: publicKey(ourPriv) };
    const udp = new Udp();
    await udp.open();
    const wgo = await startWireguardGo(us.publicKey, null);
    let log = "";
    try {
      const peer = {
        handshake: new Handshake(us, wgo.publicKey),
        cookies: new CookieGenerator(wgo.publicKey),
      };
      const indices = randomIndexAllocator();
      const buf = new Uint8Array(148);
      assert.equal(createInitiation(peer.handshake, buf, { indices }), 148);
      peer.cookies.addMacs(buf, performance.now());
      await udp.send(buf, wgo.port);

      const resp = await udp.recv(2);
      assert.equal(resp.length, 92);
      assert.equal(
        new CookieChecker(us.publicKey).check(
          resp,
          Uint8Array.of(127, 0, 0, 1),
          wgo.port,
          false,
          0,
        ),
        CookieVerdict.ACCEPT,
      );
      assert.equal(consumeResponse(us, resp, { lookup: () => peer }), peer);
      const keys = new Uint8Array(64);
      const info = deriveTransportKeys(peer.handshake, keys) as TransportKeysInfo;
      assert.equal(info.isInitiator, true);

      // Keepalive: type 4, receiver = their index, counter 0, AEAD of nothing.
      const ka = new Uint8Array(32);
      writeU32LE(ka, 0, 4);
      writeU32LE(ka, 4, info.remoteIndex);
      ka.set(chacha20poly1305(keys.subarray(0, 32), nonce(0)).encrypt(new Uint8Array(0)), 16);
      await udp.send(ka, wgo.port);

      let dump = "";
      for (let i = 0; i < 50; i++) {
        dump = await sh("wg", ["show", wgo.name, "dump"]);
        const peerLine = dump.trim().split("\n")[1].split("\t");
        if (Number(peerLine[4]) > 0 && Number(peerLine[5]) > 0) break; // latest handshake, rx bytes
        await new Promise((r) => setTimeout(r, 50));
      }
      const [pub, , endpoint, , handshakeSec, rx] = dump.trim().split("\n")[1].split("\t");
      assert.equal(pub, encodeBase64Key(us.publicKey));
      assert.equal(endpoint, `127.0.0.1:${udp.port}`);
      assert.ok(Number(handshakeSec) > 0, `wireguard-go recorded no handshake: ${dump}`);
      assert.ok(Number(rx) > 0, "wireguard-go accepted our keepalive");
    } finally {
      log = await wgo.stop();
      udp.close();
    }
    assert.doesNotMatch(log, /invalid mac1/i);
  },
});

Deno.test({
  name: "interop: wireguard-go initiates, we respond, then decrypt its first data packet",
  ignore: !READY,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const ourPriv = generatePrivateKey();
    const us = { privateKey: ourPriv, publicKey: publicKey(ourPriv) };
    const udp = new Udp();
    await udp.open();
    const wgo = await startWireguardGo(us.publicKey, udp.port);
    let log = "";
    const ping = new Deno.Command("ping", {
      args: ["-c", "3", "-i", "0.3", "-W", "1", "10.213.77.2"],
      stdout: "null",
      stderr: "null",
    })
      .spawn();
    try {
      const peer = {
        handshake: new Handshake(us, wgo.publicKey),
        cookies: new CookieGenerator(wgo.publicKey),
      };
      const init = await udp.recv(1);
      assert.equal(init.length, 148);
      const checker = new CookieChecker(us.publicKey);
      assert.equal(
        checker.check(init, Uint8Array.of(127, 0, 0, 1), wgo.port, false, 0),
        CookieVerdict.ACCEPT,
      );
      const lookup = (
        k: Uint8Array,
      ) => (encodeBase64Key(k) === encodeBase64Key(wgo.publicKey) ? peer : undefined);
      assert.equal(consumeInitiation(us, init, { lookup, now: performance.now() }), peer);
      const resp = new Uint8Array(92);
      assert.equal(createResponse(peer.handshake, resp, { indices: randomIndexAllocator() }), 92);
      peer.cookies.addMacs(resp, performance.now());
      await udp.send(resp, wgo.port);
      const keys = new Uint8Array(64);
      const info = deriveTransportKeys(peer.handshake, keys) as TransportKeysInfo;
      assert.equal(info.isInitiator, false);

      // wireguard-go now sends the staged ping on the new keypair.
      const data = await udp.recv(4);
      assert.equal(readU32LE(data, 4), info.localIndex);
      const counter = readU32LE(data, 8);
      const pt = chacha20poly1305(keys.subarray(32, 64), nonce(counter)).decrypt(data.subarray(16));
      assert.ok(pt.length >= 28 && pt.length % 16 === 0, `padded plaintext, got ${pt.length}`);
      assert.equal(pt[0] >> 4, 4, "IPv4");
      assert.equal(pt[9], 1, "ICMP");
      assert.deepEqual(pt.subarray(12, 20), Uint8Array.of(10, 213, 77, 1, 10, 213, 77, 2));
    } finally {
      try {
        ping.kill("SIGTERM");
      } catch { /* exited */ }
      await ping.status;
      log = await wgo.stop();
      udp.close();
    }
    assert.doesNotMatch(log, /invalid mac1/i);
  },
});
