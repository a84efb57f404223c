/**
 * Keys must not land in a core file: `prctl(PR_SET_DUMPABLE, 0)` for long-running commands, so
 * the kernel writes no core dump of the process (and, for a non-root process, other users'
 * tools can no longer ptrace it or read its /proc files).
 *
 * @example
 * ```ts ignore
 * import { dumpable, noCoreDumps } from "./no_core_dumps.ts";
 * noCoreDumps();
 * console.log(dumpable()); // false
 * ```
 * @module
 */
import { errno, libc } from "../ffi/libc.ts";
import { SyscallError } from "../ffi/syscall_error.ts";

const PR_GET_DUMPABLE = 3;
const PR_SET_DUMPABLE = 4;

/** Marks the process not dumpable; throws {@link SyscallError} if the kernel refuses. */
export function noCoreDumps(): void {
  if (libc().prctl(PR_SET_DUMPABLE, 0n, 0n, 0n, 0n) !== 0) {
    throw new SyscallError("prctl(PR_SET_DUMPABLE)", errno());
  }
}

/** Whether the process may be dumped (PR_GET_DUMPABLE). */
export function dumpable(): boolean {
  return libc().prctl(PR_GET_DUMPABLE, 0n, 0n, 0n, 0n) !== 0;
}
