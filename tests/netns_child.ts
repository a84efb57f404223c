/**
 * Parent side of the TUN tests that run their FFI work in a child `deno run`
 * under `ip netns exec` (a namespace belongs to a thread, FFI calls run on the
 * calling one): a fresh namespace that is always deleted, commands that tell
 * the child which namespace is the parent's, and the child's JSON line.
 * The child side is tests/fixtures/netns_guard.ts.
 * @module
 */

const CWD = new URL("..", import.meta.url).pathname;

/** Output of a finished command. */
export interface ChildRun {
  code: number;
  out: string;
  err: string;
}

/** Runs `cmd args` from the repository root; children learn the parent's netns, so they refuse to touch it. */
export async function run(cmd: string, args: string[]): Promise<ChildRun> {
  const o = await new Deno.Command(cmd, {
    args,
    cwd: CWD,
    env: { TUNSLAB_PARENT_NETNS: Deno.readLinkSync("/proc/self/ns/net") },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  const td = new TextDecoder();
  return { code: o.code, out: td.decode(o.stdout), err: td.decode(o.stderr) };
}

/** Runs `fn` with a fresh namespace `<prefix>-<random>`; deletes it whatever happens. */
export async function withNetns<T>(prefix: string, fn: (ns: string) => Promise<T>): Promise<T> {
  const ns = `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
  try {
    const add = await run("ip", ["netns", "add", ns]);
    if (add.code !== 0) throw new Error(`ip netns add ${ns} failed: ${add.err}`);
    return await fn(ns);
  } finally {
    await run("ip", ["netns", "delete", ns]);
  }
}

/** The child's last stdout line as JSON; its stderr goes into the failure message. */
export function childJson(r: ChildRun): Record<string, unknown> {
  const line = r.out.trim().split("\n").at(-1) ?? "";
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(line);
  } catch {
    throw new Error(`child exited ${r.code} without JSON.\nstdout: ${r.out}\nstderr: ${r.err}`);
  }
  if (json.error) throw new Error(`child failed: ${json.error}\nstderr: ${r.err}`);
  return json;
}
