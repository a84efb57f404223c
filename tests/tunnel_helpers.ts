/**
 * Shared set-up of the tunnel tests: a testbed with one tunnel endpoint in
 * each namespace, and checks (ping, TCP transfer with SHA-256).
 * @module
 */
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { type Side, Testbed } from "../src/demo/testbed.ts";
import { startTunnel, type TunnelProcess, type TunnelSpec } from "../src/demo/tunnel_process.ts";
import {
  encodeBase64Key,
  generatePresharedKey,
  generatePrivateKey,
  publicKey,
} from "../src/wg/keys.ts";

export const ROOT = Deno.uid() === 0;
export const INNER = { a: "10.99.0.1", b: "10.99.0.2" } as const;
export const INNER6 = { a: "fd99::1", b: "fd99::2" } as const;
const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;

/** Whether wireguard-go and wg are installed. */
export function haveWireguardGo(): boolean {
  for (const tool of ["wireguard-go", "wg"]) {
    const r = new Deno.Command("sh", { args: ["-c", `command -v ${tool}`], stdout: "null" })
      .outputSync();
    if (!r.success) return false;
  }
  return true;
}

/** Options of {@link startPair}. */
export interface PairOptions {
  b: "tunslab" | "wireguard-go";
  psk?: boolean;
  /** Endpoint side b uses to reach a (default a's underlay:51820). */
  endpointOfA?: (bed: Testbed) => string;
  /** Which sides are configured with the other's endpoint (default both); the other learns it. */
  knows?: "both" | "a" | "b";
  /** Extra flags of side a's `tunslab up` (a function: once the testbed's addresses are known). */
  upArgs?: string[] | ((bed: Testbed) => string[]);
  /** `tunslab up` flags of side b (when it is tunslab). */
  upArgsB?: string[];
  /** MTU of both interfaces (tunslab: in the config; wireguard-go: `ip link set mtu`). */
  mtu?: number;
  /** Side b's program (tunslab: a main.ts; wireguard-go: the binary). */
  programB?: string;
  /** Extra `[Interface]` lines of side a's config. */
  interfaceLines?: (bed: Testbed) => string[];
}

/** Two tunnel endpoints across a fresh testbed. */
export interface Pair extends AsyncDisposable {
  bed: Testbed;
  a: TunnelProcess;
  b: TunnelProcess;
  /** Ends `side`'s process (SIGKILL: a crash) and starts it again with the same config and key. */
  restart(side: Side, signal?: Deno.Signal): Promise<TunnelProcess>;
}

let counter = 0;

/** Creates a testbed and starts tunslab on side a and `opts.b` on side b. */
export async function startPair(label: string, opts: PairOptions): Promise<Pair> {
  const bed = await Testbed.create(label);
  const keys = { a: generatePrivateKey(), b: generatePrivateKey() };
  const psk = opts.psk ? encodeBase64Key(generatePresharedKey()) : undefined;
  const started: TunnelProcess[] = [];
  const id = `${Deno.pid % 1000}${counter++}`;
  const spec = (side: Side): TunnelSpec => {
    const peer: Side = side === "a" ? "b" : "a";
    const endpoint = side === "b" && opts.endpointOfA
      ? opts.endpointOfA(bed)
      : `${bed.underlay(peer)}:51820`;
    return {
      name: `tsl${side}${id}`,
      privateKey: encodeBase64Key(keys[side]),
      listenPort: 51820,
      addresses: [`${INNER[side]}/24`, `${INNER6[side]}/64`],
      peer: {
        publicKey: encodeBase64Key(publicKey(keys[peer])),
        presharedKey: psk,
        allowedIps: [`${INNER[peer]}/32`, `${INNER6[peer]}/128`],
        endpoint: (opts.knows ?? "both") === peer ? undefined : endpoint,
      },
      upArgs: side !== "a"
        ? opts.upArgsB
        : typeof opts.upArgs === "function"
        ? opts.upArgs(bed)
        : opts.upArgs,
      mtu: opts.mtu,
      program: side === "b" ? opts.programB : undefined,
      interfaceLines: side === "a" ? opts.interfaceLines?.(bed) : undefined,
    };
  };
  try {
    started.push(await startTunnel(bed, "a", "tunslab", spec("a")));
    started.push(await startTunnel(bed, "b", opts.b, spec("b")));
  } catch (e) {
    await Promise.all(started.map((t) => t.stop()));
    await bed.destroy();
    throw e;
  }
  const pair: Pair = {
    bed,
    a: started[0],
    b: started[1],
    async restart(side: Side, signal: Deno.Signal = "SIGKILL"): Promise<TunnelProcess> {
      const old = pair[side];
      old.kill(signal);
      await old.status;
      await old.stop();
      const kind = side === "a" ? "tunslab" : opts.b;
      pair[side] = await startTunnel(bed, side, kind, spec(side));
      return pair[side];
    },
    async [Symbol.asyncDispose]() {
      await Promise.all([pair.a.stop(), pair.b.stop()]);
      await bed.destroy();
    },
  };
  return pair;
}

/** Pings `to` from `from`; asserts replies came back. */
export async function assertPing(bed: Testbed, from: Side, to: string, count = 3): Promise<void> {
  const r = await bed.run(from, ["ping", "-c", String(count), "-i", "0.2", "-W", "3", to], true);
  ok(
    / 0% packet loss/.test(r.stdout) || /\b[1-9]\d* received/.test(r.stdout),
    `ping ${from}→${to}:\n${r.stdout}${r.stderr}`,
  );
}

/** Sends `bytes` over TCP from `from` to `to`'s inner address; asserts the SHA-256 on both ends. */
export async function assertTransfer(
  bed: Testbed,
  from: Side,
  to: Side,
  bytes: number,
  ip: string,
): Promise<number> {
  const port = 5201 + (counter++ % 100);
  const recv = bed.spawn(to, [
    Deno.execPath(),
    "run",
    "-A",
    `${FIXTURES}tcp_blast.ts`,
    "recv",
    ip,
    String(port),
  ]);
  const recvOut = new Response(recv.stdout).text();
  const recvErr = new Response(recv.stderr).text();
  // Wait for "listening" before connecting (the sender also retries).
  await new Promise((r) => setTimeout(r, 400));
  const sent = await bed.run(from, [
    Deno.execPath(),
    "run",
    "-A",
    `${FIXTURES}tcp_blast.ts`,
    "send",
    ip,
    String(port),
    String(bytes),
  ], true);
  const status = await recv.status;
  const got = await recvOut;
  equal(status.code, 0, `receiver failed: ${await recvErr}`);
  equal(sent.code, 0, `sender failed: ${sent.stderr}`);
  const s = JSON.parse(sent.stdout);
  const g = JSON.parse(got);
  deepStrictEqual({ bytes: g.bytes, sha256: g.sha256 }, { bytes: s.bytes, sha256: s.sha256 });
  equal(g.bytes, bytes);
  return (bytes * 8) / s.seconds / 1e9;
}

/** Logs of both ends, for assertion messages. */
export function logsOf(p: Pair): string {
  return `--- a (${p.a.kind}) ---\n${p.a.logs().slice(-3000)}\n--- b (${p.b.kind}) ---\n${
    p.b.logs().slice(-3000)
  }`;
}
