/**
 * `deno task bench:idle`: what an idle server of N peers costs while their persistent keepalives
 * run (the "10,000 peers with PersistentKeepalive = 25, 400 keepalives/s, under 10% of a
 * core"). No root: a `Device` over a UDP socket on loopback and an in-memory TUN; N peers
 * (tests/fixtures/handshake_storm_worker.ts, each on its own 127.x.y.1 address) complete their
 * handshakes, then nothing moves but the device's keepalives. Measured on the device's own thread
 * (`/proc/self/task/PID/stat`; the peers run on a Worker): CPU seconds over the window, keepalives
 * sent, loop turns, and the RSS the peers added.
 *
 * ```sh
 * deno task bench:idle                 # N = 10000, a 60 s window
 * deno task bench:idle --peers 1000 --seconds 30
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { Device } from "../src/device/device.ts";
import { UdpSocket } from "../src/udp_socket.ts";
import { parseConfig } from "../src/wg/config.ts";
import { encodeBase64Key, generatePrivateKey, publicKey } from "../src/wg/keys.ts";
import { MemoryTun } from "../tests/fixtures/memory_io.ts";
import { CLK_TCK, readProcStats } from "./proc_stats.ts";

const WORKER = new URL("../tests/fixtures/handshake_storm_worker.ts", import.meta.url);
const KEEPALIVE_S = 25;

/** CPU seconds of this process's main thread (the device's loop runs there). */
function mainThreadCpu(): number {
  const stat = Deno.readTextFileSync(`/proc/self/task/${Deno.pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / CLK_TCK; // utime, stime
}

/** Runs the bench; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      peers: { type: "string", default: "10000" },
      seconds: { type: "string", default: "60" },
      out: { type: "string" },
    },
  });
  const n = Number(values.peers), seconds = Number(values.seconds);
  if (!Number.isInteger(n) || n < 1 || n > 60_000 || !(seconds >= 5 && seconds <= 600)) {
    console.error("--peers 1..60000, --seconds 5..600");
    return 2;
  }
  const serverKey = generatePrivateKey(), serverPublic = publicKey(serverKey);
  const keys = Array.from({ length: n }, () => generatePrivateKey());
  const text = [
    "[Interface]",
    `PrivateKey = ${encodeBase64Key(serverKey)}`,
    "Address = 10.0.0.1/8",
    "",
    ...keys.flatMap((k, i) => [
      "[Peer]",
      `PublicKey = ${encodeBase64Key(publicKey(k))}`,
      `AllowedIPs = 10.${1 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`,
      `PersistentKeepalive = ${KEEPALIVE_S}`,
      "",
    ]),
  ].join("\n");
  const rss0 = readProcStats(Deno.pid)?.rssKiB ?? 0;
  const udp = UdpSocket.bind({ port: 0, host: "127.0.0.1", family: "ipv4", offload: false });
  const dev = await Device.create({
    name: "tsidle0",
    config: parseConfig(text),
    io: { tun: new MemoryTun("tsidle0"), udp },
  });
  const running = dev.run();
  const w = new Worker(WORKER, { type: "module" });
  try {
    const next = (type: string) =>
      new Promise<Record<string, unknown>>((resolve, reject) => {
        w.onmessage = (e: MessageEvent<Record<string, unknown>>) => {
          if (e.data.type === "error") reject(new Error(String(e.data.message)));
          else if (e.data.type === type) resolve(e.data);
        };
      });
    const ready = next("ready");
    w.postMessage({ role: "storm", serverPublic, keys, port: dev.listenPort, spreadMs: 5000 });
    await ready;
    const done = next("storm");
    w.postMessage({ type: "go" });
    const s = await done;
    console.error(
      `bench:idle: ${s.completed}/${n} handshakes in ${(s.elapsedMs as number) | 0} ms`,
    );
    // Keepalives start KEEPALIVE_S after each peer's last packet: let them spread out first.
    await new Promise((r) => setTimeout(r, (KEEPALIVE_S + 5) * 1000));
    dev.loopStats();
    const sent0 = dev.stats().data.udpSent, cpu0 = mainThreadCpu(), t0 = performance.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const cpu = mainThreadCpu() - cpu0, wall = (performance.now() - t0) / 1000;
    const st = dev.stats();
    const loop = dev.loopStats();
    const keepalives = st.data.udpSent - sent0;
    const rss = readProcStats(Deno.pid)?.rssKiB ?? 0;
    const result = {
      date: new Date().toISOString(),
      peers: n,
      keyed: st.peers.filter((p) => p.handshakes > 0).length,
      windowSeconds: +wall.toFixed(1),
      keepalivesPerSecond: +(keepalives / wall).toFixed(1),
      expectedPerSecond: +(n / KEEPALIVE_S).toFixed(1),
      cpuPercentOfACore: +(100 * cpu / wall).toFixed(2),
      loopTurns: loop.turns,
      longestTurnMs: +loop.maxTurnMs.toFixed(1),
      rssMiB: +(rss / 1024).toFixed(1),
      rssAddedKiBPerPeer: +((rss - rss0) / n).toFixed(1),
    };
    const out = values.out ??
      new URL(`./results/idle-${result.date.slice(0, 10)}.json`, import.meta.url).pathname;
    Deno.writeTextFileSync(out, JSON.stringify(result, null, 2) + "\n");
    console.log(
      `bench:idle: ${n} peers (${result.keyed} keyed), PersistentKeepalive = ${KEEPALIVE_S}: ` +
        `${result.keepalivesPerSecond} keepalives/s (expected ${result.expectedPerSecond}), ` +
        `${result.cpuPercentOfACore}% of a core on the device's thread over ${result.windowSeconds} s, ` +
        `${result.loopTurns} loop turns (longest ${result.longestTurnMs} ms), RSS ${result.rssMiB} MiB ` +
        `(${result.rssAddedKiBPerPeer} KiB per peer with the worker's sockets)\n(${out})`,
    );
    return result.cpuPercentOfACore < 10 ? 0 : 1;
  } finally {
    w.terminate();
    dev.stop();
    await running;
    dev.close();
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
