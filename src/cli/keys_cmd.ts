/**
 * `genkey`, `pubkey`, `genpsk`: the same bytes and format as `wg`'s commands
 * (base64, newline; private keys clamped, preshared keys not).
 *
 * @example
 * ```sh
 * tunslab genkey | tee private.key | tunslab pubkey
 * ```
 * @module
 */

import {
  decodeBase64Key,
  encodeBase64Key,
  generatePresharedKey,
  generatePrivateKey,
  publicKey,
} from "../wg/keys.ts";
import { parseCommand } from "./parse_command.ts";

/** As `wg genkey`: warn when stdout is a regular file others can read. */
function warnIfWorldAccessible(): void {
  try {
    const st = Deno.statSync("/proc/self/fd/1");
    if (st.isFile && st.mode !== null && (st.mode & 0o007) !== 0) {
      console.error(
        "Warning: writing to world accessible file.\nConsider setting the umask to 077 and trying again.",
      );
    }
  } catch { /* not stat-able: a pipe or terminal */ }
}

/** `tunslab genkey`: a new private key on stdout. */
export function genkey(args: string[]): Promise<number> {
  if (
    parseCommand(args, { usage: "genkey\n\nPrints a new private key (base64).", options: {} }) ===
      null
  ) {
    return Promise.resolve(0);
  }
  warnIfWorldAccessible();
  console.log(encodeBase64Key(generatePrivateKey()));
  return Promise.resolve(0);
}

/** `tunslab genpsk`: a new preshared key on stdout. */
export function genpsk(args: string[]): Promise<number> {
  if (
    parseCommand(args, { usage: "genpsk\n\nPrints a new preshared key (base64).", options: {} }) ===
      null
  ) {
    return Promise.resolve(0);
  }
  warnIfWorldAccessible();
  console.log(encodeBase64Key(generatePresharedKey()));
  return Promise.resolve(0);
}

/** `tunslab pubkey`: reads a private key on stdin, prints its public key. */
export async function pubkey(args: string[]): Promise<number> {
  const usage =
    "pubkey < private.key\n\nReads a base64 private key on stdin, prints its public key.";
  if (parseCommand(args, { usage, options: {} }) === null) return 0;
  const text = new TextDecoder().decode(await new Response(Deno.stdin.readable).arrayBuffer());
  let key: Uint8Array;
  try {
    key = decodeBase64Key(text.trim());
  } catch (e) {
    console.error(`tunslab pubkey: ${(e as Error).message}`);
    return 1;
  }
  console.log(encodeBase64Key(publicKey(key)));
  return 0;
}
