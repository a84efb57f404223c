/**
 * SIGUSR1 opens no inspector in a guarded process (and does in an unguarded one, so the check can
 * fail); `--inspect` and `NODE_OPTIONS=--inspect` are refused. Listening sockets are read from
 * the child's own file descriptors (`/proc/PID/fd` against `/proc/net/tcp{,6}`), so other
 * processes on the host do not matter. As root the children run in a network namespace of their
 * own, so an inspector the control case opens is reachable from nowhere else.
 * @module
 */
import { deepStrictEqual, ok } from "node:assert/strict";
import { withNetns } from "./netns_child.ts";
import { assertPing, INNER, startPair } from "./tunnel_helpers.ts";

const ROOT = Deno.uid() === 0;
const CHILD = new URL("./fixtures/inspector_guard_child.ts", import.meta.url).pathname;
const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** TCP ports the process `pid` listens on (`udp`: the UDP ports it has sockets on). */
function listeningPorts(pid: number, udp = false): number[] {
  const inodes = new Set<string>();
  for (const e of Deno.readDirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(Deno.readLinkSync(`/proc/${pid}/fd/${e.name}`));
      if (m) inodes.add(m[1]);
    } catch { /* closed meanwhile */ }
  }
  const ports: number[] = [];
  for (const table of udp ? ["udp", "udp6"] : ["tcp", "tcp6"]) {
    const lines = Deno.readTextFileSync(`/proc/${pid}/net/${table}`).trim().split("\n").slice(1);
    for (const l of lines) {
      const f = l.trim().split(/\s+/);
      if ((udp || f[3] === "0A") && inodes.has(f[9])) ports.push(parseInt(f[1].split(":")[1], 16));
    }
  }
  return ports.sort();
}

async function inNetns<T>(fn: (wrap: (cmd: string[]) => string[]) => Promise<T>): Promise<T> {
  if (!ROOT) return await fn((cmd) => cmd);
  return await withNetns("tsl-insp", (ns) => fn((cmd) => ["ip", "netns", "exec", ns, ...cmd]));
}

/** Starts the child, waits for "ready", sends SIGUSR1, returns its listening ports after it. */
async function afterSigusr1(mode: "guarded" | "unguarded"): Promise<number[]> {
  return await inNetns(async (wrap) => {
    const cmd = wrap([Deno.execPath(), "run", "-A", CHILD, mode]);
    const child = new Deno.Command(cmd[0], {
      args: cmd.slice(1),
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    try {
      const reader = child.stdout.getReader();
      const { value } = await reader.read();
      ok(value && new TextDecoder().decode(value).includes("ready"), "child did not start");
      reader.releaseLock();
      // `ip netns exec` execs the command in place: the pid is Deno's.
      const pid = child.pid;
      deepStrictEqual(Deno.readTextFileSync(`/proc/${pid}/comm`).trim(), "deno");
      Deno.kill(pid, "SIGUSR1");
      await new Promise((r) => setTimeout(r, 700));
      return listeningPorts(pid);
    } finally {
      child.kill("SIGKILL");
      await child.stdout.cancel().catch(() => {});
      await child.status;
    }
  });
}

Deno.test("inspector guard: SIGUSR1 opens no inspector in a guarded process", async () => {
  deepStrictEqual(await afterSigusr1("guarded"), []);
});

Deno.test("inspector guard: the control — SIGUSR1 opens 9229 in an unguarded Deno", async () => {
  deepStrictEqual(await afterSigusr1("unguarded"), [9229]);
});

for (
  const [what, args, env] of [
    ["--inspect", ["run", "-A", "--inspect=127.0.0.1:0", MAIN, "up", "wg9.conf"], {}],
    ["NODE_OPTIONS=--inspect", ["run", "-A", MAIN, "up", "wg9.conf"], {
      NODE_OPTIONS: "--inspect=127.0.0.1:0",
    }],
  ] as const
) {
  Deno.test(`inspector guard: up refuses to run with ${what}`, async () => {
    const o = await inNetns((wrap) => {
      const cmd = wrap([Deno.execPath(), ...args]);
      return new Deno.Command(cmd[0], {
        args: cmd.slice(1),
        env: { ...env, NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(30_000),
      }).output();
    });
    const err = new TextDecoder().decode(o.stderr);
    deepStrictEqual(o.code, 1, err);
    ok(/inspector.*refusing to run/.test(err), err);
  });
}

Deno.test("no core dumps: a long-running command marks itself not dumpable", async () => {
  const code = `import { dumpable, noCoreDumps } from "${
    new URL("../src/process/no_core_dumps.ts", import.meta.url).href
  }"; const before = dumpable(); noCoreDumps(); console.log(JSON.stringify([before, dumpable()]));`;
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    stdout: "piped",
    stderr: "piped",
  }).output();
  deepStrictEqual(JSON.parse(new TextDecoder().decode(o.stdout)), [true, false]);
});

Deno.test({
  name: "inspector guard: SIGUSR1 to a running up opens nothing; the tunnel still pings",
  ignore: !ROOT,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using p = await startPair("insp-up", { b: "tunslab" });
    await assertPing(p.bed, "a", INNER.b);
    for (let i = 0; i < 3; i++) {
      Deno.kill(p.a.pid, "SIGUSR1");
      await new Promise((r) => setTimeout(r, 300));
    }
    await new Promise((r) => setTimeout(r, 700));
    deepStrictEqual(listeningPorts(p.a.pid), [], "TCP listeners of up");
    deepStrictEqual([...new Set(listeningPorts(p.a.pid, true))], [51820], "UDP sockets of up");
    await assertPing(p.bed, "a", INNER.b);
    ok(!/Debugger listening/.test(p.a.logs()), p.a.logs().slice(-1000));
  },
});
