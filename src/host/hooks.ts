/**
 * wg-quick's hooks (`PreUp`, `PostUp`, `PreDown`, `PostDown`): each one is run by `bash -c` with
 * `%i` replaced by the interface name, one after another in file order, as wg-quick runs them.
 * What a hook prints goes to the log (stdout lines at info, stderr lines at warning), and the
 * hook starts with SIGUSR1 at its default disposition (tunslab ignores it). {@link runHooks} stops
 * at the first hook that fails and throws {@link HookError}: `up` then removes the interface and
 * exits 1 without running PreDown or PostDown, as wg-quick does.
 *
 * @example
 * ```ts ignore
 * import { runHooks } from "./hooks.ts";
 * await runHooks("PostUp", ["echo up %i"], "wg0"); // logs `[#] echo up wg0` and `up wg0`
 * ```
 * @module
 */
import { logger } from "../log.ts";
import { defaultSignals } from "../process/inspector_guard.ts";

const log = logger("hooks");

/** A hook that exited non-zero (or could not be started). */
export class HookError extends Error {
  override name = "HookError";
  constructor(
    readonly phase: string,
    readonly hook: string,
    readonly code: number,
    detail: string,
  ) {
    super(`${phase} hook failed (${detail}): ${hook}`);
  }
}

/** `hook` as wg-quick runs it: every `%i` replaced by the interface name. */
export function expandHook(hook: string, iface: string): string {
  return hook.replaceAll("%i", iface);
}

async function forward(stream: ReadableStream<Uint8Array>, each: (line: string) => void) {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    const lines = (rest + chunk).split("\n");
    rest = lines.pop() ?? "";
    for (const l of lines) each(l);
  }
  if (rest !== "") each(rest);
}

/** Runs one phase's hooks in order; throws {@link HookError} at the first failure. */
export async function runHooks(
  phase: string,
  hooks: readonly string[],
  iface: string,
): Promise<void> {
  for (const raw of hooks) {
    const hook = expandHook(raw, iface);
    log.info("[#] {hook}", { hook, phase, interface: iface });
    const cmd = defaultSignals(["bash", "-c", hook]);
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(cmd[0], {
        args: cmd.slice(1),
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    } catch (e) {
      throw new HookError(phase, hook, -1, `cannot start bash: ${(e as Error).message}`);
    }
    const fields = { phase, interface: iface };
    await Promise.all([
      forward(child.stdout, (line) => log.info("{phase}: {line}", { ...fields, line })),
      forward(child.stderr, (line) => log.warning("{phase}: {line}", { ...fields, line })),
    ]);
    const st = await child.status;
    if (!st.success) {
      const detail = st.signal !== null ? `killed by ${st.signal}` : `exit ${st.code}`;
      throw new HookError(phase, hook, st.code, detail);
    }
  }
}
