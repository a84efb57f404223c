/**
 * `[STDIOTunnel]` of `tunslab proxy`: standard input and output joined to a connection through the
 * tunnel, as wireproxy does it for ssh's `ProxyCommand` (`ssh -o ProxyCommand="tunslab proxy
 * stdio.conf" host`). The proxy ends when the connection does; logs stay on standard error.
 *
 * @example
 * ```ts ignore
 * await runStdioTunnel(tunnel, { target: { hostname: "10.0.0.1", port: 22 }, line: 9 });
 * ```
 * @module
 */

import type { Tuning } from "./tuning.ts";
import type { UserspaceTunnel } from "../netstack/userspace_tunnel.ts";
import type { HostPort } from "./proxy_config.ts";

/** Joins stdin/stdout to `target`; resolves when both directions have ended. */
export async function runStdioTunnel(
  tunnel: UserspaceTunnel,
  spec: { target: HostPort; tuning: Tuning; line: number },
): Promise<void> {
  const conn = await tunnel.connect({ ...spec.target, timeoutMs: spec.tuning.connectTimeoutMs });
  const up = (async () => {
    const buf = new Uint8Array(64 * 1024);
    for (;;) {
      const n = await Deno.stdin.read(buf);
      if (n === null) break;
      await conn.write(buf.subarray(0, n));
    }
    await conn.closeWrite();
  })();
  const down = (async () => {
    const buf = new Uint8Array(64 * 1024);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      let off = 0;
      while (off < n) off += await Deno.stdout.write(buf.subarray(off, n));
    }
  })();
  try {
    // The far end closing ends it (ssh's server hung up) even if stdin stays open.
    await down;
  } finally {
    conn.close();
    void up.catch(() => {});
  }
}
