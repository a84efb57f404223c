/**
 * Readiness for systemd (`Type=notify` units): `sd_notify(3)`'s protocol, a datagram on the unix
 * socket named by `$NOTIFY_SOCKET` (a path, or `@name` in the abstract namespace). Without the
 * variable (not started by systemd) nothing is sent. `up` says `READY=1` once the interface is
 * configured (after PostUp) and `STOPPING=1` when it begins to shut down.
 *
 * @example
 * ```ts ignore
 * import { sdNotify } from "./sd_notify.ts";
 * sdNotify(`READY=1\nMAINPID=${Deno.pid}\nSTATUS=wg0 up`);
 * ```
 * @module
 */
import { addressOf, errno, libc } from "../ffi/libc.ts";
import { logger } from "../log.ts";

const AF_UNIX = 1, SOCK_DGRAM = 2, SOCK_CLOEXEC = 0o2000000;
const log = logger("systemd");

/** The sockaddr_un for `$NOTIFY_SOCKET` (`@` = abstract), and its length; null if too long. */
export function notifyAddress(path: string): { sa: Uint8Array; len: number } | null {
  const name = new TextEncoder().encode(path.startsWith("@") ? `\0${path.slice(1)}` : path);
  if (name.length > 107) return null;
  const sa = new Uint8Array(110);
  new DataView(sa.buffer).setUint16(0, AF_UNIX, true);
  sa.set(name, 2);
  // Abstract names are exactly their bytes; a path needs its NUL.
  return { sa, len: 2 + name.length + (path.startsWith("@") ? 0 : 1) };
}

/** Sends `state` to systemd; returns whether it was sent (false: not under systemd, or refused). */
export function sdNotify(state: string): boolean {
  let path: string | undefined;
  try {
    path = Deno.env.get("NOTIFY_SOCKET");
  } catch { /* no env permission */ }
  if (path === undefined || path === "") return false;
  const addr = notifyAddress(path);
  if (addr === null) {
    log.warning("NOTIFY_SOCKET {path} is too long for a unix socket address", { path });
    return false;
  }
  const L = libc();
  const fd = L.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  try {
    const msg = new TextEncoder().encode(state);
    const rc = L.sendto(
      fd,
      BigInt(addressOf(msg)),
      BigInt(msg.length),
      0,
      BigInt(addressOf(addr.sa)),
      addr.len,
    );
    if (rc < 0) {
      log.warning("sd_notify to {path} failed (errno {errno})", { path, errno: errno() });
      return false;
    }
    return true;
  } finally {
    L.close(fd);
  }
}
