/**
 * `bench:net`'s proxy rows: `tunslab proxy` in namespace a as uid 65534 with no capability (a copy
 * of the Deno binary, the module cache and the checkout readable by it, as the proxy netns test
 * makes), with a `[TCPClientTunnel]` 127.0.0.1:15201 → the iperf3 server in b behind the row's
 * peer, and a second one, 127.0.0.1:15202 → b:5202, for {@link hold64}: the proxy's RSS with 64
 * connections open through it.
 *
 * @example
 * ```ts ignore
 * const copy = await nobodyCopy();
 * const t = await startProxy(bed, spec, copy, copy.work);
 * const held = await hold64(bed, t.pid);
 * ```
 * @module
 */
import type { Testbed } from "../src/demo/testbed.ts";
import {
  type FinalStats,
  terminate,
  type TunnelProcess,
  type TunnelSpec,
} from "../src/demo/tunnel_process.ts";
import { asNobody, copyForNobody, NOBODY, type NobodyCopy, run } from "../src/demo/nobody_copy.ts";
import { readProcStats } from "./proc_stats.ts";

/** Where iperf3 in a connects: the TCPClientTunnel to b's iperf3 server. */
export const PROXY_IPERF = { host: "127.0.0.1", port: 15201 } as const;
const HOLD = { local: 15202, remote: 5202 } as const;
/** What a proxy run needs of a checkout. */
const FILES = ["main.ts", "deno.json", "deno.lock", "src", "wasm/tunslab.wasm"];

/** A copy of this checkout (and the binary and module cache) for uid 65534; remove `dir` after. */
export function nobodyCopy(): Promise<NobodyCopy> {
  return copyForNobody(FILES);
}

/** Adds another checkout's files (a `--baseline`) to `copy` as `name/`; returns that dir. */
export async function addCheckout(copy: NobodyCopy, root: string, name: string): Promise<string> {
  const dir = `${copy.dir}/${name}`;
  for (const f of FILES) {
    await Deno.mkdir(`${dir}/${f.replace(/\/?[^/]*$/, "")}`, { recursive: true });
    const cp = await run("cp", ["-a", `${root}/${f}`, `${dir}/${f}`]);
    if (cp.code !== 0) throw new Error(`copy ${root}/${f}: ${cp.stderr}`);
  }
  const own = await run("chown", ["-R", `${NOBODY}:${NOBODY}`, dir]);
  if (own.code !== 0) throw new Error(own.stderr);
  return dir;
}

