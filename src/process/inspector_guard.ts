/**
 * No debugger, ever, in a long-running tunslab process. Deno (since 2.9.2) starts the V8
 * inspector on 127.0.0.1:9229, unauthenticated, when the process receives SIGUSR1; for a tunnel
 * running as root that is a root shell for every local user. A JavaScript signal listener does
 * not stop it, and Deno installs its handler 500 ms after start, replacing whatever was there.
 *
 * So, as wireguard-go does (Go catches SIGUSR1 and takes no action), tunslab ignores SIGUSR1:
 * {@link InspectorGuard.start} sets `SIG_IGN` through libc's `signal()` at once and, every
 * millisecond until Deno has installed its own handler (or 1.5 s have passed), sets it again;
 * callers await {@link InspectorGuard.settled} before they create anything. {@link
 * InspectorGuard.check}, called on every tick of the device loop, restores `SIG_IGN` with a
 * warning should Deno re-install its handler, and closes an inspector that is open anyway. There
 * is no stats line on SIGUSR1: a handler of our own cannot run in signal context from JavaScript,
 * and a `signalfd` would need the signal blocked in every thread Deno has already started.
 *
 * An ignored signal stays ignored across `execve`, so children are spawned through
 * {@link defaultSignals} (`env --default-signal=USR1`). {@link inspectorRefusal} names the
 * reason to refuse to run when an inspector was asked for (`--inspect*` flags, `NODE_OPTIONS`).
 *
 * @example
 * ```ts ignore
 * import { InspectorGuard, inspectorRefusal } from "./inspector_guard.ts";
 * const why = inspectorRefusal();
 * if (why !== null) throw new Error(why);
 * const guard = InspectorGuard.start();
 * await guard.settled; // then: create the device; call guard.check() every loop tick
 * ```
 * @module
 */

import inspector from "node:inspector";
import { libc } from "../ffi/libc.ts";
import { logger } from "../log.ts";

/** Linux x86-64 and aarch64. */
export const SIGUSR1 = 10;
/** How long after start Deno may still install its SIGUSR1 handler (it waits 500 ms). */
const GRACE_MS = 1500;

const log = logger("signals");

/** Sets SIGUSR1 to SIG_IGN; returns whether it was SIG_IGN already. */
function ignore(): boolean {
  const old = libc().signal(SIGUSR1, Deno.UnsafePointer.create(1n));
  return old !== null && Deno.UnsafePointer.value(old) === 1n;
}

/**
 * Why this process must not run as a tunnel, or null: the V8 inspector is open, or was asked for
 * by a runtime flag (`--inspect`, `--inspect-brk`, `--inspect-wait`) or `NODE_OPTIONS`.
 */
export function inspectorRefusal(): string | null {
  const risk = "anyone on this host could run code with this process's privileges through it";
  let nodeOptions: string | undefined;
  try {
    nodeOptions = Deno.env.get("NODE_OPTIONS");
  } catch { /* no env permission: nothing came from there we can see */ }
  if (nodeOptions !== undefined && /(^|\s)--inspect/.test(nodeOptions)) {
    return `NODE_OPTIONS asks for the V8 inspector ("${nodeOptions}"): refusing to run (${risk})`;
  }
  let flags: string[] = [];
  try {
    const cmdline = Deno.readTextFileSync("/proc/self/cmdline").split("\0").filter((s) => s);
    // [deno, runtime flags..., script, ...Deno.args]: the flags are what precede the script.
    flags = cmdline.slice(1, Math.max(1, cmdline.length - Deno.args.length - 1));
  } catch { /* no /proc: the url() check below still holds */ }
  const flag = flags.find((f) => f.startsWith("--inspect"));
  if (flag !== undefined) return `${flag} opens the V8 inspector: refusing to run (${risk})`;
  const url = inspector.url();
  if (url !== undefined) return `the V8 inspector is open at ${url}: refusing to run (${risk})`;
  return null;
}

/** Keeps SIGUSR1 ignored and the inspector closed for the life of the process. */
export class InspectorGuard {
  /** Resolves once Deno's own SIGUSR1 handler was replaced, or the grace period has passed. */
  readonly settled: Promise<void>;
  #restored = 0;
  #lastInspectorCheck = 0;

  private constructor() {
    ignore();
    const started = performance.now();
    this.settled = new Promise((resolve) => {
      const id = setInterval(() => {
        // Deno's handler replaced SIG_IGN: it is installed now, and replaced in turn.
        if (!ignore() || performance.now() - started > GRACE_MS) {
          clearInterval(id);
          resolve();
        }
      }, 1);
    });
  }

  /** Ignores SIGUSR1 from now on and watches for Deno's delayed handler. */
  static start(): InspectorGuard {
    return new InspectorGuard();
  }

  /** Times SIGUSR1 had to be ignored again after start-up. */
  get restored(): number {
    return this.#restored;
  }

  /**
   * One loop tick: SIGUSR1 ignored again if something re-installed a handler (one FFI call);
   * once a second, an inspector found open is closed.
   */
  check(now: number): void {
    if (!ignore()) {
      this.#restored++;
      log.warning(
        "A SIGUSR1 handler was installed again (Deno's inspector trigger); ignoring SIGUSR1",
      );
    }
    if (now - this.#lastInspectorCheck < 1000) return;
    this.#lastInspectorCheck = now;
    const url = inspector.url();
    if (url !== undefined) {
      inspector.close();
      log.error("The V8 inspector was open at {url}; closed it", { url });
    }
  }
}

/** `cmd` prefixed so it starts with SIGUSR1 at its default disposition (ours is ignored). */
export function defaultSignals(cmd: string[]): string[] {
  return ["env", "--default-signal=USR1", ...cmd];
}
