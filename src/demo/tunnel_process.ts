/**
 * One tunnel endpoint running inside a testbed namespace: either `tunslab up`
 * (this program, as a child process) or wireguard-go configured with `wg set`
 * (private key, listen port, one peer) and `ip`, as wg-quick would. Used by
 * the demo, the interop tests and the network benchmark.
 *
 * @example
 * ```ts
 * import { startTunnel } from "./tunnel_process.ts";
 * // const t = await startTunnel(bed, "a", "tunslab", spec); ... await t.stop();
 * ```
 * @module
 */

import type { Side, Testbed } from "./testbed.ts";
import { encodeBase64Key, publicKey } from "../wg/keys.ts";

/** What one endpoint is configured with (one peer). */
export interface TunnelSpec {
  name: string;
  privateKey: string;
  listenPort: number;
  addresses: string[];
  mtu?: number;
  peer: {
    publicKey: string;
    presharedKey?: string;
    allowedIps: string[];
    endpoint?: string;
    persistentKeepalive?: number;
  };
  /** Extra flags for `tunslab up`. */
  upArgs?: string[];
  /** tunslab: extra `deno run` flags before the script (e.g. `--v8-flags=--perf-basic-prof`). */
  denoArgs?: string[];
  /** Extra environment for `tunslab up` (e.g. `TUNSLAB_TEST_REFUSE` in tests). */
  env?: Record<string, string>;
  /** Extra `[Interface]` lines of tunslab's config file (e.g. `MetricsAddress = …`). */
  interfaceLines?: string[];
  /** tunslab: the `main.ts` to run (default this checkout's); wireguard-go: the binary (default on PATH). */
  program?: string;
}

/** Pool figures a tunslab process reports when it stops. */
export interface FinalStats {
  inUse: number;
  highWater: number;
  highWaterBytes: number;
  /** Everything the "Final stats" log line carried. */
  raw: Record<string, unknown>;
}

/** A running endpoint. */
export interface TunnelProcess {
  readonly kind: "tunslab" | "wireguard-go";
  readonly name: string;
  readonly side: Side;
  readonly pid: number;
  /** Everything it wrote to stderr so far (tunslab: JSON Lines). */
  logs(): string;
  /** SIGTERM, wait, and for tunslab parse the final stats. Idempotent. */
  stop(): Promise<FinalStats | undefined>;
  /** How the process ended (resolves once it has). */
  readonly status: Promise<Deno.CommandStatus>;
  /** Sends `signal` without waiting (SIGKILL: a crash; the interface goes with the process). */
  kill(signal: Deno.Signal): void;
}

/** Addresses of both ends of a pair: IPv4 (a /24 each) and optionally IPv6 (a /64 each). */
export interface PairAddresses {
  v4: Record<Side, string>;
  v6?: Record<Side, string>;
}

/**
 * The spec of `side` in a pair of tunnels over the testbed that know each other: its key of
 * `keys`, port 51820, its inner addresses, one peer (the other side: its public key, its inner
 * addresses as AllowedIPs, its underlay address as the endpoint). Spread it to add the rest.
 */
export function pairSpec(
  bed: Testbed,
  side: Side,
  keys: Record<Side, Uint8Array>,
  inner: PairAddresses,
  name: string,
): TunnelSpec {
  const peer: Side = side === "a" ? "b" : "a";
  const v6 = inner.v6;
  return {
    name,
    privateKey: encodeBase64Key(keys[side]),
    listenPort: 51820,
    addresses: [`${inner.v4[side]}/24`, ...(v6 ? [`${v6[side]}/64`] : [])],
    peer: {
      publicKey: encodeBase64Key(publicKey(keys[peer])),
      allowedIps: [`${inner.v4[peer]}/32`, ...(v6 ? [`${v6[peer]}/128`] : [])],
      endpoint: `${bed.underlay(peer)}:51820`,
    },
  };
}

/** Writes a wg-quick style config file for `spec` and returns its path. */
export function writeConfig(dir: string, spec: TunnelSpec): string {
  const lines = [
    "[Interface]",
    `PrivateKey = ${spec.privateKey}`,
    `ListenPort = ${spec.listenPort}`,
    `Address = ${spec.addresses.join(", ")}`,
    ...(spec.mtu ? [`MTU = ${spec.mtu}`] : []),
    ...(spec.interfaceLines ?? []),
    "",
    "[Peer]",
    `PublicKey = ${spec.peer.publicKey}`,
    ...(spec.peer.presharedKey ? [`PresharedKey = ${spec.peer.presharedKey}`] : []),
    `AllowedIPs = ${spec.peer.allowedIps.join(", ")}`,
    ...(spec.peer.endpoint ? [`Endpoint = ${spec.peer.endpoint}`] : []),
    ...(spec.peer.persistentKeepalive
      ? [`PersistentKeepalive = ${spec.peer.persistentKeepalive}`]
      : []),
    "",
  ];
  const path = `${dir}/${spec.name}.conf`;
  Deno.writeTextFileSync(path, lines.join("\n"), { mode: 0o600 });
  return path;
}

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

async function collect(stream: ReadableStream<Uint8Array>, sink: string[]): Promise<void> {
  const dec = new TextDecoder();
  for await (const chunk of stream) sink.push(dec.decode(chunk, { stream: true }));
}

