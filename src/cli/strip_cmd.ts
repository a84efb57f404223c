/**
 * `tunslab strip CONF|IFACE`: prints the part of a config that `wg setconf` accepts, as
 * `wg-quick strip` does (the file is checked first: a bad one is an error naming the line).
 * @module
 */
import { parseConfigFile } from "../wg/config.ts";
import { stripConfig } from "../wg/strip.ts";
import { configPathFor } from "./config_path.ts";
import { parseCommand } from "./parse_command.ts";

const USAGE = `strip CONF|IFACE

Prints CONF (or /etc/wireguard/IFACE.conf) without the keys wg-quick and tunslab handle
themselves (Address, DNS, MTU, Table, PreUp…PostDown, SaveConfig, Offload, MaxPool, MaxPeers,
MetricsAddress), so "wg setconf IFACE <(tunslab strip IFACE)" works as with wg-quick.`;

/** Runs `strip`. */
export async function strip(args: string[]): Promise<number> {
  const r = parseCommand(args, { usage: USAGE, min: 1, max: 1, options: {} });
  if (r === null) return 0;
  const path = configPathFor(r.positionals[0]);
  await parseConfigFile(path); // refuses what is not a config, naming file and line
  const text = await Deno.readTextFile(path);
  await Deno.stdout.write(new TextEncoder().encode(stripConfig(text)));
  return 0;
}
