/**
 * The error every failed libc call turns into: names the call, the errno name and glibc's text.
 *
 * @example
 * ```ts
 * import { SyscallError } from "./syscall_error.ts";
 * import { EBADF } from "./errno.ts";
 * const e = new SyscallError("ioctl(TUNSETIFF)", EBADF);
 * console.log(e.message); // "ioctl(TUNSETIFF) failed: EBADF (Bad file descriptor)"
 * ```
 * @module
 */

import { EACCES, ENOENT, EPERM, errnoDescription, errnoName } from "./errno.ts";

/** Appended to EPERM/EACCES from anything that needs CAP_NET_ADMIN (TUN, interface ioctls). */
export const NEEDS_CAP_NET_ADMIN =
  "tunslab needs CAP_NET_ADMIN (run as root or grant the capability)";

/** A libc call returned -1; `errno` is the value read right after it. */
export class SyscallError extends Error {
  override name = "SyscallError";
  /** Symbolic errno, e.g. `"EPERM"`. */
  readonly code: string;

  /**
   * @param call what was called, with the interesting argument: `"ioctl(TUNSETIFF)"`, `"open(/dev/net/tun)"`
   * @param errno the errno value
   * @param hint appended after `"; "` when given
   */
  constructor(readonly call: string, readonly errno: number, hint?: string) {
    const code = errnoName(errno);
    super(`${call} failed: ${code} (${errnoDescription(errno)})${hint ? `; ${hint}` : ""}`);
    this.code = code;
  }
}

/** The CAP_NET_ADMIN hint when `errno` is EPERM or EACCES, else undefined. */
export function capNetAdminHint(errno: number): string | undefined {
  return errno === EPERM || errno === EACCES ? NEEDS_CAP_NET_ADMIN : undefined;
}

/**
 * The hint for a failed `open(/dev/net/tun)`: a missing device node, or one this user may not
 * open (its mode and owner named), or the CAP_NET_ADMIN hint.
 */
export function tunOpenHint(errno: number): string | undefined {
  if (errno === ENOENT) {
    return "there is no /dev/net/tun: load the tun module (modprobe tun) or create the node (mknod /dev/net/tun c 10 200)";
  }
  if (errno === EACCES) {
    let what = "/dev/net/tun";
    try {
      const st = Deno.statSync("/dev/net/tun");
      what += ` (mode ${
        ((st.mode ?? 0) & 0o777).toString(8).padStart(4, "0")
      }, owner uid ${st.uid})`;
    } catch { /* the open said enough */ }
    return `${what} is not open to uid ${Deno.uid()} for reading and writing; ${NEEDS_CAP_NET_ADMIN}`;
  }
  return capNetAdminHint(errno);
}