async function waitUp(
  bed: Testbed,
  side: Side,
  name: string,
  child: Deno.ChildProcess | undefined,
  log: string[],
): Promise<void> {
  let exited = false;
  child?.status.then(() => (exited = true));
  for (let i = 0; i < 200; i++) {
    const r = await bed.run(side, ["ip", "link", "show", name], true);
    if (r.code === 0 && /[<,]UP[,>]/.test(r.stdout)) return;
    if (exited) break;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(
    `tunnel ${name} in ${bed.ns[side]} did not come up:\n${log.join("").slice(-4000)}`,
  );
}

/** The last "Final stats" JSON log line in `text` (`up`'s pool object or `proxy`'s flat figures). */
export function parseFinal(text: string): FinalStats | undefined {
  for (const line of text.split("\n").reverse()) {
    if (!line.includes("Final stats")) continue;
    try {
      const j = JSON.parse(line);
      const p = j.properties ?? {};
      const pool = p.pool ?? p;
      return {
        inUse: pool.inUse,
        highWater: pool.highWater,
        highWaterBytes: pool.highWater * (pool.slotSize ?? NaN),
        raw: p,
      };
    } catch { /* not JSON */ }
  }
  return undefined;
}

/** SIGTERM, then SIGKILL if `child` has not exited after `graceMs`; resolves once it has. */
export async function terminate(child: Deno.ChildProcess, graceMs = 5000): Promise<void> {
  try {
    child.kill("SIGTERM");
  } catch { /* already exited */ }
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, graceMs);
  await child.status;
  clearTimeout(timer);
}

/** Starts one endpoint and waits until its interface is up. */
export async function startTunnel(
  bed: Testbed,
  side: Side,
  kind: "tunslab" | "wireguard-go",
  spec: TunnelSpec,
): Promise<TunnelProcess> {
  const dir = Deno.makeTempDirSync({ prefix: "tunslab-" });
  const log: string[] = [];
  let child: Deno.ChildProcess;
  if (kind === "tunslab") {
    const conf = writeConfig(dir, spec);
    child = bed.spawn(side, [
      Deno.execPath(),
      "run",
      "-A",
      ...(spec.denoArgs ?? []),
      spec.program ?? MAIN,
      "up",
      conf,
      ...(spec.upArgs ?? []),
    ], {
      env: { NO_COLOR: "1", ...spec.env },
    });
  } else {
    child = bed.spawn(side, [spec.program ?? "wireguard-go", "-f", spec.name], {
      env: { LOG_LEVEL: "error", WG_PROCESS_FOREGROUND: "1" },
    });
  }
  const done = Promise.all([collect(child.stdout, log), collect(child.stderr, log)]);
  try {
    if (kind === "wireguard-go") {
      // wireguard-go creates the device; configure it the way wg-quick would.
      const sock = `/var/run/wireguard/${spec.name}.sock`;
      for (let i = 0; i < 100; i++) {
        try {
          Deno.statSync(sock);
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      const key = `${dir}/private.key`;
      Deno.writeTextFileSync(key, spec.privateKey + "\n", { mode: 0o600 });
      const args = [
        "wg",
        "set",
        spec.name,
        "private-key",
        key,
        "listen-port",
        String(spec.listenPort),
      ];
      args.push("peer", spec.peer.publicKey, "allowed-ips", spec.peer.allowedIps.join(","));
      if (spec.peer.endpoint) args.push("endpoint", spec.peer.endpoint);
      if (spec.peer.persistentKeepalive) {
        args.push("persistent-keepalive", String(spec.peer.persistentKeepalive));
      }
      if (spec.peer.presharedKey) {
        const psk = `${dir}/psk.key`;
        Deno.writeTextFileSync(psk, spec.peer.presharedKey + "\n", { mode: 0o600 });
        args.push("preshared-key", psk);
      }
      await bed.run(side, args);
      for (const a of spec.addresses) {
        await bed.run(side, [
          "ip",
          "addr",
          "add",
          a,
          "dev",
          spec.name,
          ...(a.includes(":") ? ["nodad"] : []),
        ]);
      }
      if (spec.mtu) await bed.run(side, ["ip", "link", "set", spec.name, "mtu", String(spec.mtu)]);
      await bed.run(side, ["ip", "link", "set", spec.name, "up"]);
      for (const a of spec.peer.allowedIps) {
        await bed.run(side, ["ip", "route", "replace", a, "dev", spec.name], true);
      }
    }
    await waitUp(bed, side, spec.name, child, log);
  } catch (e) {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
    await child.status;
    throw e;
  }
  let stopped: Promise<FinalStats | undefined> | undefined;
  return {
    kind,
    name: spec.name,
    side,
    pid: child.pid,
    status: child.status,
    kill(signal: Deno.Signal): void {
      try {
        child.kill(signal);
      } catch { /* already exited */ }
    },
    logs: () => log.join(""),
    stop(): Promise<FinalStats | undefined> {
      stopped ??= (async () => {
        await terminate(child);
        await done;
        await Deno.remove(dir, { recursive: true }).catch(() => {});
        return kind === "tunslab" ? parseFinal(log.join("")) : undefined;
      })();
      return stopped;
    },
  };
}
