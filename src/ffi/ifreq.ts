/**
 * `struct ifreq` (40 bytes on x86_64/aarch64) and interface-name validation, shared by the TUN
 * device and the ioctl-based interface configuration.
 *
 * @example
 * ```ts
 * import { ifreq, ifreqName } from "./ifreq.ts";
 * const req = ifreq("tsl0");
 * req.view.setInt16(16, 0x1001, true); // ifr_flags = IFF_TUN | IFF_NO_PI
 * console.log(ifreqName(req.bytes)); // "tsl0"
 * ```
 * @module
 */

/** Size of `ifr_name` including the NUL: names are at most 15 bytes. */
export const IFNAMSIZ = 16;
/** `sizeof(struct ifreq)`. */
export const IFREQ_SIZE = 40;
/** Offset of the `ifr_ifru` union (flags, mtu, sockaddr, ifindex). */
export const IFRU = 16;

/** An interface name that the kernel would reject or truncate. */
export class InterfaceNameError extends Error {
  override name = "InterfaceNameError";
  constructor(readonly ifname: string, detail: string) {
    super(`Invalid interface name ${JSON.stringify(ifname)}: ${detail}`);
  }
}

/**
 * UTF-8 bytes of an interface name after checking it: at most `IFNAMSIZ - 1` (15) bytes, no NUL,
 * `/`, `:` or whitespace. Empty only with `allowEmpty` (TUNSETIFF then picks `tunN`).
 */
export function ifNameBytes(name: string, allowEmpty = false): Uint8Array {
  const bytes = new TextEncoder().encode(name);
  if (bytes.length === 0 && !allowEmpty) throw new InterfaceNameError(name, "empty");
  if (bytes.length > IFNAMSIZ - 1) {
    throw new InterfaceNameError(name, `${bytes.length} bytes, at most ${IFNAMSIZ - 1} allowed`);
  }
  if (/[\0/:\s]/.test(name)) {
    throw new InterfaceNameError(name, "contains NUL, '/', ':' or whitespace");
  }
  return bytes;
}

/** A zeroed `struct ifreq` with `ifr_name` set; `view` is a DataView over the same bytes. */
export function ifreq(
  name: string,
  allowEmpty = false,
): { bytes: Uint8Array<ArrayBuffer>; view: DataView } {
  const buffer = new ArrayBuffer(IFREQ_SIZE);
  const bytes = new Uint8Array(buffer);
  bytes.set(ifNameBytes(name, allowEmpty));
  return { bytes, view: new DataView(buffer) };
}

/** `ifr_name` as the kernel left it. */
export function ifreqName(bytes: Uint8Array): string {
  const end = bytes.subarray(0, IFNAMSIZ).indexOf(0);
  return new TextDecoder().decode(bytes.subarray(0, end < 0 ? IFNAMSIZ : end));
}
