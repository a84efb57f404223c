/**
 * Where a command's config lives, as wg-quick decides: an argument that looks like an interface
 * name (`[a-zA-Z0-9_=+.-]{1,15}`) and is not an existing file means `/etc/wireguard/NAME.conf`;
 * anything else is a path.
 *
 * @example
 * ```ts
 * import { configPathFor } from "./config_path.ts";
 * console.log(configPathFor("wg0")); // "/etc/wireguard/wg0.conf" (unless ./wg0 exists)
 * ```
 * @module
 */

/** Where wg-quick keeps its configs. */
export const CONFIG_DIR = "/etc/wireguard";

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** The config file path for `arg` (an interface name or a path). */
export function configPathFor(arg: string): string {
  if (/^[a-zA-Z0-9_=+.-]{1,15}$/.test(arg) && !arg.endsWith(".conf") && !exists(arg)) {
    return `${CONFIG_DIR}/${arg}.conf`;
  }
  return arg;
}