/** `tunslab proxy` from the checkout copy `work` in a, as uid 65534; resolves once it is up. */
export async function startProxy(
  bed: Testbed,
  spec: TunnelSpec,
  copy: NobodyCopy,
  work: string,
): Promise<TunnelProcess> {
  const conf = `${work}/${spec.name}.conf`;
  Deno.writeTextFileSync(
    conf,
    [
      "[Interface]",
      `PrivateKey = ${spec.privateKey}`,
      `Address = ${spec.addresses.join(", ")}`,
      `ListenPort = ${spec.listenPort}`,
      ...(spec.mtu ? [`MTU = ${spec.mtu}`] : []),
      "",
      "[Peer]",
      `PublicKey = ${spec.peer.publicKey}`,
      `AllowedIPs = ${spec.peer.allowedIps.join(", ")}`,
      `Endpoint = ${spec.peer.endpoint}`,
      "",
      "[TCPClientTunnel]",
      `BindAddress = ${PROXY_IPERF.host}:${PROXY_IPERF.port}`,
      `Target = ${spec.peer.allowedIps[0].replace(/\/\d+$/, "")}:5201`,
      "",
      "[TCPClientTunnel]",
      `BindAddress = 127.0.0.1:${HOLD.local}`,
      `Target = ${spec.peer.allowedIps[0].replace(/\/\d+$/, "")}:${HOLD.remote}`,
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
  await run("chown", [`${NOBODY}:${NOBODY}`, conf]);
  const args = ["run", "-A", "--cached-only", "main.ts", "proxy", conf, "--log-format", "json"];
  const child = bed.spawn("a", asNobody([copy.deno, ...args]), {
    cwd: work,
    clearEnv: true,
    env: copy.env,
  });
  const log: string[] = [];
  const dec = new TextDecoder();
  const collect = async (s: ReadableStream<Uint8Array>) => {
    for await (const c of s) log.push(dec.decode(c, { stream: true }));
  };
  const done = Promise.all([collect(child.stdout), collect(child.stderr)]);
  let exited = false;
  child.status.then(() => exited = true);
  for (let i = 0; i < 400 && !log.join("").includes("forward(s)"); i++) {
    if (exited) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!log.join("").includes("forward(s)")) {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
    await child.status;
    throw new Error(`the proxy did not start:\n${log.join("").slice(-4000)}`);
  }
  let stopped: Promise<FinalStats | undefined> | undefined;
  return {
    kind: "tunslab",
    name: spec.name,
    side: "a",
    pid: child.pid,
    status: child.status,
    kill(signal: Deno.Signal): void {
      try {
        child.kill(signal);
      } catch { /* gone */ }
    },
    logs: () => log.join(""),
    stop(): Promise<FinalStats | undefined> {
      stopped ??= (async () => {
        await terminate(child);
        await done;
        await Deno.remove(conf).catch(() => {});
        return finalStats(log.join(""));
      })();
      return stopped;
    },
  };
}

/** The proxy's "Final stats" line (pool high-water and in use, in small slots of 2 KiB). */
function finalStats(text: string): FinalStats | undefined {
  for (const line of text.split("\n").reverse()) {
    if (!line.includes("Final stats")) continue;
    try {
      const p = JSON.parse(line).properties ?? {};
      return { inUse: p.inUse, highWater: p.highWater, highWaterBytes: p.highWater * 2048, raw: p };
    } catch { /* not JSON */ }
  }
  return undefined;
}

/** The proxy's memory with 64 connections open through its second forward. */
export interface Held {
  connections: number;
  /** Connections the proxy could not make at the first try (tried again). */
  retries: number;
  /** VmRSS of the proxy before they opened and while they are open (KiB). */
  rssBeforeKiB: number;
  rssKiB: number;
}

/**
 * Opens 64 connections through the proxy's second forward to a server in b that answers 1 KiB
 * on each and keeps them open; reads the proxy's VmRSS while they are; closes them all.
 */
export async function hold64(bed: Testbed, pid: number, remote: string): Promise<Held> {
  const n = 64;
  const server = bed.spawn("b", [
    Deno.execPath(),
    "eval",
    `const l = Deno.listen({ hostname: "${remote}", port: ${HOLD.remote} }); console.error("listening"); const kept = []; for await (const c of l) { kept.push(c); (async () => { const b = new Uint8Array(1024); let got = 0; while (got < 1024) { const k = await c.read(b); if (k === null) return; got += k; } await c.write(b); })().catch(() => {}); }`,
  ], { stdout: "null" });
  const text = async (s: ReadableStream<Uint8Array>, into: string[]) => {
    for await (const c of s.pipeThrough(new TextDecoderStream())) into.push(c);
  };
  const sErr: string[] = [], cErr: string[] = [];
  const sDone = text(server.stderr, sErr);
  let client: Deno.ChildProcess | undefined, cDone: Promise<void> | undefined;
  try {
    const rssBeforeKiB = readProcStats(pid)?.rssKiB ?? NaN;
    const until = async (what: string, fn: () => boolean) => {
      for (let i = 0; i < 400 && !fn(); i++) await new Promise((r) => setTimeout(r, 50));
      if (!fn()) throw new Error(`64 connections: ${what}: ${sErr.join("")} ${cErr.join("")}`);
    };
    // The client only once the server listens: SYNs before its listen() are refused by b's
    // kernel (a RST|ACK from 10.99.0.2:5202, seen with tcpdump), which the client counted as
    // retries (sometimes all 64 of a round).
    await until("the server", () => sErr.join("").includes("listening"));
    client = bed.spawn("a", [
      Deno.execPath(),
      "eval",
      // Each connection: 1 KiB there and back; one the proxy could not connect (it closes or resets
      // the local side) is tried again, up to 3 times, and counted.
      `let retries = 0; const one = async () => { for (let i = 0; ; i++) { const c = await Deno.connect({ hostname: "127.0.0.1", port: ${HOLD.local} }); try { await c.write(new Uint8Array(1024).fill(1)); const b = new Uint8Array(1024); let got = 0; while (got < 1024) { const k = await c.read(b); if (k === null) throw new Error("closed"); got += k; } return c; } catch (e) { c.close(); if (i >= 3) throw e; retries++; } } }; const cs = await Promise.all(Array.from({ length: ${n} }, one)); console.error("open ${n} retries " + retries + " "); await new Promise(() => {});`,
    ], { stdout: "null" });
    cDone = text(client.stderr, cErr);
    await until("the client", () => cErr.join("").includes(`open ${n}`));
    await new Promise((r) => setTimeout(r, 1000));
    const retries = Number(/retries (\d+) /.exec(cErr.join(""))?.[1] ?? NaN);
    return { connections: n, retries, rssBeforeKiB, rssKiB: readProcStats(pid)?.rssKiB ?? NaN };
  } finally {
    // The client first, and time for the proxy's FINs to reach the server before it goes, so
    // the TIME_WAITs are the proxy's and b is left with no socket for the next run.
    for (const [c, ms] of [[client, 1000], [server, 0]] as const) {
      if (c === undefined) continue;
      try {
        c.kill("SIGKILL");
      } catch { /* gone */ }
      await c.status;
      await new Promise((r) => setTimeout(r, ms));
    }
    await Promise.all([sDone, cDone]).catch(() => {});
  }
}
