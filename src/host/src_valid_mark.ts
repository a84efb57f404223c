/**
 * `net.ipv4.conf.all.src_valid_mark` of the current network namespace: with it set to 1 the
 * IPv4 reverse-path check takes a packet's fwmark into account, which a full tunnel needs for
 * replies to its marked UDP (wg-quick sets it in `add_default`).
 *
 * @example
 * ```ts ignore
 * import { readSrcValidMark, writeSrcValidMark } from "./src_valid_mark.ts";
 * if (readSrcValidMark() === 0) writeSrcValidMark(1);
 * ```
 * @module
 */

/** The sysctl's file. */
export const SRC_VALID_MARK = "/proc/sys/net/ipv4/conf/all/src_valid_mark";

/** The current value, or null where the file cannot be read (no IPv4, no /proc). */
export function readSrcValidMark(path = SRC_VALID_MARK): number | null {
  try {
    return Number(Deno.readTextFileSync(path).trim());
  } catch {
    return null;
  }
}

/** Sets the value; the error names the file. */
export function writeSrcValidMark(value: 0 | 1, path = SRC_VALID_MARK): void {
  try {
    Deno.writeTextFileSync(path, `${value}\n`);
  } catch (e) {
    throw new Error(`cannot write ${value} to ${path}: ${(e as Error).message}`, { cause: e });
  }
}
